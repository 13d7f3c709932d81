"""Models that are *not* another weight set of the fraud example's
architecture, for `prove --weights` / `commitment --weights` errors
(tests/committed_params.rs). Derived from examples/fraud/model_v1.onnx with
the onnx package (no torch needed):

- wider.onnx: the first hidden layer has 17 units (weight tensors of another shape);
- tanh.onnx: Tanh instead of the first Relu (another op, same weights);
- huge.onnx: the first layer's weights times 1e12 (values that do not fit
  the compiled ranges).

    bash scripts/pyenv.sh && .venv/bin/python scripts/fixtures_params.py
"""

import os

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "examples", "fraud", "model_v1.onnx")
OUT = os.path.join(ROOT, "tests", "fixtures", "params")


def load():
    return onnx.load(SRC)


def set_init(m, name, arr):
    for i, t in enumerate(m.graph.initializer):
        if t.name == name:
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(arr.astype(np.float32), name))
            return
    raise KeyError(name)


def get(m, name):
    return next(numpy_helper.to_array(t) for t in m.graph.initializer if t.name == name)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)

    m = load()
    w0, b0, w2 = get(m, "0.weight"), get(m, "0.bias"), get(m, "2.weight")
    set_init(m, "0.weight", np.concatenate([w0, rng.normal(0, 0.2, (1, w0.shape[1]))]))
    set_init(m, "0.bias", np.concatenate([b0, [0.0]]))
    set_init(m, "2.weight", np.concatenate([w2, rng.normal(0, 0.2, (w2.shape[0], 1))], axis=1))
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "wider.onnx"))

    m = load()
    relu = next(n for n in m.graph.node if n.op_type == "Relu")
    relu.op_type = "Tanh"
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "tanh.onnx"))

    m = load()
    set_init(m, "0.weight", get(m, "0.weight") * 1e12)
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "huge.onnx"))
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
