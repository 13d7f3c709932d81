#!/usr/bin/env python3
"""Side-by-side zkinfer vs EZKL benchmark driver (run via benches/compare_ezkl.sh).

    compare_ezkl.py [MODEL ...]                 run the comparison
    compare_ezkl.py ezkl-step STEP WORK MODEL   (internal) one EZKL step in
                                                this process, for /usr/bin/time

Needs ZKINFER_BIN in the environment and ezkl importable (the .sh sets both).
Standard library only, apart from ezkl in the ezkl-step mode.
"""
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))
import profile_prove  # noqa: E402  (standard library only)
DEFAULT_MODELS = [
    "ezkl/1l_mlp",
    "ezkl/2l_relu_small",
    "ezkl/sklearn_mlp",
    "ezkl/3l_relu_conv_fc",
    "ezkl/variable_cnn",
    "ezkl/large_mlp",
]
HEAVY = "large_mlp"


# --------------------------------------------------------------------------
# EZKL steps, each run as `python compare_ezkl.py ezkl-step STEP WORK MODEL`
# so that /usr/bin/time measures exactly one step. The time spent inside the
# ezkl call (excluding interpreter start-up and `import ezkl`) is written to
# WORK/STEP.timing.json.
# --------------------------------------------------------------------------

def ezkl_step(step, work, model_dir, srs_path=None):
    import ezkl

    onnx = os.path.join(model_dir, "model.onnx")
    inp = os.path.join(model_dir, "input.json")
    settings = os.path.join(work, "settings.json")
    compiled = os.path.join(work, "model.compiled")
    pk, vk = os.path.join(work, "pk.key"), os.path.join(work, "vk.key")
    witness, proof = os.path.join(work, "witness.json"), os.path.join(work, "proof.json")
    timing = {}
    t0 = time.perf_counter()
    if step == "prep":
        args = ezkl.PyRunArgs()
        args.input_visibility = "public"
        args.output_visibility = "public"
        # fixed by default; benches/committed_params.py sets EZKL_PARAM_VISIBILITY
        # (`private`, `hashed/public`, `polycommit`) for its visibility runs.
        args.param_visibility = os.environ.get("EZKL_PARAM_VISIBILITY", "fixed")
        ok = ezkl.gen_settings(onnx, settings, py_run_args=args)
        t1 = time.perf_counter()
        timing["gen_settings_s"] = t1 - t0
        ok = ok and ezkl.calibrate_settings(inp, onnx, settings, "resources")
        t2 = time.perf_counter()
        timing["calibrate_s"] = t2 - t1
        ok = ok and ezkl.compile_circuit(onnx, compiled, settings)
        timing["compile_s"] = time.perf_counter() - t2
    elif step == "srs":
        logrows = json.load(open(settings))["run_args"]["logrows"]
        tmp = srs_path + ".tmp"
        ezkl.gen_srs(tmp, logrows)  # returns None
        os.replace(tmp, srs_path)
        ok = True
    elif step == "setup":
        ok = ezkl.setup(compiled, vk, pk, srs_path)
    elif step == "witness":
        ok = ezkl.gen_witness(inp, compiled, witness) is not None
    elif step == "prove":
        ok = ezkl.prove(witness, compiled, pk, proof, srs_path) is not None
    elif step == "verify":
        ok = ezkl.verify(proof, settings, vk, srs_path)
    elif step == "evm":
        ok = ezkl_evm_artifacts(work, settings, vk, proof, srs_path)
    elif step == "import":
        ok = True
    else:
        raise SystemExit(f"unknown ezkl step {step}")
    timing["step_s"] = time.perf_counter() - t0
    if not ok:
        print(f"ezkl {step} returned {ok!r}", file=sys.stderr)
        sys.exit(1)
    if step != "import":
        with open(os.path.join(work, f"{step}.timing.json"), "w") as f:
            json.dump(timing, f)


