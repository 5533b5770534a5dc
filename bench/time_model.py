"""The time model of docs/predict.md in numpy, for bench/fit_devices.py: the spec's formula
(the same as crates/flopscope-core/src/predict/, which `fit_devices.py --check` verifies on
the CLI) and changes to it ("variants"), each judged exactly as the model itself is (fitted
on one table, judged on the other): what the Rust model would gain by adopting it. Each
variant is the spec's formula plus one physically motivated term; none of them is in the
Rust model unless the integrator adopts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# The classes that take time, in the order of the parameter vector; `view` costs nothing.
CLASSES = ["gemm", "conv", "grouped_conv", "attention", "elementwise", "data"]
TENSOR = {"gemm", "conv", "grouped_conv", "attention"}  # run at the dtype's matrix peak
ATT, CONV, GCONV = CLASSES.index("attention"), CLASSES.index("conv"), CLASSES.index("grouped_conv")


class Design:
    """All layers of a set of models as flat arrays (identical layers of one model merged
    with a count), so that the model's latency for a parameter vector is a few numpy ops."""

    def __init__(self, keys: list[tuple], feats: dict):
        cols, cnt, row = [], [], []
        for i, k in enumerate(keys):
            f = feats[k]
            a = np.stack([f["cls"].astype(float), f["flops"], f["bytes"], f["fused"].astype(float),
                          f["strided"].astype(float)], 1)
            u, c = np.unique(a, axis=0, return_counts=True)
            cols.append(u)
            cnt.append(c.astype(float))
            row.append(np.full(len(u), i))
        u = np.concatenate(cols)
        self.n = len(keys)
        self.cls, self.flops, self.bytes = u[:, 0].astype(int), u[:, 1], u[:, 2]
        self.fused, self.strided = u[:, 3] > 0, u[:, 4] > 0
        self.count, self.row = np.concatenate(cnt), np.concatenate(row)
        self.tensor = np.isin(self.cls, [CLASSES.index(c) for c in TENSOR])

    def layer_times(self, theta: np.ndarray, dev: dict, k: float, matrix=None) -> tuple:
        """Per merged layer: (compute s, memory s, overhead s), the spec's formula; `matrix`
        (a mask) says which layers run at the matrix peak, by default the matrix classes."""
        ovh, eff, half, mem = unpack(theta)
        peak = np.where(self.tensor if matrix is None else matrix, dev["p16"], dev["p32"]) * k
        e, h, m = eff[self.cls], half[self.cls] * 1e9, mem[self.cls]
        # F / (P · eff · F / (F + half)) = (F + half) / (P · eff); a layer without FLOPs has none.
        tc = np.where(self.flops > 0, (self.flops + h) / (peak * e), 0.0)
        tm = np.where(self.fused, 0.0, self.bytes / (dev["bw"] * m))
        to = np.where(self.fused, 0.0, ovh * 1e-6)
        return tc, tm, to

    def latency(self, theta: np.ndarray, dev: dict, k: float) -> np.ndarray:
        tc, tm, to = self.layer_times(theta, dev, k)
        t = np.maximum(tc, tm) + to
        return np.bincount(self.row, weights=t * self.count, minlength=self.n)

    def class_share(self, theta: np.ndarray, dev: dict, k: float) -> np.ndarray:
        """(models × classes): each class's share of the model's predicted time."""
        tc, tm, to = self.layer_times(theta, dev, k)
        t = (np.maximum(tc, tm) + to) * self.count
        out = np.zeros((self.n, len(CLASSES)))
        np.add.at(out, (self.row, self.cls), t)
        return out / out.sum(1, keepdims=True)


def unpack(theta):
    t = np.asarray(theta)
    return t[0], t[1::3], t[2::3], t[3::3]


def pack(ovh: float, ops: dict) -> np.ndarray:
    out = [ovh]
    for c in CLASSES:
        out += [ops[c]["eff"], ops[c]["half_gflop"], ops[c]["mem_eff"]]
    return np.array(out)



@dataclass
class Variant:
    """A formula: `latency(design, theta, extra, dev, k)` in seconds per call, with `extra`
    parameters (names, bounds, start) fitted alongside the profile's."""
    name: str
    why: str
    latency: Callable
    extra: list[tuple[str, float, float, float]] = field(default_factory=list)


