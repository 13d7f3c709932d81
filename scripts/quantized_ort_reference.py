"""ONNX Runtime's quantized outputs for the static quantized corpus models.

For each model in ../shared/corpus/quantized (static forms: qdq, qdq_perchannel,
qop) and tests/fixtures/qdq_small (scripts/quantized_fixtures.py), finds the DequantizeLinear that the graph output is computed from (the
last DQ on the path back from the output), exposes its integer input as an
extra graph output, and runs onnxruntime on the model's input.json and on
SAMPLES extra inputs drawn by a small LCG that tests/quantized.rs reproduces.
Writes tests/fixtures/quantized_ort.json with two runs per model:

- "quantized"/"float": the reference: graph optimizations off
  (ORT_DISABLE_ALL), each ONNX op by its own kernel, with QLinearConv and
  QLinearMatMul replaced by their ONNX definition (DequantizeLinear -> Conv/
  MatMul -> QuantizeLinear), so no integer kernel is involved;
- "fused_quantized"/"fused_float": the model as is with default options
  (ORT_ENABLE_ALL): DQ -> op -> Q groups and the QLinear ops run onnxruntime's
  integer kernels. On x86 CPUs without VNNI those multiply u8 x s8 pairs with
  saturating 16-bit adds (vpmaddubsw; onnxruntime's docs recommend
  reduce_range there), so their results depend on the CPU; reported, not
  asserted.

Dynamic models (*_dynamic: DynamicQuantizeLinear -> MatMulInteger/ConvInteger
-> Cast -> Mul(scale product) -> Add) go to "dynamic_models": onnxruntime with
graph optimizations off, every DynamicQuantizeLinear's uint8 output ("y", by
node name), every integer product's int32 output ("acc", by the name of the
Mul that scales it), that Mul's scale operand ("acc_scale") and the float
output; "fused_float" is the default session (fused integer kernels).

Usage: bash scripts/pyenv.sh && .venv/bin/python scripts/quantized_ort_reference.py
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "..", "shared", "corpus", "quantized")
OUT = os.path.join(ROOT, "tests", "fixtures", "quantized_ort.json")
SAMPLES = 7


def lcg_inputs(base, k):
    """Sample k: uniform over [min, max] of the base input; same LCG as tests/quantized.rs."""
    lo, hi = float(np.min(base)), float(np.max(base))
    state = (0x9E3779B9 * (k + 1)) & 0xFFFFFFFF
    out = []
    for _ in range(len(base)):
        state = (1664525 * state + 1013904223) & 0xFFFFFFFF
        u = (state >> 8) / float(1 << 24)
        out.append(float(np.float32(lo + (hi - lo) * u)))
    return out


def final_dq(model):
    producers = {o: n for n in model.graph.node for o in n.output}
    name = model.graph.output[0].name
    while True:
        n = producers[name]
        if n.op_type == "DequantizeLinear":
            return n
        name = n.input[0]


def decompose(model):
    """QLinearConv/QLinearMatMul -> DequantizeLinear -> Conv/MatMul -> QuantizeLinear."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = []
    for n in model.graph.node:
        if n.op_type not in ("QLinearConv", "QLinearMatMul"):
            nodes.append(n)
            continue
        x, xs, xz, w, ws, wz, ys, yz = n.input[:8]
        h = onnx.helper
        p = n.name + "_ref"
        w_axis = 0 if n.op_type == "QLinearConv" else 1
        nodes.append(h.make_node("DequantizeLinear", [x, xs, xz], [p + "_x"]))
        nodes.append(h.make_node("DequantizeLinear", [w, ws, wz], [p + "_w"], axis=w_axis))
        inputs = [p + "_x", p + "_w"]
        if n.op_type == "QLinearConv" and len(n.input) > 8 and n.input[8]:
            bs = (inits[xs].astype(np.float32) * inits[ws].astype(np.float32)).astype(np.float32)
            model.graph.initializer.append(numpy_helper.from_array(bs.reshape(-1), p + "_bs"))
            nodes.append(h.make_node("DequantizeLinear", [n.input[8], p + "_bs"], [p + "_b"], axis=0))
            inputs.append(p + "_b")
        op = "Conv" if n.op_type == "QLinearConv" else "MatMul"
        attrs = {a.name: h.get_attribute_value(a) for a in n.attribute}
        nodes.append(h.make_node(op, inputs, [p + "_y"], **attrs))
        nodes.append(h.make_node("QuantizeLinear", [p + "_y", ys, yz], [n.output[0]]))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def node_name(n):
    """The node name zkinfer uses in messages and program node names."""
    return n.name if n.name else (n.output[0] if n.output and n.output[0] else n.op_type)


