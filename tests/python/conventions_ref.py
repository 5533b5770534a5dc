"""The reference side of `flopscope.profile(..., convention=NAME)`: the counting tools themselves.

Not a test file. It names the models (`MODELS`), the tools (`TOOLS`) and the versions they were
checked at (`PINNED`), and runs each tool exactly as its own documentation calls it, with its
defaults (`run_tool`). `run_tools` runs them in subprocesses, one per tool, so that the
monkey-patching tools (thop's hooks, ptflops', calflops' and DeepSpeed's patched
`torch.nn.functional`) cannot leak into one another or into flopscope's capture in the test
process; the worker also checks after every model that the tool put `torch`,
`torch.nn.functional` and `torch.Tensor` back as it found them.

Used by tests/python/test_conventions_tools.py and bench/conventions_table.py; run as a script
it is that worker: `python conventions_ref.py TOOL MODEL[,MODEL...] OUT.json [variants]`.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: The conventions, by the name `flopscope.profile(..., convention=NAME)` takes.
TOOLS = ("thop", "fvcore", "ptflops", "torchinfo", "calflops", "deepspeed", "flopcountermode")

#: The distribution each convention's tool comes from (FlopCounterMode ships with torch).
TOOL_DIST = {
    "thop": "thop",
    "fvcore": "fvcore",
    "ptflops": "ptflops",
    "torchinfo": "torchinfo",
    "calflops": "calflops",
    "deepspeed": "deepspeed",
    "flopcountermode": "torch",
}

#: The versions the conventions reproduce; scripts/requirements-test.txt pins the same. thop's
#: metadata spells its version "0.1.1-2209072238", so compare with `same_version`.
PINNED = {
    "thop": "0.1.1.post2209072238",
    "fvcore": "0.1.5.post20221221",
    "ptflops": "0.7.5",
    "torchinfo": "1.8.0",
    "calflops": "0.3.2",
    "deepspeed": "0.19.8",
    "torch": "2.15.0",
    "torchvision": "0.29.2",
    "transformers": "5.24.0",
}

#: The module each tool is imported from; the worker imports it before timing the first model.
TOOL_MODULE = {
    "thop": "thop",
    "fvcore": "fvcore.nn",
    "ptflops": "ptflops",
    "torchinfo": "torchinfo",
    "calflops": "calflops",
    "deepspeed": "deepspeed.profiling.flops_profiler",
    "flopcountermode": "torch.utils.flop_counter",
}

#: Tools that run the forward pass under `torch.no_grad()` whatever the caller's mode.
FORCES_NO_GRAD = {"thop", "torchinfo"}

# A tool call on the biggest model here takes seconds; a hang must not stall the test session.
TIMEOUT_S = 900


def same_version(installed: str, pinned: str) -> bool:
    """Whether two version strings name the same release (PEP 440 normalisation)."""
    from packaging.version import Version

    return Version(installed) == Version(pinned)


# --- models ----------------------------------------------------------------------------------


def _torch():
    import torch

    return torch


def _tv(arch: str, batch: int = 1, size: int = 224, **kw):
    import torchvision

    torch = _torch()
    return torchvision.models.get_model(arch, weights=None, **kw), (
        torch.randn(batch, 3, size, size),
    )


def _hf(kind: str, impl: str | None):
    """A small Hugging Face model from its config, with `attn_implementation` forced."""
    import transformers as tr

    torch = _torch()
    if kind == "bert":
        cfg = tr.BertConfig(
            hidden_size=256,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=1024,
            vocab_size=1000,
        )
        cls = tr.BertModel
    elif kind == "gpt2":
        cfg = tr.GPT2Config(n_embd=256, n_layer=2, n_head=4, vocab_size=1000, n_positions=512)
        cls = tr.GPT2LMHeadModel  # HF's Conv1D projections; lm_head tied to wte
    else:
        cfg = tr.LlamaConfig(
            hidden_size=256,
            intermediate_size=1024,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            vocab_size=1000,
            max_position_embeddings=512,
        )
        cls = tr.LlamaForCausalLM
    # No KV cache: fvcore's tracer cannot return a DynamicCache, and a cache adds no compute.
    cfg.use_cache = False
    if impl is not None:
        cfg._attn_implementation = impl
    m = cls(cfg)
    if impl is not None and m.config._attn_implementation != impl:
        raise RuntimeError(
            f"{kind}: asked for {impl} attention, got {m.config._attn_implementation}"
        )
    return m, (torch.randint(0, cfg.vocab_size, (1, 128)),)


def _funclinear():
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    class FuncLinear(nn.Module):
        """nn.Linear(64, 64), then F.linear with a Parameter held by the root (no submodule)."""

        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(64, 64)
            self.w = nn.Parameter(torch.randn(32, 64))
            self.b = nn.Parameter(torch.zeros(32))

        def forward(self, x):
            return F.linear(self.lin(x), self.w, self.b)

    return FuncLinear(), (torch.randn(1, 16, 64),)


def _ops_mix():
    """A small model of the modules the others lack, each with its own rule in some tool."""
    torch = _torch()
    nn = torch.nn
    m = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1),  # 16x16 -> 32x32
        nn.InstanceNorm2d(4, affine=True),
        nn.PReLU(),
        nn.Upsample(scale_factor=2, mode="bilinear"),  # 32x32 -> 64x64
        nn.GroupNorm(2, 4),
        nn.LeakyReLU(0.1),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(64, 32),
        nn.BatchNorm1d(32),
        nn.Softmax(dim=-1),
    )
    return m, (torch.randn(1, 3, 16, 16),)


def _encoder():
    torch = _torch()
    nn = torch.nn
    layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, batch_first=True)
    m = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    return m, (torch.randn(1, 10, 64),)


def _rnn(kind: str):
    torch = _torch()
    if kind == "lstm":  # sequence-first: 16 steps, batch 1
        return torch.nn.LSTM(64, 128, num_layers=2), (torch.randn(16, 1, 64),)
    return torch.nn.GRU(32, 64, batch_first=True), (torch.randn(1, 10, 32),)


def _seg():
    import torchvision

    torch = _torch()
    m = torchvision.models.segmentation.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None
    )
    return m, (torch.randn(1, 3, 224, 224),)


# name -> (builder returning (module, args), grad). grad is the autograd mode the caller runs
# the tool in; it decides nn.MultiheadAttention's and nn.TransformerEncoder's fused fast path.
_SPECS = {
    "resnet18": (lambda: _tv("resnet18"), False),
    # ptflops divides module costs (not functional ones) by the batch: one model at batch 2.
    "resnet18_b2": (lambda: _tv("resnet18", batch=2), False),
    "mobilenet_v2": (lambda: _tv("mobilenet_v2"), False),  # depthwise
    "resnext50_32x4d": (lambda: _tv("resnext50_32x4d"), False),  # grouped
    "efficientnet_b0": (lambda: _tv("efficientnet_b0"), False),  # SiLU, squeeze-excitation
    "convnext_tiny": (lambda: _tv("convnext_tiny"), False),  # LayerNorm2d, layer scale
    "densenet121": (lambda: _tv("densenet121"), False),  # functional relu/pool, concat
    "squeezenet1_0": (lambda: _tv("squeezenet1_0"), False),
    "alexnet": (lambda: _tv("alexnet"), False),
    "shufflenet_v2_x1_0": (lambda: _tv("shufflenet_v2_x1_0"), False),  # channel shuffle
    "lraspp_mobilenet_v3_large": (_seg, False),  # F.interpolate, Hardswish, dict output
    "vit_b_16_nograd": (lambda: _tv("vit_b_16"), False),  # MHA fast path
    "vit_b_16_grad": (lambda: _tv("vit_b_16"), True),
    "swin_t": (lambda: _tv("swin_t"), False),  # F.linear with raw weights in its attention
    "bert_sdpa": (lambda: _hf("bert", "sdpa"), False),
    "bert_eager": (lambda: _hf("bert", "eager"), False),
    "gpt2": (lambda: _hf("gpt2", None), False),
    "llama_sdpa": (lambda: _hf("llama", "sdpa"), False),
    "llama_eager": (lambda: _hf("llama", "eager"), False),
    "lstm": (lambda: _rnn("lstm"), False),
    "gru": (lambda: _rnn("gru"), False),
    "funclinear": (_funclinear, False),
    "transformer_encoder_nograd": (_encoder, False),  # fused whole-layer fast path
    "transformer_encoder_grad": (_encoder, True),
    "ops_mix": (_ops_mix, False),
}

#: The model names, in table order.
MODELS = tuple(_SPECS)


def build(name: str, seed: int = 0):
    """Builds model `name`: `(module in eval mode, args tuple, kwargs dict, grad)`.

    Weights and inputs come from `seed`, so every process builds the same model."""
    torch = _torch()
    try:
        builder, grad = _SPECS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
    torch.manual_seed(seed)
    model, args = builder()
    return model.eval(), args, {}, grad


def grad_for(tool: str, name: str) -> bool:
    """The autograd mode `tool` actually runs model `name`'s forward pass in."""
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r}; known: {', '.join(TOOLS)}")
    return False if tool in FORCES_NO_GRAD else _SPECS[name][1]


