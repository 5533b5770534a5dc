#!/usr/bin/env python3
"""Language-model serving on this CPU: llama.cpp measured against flopscope's prediction.

A bench script, not a CI test (issue 22, part 7). It writes random-weight Llama GGUF files of a
few sizes and quantisations, measures llama.cpp's prefill and decode tokens/s on them with two
threads, asks flopscope for its prediction of the same runs (`flopscope predict FILE.gguf
--device local --dim seq=N --dim past=P -f json`, its `llm` section), and writes the
measured-vs-predicted table to bench/results/llm_llamacpp.md.

It installs nothing. Into a virtual environment that also has flopscope's CLI on PATH (or name
it with --flopscope):

    CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_BLAS=OFF -DLLAMA_CURL=OFF" \\
        pip install llama-cpp-python==0.3.36 gguf==0.19.0    # builds llama.cpp: ~7 min here

    python bench/llm_llamacpp.py [--sizes 0.1b,0.5b,1b] [--quants f16,q8_0,q4_0]
                                 [--threads 2] [--workdir /tmp/llm-bench]

The prediction is for `--device local`: this machine's calibration (`flopscope calibrate`, run
once when missing), at the same thread count.

On a shared machine, `--threads 1 --cpu-time` times the process's CPU time, which other
processes taking turns on the cores do not inflate (bench/results/llm_llamacpp.md).

The GGUF files are written from random numbers (no download): the byte tokens <0x00>..<0xFF>
are in the vocabulary (llama.cpp's SentencePiece tokenizer needs them) and tokens are fed to
llama_decode directly, so nothing is sampled and no EOS can end a run early. Weights are
random, so the text is noise; the time of a step does not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# Llama shapes (d, layers, heads, kv heads, f); vocabulary 32,000 as Llama 2 and TinyLlama.
SIZES = {
    # ~0.12B: GPT-2-small-like widths with a Llama block.
    "0.1b": (768, 12, 12, 4, 2048),
    # ~0.5B.
    "0.5b": (1536, 16, 12, 4, 4096),
    # TinyLlama-1.1B's shape.
    "1b": (2048, 22, 32, 4, 5632),
}
VOCAB = 32_000
# ggml type id, GGUF general.file_type, block (weights), block bytes.
QUANTS = {
    "f16": (1, 1, 1, 2),
    "q8_0": (8, 7, 32, 34),
    "q4_0": (2, 2, 32, 18),
}
PROMPTS = (128, 512)
DECODE_PAST = 128
DECODE_STEPS = 16


class Pool:
    """Random bytes and f16 values, generated once and sliced: the values do not matter."""

    def __init__(self, n: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.f16 = (rng.standard_normal(n, dtype=np.float32) * 0.02).astype(np.float16)
        self.u8 = rng.integers(0, 256, size=2 * n, dtype=np.uint8)

    def take_f16(self, n: int, offset: int) -> np.ndarray:
        start = offset % (self.f16.size - n)
        return self.f16[start : start + n]

    def take_u8(self, n: int, offset: int) -> np.ndarray:
        start = offset % (self.u8.size - n)
        return self.u8[start : start + n]


def weight(pool: Pool, rows: int, cols: int, quant: str, salt: int) -> tuple[np.ndarray, object]:
    """A rows × cols weight (numpy order: out, in) in `quant`, as gguf's writer takes it."""
    import gguf

    ggml_type, _, block, block_bytes = QUANTS[quant]
    if quant == "f16":
        return pool.take_f16(rows * cols, salt * 7919).reshape(rows, cols), None
    blocks = rows * cols // block
    raw = np.empty((blocks, block_bytes), dtype=np.uint8)
    # Scale first (f16), then the quants: 0.02/127 per step for Q8_0, 0.02/8 for Q4_0. Normal
    # f16 numbers (no subnormals, which are slow on x86).
    scale = np.float16(0.02 / (127 if quant == "q8_0" else 8))
    raw[:, :2] = np.frombuffer(scale.tobytes(), dtype=np.uint8)
    raw[:, 2:] = pool.take_u8(blocks * (block_bytes - 2), salt * 104729).reshape(blocks, -1)
    qtype = gguf.GGMLQuantizationType(ggml_type)
    return raw.reshape(rows, cols // block * block_bytes), qtype


def write_gguf(path: Path, size: str, quant: str, pool: Pool) -> int:
    """Writes a random Llama of `size` in `quant` (norms f32); returns its parameter count."""
    import gguf

    d, layers, heads, kv, f = SIZES[size]
    hd = d // heads
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(f"random-llama-{size}-{quant}")
    w.add_context_length(2048)
    w.add_embedding_length(d)
    w.add_block_count(layers)
    w.add_feed_forward_length(f)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(QUANTS[quant][1])
    # SentencePiece-style vocabulary: unk, bos, eos, the 256 byte tokens, then fillers.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    tokens += [f"tok{i}" for i in range(VOCAB - len(tokens))]
    types = [2, 3, 3] + [6] * 256 + [1] * (VOCAB - 259)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([-float(i) for i in range(VOCAB)])
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    params = 0
    salt = 0

    def add(name: str, rows: int, cols: int, q: str):
        nonlocal params, salt
        salt += 1
        t, qtype = weight(pool, rows, cols, q, salt)
        w.add_tensor(name, t, raw_dtype=qtype) if qtype else w.add_tensor(name, t)
        params += rows * cols

    def norm(name: str):
        nonlocal params
        w.add_tensor(name, np.ones(d, dtype=np.float32))
        params += d

    add("token_embd.weight", VOCAB, d, quant)
    for i in range(layers):
        p = f"blk.{i}."
        norm(p + "attn_norm.weight")
        add(p + "attn_q.weight", heads * hd, d, quant)
        add(p + "attn_k.weight", kv * hd, d, quant)
        add(p + "attn_v.weight", kv * hd, d, quant)
        add(p + "attn_output.weight", d, heads * hd, quant)
        norm(p + "ffn_norm.weight")
        add(p + "ffn_gate.weight", f, d, quant)
        add(p + "ffn_up.weight", f, d, quant)
        add(p + "ffn_down.weight", d, f, quant)
    norm("output_norm.weight")
    add("output.weight", VOCAB, d, quant)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return params


def measure(path: Path, threads: int, repeats: int, clock=time.perf_counter) -> dict:
    """llama.cpp's prefill tokens/s per prompt length and decode tokens/s after DECODE_PAST
    tokens: the fastest of `repeats` prefills and of every decode step (on a shared machine the
    fastest run is the one least disturbed by other load; a run cannot beat the hardware)."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(path),
        n_ctx=1024,
        n_batch=512,
        n_ubatch=512,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    rng = np.random.default_rng(1)
    prompt = [int(t) for t in rng.integers(259, VOCAB, size=max(PROMPTS))]
    llm.reset()
    llm.eval(prompt[:16])  # warm-up: pages the weights in, repacks, allocates
    out: dict = {"prefill": {}, "decode_steps": []}
    for n in PROMPTS:
        times = []
        for _ in range(repeats):
            llm.reset()
            t0 = clock()
            llm.eval(prompt[:n])
            times.append(clock() - t0)
        out["prefill"][n] = n / min(times)
    for _ in range(repeats):
        llm.reset()
        llm.eval(prompt[:DECODE_PAST])
        steps = []
        for i in range(DECODE_STEPS):
            t0 = clock()
            llm.eval([prompt[i]])
            steps.append(clock() - t0)
        out["decode_steps"] += steps
    out["decode"] = 1.0 / min(out["decode_steps"])
    out["decode_median"] = 1.0 / statistics.median(out["decode_steps"])
    del llm
    return out


def predict(flopscope: list[str], path: Path, seq: int, past: int, device: str, threads: int) -> dict:
    """flopscope's `llm` section for one run."""
    cmd = flopscope + [
        "predict", str(path), "--device", device, "--threads", str(threads),
        "--dim", f"seq={seq}", "--dim", f"past={past}", "--dim", "batch=1", "-f", "json",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"flopscope predict failed ({' '.join(cmd)}): {r.stderr.strip()}")
    llm = json.loads(r.stdout).get("llm")
    if not llm:
        sys.exit(f"flopscope predict gave no llm section for {path}")
    return llm


def pct(pred: float, meas: float) -> float:
    return (pred - meas) / meas * 100.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--quants", default=",".join(QUANTS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--cpu-time", action="store_true",
        help="time with the process's CPU time instead of the wall clock (with --threads 1: "
        "unaffected by other processes taking turns on the cores)",
    )
    ap.add_argument("--device", default="local", help="flopscope device for the prediction")
    ap.add_argument("--flopscope", default="flopscope", help="the flopscope CLI (a path or a command line)")
    ap.add_argument("--workdir", default="/tmp/flopscope-llm-bench")
    ap.add_argument("--keep", action="store_true", help="keep the GGUF files")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "llm_llamacpp.md"))
    a = ap.parse_args()
    if a.cpu_time and a.threads != 1:
        sys.exit("--cpu-time measures one thread's work: use it with --threads 1")
    clock = time.process_time if a.cpu_time else time.perf_counter
    flopscope = a.flopscope.split()
    if not shutil.which(flopscope[0]):
        sys.exit(f"no flopscope CLI at '{flopscope[0]}' (pass --flopscope PATH)")
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    pool = Pool(1 << 26)
    rows = []
    for size in a.sizes.split(","):
        for quant in a.quants.split(","):
            path = work / f"llama-{size}-{quant}.gguf"
            params = write_gguf(path, size, quant, pool)
            m = measure(path, a.threads, a.repeats, clock)
            mid = DECODE_PAST + DECODE_STEPS // 2  # the decode runs from past 128 to 143
            p_dec = predict(flopscope, path, DECODE_PAST, mid, a.device, a.threads)
            row = {
                "model": f"{size} {quant}",
                "params": params,
                "file_mb": path.stat().st_size / 1e6,
                "decode_meas": m["decode"],
                "decode_pred": p_dec["decode"]["tokens_per_s"],
                "decode_median": m["decode_median"],
                "prefill": {},
            }
            for n in PROMPTS:
                p = predict(flopscope, path, n, n, a.device, a.threads)
                row["prefill"][n] = (m["prefill"][n], p["prefill"]["tokens_per_s"])
            rows.append(row)
            print(json.dumps(row), flush=True)
            if not a.keep:
                path.unlink()
    write_table(rows, a, Path(a.out))


