"""The flagship fixture of issue 11: an imbalanced fraud classifier.

A tabular MLP (30 features -> 16 -> 8 -> 1, sigmoid output) trained with
torch on seeded synthetic transactions of which 2% are fraud, exported with
torch's TorchScript exporter (dynamic batch, as users export). It is
calibrated on eight *typical* transactions only (calibration.json: every one
scored as legitimate, as samples drawn from imbalanced data almost always
are) and proven on a *fraud* transaction (input.json), the one input the
model exists for. expected.json is onnxruntime's output.

Writes tests/fixtures/real/fraud_mlp/{model.onnx,calibration.json,input.json,
expected.json} and, for the rare-case test, fraud_cases.json (more fraud
transactions with their onnxruntime scores).

    /path/to/venv/bin/pip install -r scripts/requirements-torch.txt
    /path/to/venv/bin/python scripts/fixtures_fraud.py
"""

import json
import os

import numpy as np
import onnxruntime as ort
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "real", "fraud_mlp")
FEATURES = 30


def transactions(rng, n, fraud):
    x = rng.normal(0.0, 1.0, size=(n, FEATURES))
    if fraud:
        # Fraud shifts a few features (amount, velocity, distance, hour,
        # merchant risk) and widens them.
        x[:, :5] = rng.normal(2.2, 1.5, size=(n, 5))
    return x.astype(np.float32)


def main():
    rng = np.random.default_rng(20261203)
    torch.manual_seed(20261203)
    n, n_fraud = 4000, 80  # 2% fraud
    x = np.concatenate([transactions(rng, n - n_fraud, False), transactions(rng, n_fraud, True)])
    y = np.concatenate([np.zeros(n - n_fraud), np.ones(n_fraud)]).astype(np.float32)
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
    # Fraud weighted up (the usual answer to imbalance), still a probability.
    weight = 1.0 + 9.0 * yt
    for _ in range(800):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy(model(xt), yt, weight=weight)
        loss.backward()
        opt.step()
    model.eval()
    os.makedirs(ROOT, exist_ok=True)
    path = os.path.join(ROOT, "model.onnx")
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
    score = lambda t: float(sess.run(None, {"transaction": t[None, :]})[0][0, 0])

    typical = transactions(rng, 64, False)
    calib = [t for t in typical if score(t) < 0.05][:8]
    assert len(calib) == 8
    fraud = transactions(rng, 64, True)
    scores = [score(t) for t in fraud]
    # The proven case: flagged, but not saturated (the 0.579 case).
    flagged = [i for i, p in enumerate(scores) if 0.5 < p < 0.95]
    assert flagged, scores
    case = fraud[flagged[0]]
    with open(os.path.join(ROOT, "calibration.json"), "w") as f:
        json.dump({"calibration_data": [[[float(v) for v in t]] for t in calib]}, f)
    with open(os.path.join(ROOT, "input.json"), "w") as f:
        json.dump({"input_data": [[float(v) for v in case]]}, f)
    with open(os.path.join(ROOT, "expected.json"), "w") as f:
        json.dump({"output_data": [[score(case)]]}, f)
    # Every flagged fraud transaction of the held-out set, for the rare-case test.
    cases = [{"input": [float(v) for v in fraud[i]], "expected": scores[i]} for i in range(len(fraud)) if scores[i] > 0.5]
    with open(os.path.join(ROOT, "fraud_cases.json"), "w") as f:
        json.dump({"cases": cases}, f)
    print(f"calibration scores {[round(score(t), 4) for t in calib]}")
    print(f"proven case score {score(case):.4f}; {len(cases)} flagged fraud cases of {len(fraud)}")
    print(f"model.onnx {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
