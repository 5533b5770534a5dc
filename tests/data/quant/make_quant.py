"""Makes the quantized test models from one small float model, with ONNX Runtime's own
quantizers (the tools people use to deploy): dynamic (MatMulInteger/ConvInteger), static QDQ
and static QOperator (QLinearConv, QGemm, ...). Regenerate with
    python3 tests/data/quant/make_quant.py
(torch 2.15.0, onnx 1.23.2, onnxruntime 1.32.0; scripts/requirements-test.txt pins them).
The float model's parameter count (printed, and kept in expected.json) is torch's
sum(p.numel()); the quantized files must count the same parameters."""

import json
import os

import numpy as np
import torch
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_dynamic, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

HERE = os.path.dirname(os.path.abspath(__file__))


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.fc1 = torch.nn.Linear(8, 16)
        self.fc2 = torch.nn.Linear(16, 4)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = x.mean(dim=(2, 3))
        return self.fc2(torch.relu(self.fc1(x)))


class Reader(CalibrationDataReader):
    def __init__(self):
        rng = np.random.default_rng(0)
        self.data = iter([{"x": rng.standard_normal((1, 3, 16, 16), dtype=np.float32)}
                          for _ in range(4)])

    def get_next(self):
        return next(self.data, None)


def main():
    torch.manual_seed(0)
    net = Net().eval()
    x = torch.randn(1, 3, 16, 16)
    f32 = os.path.join(HERE, "net_f32.onnx")
    torch.onnx.export(net, (x,), f32, input_names=["x"], dynamo=False, opset_version=17)
    pre = os.path.join(HERE, "net_pre.onnx")
    quant_pre_process(f32, pre)
    quantize_dynamic(pre, os.path.join(HERE, "net_dynamic.onnx"), weight_type=QuantType.QInt8)
    for fmt, name in [(QuantFormat.QDQ, "net_qdq.onnx"), (QuantFormat.QOperator, "net_qop.onnx")]:
        quantize_static(pre, os.path.join(HERE, name), Reader(), quant_format=fmt,
                        per_channel=False, weight_type=QuantType.QInt8)
    os.remove(pre)
    import onnx

    expected = {"params": sum(p.numel() for p in net.parameters()), "quant_params": {}}
    # Scales and zero points, by the names ONNX Runtime's quantizers give them (a check
    # independent of how flopscope recognises them: by the inputs they feed).
    for name in ("net_dynamic.onnx", "net_qdq.onnx", "net_qop.onnx"):
        m = onnx.load(os.path.join(HERE, name))
        expected["quant_params"][name] = sum(
            int(np.prod(i.dims)) for i in m.graph.initializer
            if i.name.endswith(("_scale", "_zero_point")))
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(expected)


if __name__ == "__main__":
    main()
