"""The trace's `functions`, `modules`, `module_calls` and `grad_enabled` (`flopscope._observe`).

Expected values come from the hand-built modules themselves: the shapes a layer's weights
have by construction (nn.Linear(4, 3): weight [3, 4], bias [3]), the arguments the code in
`forward` passes, and the torch functions that code calls by name (`F.linear`, `x @ w`,
`torch.add`); for nn.MultiheadAttention, what `F.multi_head_attention_forward` does with a
batch-first input (torch/nn/functional.py: transposes to (L, N, E), one packed input
projection, one output projection on (L·N, E)).
"""

from __future__ import annotations

import json

import pytest

from test_profile import requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")
nn = torch.nn
F = torch.nn.functional

from flopscope import _capture  # noqa: E402 — after the torch check


def trace(model, args, kwargs=None, **opts) -> dict:
    return json.loads(_capture.trace(model, tuple(args), kwargs or {}, "m", **opts))


def t(*shape, dtype="float32") -> dict:
    """A tensor argument as the trace encodes it."""
    return {"shape": list(shape), "dtype": dtype}


class LinMatRelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.w = nn.Parameter(torch.randn(3, 3))

    def forward(self, x):
        return F.relu(self.fc(x) @ self.w)


def names(doc) -> list:
    return [f["fn"] for f in doc["functions"]]


@pytest.mark.parametrize("fake", [True, False])
def test_functions_name_the_torch_functions_with_their_argument_shapes(fake):
    doc = trace(LinMatRelu(), [torch.randn(2, 4)], fake=fake)
    # F.linear is torch._C._nn.linear: named after torch.nn.functional; F.relu is a Python
    # function that calls torch.relu, which is nested in it.
    assert names(doc) == ["torch.nn.functional.linear", "torch.Tensor.__matmul__",
                          "torch.nn.functional.relu", "torch.relu"]
    lin, mm, relu, inner = doc["functions"]
    assert lin["args"] == [t(2, 4), t(3, 4), t(3)] and lin["out"] == t(2, 3)
    assert mm["args"] == [t(2, 3), t(3, 3)] and mm["out"] == t(2, 3)
    assert relu["args"] == [t(2, 3)] and relu["kwargs"] == {"inplace": False}
    assert [f["parent"] for f in doc["functions"]] == [None, None, None, 2]
    # Each ATen call points at the innermost function it ran in; ranges agree.
    by_op = {c["op"]: c.get("fn") for c in doc["calls"]}
    assert by_op["aten.addmm.default"] == 0
    assert by_op["aten.mm.default"] == 1
    assert by_op["aten.relu.default"] == 3
    for i, f in enumerate(doc["functions"]):
        first, end = f["calls"]
        inside = [j for j, c in enumerate(doc["calls"]) if c.get("fn") == i]
        assert all(first <= j < end for j in inside)
    assert relu["calls"][0] <= inner["calls"][0] and inner["calls"][1] <= relu["calls"][1]


class Operators(nn.Module):
    def forward(self, x, y):
        a = x + y
        b = x.add(y)
        c = torch.add(x, y)
        a += b
        n = x.size(0) + x.dim() + x.shape[1]  # no tensor out: not recorded
        return a * c + n


def test_operators_are_told_from_methods_and_non_tensor_calls_are_left_out():
    doc = trace(Operators(), [torch.randn(2, 3), torch.randn(2, 3)])
    assert names(doc) == ["torch.Tensor.__add__", "torch.Tensor.add", "torch.add",
                          "torch.Tensor.__iadd__", "torch.Tensor.__mul__", "torch.Tensor.__add__"]
    assert doc["functions"][5]["args"] == [t(2, 3), 2 + 2 + 3]


def test_the_functions_inside_multi_head_attention_are_nested_in_it():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.enable_grad():
        doc = trace(mha, [torch.randn(2, 5, 8)] * 3)
    assert doc["grad_enabled"] is True
    fns = doc["functions"]
    top = names(doc).index("torch.nn.functional.multi_head_attention_forward")
    assert fns[top]["parent"] is None
    # Batch-first (N=2, L=5, E=8) is transposed to (L, N, E); the packed input projection
    # has weight [3E, E]; the output projection runs on (L·N, E).
    linears = [f for f in fns if f["fn"] == "torch.nn.functional.linear"]
    assert [f["args"] for f in linears] == [[t(5, 2, 8), t(24, 8), t(24)],
                                            [t(10, 8), t(8, 8), t(8)]]
    assert all(f["parent"] == top for f in linears)
    lo, hi = fns[top]["calls"]
    assert all(lo <= c["fn"] for c in doc["calls"][lo:hi])


