#!/usr/bin/env python3
"""Where zkinfer's prove time goes: the share of prove CPU time in MSMs and in
FFTs, from `perf`, and the share of the 2^k rows the circuit uses.

    profile_prove.py [--zkinfer BIN] [--freq HZ] [--keep DIR] MODEL_DIR INPUT.json

MODEL_DIR must be set up (`zkinfer setup`, or the output folder of `zkinfer
run`). Prints one JSON object; on failure (no perf, perf not permitted, ...)
it prints {"error": ...} and exits 2, and callers show `n/a`. Used by
`cargo bench --bench prove` and benches/compare_ezkl.py. Standard library only.

Method (see docs/BENCHMARKS.md):
- `perf record --call-graph dwarf` samples CPU time (cpu-clock) of one
  `zkinfer prove MODEL_DIR` process, all threads. Release binaries have no frame
  pointers, so stacks are unwound from .eh_frame (dwarf); no debug info is needed.
- The prove phase starts at the first sample inside halo2's `create_proof`.
  Earlier samples (reading program, settings, proving key and SRS, the integer
  evaluator), and later main-thread samples outside `prover::proof::prove`
  (writing the proof), are left out and reported as `excluded_share` of all
  samples. Witness assignment (`synthesize`) is inside create_proof and counts
  as prove time ("other").
- Each prove sample is classified by the innermost frame of its stack that names
  an MSM or an FFT:
    MSM: halo2curves' `msm::` module (`msm_best`, bucket `Schedule`, booth
         indices) and G1 point arithmetic. In create_proof, curve arithmetic
         only happens in commitments (MSMs) and their affine normalization.
    FFT: halo2's `fft::` module and the `EvaluationDomain` transforms
         (`lagrange_to_coeff`, `coeff_to_extended`, `extended_to_coeff`, ...,
         including their coset scaling).
  Everything else is "other": mainly the quotient evaluation
  (`Evaluator::evaluate_h`), lookup and permutation products, witness
  assignment, allocation and page faults. Rayon work stolen by a worker thread
  whose stack names neither (closures inlined into rayon's own frames) also
  counts as other, so the MSM and FFT shares are lower bounds.
- Shares are of CPU time, summed over threads; on an idle machine with the
  prover's threads busy they match shares of wall time.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

MSM = re.compile(r"halo2curves_axiom::msm::|best_multiexp|halo2curves_axiom::bn256::curve::G1|batch_normalize")
FFT = re.compile(r"halo2_axiom::fft::|EvaluationDomain<F>::(coeff_to_extended|lagrange_to_coeff|extended_to_coeff"
                 r"|coeff_from_vec|ifft|fft_inner|distribute_powers)")
START = re.compile(r"halo2_axiom::plonk::prover::create_proof")
PROVE_FN = re.compile(r"prover::proof::prove|halo2_axiom::plonk::prover::create_proof")


def rows_shares(settings):
    """Row use from settings.json: rows/2^k, and max(rows, lookup table rows)/2^k
    (the table is a fixed column filling `lookup_table_rows` rows, 2^(limb_bits+1)-1)."""
    n = 1 << settings["k"]
    rows = settings["rows"]
    table = settings.get("lookup_table_rows", settings.get("table_rows", 0))
    return {"k": settings["k"], "rows": rows, "table_rows": table, "usable_rows": settings.get("usable_rows"),
            "rows_share": rows / n, "used_share": max(rows, table) / n}


def default_freq(k):
    """Sampling rate: a few thousand samples, and perf data of a few hundred MB
    at most (each dwarf sample carries a 16 KiB stack copy)."""
    if k <= 13:
        return 999
    if k <= 15:
        return 499
    if k <= 17:
        return 199
    return 99


def parse_perf_script(text):
    """`perf script -F tid,time,ip,sym` output -> [(tid, time, [frames leaf first])]."""
    samples = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        if not lines:
            continue
        head = lines[0].split()
        try:
            tid, t = int(head[0]), float(head[1].rstrip(":"))
        except (IndexError, ValueError):
            continue
        frames = []
        for ln in lines[1:]:
            parts = ln.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else parts[0])
        samples.append((tid, t, frames))
    return samples


def classify(samples):
    if not samples:
        raise ValueError("perf recorded no samples")
    starts = [t for _, t, f in samples if any(START.search(x) for x in f)]
    if not starts:
        raise ValueError("no sample inside create_proof (stacks not unwound?)")
    start = min(starts)
    main_tid = min(tid for tid, _, _ in samples)  # the process's first thread
    counts = {"msm": 0, "fft": 0, "other": 0, "excluded": 0}
    other = {}
    for tid, t, frames in samples:
        if t < start or (tid == main_tid and not any(PROVE_FN.search(x) for x in frames)):
            counts["excluded"] += 1
            continue
        cat = "other"
        for x in frames:
            if MSM.search(x):
                cat = "msm"
                break
            if FFT.search(x):
                cat = "fft"
                break
        counts[cat] += 1
        if cat == "other" and frames:
            leaf = re.sub(r"::\{\{closure\}\}", "", frames[0])[:90]
            other[leaf] = other.get(leaf, 0) + 1
    prove = counts["msm"] + counts["fft"] + counts["other"]
    if prove == 0:
        raise ValueError("no prove samples")
    top = sorted(other.items(), key=lambda kv: -kv[1])[:6]
    return {
        "msm_share": counts["msm"] / prove,
        "fft_share": counts["fft"] / prove,
        "other_share": counts["other"] / prove,
        "excluded_share": counts["excluded"] / len(samples),
        "samples": len(samples),
        "prove_samples": prove,
        "top_other": [[sym, n / prove] for sym, n in top],
    }


def profile(zkinfer, model_dir, input_json, freq=None, keep=None):
    """Profiles one `zkinfer prove`; returns the shares (plus row use), or {"error": ...}."""
    settings = json.load(open(os.path.join(model_dir, "settings.json")))
    res = rows_shares(settings)
    perf = shutil.which("perf")
    if not perf:
        res["error"] = "perf not found"
        return res
    freq = freq or default_freq(settings["k"])
    work = keep or tempfile.mkdtemp(prefix="zkinfer-perf-")
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "perf.data")
    cmd = [zkinfer, "prove", model_dir, "--input", input_json, "-o", os.path.join(work, "proof.json")]
    try:
        err = ""
        # cpu-clock: a software event, so it works in VMs without PMU access;
        # `:u` (user space only) for when perf_event_paranoid forbids kernel samples.
        for event in ("cpu-clock", "cpu-clock:u"):
            r = subprocess.run([perf, "record", "-q", "-e", event, "-F", str(freq), "--call-graph", "dwarf,16384",
                                "-o", data, "--"] + cmd, capture_output=True, text=True)
            if r.returncode == 0:
                break
            err = (r.stderr.strip().splitlines() or ["?"])[-1]
        else:
            res["error"] = f"perf record failed: {err}"
            return res
        r = subprocess.run([perf, "script", "--no-inline", "-i", data, "-F", "tid,time,ip,sym"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            res["error"] = "perf script failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
            return res
        res.update(classify(parse_perf_script(r.stdout)))
        res.update({"freq_hz": freq, "event": event})
    except (OSError, ValueError) as ex:
        res["error"] = str(ex)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return res


def main(argv):
    args = {"--zkinfer": None, "--freq": None, "--keep": None}
    pos = []
    it = iter(argv)
    for a in it:
        if a in ("-h", "--help"):
            print(__doc__)
            return 0
        if a in args:
            args[a] = next(it, None)
        else:
            pos.append(a)
    if len(pos) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    zk = args["--zkinfer"] or os.environ.get("ZKINFER_BIN") or os.path.join(target, "release", "zkinfer")
    res = profile(zk, pos[0], pos[1], int(args["--freq"]) if args["--freq"] else None, args["--keep"])
    print(json.dumps(res))
    return 2 if "error" in res else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
