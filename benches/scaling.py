#!/usr/bin/env python3
"""Scaling of zkinfer's prover with model size (run via benches/scaling.sh).

Builds two families of float ONNX models with onnx.helper and seeded numpy
weights (He-normal), under OUT_DIR (default <target>/scaling/):

  mlp-W   784 -> W -> ReLU -> W -> ReLU -> 10 (Gemm), W in MLP_WIDTHS
  cnn-C   1x28x28 -> Conv 3x3 (C, pad 1) -> ReLU -> MaxPool 2 -> Conv 3x3 (C, pad 1)
          -> ReLU -> MaxPool 2 -> Flatten -> Gemm 10, C in CNN_WIDTHS

with a seeded input in [0, 1) (input.json), 4 calibration samples
(calibration.json) and onnxruntime's output (expected.json). Then, per model,
`zkinfer run --json` (compile, setup, prove, verify in one process) gives k,
rows, MACs, the prove time and the error; when perf works, a second
`zkinfer prove` under perf gives the MSM/FFT shares and the prove phase's CPU
seconds (benches/profile_prove.py). Writes OUT_DIR/scaling.json, a markdown
table with the fitted log-log slopes (OUT_DIR/scaling.md, also printed) and
the plot docs/scaling.png (prove time vs MACs, log-log, both families).

Environment: ZKINFER_BIN (the release binary), ZKINFER_CACHE (dev SRS cache),
MLP_WIDTHS / CNN_WIDTHS (comma-separated), SCALING_PROFILE=0 (skip perf),
PLOT=path (default docs/scaling.png), OUT_DIR.
"""
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import profile_prove  # noqa: E402

SEED = 20261124
OPSET = 13
MLP_WIDTHS = [int(x) for x in os.environ.get("MLP_WIDTHS", "16,32,64,128,256,512").split(",")]
CNN_WIDTHS = [int(x) for x in os.environ.get("CNN_WIDTHS", "2,4,8,16,32").split(",")]


def he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)


def mlp(width, rng):
    w1, w2, w3 = he(rng, (784, width), 784), he(rng, (width, width), width), he(rng, (width, 10), width)
    b1, b2, b3 = (0.01 * rng.standard_normal(n).astype(np.float32) for n in (width, width, 10))
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (w3, "w3"), (b3, "b3"))]
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "w2", "b2"], ["h2"]),
        helper.make_node("Relu", ["h2"], ["a2"]),
        helper.make_node("Gemm", ["a2", "w3", "b3"], ["y"]),
    ]
    macs = 784 * width + width * width + width * 10
    return nodes, inits, [1, 784], macs


def cnn(c, rng):
    k1, k2 = he(rng, (c, 1, 3, 3), 9), he(rng, (c, c, 3, 3), 9 * c)
    fc = he(rng, (c * 7 * 7, 10), c * 49)
    b1, b2, b3 = (0.01 * rng.standard_normal(n).astype(np.float32) for n in (c, c, 10))
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((k1, "k1"), (b1, "b1"), (k2, "k2"), (b2, "b2"), (fc, "fc"), (b3, "b3"))]
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    pool = dict(kernel_shape=[2, 2], strides=[2, 2])
    nodes = [
        helper.make_node("Conv", ["x", "k1", "b1"], ["c1"], **conv),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], **pool),
        helper.make_node("Conv", ["p1", "k2", "b2"], ["c2"], **conv),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p2"], **pool),
        helper.make_node("Flatten", ["p2"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc", "b3"], ["y"]),
    ]
    macs = 28 * 28 * c * 9 + 14 * 14 * c * c * 9 + c * 49 * 10
    return nodes, inits, [1, 1, 28, 28], macs


def build(family, width, out_dir):
    """Writes model.onnx, input.json, calibration.json, expected.json; returns (dir, MACs)."""
    rng = np.random.default_rng([SEED, 0 if family == "mlp" else 1, width])
    nodes, inits, in_shape, macs = (mlp if family == "mlp" else cnn)(width, rng)
    graph = helper.make_graph(nodes, f"{family}_{width}",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="zkinfer-scaling")
    onnx.checker.check_model(model)
    d = os.path.join(out_dir, f"{family}-{width}")
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    samples = [rng.random(in_shape, dtype=np.float32) for _ in range(4)]
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(os.path.join(d, "model.onnx"), opts, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": samples[0]})[0]
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [samples[0].ravel().tolist()]}, f)
    with open(os.path.join(d, "calibration.json"), "w") as f:
        json.dump({"calibration_data": [[s.ravel().tolist()] for s in samples]}, f)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"output_data": [y.ravel().tolist()], "shapes": [[1, 10]]}, f)
    return d, macs


