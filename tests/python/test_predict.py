"""Tests of `flopscope.predict` (build the package first: `python3 -m pip install .`).

The expected times are the roofline recomputed here from a module's shapes and the device's
datasheet figures, under parameters that make the time model exactly the roofline (full
efficiency at every size, no launch overhead); the documents are compared with the CLI's.
No test measures time.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import flopscope

ROOT = Path(__file__).resolve().parents[2]

# RTX 4090, NVIDIA Ada whitepaper: 82.6 TFLOP/s fp32, 165.2 TFLOP/s fp16 tensor with fp32
# accumulate, 1,008 GB/s, 24 GB. It is the AD102 part with the most watts per SM-GHz, so the
# power model leaves it at its boost clock.
RTX4090_FP32 = 82.6e12
RTX4090_FP16 = 165.2e12
RTX4090_BW = 1008e9

CLASSES = ("gemm", "conv", "grouped_conv", "attention", "elementwise", "data")


def cli_binary() -> Path | None:
    env = os.environ.get("FLOPSCOPE_BIN")
    if env:
        return Path(env)
    for profile in ("debug", "release"):
        p = ROOT / "target" / profile / "flopscope"
        if p.exists():
            return p
    return None


def cli(*args: str) -> str:
    exe = cli_binary()
    if exe is None:
        pytest.skip("the flopscope binary is not built (cargo build, or set FLOPSCOPE_BIN)")
    return subprocess.run([str(exe), *args], check=True, capture_output=True, text=True,
                          cwd=ROOT).stdout


def write_params(path: Path, bands: list | None = None) -> Path:
    """Parameters under which the prediction is the plain roofline (as the CLI's tests)."""
    one = {"eff": 1.0, "half_gflop": 0.0, "mem_eff": 1.0}
    profile = {"basis": "roofline", "overhead_us": 0.0, "ops": {c: one for c in CLASSES}}
    doc = {"schema": "flopscope.predict-params/1",
           "profiles": {"gpu": profile, "cpu": profile}, "error_bands": bands or []}
    path.write_text(json.dumps(doc))
    return path


def mlp():
    torch = pytest.importorskip("torch", reason="the module tests need torch")
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
                               torch.nn.Linear(1024, 16))


# The module's shapes: batch B, Linear(I → H), ReLU, Linear(H → O).
B, I, H, O = 512, 1024, 1024, 16


def roofline_s(dtype_bytes: int, gemm_peak: float, vector_peak: float = RTX4090_FP32,
               bandwidth: float = RTX4090_BW) -> dict:
    """Each kernel's roofline time, seconds, derived from the shapes (docs/counting.md):
    a Linear of x [B, n] by W [n, m] is a Gemm of 2·B·n·m FLOPs (B·n·m multiply-adds) plus B·m
    bias adds, reading x, W and the bias and writing y; ReLU is one FLOP per element, reading
    and writing B·H elements. Bytes are elements × the dtype's size (fp32 as stored; a
    prediction at fp16 moves half). Products run at `gemm_peak`, ReLU at the fp32 peak
    `vector_peak` (FLOP/s); bytes move at `bandwidth` (B/s)."""
    def t(flops: int, elements: int, peak: float) -> float:
        return max(flops / peak, elements * dtype_bytes / bandwidth)

    return {
        "gemm0": t(2 * B * I * H + B * H, B * I + I * H + H + B * H, gemm_peak),
        "relu": t(B * H, 2 * B * H, vector_peak),
        "gemm1": t(2 * B * H * O + B * O, B * H + H * O + O + B * O, gemm_peak),
    }


@pytest.mark.parametrize("dtype,size,peak", [(None, 4, RTX4090_FP32), ("fp32", 4, RTX4090_FP32),
                                             ("fp16", 2, RTX4090_FP16)])
