#!/usr/bin/env python3
"""Build the zkinfer example ONNX models deterministically.

Produces, for each of examples/mlp and examples/cnn:
  model.onnx        opset-13 model built with onnx.helper (no torch)
  input.json        {"input_data": [[...784 floats...]]}          (EZKL form)
  expected.json     {"output_data": [[...10 floats...]], "shapes": [[1, 10]]}
                    computed with onnxruntime (CPU, graph optimizations disabled)
  calibration.json  {"calibration_data": [[[...sample0...]], [[...sample1...]], ...]}
                    i.e. samples -> inputs -> flattened floats

Both models are trained for a few seconds with plain numpy on a synthetic
10-class data set of 28x28 "digit-like" stroke images with values in [0, 1].

Regenerate with:
  bash scripts/pyenv.sh && .venv/bin/python examples/make_examples.py
"""

import json
import os
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240521
OPSET = 13
N_TRAIN = 6000
N_TEST = 2000
N_CALIB = 8
ROUND = 4
BN_EPS = 1e-5

# ----------------------------------------------------------------------------
# Synthetic "digit-like" data
# ----------------------------------------------------------------------------


def _arc(cx, cy, rx, ry, a0, a1, n=40):
    t = np.linspace(np.deg2rad(a0), np.deg2rad(a1), n)
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)


def _line(x0, y0, x1, y1, n=25):
    t = np.linspace(0.0, 1.0, n)[:, None]
    return np.array([x0, y0]) * (1 - t) + np.array([x1, y1]) * t


# Stroke templates in a [-1, 1]^2 box (x right, y down), one list per class.
TEMPLATES = [
    [_arc(0, 0, 0.55, 0.8, 0, 360, 80)],  # 0
    [_line(0.05, -0.8, 0.05, 0.8), _line(-0.25, -0.5, 0.05, -0.8)],  # 1
    [_arc(0, -0.35, 0.5, 0.45, 160, -20), _line(0.45, -0.2, -0.5, 0.8),
     _line(-0.5, 0.8, 0.55, 0.8)],  # 2
    [_arc(0, -0.4, 0.45, 0.4, 150, -90), _arc(0, 0.4, 0.5, 0.4, 90, -150)],  # 3
    [_line(0.25, -0.8, 0.25, 0.8), _line(0.25, -0.8, -0.55, 0.3),
     _line(-0.55, 0.3, 0.6, 0.3)],  # 4
    [_line(0.5, -0.8, -0.4, -0.8), _line(-0.4, -0.8, -0.45, -0.1),
     _arc(0, 0.3, 0.5, 0.45, 140, -150)],  # 5
    [_arc(0.05, 0.35, 0.45, 0.45, 0, 360, 60),
     _arc(0.45, 0.0, 0.85, 0.8, 110, 185)],  # 6
    [_line(-0.55, -0.8, 0.55, -0.8), _line(0.55, -0.8, -0.1, 0.8)],  # 7
    [_arc(0, -0.42, 0.38, 0.38, 0, 360, 50), _arc(0, 0.4, 0.48, 0.42, 0, 360, 60)],  # 8
    [_arc(-0.05, -0.35, 0.45, 0.42, 0, 360, 60), _line(0.4, -0.35, 0.3, 0.8)],  # 9
]
TEMPLATES = [np.concatenate(strokes, axis=0) for strokes in TEMPLATES]

_YY, _XX = np.mgrid[0:28, 0:28].astype(np.float64)
_PIX = np.stack([_XX.ravel(), _YY.ravel()], axis=1)  # (784, 2) as (x, y)
_PIX2 = (_PIX * _PIX).sum(1)


