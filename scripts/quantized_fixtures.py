"""Small synthetic quantized models for tests/quantized.rs (forms the corpus
lacks): tests/fixtures/qdq_small/{model.onnx,input.json,expected.json}.

QDQ, int8 and uint8: QuantizeLinear(input) -> Conv with per-channel int8
weights and int32 bias (pads 1) -> Q (zero point -128: saturates below, a
fused Relu) -> MaxPool 2x2 -> Q -> Add of two activations (the pooled tensor
and a copy requantized at twice its scale, power-of-two scales so float32
arithmetic is exact: exact ties, which onnxruntime rounds to even) -> Q -> Relu -> uint8 Q at a small
scale (saturates above) -> DequantizeLinear. expected.json is onnxruntime's
output with graph optimizations off.

Usage: bash scripts/pyenv.sh && .venv/bin/python scripts/quantized_fixtures.py
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "qdq_small")


def const(name, value, dtype):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def main():
    rng = np.random.default_rng(7)
    inits = [
        const("xs", 0.02, np.float32), const("xz", 3, np.int8),
        const("w", rng.integers(-127, 128, size=(3, 2, 3, 3)), np.int8),
        const("ws", [0.01, 0.02, 0.015], np.float32), const("wz", [0, 0, 0], np.int8),
        const("b", rng.integers(-2000, 2000, size=(3,)), np.int32),
        const("bs", np.array([0.01, 0.02, 0.015], np.float32) * np.float32(0.02), np.float32),
        const("bz", [0, 0, 0], np.int32),
        const("cs", 0.0625, np.float32), const("cz", -128, np.int8),
        const("hs", 0.125, np.float32), const("hz", -5, np.int8),
        const("as", 0.0713, np.float32), const("az", 10, np.int8),
        const("os", 0.03, np.float32), const("oz", 0, np.uint8),
    ]
    n = helper.make_node
    nodes = [
        n("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q_in"),
        n("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], name="dq_in"),
        n("DequantizeLinear", ["w", "ws", "wz"], ["wd"], name="dq_w", axis=0),
        n("DequantizeLinear", ["b", "bs", "bz"], ["bd"], name="dq_b", axis=0),
        n("Conv", ["xd", "wd", "bd"], ["c"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        n("QuantizeLinear", ["c", "cs", "cz"], ["cq"], name="q_conv"),
        n("DequantizeLinear", ["cq", "cs", "cz"], ["cd"], name="dq_conv"),
        n("MaxPool", ["cd"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        n("QuantizeLinear", ["p", "cs", "cz"], ["pq"], name="q_pool"),
        n("DequantizeLinear", ["pq", "cs", "cz"], ["pd"], name="dq_pool"),
        n("QuantizeLinear", ["pd", "hs", "hz"], ["hq"], name="q_half"),
        n("DequantizeLinear", ["hq", "hs", "hz"], ["hd"], name="dq_half"),
        n("Add", ["pd", "hd"], ["s"], name="add"),
        n("QuantizeLinear", ["s", "as", "az"], ["sq"], name="q_add"),
        n("DequantizeLinear", ["sq", "as", "az"], ["sd"], name="dq_add"),
        n("Relu", ["sd"], ["r"], name="relu"),
        n("QuantizeLinear", ["r", "os", "oz"], ["rq"], name="q_out"),
        n("DequantizeLinear", ["rq", "os", "oz"], ["y"], name="dq_out"),
    ]
    graph = helper.make_graph(
        nodes, "qdq_small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 3, 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(OUT, exist_ok=True)
    onnx.save(model, os.path.join(OUT, "model.onnx"))
    x = rng.uniform(-2.0, 2.0, size=(1, 2, 6, 6)).astype(np.float32)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": x})[0]
    json.dump({"input_data": [x.flatten().astype(float).tolist()]}, open(os.path.join(OUT, "input.json"), "w"))
    json.dump({"output_data": [y.flatten().astype(float).tolist()]}, open(os.path.join(OUT, "expected.json"), "w"))
    print(y.flatten().tolist())


if __name__ == "__main__":
    main()