def ezkl_evm_artifacts(work, settings, vk, proof, srs_path):
    """EZKL's Solidity verifiers (single-contract and reusable) and calldata.

    create_evm_verifier writes the .sol and then fetches solc (svm, network) for
    the ABI; offline that second part fails, so a written .sol counts as success.
    Calldata is written as 0x-hex text for `zkinfer evm-call`."""
    import asyncio
    import ezkl

    async def call(f, *a):
        r = f(*a)
        if asyncio.iscoroutine(r) or asyncio.isfuture(r):
            r = await r
        return r

    notes = {}

    async def main():
        for name, reusable in (("ezkl", False), ("ezkl_reusable", True)):
            sol = os.path.join(work, f"{name}.sol")
            try:
                await call(ezkl.create_evm_verifier, vk, settings, sol, os.path.join(work, f"{name}.abi"),
                           srs_path, reusable)
            except Exception as ex:  # noqa: BLE001 - recorded, .sol may still exist
                notes[name] = str(ex)
            if not os.path.exists(sol):
                notes[name + "_missing"] = True
        try:
            await call(ezkl.create_evm_vka, vk, settings, os.path.join(work, "vka.bin"), srs_path)
        except Exception as ex:  # noqa: BLE001
            notes["vka"] = str(ex)

    asyncio.run(main())
    cd = ezkl.encode_evm_calldata(proof, os.path.join(work, "calldata.bin"))
    with open(os.path.join(work, "calldata.hex"), "w") as f:
        f.write("0x" + bytes(cd).hex())
    if os.path.exists(os.path.join(work, "vka.bin")):
        cd = ezkl.encode_evm_calldata(proof, os.path.join(work, "calldata_reusable.bin"),
                                      os.path.join(work, "vka.bin"))
        with open(os.path.join(work, "calldata_reusable.hex"), "w") as f:
            f.write("0x" + bytes(cd).hex())
    with open(os.path.join(work, "evm_notes.json"), "w") as f:
        json.dump(notes, f)
    return True


# --------------------------------------------------------------------------
# On-chain verification gas: `zkinfer verify-evm` / `zkinfer evm-call` (solc-js
# 0.8.30 with the optimizer, deployed and called in revm).
# --------------------------------------------------------------------------

def evm_json(cmd, label, logs):
    """Runs a zkinfer EVM command with --json; returns its JSON or {"error": text}."""
    try:
        m = measure(cmd + ["--json"], label, logs)
        out = json.loads(m["stdout"].strip().splitlines()[-1])
        if not out.get("ok"):
            out["error"] = "verifyProof returned false / reverted"
        return out
    except (StepFailed, ValueError, IndexError) as ex:
        return {"error": str(ex)}


def contract_name(sol):
    names = re.findall(r"^\s*contract\s+(\w+)", open(sol).read(), re.M)
    return names[-1] if names else None


def ezkl_reusable_wrapper(work):
    """EZKL's reusable verifier needs its VK artifact registered (registerVka, a
    storage write) before verifyProof. `evm-call` deploys and makes one call, so
    this wraps it in a contract whose constructor registers the digest of the
    vka words taken from the calldata; the verify gas is then the steady-state
    verifyProof (vka passed in calldata, registration paid once at deploy)."""
    cd = bytes.fromhex(open(os.path.join(work, "calldata_reusable.hex")).read()[2:])
    body = cd[4:]
    off = int.from_bytes(body[64:96], "big")          # third argument: bytes32[] vka
    n = int.from_bytes(body[off:off + 32], "big")
    words = body[off + 32:off + 32 + 32 * n]
    src = open(os.path.join(work, "ezkl_reusable.sol")).read()
    base = contract_name(os.path.join(work, "ezkl_reusable.sol"))
    # verifyProof returns (bool, bytes32, int256[]), which `evm-call` does not
    # read as "true"; any other selector reaches the fallback, which calls
    # verifyProof and returns just its bool (the validity check; the gas
    # figure is from calling verifyProof directly).
    src += (f"\ncontract EzklReusableBench is {base} {{\n"
            f"    constructor() {{ registeredVkas[keccak256(hex\"{words.hex()}\")] = true; }}\n"
            f"    fallback(bytes calldata input) external returns (bytes memory) {{\n"
            f"        (bool s, bytes memory out) = address(this).call(\n"
            f"            abi.encodePacked(this.verifyProof.selector, input[4:]));\n"
            f"        bool ok = s && out.length >= 32 && abi.decode(out, (bool));\n"
            f"        return abi.encode(ok);\n    }}\n}}\n")
    out = os.path.join(work, "ezkl_reusable_bench.sol")
    with open(out, "w") as f:
        f.write(src)
    with open(os.path.join(work, "calldata_reusable_check.hex"), "w") as f:
        f.write("0xffffffff" + cd[4:].hex())
    return out


