"""``flopscope.bench`` for a ``torch.nn.Module``: Python runs and times the model (it must touch
torch); the stopping rule, the statistics and every rendering are ``flopscope bench``'s Rust
code (``Sampler``, ``bench_report``)."""

from __future__ import annotations

import json
import os
import time
from typing import Any, Optional

import torch

from . import _flopscope as _rs
from ._torch import example_inputs
from ._benchfile import BenchResult

# What triton.testing.do_bench writes between CUDA runs so that no run finds the previous
# one's data in L2: 256 MB, larger than any GPU's L2 cache.
_FLUSH_BYTES = 256 * 1024 * 1024

# The default wheel has no tract (it would more than double the build): how to get it.
TRACT_MISSING = ("the tract backend is not in this build of flopscope: reinstall with "
                 "pip install . --config-settings=build-args=\"--features tract\" "
                 "(docs/python.md, \"Installing\")")


def _batched(x: Any, batch: Optional[int]) -> Any:
    """The inputs at batch size ``batch``: the first row of every tensor whose first dim is the
    first tensor's (the batch dim), repeated; other tensors (a shared mask) as they are."""
    if batch is None:
        return x
    leaves = [t for t in torch.utils._pytree.tree_leaves(x)
              if isinstance(t, torch.Tensor) and t.dim() > 0]
    if not leaves:
        return x
    n = leaves[0].shape[0]

    def one(t):
        if not isinstance(t, torch.Tensor) or t.dim() == 0 or t.shape[0] != n:
            return t
        return t[:1].repeat(batch, *([1] * (t.dim() - 1)))
    return torch.utils._pytree.tree_map(one, x)


def _to(x: Any, device: torch.device) -> Any:
    return torch.utils._pytree.tree_map(
        lambda t: t.to(device) if isinstance(t, torch.Tensor) else t, x)


def _max_abs_diff(a: Any, b: Any) -> float:
    la = [t for t in torch.utils._pytree.tree_leaves(a) if isinstance(t, torch.Tensor)]
    lb = [t for t in torch.utils._pytree.tree_leaves(b) if isinstance(t, torch.Tensor)]
    if len(la) != len(lb):
        return float("nan")
    diffs = [(x.float() - y.float()).abs().max().item() for x, y in zip(la, lb) if x.numel()]
    return max(diffs, default=0.0)


def _timer(device: torch.device, flush: bool):
    """A function that runs ``fn`` once and returns its latency in milliseconds."""
    if device.type != "cuda":
        def cpu(fn):
            t = time.perf_counter_ns()
            fn()
            return (time.perf_counter_ns() - t) / 1e6
        return cpu
    cache = torch.empty(_FLUSH_BYTES, dtype=torch.int8, device=device) if flush else None

    def cuda(fn):
        if cache is not None:
            cache.zero_()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end)
    return cuda


def _exported(model, args, kwargs, backends, warmup, runs, max_time, precision):
    """Exports the module once (``torch.onnx.export``, dynamo, optimized: the graph one
    deploys), times the file with ``flopscope bench``'s runtimes, and compares each runtime's
    outputs with eager torch's on the same seeded inputs: ``(report, [max abs diff, …])``."""
    import contextlib
    import io
    import tempfile

    with tempfile.TemporaryDirectory(prefix="flopscope-") as tmp:
        path = os.path.join(tmp, "model.onnx")
        with contextlib.redirect_stdout(io.StringIO()):
            torch.onnx.export(model, tuple(args), path, kwargs=dict(kwargs), dynamo=True)
        report, outputs, specs = _rs.bench_file(path, list(backends), torch.get_num_threads(),
                                                int(warmup), runs, max_time, precision, 0)
    # The runtimes were fed seeded random inputs; give eager torch the same ones.
    leaves, tree = torch.utils._pytree.tree_flatten((tuple(args), dict(kwargs)))
    slots = [i for i, t in enumerate(leaves) if isinstance(t, torch.Tensor)]
    if len(slots) != len(specs):
        return report, [float("nan")] * len(backends)
    for n, (i, (_, dtype, shape)) in enumerate(zip(slots, specs)):
        data = _rs.input_data(dtype, shape, n * 7919)
        t = torch.frombuffer(bytearray(data), dtype=getattr(torch, dtype)).reshape(shape)
        leaves[i] = t.to(leaves[i].dtype)
    a, k = torch.utils._pytree.tree_unflatten(leaves, tree)
    with torch.inference_mode():
        ref = model(*a, **k)
    mine = [t for t in torch.utils._pytree.tree_leaves(ref) if isinstance(t, torch.Tensor)]
    diffs = []
    for outs in outputs:
        pairs = [(m, o) for m, o in zip(mine, outs) if m.numel() == len(o)]
        if not pairs:
            diffs.append(float("nan"))
            continue
        diffs.append(max((m.float().flatten() - torch.tensor(o)).abs().max().item()
                         for m, o in pairs))
    return report, diffs