# --- running a tool --------------------------------------------------------------------------


def _integral(value, what: str) -> int | None:
    """A tool's figure as an int; refuses a fraction (thop returns floats) rather than round it."""
    if value is None:
        return None
    if float(value) != int(value):
        raise ValueError(f"{what} is not an integer: {value!r}")
    return int(value)


def _call(tool: str, model, args: tuple, kwargs: dict) -> dict:
    """One tool on one model, called as its documentation shows, with its defaults."""
    if tool == "thop":
        from thop import profile

        if kwargs:
            raise ValueError("thop passes positional inputs only")
        macs, params = profile(model, inputs=args, verbose=False)
        return {"macs": macs, "flops": None, "params": params}
    if tool == "fvcore":
        from fvcore.nn import FlopCountAnalysis, parameter_count

        if kwargs:
            raise ValueError("fvcore traces positional inputs only")
        fa = FlopCountAnalysis(model, args)
        # Warnings only: they change nothing in the totals.
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        fa.tracer_warnings("none")
        # fvcore's "flops" count one per multiply-add: MACs.
        return {"macs": fa.total(), "flops": None, "params": parameter_count(model)[""]}
    if tool == "ptflops":
        from ptflops import get_model_complexity_info

        if kwargs and args:
            raise ValueError("ptflops passes one tensor or keyword arguments, not both")
        batch = kwargs if kwargs else args[0]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            macs, params = get_model_complexity_info(
                model,
                tuple(args[0].shape[1:]) if args else (1,),
                as_strings=False,
                print_per_layer_stat=False,
                input_constructor=lambda _res: batch,
                ost=out,
            )
        if macs is None:  # ptflops prints an exception and returns (None, None)
            raise RuntimeError("ptflops failed: " + out.getvalue().strip().splitlines()[-1])
        return {"macs": macs, "flops": None, "params": params}
    if tool == "torchinfo":
        from torchinfo import summary

        s = summary(model, input_data=list(args), verbose=0, device="cpu", **kwargs)
        return {"macs": s.total_mult_adds, "flops": None, "params": s.total_params}
    if tool in ("calflops", "deepspeed"):
        if tool == "calflops":
            from calflops import calculate_flops

            flops, macs, params = calculate_flops(
                model,
                args=list(args),
                kwargs=kwargs,
                print_results=False,
                print_detailed=False,
                output_as_string=False,
            )
        else:
            from deepspeed.profiling.flops_profiler import get_model_profile

            flops, macs, params = get_model_profile(
                model, args=list(args), kwargs=kwargs, print_profile=False, as_string=False
            )
        return {"macs": macs, "flops": flops, "params": params}
    if tool == "flopcountermode":
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as fc:
            model(*args, **kwargs)
        return {"macs": None, "flops": fc.get_total_flops(), "params": None}
    raise ValueError(f"unknown tool {tool!r}; known: {', '.join(TOOLS)}")