# --------------------------------------------------------------------------
# Measuring one process: wall clock, peak RSS (/usr/bin/time -v), plus a
# watchdog that kills the process group past the time or memory limit.
# --------------------------------------------------------------------------

STEP_TIMEOUT_S = float(os.environ.get("STEP_TIMEOUT_S", "1200"))
STEP_MAX_RSS_MIB = float(os.environ.get("STEP_MAX_RSS_MIB", "16384"))


class StepFailed(Exception):
    pass


def _tree_rss_mib(pid):
    """Sum of RSS over pid and its descendants (Linux /proc)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return total / 1024.0


def measure(cmd, label, log_dir, env=None):
    """Run cmd under /usr/bin/time -v. Returns dict(wall_s, peak_rss_mib, stdout)."""
    tfile = os.path.join(log_dir, f"{label}.time")
    outf = os.path.join(log_dir, f"{label}.out")
    errf = os.path.join(log_dir, f"{label}.err")
    with open(outf, "w") as out, open(errf, "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", tfile] + cmd, stdout=out, stderr=err,
                                env=env, start_new_session=True)
        killed, peak_seen = None, 0.0
        while True:
            try:
                proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            rss = _tree_rss_mib(proc.pid)
            peak_seen = max(peak_seen, rss)
            elapsed = time.perf_counter() - t0
            if elapsed > STEP_TIMEOUT_S:
                killed = f"exceeded the {STEP_TIMEOUT_S:.0f} s step limit"
            elif rss > STEP_MAX_RSS_MIB:
                killed = f"exceeded the {STEP_MAX_RSS_MIB:.0f} MiB memory limit ({rss:.0f} MiB)"
            if killed:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
        wall = time.perf_counter() - t0
    if killed:
        raise StepFailed(f"{label}: {killed}")
    tv = open(tfile).read() if os.path.exists(tfile) else ""
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv)
    peak = int(m.group(1)) / 1024.0 if m else peak_seen
    if proc.returncode != 0:
        tail = open(errf).read().strip().splitlines()[-5:]
        raise StepFailed(f"{label}: exit {proc.returncode}: " + " | ".join(tail)[-600:])
    return {"wall_s": wall, "peak_rss_mib": peak, "stdout": open(outf).read()}


# --------------------------------------------------------------------------
# Accuracy
# --------------------------------------------------------------------------

def flatten(x):
    if isinstance(x, (list, tuple)):
        for v in x:
            yield from flatten(v)
    else:
        yield float(x)


def accuracy(outputs, expected_path):
    exp = list(flatten(json.load(open(expected_path))["output_data"]))
    got = list(flatten(outputs))
    if len(exp) != len(got):
        return {"max_abs_error": None, "relative_error": None,
                "note": f"output length {len(got)} != expected {len(exp)}"}
    err = max((abs(a - b) for a, b in zip(got, exp)), default=0.0)
    rng = (max(exp) - min(exp)) if exp else 0.0
    return {"max_abs_error": err, "relative_error": err / rng if rng > 0 else None}


# --------------------------------------------------------------------------
# The two tools
# --------------------------------------------------------------------------

def run_zkinfer(model_dir, work):
    zk = os.environ["ZKINFER_BIN"]
    onnx, inp, exp = (os.path.join(model_dir, f) for f in ("model.onnx", "input.json", "expected.json"))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    vis = ["--input-visibility", "public", "--output-visibility", "public"]
    r = {"tool": "zkinfer"}
    d = os.path.join(work, "steps")
    r["compile"] = measure([zk, "compile", onnx, "-o", d, "--calibrate", inp] + vis, "compile", logs)
    # Like EZKL's gen_srs, make the dev SRS for exactly this k up front (not
    # timed): otherwise setup derives it from a larger cached one (downsizing
    # costs seconds) or generates it.
    k = json.load(open(os.path.join(d, "settings.json")))["k"]
    cache = os.environ.get("ZKINFER_CACHE", os.path.join(ROOT, "target", "srs-cache"))
    srs = os.path.join(cache, f"dev-k{k}.srs")
    if not os.path.exists(srs):
        os.makedirs(cache, exist_ok=True)
        r["srs_gen"] = measure([zk, "srs", "--k", str(k), "--out", srs], "srs", logs)
    # Whole pipeline in one process: k, rows, sizes, in-process step times.
    m = measure([zk, "run", onnx, "--input", inp, "--expected", exp, "--calibrate", inp,
                 "-o", os.path.join(work, "run"), "--json"] + vis, "run", logs)
    summary = json.loads(m["stdout"].strip().splitlines()[-1])
    r["run"] = summary
    # Each step in its own process.
    proof = os.path.join(work, "proof.json")
    r["setup"] = measure([zk, "setup", d], "setup", logs)
    r["prove"] = measure([zk, "prove", d, "--input", inp, "-o", proof], "prove", logs)
    r["verify"] = measure([zk, "verify", d, proof], "verify", logs)
    # A second prove under perf: MSM/FFT shares of the prove phase, and row use.
    if os.environ.get("PROFILE", "1") != "0":
        r["profile"] = profile_prove.profile(zk, d, inp)
    r["evm"] = evm_json([zk, "verify-evm", d, proof], "verify-evm", logs)
    r["evm_reusable"] = evm_json([zk, "verify-evm", d, proof, "--separate"], "verify-evm-separate", logs)
    # The gas layout (`compile --optimize gas`): what on-chain users deploy.
    g = os.path.join(work, "gas")
    gproof = os.path.join(work, "proof-gas.json")
    gas_layout = {"compile": measure([zk, "compile", onnx, "-o", g, "--calibrate", inp, "--optimize", "gas"] + vis,
                                     "compile-gas", logs)}
    gas_layout["setup"] = measure([zk, "setup", g], "setup-gas", logs)
    gas_layout["prove"] = measure([zk, "prove", g, "--input", inp, "-o", gproof], "prove-gas", logs)
    gs = json.load(open(os.path.join(g, "settings.json")))
    gas_layout.update({"k": gs["k"], "layout": gs.get("layout"), "commitments": gs.get("commitments")})
    r["gas_layout"] = gas_layout
    r["evm_gas_layout"] = evm_json([zk, "verify-evm", g, gproof], "verify-evm-gas", logs)
    r["evm_reusable_gas_layout"] = evm_json([zk, "verify-evm", g, gproof, "--separate"], "verify-evm-separate-gas",
                                            logs)
    settings = json.load(open(os.path.join(d, "settings.json")))
    pf = json.load(open(proof))
    r.update({
        "k": settings["k"], "rows": settings["rows"],
        "advice_columns": settings.get("advice_columns"), "lookups": settings.get("lookups"),
        "pk_bytes": os.path.getsize(os.path.join(d, "pk.bin")),
        "proof_bytes": (len(pf["proof"]) - 2) // 2,
        "witness_s": summary.get("witness_s"),
    })
    r.update(accuracy(pf["outputs"], exp))
    r["reported_max_abs_error"] = summary.get("max_abs_error")
    return r


def run_ezkl(model_dir, work, srs_dir):
    py = sys.executable
    me = os.path.abspath(__file__)
    exp = os.path.join(model_dir, "expected.json")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    r = {"tool": "ezkl"}

    def step(name, srs=None):
        cmd = [py, me, "ezkl-step", name, work, model_dir] + ([srs] if srs else [])
        m = measure(cmd, name, logs)
        tf = os.path.join(work, f"{name}.timing.json")
        if os.path.exists(tf):
            m.update(json.load(open(tf)))
        return m

    r["prep"] = step("prep")
    settings = json.load(open(os.path.join(work, "settings.json")))
    k = settings["run_args"]["logrows"]
    r["k"], r["rows"] = k, settings.get("num_rows")
    r["input_scale"] = settings["run_args"].get("input_scale")
    r["param_scale"] = settings["run_args"].get("param_scale")
    os.makedirs(srs_dir, exist_ok=True)
    srs = os.path.join(srs_dir, f"k{k}.srs")
    if not os.path.exists(srs):
        r["srs_gen"] = step("srs", srs)
    for name in ("setup", "witness", "prove", "verify"):
        r[name] = step(name, srs)
    zk = os.environ["ZKINFER_BIN"]
    try:
        step("evm", srs)
        notes = json.load(open(os.path.join(work, "evm_notes.json")))
        for key, sol, cdf in (("evm", "ezkl.sol", "calldata.hex"),
                              ("evm_reusable", None, "calldata_reusable.hex")):
            try:
                if sol is None:
                    sol = ezkl_reusable_wrapper(work)
                else:
                    sol = os.path.join(work, sol)
                name = contract_name(sol)
                r[key] = evm_json([zk, "evm-call", "--sol", sol, "--contract", name,
                                   "--calldata", os.path.join(work, cdf)], "evm-call-" + key, logs)
                r[key]["contract"] = name
                if key == "evm_reusable":
                    chk = evm_json([zk, "evm-call", "--sol", sol, "--contract", name, "--calldata",
                                    os.path.join(work, "calldata_reusable_check.hex")], "evm-call-check", logs)
                    r[key]["ok"] = chk.get("ok", False)
                    r[key].pop("error", None)
                    if not r[key]["ok"]:
                        r[key]["error"] = chk.get("error", "check call failed")
            except (OSError, ValueError, IndexError) as ex:
                r[key] = {"error": f"{ex} (ezkl notes: {notes})"}
    except StepFailed as ex:
        r["evm"] = r["evm_reusable"] = {"error": str(ex)}
    r["pk_bytes"] = os.path.getsize(os.path.join(work, "pk.key"))
    pf = json.load(open(os.path.join(work, "proof.json")))
    r["proof_bytes"] = len(pf["proof"]) if isinstance(pf["proof"], list) else (len(pf["hex_proof"]) - 2) // 2
    r["witness_s"] = r["witness"].get("step_s")
    w = json.load(open(os.path.join(work, "witness.json")))
    r.update(accuracy(w["pretty_elements"]["rescaled_outputs"], exp))
    return r


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def fmt(x, spec):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x == 0 and spec == ".3g":
        return "<0.001"
    return format(x, spec)


def step_s(r, name):
    """Step time: zkinfer = process wall clock; EZKL = time inside the ezkl call
    (its process wall clock also includes ~python start-up + `import ezkl`)."""
    s = r.get(name) or {}
    return s.get("step_s", s.get("wall_s"))


def ratio(a, b):
    if a is None or b is None:
        return None
    if b == 0:
        return math.inf if a > 0 else None
    return a / b


def fmt_ratio(x):
    if x is None:
        return "–"
    if math.isinf(x):
        return "∞"
    return f"{x:.3g}"


def machine_info():
    model = cores = None
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("CPU(s):"):
                cores = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "cores": cores or os.cpu_count(), "mem_gib": mem}


def versions():
    v = {}
    try:
        import ezkl
        v["ezkl"] = getattr(ezkl, "__version__", "?")
    except ImportError:
        v["ezkl"] = "?"
    zk = os.environ.get("ZKINFER_BIN")
    v["zkinfer"] = subprocess.run([zk, "--version"], capture_output=True, text=True).stdout.strip()
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    v["git"] = git.stdout.strip() + ("+dirty" if dirty else "")
    v["rustc"] = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    v["python"] = platform.python_version()
    return v


def report(results, meta):
    L = []
    mi, v = meta["machine"], meta["versions"]
    L.append(f"Machine: {mi['cpu']}, {mi['cores']} cores, {fmt(mi['mem_gib'], '.0f')} GiB. "
             f"Date: {meta['date']}. zkinfer {v['zkinfer']} (git {v['git']}, {v['rustc']}); "
             f"EZKL {v['ezkl']} (PyPI, Python {v['python']}).")
    L.append("")
    L.append("| model | tool | k | rows | setup s | prove s | witness s | verify s | prove peak RSS MiB | pk MiB | proof bytes | max abs err |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for res in results:
        for tool in ("zkinfer", "ezkl"):
            r = res.get(tool)
            if r is None:
                continue
            name = "zkinfer" if tool == "zkinfer" else "EZKL"
            if "error" in r:
                L.append(f"| {res['model']} | {name} | " + " | ".join(["–"] * 10) + f" | failed: {r['error']} |")
                continue
            L.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                res["model"], name, r["k"], r["rows"],
                fmt(step_s(r, "setup"), ".3g"), fmt(step_s(r, "prove"), ".3g"),
                fmt(r.get("witness_s"), ".3g"), fmt(step_s(r, "verify"), ".3g"),
                fmt(r["prove"]["peak_rss_mib"], ".0f"), fmt(r["pk_bytes"] / 2**20, ".1f"),
                r["proof_bytes"], fmt(r.get("max_abs_error"), ".2e")))
    L.append("")
    L.append("Ratios zkinfer / EZKL (below 1 = zkinfer smaller/faster/more accurate):")
    L.append("")
    L.append("| model | prove time | prove peak RSS | pk size | setup time | max abs err |")
    L.append("|---|---|---|---|---|---|")
    prove_ratios = []
    for res in results:
        z, e = res.get("zkinfer"), res.get("ezkl")
        if not z or not e or "error" in z or "error" in e:
            why = "; ".join(f"{t}: {res[t]['error']}" for t in ("zkinfer", "ezkl") if res.get(t) and "error" in res[t])
            L.append(f"| {res['model']} | – | – | – | – | – (no pair: {why or 'not run'}) |")
            continue
        pr = ratio(step_s(z, "prove"), step_s(e, "prove"))
        prove_ratios.append(pr)
        L.append("| {} | {} | {} | {} | {} | {} |".format(
            res["model"], fmt_ratio(pr),
            fmt_ratio(ratio(z["prove"]["peak_rss_mib"], e["prove"]["peak_rss_mib"])),
            fmt_ratio(ratio(z["pk_bytes"], e["pk_bytes"])),
            fmt_ratio(ratio(step_s(z, "setup"), step_s(e, "setup"))),
            fmt_ratio(ratio(z.get("max_abs_error"), e.get("max_abs_error")))))
    L.append("")
    if prove_ratios:
        L.append(f"Median prove-time ratio zkinfer/EZKL over {len(prove_ratios)} models: "
                 f"{statistics.median(prove_ratios):.3g}.")
    L.append("")
    L.extend(profile_report(results))
    L.extend(evm_report(results))
    base = meta.get("ezkl_baseline_rss_mib")
    L.append("")
    L.append("Notes: each step (setup, prove, verify) ran in its own process under `/usr/bin/time -v`; "
             "peak RSS is that process's maximum resident set size. zkinfer step times are process wall "
             "clock; EZKL step times are the time inside the ezkl call (its process also pays Python "
             "start-up and `import ezkl`). zkinfer's prove includes witness generation; EZKL's does not "
             "(its gen_witness is the separate witness column; zkinfer's witness column is the part of "
             "prove from `run --json`). SRS generation is excluded from setup for both tools: each gets a (development) SRS of exactly the circuit's k made beforehand, so setup = load SRS + keygen + write keys. "
             + (f"EZKL's RSS includes the Python interpreter with ezkl imported (~{base:.0f} MiB alone). " if base else "")
             + "Both tools calibrated on input.json; public inputs and outputs, fixed parameters.")
    return "\n".join(L) + "\n"


def profile_report(results):
    """zkinfer's row use and where its prove CPU time goes (benches/profile_prove.py)."""
    rows = [(res["model"], res["zkinfer"]["profile"]) for res in results
            if res.get("zkinfer") and "profile" in res["zkinfer"]]
    if not rows:
        return []

    def pct(p, key):
        return "n/a" if "error" in p or p.get(key) is None else f"{100 * p[key]:.0f}"

    L = ["zkinfer prove profile (a second `zkinfer prove` under perf; shares of the prove phase's CPU time; "
         "used = max(rows, lookup table rows)):", "",
         "| model | k | rows | table rows | rows/2^k % | used/2^k % | MSM % | FFT % | other % |",
         "|---|---|---|---|---|---|---|---|---|"]
    for model, p in rows:
        L.append(f"| {model} | {p['k']} | {p['rows']} | {p['table_rows']} | {pct(p, 'rows_share')} | "
                 f"{pct(p, 'used_share')} | {pct(p, 'msm_share')} | {pct(p, 'fft_share')} | {pct(p, 'other_share')} |"
                 + (f" n/a: {p['error']}" if "error" in p else ""))
    L.append("")
    return L


