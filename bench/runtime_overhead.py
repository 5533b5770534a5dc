"""Does flopscope's harness add anything? flopscope bench vs ONNX Runtime's own Python API.

For resnet18, mobilenet_v2 and bert-base (tests/data/models, weights synthesized once with
`flopscope export --weights random` so both tools run the same file), batch 1, 2 intra-op
threads, all graph optimizations: measures the median latency with
  * ONNX Runtime's Python API (run_with_iobinding in a loop after warm-up: inputs and outputs
    bound once, so Python's own per-call overhead stays out), and
  * `flopscope bench FILE --backend onnxruntime --threads 2` (same library, through `ort`),
alternating the two several times so drift affects both, and prints the table with tract's
figure beside it. The claim checked: flopscope's median within 3% of Python's (the harness
adds nothing).

Run from the repository root after `cargo build --release`:
  python3 bench/runtime_overhead.py [--runs 200] [--rounds 3]
Needs numpy and onnxruntime (scripts/requirements-test.txt). Exits non-zero if a claim fails.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

import numpy as np
import onnxruntime as ort

EXE = os.path.join("target", "release", "flopscope")
MODELS = [("resnet18", []), ("mobilenet_v2", []), ("bert-base", ["--dim", "seq=128"])]


def python_median(path, feeds, threads, runs):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    # IOBinding: inputs bound once as OrtValues, so the loop times ONNX Runtime itself rather
    # than Python's numpy conversions.
    binding = sess.io_binding()
    for name, arr in feeds.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(arr))
    # Outputs preallocated once too: the loop then holds nothing but ONNX Runtime's run.
    for o, v in zip(sess.get_outputs(), sess.run(None, feeds)):
        binding.bind_ortvalue_output(o.name, ort.OrtValue.ortvalue_from_numpy(np.empty_like(v)))
    for _ in range(10):
        sess.run_with_iobinding(binding)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run_with_iobinding(binding)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def flopscope_median(path, args, backend, threads, runs):
    out = subprocess.run([EXE, "bench", path, "--backend", backend, "--threads", str(threads),
                          "--runs", str(runs), "--warmup", "10", "-f", "json", "-q", *args],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)["runs"][0]
    return r["latency_ms"]["median"], f'{r["backend"]} {r["backend_version"]}'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="flopscope-overhead-")
    rows, ok = [], True
    for name, args in MODELS:
        src = os.path.join("tests", "data", "models", f"{name}.onnx")
        path = os.path.join(tmp, f"{name}.onnx")
        subprocess.run([EXE, "export", src, "-o", path, "--weights", "random"], check=True)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        feeds = {}
        for i in sess.get_inputs():
            shape = [d if isinstance(d, int) else (128 if "seq" in str(d) else 1) for d in i.shape]
            feeds[i.name] = (rng.integers(0, 1000, size=shape, dtype=np.int64) if "int64" in i.type
                             else rng.uniform(-1, 1, size=shape).astype(np.float32))
        py, fs = [], []
        for _ in range(a.rounds):
            py.append(python_median(path, feeds, a.threads, a.runs))
            m, label = flopscope_median(path, args, "onnxruntime", a.threads, a.runs)
            fs.append(m)
        tract, _ = flopscope_median(path, args, "tract", 1, max(20, a.runs // 10))
        p, f = statistics.median(py), statistics.median(fs)
        diff = (f - p) / p * 100
        ok &= abs(diff) <= 3.0
        rows.append(f"| {name} | {p:.2f} | {f:.2f} | {diff:+.1f}% | {tract:.2f} |")
    print(f"ONNX Runtime {ort.__version__} ({label}), batch 1, {a.threads} intra-op threads, "
          f"median of {a.rounds} rounds × {a.runs} runs each; tract single-threaded\n")
    print("| model | onnxruntime Python (ms) | flopscope bench, onnxruntime (ms) | difference | flopscope bench, tract (ms) |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\n{'PASS' if ok else 'FAIL'}: flopscope's median within 3% of ONNX Runtime's Python API on every model")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
