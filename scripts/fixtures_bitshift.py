"""BitShift fixtures (opset 11, unsigned integers), exact integer outputs.

bitshift_right_uint8 / bitshift_left_uint8: onnx's node tests
test_bitshift_{right,left}_uint8 (x = [16, 4, 1], y = [1, 2, 3], both graph
inputs; y is bound at compile time as a parameter input).
bitshift_const_uint8: LEFT by constant per-element amounts 0..7 (results wrap
mod 256), then RIGHT by 3.
expected.json from onnxruntime.
Usage: /work/venv-torch/bin/python scripts/fixtures_bitshift.py
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real")


def save(name, graph, feeds):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="onnx-example")
    model.ir_version = 7
    onnx.checker.check_model(model)
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    y = sess.run(None, feeds)[0]
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [v.reshape(-1).astype(float).tolist() for v in feeds.values()]}, f)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"output_data": [y.reshape(-1).astype(float).tolist()]}, f)
    print(name, y.reshape(-1))


for direction in ["RIGHT", "LEFT"]:
    node = helper.make_node("BitShift", ["x", "y"], ["z"], direction=direction)
    g = helper.make_graph([node], f"bitshift_{direction.lower()}_uint8",
                          [helper.make_tensor_value_info("x", TensorProto.UINT8, [3]),
                           helper.make_tensor_value_info("y", TensorProto.UINT8, [3])],
                          [helper.make_tensor_value_info("z", TensorProto.UINT8, [3])])
    save(f"bitshift_{direction.lower()}_uint8", g,
         {"x": np.array([16, 4, 1], np.uint8), "y": np.array([1, 2, 3], np.uint8)})

k = numpy_helper.from_array(np.arange(8, dtype=np.uint8).reshape(1, 8), "k")
three = numpy_helper.from_array(np.array([3], np.uint8), "three")
g = helper.make_graph(
    [helper.make_node("BitShift", ["x", "k"], ["l"], direction="LEFT", name="left"),
     helper.make_node("BitShift", ["l", "three"], ["z"], direction="RIGHT", name="right")],
    "bitshift_const_uint8",
    [helper.make_tensor_value_info("x", TensorProto.UINT8, [2, 8])],
    [helper.make_tensor_value_info("z", TensorProto.UINT8, [2, 8])], [k, three])
save("bitshift_const_uint8", g, {"x": np.array([[255, 200, 77, 129, 16, 3, 250, 99], [0, 1, 2, 64, 128, 33, 7, 255]], np.uint8)})
