"""A traced module's layers are named by `named_modules()` and have no bookkeeping rows.

Expected values are independent of flopscope: the names are `dict(model.named_modules())`'s
keys (and `torch.ops.aten`'s operators for the root module's own work), the totals
`sum(p.numel())` and the MACs of tests/data/models/reference.json ("torch_params",
"truth_macs", "truth_macs_by_op"), and which modules run twice is read from torchvision's
source (BasicBlock calls `self.relu` after bn1 and after the residual add).
"""

from __future__ import annotations

import json
import re

import pytest

import flopscope
from test_profile import ROOT, requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")
tv = requires("torchvision", "torchvision is not installed")

REFERENCE = json.loads((ROOT / "tests/data/models/reference.json").read_text())
# The ops a trace folds (docs/counting.md, "Layers of a traced module"): never a row.
BOOKKEEPING = {"view", "_unsafe_view", "_reshape_alias", "t", "transpose", "permute", "expand",
               "squeeze", "unsqueeze", "select", "slice", "as_strided", "detach", "alias",
               "lift_fresh", "empty", "Constant", "split", "unbind", "narrow", "diagonal"}


def base(name: str) -> str:
    """A layer name without its `#k`."""
    return re.sub(r"#\d+$", "", name)


def check_names(p, model):
    """Every row is its innermost module's `named_modules()` name, or at the root an ATen
    operator's; names are unique; no row is bookkeeping."""
    modules = dict(model.named_modules())
    names = [lay.name for lay in p.layers]
    assert len(set(names)) == len(names), "names are unique"
    for lay in p.layers:
        if lay.scope:
            assert base(lay.name) == lay.scope[-1], (lay.name, lay.scope)
            assert base(lay.name) in modules, lay.name
        else:  # the root module's own work: its ATen operator
            assert hasattr(torch.ops.aten, base(lay.name)), lay.name
        assert lay.op not in BOOKKEEPING, (lay.name, lay.op)
    # `#k` counts a module's layers in order: `m`, `m#2`, `m#3`, … without gaps.
    seen: dict[str, int] = {}
    for name in names:
        seen[base(name)] = seen.get(base(name), 0) + 1
        k = seen[base(name)]
        assert name == (base(name) if k == 1 else f"{base(name)}#{k}"), name


def test_resnet18_rows_are_named_modules():
    model = tv.models.resnet18().eval()
    with torch.no_grad():
        p = flopscope.profile(model, torch.randn(1, 3, 224, 224))
    ref = REFERENCE["resnet18"]
    assert p.params == sum(q.numel() for q in model.parameters()) == ref["torch_params"]
    assert p.macs == ref["truth_macs"]
    check_names(p, model)
    by_name = {lay.name: lay for lay in p.layers}
    # BasicBlock runs its one `relu` twice: after bn1, and after the residual add.
    assert [by_name[n].op for n in ("layer1.0.relu", "layer1.0.relu#2")] == ["Relu", "Relu"]
    assert "layer1.0.relu#3" not in by_name
    assert by_name["layer1.0.conv1"].op == "Conv"
    assert by_name["conv1"].op == "Conv" and by_name["fc"].op == "Gemm"
    # The Convs' and the Gemm's MACs, row by row, are the reference's per-op figures.
    convs = sum(lay.macs for lay in p.layers if lay.op == "Conv")
    assert convs == ref["truth_macs_by_op"]["Conv"]
    assert by_name["fc"].macs == ref["truth_macs_by_op"]["Gemm"]
    # The table's rows are these names (the text cuts long ones from the left with "…").
    table = str(p).splitlines()
    assert table[2].startswith("conv1 ") and "Conv" in table[2]
    assert any(row.startswith("layer1.0.relu#2 ") for row in table)