def render(label, rng):
    """Render one 28x28 image of class `label` with random distortions."""
    pts = TEMPLATES[label]
    ang = np.deg2rad(rng.uniform(-12, 12))
    shear = rng.uniform(-0.2, 0.2)
    sx, sy = rng.uniform(0.85, 1.1, size=2)
    a = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    a = a @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, sy])
    p = pts @ a.T
    p = p + rng.normal(0, 0.04, size=p.shape)  # wobbly strokes
    p = p * 9.5 + np.array([13.5, 13.5]) + rng.uniform(-2, 2, size=2)
    sigma = rng.uniform(0.8, 1.3)
    # A short random distractor stroke makes the task less trivial.
    c = rng.uniform(3, 25, size=2)
    t = rng.uniform(0, np.pi)
    dl = rng.uniform(2, 6) * np.array([np.cos(t), np.sin(t)])
    p = np.concatenate([p, _line(*(c - dl / 2), *(c + dl / 2), n=10)], axis=0)
    d2 = (_PIX2[:, None] + (p * p).sum(1)[None, :] - 2.0 * _PIX @ p.T).min(axis=1)
    img = np.exp(-np.maximum(d2, 0) / (2 * sigma * sigma)) * rng.uniform(0.6, 1.0)
    img = img + rng.normal(0, 0.1, size=img.shape)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def make_dataset(n, rng):
    y = rng.integers(0, 10, size=n)
    x = np.stack([render(int(c), rng) for c in y])
    return x, y


# ----------------------------------------------------------------------------
# Small numpy training helpers
# ----------------------------------------------------------------------------


def softmax_xent(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.log(p[np.arange(n), y] + 1e-12).mean()
    g = p
    g[np.arange(n), y] -= 1.0
    return loss, g / n


class Adam:
    def __init__(self, params, lr, b1=0.9, b2=0.999, wd=1e-4):
        self.params, self.lr, self.b1, self.b2, self.wd, self.t = params, lr, b1, b2, wd, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads):
        self.t += 1
        c1 = 1 - self.b1 ** self.t
        c2 = 1 - self.b2 ** self.t
        for k, g in grads.items():
            if self.params[k].ndim > 1:
                g = g + self.wd * self.params[k]
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            self.params[k] -= self.lr * (self.m[k] / c1) / (np.sqrt(self.v[k] / c2) + 1e-8)


class SGD:
    def __init__(self, params, lr, momentum=0.9, wd=1e-4):
        self.params, self.lr, self.m, self.wd = params, lr, momentum, wd
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads):
        for k, g in grads.items():
            if self.params[k].ndim > 1:
                g = g + self.wd * self.params[k]
            self.v[k] = self.m * self.v[k] - self.lr * g
            self.params[k] += self.v[k]


def he(rng, shape, fan_in):
    return (rng.normal(0, np.sqrt(2.0 / fan_in), size=shape)).astype(np.float64)


# ---- MLP -------------------------------------------------------------------


def mlp_forward(P, x, cache=False):
    h1p = x @ P["w1"].T + P["b1"]
    h1 = np.maximum(h1p, 0)
    h2p = h1 @ P["w2"].T + P["b2"]
    h2 = np.maximum(h2p, 0)
    out = h2 @ P["w3"].T + P["b3"]
    if cache:
        return out, (x, h1p, h1, h2p, h2)
    return out


def mlp_backward(P, cache, g):
    x, h1p, h1, h2p, h2 = cache
    G = {"w3": g.T @ h2, "b3": g.sum(0)}
    g = (g @ P["w3"]) * (h2p > 0)
    G["w2"], G["b2"] = g.T @ h1, g.sum(0)
    g = (g @ P["w2"]) * (h1p > 0)
    G["w1"], G["b1"] = g.T @ x, g.sum(0)
    return G


def train_mlp(xtr, ytr, rng, epochs=4, bs=64):
    P = {
        "w1": he(rng, (32, 784), 784), "b1": np.zeros(32),
        "w2": he(rng, (16, 32), 32), "b2": np.zeros(16),
        "w3": he(rng, (10, 16), 16), "b3": np.zeros(10),
    }
    opt = SGD(P, lr=0.05)
    x = xtr.reshape(len(xtr), -1).astype(np.float64)
    for ep in range(epochs):
        perm = rng.permutation(len(x))
        tot = 0.0
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            out, cache = mlp_forward(P, x[idx], cache=True)
            loss, g = softmax_xent(out, ytr[idx])
            opt.step(mlp_backward(P, cache, g))
            tot += loss * len(idx)
        print(f"  mlp epoch {ep + 1}: loss {tot / len(x):.4f}")
    return P


# ---- CNN -------------------------------------------------------------------


