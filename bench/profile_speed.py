"""Benchmark: how fast `flopscope profile` is, and how its memory scales with weights.

Checks the claim: "`flopscope profile` of any shared model finishes in under
50 ms as a whole process on this machine, and at least 50x faster than
onnx-tool takes in-process on the same file with its weights embedded,
measured in the same run. Peak memory does not grow with the size of the
weights (a model with 500 MB of embedded weights analyses as fast as its
graph-only twin, under 100 MB resident)."

What it measures:
  * flopscope: whole-process wall time of `flopscope profile FILE --format json
    -o /dev/null` (3 warm-up runs, then --runs timed runs; median and min), and
    the child's peak RSS (ru_maxrss from os.wait4), on the six graph-only
    exports in tests/data/models and on weight-embedded twins of them
    (seeded random float32 weights), plus a synthetic ~512 MiB MLP (8 Gemm
    4096x4096) in embedded and graph-only form.
  * flopscope in-process: `flopscope::profile_path` timed inside one process
    (`cargo bench -p flopscope-core --bench profile_files`), the like-for-like
    comparison with onnx-tool's in-process time.
  * onnx-tool: load + shape_infer + profile, in this Python process, on the
    embedded files (median of max(3, runs//5) runs).
Generated models go to --out (default target/bench-models, git-ignored) and are
cached. Timings use a warm page cache; they are machine-dependent and are NOT
asserted in unit tests -- this script is the place they are checked.

Run from the repository root:
  pip install -r bench/requirements.txt   # onnx, onnx-tool, numpy
  python3 bench/profile_speed.py [target/release/flopscope] [--runs 20] [--out DIR]
Exits non-zero if a claim fails.
"""
import argparse, glob, importlib.metadata, json, os, platform, shutil, statistics, subprocess, sys, time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MODELS_DIR = os.path.join("tests", "data", "models")
TOKEN_MODELS = {"bert-base", "llama-mini"}
LIMIT_MS, MIN_SPEEDUP, MLP_RATIO, MLP_RSS_MB = 50.0, 50.0, 1.5, 100.0


def embed_twin(src, dst):
    """Copy of a graph-only export with every EXTERNAL initializer embedded."""
    if os.path.exists(dst) and os.path.getmtime(dst) > os.path.getmtime(src):
        return
    rng = np.random.default_rng(0)
    m = onnx.load(src, load_external_data=False)
    for t in m.graph.initializer:
        if t.data_location != TensorProto.EXTERNAL:
            continue
        dtype = helper.tensor_dtype_to_np_dtype(t.data_type)
        if np.issubdtype(dtype, np.floating):
            arr = (rng.standard_normal(tuple(t.dims), dtype=np.float32) * 0.02).astype(dtype)
        else:
            arr = np.zeros(tuple(t.dims), dtype=dtype)
        t.CopyFrom(numpy_helper.from_array(arr, t.name))  # clears external_data
    onnx.save(m, dst)


