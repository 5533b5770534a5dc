"""The conventions API on small modules whose figures are worked out by hand from each tool's
source (docs/conventions.md); test_conventions_tools.py checks whole models against the tools
themselves."""

from __future__ import annotations

import json
import subprocess

import pytest

import flopscope
from test_profile import cli_binary, requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")
nn = torch.nn
F = torch.nn.functional


class Net(nn.Module):
    """nn.Linear(4, 3), then a GELU through a kept reference and one by name."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.act = F.gelu

    def forward(self, x):
        return F.gelu(self.act(self.lin(x)))


X = torch.randn(2, 5, 4)  # batch 2, 10 rows: 10 × 4 × 3 = 120 multiply-accumulates


@pytest.mark.parametrize("name, macs, flops, params", [
    ("thop", 120, None, 15),         # in_features × y.numel()
    ("fvcore", 120, None, 15),       # numel(x) × out_features; GELU unsupported
    ("ptflops", 75 + 30, None, 15),  # (12 + 3) × 10 ÷ batch 2, + F.gelu by name (30)
    ("torchinfo", 30, None, 15),     # batch × (12 + 3): tokens ignored
    ("calflops", 120, 240 + 30, 15),
    ("deepspeed", 120, 240 + 30, 15),
    ("flopcountermode", None, 240, None),
])
def test_profile_with_a_convention_gives_the_tools_figures(name, macs, flops, params):
    c = flopscope.profile(Net(), X, convention=name)
    assert isinstance(c, flopscope.Counted)
    assert (c.convention, c.macs, c.flops, c.params) == (name, macs, flops, params)


def test_exact_is_the_profile_itself():
    p = flopscope.profile(Net(), X)
    e = p.as_convention("exact")
    assert (e.macs, e.flops, e.params) == (p.macs, p.flops, p.params)
    # 120 products plus 30 bias adds in the exact count.
    assert p.macs == 120


def test_explain_says_what_each_convention_misses():
    e = flopscope.profile(Net(), X).explain("torchinfo", "thop", "exact")
    assert [c.convention for c in e.conventions] == ["torchinfo", "thop", "exact"]
    assert e["torchinfo"].macs == 30
    assert any(d.startswith("torchinfo misses 90 MACs of matmul") for d in e.differences), e.differences
    assert "torchinfo (MACs)" in str(e) and e.markdown.startswith("| ")


def test_cli_reads_a_saved_trace_the_same_way(tmp_path):
    binary = cli_binary()  # what `cargo test` built, as the other CLI comparisons use
    if binary is None:
        pytest.skip("the flopscope binary is not built (cargo build, or set FLOPSCOPE_BIN)")
    p = flopscope.profile(Net(), X)
    path = tmp_path / "net.json"
    p.save_trace(path)
    out = subprocess.run([str(binary), "profile", str(path), "--convention", "torchinfo", "-f", "json"],
                         capture_output=True, text=True, check=True)
    c = json.loads(out.stdout)["conventions"][0]
    assert (c["macs"], c["params"]) == (30, 15)


def test_bad_names_and_inputs_are_usage_errors(tmp_path):
    with pytest.raises(flopscope.UsageError, match="unknown convention 'thopp'"):
        flopscope.profile(Net(), X, convention="thopp")
    p = flopscope.profile("resnet18")
    with pytest.raises(flopscope.UsageError, match="need a profile of a torch.nn.Module"):
        p.as_convention("thop")
    assert p.as_convention("exact").macs == 1_814_073_344  # reference.json's resnet18
    with pytest.raises(flopscope.UsageError, match="save_trace"):
        p.save_trace(tmp_path / "x.json")
    with pytest.raises(flopscope.UsageError, match="no training"):
        flopscope.profile(Net(), X, convention="thop", training=True)


def test_conventions_run_the_model_in_the_tools_modes():
    # thop runs the forward pass under no_grad, so nn.MultiheadAttention takes its fused path
    # for the tools without module hooks inside it; the model's own mode is restored.
    m = nn.MultiheadAttention(64, 4, batch_first=True)
    m.train()

    class Self(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.att = m

        def forward(self, x):
            return self.att(x, x, x, need_weights=False)[0]

    net = Self()
    net.train()
    x = torch.randn(1, 10, 64)
    # ptflops calls model.eval(); flopscope restores the mode afterwards.
    flopscope.profile(net, x, convention="ptflops")
    assert net.training and m.training
    # FlopCounterMode leaves the mode alone: in eval mode under no_grad the fast path runs.
    net.eval()
    with torch.no_grad():
        fused = flopscope.profile(net, x, convention="flopcountermode")
    unfused = flopscope.profile(net, x, convention="flopcountermode")
    # Fused (eval, no grad): FlopCounterMode sees one _native_multi_head_attention: 0.
    assert fused.flops == 0
    # Unfused (with grad): in and out projections 2 × 10 × 64 × (192 + 64) and the attention
    # 2 × 2 × 4 × 10 × 10 × 16.
    assert unfused.flops == 2 * 10 * 64 * 256 + 4 * 4 * 10 * 10 * 16

    # Cross-attention (a key/value tensor other than the query, same shape): PyTorch's fast
    # path needs one tensor for all three, so even in eval under no_grad nothing is fused.
    class Cross(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.att = m

        def forward(self, x, y):
            return self.att(x, y, y, need_weights=False)[0]

    with torch.no_grad():
        cross = flopscope.profile(Cross().eval(), (x, torch.randn(1, 10, 64)),
                                  convention="flopcountermode")
    assert cross.flops == unfused.flops


def test_the_causal_switch_reaches_exact_and_no_tool():
    class Causal(nn.Module):
        def forward(self, q):
            return F.scaled_dot_product_attention(q, q, q, is_causal=True)

    q = torch.randn(1, 4, 128, 64)
    whole = 2 * 4 * 128 * 128 * 64  # QKᵀ and PV: 4 heads × 128² × 64 each
    assert flopscope.profile(Causal(), q, convention="exact").macs == whole
    assert flopscope.profile(Causal(), q, convention="exact", attention="causal-half").macs == whole // 2
    # FlopCounterMode counts the whole score matrix whatever the switch says.
    fcm = flopscope.profile(Causal(), q, convention="flopcountermode", attention="causal-half")
    assert fcm.flops == 2 * whole
