"""Load and run ONNX files in ONNX Runtime: the check that exported models are valid.

Usage: python3 scripts/ort_run.py FILE [FILE ...]
For each file: builds an ONNX Runtime CPU session, feeds random inputs (floats in [-1, 1),
token ids in [0, 1000)), with symbolic dims set to 1 (seq: 16), runs once, and checks that
every output is finite. Prints one line per file; exits non-zero on the first failure.
"""
import sys

import numpy as np
import onnxruntime as ort

TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(float16)": np.float16}


def feed(inp, rng):
    shape = [d if isinstance(d, int) else (16 if "seq" in str(d) else 1) for d in inp.shape]
    dtype = TYPES[inp.type]
    if dtype == np.int64:
        return rng.integers(0, 1000, size=shape, dtype=np.int64)
    return rng.uniform(-1, 1, size=shape).astype(dtype)


def main():
    rng = np.random.default_rng(0)
    for path in sys.argv[1:]:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        inputs = {i.name: feed(i, rng) for i in sess.get_inputs()}
        outs = sess.run(None, inputs)
        for o, v in zip(sess.get_outputs(), outs):
            if not np.all(np.isfinite(v)):
                print(f"{path}: output {o.name} has non-finite values", file=sys.stderr)
                sys.exit(1)
        print(f"ok {path} onnxruntime {ort.__version__} outputs {[list(v.shape) for v in outs]}")


if __name__ == "__main__":
    main()
