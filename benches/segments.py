#!/usr/bin/env python3
"""A segmented model end to end (issue 14): prove sequentially and on a local
Ray cluster, verify, on-chain gas, error against onnxruntime.

Takes a compiled and set-up segmented folder (`zkinfer compile ... --max-k K
[--max-memory SIZE] -o DIR`, `zkinfer setup DIR`) and the model's input and
onnxruntime outputs; per mode:
  seq   `zkinfer prove DIR` in one process under /usr/bin/time (wall, peak RSS)
  ray   `zkinfer prove DIR --ray ADDR --ray-cpus C` on the cluster that
        `scripts/ray-local.sh start` runs (RAY_CPUS workers' CPUs); peak RSS
        per worker sampled every second from /proc (each task is one
        `zkinfer prove-segment` process)
then `verify` (wall) and `verify-evm` (gas of the one `verifyProofs` call) on
the last proof, and max |proven - expected| with the output range.

Run: bash scripts/pyenv.sh && .venv/bin/python benches/segments.py DIR INPUT.json EXPECTED.json
Environment: ZKINFER_BIN (default target/release/zkinfer), MODES (default
"seq,ray"), RAY_TASK_CPUS (default 1). Writes DIR/bench.json.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get("ZKINFER_BIN", os.path.join(ROOT, "target", "release", "zkinfer"))


def sh(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


def timed(args):
    t = time.time()
    r = sh(["/usr/bin/time", "-f", "MAXRSS %M"] + args)
    kb = int(re.findall(r"MAXRSS (\d+)", r.stderr)[-1])
    return time.time() - t, kb * 1024, r


class Sampler(threading.Thread):
    """Peak RSS of every `zkinfer prove-segment` process, by segment."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peaks, self.stop = {}, False

    def run(self):
        while not self.stop:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
                    if b"prove-segment" not in cmd:
                        continue
                    seg = int(cmd[cmd.index(b"--segment") + 1])
                    rss = next(int(l.split()[1]) * 1024 for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
                except (OSError, ValueError, StopIteration, IndexError):
                    continue
                self.peaks[seg] = max(self.peaks.get(seg, 0), rss)
            time.sleep(1)


def error(proof, expected):
    got = [v for o in json.load(open(proof))["outputs"] for v in o]
    exp = [v for o in json.load(open(expected))["output_data"] for v in o]
    m = max(abs(a - b) for a, b in zip(got, exp))
    rng = max(exp) - min(exp)
    return m, 100.0 * m / rng


def main():
    d, inp, expected = sys.argv[1:4]
    modes = os.environ.get("MODES", "seq,ray").split(",")
    manifest = json.load(open(os.path.join(d, "segments.json")))
    out = {"dir": d, "segments": [{"k": s["k"], "rows": s["rows"]} for s in manifest["segments"]]}
    proof = None
    if "seq" in modes:
        proof = os.path.join(d, "proof.seq.json")
        wall, rss, _ = timed([BIN, "prove", d, "--input", inp, "-o", proof])
        out["seq"] = {"wall_s": round(wall, 1), "peak_rss": rss}
        print(f"sequential: {wall:.1f} s, peak RSS {rss / 2**30:.2f} GiB", file=sys.stderr)
    if "ray" in modes:
        script = os.path.join(ROOT, "scripts", "ray-local.sh")
        r = sh(["bash", script, "start"])
        addr = re.findall(r"(\d+\.\d+\.\d+\.\d+:\d+)", r.stdout + r.stderr)[-1]
        python = sh(["bash", script, "python"]).stdout.strip()
        proof = os.path.join(d, "proof.ray.json")
        s = Sampler()
        s.start()
        t = time.time()
        r = sh([BIN, "prove", d, "--input", inp, "-o", proof, "--ray", addr, "--ray-python", python,
                "--ray-cpus", os.environ.get("RAY_TASK_CPUS", "1")])
        wall = time.time() - t
        s.stop = True
        s.join()
        out["ray"] = {"wall_s": round(wall, 1), "peak_rss_per_task": s.peaks, "progress": r.stderr.strip().splitlines()}
        print(f"ray: {wall:.1f} s, peak RSS per task (GiB) "
              f"{ {k: round(v / 2**30, 2) for k, v in sorted(s.peaks.items())} }", file=sys.stderr)
    if proof:
        t = time.time()
        sh([BIN, "verify", d, proof])
        out["verify_s"] = round(time.time() - t, 2)
        r = sh([BIN, "verify-evm", d, proof])
        out["gas"] = int(re.findall(r"gas=(\d+)", r.stdout)[0])
        out["proof_bytes"] = sum((len(p["proof"]) - 2) // 2 for p in json.load(open(proof))["segments"])
        out["max_abs_error"], out["error_pct_of_range"] = error(proof, expected)
        print(f"verify {out['verify_s']} s, gas {out['gas']:,}, proofs {out['proof_bytes']:,} bytes, "
              f"error {out['max_abs_error']:.2e} ({out['error_pct_of_range']:.4f}% of range)", file=sys.stderr)
    json.dump(out, open(os.path.join(d, "bench.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
