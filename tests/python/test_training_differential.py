"""One backward cost model for both paths: a module's recorded training step
(``flopscope.profile(module, inputs, training=True)``, the ATen kernels autograd runs) and the
backward derived from its ONNX export (``torch.onnx.export(dynamo=True, optimize=False)``,
profiled with ``training=True``) read the same per-element table
(``crates/flopscope-core/src/ops/backward/table.rs``). They give the same backward MACs and
FLOPs, or differ by what the export or autograd computes differently, derived here by hand.

And the recorded attention backward: a fused kernel recomputes Q·Kᵀ (five products), the
math path keeps the probabilities (four).
"""

from __future__ import annotations

import pytest

import flopscope
from test_profile import requires

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def both(tmp_path, model, inputs):
    """(recorded, derived) training sections of `model` on `inputs` and of its ONNX export.
    The recorded step's loss is the sum of the output (the default), whose gradient, ones
    expanded, costs nothing: the derived step starts from the output's gradient too."""
    requires("onnxscript", "onnxscript is not installed (torch.onnx.export needs it)")
    model.train()
    recorded = flopscope.profile(model, inputs, training=True)
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, inputs, str(path), dynamo=True, optimize=False)
    derived = flopscope.profile(path, training=True)
    for p in (recorded, derived):
        assert p.unsupported == []
        assert p.training.to_dict().get("backward_unknown", []) == []
    return recorded.training, derived.training


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(16, 32), nn.Linear(32, 32)
        self.c, self.d = nn.Linear(32, 32), nn.Linear(32, 8)

    def forward(self, x):
        h = F.gelu(self.a(x), approximate="tanh")
        return self.d(F.silu(self.c(F.softplus(self.b(h)))))


def test_mlp_with_gelu_softplus_silu(tmp_path):
    rec, der = both(tmp_path, Mlp(), (torch.randn(4, 16),))
    # Products: each Linear's dX and dW, the first without dX (x is an input):
    # 4·16·32 + 2·(4·32·32) + 2·(4·32·32) + 2·(4·32·8).
    macs = 2048 + 8192 + 8192 + 2048
    assert rec.backward_macs == der.backward_macs == macs
    # 4·32 = 128 elements per activation. GELU (tanh) 18 and Softplus 5 per element in both
    # paths (they were 19 and 6 in the recorded one). What differs:
    # - the export writes softplus(x) with β as `x·β → Softplus → /β → where(x·β > 20, x, ·)`:
    #   the product's and the quotient's gradients 1 each and the select's two branches 1 each,
    #   4 per element the recorded `softplus_backward` does not run;
    # - autograd decomposes SiLU's backward and recomputes σ(x) (4 per element: 9 in all),
    #   the export's Sigmoid → Mul keeps σ(x) (3 for the Sigmoid's gradient, 1 + 1 for the
    #   Mul's): 4 per element the derived backward does not run.
    n = 128
    assert der.backward_flops == rec.backward_flops + 4 * n - 4 * n


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.bn = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.c2, self.fc = nn.Conv2d(8, 16, 3, stride=2), nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.c1(x))), 2)
        x = F.relu(self.c2(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def test_small_cnn(tmp_path):
    rec, der = both(tmp_path, Cnn(), (torch.randn(2, 3, 16, 16),))
    # c1 [2,8,16,16] = 4,096 outputs × 27: dW only; c2 [2,16,3,3] = 288 outputs × 72: dX and
    # dW; fc 2·16·10: dX and dW.
    assert rec.backward_macs == der.backward_macs == 4096 * 27 + 2 * 288 * 72 + 2 * 320
    # BatchNorm 9 per element in both (the export's was 13). The one difference: the mean
    # over H, W (adaptive_avg_pool2d(1); ReduceMean in the export). Autograd expands the
    # gradient and divides each of the 288 elements; the derived ReduceMean divides its 32
    # outputs and broadcasts.
    assert rec.backward_flops == der.backward_flops + 288 - 32


class MseStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 8)

    def forward(self, x, y):
        return F.mse_loss(self.lin(x), y)


def test_mse_loss(tmp_path):
    rec, der = both(tmp_path, MseStep(), (torch.randn(4, 16), torch.randn(4, 8)))
    assert rec.backward_macs == der.backward_macs == 4 * 16 * 8  # dW only
    # The loss over N = 32 elements. Recorded: mse_loss_backward 3·N (it was 3: the 0-d
    # gradient's one element). Derived from the export's Sub → Mul(d, d) → ReduceMean: the
    # mean's division once 1, the product's two operands N each (the Subs' gradients are
    # dY itself, the target needs none): 2·N + 1.
    n = 32
    assert rec.backward_flops - der.backward_flops == 3 * n - (2 * n + 1)


class CrossEntropyStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 10)

    def forward(self, x, y):
        return F.cross_entropy(self.lin(x), y)


