#!/usr/bin/env python3
"""A ~200k-parameter GPT for the segments benchmark (issue 14), built with
onnx.helper (no torch): context 64, d_model 64, 4 heads, 4 blocks (pre-LN:
LayerNorm -> causal self-attention -> residual, LayerNorm -> GELU MLP (x4) ->
residual), a final LayerNorm and a 64-way head. The input is the token
embeddings plus positions, [1, 64, 64] floats (the embedding lookup is left
out: an integer gather of a public table). The causal mask is nanoGPT's
`masked_fill(bias == 0, -inf)` as TorchScript exports it: Where(mask, -inf,
att) before Softmax; GELU is the exact erf form torch exports.

    bash scripts/pyenv.sh && .venv/bin/python benches/models/make_gpt.py [OUT_DIR]

Writes OUT_DIR (default benches/models/gpt) /model.onnx, input.json,
calibration.json (4 samples) and expected.json (onnxruntime). Seeded.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

T, D, H, L, V = 64, 64, 4, 4, 64
HD = D // H
rng = np.random.default_rng(14)
nodes, inits = [], []
count = [0]


def name(p):
    count[0] += 1
    return f"{p}_{count[0]}"


def const(arr, p="c"):
    n = name(p)
    inits.append(numpy_helper.from_array(np.asarray(arr), n))
    return n


def op(kind, inputs, p=None, **attrs):
    out = name(p or kind.lower())
    nodes.append(helper.make_node(kind, inputs, [out], **attrs))
    return out


def linear(x, din, dout, p):
    w = const((rng.standard_normal((din, dout)) / np.sqrt(din)).astype(np.float32), p + ".weight")
    b = const((rng.standard_normal(dout) * 0.02).astype(np.float32), p + ".bias")
    return op("Add", [op("MatMul", [x, w]), b])


def layernorm(x, p):
    g = const((1 + 0.1 * rng.standard_normal(D)).astype(np.float32), p + ".weight")
    b = const((0.05 * rng.standard_normal(D)).astype(np.float32), p + ".bias")
    return op("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-5)


def heads(x):  # [1, T, D] -> [1, H, T, HD]
    r = op("Reshape", [x, const(np.array([1, T, H, HD], dtype=np.int64))])
    return op("Transpose", [r], perm=[0, 2, 1, 3])


mask = const(np.triu(np.ones((T, T), dtype=bool), k=1).reshape(1, 1, T, T), "mask")
ninf = const(np.array(-np.inf, dtype=np.float32), "ninf")
x = "x"
for blk in range(L):
    h = layernorm(x, f"h{blk}.ln_1")
    qkv = linear(h, D, 3 * D, f"h{blk}.attn.c_attn")
    q, k, v = name("q"), name("k"), name("v")
    nodes.append(helper.make_node("Split", [qkv, const(np.array([D, D, D], dtype=np.int64))], [q, k, v], axis=2))
    q, k, v = heads(q), heads(k), heads(v)
    att = op("Mul", [op("MatMul", [q, op("Transpose", [k], perm=[0, 1, 3, 2])]),
                     const(np.array(1 / np.sqrt(HD), dtype=np.float32))])
    att = op("Softmax", [op("Where", [mask, ninf, att])], axis=-1)
    y = op("Transpose", [op("MatMul", [att, v])], perm=[0, 2, 1, 3])
    y = op("Reshape", [y, const(np.array([1, T, D], dtype=np.int64))])
    x = op("Add", [x, linear(y, D, D, f"h{blk}.attn.c_proj")])
    h = linear(layernorm(x, f"h{blk}.ln_2"), D, 4 * D, f"h{blk}.mlp.c_fc")
    erf = op("Erf", [op("Div", [h, const(np.array(np.sqrt(2), dtype=np.float32))])])
    g = op("Mul", [op("Mul", [h, op("Add", [erf, const(np.array(1, dtype=np.float32))])]),
                   const(np.array(0.5, dtype=np.float32))])
    x = op("Add", [x, linear(g, 4 * D, D, f"h{blk}.mlp.c_proj")])
logits = linear(layernorm(x, "ln_f"), D, V, "lm_head")
nodes.append(helper.make_node("Identity", [logits], ["logits"]))
graph = helper.make_graph(nodes, "gpt", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, T, D])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, T, V])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="zkinfer make_gpt.py")
onnx.checker.check_model(model)
params = sum(int(np.prod(i.dims)) for i in inits if i.name not in (mask, ninf) and i.data_type == TensorProto.FLOAT
             and int(np.prod(i.dims)) > 1)

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt")
os.makedirs(out, exist_ok=True)
onnx.save(model, os.path.join(out, "model.onnx"))
samples = [(0.5 * rng.standard_normal((1, T, D))).astype(np.float32) for _ in range(5)]
sess = ort.InferenceSession(os.path.join(out, "model.onnx"), providers=["CPUExecutionProvider"])
y = sess.run(None, {"x": samples[0]})[0]
json.dump({"input_data": [samples[0].flatten().tolist()]}, open(os.path.join(out, "input.json"), "w"))
json.dump({"calibration_data": [[s.flatten().tolist()] for s in samples]}, open(os.path.join(out, "calibration.json"), "w"))
json.dump({"output_data": [y.flatten().tolist()]}, open(os.path.join(out, "expected.json"), "w"))
print(f"wrote {out}/model.onnx: {params} parameters, {len(nodes)} nodes; logits range "
      f"[{y.min():.3f}, {y.max():.3f}]")
