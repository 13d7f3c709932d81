"""Fixtures for issue 11 part 2 (external data) and part 6 (constant folding).

Models are built with onnx.helper in the style torch >= 2.9's dynamo exporter
emits (opset 18, node names `node_linear`, initializers `fc1.weight`...), and
saved as torch saves them by default: weights in `model.onnx.data`.
Run: bash scripts/pyenv.sh && .venv/bin/python scripts/fixtures_extdata.py
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "real")
rng = np.random.default_rng(11)


def write(name, model, inputs, external):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    onnx.checker.check_model(model)
    path = os.path.join(d, "model.onnx")
    if external:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=0)
    else:
        onnx.save_model(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {i.name: x for i, x in zip(sess.get_inputs(), inputs)}
    outs = sess.run(None, feeds)
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [x.ravel().tolist() for x in inputs]}, f)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"output_data": [o.ravel().astype(np.float64).tolist() for o in outs]}, f)
    print(name, [o.shape for o in outs])


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def mlp_external():
    """torch.nn.Sequential(Linear(8,16), ReLU, Linear(16,4)) as dynamo exports it."""
    w1 = rng.normal(0, 0.4, (16, 8))
    b1 = rng.normal(0, 0.1, 16)
    w2 = rng.normal(0, 0.4, (4, 16))
    b2 = rng.normal(0, 0.1, 4)
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["linear"], name="node_linear", transB=1),
        helper.make_node("Relu", ["linear"], ["relu"], name="node_relu"),
        helper.make_node("Transpose", ["fc2.weight"], ["val_4"], name="node_Transpose_4", perm=[1, 0]),
        helper.make_node("MatMul", ["relu", "val_4"], ["val_5"], name="node_MatMul_5"),
        helper.make_node("Add", ["val_5", "fc2.bias"], ["linear_1"], name="node_linear_1"),
    ]
    g = helper.make_graph(
        nodes, "main_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("linear_1", TensorProto.FLOAT, [1, 4])],
        [init("fc1.weight", w1), init("fc1.bias", b1), init("fc2.weight", w2), init("fc2.bias", b2)],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], producer_name="pytorch",
                          producer_version="2.9.0", ir_version=10)
    x = rng.normal(0, 1, (1, 8)).astype(np.float32)
    write("mlp_external_data", m, [x], external=True)


def arange_legacy():
    """Positional features as older torch (opset 11) exports `torch.arange`:
    Shape -> Gather -> Unsqueeze -> ConstantOfShape(1) -> NonZero -> Transpose
    -> Squeeze, plus the newer `Range` form with `Mod` (x % 2 parity) and
    `CumSum`; all constant, they fold. x: [1, 6, 4]."""
    w = rng.normal(0, 0.5, (4, 3))
    i64 = lambda name, v: numpy_helper.from_array(np.asarray(v, dtype=np.int64), name)
    f32 = lambda name, v: numpy_helper.from_array(np.asarray(v, dtype=np.float32), name)
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="/Shape"),
        helper.make_node("Gather", ["shape", "one"], ["seq"], name="/Gather", axis=0),
        helper.make_node("Unsqueeze", ["seq"], ["seq_1d"], name="/Unsqueeze", axes=[0]),
        helper.make_node("ConstantOfShape", ["seq_1d"], ["ones"], name="/ConstantOfShape",
                         value=helper.make_tensor("value", TensorProto.INT64, [1], [1])),
        helper.make_node("NonZero", ["ones"], ["nz"], name="/NonZero"),
        helper.make_node("Transpose", ["nz"], ["nz_t"], name="/Transpose", perm=[1, 0]),
        helper.make_node("Squeeze", ["nz_t"], ["pos"], name="/Squeeze", axes=[1]),
        helper.make_node("Cast", ["pos"], ["pos_f"], name="/Cast", to=TensorProto.FLOAT),
        helper.make_node("Div", ["pos_f", "six"], ["pos_n"], name="/Div"),
        helper.make_node("Range", ["zero", "seq", "one"], ["r"], name="/Range"),
        helper.make_node("Mod", ["r", "two"], ["parity"], name="/Mod"),
        helper.make_node("CumSum", ["parity", "zero"], ["csum"], name="/CumSum"),
        helper.make_node("Cast", ["csum"], ["csum_f"], name="/Cast_1", to=TensorProto.FLOAT),
        helper.make_node("Sub", ["pos_n", "csum_f"], ["feat"], name="/Sub"),
        helper.make_node("Unsqueeze", ["feat"], ["feat3"], name="/Unsqueeze_1", axes=[0, 2]),
        helper.make_node("Add", ["x", "feat3"], ["xp"], name="/Add"),
        helper.make_node("MatMul", ["xp", "w"], ["y0"], name="/proj/MatMul"),
        helper.make_node("Relu", ["y0"], ["y"], name="/Relu"),
    ]
    g = helper.make_graph(
        nodes, "torch_jit",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 3])],
        [i64("one", 1), i64("zero", 0), i64("two", 2), f32("six", 6.0), f32("w", w)],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)], producer_name="pytorch",
                          producer_version="1.8", ir_version=6)
    x = rng.normal(0, 1, (1, 6, 4)).astype(np.float32)
    write("arange_nonzero_legacy", m, [x], external=False)


def trig_and_logsumexp():
    """Tan / Asin / Acos on a linear layer's (bounded) output, and
    ReduceLogSumExp over the last axis, in torch's dynamo style (opset 18)."""
    w = rng.normal(0, 0.3, (6, 8))
    nodes = [
        helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["linear"], name="node_linear", transB=1),
        helper.make_node("Tanh", ["linear"], ["t"], name="node_tanh"),
        helper.make_node("Mul", ["t", "k"], ["u"], name="node_mul"),
        helper.make_node("Tan", ["u"], ["tan"], name="node_tan"),
        helper.make_node("Asin", ["u"], ["asin"], name="node_asin"),
        helper.make_node("Acos", ["u"], ["acos"], name="node_acos"),
        helper.make_node("Concat", ["tan", "asin", "acos"], ["cat"], name="node_cat", axis=1),
        helper.make_node("Reshape", ["cat", "shape"], ["r"], name="node_view"),
        helper.make_node("ReduceLogSumExp", ["r", "axes"], ["y"], name="node_logsumexp", keepdims=0),
    ]
    g = helper.make_graph(
        nodes, "main_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("cat", TensorProto.FLOAT, [1, 24]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [init("fc.weight", w.T), init("fc.bias", rng.normal(0, 0.1, 8)), init("k", 0.95),
         numpy_helper.from_array(np.array([1, 4, 6], dtype=np.int64), "shape"),
         numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], producer_name="pytorch",
                          producer_version="2.9.0", ir_version=10)
    x = rng.normal(0, 1, (1, 6)).astype(np.float32)
    write("trig_logsumexp", m, [x], external=False)


if __name__ == "__main__":
    mlp_external()
    arange_legacy()
    trig_and_logsumexp()