def _sum(d: Design, t: np.ndarray) -> np.ndarray:
    return np.bincount(d.row, weights=t * d.count, minlength=d.n)


def spec(d, theta, extra, dev, k):
    return d.latency(theta, dev, k)


def no_stats(d, theta, extra, dev, k):
    """`attention_stats` (the log-sum-exp an SDPA kernel writes next to its output) charged
    nothing: the Rust classifier makes it an attention kernel of 0 FLOPs that reads the
    whole attention output, plus a launch."""
    tc, tm, to = d.layer_times(theta, dev, k)
    stats = (d.cls == ATT) & (d.flops == 0)
    return _sum(d, np.where(stats, 0.0, np.maximum(tc, tm) + to))


def additive(d, theta, extra, dev, k):
    """Compute and memory do not overlap: t = t_compute + t_memory + overhead."""
    tc, tm, to = d.layer_times(theta, dev, k)
    return _sum(d, tc + tm + to)


def smooth(d, theta, extra, dev, k):
    """A soft roofline: t = (t_c^p + t_m^p)^(1/p) + overhead (p → ∞ is the max, p = 1 the sum);
    layers near the ridge point reach neither roof."""
    tc, tm, to = d.layer_times(theta, dev, k)
    p = extra[0]
    m = np.maximum(np.maximum(tc, tm), 1e-30)
    return _sum(d, m * ((tc / m) ** p + (tm / m) ** p) ** (1 / p) + to)


def l2_resident(d, theta, extra, dev, k):
    """A layer whose bytes fit the L2 cache reads them at `l2_gain` × the DRAM bandwidth."""
    tc, tm, to = d.layer_times(theta, dev, k)
    tm = np.where(d.bytes <= dev["l2"], tm / extra[0], tm)
    return _sum(d, np.maximum(tc, tm) + to)


def l2_carry(d, theta, extra, dev, k):
    """Producer-consumer reuse: a kernel finds the last part of its input still in L2 (the
    previous kernel just wrote it), up to `phi` × the L2 size and at most half its bytes (its
    reads), so only the rest crosses DRAM. Small on a 6 MB L2, large on a 72 MB one."""
    ovh, eff, half, mem = unpack(theta)
    tc, tm, to = d.layer_times(theta, dev, k)
    saved = np.minimum(extra[0] * dev["l2"], d.bytes / 2)
    tm = np.where(d.fused, 0.0, (d.bytes - saved) / (dev["bw"] * mem[d.cls]))
    return _sum(d, np.maximum(tc, tm) + to)


def depthwise_vector(d, theta, extra, dev, k):
    """Grouped and depthwise convolutions run on the CUDA cores, not the tensor cores (cuDNN
    has no tensor-core kernel for them): their compute peak is the vector (fp32) one."""
    tc, tm, to = d.layer_times(theta, dev, k, matrix=d.tensor & (d.cls != GCONV))
    return _sum(d, np.maximum(tc, tm) + to)


def strided_copy(d, theta, extra, dev, k):
    """A kernel that reads a permuted or transposed view (ConvNeXt's channels-last LayerNorm,
    attention's head split) first makes it contiguous: `gamma` × its bytes more at DRAM
    bandwidth, in a copy kernel of its own."""
    tc, tm, to = d.layer_times(theta, dev, k)
    copy = np.where(d.strided & ~d.fused, extra[0] * d.bytes / dev["bw"] + to, 0.0)
    return _sum(d, np.maximum(tc, tm) + to + copy)


def nchw_layout(d, theta, extra, dev, k):
    """cuDNN's fp16 tensor-core convolutions want NHWC: with NCHW tensors (timm's tables) a
    convolution also pays layout transforms of its activations, `gamma` × its bytes at the
    full bandwidth, in kernels of their own (added, not overlapped)."""
    tc, tm, to = d.layer_times(theta, dev, k)
    conv = (d.cls == CONV) | (d.cls == GCONV)
    extra_t = np.where(conv & ~d.fused, extra[0] * d.bytes / dev["bw"], 0.0)
    return _sum(d, np.maximum(tc, tm) + to + extra_t)


def class_overhead(d, theta, extra, dev, k):
    """A launch overhead per class: a matrix kernel's set-up (cuBLAS/cuDNN heuristics,
    workspace) is longer than an elementwise kernel's; `extra` is the matrix classes' µs."""
    tc, tm, to = d.layer_times(theta, dev, k)
    to = np.where(d.tensor & ~d.fused, extra[0] * 1e-6, to)
    return _sum(d, np.maximum(tc, tm) + to)


