"""Values of very different magnitudes meeting in one tensor, for per-tensor
fixed-point scales (compiler/src/passes/lower.rs, `--scales`).

concat_tiny_large: x [4] -> (x * 1e-3, x * 10) -> Concat -> + 0.5 -> Tanh:
the tiny half gets a finer scale than the large one, so the Concat moves
one of them to the join's scale (an `at_scale` node).
expected.json from onnxruntime.
Usage: /work/venv-torch/bin/python scripts/fixtures_scales.py
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real")

f32 = lambda v: numpy_helper.from_array(np.array(v, np.float32))
nodes = [
    helper.make_node("Mul", ["x", "tiny"], ["a"]),
    helper.make_node("Mul", ["x", "large"], ["b"]),
    helper.make_node("Concat", ["a", "b"], ["c"], axis=0),
    helper.make_node("Add", ["c", "half"], ["d"]),
    helper.make_node("Tanh", ["d"], ["y"]),
]
inits = []
for name, v in [("tiny", 1e-3), ("large", 10.0), ("half", 0.5)]:
    t = f32(v)
    t.name = name
    inits.append(t)
graph = helper.make_graph(
    nodes,
    "concat_tiny_large",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8])],
    inits,
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="onnx-example")
model.ir_version = 8
onnx.checker.check_model(model)
d = os.path.join(ROOT, "concat_tiny_large")
os.makedirs(d, exist_ok=True)
path = os.path.join(d, "model.onnx")
onnx.save(model, path)
x = np.array([0.31, -0.12, 0.05, 0.2], np.float32)
y = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
with open(os.path.join(d, "input.json"), "w") as f:
    json.dump({"input_data": [x.astype(float).tolist()]}, f)
with open(os.path.join(d, "expected.json"), "w") as f:
    json.dump({"output_data": [y.reshape(-1).astype(float).tolist()]}, f)
print(y)
