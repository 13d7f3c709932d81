"""Small hand-built ONNX graphs for paths real exporters rarely hit.

int16_cast_affine: x int16 [4] -> Cast(float) -> Mul 0.01 -> Add 1.5: an
integer input of a type wider than the 8-bit check table (the circuit proves
it is an int16: compiler/src/passes/int_input.rs, tests/integer_inputs.rs).
concat_tiny_large: x [4] -> (x * 1e-3, x * 10) -> Concat -> + 0.5 -> Tanh:
values of very different magnitudes meeting in one tensor, for per-tensor
fixed-point scales (the Concat moves one half to the join's scale:
tests/per_tensor_scales.rs).
expected.json from onnxruntime.
Usage: /work/venv-torch/bin/python scripts/fixtures_synthetic.py
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real")


def const(name, v):
    t = numpy_helper.from_array(np.array(v, np.float32))
    t.name = name
    return t


def save(name, nodes, x_type, x, consts, y_len):
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", x_type, [len(x)])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [y_len])],
        [const(k, v) for k, v in consts],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="onnx-example")
    model.ir_version = 8
    onnx.checker.check_model(model)
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    y = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [x.astype(float).tolist()]}, f)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"output_data": [y.reshape(-1).astype(float).tolist()]}, f)
    print(name, y)


save(
    "int16_cast_affine",
    [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["xf", "w"], ["xs"]),
        helper.make_node("Add", ["xs", "b"], ["y"]),
    ],
    TensorProto.INT16,
    np.array([-300, 0, 1234, 77], np.int16),
    [("w", 0.01), ("b", 1.5)],
    4,
)
save(
    "concat_tiny_large",
    [
        helper.make_node("Mul", ["x", "tiny"], ["a"]),
        helper.make_node("Mul", ["x", "large"], ["b"]),
        helper.make_node("Concat", ["a", "b"], ["c"], axis=0),
        helper.make_node("Add", ["c", "half"], ["d"]),
        helper.make_node("Tanh", ["d"], ["y"]),
    ],
    TensorProto.FLOAT,
    np.array([0.31, -0.12, 0.05, 0.2], np.float32),
    [("tiny", 1e-3), ("large", 10.0), ("half", 0.5)],
    8,
)
