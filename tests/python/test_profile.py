"""Tests of the Python package `flopscope` (build it first: `python3 -m pip install .`).

Expected numbers are independent of flopscope: they are copied from
tests/data/models/reference.json (parameters counted from the ONNX initializers, MACs from the
shapes ONNX Runtime executed) or are torchvision's published parameter counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import flopscope

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "data" / "models"

# From tests/data/models/reference.json: "onnx_params" and "truth_macs" of each model.
RESNET18_PARAMS = 11_680_872
RESNET18_MACS = 1_814_073_344
MOBILENET_V2_PARAMS = 3_475_008
MOBILENET_V2_MACS = 300_774_272
BERT_BASE_PARAMS = 108_774_912
BERT_BASE_MACS_SEQ128 = 11_173_625_856  # reference.json "inputs": [[1, 128]]
# torchvision's published parameter count of ResNet-18 (also reference.json "torch_params").
TORCHVISION_RESNET18_PARAMS = 11_689_512


def rel(name: str) -> str:
    """A model path relative to the repository root, as the CLI is given it."""
    return os.path.join("tests", "data", "models", name)


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def requires(module: str, why: str):
    """Imports `module`, or skips visibly; with FLOPSCOPE_ALL_TESTS set (.ci/run sets it) a
    missing module fails the test instead, as for the Rust end-to-end tests."""
    if os.environ.get("FLOPSCOPE_ALL_TESTS"):
        return __import__(module)
    return pytest.importorskip(module, reason=why)


def cli_binary() -> Path | None:
    env = os.environ.get("FLOPSCOPE_BIN")
    if env:
        return Path(env)
    for profile in ("debug", "release"):
        p = ROOT / "target" / profile / "flopscope"
        if p.exists():
            return p
    return None


class FakeModelProto:
    """Stands for onnx.ModelProto: flopscope only calls SerializeToString()."""

    def __init__(self, data: bytes):
        self.data = data

    def SerializeToString(self) -> bytes:  # noqa: N802 (protobuf's name)
        return self.data


def test_import_needs_neither_torch_nor_numpy():
    code = (
        "import sys, flopscope; "
        "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "name,params,macs",
    [
        ("resnet18.onnx", RESNET18_PARAMS, RESNET18_MACS),
        ("mobilenet_v2.onnx", MOBILENET_V2_PARAMS, MOBILENET_V2_MACS),
    ],
)
def test_reference_counts(name, params, macs):
    p = flopscope.profile(rel(name))
    assert p.params == params
    assert p.macs == macs
    assert p.flops >= 2 * macs
    assert p.param_bytes == 4 * params  # float32
    assert p.activation_bytes > p.peak_activation_bytes > 0
    assert sum(l.params for l in p.layers) == params
    assert sum(l.macs for l in p.layers) == macs
    assert sum(r.macs for r in p.by_op_type()) == macs
    assert p.unsupported == []


def test_path_bytes_and_model_proto_agree():
    path = rel("resnet18.onnx")
    data = (ROOT / path).read_bytes()
    a = flopscope.profile(path).to_dict()
    b = flopscope.profile(data, name=path).to_dict()
    c = flopscope.profile(FakeModelProto(data), name=path).to_dict()
    d = flopscope.profile(Path(path)).to_dict()
    e = flopscope.profile(memoryview(bytearray(data)), name=path).to_dict()
    assert a == b == c == d == e
    assert a["totals"]["macs"] == RESNET18_MACS
    assert flopscope.profile(data).source == "<bytes>"
    assert flopscope.profile(FakeModelProto(data)).source == "<FakeModelProto>"


@pytest.mark.parametrize(
    "name,dims",
    [("resnet18.onnx", None), ("bert-base.onnx", {"batch": 1, "seq": 128})],
)
def test_to_dict_is_the_cli_json(name, dims):
    binary = cli_binary()
    if binary is None:
        if os.environ.get("FLOPSCOPE_ALL_TESTS"):
            pytest.fail("no flopscope binary in target/ (cargo test --workspace builds it)")
        pytest.skip("no flopscope binary in target/ (cargo build -p flopscope-cli)")
    args = [str(binary), "profile", rel(name), "-f", "json"]
    for k, v in (dims or {}).items():
        args += ["--dim", f"{k}={v}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    p = flopscope.profile(rel(name), dims=dims)
    assert p.to_dict() == json.loads(out)
    assert p.render("json") == out
    table = subprocess.run(
        [str(binary), "profile", rel(name), *args[5:]],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    assert str(p) == table


def test_builtin_name():
    p = flopscope.profile("resnet18")
    assert p.params == TORCHVISION_RESNET18_PARAMS
    assert p.macs == RESNET18_MACS
    assert p.source == "resnet18"
    assert "resnet18" in flopscope.zoo()
    assert repr(p) == "<flopscope.Profile resnet18: 11.7M params, 1.81G MACs, 3.64G FLOPs>"


def test_dims_and_formulas():
    p = flopscope.profile(rel("bert-base.onnx"), dims={"batch": 1, "seq": 128})
    assert p.params == BERT_BASE_PARAMS
    assert p.macs == BERT_BASE_MACS_SEQ128
    assert p.dims == {"batch": 1, "seq": 128}
    assert p.formulas is None  # every dim bound
    q = flopscope.profile(rel("bert-base.onnx"), dims={"seq": 128})
    assert q.formulas is not None and q.formulas.symbols == ("batch",)
    assert any("batch" in w for w in q.warnings)


def test_input_shape():
    # The same graph at 2 images: every MAC of ResNet-18 scales with the batch.
    p = flopscope.profile(rel("resnet18.onnx"), input_shape=(2, 3, 224, 224))
    assert p.macs == 2 * RESNET18_MACS
    q = flopscope.profile("resnet18", input_shape={"input": (2, 3, 224, 224)})
    assert q.macs == 2 * RESNET18_MACS


def test_by_module_rolls_up():
    p = flopscope.profile(rel("resnet18.onnx"))
    mods = p.by_module(1)
    assert sum(m.params for m in mods) == RESNET18_PARAMS
    assert sum(m.macs for m in mods) == RESNET18_MACS
    assert sum(m.nodes for m in mods) == len(p.layers)
    layer1 = next(m for m in mods if m.name == "/layer1")
    assert layer1.nodes > 1
    assert len(p.by_module(2)) > len(mods)
    with pytest.raises(flopscope.UsageError):
        p.by_module(0)


def test_truncated_file_is_a_model_error(tmp_path):
    data = (MODELS / "resnet18.onnx").read_bytes()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(flopscope.ModelError) as e:
        flopscope.profile(str(bad))
    assert "truncated.onnx" in str(e.value)
    assert isinstance(e.value, ValueError) and isinstance(e.value, flopscope.FlopscopeError)
    with pytest.raises(flopscope.ModelError, match="half"):
        flopscope.profile(data[: len(data) // 2], name="half")


def test_missing_file_is_a_file_not_found_error(tmp_path):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(FileNotFoundError) as e:
        flopscope.profile(missing)
    assert isinstance(e.value, flopscope.ReadError)
    assert str(e.value).startswith(f"cannot read {missing}")
    assert e.value.filename == str(missing)
    with pytest.raises(flopscope.ModelNotFoundError, match="no built-in model"):
        flopscope.profile("resnet1000")


def test_bad_arguments_are_usage_errors():
    with pytest.raises(flopscope.UsageError, match="did you mean 'seq'"):
        flopscope.profile(rel("bert-base.onnx"), dims={"sq": 128})
    with pytest.raises(flopscope.UsageError):
        flopscope.profile("resnet18", dims={"batch": 0})
    with pytest.raises(ValueError):
        flopscope.profile("resnet18", dims={"batch": "one"})
    with pytest.raises(flopscope.UsageError):
        flopscope.profile("resnet18", input_shape="1x3x224x224")
    with pytest.raises(flopscope.UsageError):
        flopscope.profile(3.5)
    with pytest.raises(flopscope.UsageError):
        flopscope.profile("resnet18", inputs=[1])


def test_error_classes_extend_the_builtin_a_caller_already_catches():
    builtin = {
        "ModelError": ValueError,
        "UnsupportedError": flopscope.ModelError,
        "ShapeError": flopscope.ModelError,
        "UsageError": ValueError,
        "ReadError": OSError,
        "ModelNotFoundError": FileNotFoundError,
        "WriteError": OSError,
        "BackendError": RuntimeError,
        "ResourcesError": MemoryError,
        "RenderError": RuntimeError,
    }
    for name, base in builtin.items():
        cls = getattr(flopscope, name)
        assert issubclass(cls, flopscope.FlopscopeError), name
        assert issubclass(cls, base), name
    assert issubclass(flopscope.FlopscopeError, Exception)


def test_repr_html():
    p = flopscope.profile(rel("resnet18.onnx"))
    h = p._repr_html_()
    for card in ("Parameters", "MACs", "FLOPs", "Weights", "Peak activations"):
        assert card in h
    assert "<svg" in h and "<table" in h
    assert "<script" not in h and "http://" not in h.replace("http://www.w3.org/2000/svg", "")
    assert "11.7M" in h and "1.81G" in h


def test_repr_html_escapes_names(tmp_path):
    onnx = requires("onnx", "onnx builds the model with a hostile name")
    TensorProto, helper = onnx.TensorProto, onnx.helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3], [0.0] * 12)
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="<b>evil</b>&co")
    graph = helper.make_graph([node], "g", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    p = flopscope.profile(model, name="<model>")
    assert p.macs == 12 and p.params == 12
    h = p._repr_html_()
    assert "<b>" not in h and "&lt;b&gt;evil&lt;/b&gt;&amp;co" in h
    assert "&lt;model&gt;" in h


def test_save_writes_each_format(tmp_path):
    p = flopscope.profile(rel("resnet18.onnx"))
    for ext, check in [
        (".json", lambda t: json.loads(t) == p.to_dict()),
        (".csv", lambda t: t.splitlines()[0].count(",") > 3),
        (".md", lambda t: t.count("|") > 20),
        (".html", lambda t: t.lstrip().lower().startswith("<!doctype html")),
        (".txt", lambda t: t == str(p)),
    ]:
        out = tmp_path / f"p{ext}"
        p.save(out)
        assert check(out.read_text(encoding="utf-8")), ext
    p.save(tmp_path / "top.md", depth=1, top=3)
    assert (tmp_path / "top.md").read_text() == p.render("markdown", depth=1, top=3)
    with pytest.raises(ValueError, match="extension"):
        p.save(tmp_path / "p.xlsx")
    with pytest.raises(flopscope.WriteError):
        p.save(tmp_path / "no" / "such" / "dir.json")


def test_to_pandas():
    pd = requires("pandas", "to_pandas needs pandas")
    p = flopscope.profile(rel("resnet18.onnx"))
    df = p.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert len(df) == len(p.layers)
    assert int(df["params"].sum()) == RESNET18_PARAMS


def test_profiles_concurrently_without_the_gil():
    results = []

    def work():
        results.append(flopscope.profile(rel("bert-base.onnx"), dims={"batch": 1, "seq": 128}).macs)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [BERT_BASE_MACS_SEQ128] * 4