def run_one(zk, d, profile):
    cmd = [zk, "run", os.path.join(d, "model.onnx"), "--input", os.path.join(d, "input.json"),
           "--expected", os.path.join(d, "expected.json"), "--calibrate", os.path.join(d, "calibration.json"),
           "-o", os.path.join(d, "run"), "--json"]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["run_wall_s"] = time.perf_counter() - t0
    r["loadavg_1m_before"] = load
    if profile:
        prof = profile_prove.profile(zk, os.path.join(d, "run"), os.path.join(d, "input.json"))
        r["profile"] = prof
        if "error" not in prof:
            r["prove_cpu_s"] = prof["prove_samples"] / prof["freq_hz"]
    return r


def fit(points):
    """Least-squares slope and intercept of log10(y) on log10(x)."""
    if len(points) < 2:
        return None
    xs = np.log10([p[0] for p in points])
    ys = np.log10([p[1] for p in points])
    slope, icpt = np.polyfit(xs, ys, 1)
    return float(slope), float(icpt)


def pct(x):
    return "–" if x is None else f"{100 * x:.0f}"


def report(results, fits, meta):
    L = [f"Machine: {meta['cpu']}, {meta['cores']} cores; {meta['date']}; git {meta['git']}.", "",
         "| model | MACs | k | rows | rows/2^k % | used/2^k % | lanes | setup s | prove s | prove CPU s | MSM % | FFT % "
         "| peak MiB | max abs err | load |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            L.append(f"| {r['name']} | {r['macs']} | failed: {r['error']} |")
            continue
        prof = r.get("profile") or {}
        rs = profile_prove.rows_shares({"k": r["k"], "rows": r["rows"], "lookup_table_rows": r.get("table_rows", 0)})
        cpu = r.get("prove_cpu_s")
        L.append("| {} | {:,} | {} | {:,} | {} | {} | {} | {:.2f} | {:.2f} | {} | {} | {} | {:.0f} | {:.2e} | {:.1f} |".format(
            r["name"], r["macs"], r["k"], r["rows"], pct(rs["rows_share"]), pct(rs["used_share"]), r.get("lanes"),
            r["setup_s"], r["prove_s"], f"{cpu:.2f}" if cpu else "–",
            pct(prof.get("msm_share")), pct(prof.get("fft_share")),
            r.get("peak_rss_mib") or float("nan"), r.get("max_abs_error", float("nan")), r["loadavg_1m_before"]))
    L.append("")
    for key, label in (("prove_s", "prove time (wall)"), ("prove_cpu_s", "prove CPU time")):
        parts = []
        for fam in ("mlp", "cnn", "all"):
            f = fits.get((key, fam))
            if f:
                parts.append(f"{fam.upper() if fam != 'all' else 'both'} {f[0]:.2f}")
        if parts:
            L.append(f"Fitted log-log slope of {label} vs MACs: " + ", ".join(parts) + ".")
    return "\n".join(L) + "\n"


def plot(results, fits, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.8), dpi=120)
    for fam, marker, color in (("mlp", "o", "tab:blue"), ("cnn", "s", "tab:orange")):
        pts = [(r["macs"], r["prove_s"], r["k"]) for r in results if r["family"] == fam and "error" not in r]
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        f = fits.get(("prove_s", fam))
        label = f"{fam.upper()}" + (f" (slope {f[0]:.2f})" if f else "")
        ax.loglog(xs, ys, marker, color=color, label=label)
        for x, y, k in pts:
            ax.annotate(f"k={k}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7, color=color)
        if f:
            gx = np.logspace(math.log10(min(xs)), math.log10(max(xs)), 50)
            ax.loglog(gx, 10 ** (f[1] + f[0] * np.log10(gx)), "-", color=color, alpha=0.5)
        cpu = [(r["macs"], r["prove_cpu_s"]) for r in results
               if r["family"] == fam and "error" not in r and r.get("prove_cpu_s")]
        if cpu:
            fc = fits.get(("prove_cpu_s", fam))
            ax.loglog([p[0] for p in cpu], [p[1] for p in cpu], marker, mfc="none", color=color,
                      label=f"{fam.upper()} prove CPU s (perf)" + (f", slope {fc[0]:.2f}" if fc else ""))
    ax.set_xlabel("multiply-accumulates (MACs)")
    ax.set_ylabel("prove time, s (filled: wall incl. loading keys; hollow: CPU)")
    ax.set_title("zkinfer prove time vs model size (2 hidden-layer MLPs, 2-conv CNNs)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main():
    zk = os.environ["ZKINFER_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    out_dir = os.environ.get("OUT_DIR", os.path.join(target, "scaling"))
    plot_path = os.environ.get("PLOT", os.path.join(ROOT, "docs", "scaling.png"))
    profile = os.environ.get("SCALING_PROFILE", "1") != "0"
    os.makedirs(out_dir, exist_ok=True)
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
               platform.processor())
    meta = {"cpu": cpu, "cores": os.cpu_count(), "date": datetime.date.today().isoformat(),
            "git": git.stdout.strip() + ("+dirty" if dirty else ""), "seed": SEED}
    results = []
    t_all = time.perf_counter()
    for fam, widths in (("mlp", MLP_WIDTHS), ("cnn", CNN_WIDTHS)):
        for w in widths:
            d, macs = build(fam, w, out_dir)
            name = f"{fam}-{w}"
            print(f"== {name}: {macs:,} MACs (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
            r = run_one(zk, d, profile)
            r.update({"name": name, "family": fam, "width": w, "macs": macs})
            if "error" not in r:
                prof = r.get("profile") or {}
                print(f"   k={r['k']} rows={r['rows']} prove {r['prove_s']:.2f} s"
                      + (f", MSM {pct(prof.get('msm_share'))}% FFT {pct(prof.get('fft_share'))}%"
                         if "msm_share" in prof else ""), file=sys.stderr, flush=True)
            else:
                print(f"   failed: {r['error']}", file=sys.stderr, flush=True)
            results.append(r)
            with open(os.path.join(out_dir, "scaling.json"), "w") as f:
                json.dump({"meta": meta, "results": results}, f, indent=1)
    meta["total_s"] = time.perf_counter() - t_all
    fits = {}
    for key in ("prove_s", "prove_cpu_s"):
        for fam in ("mlp", "cnn", "all"):
            pts = [(r["macs"], r[key]) for r in results
                   if "error" not in r and r.get(key) and (fam == "all" or r["family"] == fam)]
            f = fit(pts)
            if f:
                fits[(key, fam)] = f
    md = report(results, fits, meta)
    md += f"\nTotal bench time {meta['total_s']:.0f} s.\n"
    with open(os.path.join(out_dir, "scaling.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out_dir, "scaling.json"), "w") as f:
        json.dump({"meta": meta, "results": results,
                   "fits": {f"{k}/{fam}": v for (k, fam), v in fits.items()}}, f, indent=1)
    plot(results, fits, plot_path)
    print(md)
    print(f"wrote {plot_path}, {out_dir}/scaling.md and scaling.json", file=sys.stderr)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
