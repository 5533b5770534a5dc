"""Quantized torch modules (`torch.ao.quantization`): their packed weights are parameters and
their quantized kernels have the MACs of the float layers they replace.

Expected values: the float model's `sum(numel)` before quantization, hand counts of each
layer's products (docs/counting.md: Linear `rows·K·N`, LSTM `D·T·B·4H·(I + H)`, Conv
`numel(Y)·Cin·k²`), and the FLOPs of the ONNX Runtime operators each kernel is counted as
(docs/counting.md, "Quantized operators" and "ONNX Runtime fused operators").
"""

from __future__ import annotations

import copy
import warnings

import pytest

import flopscope
from test_profile import requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")
nn = torch.nn
F = torch.nn.functional


def numel(model) -> int:
    return sum(p.numel() for p in model.parameters())


def quantize_dynamic(model, dtype):
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated, and still works
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model), {nn.Linear, nn.LSTM}, dtype=dtype)


B, T, I, H, O = 4, 5, 64, 16, 10  # batch, steps, input features, LSTM hidden size, classes


class Tagger(nn.Module):
    """Linear(64, 32) → ReLU → a 2-layer bidirectional LSTM(32, 16) → Linear(32, 10)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(I, 2 * H)
        self.lstm = nn.LSTM(2 * H, H, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * H, O)

    def forward(self, x):
        y, _ = self.lstm(F.relu(self.fc(x)))
        return self.head(y)


# Products: fc B·T·64·32; each LSTM layer both directions, 4 gates, over input 32 and hidden
# 16 (layer 1 reads both directions of layer 0: 2·16 = 32 again); head B·T·32·10.
FC = B * T * I * 2 * H  # 40,960
LSTM_LAYER = 2 * T * B * 4 * H * (2 * H + H)  # 122,880
HEAD = B * T * 2 * H * O  # 6,400
MACS = FC + 2 * LSTM_LAYER + HEAD


def test_dynamic_int8_linear_and_lstm():
    float_model = Tagger().eval()
    q = quantize_dynamic(float_model, torch.qint8)
    assert numel(q) == 0  # every weight is packed: torch's own count sees none
    x = torch.randn(B, T, I)
    before = q(x)
    p = flopscope.profile(q, x)
    assert torch.equal(q(x), before)  # unpacking read the packed weights, changed nothing
    assert p.unsupported == []
    assert p.params == numel(float_model) == 15_210
    # By dtype: the int8 weights (fc 64·32, head 32·10, per LSTM cell 4H·I_l + 4H·H) and the
    # float32 biases (fc 32, head 10, per cell b_ih and b_hh 2·4H).
    int8 = I * 2 * H + 2 * H * O + 2 * (4 * H * 2 * H + 4 * H * H) * 2
    f32 = 2 * H + O + 4 * 2 * 4 * H
    by_dtype = p.to_dict()["totals"]["params_by_dtype"]
    assert (by_dtype["int8"]["params"], by_dtype["float32"]["params"]) == (int8, f32)
    # A scale and a zero point per weight (per tensor): fc, head and 8 LSTM matrices.
    assert p.totals["quant_params"] == 2 * 10
    # The quantized kernels have the float layers' MACs, as the float model's own profile.
    assert p.macs == MACS == flopscope.profile(float_model, x).macs
    # FLOPs, as ONNX Runtime's DynamicQuantizeMatMul (2·MACs, quantizing the input 4 per
    # element, rescaling and bias 1 each per output element) and DynamicQuantizeLSTM (ONNX
    # LSTM: 2·MACs + per unit 8 bias adds, 5 non-linearities, 4 state updates), and the ReLU.
    def dq_matmul(macs, inputs, outputs):
        return 2 * macs + 4 * inputs + 2 * outputs

    lstm_units = 2 * T * B * H
    assert p.flops == (dq_matmul(FC, B * T * I, B * T * 2 * H) + B * T * 2 * H
                       + 2 * (2 * LSTM_LAYER + lstm_units * 17)
                       + dq_matmul(HEAD, B * T * 2 * H, B * T * O))
    # The int8 weight belongs to the layer that multiplies by it.
    fc = [lay for lay in p.layers if lay.scope == ("fc",) and lay.macs]
    assert [(lay.op, lay.macs, lay.params) for lay in fc] == [
        ("DynamicQuantizeMatMul", FC, I * 2 * H + 2 * H)]


def test_dynamic_float16_linear_and_lstm():
    float_model = Tagger().eval()
    q = quantize_dynamic(float_model, torch.float16)
    x = torch.randn(B, T, I)
    p = flopscope.profile(q, x)
    assert p.unsupported == []
    assert p.params == numel(float_model)
    # Stored as float16 weights (the int8 test's weights), float32 biases.
    by_dtype = p.to_dict()["totals"]["params_by_dtype"]
    f16 = I * 2 * H + 2 * H * O + 2 * (4 * H * 2 * H + 4 * H * H) * 2
    assert (by_dtype["float16"]["params"], by_dtype["float32"]["params"]) == (
        f16, numel(float_model) - f16)
    assert p.totals["quant_params"] == 0
    assert p.macs == MACS
    # Float products: each Linear 2·MACs + its bias per output element, the ReLU, each LSTM
    # layer as ONNX's LSTM (as in the int8 test).
    lstm_units = 2 * T * B * H
    assert p.flops == (2 * FC + 2 * B * T * 2 * H + 2 * (2 * LSTM_LAYER + lstm_units * 17)
                       + 2 * HEAD + B * T * O)


class Static(nn.Module):
    """Eager static quantization: quantize → Conv2d(3, 8, 3) → ReLU → Linear(288, 10) →
    dequantize."""

    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8 * 6 * 6, O)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        x = F.relu(self.conv(self.quant(x)))
        return self.dequant(self.fc(x.flatten(1)))


def test_static_int8_conv_and_linear():
    float_model = Static().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = copy.deepcopy(float_model)
        m.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
        prepared = torch.ao.quantization.prepare(m)
        prepared(torch.randn(2, 3, 8, 8))  # calibration
        q = torch.ao.quantization.convert(prepared)
    x = torch.randn(2, 3, 8, 8)
    p = flopscope.profile(q, x)
    assert p.unsupported == []
    assert p.params == numel(float_model)
    # The input's scale is read with .item(): traced on real tensors, and said.
    assert any("real tensors" in w for w in p.warnings)
    conv = 2 * 8 * 6 * 6 * 3 * 3 * 3  # numel(Y) · Cin · k²
    fc = 2 * 288 * O
    assert p.macs == conv + fc
    # FLOPs: quantizing and dequantizing 2 per element; QLinearConv as Conv (products and a
    # bias add per output) + 2 per output; the ReLU of quint8 values is integer work (0); QGemm
    # as Gemm (products and bias) + 2 per output.
    conv_out, fc_out = 2 * 8 * 6 * 6, 2 * O
    assert p.flops == (2 * x.numel() + 2 * conv + 3 * conv_out + 2 * fc + 3 * fc_out
                       + 2 * fc_out)


def test_quantized_weights_are_not_trained():
    q = quantize_dynamic(nn.Sequential(nn.Linear(I, 32)).eval(), torch.qint8)
    p = flopscope.profile(q, torch.randn(B, I))
    # Packed weights are no nn.Parameter: nothing of them is trainable.
    assert (p.frozen_params, p.trainable_params) == (I * 32 + 32, 0)
    with pytest.raises(flopscope.CaptureError, match="requires grad"):
        flopscope.profile(q, torch.randn(B, I), training=True)