def test_attention_under_no_grad_in_eval_runs_the_unfused_path_while_tracing():
    # The fused fast path (torch._native_multi_head_attention) is switched off while tracing
    # (_capture._plain_kernels), and a TorchFunctionMode blocks it too (`has_torch_function`).
    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    with torch.no_grad():
        doc = trace(mha, [torch.randn(2, 5, 8)] * 3)
    assert doc["grad_enabled"] is False
    assert "torch.nn.functional.multi_head_attention_forward" in names(doc)
    assert "torch._native_multi_head_attention" not in names(doc)


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 6)
        self.block = nn.Sequential(nn.Conv1d(6, 6, 3, padding=1, groups=2), nn.BatchNorm1d(6))
        self.head = nn.Linear(6, 10, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, idx, scale=1.0):
        x = self.emb(idx).transpose(1, 2)
        x = self.block(x).transpose(1, 2)
        return self.head(x * scale)


def test_modules_table_lists_own_parameters_buffers_and_attributes():
    doc = trace(Tied().eval(), [torch.randint(0, 10, (2, 5))])
    mods = {m["name"]: m for m in doc["modules"]}
    assert [m["name"] for m in doc["modules"]] == ["", "emb", "block", "block.0", "block.1", "head"]
    assert mods[""]["children"] == ["emb", "block", "head"]
    assert mods["block"]["children"] == ["block.0", "block.1"]
    assert mods["block.0"]["type"] == "torch.nn.modules.conv.Conv1d"
    # The tied weight is one Parameter: one id in both modules.
    (emb_w,) = mods["emb"]["params"]
    (head_w,) = mods["head"]["params"]
    assert emb_w["id"] == head_w["id"] and emb_w["shape"] == [10, 6]
    ids = [p["id"] for m in doc["modules"] for p in m["params"]]
    assert sorted(set(ids)) == list(range(5))  # emb, conv weight+bias, bn weight+bias
    conv = mods["block.0"]
    assert [(p["name"], p["shape"]) for p in conv["params"]] == [("weight", [6, 3, 3]), ("bias", [6])]
    assert conv["attrs"]["kernel_size"] == [3] and conv["attrs"]["groups"] == 2
    assert conv["attrs"]["padding_mode"] == "zeros" and conv["attrs"]["training"] is False
    bn = mods["block.1"]
    assert [b["name"] for b in bn["buffers"]] == ["running_mean", "running_var", "num_batches_tracked"]
    assert bn["attrs"]["affine"] is True and bn["attrs"]["eps"] == 1e-5
    assert all(p["trainable"] for m in doc["modules"] for p in m["params"])


def test_module_calls_nest_and_the_root_spans_everything():
    doc = trace(Tied().eval(), [torch.randint(0, 10, (2, 5))], {"scale": 0.5})
    calls, mods = doc["module_calls"], doc["modules"]
    assert [mods[c["m"]]["name"] for c in calls] == ["", "emb", "block", "block.0", "block.1", "head"]
    root = calls[0]
    assert root["parent"] is None
    assert root["calls"] == [0, len(doc["calls"])]
    assert root["functions"] == [0, len(doc["functions"])]
    assert root["args"] == [t(2, 5, dtype="int64")] and root["kwargs"] == {"scale": 0.5}
    assert root["out"] == t(2, 5, 10)
    assert [calls[c["parent"]]["m"] if c["parent"] is not None else None for c in calls] == \
        [None, 0, 0, 2, 2, 0]
    for c in calls[1:]:
        p = calls[c["parent"]]
        for key in ("calls", "functions"):
            assert p[key][0] <= c[key][0] <= c[key][1] <= p[key][1]
    conv = calls[3]
    assert conv["args"] == [t(2, 6, 5)] and conv["out"] == t(2, 6, 5)
    fns = doc["functions"][conv["functions"][0]:conv["functions"][1]]
    assert [f["fn"] for f in fns] == ["torch.nn.functional.conv1d"]


def test_a_training_step_observes_the_forward_pass_and_the_loss_only():
    doc = trace(LinMatRelu().train(), [torch.randn(2, 4)], training=True)
    start = doc["backward_start"]
    assert doc["grad_enabled"] is True
    # default_loss: out.sum() for one output, recorded after the forward pass.
    assert names(doc)[-1] == "torch.Tensor.sum"
    assert all(f["calls"][1] <= start for f in doc["functions"])
    assert all(c["calls"][1] <= start for c in doc["module_calls"])
    assert not any("fn" in c for c in doc["calls"][start:])
    assert len(doc["calls"]) > start  # the backward pass itself is in the trace


class Index(nn.Module):
    def forward(self, x):
        return x[:, 1:].to(torch.float64)


def test_indexes_dtypes_and_outputs_are_encoded_by_value():
    doc = trace(Index(), [torch.randn(2, 3)])
    get, to = doc["functions"]
    assert get["fn"] == "torch.Tensor.__getitem__"
    assert get["args"] == [t(2, 3), [str(slice(None)), str(slice(1, None))]]
    assert get["out"] == t(2, 2)
    assert to["fn"] == "torch.Tensor.to" and to["args"] == [t(2, 2), "torch.float64"]
    assert to["out"] == t(2, 2, dtype="float64")