def evm_report(results):
    """On-chain verification gas tables (single-contract and reusable forms)."""
    L = []

    def cells(e, extra_vk=False):
        if not e:
            return ["–", "–", "–"] + (["–"] if extra_vk else [])
        if "error" in e and not e.get("gas"):
            err = e["error"].replace("|", "/").replace("\n", " ")[-300:]
            return [f"failed: {err}", "–", "–"] + (["–"] if extra_vk else [])
        c = [f"{e['gas']:,}", f"{e['code_size']:,}", f"{e['deploy_gas']:,}"]
        if extra_vk:
            c.append(f"{e['vk_code_size']:,}" if e.get("vk_code_size") else "–")
        return c

    def gas(e):
        return e.get("gas") if e and "error" not in e else None

    for key, title, zk_note, ez_note in (
            ("evm", "On-chain verification, one verifier contract per model",
             "`zkinfer verify-evm`", "EZKL `create_evm_verifier` + `encode_evm_calldata`, run with `zkinfer evm-call`"),
            ("evm_reusable", "On-chain verification, reusable verifier + per-model verifying key",
             "`zkinfer verify-evm --separate`: shared verifier + VK contract",
             "EZKL `create_evm_verifier(reusable=True)` + `create_evm_vka`; vka passed in calldata, "
             "registered in the constructor of a wrapper contract (deploy gas includes that)")):
        L.append(f"{title} (solc-js 0.8.30, optimizer on, revm; gas of the verifyProof transaction): "
                 f"zkinfer = {zk_note}; EZKL = {ez_note}.")
        L.append("")
        vk = key == "evm_reusable"
        L.append("| model | zkinfer verify gas | zkinfer deployed bytes | zkinfer deploy gas | "
                 + ("zkinfer VK bytes | " if vk else "")
                 + "EZKL verify gas | EZKL deployed bytes | EZKL deploy gas | verify gas zkinfer/EZKL | "
                 + "`--optimize gas`: verify gas | deployed bytes | k | prove s | verify gas /EZKL |")
        L.append("|---" * (13 + vk) + "|")
        for res in results:
            z, e = (res.get(t) or {} for t in ("zkinfer", "ezkl"))
            ze, ee, zg = z.get(key), e.get(key), z.get(key + "_gas_layout")
            if ze is None and "error" in z:
                ze = {"error": "prove failed"}
            if ee is None and "error" in e:
                ee = {"error": "prove failed"}
            gl = z.get("gas_layout") or {}
            gcells = [f"{gas(zg):,}" if gas(zg) else "–", f"{zg['code_size']:,}" if gas(zg) else "–",
                      str(gl.get("k", "–")), fmt((gl.get("prove") or {}).get("wall_s"), ".2f"),
                      fmt_ratio(ratio(gas(zg), gas(ee)))]
            L.append("| " + " | ".join([res["model"]] + cells(ze, vk) + cells(ee)
                                       + [fmt_ratio(ratio(gas(ze), gas(ee)))] + gcells) + " |")
        L.append("")
    return L