def _torch_surface() -> dict:
    """What a tool may patch: the attributes set on torch, torch.nn.functional and torch.Tensor
    (their own `vars`, where a monkey-patch lands), kept by reference to compare with `is`."""
    # Importing torch._dynamo (which a tool may do) rebinds torch.manual_seed: import it first.
    import torch
    import torch._dynamo  # noqa: F401

    spaces = {
        "torch": torch,
        "torch.nn.functional": torch.nn.functional,
        "torch.Tensor": torch.Tensor,
    }
    return {f"{ns}.{k}": v for ns, obj in spaces.items() for k, v in vars(obj).items()}


def run_tool(tool: str, name: str, seed: int = 0) -> dict:
    """Runs `tool` on model `name` in this process: `{"macs", "flops", "params", "seconds"}`.

    Figures the tool does not report are None. The forward pass runs in the model's grad mode
    (thop and torchinfo switch to no_grad themselves). Raises if the tool fails or leaves
    `torch` patched."""
    torch = _torch()
    model, args, kwargs, grad = build(name, seed)
    before = _torch_surface()
    t0 = time.perf_counter()
    with torch.set_grad_enabled(grad), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = _call(tool, model, args, kwargs)
    seconds = time.perf_counter() - t0
    after = _torch_surface()
    changed = sorted(k for k in before.keys() & after.keys() if before[k] is not after[k])
    if changed:
        raise RuntimeError(
            f"{tool} left {len(changed)} torch attributes patched: {', '.join(changed[:5])}"
        )
    res = {k: _integral(raw[k], f"{tool} {k} on {name}") for k in ("macs", "flops", "params")}
    res["seconds"] = round(seconds, 3)
    return res


