"""Regenerates the trace documents of this folder (`flopscope.trace/1`, read by the Rust
tests in `crates/flopscope-core/tests/core/trace.rs`).

    PYTHONPATH=python python3 tests/data/traces/make_traces.py

Each model is tiny, in eval mode and recorded under `torch.no_grad()` on fake tensors (no
arithmetic runs), so the files stay small and the expected counts in the tests can be worked
out by hand. The weights' values do not matter: only shapes are recorded. The `*_train`
documents are training steps (train mode, `training=True`): forward, the loss `out.sum()` and
the backward pass autograd ran.
"""

from __future__ import annotations

import json
import os

import torch
import torch.nn.functional as F
from torch import nn

from flopscope._capture import trace

HERE = os.path.dirname(os.path.abspath(__file__))


class TinyCnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.relu(self.bn(self.conv(x))))))


class TinyBlock(nn.Module):
    """Self-attention through `nn.MultiheadAttention` (the fused inference path,
    `aten._native_multi_head_attention`, in eval mode under no_grad) and a Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dim=16, num_heads=4, batch_first=True)
        self.proj = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.attn(x, x, x, need_weights=False)
        return self.proj(y)


class GqaSdpa(nn.Module):
    """Grouped-query causal attention: 8 query heads share 2 key/value heads."""

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)


class TinyEncoder(nn.Module):
    """LayerNorm → one-head self-attention through SDPA (q, k, v and output projections
    without bias) → residual, then LayerNorm → Linear → GELU → Linear → residual."""

    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d, bias=False)
        self.ln2 = nn.LayerNorm(d)
        self.up = nn.Linear(d, 2 * d)
        self.act = nn.GELU()
        self.down = nn.Linear(2 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(self.ln1(x)).unsqueeze(1).chunk(3, dim=-1)
        x = x + self.out(F.scaled_dot_product_attention(q, k, v).squeeze(1))
        return x + self.down(self.act(self.up(self.ln2(x))))


def write(name: str, model: nn.Module, args: tuple, training: bool = False) -> None:
    if training:
        model.train()
        doc = trace(model, args, {}, name, training=True)
    else:
        model.eval()
        with torch.no_grad():
            doc = trace(model, args, {}, name)
    # Re-indent: one line per value and per call, so a diff of a regenerated file reads well.
    d = json.loads(doc)
    lines = ["{"]
    head = {k: d[k] for k in ("schema", "name", "producer")}
    for k, v in head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v)},")
    for key in ("values", "calls"):
        lines.append(f'  "{key}": [')
        items = [json.dumps(x, separators=(",", ":")) for x in d[key]]
        lines.append(",\n".join("    " + s for s in items))
        lines.append("  ],")
    for key in ("backward_start", "saved_activation_bytes"):
        if key in d:
            lines.append(f'  "{key}": {json.dumps(d[key])},')
    lines.append(f'  "outputs": {json.dumps(d["outputs"])}')
    lines.append("}")
    path = os.path.join(HERE, f"{name}.json")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    ops = [c["op"] for c in d["calls"]]
    print(f"{path}: {os.path.getsize(path)} bytes, {len(ops)} calls: {', '.join(ops)}")


def main() -> None:
    torch.manual_seed(0)
    write("tiny_cnn", TinyCnn(), (torch.randn(1, 3, 16, 16),))
    write("tiny_mha_block", TinyBlock(), (torch.randn(2, 5, 16),))
    q = torch.randn(1, 8, 6, 4)
    k = torch.randn(1, 2, 6, 4)
    v = torch.randn(1, 2, 6, 4)
    write("gqa_causal_sdpa", GqaSdpa(), (q, k, v))
    write("tiny_cnn_train", TinyCnn(), (torch.randn(2, 3, 16, 16),), training=True)
    write("tiny_encoder_train", TinyEncoder(), (torch.randn(2, 5, 8),), training=True)


if __name__ == "__main__":
    main()