# The share of the L2 cache that still holds the previous kernel's output when the next one
# reads it (LRU shared with the weights and the other operand): fixed, not fitted, since a
# 6 MB L2 (RTX 3090) barely acts and one table cannot pin it.
L2_CARRY = 0.5


def proposed(d, theta, extra, dev, k):
    """The three changes that pay, together (`strided_copy` gamma and `roofline_p` p are
    fitted; `l2_carry` is L2_CARRY):
    - DRAM bytes = bytes − min(l2_carry × L2, bytes / 2): the input tail still in L2;
    - t = (t_c^p + t_m^p)^(1/p) + overhead, with t_m on the DRAM bytes: a soft roofline;
    - a kernel whose previous layer (profile order) is a permute/transpose view also runs a
      copy kernel: gamma × bytes / BW + overhead.
    A fused layer costs its t_c alone, as in the spec."""
    gamma, p = extra
    ovh, eff, half, mem = unpack(theta)
    tc, _, to = d.layer_times(theta, dev, k)
    dram = d.bytes - np.minimum(L2_CARRY * dev["l2"], d.bytes / 2)
    tm = np.where(d.fused, 0.0, dram / (dev["bw"] * mem[d.cls]))
    m = np.maximum(np.maximum(tc, tm), 1e-30)
    t = m * ((tc / m) ** p + (tm / m) ** p) ** (1 / p)
    copy = np.where(d.strided & ~d.fused & (gamma > 0), gamma * d.bytes / dev["bw"] + to, 0.0)
    return _sum(d, t + to + copy)


PROPOSED = Variant("proposed", "strided-input copy + soft roofline + L2 carry-over (phi = 0.5), together",
                   proposed, [("strided_copy", 0.0, 5.0, 1.0), ("roofline_p", 1.0, 20.0, 3.0)])

VARIANTS = [
    Variant("spec", "the spec's formula (what the Rust model computes)", spec),
    Variant("no attention_stats", "the SDPA kernel's log-sum-exp output costs nothing", no_stats),
    Variant("additive", "t = t_compute + t_memory (no overlap)", additive),
    Variant("soft roofline", "t = (t_c^p + t_m^p)^(1/p), p fitted", smooth, [("p", 1.0, 20.0, 3.0)]),
    Variant("L2-resident", "layers whose bytes fit L2 read at a fitted multiple of DRAM bandwidth",
            l2_resident, [("l2_gain", 1.0, 10.0, 2.0)]),
    Variant("L2 carry-over", "a kernel reads up to phi × L2 of its input from L2 (the previous kernel's "
            "output tail), phi fitted", l2_carry, [("phi", 0.0, 1.0, 0.5)]),
    Variant("L2 carry-over, phi = 0.5", "the same with phi fixed (one table cannot fit it: 6 MB of L2 "
            "barely acts)", lambda d, theta, extra, dev, k: l2_carry(d, theta, [0.5], dev, k)),
    Variant("depthwise on CUDA cores", "grouped_conv runs at the vector peak, not the matrix peak",
            depthwise_vector),
    Variant("strided-input copy", "a kernel after a permute/transpose view pays a copy, gamma × its bytes",
            strided_copy, [("gamma", 0.0, 5.0, 0.5)]),
    Variant("NCHW conv layout", "convolutions also pay gamma × their bytes at DRAM bandwidth",
            nchw_layout, [("gamma", 0.0, 5.0, 0.5)]),
    Variant("matrix overhead", "a separate launch overhead for matrix kernels",
            class_overhead, [("matrix_overhead_us", 0.0, 500.0, 10.0)]),
    PROPOSED,
]


def split(theta_all: np.ndarray, v: Variant) -> tuple[np.ndarray, np.ndarray]:
    """The profile's parameters and the variant's own."""
    n = len(theta_all) - len(v.extra)
    return theta_all[:n], theta_all[n:]


def describe(theta_all: np.ndarray, v: Variant) -> str:
    """The variant's own fitted parameters, as text."""
    _, extra = split(theta_all, v)
    return ", ".join(f"{name} = {x:.3g}" for (name, *_), x in zip(v.extra, extra))