def test_a_module_at_full_efficiency_is_its_roofline(tmp_path, dtype, size, peak):
    params = write_params(tmp_path / "roofline.json")
    p = flopscope.predict(mlp(), input_shape=(B, I), device="rtx4090", dtype=dtype,
                          params=params)
    assert isinstance(p, flopscope.Prediction)
    expected = roofline_s(size, peak)
    assert p.latency_s == pytest.approx(sum(expected.values()), rel=1e-12)
    assert p.latency_ms == pytest.approx(p.latency_s * 1e3, rel=1e-12)
    assert p.batch == B
    assert p.throughput == pytest.approx(B / sum(expected.values()), rel=1e-12)
    assert p.dtype == (dtype or "fp32")  # as stored: the module's fp32 weights
    assert p.backend == "torch"  # PyTorch eager on a GPU: nothing fused
    assert p.clock_factor == 1.0
    assert p.device["key"] == "rtx4090" and p.device["class"] == "gpu-consumer"
    # The kernels, in graph order; the transposes of the weights and the detach are folded
    # into them (no rows of their own), and any view left would take no time.
    kernels = [l for l in p.layers if l["class"] != "view"]
    assert [l["class"] for l in kernels] == ["gemm", "elementwise", "gemm"]
    assert all(l["time_s"] == 0 and l["bound"] == "none" for l in p.layers
               if l["class"] == "view")
    for layer, key in zip(kernels, ("gemm0", "relu", "gemm1")):
        assert layer["time_s"] == pytest.approx(expected[key], rel=1e-12), key
        assert layer["share"] == pytest.approx(expected[key] / p.latency_s, rel=1e-12)
        assert layer["fused"] is False
    # The first Linear does 2·B·I·H / (size·(B·I + I·H + H + B·H)) ≈ 512/size FLOPs per byte,
    # above the ridge (82.6e12 / 1008e9 ≈ 82 at fp32, 164 at fp16): compute-bound. The ReLU
    # (1/(2·size)) and the narrow second Linear (≈ 8/size) are memory-bound.
    assert [l["bound"] for l in kernels] == ["compute", "memory", "memory"]
    assert kernels[0]["flops"] == 2 * B * I * H + B * H
    assert kernels[0]["bytes"] == (B * I + I * H + H + B * H) * size
    by_class = {c["class"]: c for c in p.by_class}
    assert by_class["gemm"]["layers"] == 2
    assert by_class["gemm"]["time_s"] == pytest.approx(expected["gemm0"] + expected["gemm1"])
    # 1 M weights and activations of a few MB fit 24 GiB.
    assert p.fits is True
    assert p.memory["device_bytes"] == 24 * 2**30
    assert p.memory["weight_bytes"] == (I * H + H + H * O + O) * size
    # No band in these parameters: the view and the text say it was never measured.
    assert p.error_band is None
    assert "not measured" in str(p)


def test_fits_at_the_exact_byte_boundary(tmp_path):
    params = write_params(tmp_path / "roofline.json")
    model = mlp()
    prof = flopscope.profile(model, input_shape=(B, I))
    # Weights at fp16: (I·H + H + H·O + O) × 2 bytes; the profile's peak of live activations,
    # halved from fp32.
    need = (I * H + H + H * O + O) * 2 + prof.peak_activation_bytes // 2

    def board(nbytes: int) -> Path:
        # Memory in GiB: nbytes / 2^30 is exact in binary floating point.
        f = tmp_path / f"board-{nbytes}.json"
        f.write_text(json.dumps({
            "schema": "flopscope.devices/1",
            "sources": {"lab": {"title": "our board", "publisher": "us", "url": "file:///lab"}},
            "devices": [{"key": "lab-board", "name": "Lab board", "class": "gpu-edge",
                         "peak_tflops": {"fp32": 1.0, "fp16": 2.0},
                         "memory_bandwidth_gbs": 100, "memory_gb": nbytes / 2**30,
                         "sources": {"peak_tflops": "lab", "memory_bandwidth_gbs": "lab",
                                     "memory_gb": "lab"}}]}))
        return f

    exact = flopscope.predict(prof, device=board(need), dtype="fp16", params=params)
    assert exact.memory["total_bytes"] == need and exact.fits is True
    short = flopscope.predict(prof, device=str(board(need - 1)), dtype="fp16", params=params)
    assert short.fits is False


def test_local_is_this_machines_calibration_from_the_cache(tmp_path, monkeypatch, capfd):
    # The cache holds a calibration of this CPU (as `flopscope calibrate --backend torch`
    # writes it, keyed by /proc/cpuinfo's model name): `local` uses it and runs nothing.
    info = Path("/proc/cpuinfo")
    names = [l.split(":", 1)[1].strip() for l in
             (info.read_text().splitlines() if info.exists() else [])
             if l.split(":", 1)[0].strip() == "model name"]
    if not names:
        pytest.skip("no CPU model name in /proc/cpuinfo")
    monkeypatch.setenv("FLOPSCOPE_CACHE_DIR", str(tmp_path))
    one = {"eff": 1.0, "half_gflop": 0.0, "mem_eff": 1.0}
    device = {
        "key": "local", "name": "This machine", "class": "cpu",
        "peak_tflops": {"fp32": 0.5}, "memory_bandwidth_gbs": 20, "memory_gb": 16,
        "units": {"cores": 2},
        "sources": {"peak_tflops": "lab", "memory_bandwidth_gbs": "lab", "memory_gb": "lab"},
        "calibration": {"backend": "torch", "threads": 2, "date": "2025-01-01",
                        "machine": names[0],
                        "efficiency": {"basis": "test", "overhead_us": 0.0,
                                       "ops": {c: one for c in CLASSES}}}}
    (tmp_path / "device-local-torch.json").write_text(json.dumps({
        "schema": "flopscope.devices/1",
        "sources": {"lab": {"title": "a test", "publisher": "us", "url": "file:///lab"}},
        "devices": [device]}))
    p = flopscope.predict(mlp(), input_shape=(B, I), device="local", backend="torch")
    assert p.device["key"] == "local" and p.device["profile"] == "calibrated"
    assert p.threads == 2  # the calibration's, on its 2 cores: the whole peak
    # 0.5 TFLOP/s for every layer (no fp16 here: fp32 as stored), 20 GB/s.
    expected = roofline_s(4, 0.5e12, 0.5e12, 20e9)
    assert p.latency_s == pytest.approx(sum(expected.values()), rel=1e-12)
    assert "calibrat" not in capfd.readouterr().err