def make_mlp(out_dir, layers=8, width=4096):
    emb = os.path.join(out_dir, "mlp500-embedded.onnx")
    graph_only = os.path.join(out_dir, "mlp500-graph.onnx")
    if os.path.exists(emb) and os.path.exists(graph_only):
        return emb, graph_only
    rng = np.random.default_rng(0)
    nodes, inits, cur = [], [], "x"
    for i in range(layers):
        w = (rng.standard_normal((width, width), dtype=np.float32) * 0.02)
        inits += [numpy_helper.from_array(w, f"fc{i}.weight"),
                  numpy_helper.from_array(np.zeros(width, np.float32), f"fc{i}.bias")]
        nodes.append(helper.make_node("Gemm", [cur, f"fc{i}.weight", f"fc{i}.bias"], [f"h{i}"], name=f"fc{i}"))
        cur = f"h{i}"
        if i < layers - 1:
            nodes.append(helper.make_node("Relu", [cur], [f"r{i}"], name=f"relu{i}"))
            cur = f"r{i}"
    g = helper.make_graph(nodes, "mlp500",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
                          [helper.make_tensor_value_info(cur, TensorProto.FLOAT, ["batch", width])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(m, emb)
    onnx.save(m, graph_only, save_as_external_data=True, location="mlp500.data")
    os.remove(os.path.join(out_dir, "mlp500.data"))  # graph-only, like the shared exports
    return emb, graph_only


# Forks and times the runs from a fresh, small `python3 -S -I`: a child's ru_maxrss
# starts at the resident size of whatever forked it (this script holds GBs of
# weights), so measuring from here would report our own footprint, not flopscope's.
SPAWNER = r"""
import json, os, sys, time
cmds, n = json.loads(sys.argv[1])
out = [[] for _ in cmds]
for _ in range(n):
    for cmd, res in zip(cmds, out):  # interleaved, so every command sees the same load
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1); os.dup2(fd, 2)
                os.execv(cmd[0], cmd)
            finally:
                os._exit(127)
        _, status, ru = os.wait4(pid, 0)
        res.append([(time.perf_counter() - t0) * 1e3, ru.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)])
print(json.dumps(out))
"""


def spawn_runs(cmds, n):
    """Per command, [(wall ms, peak RSS MB, exit code)] of n whole-process runs."""
    r = subprocess.run([sys.executable, "-S", "-I", "-c", SPAWNER, json.dumps([cmds, n])],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def run_flopscope(exe, paths, args, runs):
    """Per path, (median ms, min ms, peak RSS MB) of whole-process `flopscope profile`."""
    cmds = [[exe, "profile", p, "--format", "json", "-o", "/dev/null", *args] for p in paths]
    for cmd in cmds:
        first = subprocess.run(cmd, capture_output=True, text=True)  # warm-up 1, shows errors
        if first.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {first.returncode}: {first.stderr.strip()}")
    stats = []
    for cmd, res in zip(cmds, spawn_runs(cmds, 2 + runs)):
        res = res[2:]  # warm-ups 2 and 3 dropped
        if any(rc != 0 for _, _, rc in res):
            raise RuntimeError(f"{' '.join(cmd)} exited {[rc for _, _, rc in res]}")
        times = [t for t, _, _ in res]
        stats.append((statistics.median(times), min(times), max(m for _, m, _ in res)))
    return stats


def run_onnx_tool(path, feed, runs):
    """Median seconds of onnx-tool load + shape_infer + profile in-process, and its MACs."""
    import onnx_tool
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        m = onnx_tool.Model(path, {"verbose": False})
        g = m.graph
        g.graph_reorder_nodes()  # as onnx_tool.model_profile does, minus the printing
        g.shape_infer(feed)
        g.profile(exclude_ops=onnx_tool.NoMacsOps)
        times.append(time.perf_counter() - t0)
        macs = int(g.macs[0])
        del m, g
    return statistics.median(times) * 1e3, macs


def run_inprocess(cases):
    """Per model name, median ms of flopscope::profile_path in-process on the embedded file."""
    args = []
    for name, _, e_path, fargs, _ in cases:
        args.append(os.path.abspath(e_path))
        args += fargs
    r = subprocess.run(["cargo", "bench", "-q", "-p", "flopscope", "--bench", "profile_files", "--", *args],
                       capture_output=True, text=True, check=True)
    by_path = {json.loads(l)["file"]: json.loads(l)["median_ms"] for l in r.stdout.splitlines() if l.startswith("{")}
    return {name: by_path.get(os.path.abspath(e_path)) for name, _, e_path, _, _ in cases}


def machine_info(exe):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    ver = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    return (f"machine: {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {cpu}, {platform.system()}\n"
            f"versions: {ver}; onnx-tool {importlib.metadata.version('onnx-tool')}; onnx {onnx.__version__}; "
            f"numpy {np.__version__}; Python {platform.python_version()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("flopscope", nargs="?", default=os.path.join("target", "release", "flopscope"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--out", default=os.path.join("target", "bench-models"))
    a = ap.parse_args()
    exe = os.path.abspath(a.flopscope)
    os.makedirs(a.out, exist_ok=True)
    ref = json.load(open(os.path.join(MODELS_DIR, "reference.json")))
    ot_runs = max(3, a.runs // 5)

    # (name, graph-only path, embedded path, flopscope args, onnx-tool input name/shape/dtype)
    cases = []
    for src in sorted(glob.glob(os.path.join(MODELS_DIR, "*.onnx"))):
        name = os.path.basename(src)[:-5]
        dst = os.path.join(a.out, f"{name}-embedded.onnx")
        print(f"preparing {dst} ...", file=sys.stderr, flush=True)
        embed_twin(src, dst)
        tok = name in TOKEN_MODELS
        # Concrete shapes for both tools, as onnx-tool is given (no formula fitting).
        cases.append((name, src, dst, ["--dim", "seq=128", "--dim", "batch=1"] if tok else ["--dim", "batch=1"],
                      ("input", (1, 128) if tok else (1, 3, 224, 224), np.int64 if tok else np.float32)))
    print("preparing mlp500 ...", file=sys.stderr, flush=True)
    emb, graph_only = make_mlp(a.out)
    cases.append(("mlp500", graph_only, emb, ["--dim", "batch=1"], ("x", (1, 4096), np.float32)))

    # All flopscope runs first, then onnx-tool: its GB-sized heaps leave the kernel
    # busy freeing memory, which would disturb millisecond-scale process timings.
    fs, errors = {}, []
    for name, g_path, e_path, args, _ in cases:
        print(f"timing flopscope on {name} ...", file=sys.stderr, flush=True)
        try:
            fs[name] = run_flopscope(exe, [g_path, e_path], args, a.runs)
        except RuntimeError as e:
            errors.append(str(e))
    print("timing flopscope in-process ...", file=sys.stderr, flush=True)
    inproc = run_inprocess(cases)
    rows, speed_ok, inproc_ok, big_rss = [], True, True, []
    for name, g_path, e_path, args, (iname, shape, dtype) in cases:
        size = os.path.getsize(e_path) / 1e6
        if name not in fs:
            rows.append(f"| {name} | {size:.1f} | error | error | - | - | - | - | - | - |")
            continue
        (g_med, _, g_rss), (e_med, e_min, e_rss) = fs[name]
        if e_rss >= MLP_RSS_MB:
            big_rss.append(f"{name} {e_rss:.0f} MB (graph-only {g_rss:.0f} MB)")
        print(f"timing onnx-tool on {name} ...", file=sys.stderr, flush=True)
        try:
            ot_ms, macs = run_onnx_tool(e_path, {iname: np.zeros(shape, dtype)}, ot_runs)
            want = ref.get(name, {}).get("onnx_tool_macs")
            if want is not None and want != macs:
                errors.append(f"note: onnx-tool MACs on {name} = {macs}, reference.json says {want}")
            speedup = ot_ms / e_med
            speed_ok &= speedup >= MIN_SPEEDUP
            ot_cell, sp_cell = f"{ot_ms:.0f}", f"{speedup:.0f}x"
            ip = inproc.get(name)
            ip_cell = f"{ot_ms / ip:.0f}x" if ip else "-"
            inproc_ok &= bool(ip) and ot_ms / ip >= MIN_SPEEDUP
        except Exception as e:  # onnx-tool fails on some dynamo exports
            ot_cell, sp_cell, ip_cell = f"fails ({type(e).__name__})", "-", "-"
        ip = inproc.get(name)
        ip_ms = f"{ip:.2f}" if ip else "-"
        rows.append(f"| {name} | {size:.1f} | {g_med:.1f} | {e_med:.1f} (min {e_min:.1f}) | {ip_ms}"
                    f" | {e_rss:.1f} | {g_rss:.1f} | {ot_cell} | {sp_cell} | {ip_cell} |")
    fs_ok = len(fs) == len(cases) and all(g[0] < LIMIT_MS and e[0] < LIMIT_MS for g, e in fs.values())
    mlp = dict(zip(("g", "e", "g_rss", "e_rss"), (fs["mlp500"][0][0], fs["mlp500"][1][0],
                                                   fs["mlp500"][0][2], fs["mlp500"][1][2]))) if "mlp500" in fs else {}

    print(machine_info(exe))
    print(f"flopscope: {a.runs} timed runs after 3 warm-ups, whole process, graph-only and embedded interleaved; onnx-tool: median of {ot_runs} in-process runs")
    floor = spawn_runs([[shutil.which("true")]], 1)[0][0][1]
    print(f"peak RSS is ru_maxrss of the child, forked from a small Python: {floor:.1f} MB is its floor\n")
    print("| model | embedded size (MB) | flopscope graph-only (ms, process) | flopscope embedded (ms, process)"
          " | flopscope embedded (ms, in-process) | flopscope peak RSS embedded (MB) | flopscope peak RSS graph-only (MB)"
          " | onnx-tool embedded (ms, in-process) | speed-up vs flopscope process | speed-up in-process vs in-process |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows) + "\n")
    for e in errors:
        print(e)
    mlp_ok = bool(mlp) and mlp["e"] <= MLP_RATIO * mlp["g"] and mlp["e_rss"] < MLP_RSS_MB
    claims = [
        (fs_ok, f"every flopscope median < {LIMIT_MS:.0f} ms (graph-only and embedded)"),
        (speed_ok, f"speed-up >= {MIN_SPEEDUP:.0f}x (flopscope whole process vs onnx-tool in-process) on every model onnx-tool handles"),
        (inproc_ok, f"speed-up >= {MIN_SPEEDUP:.0f}x (both in-process) on every model onnx-tool handles"),
        (not big_rss, f"peak RSS < {MLP_RSS_MB:.0f} MB on every embedded model"),
        (mlp_ok, f"mlp500 embedded within {MLP_RATIO}x of graph-only and peak RSS < {MLP_RSS_MB:.0f} MB"
                 + (f" ({mlp['e']:.1f} vs {mlp['g']:.1f} ms = {mlp['e'] / mlp['g']:.2f}x;"
                    f" RSS {mlp['e_rss']:.1f} MB embedded vs {mlp['g_rss']:.1f} MB graph-only)" if mlp else "")),
    ]
    for ok, text in claims:
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    if big_rss:
        print(f"peak RSS >= {MLP_RSS_MB:.0f} MB on " + ", ".join(big_rss))
    sys.exit(0 if all(ok for ok, _ in claims) else 1)


if __name__ == "__main__":
    main()
