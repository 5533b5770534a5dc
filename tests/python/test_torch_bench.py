"""`flopscope.bench`, `compare` and `report` from Python. No timing is asserted (timings
belong in bench/torch_timer.py); what is checked is that the statistics are those of the
samples, the stopping rule's counts, the deployed graph's outputs, and the files written."""

from __future__ import annotations

import statistics

import pytest

import flopscope
from flopscope import _flopscope
from test_profile import requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")
nn = torch.nn
# Whether the installed wheel has the tract backend (a cargo feature, off by default).
HAS_TRACT = _flopscope.HAS_TRACT


def tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 4)).eval()


def test_bench_statistics_are_those_of_its_samples():
    r = flopscope.bench(tiny(), input_shape=(1, 3, 16, 16), runs=25, warmup=2)
    doc = r.to_dict()
    assert doc["schema"] == "flopscope.bench/1"
    (run,) = doc["runs"]
    assert run["backend"] == "torch" and run["batch"] == 1
    samples = run["samples_ms"]
    assert run["runs"] == len(samples) == 25  # runs= stops exactly there
    lat = run["latency_ms"]
    assert lat["median"] == pytest.approx(statistics.median(samples))
    assert lat["min"] == min(samples) and lat["max"] == max(samples)
    assert lat["mean"] == pytest.approx(statistics.fmean(samples))
    assert lat["stddev"] == pytest.approx(statistics.stdev(samples))
    assert run["fps"] == pytest.approx(1e3 / lat["median"])
    assert "torch" in str(r) and "Median" in str(r)
    assert len(r.to_pandas()) == 1
    view = r._repr_html_()  # statistics and a histogram of the 25 runs, no script
    assert "<svg" in view and "25 runs" in view and "<script" not in view
    assert f"{lat['median']:.3f}" in view


def test_bench_batch_sizes_and_threads():
    r = flopscope.bench(tiny(), torch.randn(1, 3, 16, 16), batch_sizes=[1, 4], runs=10,
                        warmup=1, threads=1)
    assert [(x["batch"], x["threads"]) for x in r.runs] == [(1, 1), (4, 1)]
    assert torch.get_num_threads() >= 1


def test_bench_the_exported_graph_computes_the_same_thing():
    requires("onnxscript", "onnxscript is not installed (torch.onnx.export needs it)")
    requires("onnxruntime", "onnxruntime is not installed")
    # tract only in a wheel built with it (`--features tract`); the default wheel refuses it,
    # which the next test checks.
    exported = ("onnxruntime", "tract") if HAS_TRACT else ("onnxruntime",)
    r = flopscope.bench(tiny(), input_shape=(1, 3, 16, 16), backends=("torch", *exported),
                        runs=10, warmup=1)
    assert [x["backend"] for x in r.runs] == ["torch", *exported]
    assert set(r.max_abs_diff) == {f"{b} b1" for b in exported}
    assert all(d < 1e-4 for d in r.max_abs_diff.values()), r.max_abs_diff


def test_bench_without_tract_says_how_to_get_it():
    if HAS_TRACT:
        pytest.skip("this wheel was built with tract: the test above runs it")
    # Refused before the module is exported, with the build flag that adds tract…
    with pytest.raises(flopscope.UsageError, match=r'build-args="--features tract"'):
        flopscope.bench(tiny(), input_shape=(1, 3, 8, 8), backends=("torch", "tract"))
    # …and by the Rust runtime itself, when a caller reaches it directly (a built-in model:
    # written with random weights, then handed to the runtime, which refuses to load it).
    with pytest.raises(flopscope.UsageError, match="cargo feature `tract`"):
        _flopscope.bench_file("squeezenet1_1", ["tract"], 1, 0, runs=1)


def test_bench_torch_compile_computes_the_same_thing():
    m = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).eval()
    r = flopscope.bench(m, input_shape=(2, 16), backends=("torch", "torch.compile"), runs=5,
                        warmup=1)
    assert [x["backend"] for x in r.runs] == ["torch", "torch.compile"]
    assert r.max_abs_diff["torch.compile b2"] < 1e-5
    # The first call compiles: the cold time is where the compilation shows.
    assert r.runs[1]["cold_ms"] > r.runs[1]["latency_ms"]["median"]


def test_bench_refuses_what_it_cannot_do():
    with pytest.raises(flopscope.UsageError, match="unknown backend"):
        flopscope.bench(tiny(), input_shape=(1, 3, 8, 8), backends=("tensorrt",))
    # A path is a model file timed as `flopscope bench FILE` does; a built-in name is not one.
    with pytest.raises(flopscope.UsageError, match="bench\\(path\\) times a model file"):
        flopscope.bench("resnet18")
    with pytest.raises(flopscope.UsageError, match="torch.nn.Module or a model file"):
        flopscope.bench(3)
    with torch.device("meta"):
        m = nn.Linear(4, 4)
    with pytest.raises(flopscope.UsageError, match="meta"):
        flopscope.bench(m, input_shape=(1, 4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_bench_on_cuda_uses_events():
    m = tiny().cuda()
    r = flopscope.bench(m, input_shape=(1, 3, 16, 16), runs=20, warmup=3, flush_l2=True)
    assert r.device == torch.cuda.get_device_name()
    assert r.runs[0]["runs"] == 20 and all(t > 0 for t in r.runs[0]["samples_ms"])


def test_compare_and_report_write_what_the_cli_writes(tmp_path):
    a = flopscope.profile(tiny(), torch.randn(1, 3, 16, 16))
    b = flopscope.profile("resnet18")
    c = flopscope.compare([a, b], names=["tiny", "resnet18"])
    entries = c.to_dict()["entries"]
    assert [(e["name"], e["params"]) for e in entries] == [("tiny", a.params),
                                                           ("resnet18", 11_689_512)]
    assert "tiny" in str(c) and "resnet18" in c.render("markdown")
    for ext in ("html", "svg", "md", "csv", "json"):
        c.save(tmp_path / f"cmp.{ext}")
        assert (tmp_path / f"cmp.{ext}").stat().st_size > 0
    with pytest.raises(flopscope.UsageError):
        c.save(tmp_path / "cmp.docx")

    r = flopscope.bench(tiny(), input_shape=(1, 3, 16, 16), runs=10, warmup=1)
    p = flopscope.report(tiny(), tmp_path / "report.html", torch.randn(1, 3, 16, 16), bench=r)
    assert p.params == a.params
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Sequential" in page
    flopscope.report(p, tmp_path / "layers.svg")
    assert (tmp_path / "layers.svg").read_text().lstrip().startswith("<svg")