def bench(model: torch.nn.Module, inputs: Any = None, *, input_shape: Any = None,
          backends: tuple = ("torch",), device: Optional[str] = None,
          threads: Optional[int] = None, batch_sizes: Optional[list] = None,
          warmup: int = 10, runs: Optional[int] = None, max_time: Optional[float] = None,
          precision: Optional[float] = None, flush_l2: bool = False) -> BenchResult:
    from . import UsageError

    try:
        args, kwargs = example_inputs(model, inputs, input_shape)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if runs is not None and int(runs) < 1:
        raise UsageError(f"runs must be ≥ 1, got {runs}")
    if any(int(b) < 1 for b in batch_sizes or []):
        raise UsageError(f"batch sizes must be ≥ 1, got {list(batch_sizes)}")
    params = [*model.parameters(), *model.buffers()]
    have = params[0].device if params else torch.device("cpu")
    dev = torch.device(device) if device is not None else have
    if params and have.type != dev.type:
        raise UsageError(f"the model is on {have}, not {dev}: move it first (bench does not "
                         "move or copy your model)")
    if have.type == "meta":
        raise UsageError("a model on the meta device has no weights to run")
    for b in backends:
        if b not in ("torch", "torch.compile", "onnxruntime", "tract"):
            raise UsageError(f"unknown backend '{b}' (torch, torch.compile, onnxruntime, tract)")
    if "tract" in backends and not _rs.HAS_TRACT:
        # Refused before anything is exported or run: the wheel is built without tract.
        raise UsageError(TRACT_MISSING)
    exported = [b for b in backends if b in ("onnxruntime", "tract")]
    if exported and dev.type != "cpu":
        raise UsageError("onnxruntime and tract run on the CPU: bench them with device='cpu'")
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
    else:
        name = "cpu"
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    timer = _timer(dev, flush_l2)
    results, diffs, extra = [], {}, []
    # A model in training mode updates its buffers (BatchNorm statistics) at every run: they
    # are put back afterwards, so bench leaves the model as it found it.
    saved = {k: b.detach().clone() for k, b in model.named_buffers()}
    try:
        for batch in batch_sizes or [None]:
            a, k = _to(_batched(args, batch), dev), _to(_batched(kwargs, batch), dev)
            first = next((t for t in torch.utils._pytree.tree_leaves((a, k))
                          if isinstance(t, torch.Tensor) and t.dim() > 0), None)
            b = int(batch if batch is not None else (first.shape[0] if first is not None else 1))
            reference = None
            for backend in [b for b in backends if b not in exported]:
                t0 = time.perf_counter()
                fn_model = torch.compile(model) if backend == "torch.compile" else model
                load_ms = (time.perf_counter() - t0) * 1e3

                def call(m=fn_model):
                    with torch.inference_mode():
                        return m(*a, **k)

                with torch.inference_mode():
                    cold_ms = timer(call)  # compiles, for torch.compile
                    out = call()
                if reference is None:
                    reference = out
                else:
                    diffs[f"{backend} b{b}"] = _max_abs_diff(reference, out)
                for _ in range(int(warmup)):
                    call()
                sampler = _rs.Sampler(runs, max_time, precision)
                while not sampler.add(timer(call)):
                    pass
                version = torch.__version__
                results.append((backend, version, b, torch.get_num_threads(), sampler.samples,
                                load_ms, cold_ms))
            if exported:
                report, outs = _exported(model, a, k, exported, warmup, runs, max_time,
                                         precision)
                extra.append(report)
                diffs.update({f"{e} b{b}": d for e, d in zip(exported, outs)})
    finally:
        torch.set_num_threads(old_threads)
        with torch.no_grad():
            for k, b in model.named_buffers():
                if k in saved:
                    b.copy_(saved[k])
    shapes = [f"{'x'.join(map(str, t.shape))}" for t in torch.utils._pytree.tree_leaves((args, kwargs))
              if isinstance(t, torch.Tensor)]
    raw = _rs.bench_report(type(model).__name__, shapes, results, extra)
    return BenchResult(raw, diffs, name)