def resolve_model(name, corpus):
    if os.path.isdir(name) and os.path.exists(os.path.join(name, "model.onnx")):
        return os.path.basename(os.path.normpath(name)), os.path.abspath(name)
    for cand in (name, os.path.join("ezkl", name)):
        d = os.path.join(corpus, cand)
        if os.path.exists(os.path.join(d, "model.onnx")):
            return cand, d
    raise SystemExit(f"compare_ezkl: no model {name!r} (looked under {corpus})")


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv and argv[0] == "ezkl-step":
        ezkl_step(*argv[1:])
        return 0
    if "ZKINFER_BIN" not in os.environ:
        raise SystemExit("compare_ezkl.py: run it through benches/compare_ezkl.sh (ZKINFER_BIN unset)")
    corpus = os.environ.get("CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))
    out_dir = os.environ.get("OUT_DIR", os.path.join(ROOT, "target", "compare_ezkl"))
    srs_dir = os.path.join(ROOT, "target", "ezkl-srs")
    models = [resolve_model(n, corpus) for n in (argv or DEFAULT_MODELS)]
    # The heavy model runs last.
    models.sort(key=lambda m: os.path.basename(m[1]) == HEAVY)
    skip_large = os.environ.get("SKIP_LARGE_MLP", "") not in ("", "0")
    os.makedirs(out_dir, exist_ok=True)

    meta = {"machine": machine_info(), "versions": versions(),
            "date": datetime.date.today().isoformat(),
            "step_timeout_s": STEP_TIMEOUT_S, "step_max_rss_mib": STEP_MAX_RSS_MIB}
    try:
        base = measure([sys.executable, os.path.abspath(__file__), "ezkl-step", "import", out_dir, "."],
                       "ezkl-import-baseline", out_dir)
        meta["ezkl_baseline_rss_mib"] = base["peak_rss_mib"]
    except StepFailed:
        pass

    results = []
    for name, d in models:
        res = {"model": name, "path": d}
        if skip_large and os.path.basename(d) == HEAVY:
            print(f"== {name}: skipped (SKIP_LARGE_MLP)", file=sys.stderr)
            continue
        results.append(res)
        for tool, fn in (("zkinfer", lambda w: run_zkinfer(d, w)), ("ezkl", lambda w: run_ezkl(d, w, srs_dir))):
            work = os.path.join(out_dir, name.replace("/", "_"), tool)
            print(f"== {name}: {tool} (load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            load0 = os.getloadavg()[0]
            try:
                r = fn(work)
            except (StepFailed, OSError, KeyError, ValueError, json.JSONDecodeError) as ex:
                r = {"tool": tool, "error": str(ex)}
                print(f"   {tool} failed: {ex}", file=sys.stderr)
            r["total_s"] = time.perf_counter() - t0
            r["loadavg_1m_before"] = load0
            r["loadavg_1m_after"] = os.getloadavg()[0]
            if "error" not in r:
                print(f"   k={r['k']} prove {step_s(r, 'prove'):.2f} s, prove RSS {r['prove']['peak_rss_mib']:.0f} MiB, "
                      f"err {fmt(r.get('max_abs_error'), '.2e')} ({r['total_s']:.0f} s total)", file=sys.stderr)
            res[tool] = r
            # Save as we go, so a long run that dies keeps what it measured.
            with open(os.path.join(ROOT, "target", "compare_ezkl.json"), "w") as f:
                json.dump({"meta": meta, "results": results}, f, indent=1, default=str)
    md = report(results, meta)
    with open(os.path.join(ROOT, "target", "compare_ezkl.md"), "w") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