def run_tools(pairs, jobs: int = 2, python: str | None = None, variants: bool = False) -> dict:
    """Runs (tool, model) pairs, one subprocess per tool, at most `jobs` at a time.

    Returns {(tool, model): result}; a result is run_tool's dict or `{"error": "..."}`. Each
    result also carries `process_seconds`: the wall time of its tool's whole subprocess
    (interpreter, imports, every model) divided by the number of models it ran. With
    `variants`, each subprocess takes its models in reverse order and each result gets
    `variants`: the figures of the same call repeated (`again`), with two torch threads
    (`threads2`) and with other weights and inputs (`seed1`), to find a tool that is not
    consistent with itself."""
    by_tool: dict[str, list[str]] = {}
    for tool, name in pairs:
        if tool not in TOOLS or name not in _SPECS:
            raise ValueError(f"unknown pair ({tool!r}, {name!r})")
        by_tool.setdefault(tool, []).append(name)

    def one(tool: str) -> dict:
        names = by_tool[tool]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.json"
            t0 = time.perf_counter()
            order = names[::-1] if variants else names
            cmd = [python or sys.executable, __file__, tool, ",".join(order), str(out)]
            cmd += ["variants"] if variants else []
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
                tail = (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1]
            except subprocess.TimeoutExpired:
                tail = f"timed out after {TIMEOUT_S} s"
            wall = time.perf_counter() - t0
            got = json.loads(out.read_text()) if out.exists() else {}
        res = {}
        for name in names:
            r = got.get(name, {"error": f"{tool} worker died before {name}: {tail}"})
            r["process_seconds"] = round(wall / len(names), 2)
            res[(tool, name)] = r
        return res

    results: dict = {}
    with ThreadPoolExecutor(max(1, jobs)) as ex:
        for part in ex.map(one, list(by_tool)):
            results.update(part)
    return results


def _figures_or_error(tool: str, name: str, seed: int = 0) -> dict:
    try:
        return run_tool(tool, name, seed)
    except Exception as e:  # noqa: BLE001 -- reported per cell, the other models still run
        msg = " ".join(str(e).split())
        return {"error": f"{type(e).__name__}: {msg[:500]}"}


def _variants(tool: str, name: str) -> dict:
    """The same cell run again, with two threads, and on seed 1 (figures only)."""
    torch = _torch()
    out = {"again": _figures_or_error(tool, name)}
    torch.set_num_threads(2)
    try:
        out["threads2"] = _figures_or_error(tool, name)
    finally:
        torch.set_num_threads(1)
    out["seed1"] = _figures_or_error(tool, name, seed=1)
    for r in out.values():
        r.pop("seconds", None)
    return out


def _worker(tool: str, names: list[str], out: str, variants: bool = False) -> None:
    """Runs one tool on models in sequence, writing every result to `out` as soon as it exists."""
    torch = _torch()
    # Two workers share the machine; one thread each also keeps the timings comparable.
    torch.set_num_threads(1)
    results = {}
    try:
        importlib.import_module(TOOL_MODULE[tool])
    except Exception as e:  # noqa: BLE001 -- every cell reports it
        msg = f"cannot import {tool}: {type(e).__name__}: {e}"
        Path(out).write_text(json.dumps({n: {"error": msg} for n in names}))
        return
    for name in names:
        results[name] = _figures_or_error(tool, name)
        if variants:
            results[name]["variants"] = _variants(tool, name)
        Path(out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[4:] not in ([], ["variants"]):
        sys.exit("usage: conventions_ref.py TOOL MODEL[,MODEL...] OUT.json [variants]")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    _worker(sys.argv[1], sys.argv[2].split(","), sys.argv[3], variants=len(sys.argv) == 5)