def test_cross_entropy_loss(tmp_path):
    inputs = (torch.randn(4, 16), torch.randint(0, 10, (4,)))
    rec, der = both(tmp_path, CrossEntropyStep(), inputs)
    assert rec.backward_macs == der.backward_macs == 4 * 16 * 10
    # S = 40 scores, L = 4 labels, mean. Recorded: nll_loss_backward 2 per label (negation,
    # mean), _log_softmax_backward_data 4 per score. The export fuses both into one
    # SoftmaxCrossEntropyLoss, whose backward is the softmax from the kept log-probabilities
    # and the scaling, 2 per score, and the one-hot, 1 per label.
    s, labels = 40, 4
    assert rec.backward_flops - der.backward_flops == (4 * s + 2 * labels) - (2 * s + labels)


def test_transformer_block(tmp_path):
    b, t, d, heads, ff = 2, 6, 32, 4, 64
    block = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True)
    rec, der = both(tmp_path, block, (torch.randn(b, t, d),))
    tokens, dk = b * t, d // heads
    scores = b * heads * t * t  # 288
    # Products over 12 tokens: in_proj 12·32·96, its dW only (the block's input needs no
    # gradient); out_proj 12·32·32, linear1 and linear2 12·32·64 each, dX and dW; attention's
    # four products 2·scores·(dk + dv) in the export's MatMuls.
    derived_macs = (tokens * d * 3 * d + 2 * tokens * d * d + 4 * tokens * d * ff
                    + 2 * scores * 2 * dk)
    assert der.backward_macs == derived_macs
    # The recorded SDPA kernel (flash, on CPU) keeps no probabilities: it recomputes Q·Kᵀ.
    assert rec.backward_macs == derived_macs + scores * dk
    # FLOPs besides those products:
    # - the kernel rebuilds P, 3 per score, and counts the softmax gradient and the scale as
    #   5 per score; the export's Softmax gradient is 4 per score and its scale is √scale
    #   multiplied into Q and K (1 per element of each, 2·b·h·t·dk);
    # - autograd writes the three chunks' gradients of the qkv projection into zeros and adds
    #   them (2 adds of 3·tokens·d); the export's three Gathers scatter-add once each
    #   (3 × tokens·d);
    # - the gradient of norm1's output, which feeds the feed-forward block and the residual,
    #   is accumulated by autograd (tokens·d adds); the derived backward sums no fan-out.
    attention = 2 * scores * dk + scores * (3 + 5 - 4) - 2 * (b * heads * t * dk)
    chunks = 2 * 3 * tokens * d - 3 * tokens * d
    residual = tokens * d
    assert rec.backward_flops == der.backward_flops + attention + chunks + residual


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(32, 96)

    def forward(self, x):
        q, k, v = self.qkv(x).view(2, 6, 3, 4, 8).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v)


def test_recorded_attention_backward_math_and_fused_paths():
    from torch.nn.attention import SDPBackend, sdpa_kernel

    model, x = Attention().train(), torch.randn(2, 6, 32)
    # qkv's weight gradient 12·32·96 (x needs none); scores B·H·L·S = 2·4·6·6, dk = dv = 8.
    proj, scores, dk, dv = 12 * 32 * 96, 288, 8, 8
    # The fused kernel (flash attention, on CPU): Q·Kᵀ recomputed, then dP, dV, dQ, dK.
    fused = flopscope.profile(model, (x,), training=True).training
    assert fused.backward_macs == proj + scores * (3 * dk + 2 * dv)
    # The math path keeps P: its backward is the four products of autograd's bmm calls.
    with sdpa_kernel(SDPBackend.MATH):
        math = flopscope.profile(model, (x,), training=True).training
    assert math.backward_macs == proj + 2 * scores * (dk + dv)
    assert fused.forward_macs == math.forward_macs == proj + scores * (dk + dv)
