"""How well does `flopscope predict --device local` (this machine, calibrated) predict
measured latency? The "This machine, calibrated" table of docs/predict.md.

For each model (the built-in zoo's smaller members and the test exports in tests/data, none of
which the calibration's micro-benchmarks use) at batch 1 and 8:
  * measured  = `flopscope bench MODEL --backend onnxruntime --threads T -f json`: its median,
                and its fastest run (what `calibrate` fits: on a busy machine the median of a
                long run includes other processes' time slices);
  * predicted = `flopscope predict MODEL --device local --threads T -f json`, latency_ms;
  * error     = predicted / measured - 1.
Batch 8 is measured only where the model has a symbolic `batch` dim (`--dim batch=8` binds it);
fixed-batch exports are listed as skipped. Prints the table with the median and worst |error|
and writes it to bench/results/predict_local.md (and .json, every number).

Run from the repository root after `cargo build --release` and `flopscope calibrate`
(predict runs it once when the cache has none):
  python3 bench/predict_local.py [--threads 1] [--time 2s] [--only NAME,...]
"""
import argparse, json, os, statistics, subprocess, sys, time

EXE = os.environ.get("FLOPSCOPE", os.path.join("target", "release", "flopscope"))
ZOO = ["resnet18", "resnet50", "squeezenet1_1", "mobilenet_v2", "mobilenet_v3_small",
       "mobilenet_v3_large", "efficientnet_b0", "densenet121", "alexnet", "convnext_tiny"]
EXPORTS = ["tests/data/extra/" + f for f in [
    "albert-tiny.onnx", "bart-tiny.onnx", "clip-vision-tiny.onnx", "distilbert-tiny.onnx",
    "gpt2-tiny.onnx", "googlenet.onnx", "mnasnet0_5.onnx", "mobilevit-tiny.onnx",
    "qwen2-tiny.onnx", "regnet_y_400mf.onnx", "segformer-tiny.onnx", "shufflenet_v2_x1_0.onnx",
    "t5-encoder-tiny.onnx", "vit-tiny-hf.onnx", "whisper-encoder-tiny.onnx",
    "wav2vec2-tiny.onnx", "lraspp_mobilenet_v3_large.onnx", "unet_mini.onnx",
    "swin_t.onnx", "resnext50_32x4d.onnx"]] + ["tests/data/models/bert-base.onnx"]


def flopscope(*args):
    out = subprocess.run([EXE, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else
                           f"exit {out.returncode}")
    return json.loads(out.stdout)


def has_batch(model):
    """Whether the model's inputs declare a `batch` dim (`--dim batch=N` then binds it)."""
    p = flopscope("profile", model, "-f", "json")
    return any("batch" in (d or "") for i in p["inputs"] for d in i.get("declared", []))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--time", default="2s", help="timed runs per measurement (bench --time)")
    ap.add_argument("--only", default="", help="comma-separated subset of the models")
    a = ap.parse_args()
    models = ZOO + EXPORTS
    if a.only:
        want = a.only.split(",")
        models = [m for m in models if any(w in m for w in want)]
    rows, skipped = [], []
    t0 = time.time()
    for m in models:
        name = os.path.basename(m).removesuffix(".onnx")
        try:
            batched = has_batch(m)
        except RuntimeError as e:
            skipped.append((name, "all", str(e)))
            continue
        for b in (1, 8):
            if b == 8 and not batched:
                skipped.append((name, 8, "fixed batch"))
                continue
            dims = ["--dim", f"batch={b}"] if batched else []
            try:
                bench = flopscope("bench", m, *dims, "--backend", "onnxruntime", "--threads",
                                  str(a.threads), "--time", a.time, "--warmup", "3", "-q",
                                  "-f", "json")
                pred = flopscope("predict", m, *dims, "--device", "local", "--threads",
                                 str(a.threads), "-f", "json")
            except RuntimeError as e:
                skipped.append((name, b, str(e)))
                continue
            lat = bench["runs"][0]["latency_ms"]
            measured, fastest = lat["median"], lat["min"]
            predicted = pred["latency_ms"]
            by_class = {c["class"]: round(c["time_ms"], 4) for c in pred.get("by_class", [])}
            rows.append({"model": name, "batch": b, "measured_ms": measured,
                         "fastest_ms": fastest, "predicted_ms": predicted,
                         "error_pct": (predicted / measured - 1) * 100,
                         "error_fastest_pct": (predicted / fastest - 1) * 100,
                         "predicted_by_class_ms": by_class})
            print(f"{name:28} b{b}  median {measured:9.3f} ms  fastest {fastest:9.3f} ms  "
                  f"predicted {predicted:9.3f} ms  {rows[-1]['error_pct']:+6.1f}% "
                  f"{rows[-1]['error_fastest_pct']:+6.1f}%", flush=True)
    if not rows:
        sys.exit("no model could be measured")
    def summarize(key, what):
        errs = [abs(r[key]) for r in rows]
        worst = max(rows, key=lambda r: abs(r[key]))
        return (f"Against the {what}: {len(rows)} measurements of "
                f"{len({r['model'] for r in rows})} models, median |error| "
                f"{statistics.median(errs):.1f}%, 90th percentile "
                f"{sorted(errs)[int(0.9 * (len(errs) - 1))]:.1f}%, worst {abs(worst[key]):.1f}% "
                f"({worst['model']} b{worst['batch']}); within 30%: "
                f"{sum(e <= 30 for e in errs)}/{len(errs)}.")

    summary = (summarize("error_pct", "median (flopscope bench)") + "\n\n" +
               summarize("error_fastest_pct", "fastest run (what calibrate fits)"))
    print(summary)
    os.makedirs("bench/results", exist_ok=True)
    lines = ["# flopscope predict --device local vs flopscope bench (ONNX Runtime)", "",
             f"Threads: {a.threads}. Regenerate: `python3 bench/predict_local.py --threads "
             f"{a.threads}` ({time.time() - t0:.0f} s).", "",
             f"Load average when it started: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.", "",
             "| model | batch | median ms | fastest ms | predicted ms | error vs median | "
             "error vs fastest |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['batch']} | {r['measured_ms']:.3f} | "
                     f"{r['fastest_ms']:.3f} | {r['predicted_ms']:.3f} | "
                     f"{r['error_pct']:+.1f}% | {r['error_fastest_pct']:+.1f}% |")
    lines += ["", summary, ""]
    if skipped:
        lines += ["Skipped:", ""] + [f"- {n} batch {b}: {why}" for n, b, why in skipped] + [""]
    with open("bench/results/predict_local.md", "w") as f:
        f.write("\n".join(lines))
    with open("bench/results/predict_local.json", "w") as f:
        json.dump({"threads": a.threads, "rows": rows, "skipped": skipped}, f, indent=1)


if __name__ == "__main__":
    main()