def write_table(rows: list, a, out: Path) -> None:
    errs = {"decode": [], "prefill": []}
    lines = [
        "# llama.cpp on this machine: measured vs predicted",
        "",
        f"`python bench/llm_llamacpp.py --threads {a.threads} --device {a.device}"
        f"{' --cpu-time' if a.cpu_time else ''}` "
        f"(llama-cpp-python 0.3.36, {a.threads} thread{'s' if a.threads > 1 else ''}, random-weight Llama GGUF, vocabulary 32,000; "
        f"fastest of {a.repeats} runs). Decode: {DECODE_STEPS} tokens after a {DECODE_PAST}-token prompt, "
        f"{a.repeats} times (the fastest step; the median step in brackets), predicted at past "
        f"{DECODE_PAST + DECODE_STEPS // 2}. Error = (predicted − measured) / measured.",
        "",
        "| model | params | file MB | decode tok/s meas | pred | err | "
        + " | ".join(f"prefill {n} tok/s meas | pred | err" for n in PROMPTS)
        + " |",
        "|---|---:|---:|---:|---:|---:|" + "---:|---:|---:|" * len(PROMPTS),
    ]
    for r in rows:
        e = pct(r["decode_pred"], r["decode_meas"])
        errs["decode"].append(abs(e))
        cells = [r["model"], f"{r['params'] / 1e6:,.0f}M", f"{r['file_mb']:,.0f}",
                 f"{r['decode_meas']:.1f} ({r['decode_median']:.1f})", f"{r['decode_pred']:.1f}", f"{e:+.0f}%"]
        for n in PROMPTS:
            meas, pred = r["prefill"][n]
            e = pct(pred, meas)
            errs["prefill"].append(abs(e))
            cells += [f"{meas:.1f}", f"{pred:.1f}", f"{e:+.0f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for k, v in errs.items():
        if v:
            lines.append(f"- {k}: median |error| {statistics.median(v):.0f}%, worst {max(v):.0f}% (n = {len(v)})")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