def test_to_dict_and_text_are_the_clis(tmp_path):
    p = flopscope.predict("resnet18", dims={"batch": 8}, device="rtx4090", dtype="amp")
    out = cli("predict", "resnet18", "--dim", "batch=8", "--device", "rtx4090", "--dtype", "amp",
              "-f", "json")
    assert p.to_dict() == json.loads(out)
    assert p.to_json() == out
    assert p.to_dict()["schema"] == "flopscope.predict/1"
    assert p.batch == 8
    assert p.throughput == pytest.approx(8 / p.latency_s, rel=1e-12)
    text = cli("predict", "resnet18", "--dim", "batch=8", "--device", "rtx4090", "--dtype", "amp")
    assert str(p) == text
    assert repr(p) == text
    md = cli("predict", "resnet18", "--dim", "batch=8", "--device", "rtx4090", "--dtype", "amp",
             "-f", "markdown", "--top", "5")
    assert p.render("markdown", top=5) == md


def test_the_notebook_view_states_the_error_band(tmp_path):
    band = {"profile": "gpu", "dtype": "fp16", "median_pct": 12.0, "p90_pct": 30.0, "n": 40,
            "basis": "a <test> table"}
    params = write_params(tmp_path / "banded.json", [band])
    p = flopscope.predict(mlp(), input_shape=(B, I), device="rtx4090", dtype="fp16",
                          params=params, name="Mlp<2>")
    assert p.error_band == band
    html = p._repr_html_()
    # The phrase printed with every prediction, its names escaped.
    assert "±12% (median |error|; 90th percentile 30%, 40 models: a &lt;test&gt; table)" in html
    assert "Mlp&lt;2&gt;" in html and "<script" not in html
    assert "Time by kernel class" in html and "slowest layers" in html
    # One row per kernel class (gemm, elementwise), and the three kernels among the layers.
    assert html.count("<table") == 2
    assert html.count("<tr>") == (1 + 2) + (1 + 3)
    assert p.render("html") == html  # the default top, 15, is the view's


@pytest.mark.parametrize("kwargs,cls,needle", [
    ({"device": "rtx4909"}, flopscope.UsageError, "unknown device 'rtx4909'"),
    ({"device": "jetson-agx-orin:99W"}, flopscope.UsageError, "no power mode '99W'"),
    ({"device": "rtx4090", "dtype": "fp64"}, flopscope.UsageError, "unknown dtype 'fp64'"),
    ({"device": "rtx4090", "backend": "trt"}, flopscope.UsageError, "unknown backend 'trt'"),
    ({"device": "rtx4090", "threads": 0}, flopscope.UsageError, "threads must be ≥ 1"),
    ({"device": "rtx4090", "dtype": 16}, flopscope.UsageError, "dtype must be a name"),
    ({"device": "no/such/board.json"}, flopscope.ReadError, "no/such/board.json"),
    ({"device": "rtx4090", "params": "no/such/params.json"}, flopscope.ReadError,
     "no/such/params.json"),
    ({"device": "rtx4090", "devices": "no/such/devices.json"}, flopscope.ReadError,
     "no/such/devices.json"),
])
def test_bad_options_are_one_line_errors_before_any_profiling(kwargs, cls, needle):
    # The model does not exist either: the options are checked first.
    with pytest.raises(cls) as e:
        flopscope.predict("no/such/model.onnx", **kwargs)
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_a_missing_model_and_a_bad_format():
    with pytest.raises(flopscope.ModelNotFoundError):
        flopscope.predict("no/such/model.onnx", device="rtx4090")
    p = flopscope.predict("resnet18", device="rtx4090")
    with pytest.raises(flopscope.UsageError, match="unknown format 'pdf'"):
        p.render("pdf")
    with pytest.raises(flopscope.UsageError, match="a Profile is predicted at the shapes"):
        flopscope.predict(flopscope.profile("resnet18"), dims={"batch": 2}, device="rtx4090")
