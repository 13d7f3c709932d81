#!/usr/bin/env python3
"""Prove a segmented zkinfer model on a Ray cluster: one task per segment.

    ray_prove.py --address ADDR --dir DIR --work WORK --zkinfer BIN --segments N
                 [--retries R] [--fail-first I]

`zkinfer prove DIR --ray ADDR` writes each segment's integer inputs to
WORK/segment<i>.inputs.json and runs this with the python of
`scripts/ray-local.sh python` (or --ray-python). Each task runs

    zkinfer prove-segment DIR --segment i --inputs WORK/segment<i>.inputs.json
                          -o WORK/segment<i>.proof.json

on a worker, with RAYON_NUM_THREADS set to the CPUs Ray gave it. Artifacts
move through the file system: DIR (keys) and WORK must be a folder every
worker sees (one machine: any folder; a cluster: a shared mount), and BIN a
path valid on every worker. A failed task (non-zero exit, a dead worker) is
retried up to R times (Ray's max_retries with retry_exceptions). One line per
finished segment on stdout:

    segment <i+1>/<N>: proved in <S> s on node <id> (attempt <a>)

--fail-first I makes segment I's first attempt fail (tests of the retries).
Exit status: 0 when every segment was proven, 1 otherwise (the error on stderr).
"""
import argparse
import os
import subprocess
import sys
import time

import ray


@ray.remote
def prove_segment(zk, d, work, i, fail_first):
    start = time.time()
    marker = os.path.join(work, f"segment{i}.attempts")
    attempt = 1
    if os.path.exists(marker):
        with open(marker) as f:
            attempt = int(f.read().strip() or "0") + 1
    with open(marker, "w") as f:
        f.write(str(attempt))
    if fail_first == i and attempt == 1:
        raise RuntimeError(f"segment {i}: failing the first attempt on purpose (--fail-first)")
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    env = dict(os.environ, RAYON_NUM_THREADS=str(max(1, int(cpus))))
    out = os.path.join(work, f"segment{i}.proof.json")
    r = subprocess.run(
        [zk, "prove-segment", d, "--segment", str(i), "--inputs", os.path.join(work, f"segment{i}.inputs.json"),
         "-o", out],
        capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"segment {i}: zkinfer prove-segment exited {r.returncode}: {r.stderr.strip()}")
    return i, time.time() - start, ray.get_runtime_context().get_node_id(), attempt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--zkinfer", required=True)
    ap.add_argument("--segments", type=int, required=True)
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--cpus", type=float, default=1)
    ap.add_argument("--fail-first", type=int, default=-1)
    a = ap.parse_args()
    ray.init(address=a.address, logging_level="ERROR", log_to_driver=False)
    task = prove_segment.options(max_retries=a.retries, retry_exceptions=True, num_cpus=a.cpus)
    pending = [task.remote(a.zkinfer, a.dir, a.work, i, a.fail_first) for i in range(a.segments)]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i, secs, node, attempt = ray.get(ref)
                print(f"segment {i + 1}/{a.segments}: proved in {secs:.2f} s on node {node[:12]} (attempt {attempt})",
                      flush=True)
    except Exception as e:  # a task that failed every retry
        print(f"ray_prove: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