def test_resnet18_by_module_has_no_bookkeeping_rows():
    model = tv.models.resnet18()  # training mode: BatchNorm counts its batches
    p = flopscope.profile(model, torch.randn(1, 3, 224, 224))
    rows = p.by_module(2)
    names = [r.name for r in rows]
    modules = dict(model.named_modules())
    # Every row is a module (no root "" row: `flatten` is a view of avgpool's output).
    assert all(n in modules and n != "" for n in names), names
    # ResNet.forward calls conv1, bn1, relu, maxpool, layer1…layer4, avgpool, fc, in order;
    # depth 2 splits layerN into its two blocks.
    blocks = [f"layer{i}.{j}" for i in range(1, 5) for j in (0, 1)]
    assert names == ["conv1", "bn1", "relu", "maxpool", *blocks, "avgpool", "fc"]
    by = {r.name: r for r in rows}
    # One node per call: the stem's relu runs once, bn1 is its BatchNormalization (the
    # `num_batches_tracked += 1` and the `empty` are folded into it).
    assert (by["relu"].nodes, by["relu"].op) == (1, "Relu")
    assert (by["bn1"].nodes, by["bn1"].op) == (1, "BatchNormalization")
    # A block: conv1, bn1, relu, conv2, bn2, the residual add, relu again = 7 nodes, and a
    # downsampling block 2 more (its 1×1 conv and its BatchNorm).
    assert by["layer1.0"].nodes == 7 and by["layer2.0"].nodes == 9
    # The rows add up to the totals, which are the independent counts.
    ref = REFERENCE["resnet18"]
    assert sum(r.params for r in rows) == p.params == ref["torch_params"]
    assert sum(r.macs for r in rows) == p.macs == ref["truth_macs"]
    assert sum(r.flops for r in rows) == p.flops
    assert sum(lay.activation_bytes for lay in p.layers) == p.activation_bytes
    assert sum(lay.bytes_read for lay in p.layers) == p.totals["bytes_read"]
    # The folded nodes are listed with their shapes: avgpool (a mean over H and W) carries
    # the constant of its 2 axes, read first, and the root's flatten, [1, 512, 1, 1] → [1, 512].
    avgpool = next(lay for lay in p.to_dict()["layers"] if lay["name"] == "avgpool")
    assert avgpool["outputs"] == [[1, 512, 1, 1]]
    folded = [(f["op"], f["outputs"]) for f in avgpool["folded"]]
    assert folded == [("Constant", [[2]]), ("view", [[1, 512]])]


def test_vit_attention_rows_are_numbered_in_their_module():
    model = tv.models.vit_b_16().eval()
    with torch.no_grad():  # the fused attention path, one aten call for the whole block
        fused = flopscope.profile(model, torch.randn(1, 3, 224, 224))
    p = flopscope.profile(model, torch.randn(1, 3, 224, 224))  # with grad: SDPA
    ref = REFERENCE["vit_b_16"]
    for q in (fused, p):
        assert q.params == ref["torch_params"] and q.macs == ref["truth_macs"]
        check_names(q, model)
    attn = "encoder.layers.encoder_layer_0.self_attention"
    ops = [lay.op for lay in p.layers if base(lay.name) == attn]
    names = [lay.name for lay in p.layers if base(lay.name) == attn]
    # nn.MultiheadAttention's in-projection, attention and out-projection, in one module.
    assert "Attention" in ops and names[0] == attn and names[1] == f"{attn}#2"
    for depth in (1, 2, 3, 4):
        rows = p.by_module(depth)
        assert sum(r.macs for r in rows) == ref["truth_macs"]
        assert sum(r.params for r in rows) == ref["torch_params"]


def test_a_training_step_names_backward_rows_by_module():
    model = tv.models.resnet18()
    p = flopscope.profile(model, torch.randn(2, 3, 64, 64), training=True)
    t = p.training
    check_names(p, model)
    by_name = {lay.name: lay for lay in p.layers}
    # conv1's forward Conv is the bare name; its gradient is a later `#k` of the same module.
    assert by_name["conv1"].op == "Conv"
    backward = [lay for lay in p.layers if base(lay.name) == "conv1" and lay.name != "conv1"]
    assert [lay.op for lay in backward] == ["convolution_backward"]
    assert sum(lay.macs for lay in p.layers) == t.forward_macs + t.backward_macs
    modules = dict(model.named_modules())
    for lay in p.layers:
        if lay.op == "convolution_backward":
            assert isinstance(modules[base(lay.name)], torch.nn.Conv2d), lay.name


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama"])
def test_transformers_rows_are_named_modules(name):
    requires("transformers", "transformers is not installed")
    from test_torch import T, V, hf  # the small configs and their hand-counted MACs

    model, macs = hf(name)
    model.eval()
    p = flopscope.profile(model, dict(input_ids=torch.randint(0, V, (1, T))))
    assert p.macs == macs
    check_names(p, model)
