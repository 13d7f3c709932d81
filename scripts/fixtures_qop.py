"""Fixtures for onnxruntime's com.microsoft QOperator ops (issue 11, part 5).

Small seeded float models (onnx.helper) quantized by
onnxruntime.quantization.quantize_static(quant_format=QOperator) with MinMax
calibration on 16 seeded inputs:

qop_cnn: Conv -> LeakyRelu -> Conv -> residual Add -> Sigmoid -> Mul(x, sigmoid(x))
  -> AveragePool -> Conv -> Concat(pool, conv) -> GlobalAveragePool -> Flatten -> Gemm;
  uint8 activations, int8 weights per tensor. ORT emits QLinearConv,
  QLinearLeakyRelu, QLinearAdd, QLinearSigmoid, QLinearMul, QLinearAveragePool,
  QLinearConcat, QLinearGlobalAveragePool and QGemm.
qop_gemm_mlp: Gemm(transB=1, alpha) -> LeakyRelu -> Gemm -> Sigmoid -> Mul(h, s) ->
  Add(h) -> Gemm; int8 activations, int8 weights per output channel (QGemm with
  per-column scales, int8 tables).

expected.json / samples.json are onnxruntime's outputs with its default session
options (its own contrib kernels). The CPU that made them has AVX512-VNNI, so
onnxruntime's u8 x s8 products are exact (without VNNI they may saturate; see
docs/NOTES.md "Quantized ONNX models").
Usage: /work/venv-torch/bin/python scripts/fixtures_qop.py
"""
import json
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real")
rng = np.random.default_rng(1105)


def W(name, shape, s=0.3):
    return numpy_helper.from_array(rng.normal(0, s, shape).astype(np.float32), name)


def cnn():
    inits = [W("w1", (4, 3, 3, 3)), W("b1", (4,), 0.1), W("w2", (4, 4, 3, 3)), W("b2", (4,), 0.1),
             W("w3", (4, 4, 1, 1)), W("b3", (4,), 0.1), W("wg", (8, 5)), W("bg", (5,), 0.1)]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("LeakyRelu", ["c1"], ["l1"], alpha=0.1, name="leaky"),
        helper.make_node("Conv", ["l1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Add", ["c2", "l1"], ["r"], name="residual"),
        helper.make_node("Sigmoid", ["r"], ["s"], name="sigmoid"),
        helper.make_node("Mul", ["r", "s"], ["m"], name="gate"),
        helper.make_node("AveragePool", ["m"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("Conv", ["p", "w3", "b3"], ["c3"], name="conv3"),
        helper.make_node("Concat", ["p", "c3"], ["cat"], axis=1, name="concat"),
        helper.make_node("GlobalAveragePool", ["cat"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "wg", "bg"], ["output"], name="fc"),
    ]
    g = helper.make_graph(nodes, "qop_cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 5])], inits)
    return g, (1, 3, 8, 8), dict(activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=False)


def gemm_mlp():
    inits = [W("w1", (12, 6)), W("b1", (12,), 0.1), W("w2", (8, 12)), W("b2", (8,), 0.1),
             W("w3", (3, 8)), W("b3", (3,), 0.1)]
    nodes = [
        helper.make_node("Gemm", ["input", "w1", "b1"], ["h1"], transB=1, alpha=0.75, name="fc1"),
        helper.make_node("LeakyRelu", ["h1"], ["a1"], alpha=0.2, name="leaky"),
        helper.make_node("Gemm", ["a1", "w2", "b2"], ["h2"], transB=1, name="fc2"),
        helper.make_node("Sigmoid", ["h2"], ["s"], name="sigmoid"),
        helper.make_node("Mul", ["h2", "s"], ["m"], name="silu"),
        helper.make_node("Add", ["m", "h2"], ["r"], name="residual"),
        helper.make_node("Gemm", ["r", "w3", "b3"], ["output"], transB=1, name="fc3"),
    ]
    g = helper.make_graph(nodes, "qop_gemm_mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [2, 6])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [2, 3])], inits)
    return g, (2, 6), dict(activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)


class Reader(CalibrationDataReader):
    def __init__(self, xs):
        self.it = iter([{"input": x} for x in xs])

    def get_next(self):
        return next(self.it, None)


def build(name, make):
    graph, shape, qopts = make()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="onnx-example")
    model.ir_version = 8
    onnx.checker.check_model(model)
    calib = [rng.uniform(-1, 1, shape).astype(np.float32) for _ in range(16)]
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    with tempfile.TemporaryDirectory() as tmp:
        fpath = os.path.join(tmp, "float.onnx")
        onnx.save(model, fpath)
        quantize_static(fpath, path, Reader(calib), quant_format=QuantFormat.QOperator, **qopts)
    q = onnx.load(path)
    print(name, sorted({f"{n.domain + '.' if n.domain else ''}{n.op_type}" for n in q.graph.node}))
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    xs = [rng.uniform(-1, 1, shape).astype(np.float32) for _ in range(32)]
    ys = [sess.run(None, {"input": x})[0] for x in xs]
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [xs[0].reshape(-1).tolist()]}, f)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"output_data": [ys[0].reshape(-1).astype(float).tolist()]}, f)
    with open(os.path.join(d, "samples.json"), "w") as f:
        json.dump({"inputs": [[x.reshape(-1).tolist()] for x in xs],
                   "outputs": [y.reshape(-1).astype(float).tolist() for y in ys]}, f)


if __name__ == "__main__":
    build("qop_cnn", cnn)
    build("qop_gemm_mlp", gemm_mlp)
