"""Fixtures for issue 11 part 3: masked attention, exported by torch itself.

A seeded tiny GPT block (LayerNorm, causal self-attention with 2 heads, MLP
with GELU) per mask style, each exported with both of torch's exporters:
`torch.onnx.export(..., dynamo=False)` (TorchScript) and `dynamo=True`.
Mask styles:
  ninf   nanoGPT: att.masked_fill(bias == 0, float('-inf'))
  finfo  HuggingFace: att + (1 - tril) * torch.finfo(torch.float32).min
         (an additive mask), and masked_fill with finfo.min (finfo_fill)
  1e4    att.masked_fill(bias == 0, -1e4)
Plus a dynamo-exported MLP whose weights go to external data
(`model.onnx.data`), torch_dynamo_mlp_external.
expected.json comes from onnxruntime.
Run: /work/venv-torch/bin/pip install -r scripts/requirements-torch.txt
     /work/venv-torch/bin/python scripts/fixtures_torch.py
"""
import json
import math
import os
import shutil
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "real")
EMBED, HEADS, SEQ = 16, 2, 8


class Attention(nn.Module):
    def __init__(self, style):
        super().__init__()
        self.style = style
        self.c_attn = nn.Linear(EMBED, 3 * EMBED)
        self.c_proj = nn.Linear(EMBED, EMBED)
        self.register_buffer("bias", torch.tril(torch.ones(SEQ, SEQ)).view(1, 1, SEQ, SEQ))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(EMBED, dim=2)
        hd = C // HEADS
        k = k.view(B, T, HEADS, hd).transpose(1, 2)
        q = q.view(B, T, HEADS, hd).transpose(1, 2)
        v = v.view(B, T, HEADS, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        keep = self.bias[:, :, :T, :T]
        if self.style == "ninf":
            att = att.masked_fill(keep == 0, float("-inf"))
        elif self.style == "finfo":
            att = att + (1.0 - keep) * torch.finfo(torch.float32).min
        elif self.style == "finfo_fill":
            att = att.masked_fill(keep == 0, torch.finfo(torch.float32).min)
        elif self.style == "1e4":
            att = att.masked_fill(keep == 0, -1e4)
        else:
            raise ValueError(self.style)
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, style):
        super().__init__()
        self.ln_1 = nn.LayerNorm(EMBED)
        self.attn = Attention(style)
        self.ln_2 = nn.LayerNorm(EMBED)
        self.mlp = nn.Sequential(nn.Linear(EMBED, 2 * EMBED), nn.GELU(), nn.Linear(2 * EMBED, EMBED))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def export(model, x, path, dynamo, external=False):
    model.eval()
    if dynamo:
        prog = torch.onnx.export(model, (x,), dynamo=True, input_names=["x"], output_names=["y"],
                                 opset_version=18, optimize=True, verbose=False)
        prog.save(path, external_data=external)
    else:
        torch.onnx.export(model, (x,), path, dynamo=False, input_names=["x"], output_names=["y"],
                          opset_version=17, do_constant_folding=True)


def write(name, model, x, dynamo, external=False):
    d = os.path.join(ROOT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    path = os.path.join(d, "model.onnx")
    with tempfile.TemporaryDirectory() as tmp:
        # Export in a scratch folder, then copy what was written.
        tpath = os.path.join(tmp, "model.onnx")
        export(model, x, tpath, dynamo, external)
        for f in os.listdir(tmp):
            shutil.copy(os.path.join(tmp, f), os.path.join(d, f))
    m = onnx.load(path, load_external_data=False)
    ext = [t.name for t in m.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external and not ext:
        raise SystemExit(f"{name}: no initializer went to external data")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.allclose(outs[0], ref, atol=1e-4), f"{name}: onnxruntime disagrees with torch"
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [x.numpy().ravel().astype(np.float64).tolist()]}, f)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"output_data": [o.ravel().astype(np.float64).tolist() for o in outs]}, f)
    ops = sorted({n.op_type for n in m.graph.node})
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f"{name}: {size} bytes, external {len(ext)}, ops {ops}")


def main():
    for style, tag in [("ninf", "ninf"), ("finfo", "finfo"), ("finfo_fill", "finfo_fill"), ("1e4", "1e4")]:
        for dynamo in [False, True]:
            torch.manual_seed(11)
            model = Block(style)
            x = torch.randn(1, SEQ, EMBED)
            write(f"gpt_mask_{tag}_{'dynamo' if dynamo else 'torchscript'}", model, x, dynamo)
    torch.manual_seed(12)
    write("torch_dynamo_mlp_external", Mlp(), torch.randn(1, 8), dynamo=True, external=True)


if __name__ == "__main__":
    main()