def im2col(x, k, stride, pad):
    """x: (N, C, H, W) -> cols (N, OH, OW, C*k*k), matching OIHW weight layout."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    cols = np.empty((n, c, k, k, oh, ow), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(n, oh, ow, c * k * k), oh, ow


def col2im(dcols, xshape, k, stride, pad, oh, ow):
    n, c, h, w = xshape
    d = dcols.reshape(n, oh, ow, c, k, k).transpose(0, 3, 4, 5, 1, 2)
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=dcols.dtype)
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += d[:, :, i, j]
    return dxp[:, :, pad:pad + h, pad:pad + w]


def conv_fwd(x, w, b, stride, pad):
    k = w.shape[2]
    cols, oh, ow = im2col(x, k, stride, pad)
    out = cols @ w.reshape(w.shape[0], -1).T + b  # (N, OH, OW, O)
    return out.transpose(0, 3, 1, 2), cols, oh, ow


def conv_bwd(g, x, w, cols, stride, pad, oh, ow):
    k = w.shape[2]
    g2 = g.transpose(0, 2, 3, 1)  # (N, OH, OW, O)
    gw = np.tensordot(g2, cols, axes=([0, 1, 2], [0, 1, 2])).reshape(w.shape)
    gb = g2.sum(axis=(0, 1, 2))
    dcols = g2 @ w.reshape(w.shape[0], -1)
    return col2im(dcols, x.shape, k, stride, pad, oh, ow), gw, gb


def cnn_forward(P, bn_mean, bn_var, x, cache=False):
    c1, cols1, oh1, ow1 = conv_fwd(x, P["c1w"], P["c1b"], 1, 1)  # (N,4,28,28)
    inv = 1.0 / np.sqrt(bn_var + BN_EPS)
    xhat = (c1 - bn_mean[None, :, None, None]) * inv[None, :, None, None]
    bn = P["gamma"][None, :, None, None] * xhat + P["beta"][None, :, None, None]
    r1 = np.maximum(bn, 0)
    n = x.shape[0]
    r1v = r1.reshape(n, 4, 14, 2, 14, 2)
    mp = r1v.max(axis=(3, 5))  # (N,4,14,14)
    c2, cols2, oh2, ow2 = conv_fwd(mp, P["c2w"], P["c2b"], 2, 1)  # (N,8,7,7)
    r2 = np.maximum(c2, 0)
    ap = r2[:, :, :6, :6].reshape(n, 8, 3, 2, 3, 2).mean(axis=(3, 5))  # (N,8,3,3)
    flat = ap.reshape(n, -1)  # 72
    out = flat @ P["fw"].T + P["fb"]
    if cache:
        return out, (x, c1, cols1, oh1, ow1, xhat, inv, bn, r1v, mp, c2, cols2, oh2, ow2, flat)
    return out


def cnn_backward(P, cache, g):
    x, c1, cols1, oh1, ow1, xhat, inv, bn, r1v, mp, c2, cols2, oh2, ow2, flat = cache
    n = x.shape[0]
    G = {"fw": g.T @ flat, "fb": g.sum(0)}
    g = (g @ P["fw"]).reshape(n, 8, 3, 3)
    gr2 = np.zeros_like(c2)
    gr2[:, :, :6, :6] = np.repeat(np.repeat(g, 2, axis=2), 2, axis=3) / 4.0
    gc2 = gr2 * (c2 > 0)
    gmp, G["c2w"], G["c2b"] = conv_bwd(gc2, mp, P["c2w"], cols2, 2, 1, oh2, ow2)
    # max-pool backward (route to first max within each window)
    win = r1v.transpose(0, 1, 2, 4, 3, 5).reshape(n, 4, 14, 14, 4)
    arg = win.argmax(-1)
    gwin = np.zeros_like(win)
    np.put_along_axis(gwin, arg[..., None], gmp[..., None], axis=-1)
    gr1 = gwin.reshape(n, 4, 14, 14, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, 4, 28, 28)
    gbn = gr1 * (bn > 0)
    G["gamma"] = (gbn * xhat).sum(axis=(0, 2, 3))
    G["beta"] = gbn.sum(axis=(0, 2, 3))
    gc1 = gbn * (P["gamma"] * inv)[None, :, None, None]
    _, G["c1w"], G["c1b"] = conv_bwd(gc1, x, P["c1w"], cols1, 1, 1, oh1, ow1)
    return G


def conv1_stats(P, x, bs=500):
    s, s2, cnt = np.zeros(4), np.zeros(4), 0
    for i in range(0, len(x), bs):
        c1, _, _, _ = conv_fwd(x[i:i + bs], P["c1w"], P["c1b"], 1, 1)
        s += c1.sum(axis=(0, 2, 3))
        s2 += (c1 ** 2).sum(axis=(0, 2, 3))
        cnt += c1.shape[0] * c1.shape[2] * c1.shape[3]
    m = s / cnt
    return m, s2 / cnt - m * m


def train_cnn(xtr, ytr, rng, epochs=5, bs=64):
    P = {
        "c1w": he(rng, (4, 1, 3, 3), 9), "c1b": np.zeros(4),
        "gamma": np.ones(4), "beta": np.zeros(4),
        "c2w": he(rng, (8, 4, 3, 3), 36), "c2b": np.zeros(8),
        "fw": he(rng, (10, 72), 72), "fb": np.zeros(10),
    }
    x = xtr.reshape(-1, 1, 28, 28).astype(np.float32)
    # BN is trained as a per-channel affine with frozen statistics (those of
    # the initial conv1 on the training data), re-estimated each epoch with
    # gamma/beta adjusted so the function is unchanged; at the end the
    # exported running stats are the exact training-set stats of conv1.
    mean, var = conv1_stats(P, x)
    opt = Adam(P, lr=0.01)
    for ep in range(epochs):
        perm = rng.permutation(len(x))
        tot = 0.0
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            out, cache = cnn_forward(P, mean, var, x[idx], cache=True)
            loss, g = softmax_xent(out, ytr[idx])
            opt.step(cnn_backward(P, cache, g))
            tot += loss * len(idx)
        mean, var = rebase_bn(P, mean, var, *conv1_stats(P, x))
        print(f"  cnn epoch {ep + 1}: loss {tot / len(x):.4f}")
    return P, mean, var


def rebase_bn(P, m_old, v_old, m_new, v_new):
    """Swap BN stats to (m_new, v_new) while keeping y = BN(x) unchanged."""
    s_old = np.sqrt(v_old + BN_EPS)
    s_new = np.sqrt(v_new + BN_EPS)
    P["beta"] = P["beta"] + P["gamma"] * (m_new - m_old) / s_old
    P["gamma"] = P["gamma"] * s_new / s_old
    return m_new, v_new


# ----------------------------------------------------------------------------
# ONNX export
# ----------------------------------------------------------------------------


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def build_mlp_onnx(P):
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["fc1_out"], name="fc1", transB=1),
        helper.make_node("Relu", ["fc1_out"], ["relu1_out"], name="relu1"),
        helper.make_node("Gemm", ["relu1_out", "fc2.weight", "fc2.bias"], ["fc2_out"], name="fc2", transB=1),
        helper.make_node("Relu", ["fc2_out"], ["relu2_out"], name="relu2"),
        helper.make_node("Gemm", ["relu2_out", "fc3.weight", "fc3.bias"], ["output"], name="fc3", transB=1),
    ]
    inits = [
        init("fc1.weight", P["w1"]), init("fc1.bias", P["b1"]),
        init("fc2.weight", P["w2"]), init("fc2.bias", P["b2"]),
        init("fc3.weight", P["w3"]), init("fc3.bias", P["b3"]),
    ]
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 784])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])],
        initializer=inits,
    )
    return finish(graph, "zkinfer example MLP 784-32-16-10 (synthetic digits)")


def build_cnn_onnx(P, mean, var):
    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1_out"], name="conv1",
                         kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], group=1),
        helper.make_node("BatchNormalization",
                         ["conv1_out", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"],
                         ["bn1_out"], name="bn1", epsilon=BN_EPS, momentum=0.9),
        helper.make_node("Relu", ["bn1_out"], ["relu1_out"], name="relu1"),
        helper.make_node("MaxPool", ["relu1_out"], ["pool1_out"], name="pool1",
                         kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]),
        helper.make_node("Conv", ["pool1_out", "conv2.weight", "conv2.bias"], ["conv2_out"], name="conv2",
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], dilations=[1, 1], group=1),
        helper.make_node("Relu", ["conv2_out"], ["relu2_out"], name="relu2"),
        helper.make_node("AveragePool", ["relu2_out"], ["pool2_out"], name="pool2",
                         kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]),
        helper.make_node("Flatten", ["pool2_out"], ["flat_out"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat_out", "fc.weight", "fc.bias"], ["output"], name="fc", transB=1),
    ]
    inits = [
        init("conv1.weight", P["c1w"]), init("conv1.bias", P["c1b"]),
        init("bn1.weight", P["gamma"]), init("bn1.bias", P["beta"]),
        init("bn1.running_mean", mean), init("bn1.running_var", var),
        init("conv2.weight", P["c2w"]), init("conv2.bias", P["c2b"]),
        init("fc.weight", P["fw"]), init("fc.bias", P["fb"]),
    ]
    graph = helper.make_graph(
        nodes, "cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])],
        initializer=inits,
    )
    return finish(graph, "zkinfer example CNN conv-bn-relu-maxpool-conv-relu-avgpool-gemm (synthetic digits)")


def finish(graph, doc):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="zkinfer-examples", producer_version="1")
    model.ir_version = 8  # opset 13 era; widely readable
    model.doc_string = doc
    onnx.checker.check_model(model, full_check=True)
    return model


# ----------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------


def ort_session(path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)
        f.write("\n")


def rounded(img):
    return [round(float(v), ROUND) for v in img.ravel()]


def emit(name, model, in_shape, xte, yte, sample_idx, calib_idx):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    onnx.checker.check_model(path, full_check=True)
    sess = ort_session(path)

    # Held-out accuracy through onnxruntime (one sample at a time: the CNN
    # has a fixed batch of 1).
    correct = 0
    for i in range(len(xte)):
        out = sess.run(None, {"input": xte[i].reshape(in_shape)})[0]
        correct += int(out.argmax() == yte[i])
    acc = correct / len(xte)

    inp = rounded(xte[sample_idx])
    x = np.array(inp, dtype=np.float32).reshape(in_shape)
    out = sess.run(None, {"input": x})[0]
    write_json(os.path.join(d, "input.json"), {"input_data": [inp]})
    write_json(os.path.join(d, "expected.json"),
               {"output_data": [[float(v) for v in out.ravel()]], "shapes": [list(out.shape)]})
    write_json(os.path.join(d, "calibration.json"),
               {"calibration_data": [[rounded(xte[i])] for i in calib_idx]})

    calib_out = np.concatenate([
        sess.run(None, {"input": np.array(rounded(xte[i]), dtype=np.float32).reshape(in_shape)})[0].ravel()
        for i in calib_idx])
    print(f"{name}: held-out accuracy {acc * 100:.2f}% on {len(xte)} samples; "
          f"model.onnx {os.path.getsize(path)} bytes")
    print(f"  sample #{sample_idx} label {int(yte[sample_idx])} -> argmax {int(out.argmax())}, "
          f"output range [{out.min():.4f}, {out.max():.4f}]; calibration output range "
          f"[{calib_out.min():.4f}, {calib_out.max():.4f}]")
    return acc


def main():
    t0 = time.time()
    rng = np.random.default_rng(SEED)
    xtr, ytr = make_dataset(N_TRAIN, rng)
    xte, yte = make_dataset(N_TEST, rng)
    print(f"data: {N_TRAIN} train / {N_TEST} test, {time.time() - t0:.1f}s")

    sample_idx = 0
    calib_idx = list(range(1, 1 + N_CALIB))

    t = time.time()
    P = train_mlp(xtr, ytr, np.random.default_rng(SEED + 1))
    print(f"  mlp trained in {time.time() - t:.1f}s")
    emit("mlp", build_mlp_onnx(P), (1, 784), xte, yte, sample_idx, calib_idx)

    t = time.time()
    P, mean, var = train_cnn(xtr, ytr, np.random.default_rng(SEED + 2))
    print(f"  cnn trained in {time.time() - t:.1f}s; bn running_mean {np.round(mean, 3)}, "
          f"running_var {np.round(var, 3)}")
    emit("cnn", build_cnn_onnx(P, mean, var), (1, 1, 28, 28), xte, yte, sample_idx, calib_idx)
    print(f"done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
