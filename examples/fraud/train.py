"""The fraud example's models: one architecture, two weight sets.

A tabular MLP (30 features -> 16 -> 8 -> 1, sigmoid) scores card
transactions. The data set is synthetic, seeded and imbalanced (2% fraud).
Each transaction has 30 standardized features; the first ten are named
(amount, hour, merchant category risk, velocity 1h, velocity 24h, distance
from home, new device, foreign, card age, failed attempts), the rest are
anonymized components, as in the public card-fraud data sets.

- v1 is trained on "last month": fraud is large, fast, far-away purchases
  (amount, velocity, distance shifted up).
- v2 is retrained after the fraud pattern shifts: small amounts on new
  devices abroad with failed attempts (features 6..10), which v1 misses.

Both are exported by torch's TorchScript exporter with a dynamic batch, as
users export. The same compiled architecture, key and verifier prove both;
only the weights' commitment changes.

Writes, next to this file: model_v1.onnx, model_v2.onnx, calibration.json
(typical transactions of both months, all legitimate), flagged_v1.json (an
old-pattern fraud v1 flags), flagged_v2.json (a new-pattern fraud v2 flags and
v1 misses) and expected.json (onnxruntime's scores of both cases under both
models).

    python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install -r scripts/requirements-torch.txt
    /tmp/venv-torch/bin/python examples/fraud/train.py
"""

import json
import os

import numpy as np
import onnxruntime as ort
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = 30
SEED = 20261204


def transactions(rng, n, fraud=None):
    x = rng.normal(0.0, 1.0, size=(n, FEATURES))
    if fraud == "v1":
        # Large, fast, far away: amount, velocities, distance.
        x[:, [0, 3, 4, 5]] = rng.normal(2.2, 1.2, size=(n, 4))
    elif fraud == "v2":
        # Small amounts, new device, foreign, failed attempts.
        x[:, 0] = rng.normal(-0.8, 0.5, size=n)
        x[:, [6, 7, 9]] = rng.normal(2.0, 1.0, size=(n, 3))
    return x.astype(np.float32)


def month(rng, pattern, n=4000, fraud_share=0.02):
    n_fraud = int(n * fraud_share)
    x = np.concatenate([transactions(rng, n - n_fraud), transactions(rng, n_fraud, pattern)])
    y = np.concatenate([np.zeros(n - n_fraud), np.ones(n_fraud)]).astype(np.float32)
    return x, y


def train(x, y, seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 1),
        torch.nn.Sigmoid(),
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)[:, None]
    weight = 1.0 + 9.0 * yt  # fraud weighted up: the usual answer to imbalance
    for _ in range(600):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy(model(xt), yt, weight=weight)
        loss.backward()
        opt.step()
    return model.eval()


def export(model, name):
    path = os.path.join(HERE, name)
    torch.onnx.export(
        model,
        (torch.zeros(1, FEATURES),),
        path,
        input_names=["transaction"],
        output_names=["fraud_probability"],
        dynamic_axes={"transaction": {0: "batch"}, "fraud_probability": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return lambda t: float(sess.run(None, {"transaction": t[None, :]})[0][0, 0])


def main():
    rng = np.random.default_rng(SEED)
    x1, y1 = month(rng, "v1")
    # v2 is retrained on the new month plus the old one (old fraud still happens).
    x2, y2 = month(rng, "v2")
    v1 = export(train(x1, y1, SEED), "model_v1.onnx")
    v2 = export(train(np.concatenate([x1, x2]), np.concatenate([y1, y2]), SEED + 1), "model_v2.onnx")

    typical = transactions(rng, 64)
    calib = [t for t in typical if v1(t) < 0.05 and v2(t) < 0.05][:16]
    assert len(calib) == 16
    old = transactions(rng, 64, "v1")
    new = transactions(rng, 64, "v2")
    case1 = next(t for t in old if 0.6 < v1(t) < 0.98 and v2(t) > 0.5)
    case2 = next(t for t in new if v2(t) > 0.6 and v1(t) < 0.2)

    def dump(name, obj):
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(obj, f)

    dump("calibration.json", {"calibration_data": [[[float(v) for v in t]] for t in calib]})
    dump("flagged_v1.json", {"input_data": [[float(v) for v in case1]]})
    dump("flagged_v2.json", {"input_data": [[float(v) for v in case2]]})
    dump(
        "expected.json",
        {
            "flagged_v1": {"v1": v1(case1), "v2": v2(case1)},
            "flagged_v2": {"v1": v1(case2), "v2": v2(case2)},
        },
    )
    recall = lambda f, xs: float(np.mean([f(t) > 0.5 for t in xs]))
    print(f"old-pattern fraud flagged: v1 {recall(v1, old):.2f}, v2 {recall(v2, old):.2f}")
    print(f"new-pattern fraud flagged: v1 {recall(v1, new):.2f}, v2 {recall(v2, new):.2f}")
    print(f"false positives on typical: v1 {recall(v1, typical):.2f}, v2 {recall(v2, typical):.2f}")
    print(f"case v1: v1 {v1(case1):.4f} v2 {v2(case1):.4f}; case v2: v1 {v1(case2):.4f} v2 {v2(case2):.4f}")


if __name__ == "__main__":
    main()
