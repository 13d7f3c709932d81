"""A LeNet-5-sized CNN for the committed-parameters benchmark (issue 12) and
the CNN prove-speed work (issue 15): conv 5x5 -> ReLU -> avg-pool, twice,
then three dense layers (61,706 parameters, ~420k MACs on 1x28x28).

Exported with torch (TorchScript exporter, so the weights stay inside the
.onnx), with a seeded random init (a benchmark needs the shape, not a trained
model), and the reference output from onnxruntime:

    /path/to/torch-venv/bin/python benches/models/make_lenet.py

writes benches/models/lenet5/{model.onnx,input.json,expected.json}
(the layout benches/compare_ezkl.sh and benches/committed_params.sh read).
Needs torch, onnx and onnxruntime; the outputs are committed, so the benches
never need torch.
"""
import json
import os

import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lenet5")


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    torch.manual_seed(5)
    model = LeNet5().eval()
    n = sum(p.numel() for p in model.parameters())
    x = torch.rand(1, 1, 28, 28)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "model.onnx")
    kw = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
    torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["logits"],
                      opset_version=17, **kw)
    import onnxruntime as ort
    y = ort.InferenceSession(path).run(None, {"input": x.numpy()})[0]
    with open(os.path.join(OUT, "input.json"), "w") as f:
        json.dump({"input_data": [x.numpy().reshape(-1).round(6).tolist()]}, f)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"output_data": [y.reshape(-1).tolist()]}, f)
    print(f"{path}: {n} parameters, output {np.round(y.reshape(-1), 4).tolist()}")


if __name__ == "__main__":
    main()
