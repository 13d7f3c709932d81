#!/usr/bin/env python3
"""Prover memory against k and columns (issue 14), and the planner's model of it.

Per case: `zkinfer compile` (forced `--lanes`, and for a segment of a model
too big for one proof `--max-k`), `setup`, then `prove` in its own process
under `/usr/bin/time` (peak RSS), next to the planner's prediction
(`settings.json` `predicted_prove_bytes`, from `circuits::prove_bytes`), the
circuit's columns (advice, fixed, lookups, commitments), pk size, and setup's
own time and peak RSS. A case's SRS comes from the development cache
(~/.cache/zkinfer, made on first use: minutes at k=20).

Cases (NAME:LANES[:MAX_K[:SEGMENT]], comma-separated in CASES, or the
default set):
  gpt      the GPT of benches/models/make_gpt.py, segment SEGMENT (default 0)
           of its compile at --max-k MAX_K, proven alone on the model's input
           (`prove-segment --input`: the segments before it are evaluated)
  lenet    benches/models/lenet5
  large    ../shared/corpus/ezkl/large_mlp
  fraud    examples/fraud (model_v1.onnx, hashed parameters: Poseidon)

Run: bash scripts/pyenv.sh && .venv/bin/python benches/prove_memory.py
Environment: ZKINFER_BIN (default target/release/zkinfer, built if absent),
OUT_DIR (default target/prove_memory), CASES, CORPUS.
Writes OUT_DIR/prove_memory.json and prints a markdown table with the
prediction's error per case.
"""
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get("ZKINFER_BIN", os.path.join(ROOT, "target", "release", "zkinfer"))
OUT = os.environ.get("OUT_DIR", os.path.join(ROOT, "target", "prove_memory"))
CORPUS = os.environ.get("CORPUS", os.path.join(os.path.dirname(ROOT), "shared", "corpus"))
# The GPT cannot be cut at --max-k 16 or 17 (its largest node, a 64x256
# dense layer with its requant, alone needs more than 2^17 rows), nor at 18
# at 16 lanes (a softmax); k=20 cases take ~5 minutes each on 2 cores.
DEFAULT = "lenet:4,lenet:16,large:16,fraud:16,gpt:4:20,gpt:4:20:6,gpt:16:20"


def sh(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


def timed(args):
    """Wall seconds and peak RSS (bytes) of one process."""
    t = time.time()
    r = sh(["/usr/bin/time", "-f", "MAXRSS %M"] + args)
    wall = time.time() - t
    kb = int(re.findall(r"MAXRSS (\d+)", r.stderr)[-1])
    return wall, kb * 1024


def model(name):
    """(model.onnx, input.json, calibration or None, extra compile args)."""
    if name == "gpt":
        d = os.path.join(OUT, "gpt-model")
        if not os.path.exists(os.path.join(d, "model.onnx")):
            sh([sys.executable, os.path.join(HERE, "models", "make_gpt.py"), d])
        return os.path.join(d, "model.onnx"), os.path.join(d, "input.json"), os.path.join(d, "calibration.json"), []
    if name == "lenet":
        d = os.path.join(HERE, "models", "lenet5")
        return os.path.join(d, "model.onnx"), os.path.join(d, "input.json"), os.path.join(d, "input.json"), []
    if name == "large":
        d = os.path.join(CORPUS, "ezkl", "large_mlp")
        return os.path.join(d, "model.onnx"), os.path.join(d, "input.json"), os.path.join(d, "input.json"), []
    if name == "fraud":
        d = os.path.join(ROOT, "examples", "fraud")
        return (os.path.join(d, "model_v1.onnx"), os.path.join(d, "flagged_v1.json"), os.path.join(d, "flagged_v1.json"),
                ["--param-visibility", "hashed"])
    raise SystemExit(f"unknown case model {name!r}")


def run_case(spec):
    parts = spec.split(":")
    name, lanes = parts[0], int(parts[1])
    max_k = int(parts[2]) if len(parts) > 2 else None
    seg = int(parts[3]) if len(parts) > 3 else 0
    onnx, inp, cal, extra = model(name)
    d = os.path.join(OUT, ":".join(parts[:3]).replace(":", "-"))
    args = [BIN, "compile", onnx, "-o", d, "--lanes", str(lanes)] + extra
    if cal:
        args += ["--calibrate", cal]
    if max_k:
        args += ["--max-k", str(max_k)]
    sh(args)
    folder = os.path.join(d, f"segment{seg}") if max_k else d
    s = json.load(open(os.path.join(folder, "settings.json")))
    setup_s, setup_rss = timed([BIN, "setup", folder])
    proof = os.path.join(d, f"proof{seg}.json")
    if max_k:
        wall, rss = timed([BIN, "prove-segment", d, "--segment", str(seg), "--input", inp, "-o", proof])
    else:
        wall, rss = timed([BIN, "prove", folder, "--input", inp, "-o", proof])
    pk = os.path.getsize(os.path.join(folder, "pk.bin"))
    os.remove(os.path.join(folder, "pk.bin"))  # gigabytes at k=20
    row = {
        "case": spec, "k": s["k"], "rows": s["rows"], "lanes": s["lanes"], "advice": s["advice_columns"],
        "fixed": s["fixed_columns"], "lookups": s["lookups"], "commitments": s["commitments"],
        "pk_bytes": pk, "setup_s": round(setup_s, 2), "setup_rss": setup_rss, "prove_s": round(wall, 2), "peak_rss": rss, "predicted": s.get("predicted_prove_bytes", 0),
    }
    row["error_pct"] = round(100.0 * (row["predicted"] - rss) / rss, 1)
    return row


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(BIN):
        sh(["cargo", "build", "--release", "--bin", "zkinfer"], cwd=ROOT)
    rows = []
    path = os.path.join(OUT, "prove_memory.json")
    for spec in os.environ.get("CASES", DEFAULT).split(","):
        try:
            r = run_case(spec)
        except Exception as e:  # a failed case is reported, the rest go on
            print(f"{spec}: failed: {e}", file=sys.stderr)
            continue
        rows.append(r)
        json.dump(rows, open(path, "w"), indent=1)
        print(f"{spec}: k={r['k']} peak {r['peak_rss'] / 2**30:.2f} GiB, predicted {r['predicted'] / 2**30:.2f} GiB "
              f"({r['error_pct']:+.1f}%)", file=sys.stderr)
    gib = lambda b: f"{b / 2**30:.2f}"
    print("| case | k | rows | lanes | advice | fixed | lookups | commitments | pk GiB | setup s | setup RSS GiB | prove s "
          "| prove peak RSS GiB | predicted GiB | error |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['k']} | {r['rows']:,} | {r['lanes']} | {r['advice']} | {r['fixed']} | {r['lookups']} | "
              f"{r['commitments']} | {gib(r['pk_bytes'])} | {r['setup_s']} | {gib(r['setup_rss'])} | {r['prove_s']} | {gib(r['peak_rss'])} | {gib(r['predicted'])} | "
              f"{r['error_pct']:+.1f}% |")
    if rows:
        errs = sorted(abs(r["error_pct"]) for r in rows)
        print(f"\nprediction error: median {errs[len(errs) // 2]:.1f}%, max {errs[-1]:.1f}% over {len(rows)} cases")


if __name__ == "__main__":
    main()
