"""`flopscope.profile(model, inputs, convention=TOOL)` equals TOOL's own totals, exactly.

The expected values are the tools' own results: thop, fvcore, ptflops, torchinfo, calflops,
DeepSpeed's flops profiler and torch's FlopCounterMode, installed at the versions in
conventions_ref.PINNED (scripts/requirements-test.txt), each run in its own subprocess on the
models of conventions_ref.MODELS (tests/python/conventions_ref.py says how each is called).
flopscope profiles the same model in this process, in the autograd mode the tool ran the
forward pass in. A figure a tool does not report (FlopCounterMode's MACs and parameters,
thop's FLOPs, ...) must be None in flopscope's result too.

The tools run once per session for the selected tests (about three minutes for all of
them on two cores). With FLOPSCOPE_CONVENTIONS_TOOLS=bench/results/conventions_tools.json
the tools' figures are read from that file (bench/conventions_table.py writes it) instead.
test_harness_* check the harness itself against hand formulas, without flopscope.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os

import pytest

import conventions_ref as ref
import flopscope
from test_profile import requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")

FIGURES = ("macs", "flops", "params")

PAIRS = [(m, t) for m in ref.MODELS for t in ref.TOOLS]

# Pairs the harness tests need, by test name (the session fixture runs them with the rest).
_HARNESS_PAIRS = {
    "test_harness_resnet18_against_hand_formulas": [(t, "resnet18") for t in ref.TOOLS],
    "test_harness_ptflops_divides_module_costs_by_batch": [("ptflops", "resnet18_b2")],
    "test_harness_runs_the_callers_grad_mode": [
        (t, f"vit_b_16_{g}") for t in ("deepspeed", "thop") for g in ("grad", "nograd")
    ],
}


def assert_pinned(tool: str) -> None:
    """The tool and the libraries the models come from are at the pinned versions."""
    for dist in (ref.TOOL_DIST[tool], "torch", "torchvision", "transformers"):
        try:
            have = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            if not os.environ.get("FLOPSCOPE_ALL_TESTS"):
                pytest.skip(f"{dist} is not installed: scripts/test-deps.sh installs the tools")
            pytest.fail(f"{dist} is not installed: scripts/test-deps.sh installs the tools")
        assert ref.same_version(have, ref.PINNED[dist]), (
            f"{dist} {have} is installed, but the {tool} convention reproduces {dist} "
            f"{ref.PINNED[dist]}: pip install -r scripts/requirements-test.txt"
        )


@pytest.fixture(scope="session")
def tool_results(request):
    """{(tool, model): the tool's figures}, for every pair the selected tests need, run once."""
    cached = os.environ.get("FLOPSCOPE_CONVENTIONS_TOOLS")
    if cached:
        doc = json.loads(open(cached).read())
        for dist, want in ref.PINNED.items():
            have = doc["versions"].get(dist)
            assert have and ref.same_version(have, want), (
                f"{cached} was made with {dist} {have}, not {want}"
            )
        return {(t, m): r for m, row in doc["results"].items() for t, r in row.items()}
    pairs = set()
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "model" in params and "tool" in params:
            pairs.add((params["tool"], params["model"]))
        pairs.update(_HARNESS_PAIRS.get(getattr(item, "originalname", item.name), ()))
    return ref.run_tools(sorted(pairs))


def figures(tool_results, tool: str, model: str) -> dict:
    r = tool_results.get((tool, model))
    assert r is not None, (
        f"no {tool} result for {model} (FLOPSCOPE_CONVENTIONS_TOOLS file incomplete?)"
    )
    assert "error" not in r, f"{tool} failed on {model}: {r['error']}"
    return {k: r[k] for k in FIGURES}


@functools.lru_cache(maxsize=1)  # tests go model by model: keep one model, not 25
def built(model: str):
    return ref.build(model)


@pytest.mark.parametrize("model,tool", PAIRS)
def test_convention_equals_tool(model, tool, tool_results):
    assert_pinned(tool)
    want = figures(tool_results, tool, model)
    module, args, kwargs, _ = built(model)
    with torch.set_grad_enabled(ref.grad_for(tool, model)):
        p = flopscope.profile(module, kwargs if kwargs else args, convention=tool)
    got = {k: getattr(p, k) for k in FIGURES}
    assert got == want, f"{model} in the {tool} convention: flopscope {got}, {tool} {want}"


# --- the harness itself, against hand formulas (no flopscope) ---------------------------------


def _resnet18_sizes() -> dict:
    """Activation sizes of torchvision's ResNet-18 at 1x3x224x224, from its architecture.

    Stem: conv1 → 64x112x112 (bn1, relu), max-pool 3/2 → 56x56. Stage i = 1..4 has C = 64·2^(i-1)
    channels at S = 56/2^(i-1): two BasicBlocks, each with two BatchNorms and two calls of its
    one ReLU module (after bn1 and after the residual add); stages 2-4 add a downsample
    BatchNorm. Average pool: 512x7x7 → 512. fc: 512 → 1000 with bias."""
    stem = 64 * 112 * 112
    stages = [(64 * 2**i, 56 // 2**i, 4 + (i > 0)) for i in range(4)]  # (C, S, BatchNorms)
    return {
        "bn_numel": stem + sum(n * c * s * s for c, s, n in stages),
        "bn_channels": 64 + sum(n * c for c, s, n in stages),
        "relu_numel": stem + sum(4 * c * s * s for c, s, _ in stages),
        "maxpool_in": stem,
        "avgpool_in": 512 * 7 * 7,
        "avgpool_out": 512,
        "fc_bias": 1000,
    }


def _resnet18_core() -> int:
    """Conv + fc multiply-adds without bias: reference.json's ONNX Runtime-verified counts."""
    from test_profile import ROOT

    ref_json = json.loads((ROOT / "tests" / "data" / "models" / "reference.json").read_text())
    by_op = ref_json["resnet18"]["truth_macs_by_op"]
    return by_op["Conv"] + by_op["Gemm"]


def test_harness_resnet18_against_hand_formulas(tool_results):
    """Each tool's rule (read in its source at the pinned version) applied by hand to ResNet-18
    gives what the harness got from the tool: the tools were called with their defaults, on
    the right input, and their figures were read from the right fields."""
    tv = requires("torchvision", "torchvision is not installed")
    core = _resnet18_core()
    assert core == 1_813_561_344 + 512_000
    z = _resnet18_sizes()
    params = tv.models.ResNet18_Weights.DEFAULT.meta["num_params"]
    pools_relu = z["relu_numel"] + z["maxpool_in"] + z["avgpool_in"]
    want = {
        # thop: BatchNorm 2·numel·2 (affine); AdaptiveAvgPool (kernel 7·7 + 1) per output; ReLU,
        # MaxPool 0; Linear without bias.
        "thop": {
            "macs": core + 4 * z["bn_numel"] + (49 + 1) * z["avgpool_out"],
            "flops": None,
            "params": params,
        },
        # fvcore: eval batch_norm 2·numel (affine); adaptive_avg_pool2d 1 per input element.
        "fvcore": {
            "macs": core + 2 * z["bn_numel"] + z["avgpool_in"],
            "flops": None,
            "params": params,
        },
        # ptflops (pytorch backend): Linear with bias; BatchNorm 2·numel; ReLU/pools counted by
        # their module hook AND by the patched functional they call: twice.
        "ptflops": {
            "macs": core + z["fc_bias"] + 2 * z["bn_numel"] + 2 * pools_relu,
            "flops": None,
            "params": params,
        },
        # torchinfo: a parameter's elements times the batch (times output positions for Conv):
        # fc bias 1000, BatchNorm weight and bias 2 per channel.
        "torchinfo": {
            "macs": core + z["fc_bias"] + 2 * z["bn_channels"],
            "flops": None,
            "params": params,
        },
        # calflops/DeepSpeed: MACs of conv and linear only; FLOPs 2·MAC + eval batch_norm
        # 2·numel + one per ReLU, max-pool and adaptive-pool input element.
        "calflops": {
            "macs": core,
            "flops": 2 * core + 2 * z["bn_numel"] + pools_relu,
            "params": params,
        },
        "deepspeed": {
            "macs": core,
            "flops": 2 * core + 2 * z["bn_numel"] + pools_relu,
            "params": params,
        },
        # FlopCounterMode: 2 per multiply-add of convolution and addmm, nothing else.
        "flopcountermode": {"macs": None, "flops": 2 * core, "params": None},
    }
    for tool in ref.TOOLS:
        assert_pinned(tool)
        assert figures(tool_results, tool, "resnet18") == want[tool], tool


def test_harness_ptflops_divides_module_costs_by_batch(tool_results):
    """ptflops at batch 2: module costs are divided by the batch, the patched functionals'
    (ReLU, max-pool and adaptive-pool: the modules call them) are not, so those count 1 + 2."""
    assert_pinned("ptflops")
    z = _resnet18_sizes()
    pools_relu = z["relu_numel"] + z["maxpool_in"] + z["avgpool_in"]
    per_sample = _resnet18_core() + z["fc_bias"] + 2 * z["bn_numel"]
    got = figures(tool_results, "ptflops", "resnet18_b2")["macs"]
    assert got == per_sample + (1 + 2) * pools_relu


def test_harness_runs_the_callers_grad_mode(tool_results):
    """ViT-B/16's nn.MultiheadAttention takes its fused fast path under no_grad, which DeepSpeed's
    profiler cannot see: with grad it counts, per layer of 12, the in-projection 197·768·2304,
    the out-projection 197·768·768 and its SDPA rule 2·(12 heads·197·64·197). thop runs under
    no_grad whatever the caller does, and counts no attention: the same in both."""
    for tool in ("deepspeed", "thop"):
        assert_pinned(tool)
    seq, d, heads = 197, 768, 12
    mha = seq * d * 3 * d + seq * d * d + 2 * heads * seq * (d // heads) * seq
    ds = {
        g: figures(tool_results, "deepspeed", f"vit_b_16_{g}")["macs"] for g in ("grad", "nograd")
    }
    assert ds["grad"] - ds["nograd"] == 12 * mha
    assert figures(tool_results, "thop", "vit_b_16_grad") == figures(
        tool_results, "thop", "vit_b_16_nograd"
    )
