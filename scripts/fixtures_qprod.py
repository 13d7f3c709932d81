"""Fixtures for products of two quantized activations (issue 11, part 5).

qdq_square_mlp: QDQ MLP with a square activation (Mul(x, x) of one DQ) and a
broadcast Mul of two different activations ([1,8] * [1,1]), then a MatMul.
qlinear_matmul_act: QLinearMatMul whose both operands are computed
(a = QuantizeLinear(x), b = Transpose(a)).

expected.json comes from onnxruntime with graph optimizations disabled, so
every DQ -> float op -> Q runs as written (ONNX semantics with the model's own
scales, float32), not as onnxruntime's fused QLinearMul contrib kernel.
Usage: .venv/bin/python scripts/fixtures_qprod.py
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real")
rng = np.random.default_rng(11)


def init(name, arr):
    return numpy_helper.from_array(arr, name)


def qdq(nodes, inits, x, name, scale, zp):
    """Q -> DQ of float tensor x, uint8 per tensor; returns (q, dq) names."""
    inits += [init(f"{name}_scale", np.array(scale, np.float32)), init(f"{name}_zp", np.array(zp, np.uint8))]
    nodes.append(helper.make_node("QuantizeLinear", [x, f"{name}_scale", f"{name}_zp"], [f"{name}_q"], name=f"{name}/QuantizeLinear"))
    nodes.append(helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_scale", f"{name}_zp"], [f"{name}_dq"], name=f"{name}/DequantizeLinear"))
    return f"{name}_q", f"{name}_dq"


def weight(nodes, inits, name, shape):
    w = rng.normal(0, 0.4, shape).astype(np.float32)
    s = float(np.abs(w).max() / 127)
    q = np.clip(np.round(w / s), -127, 127).astype(np.int8)
    inits += [init(f"{name}_q", q), init(f"{name}_scale", np.array(s, np.float32)), init(f"{name}_zp", np.array(0, np.int8))]
    nodes.append(helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_scale", f"{name}_zp"], [f"{name}_dq"], name=f"{name}/DequantizeLinear"))
    return f"{name}_dq"


def square_mlp():
    nodes, inits = [], []
    _, x = qdq(nodes, inits, "input", "input", 2.0 / 255, 128)
    w1 = weight(nodes, inits, "fc1.weight", (16, 8))
    nodes.append(helper.make_node("MatMul", [x, w1], ["h"], name="/fc1/MatMul"))
    _, h = qdq(nodes, inits, "h", "h", 0.02, 120)
    nodes.append(helper.make_node("Mul", [h, h], ["sq"], name="/square/Mul"))
    _, sq = qdq(nodes, inits, "sq", "sq", 0.012, 3)
    w3 = weight(nodes, inits, "gate.weight", (8, 1))
    nodes.append(helper.make_node("MatMul", [h, w3], ["g"], name="/gate/MatMul"))
    _, g = qdq(nodes, inits, "g", "g", 0.015, 128)
    nodes.append(helper.make_node("Mul", [sq, g], ["m"], name="/gate/Mul"))
    _, m = qdq(nodes, inits, "m", "m", 0.01, 128)
    w2 = weight(nodes, inits, "fc2.weight", (8, 4))
    nodes.append(helper.make_node("MatMul", [m, w2], ["o"], name="/fc2/MatMul"))
    _, o = qdq(nodes, inits, "o", "out", 0.02, 128)
    nodes.append(helper.make_node("Identity", [o], ["output"], name="/out/Identity"))
    graph = helper.make_graph(
        nodes, "qdq_square_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4])], inits)
    x = rng.uniform(-1, 1, (1, 16)).astype(np.float32)
    return graph, x


def qlinear_act():
    nodes, inits = [], []
    inits += [init("a_scale", np.array(1.0 / 64, np.float32)), init("a_zp", np.array(128, np.uint8)),
              init("y_scale", np.array(0.05, np.float32)), init("y_zp", np.array(100, np.uint8))]
    nodes.append(helper.make_node("QuantizeLinear", ["input", "a_scale", "a_zp"], ["a"], name="/quant/QuantizeLinear"))
    nodes.append(helper.make_node("Transpose", ["a"], ["at"], perm=[1, 0], name="/Transpose"))
    nodes.append(helper.make_node("QLinearMatMul", ["a", "a_scale", "a_zp", "at", "a_scale", "a_zp", "y_scale", "y_zp"], ["y"], name="/QLinearMatMul"))
    nodes.append(helper.make_node("DequantizeLinear", ["y", "y_scale", "y_zp"], ["output"], name="/dequant/DequantizeLinear"))
    graph = helper.make_graph(
        nodes, "qlinear_matmul_act",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [4, 4])], inits)
    x = rng.uniform(-1.5, 1.5, (4, 8)).astype(np.float32)
    return graph, x


def qlinear_node_test():
    """onnx's test_qlinearmatmul_2D_uint8_float32: both operands are graph
    inputs (uint8), scales and zero points initializers; the output is uint8."""
    inits = [init("a_scale", np.array([0.0066], np.float32)), init("a_zero_point", np.array([113], np.uint8)),
             init("b_scale", np.array([0.00705], np.float32)), init("b_zero_point", np.array([114], np.uint8)),
             init("y_scale", np.array([0.0107], np.float32)), init("y_zero_point", np.array([118], np.uint8))]
    node = helper.make_node("QLinearMatMul", ["a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point",
                                              "y_scale", "y_zero_point"], ["y"], name="y")
    graph = helper.make_graph(
        [node], "qlinearmatmul_2d_uint8",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 4]),
         helper.make_tensor_value_info("b", TensorProto.UINT8, [4, 3])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [2, 3])], inits)
    a = np.array([[208, 236, 0, 238], [3, 214, 255, 29]], np.uint8)
    b = np.array([[152, 51, 244], [60, 26, 255], [0, 127, 246], [127, 254, 247]], np.uint8)
    return graph, [a, b]


def save_multi(name, graph, xs, samples=31):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onnx-example")
    model.ir_version = 8
    onnx.checker.check_model(model)
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    y = sess.run(None, dict(zip(names, xs)))[0]
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [x.reshape(-1).astype(float).tolist() for x in xs]}, f)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"output_data": [y.reshape(-1).astype(float).tolist()]}, f)
    sets = [xs] + [[rng.integers(0, 256, x.shape).astype(np.uint8) for x in xs] for _ in range(samples)]
    outs = [sess.run(None, dict(zip(names, s)))[0] for s in sets]
    with open(os.path.join(d, "samples.json"), "w") as f:
        json.dump({"inputs": [[x.reshape(-1).astype(float).tolist() for x in s] for s in sets],
                   "outputs": [o.reshape(-1).astype(float).tolist() for o in outs]}, f)
    print(name, y.reshape(-1))


def save(name, graph, x):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pytorch")
    model.ir_version = 8
    onnx.checker.check_model(model)
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"input": x})[0]
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [x.reshape(-1).tolist()]}, f)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"output_data": [y.reshape(-1).astype(float).tolist()]}, f)
    # More inputs for the agreement test (same distribution as input.json).
    xs = [x] + [rng.uniform(-1.5, 1.5, x.shape).astype(np.float32) for _ in range(31)]
    ys = [sess.run(None, {"input": xi})[0] for xi in xs]
    with open(os.path.join(d, "samples.json"), "w") as f:
        json.dump({"inputs": [[xi.reshape(-1).tolist()] for xi in xs],
                   "outputs": [yi.reshape(-1).astype(float).tolist() for yi in ys]}, f)
    print(name, y.reshape(-1)[:8])


if __name__ == "__main__":
    save("qdq_square_mlp", *square_mlp())
    save("qlinear_matmul_act", *qlinear_act())
    save_multi("qlinearmatmul_2d_uint8", *qlinear_node_test())
