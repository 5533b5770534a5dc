"""A float embedding + two MatMuls (Gather [128, 64] of ids [1, 8], then [64, 96] and
[96, 32]), quantized by ONNX Runtime's 4-bit MatMulNBits quantizer (block 32; once with the
Gather too: GatherBlockQuantized) and by quantize_dynamic (an int8 Gather table, MatMulInteger).
Every file stores the float model's 128·64 + 64·96 + 96·32 = 17,408 parameters, and computes
8·64·96 + 8·96·32 = 73,728 MACs. Regenerate: cd tests/data/quant/nbits && python3 make_nbits.py
(onnx 1.23.2, onnxruntime 1.32.0)."""

import os
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

rng = np.random.default_rng(0)
emb = numpy_helper.from_array(rng.standard_normal((128, 64)).astype(np.float32), "emb")
w1 = numpy_helper.from_array(rng.standard_normal((64, 96)).astype(np.float32), "w1")
w2 = numpy_helper.from_array(rng.standard_normal((96, 32)).astype(np.float32), "w2")
nodes = [
    helper.make_node("Gather", ["emb", "ids"], ["h0"], name="embed"),
    helper.make_node("MatMul", ["h0", "w1"], ["h1"], name="fc1"),
    helper.make_node("MatMul", ["h1", "w2"], ["y"], name="fc2"),
]
g = helper.make_graph(nodes, "g",
                      [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 8])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 32])],
                      [emb, w1, w2])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
onnx.checker.check_model(m)
with tempfile.TemporaryDirectory() as tmp:
    f32 = os.path.join(tmp, "float.onnx")
    onnx.save(m, f32)
    q = MatMulNBitsQuantizer(onnx.load(f32), block_size=32, is_symmetric=False)
    q.process()
    q.model.save_model_to_file("nbits.onnx", use_external_data_format=False)
    q = MatMulNBitsQuantizer(onnx.load(f32), block_size=32, is_symmetric=True,
                             op_types_to_quantize=("MatMul", "Gather"))
    q.process()
    q.model.save_model_to_file("nbits_gather.onnx", use_external_data_format=False)
    quantize_dynamic(f32, "dyn.onnx", weight_type=QuantType.QInt8)
