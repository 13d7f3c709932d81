"""Integer-typed graph inputs (the circuit reads them at scale 0 and proves
they are integers of their type: compiler/src/passes/int_input.rs).

int16_cast_affine: x int16 [4] -> Cast(float) -> Mul 0.01 -> Add 1.5: a
type wider than the 8-bit check table (Requant + table of the high part).
expected.json from onnxruntime.
Usage: /work/venv-torch/bin/python scripts/fixtures_int_inputs.py
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real")

nodes = [
    helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
    helper.make_node("Mul", ["xf", "w"], ["xs"]),
    helper.make_node("Add", ["xs", "b"], ["y"]),
]
graph = helper.make_graph(
    nodes,
    "int16_cast_affine",
    [helper.make_tensor_value_info("x", TensorProto.INT16, [4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    [numpy_helper.from_array(np.array(0.01, np.float32), "w"), numpy_helper.from_array(np.array(1.5, np.float32), "b")],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="onnx-example")
model.ir_version = 8
onnx.checker.check_model(model)
d = os.path.join(ROOT, "int16_cast_affine")
os.makedirs(d, exist_ok=True)
path = os.path.join(d, "model.onnx")
onnx.save(model, path)
x = np.array([-300, 0, 1234, 77], np.int16)
y = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
with open(os.path.join(d, "input.json"), "w") as f:
    json.dump({"input_data": [x.astype(float).tolist()]}, f)
with open(os.path.join(d, "expected.json"), "w") as f:
    json.dump({"output_data": [y.reshape(-1).astype(float).tolist()]}, f)
print(y)