def dynamic_reference(folder):
    model = onnx.load(os.path.join(folder, "model.onnx"))
    consumers = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    extra = []  # (kind, key, tensor)
    for n in model.graph.node:
        if n.op_type == "DynamicQuantizeLinear":
            extra.append(("y", node_name(n), n.output[0]))
        if n.op_type in ("MatMulInteger", "ConvInteger"):
            cast = consumers[n.output[0]][0]
            mul = consumers[cast.output[0]][0]
            assert cast.op_type == "Cast" and mul.op_type == "Mul", (cast.op_type, mul.op_type)
            scale = [i for i in mul.input if i != cast.output[0]][0]
            extra.append(("acc", node_name(mul), n.output[0]))
            extra.append(("acc_scale", node_name(mul), scale))
    for _, _, t in extra:
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    fused = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
    base = json.load(open(os.path.join(folder, "input.json")))["input_data"][0]
    shape = [1 if isinstance(x, str) or x is None else x for x in sess.get_inputs()[0].shape]
    samples = [base] + [lcg_inputs(base, k) for k in range(SAMPLES)]
    last = [key for kind, key, _ in extra if kind == "acc"][-1]
    out = {"samples": len(samples), "last_acc": last, "float": [], "fused_float": [], "y": {}, "acc": {}, "acc_scale": {}}
    for s in samples:
        x = np.array(s, dtype=np.float32).reshape(shape)
        res = sess.run(None, {sess.get_inputs()[0].name: x})
        out["float"].append(res[0].flatten().astype(float).tolist())
        for (kind, key, _), v in zip(extra, res[1:]):
            v = v.flatten()
            val = float(v[0]) if kind == "acc_scale" else v.astype(int).tolist()
            out[kind].setdefault(key, []).append(val)
        f = fused.run(None, {fused.get_inputs()[0].name: x})[0]
        out["fused_float"].append(f.flatten().astype(float).tolist())
    return out


def main():
    result = {}
    dirs = [(d, os.path.join(CORPUS, d)) for d in sorted(os.listdir(CORPUS)) if not d.endswith("_dynamic")]
    dirs.append(("qdq_small", os.path.join(ROOT, "tests", "fixtures", "qdq_small")))
    for d, folder in dirs:
        path = os.path.join(folder, "model.onnx")
        model = onnx.load(path)
        dq = final_dq(model)
        inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        tensor = dq.input[0]
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(tensor))
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        fused = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        ref = decompose(model)
        sess = ort.InferenceSession(ref.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        base = json.load(open(os.path.join(folder, "input.json")))["input_data"][0]
        shape = [1 if isinstance(x, str) or x is None else x for x in sess.get_inputs()[0].shape]
        samples = [base] + [lcg_inputs(base, k) for k in range(SAMPLES)]
        qs, fs, fused_qs, fused_fs = [], [], [], []
        for s in samples:
            x = np.array(s, dtype=np.float32).reshape(shape)
            f, q = sess.run(None, {sess.get_inputs()[0].name: x})
            qs.append(q.flatten().astype(int).tolist())
            fs.append(f.flatten().astype(float).tolist())
            f, q = fused.run(None, {sess.get_inputs()[0].name: x})
            fused_qs.append(q.flatten().astype(int).tolist())
            fused_fs.append(f.flatten().astype(float).tolist())
        result[d] = {
            "tensor": tensor,
            "scale": float(inits[dq.input[1]].flatten()[0]),
            "zero_point": int(inits[dq.input[2]].flatten()[0]) if len(dq.input) > 2 else 0,
            "dtype": str(inits[dq.input[2]].dtype) if len(dq.input) > 2 else "uint8",
            "samples": len(samples),
            "quantized": qs,
            "float": fs,
            "fused_quantized": fused_qs,
            "fused_float": fused_fs,
        }
        print(d, tensor, qs[0][:10], fused_qs[0][:10], file=sys.stderr)
    dynamic = {}
    for d in sorted(os.listdir(CORPUS)):
        if d.endswith("_dynamic"):
            dynamic[d] = dynamic_reference(os.path.join(CORPUS, d))
            print(d, {k: v[0][:6] for k, v in dynamic[d]["y"].items()}, file=sys.stderr)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(
            {"onnxruntime": ort.__version__, "models": result, "dynamic_models": dynamic}, f, separators=(",", ":")
        )
        f.write("\n")


if __name__ == "__main__":
    main()
