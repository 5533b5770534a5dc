"""Every CLI option in Python (docs/python.md, "Every CLI flag and its keyword"): one test per
keyword, each checking the keyword's effect against a value worked out here (by hand from
the model's shapes or the documented formula), and against the CLI run with the flag when
the binary is built.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess

import pytest

import flopscope
from test_profile import ROOT, cli_binary, requires

RESNET18 = 11_689_512  # sum(p.numel()) of torchvision's resnet18 (reference.json)
RESNET18_FC = 512 * 1000 + 1000  # its classifier: 513,000 parameters


def cli_json(*args: str) -> dict:
    exe = cli_binary()
    if exe is None:
        pytest.skip("the flopscope binary is not built (cargo build, or set FLOPSCOPE_BIN)")
    out = subprocess.run([str(exe), *args, "-f", "json"], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def llama(path, d=256, layers=2, h=4, ff=512, v=1000) -> int:
    """A Llama checkpoint's headers (bf16 safetensors + config.json, data section sparse);
    returns its parameter count."""
    path.mkdir()
    t = [("model.embed_tokens.weight", [v, d])]
    for i in range(layers):
        p = f"model.layers.{i}"
        t += [(f"{p}.self_attn.{x}_proj.weight", [d, d]) for x in "qkvo"]
        t += [(f"{p}.mlp.gate_proj.weight", [ff, d]), (f"{p}.mlp.up_proj.weight", [ff, d]),
              (f"{p}.mlp.down_proj.weight", [d, ff]), (f"{p}.input_layernorm.weight", [d]),
              (f"{p}.post_attention_layernorm.weight", [d])]
    t += [("model.norm.weight", [d]), ("lm_head.weight", [v, d])]
    header, off = {}, 0
    for name, shape in t:
        n = math.prod(shape) * 2
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + n]}
        off += n
    h_bytes = json.dumps(header).encode()
    with open(path / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(h_bytes)) + h_bytes)
        f.truncate(8 + len(h_bytes) + off)
    (path / "config.json").write_text(json.dumps({
        "model_type": "llama", "hidden_size": d, "num_hidden_layers": layers,
        "num_attention_heads": h, "num_key_value_heads": h, "intermediate_size": ff,
        "vocab_size": v, "torch_dtype": "bfloat16", "tie_word_embeddings": False}))
    return sum(math.prod(s) for _, s in t)


# --- profile(training=True, gpus=, zero=, tokens=, peak_gflops=, mfu=) ----------------------

def test_gpus_and_zero_split_the_state_as_the_cli():
    p = flopscope.profile("resnet18", training=True, gpus=4, zero=3)
    m = p.training.memory
    # Adam fp32: 4 bytes of weight, 4 of gradient, 8 of moments per parameter; ZeRO-3 over 4
    # GPUs keeps a quarter of each (rounded up), docs/training.md.
    assert (m.weights_bytes, m.gradients_bytes, m.optimizer_bytes) == (
        math.ceil(4 * RESNET18 / 4), math.ceil(4 * RESNET18 / 4), math.ceil(8 * RESNET18 / 4))
    assert (p.training.gpus, p.training.zero_stage) == (4, 3)
    # Stage 1 shards the optimizer state only.
    m1 = flopscope.profile("resnet18", training=True, gpus=4, zero=1).training.memory
    assert (m1.weights_bytes, m1.optimizer_bytes) == (4 * RESNET18, 2 * RESNET18)
    assert p.to_dict()["training"] == cli_json(
        "profile", "resnet18", "--training", "--gpus", "4", "--zero", "3")["training"]


def test_gpus_alone_implies_training_as_its_flag_does():
    p = flopscope.profile("resnet18", gpus=2)
    assert p.training is not None and p.training.gpus == 2


def test_tokens_peak_gflops_and_mfu_give_the_training_time(tmp_path):
    n = llama(tmp_path / "llama")
    p = flopscope.profile(tmp_path / "llama", dims={"seq": 128}, training=True, gpus=8,
                          tokens="1B", peak_gflops=989_000, mfu=0.5)
    t = p.training
    assert t.trainable_params == n
    assert t.tokens_per_step == 128  # batch 1 × seq 128
    # 1e9 tokens × the step's FLOPs per token / (8 GPUs × 989 TFLOP/s × 0.5), training.md.
    want = 1e9 * (t.flops / 128) / (8 * 989_000e9 * 0.5)
    assert t.time["seconds"] == pytest.approx(want, rel=1e-12)
    assert (t.time["tokens"], t.time["gpus"], t.time["mfu"]) == (10**9, 8, 0.5)
    # An int is the same count as its text.
    q = flopscope.profile(tmp_path / "llama", dims={"seq": 128}, training=True, gpus=8,
                          tokens=10**9, peak_gflops=989_000, mfu=0.5)
    assert q.training.time == t.time
    assert p.to_dict()["training"] == cli_json(
        "profile", str(tmp_path / "llama"), "--dim", "seq=128", "--training", "--gpus", "8",
        "--tokens", "1B", "--peak-gflops", "989000", "--mfu", "0.5")["training"]


@pytest.mark.parametrize("kw, match", [
    ({"gpus": 0}, "gpus must be ≥ 1"),
    ({"zero": 4}, "ZeRO stage 0 to 3"),
    ({"tokens": "lots"}, "tokens expects a count"),
    ({"tokens": 0}, "tokens must be ≥ 1"),
    ({"mfu": 1.5}, r"mfu expects a fraction in \(0, 1\]"),
    ({"mfu": "high"}, "mfu must be a number"),
    ({"training": True, "peak_gflops": -1}, "peak_gflops must be a positive number"),
    ({"gpus": 2.5}, "gpus must be an integer"),
])
def test_bad_training_keywords_are_usage_errors(kw, match):
    with pytest.raises(flopscope.UsageError, match=match):
        flopscope.profile("resnet18", **kw)


# --- profile(roofline=, peak_gflops= + bandwidth_gbs=, machine=) ----------------------------

def test_a_device_spec_places_each_layer_under_its_roof():
    p = flopscope.profile("resnet18", peak_gflops=1000, bandwidth_gbs=100)
    r = p.roofline
    assert (r["source"], r["peak_gflops"], r["bandwidth_gbs"], r["ridge"]) == (
        "spec", 1000.0, 100.0, 10.0)
    conv1 = p.to_dict()["layers"][0]
    # resnet18's conv1: 236,027,904 FLOPs at 1 TFLOP/s is 0.236 ms; it moves 602,112 +
    # 37,632 bytes in and 3,211,264 out, 0.0385 ms at 100 GB/s: compute-bound, 0.236 ms.
    assert conv1["roofline"]["bound"] == "compute"
    assert conv1["roofline"]["min_ms"] == pytest.approx(236_027_904 / 1e12 * 1e3)
    assert p.to_dict() == cli_json("profile", "resnet18", "--peak-gflops", "1000",
                                   "--bandwidth-gbs", "100")


def test_a_machine_file_and_this_machine(tmp_path, monkeypatch):
    spec = tmp_path / "gpu.json"
    exe = cli_binary()
    if exe is None:
        pytest.skip("the flopscope binary is not built")
    out = subprocess.run([str(exe), "machine", "--peak-gflops", "2000", "--bandwidth-gbs", "50",
                          "-f", "json"], check=True, capture_output=True, text=True)
    spec.write_text(out.stdout)
    p = flopscope.profile("resnet18", machine=spec)
    assert (p.roofline["source"], p.roofline["peak_gflops"], p.roofline["ridge"]) == (
        "file", 2000.0, 40.0)
    # This machine: measured once into the cache, then read from it, as the CLI does.
    monkeypatch.setenv("FLOPSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    here = flopscope.profile("resnet18", roofline=True).roofline
    assert here["source"] == "measured" and here["peak_gflops"] > 0
    again = flopscope.profile("resnet18", roofline=True).roofline
    assert again["source"] == "cache"
    assert again["peak_gflops"] == pytest.approx(here["peak_gflops"], rel=1e-12)


@pytest.mark.parametrize("kw, match", [
    ({"bandwidth_gbs": 100}, "needs peak_gflops"),
    ({"peak_gflops": 1000}, "needs bandwidth_gbs"),
    ({"roofline": True, "peak_gflops": 1, "bandwidth_gbs": 1}, "not several"),
    ({"machine": "m.json", "peak_gflops": 1, "bandwidth_gbs": 1}, "not both"),
    ({"roofline": "yes"}, "roofline must be True or False"),
])
def test_bad_roof_keywords_are_usage_errors(kw, match):
    with pytest.raises(flopscope.UsageError, match=match):
        flopscope.profile("resnet18", **kw)


# --- predict(classes=) ------------------------------------------------------------------------

def test_predict_takes_classes():
    ten = flopscope.predict("resnet18", device="rtx4090", classes=10)
    # A 10-way head instead of 1,000: 512·10 + 10 parameters; the prediction profiles that.
    p = flopscope.profile("resnet18", classes=10)
    assert p.params == RESNET18 - RESNET18_FC + 512 * 10 + 10
    assert ten.to_dict() == flopscope.predict(p, device="rtx4090").to_dict()
    assert ten.to_dict() == cli_json("predict", "resnet18", "--device", "rtx4090",
                                     "--classes", "10")


# --- compare(dims=, input_shape=, classes=, device=, predict_backend=, dtype=, diff=, bench=) --

def test_compare_sizes_models_and_predicts_them():
    c = flopscope.compare(["resnet18", "mobilenet_v2"], classes=10, device="rtx4090",
                          dtype="fp16", predict_backend="torch.compile")
    e = c.to_dict()["entries"]
    assert e[0]["params"] == RESNET18 - RESNET18_FC + 5130
    for entry, name in zip(e, ["resnet18", "mobilenet_v2"]):
        alone = flopscope.predict(name, device="rtx4090", classes=10, dtype="fp16",
                                  backend="torch.compile")
        assert entry["predicted"]["latency_ms"] == alone.latency_ms
        assert entry["predicted"]["dtype"] == "fp16"
    assert c.to_dict() == cli_json("compare", "resnet18", "mobilenet_v2", "--classes", "10",
                                   "--device", "rtx4090", "--dtype", "fp16",
                                   "--predict-backend", "torch.compile")
    with pytest.raises(flopscope.UsageError, match="give device= too"):
        flopscope.compare(["resnet18"], dtype="fp16")


def test_compare_dims_and_input_shape():
    model = str(ROOT / "tests/data/models/resnet18.onnx")
    c = flopscope.compare([model], input_shape=(4, 3, 224, 224))
    # Four images: four times the batch-1 MACs (reference.json: 1,814,073,344).
    assert c.to_dict()["entries"][0]["macs"] == 4 * 1_814_073_344
    b = flopscope.compare(["bert-base"], dims={"batch": 2, "seq": 64})
    assert b.to_dict()["entries"][0]["macs"] == flopscope.profile(
        "bert-base", dims={"batch": 2, "seq": 64}).macs


def test_compare_diff_is_the_clis():
    c = flopscope.compare(["resnet18", "resnet34"], diff=True)
    d = json.loads(c.diff("json"))
    # resnet34 has 10,108,160 more parameters than resnet18 (21,797,672 − 11,689,512).
    assert d["params"] == [RESNET18, 21_797_672]
    assert d == cli_json("compare", "resnet18", "resnet34", "--diff")
    assert "resnet18" in c.diff("markdown")
    with pytest.raises(flopscope.UsageError, match="two versions"):
        flopscope.compare(["resnet18"], diff=True)
    with pytest.raises(flopscope.UsageError, match="without diff=True"):
        flopscope.compare(["resnet18", "resnet34"]).diff()


def test_compare_and_bench_time_model_files(tmp_path):
    requires("onnxruntime", "onnxruntime is not installed")
    onnx = requires("onnx", "onnx is not installed")
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    # y = x · W, W 64×64 stored in the file: a model ONNX Runtime can run.
    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 64])], [w])
    model = tmp_path / "mm.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), model)
    r = flopscope.bench(model, runs=5, warmup=1)
    run = r.runs[0]
    assert (run["backend"], run["threads"], len(run["samples_ms"])) == ("onnxruntime", 1, 5)
    c = flopscope.compare([model], bench=[r])
    entry = c.to_dict()["entries"][0]
    assert entry["latency_ms"] == run["latency_ms"]["median"]
    assert entry["macs"] == 8 * 64 * 64  # every output element is a 64-term dot product


# --- report(device=, dtype=, predict_backend=, chart=, bench=, training=, roofline=) ----------

def page_data(path) -> dict:
    html = path.read_text()
    start = html.index('id="flopscope-data">') + len('id="flopscope-data">')
    return json.loads(html[start:html.index("</script>", start)])


def test_report_takes_the_prediction_and_the_training_step(tmp_path):
    page = tmp_path / "r.html"
    p = flopscope.report("resnet18", page, device="rtx4090", dtype="amp", training=True,
                         gpus=2)
    d = page_data(page)
    assert d["prediction"]["latency_ms"] == flopscope.predict(
        "resnet18", device="rtx4090", dtype="amp").latency_ms
    assert d["profile"]["training"]["gpus"] == 2 == p.training.gpus
    with pytest.raises(flopscope.UsageError, match="give device= too"):
        flopscope.report("resnet18", tmp_path / "x.html", dtype="amp")


def test_report_charts_of_a_roof(tmp_path):
    svg = tmp_path / "roof.svg"
    flopscope.report("resnet18", svg, chart="roofline", peak_gflops=1000, bandwidth_gbs=100)
    assert svg.read_text().lstrip().startswith("<svg")
    with pytest.raises(flopscope.UsageError, match="needs a roof"):
        flopscope.report("resnet18", tmp_path / "r.svg", chart="roofline")
    with pytest.raises(flopscope.UsageError, match="needs bench="):
        flopscope.report("resnet18", tmp_path / "l.svg", chart="latency")


# --- attention= (--attention full|causal-half) ---------------------------------------------

def test_attention_causal_half_halves_a_causal_sdpa():
    torch = requires("torch", "torch is not installed")

    class Causal(torch.nn.Module):
        def forward(self, q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)

    q = torch.zeros(1, 4, 128, 64)
    # b=1, h=4, L=S=128, d=64: QKᵀ and AV are 2·b·h·L·S·d = 8,388,608 MACs, and FLOPs add
    # 6 per score (scale, softmax): 2·8,388,608 + 6·65,536 = 17,170,432.
    full = flopscope.profile(Causal(), (q, q, q))
    assert (full.macs, full.flops) == (8_388_608, 17_170_432)
    # The causal half, as FlashAttention's benchmark counts it (4·b·s²·h·d / 2 FLOPs = 2 × MACs).
    half = flopscope.profile(Causal(), (q, q, q), attention="causal-half")
    assert (half.macs, half.flops) == (8_388_608 // 2, 17_170_432 // 2)


def test_attention_causal_half_on_a_hugging_face_causal_lm():
    torch = requires("torch", "torch is not installed")
    tr = requires("transformers", "transformers is not installed")
    cfg = tr.LlamaConfig(num_hidden_layers=2, hidden_size=128, num_attention_heads=8,
                         num_key_value_heads=2, intermediate_size=256, vocab_size=100)
    with torch.device("meta"):
        model = tr.LlamaForCausalLM(cfg)
    ids = dict(input_ids=torch.zeros(1, 16, dtype=torch.long))
    full = flopscope.profile(model, ids)
    half = flopscope.profile(model, ids, attention="causal-half")
    # Without an attention mask transformers calls SDPA with is_causal=True. Per layer
    # b·h·L·L·(dk + dv) = 1·8·16·16·(16 + 16) = 65,536 MACs, × 2 layers = 131,072; half of it
    # is taken off and nothing else changes.
    attention = [(a.macs, b.macs) for a, b in zip(full.layers, half.layers) if a.op == "Attention"]
    assert attention == [(65_536, 32_768)] * 2
    assert full.macs - half.macs == 65_536


def test_attention_causal_half_on_a_checkpoint_prefill(tmp_path):
    llama(tmp_path / "ck")  # d 256, 2 layers, 4 heads of 64, f 512, V 1000
    ck = str(tmp_path / "ck")
    full = flopscope.profile(ck, dims={"seq": 2048})
    half = flopscope.profile(ck, dims={"seq": 2048}, attention="causal-half")
    # Prefill QKᵀ and AV: layers·L·2·h·hd·L = 2·2048·2·4·64·2048 = 4,294,967,296 MACs, half
    # of them 2,147,483,648; the rest of the prefill is the same.
    assert full.macs - half.macs == 2_147_483_648
    assert half.to_dict()["llm"]["prefill_attention_macs"] == 2_147_483_648
    assert half.macs == cli_json("profile", ck, "--dim", "seq=2048", "--attention",
                                 "causal-half")["totals"]["macs"]
    # A checkpoint's training step halves the backward too: twice the forward's saving.
    t = flopscope.profile(ck, dims={"seq": 2048}, attention="causal-half", training=True).training
    t_full = flopscope.profile(ck, dims={"seq": 2048}, training=True).training
    assert t.forward_macs == half.macs
    assert t_full.backward_macs - t.backward_macs == 2 * 2_147_483_648
    c = flopscope.compare([ck], dims={"seq": 2048}, attention="causal-half")
    assert c.to_dict()["entries"][0]["macs"] == half.macs
    pred = flopscope.predict(ck, dims={"seq": 2048}, device="h100-sxm", attention="causal-half")
    assert pred.to_dict() == flopscope.predict(half, device="h100-sxm").to_dict()


@pytest.mark.parametrize("kw, match", [
    (dict(attention="half"), "causal-half"),
    (dict(attention=True), "attention"),
    (dict(attention="causal-half", training=True), "training"),
])
def test_bad_attention_keywords_are_usage_errors(kw, match):
    with pytest.raises(flopscope.UsageError, match=match):
        flopscope.profile("resnet18", **kw)
