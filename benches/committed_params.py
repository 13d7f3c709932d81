#!/usr/bin/env python3
"""Parameter visibility benchmark: fixed vs private vs hashed weights, zkinfer
and EZKL side by side in one run (run via benches/committed_params.sh).

    committed_params.py [MODEL ...]

MODEL is a directory holding model.onnx, input.json and expected.json, a
corpus model name (`ezkl/3l_relu_conv_fc`, `3l_relu_conv_fc`), or
`DIR:MODEL.onnx[:INPUT.json[:EXPECTED.json]]` (file names relative to DIR) for
a directory with other file names. A directory without model.onnx uses its
first *.onnx and input.json, else its first *.json with "input_data".
Default: examples/fraud:model_v1.onnx:flagged_v1.json:expected.json,
ezkl/3l_relu_conv_fc, benches/models/lenet5 (LeNet runs last).

    committed_params.py --report [JSON]         re-render the tables from
                                                target/committed_params.json

Needs ZKINFER_BIN in the environment and ezkl importable (the .sh sets both).
Reuses benches/compare_ezkl.py: measure() (wall clock, peak RSS, limits),
run_ezkl() (EZKL's steps, each in its own process, with the parameter
visibility from EZKL_PARAM_VISIBILITY), evm_json(), accuracy() and the report
helpers. Standard library only.
"""
import datetime
import glob
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))
import compare_ezkl as ce  # noqa: E402
from compare_ezkl import (StepFailed, accuracy, evm_json, flatten, fmt, fmt_ratio,  # noqa: E402
                          machine_info, measure, ratio, step_s, versions)

DEFAULT_MODELS = [
    os.path.join(ROOT, "examples", "fraud") + ":model_v1.onnx:flagged_v1.json:expected.json",
    "ezkl/3l_relu_conv_fc",
    os.path.join(ROOT, "benches", "models", "lenet5"),
]
HEAVY = ("lenet5",)
# zkinfer's --param-visibility -> EZKL's PyRunArgs.param_visibility (ezkl 23.0.5).
# EZKL's "hashed/public" is a Poseidon hash of the weights exposed as a public
# instance: the counterpart of zkinfer's `hashed` (the setter also takes plain
# "hashed" and stores "hashed/public"). "polycommit": a KZG commitment of the
# weights' unblinded advice columns in both tools (zkinfer: keccak256 of the
# weight columns' points is commitments.params).
EZKL_VIS = {"fixed": "fixed", "private": "private", "hashed": "hashed/public", "polycommit": "polycommit"}
ZKINFER_VIS = ("fixed", "private", "hashed", "polycommit")
ORDER = ("fixed", "private", "hashed", "polycommit")
TOOL_NAME = {"zkinfer": "zkinfer", "ezkl": "EZKL"}


# --------------------------------------------------------------------------
# Models: resolve a spec, stage it as model.onnx / input.json / expected.json
# --------------------------------------------------------------------------

def _first_input_json(d):
    for p in sorted(glob.glob(os.path.join(d, "*.json"))):
        try:
            if "input_data" in json.load(open(p)):
                return p
        except (OSError, ValueError):
            pass
    return None


def resolve(spec, corpus):
    base, *files = spec.split(":")
    if len(files) > 3:
        raise SystemExit(f"committed_params: bad model spec {spec!r} (DIR[:MODEL.onnx[:INPUT.json[:EXPECTED.json]]])")
    if os.path.isdir(base):
        name, d = os.path.basename(os.path.normpath(base)), os.path.abspath(base)
    else:
        name, d = ce.resolve_model(base, corpus)
    files += [None] * (3 - len(files))
    onnx, inp, exp = (os.path.join(d, f) if f else None for f in files)
    if onnx is None:
        onnx = os.path.join(d, "model.onnx")
        if not os.path.exists(onnx):
            cands = sorted(glob.glob(os.path.join(d, "*.onnx")))
            onnx = cands[0] if cands else None
    if inp is None:
        inp = os.path.join(d, "input.json")
        if not os.path.exists(inp):
            inp = _first_input_json(d)
    if exp is None:
        exp = os.path.join(d, "expected.json")
    for what, p in (("model", onnx), ("input", inp)):
        if not p or not os.path.exists(p):
            raise SystemExit(f"committed_params: {spec!r}: no {what} file found")
    return {"name": name, "dir": d, "onnx": onnx, "input": inp,
            "expected": exp if os.path.exists(exp) else None}


# Minimal protobuf rewriting: EZKL (tract) refuses a symbolic dimension unless
# it is declared in run_args.variables (default batch_size=1), and ezkl_step
# takes no variables; e.g. examples/fraud's torch export names its batch
# `batch`. The staged model for EZKL has every symbolic input/output/value_info
# dim replaced by 1 (what zkinfer binds a dynamic batch to without calibration
# batches); zkinfer gets the original file.

def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _enc_varint(n):
    out = bytearray()
    while True:
        c, n = n & 0x7F, n >> 7
        out.append(c | 0x80 if n else c)
        if not n:
            return bytes(out)


def _fields(b):
    i = 0
    while i < len(b):
        start = i
        tag, i = _varint(b, i)
        f, wt = tag >> 3, tag & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        yield f, wt, v, b[start:i]


def static_dims(onnx_bytes):
    """(model bytes with symbolic dims set to 1, number of dims replaced)."""
    count = [0]

    def dim(b):  # TensorShapeProto.Dimension: dim_value = 1, dim_param = 2
        out, sym = [], False
        for f, wt, v, raw in _fields(b):
            if f == 2 and wt == 2:
                sym = True
            else:
                out.append(raw)
        if sym:
            count[0] += 1
            out.insert(0, b"\x08\x01")
        return b"".join(out)

    # ValueInfoProto.type(2) -> TypeProto.tensor_type(1) -> shape(2) -> dim(1)
    value_info = {2: {1: {2: {1: dim}}}}
    # ModelProto.graph(7) -> GraphProto.input(11) / output(12) / value_info(13)
    spec = {7: {11: value_info, 12: value_info, 13: value_info}}

    def walk(b, spec):
        out = []
        for f, wt, v, raw in _fields(b):
            sub = spec.get(f) if wt == 2 else None
            if sub is None:
                out.append(raw)
                continue
            nv = sub(v) if callable(sub) else walk(v, sub)
            out.append(_enc_varint((f << 3) | 2) + _enc_varint(len(nv)) + nv)
        return b"".join(out)

    return walk(onnx_bytes, spec), count[0]


def onnx_weight_count(onnx_bytes):
    """Elements of the graph's floating-point initializers (the weights)."""
    total = 0
    for f, wt, v, _ in _fields(onnx_bytes):
        if f != 7 or wt != 2:
            continue
        for gf, gwt, gv, _ in _fields(v):
            if gf != 5 or gwt != 2:  # GraphProto.initializer
                continue
            dims, dtype = [], None
            for tf, twt, tv, _ in _fields(gv):
                if tf == 1 and twt == 0:
                    dims.append(tv)
                elif tf == 1 and twt == 2:  # packed
                    i = 0
                    while i < len(tv):
                        x, i = _varint(tv, i)
                        dims.append(x)
                elif tf == 2 and twt == 0:
                    dtype = tv
            if dtype in (1, 10, 11, 16):  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
                n = 1
                for x in dims:
                    n *= x
                total += n
    return total


def stage(model, work_root):
    """OUT/<model>/model/{model.onnx,input.json,expected.json} for run_ezkl
    (which reads exactly those names); expected.json in {"output_data": ...} form."""
    sd = os.path.join(work_root, "model")
    shutil.rmtree(sd, ignore_errors=True)
    os.makedirs(sd)
    notes = []
    raw = open(model["onnx"], "rb").read()
    model["onnx_weights"] = onnx_weight_count(raw)
    patched, n = static_dims(raw)
    if n:
        with open(os.path.join(sd, "model.onnx"), "wb") as f:
            f.write(patched)
        notes.append(f"EZKL gets the model with its {n} symbolic dims (dynamic batch) set to 1")
    else:
        os.symlink(model["onnx"], os.path.join(sd, "model.onnx"))
    os.symlink(model["input"], os.path.join(sd, "input.json"))
    exp_out, model["has_expected"] = os.path.join(sd, "expected.json"), False
    data = None
    if model["expected"]:
        data = json.load(open(model["expected"]))
    if isinstance(data, dict) and "output_data" in data:
        os.symlink(model["expected"], exp_out)
        model["has_expected"] = True
    else:
        # e.g. examples/fraud: {"flagged_v1": {"v1": score, "v2": score}, ...}:
        # the entry of this input file's stem and this model's stem (minus "model_").
        ik = os.path.splitext(os.path.basename(model["input"]))[0]
        mk = os.path.splitext(os.path.basename(model["onnx"]))[0]
        mk2 = mk[len("model_"):] if mk.startswith("model_") else mk
        val = None
        if isinstance(data, dict) and isinstance(data.get(ik), dict):
            val = data[ik].get(mk2, data[ik].get(mk))
        if isinstance(val, (int, float, list)):
            with open(exp_out, "w") as f:
                json.dump({"output_data": [list(flatten(val))]}, f)
            model["has_expected"] = True
            notes.append(f"expected output = {os.path.basename(model['expected'])}[{ik!r}][{mk2!r}]")
        else:
            with open(exp_out, "w") as f:
                json.dump({"output_data": []}, f)
            notes.append("no expected output in a known form: accuracy not measured")
    model["staged"] = sd
    model["stage_notes"] = notes
    return model


# --------------------------------------------------------------------------
# The two tools at one visibility
# --------------------------------------------------------------------------

def run_zkinfer(model, vis, work):
    zk = os.environ["ZKINFER_BIN"]
    inp, exp = os.path.join(model["staged"], "input.json"), os.path.join(model["staged"], "expected.json")
    shutil.rmtree(work, ignore_errors=True)
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    d, proof = os.path.join(work, "circuit"), os.path.join(work, "proof.json")
    r = {"tool": "zkinfer", "visibility": vis}
    r["compile"] = measure([zk, "compile", model["onnx"], "-o", d, "--calibrate", inp, "--param-visibility", vis,
                            "--input-visibility", "public", "--output-visibility", "public"], "compile", logs)
    s = json.load(open(os.path.join(d, "settings.json")))
    if s.get("param_visibility") not in (None, vis):
        raise StepFailed(f"settings.json says param_visibility={s.get('param_visibility')!r}, asked {vis!r}")
    for key in ("k", "rows", "advice_columns", "fixed_columns", "lookups", "num_params", "num_instances",
                "commitment_instances", "layout", "commitments"):
        r[key] = s.get(key)
    # The dev SRS of exactly this k, made up front and not timed (as
    # compare_ezkl.run_zkinfer does): setup then only loads it.
    cache = os.environ.get("ZKINFER_CACHE", os.path.join(ROOT, "target", "srs-cache"))
    srs = os.path.join(cache, f"dev-k{r['k']}.srs")
    if not os.path.exists(srs):
        os.makedirs(cache, exist_ok=True)
        r["srs_gen"] = measure([zk, "srs", "--k", str(r["k"]), "--out", srs], "srs", logs)
    r["setup"] = measure([zk, "setup", d], "setup", logs)
    r["prove"] = measure([zk, "prove", d, "--input", inp, "-o", proof], "prove", logs)
    r["verify"] = measure([zk, "verify", d, proof], "verify", logs)
    r["evm"] = evm_json([zk, "verify-evm", d, proof], "verify-evm", logs)
    pf = json.load(open(proof))
    r["proof_bytes"] = (len(pf["proof"]) - 2) // 2
    r["pk_bytes"] = os.path.getsize(os.path.join(d, "pk.bin"))
    r["vk_bytes"] = os.path.getsize(os.path.join(d, "vk.bin"))
    r["public_instances"] = sum(len(c) for c in pf.get("instances", []))
    if model["has_expected"]:
        r.update(accuracy(pf["outputs"], exp))
    if vis in ("hashed", "polycommit"):
        r["params_commitment"] = (pf.get("commitments") or {}).get("params")
        try:
            m = measure([zk, "commitment", d], "commitment", logs)
            cli = json.loads(m["stdout"].strip().splitlines()[-1]).get("params")
            r["commitment_cli"] = cli
            r["commitment_matches"] = cli is not None and cli == r["params_commitment"]
        except (StepFailed, ValueError, IndexError) as ex:
            r["commitment_cli_error"] = str(ex)
    return r


def run_ezkl(model, vis, work, srs_dir):
    """compare_ezkl.run_ezkl (prep, srs, setup, witness, prove, verify, evm; each
    step in its own process) with PyRunArgs.param_visibility = EZKL_VIS[vis]."""
    want = EZKL_VIS[vis]
    old = os.environ.get("EZKL_PARAM_VISIBILITY")
    os.environ["EZKL_PARAM_VISIBILITY"] = want
    try:
        r = ce.run_ezkl(model["staged"], work, srs_dir)
    finally:
        if old is None:
            os.environ.pop("EZKL_PARAM_VISIBILITY", None)
        else:
            os.environ["EZKL_PARAM_VISIBILITY"] = old
    r["visibility"], r["ezkl_param_visibility"] = vis, want
    _recover_ezkl_evm(r, work)
    s = json.load(open(os.path.join(work, "settings.json")))
    got = s["run_args"].get("param_visibility")
    r["settings_param_visibility"] = got
    if _ezkl_vis_name(got) != want:
        r["visibility_mismatch"] = f"settings.json run_args.param_visibility = {got!r}, asked {want!r}"
    r["module_sizes"] = s.get("module_sizes")
    r["total_const_size"] = s.get("total_const_size")
    r["total_assignments"] = s.get("total_assignments")
    try:
        pf = json.load(open(os.path.join(work, "proof.json")))
        r["public_instances"] = sum(len(c) for c in pf.get("instances", []))
    except (OSError, ValueError):
        pass
    r["vk_bytes"] = os.path.getsize(os.path.join(work, "vk.key"))
    try:
        w = json.load(open(os.path.join(work, "witness.json")))
        r["processed_params"] = w.get("processed_params")
    except (OSError, ValueError):
        pass
    if not model["has_expected"]:
        for key in ("max_abs_error", "relative_error", "note"):
            r.pop(key, None)
    return r


def _recover_ezkl_evm(r, work):
    """The EZKL evm step sometimes aborts at interpreter exit ("Fatal Python
    error: PyGILState_Release ... finalizing", exit 134) after it has written
    everything: evm.timing.json is written last, after the verifier and the
    calldata. Then its gas is measured from those artifacts (the call checks
    the proof, so a bad artifact shows up as ok=false)."""
    e = r.get("evm") or {}
    sol, cd = os.path.join(work, "ezkl.sol"), os.path.join(work, "calldata.hex")
    if "error" not in e or not all(os.path.exists(os.path.join(work, f))
                                   for f in ("evm.timing.json", "ezkl.sol", "calldata.hex")):
        return
    name = ce.contract_name(sol)
    again = evm_json([os.environ["ZKINFER_BIN"], "evm-call", "--sol", sol, "--contract", name, "--calldata", cd],
                     "evm-call-evm-recovered", os.path.join(work, "logs"))
    if "error" not in again:
        again["contract"] = name
        again["note"] = ("EZKL's evm step exited abnormally after writing all its artifacts ("
                         + " ".join(e["error"].split(" | ")[:2])[:200] + "); gas measured from those artifacts")
        r["evm"] = again


def _ezkl_vis_name(v):
    """settings.json's serde form ("Fixed", "Private", "KZGCommit",
    {"Hashed": {"hash_is_public": true, ...}}) -> the PyRunArgs string."""
    if isinstance(v, dict) and "Hashed" in v:
        return "hashed/public" if (v["Hashed"] or {}).get("hash_is_public") else "hashed/private"
    return {"Fixed": "fixed", "Private": "private", "Public": "public", "KZGCommit": "polycommit"}.get(v, str(v))


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def _gas(r):
    e = (r or {}).get("evm") or {}
    return e.get("gas") if "error" not in e else None


def _ok(r):
    return r is not None and "error" not in r


def _runs(res):
    """(tool, vis, result) in table order."""
    for tool in ("zkinfer", "ezkl"):
        for vis in ORDER:
            r = res.get(tool, {}).get(vis)
            if r is not None:
                yield tool, vis, r


def _cell_err(text):
    return text.replace("|", "/").replace("\n", " ")[-300:]


def report(results, meta):
    L = []
    mi, v = meta["machine"], meta["versions"]
    L.append(f"Machine: {mi['cpu']}, {mi['cores']} cores, {fmt(mi['mem_gib'], '.0f')} GiB. "
             f"Date: {meta['date']}. zkinfer {v['zkinfer'].removeprefix('zkinfer ')} (git {v['git']}, {v['rustc']}); "
             f"EZKL {v['ezkl']} (PyPI, Python {v['python']}). Visibilities: {', '.join(meta['visibilities'])}"
             + ("; EZKL skipped (SKIP_EZKL=1)" if meta.get("skip_ezkl") else "") + ".")
    L.append("")
    for res in results:
        m = res["model_info"]
        L.append(f"### {res['model']}")
        L.append("")
        L.append(f"`{os.path.relpath(m['onnx'], ROOT)}`, input `{os.path.relpath(m['input'], ROOT)}`; "
                 f"{m['onnx_weights']} weights (ONNX float initializer elements)."
                 + "".join(f" {n[0].upper() + n[1:]}." for n in m.get("stage_notes", [])))
        L.append("")
        L.append("| tool | param visibility | k | rows | params | setup s | prove s | witness s | verify s "
                 "| prove peak RSS MiB | pk MiB | proof bytes | public instances | verify gas | max abs err |")
        L.append("|---" * 15 + "|")
        for tool, vis, r in _runs(res):
            label = vis if tool == "zkinfer" else f"{vis} (`{EZKL_VIS[vis]}`)"
            if not _ok(r):
                L.append(f"| {TOOL_NAME[tool]} | {label} | " + " | ".join(["–"] * 12)
                         + f" | failed: {_cell_err(r['error'])} |")
                continue
            if tool == "zkinfer":
                params, wit = str(r.get("num_params", "–")), "in prove"
            else:
                # EZKL's settings have no parameter count; the poseidon module
                # rows are its hashing cost.
                params, wit = "–", fmt(r.get("witness_s"), ".3g")
            e = r.get("evm") or {}
            gas = f"{e['gas']:,}" if _gas(r) else f"failed: {_cell_err(e.get('error', '?'))}"
            L.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                TOOL_NAME[tool], label, r["k"], r["rows"], params,
                fmt(step_s(r, "setup"), ".3g"), fmt(step_s(r, "prove"), ".3g"), wit,
                fmt(step_s(r, "verify"), ".3g"), fmt(r["prove"]["peak_rss_mib"], ".0f"),
                fmt(r["pk_bytes"] / 2**20, ".1f"), r["proof_bytes"], r.get("public_instances", "–"), gas, fmt(r.get("max_abs_error"), ".2e")))
        L.append("")
        extra = []
        for tool, vis, r in _runs(res):
            if not _ok(r):
                continue
            if tool == "zkinfer" and vis in ("hashed", "polycommit"):
                c = r.get("params_commitment")
                match = {True: "matches `zkinfer commitment`", False: "DIFFERS from `zkinfer commitment`"}.get(
                    r.get("commitment_matches"), "`zkinfer commitment` not checked")
                where = (f"instance index {(r.get('commitment_instances') or {}).get('params')}" if vis == "hashed"
                         else "keccak256 of the weight columns' points in the proof")
                extra.append(f"zkinfer {vis}: `commitments.params` = `{c}` ({match}; {where}); layout "
                             f"{r.get('layout')}, {r.get('advice_columns')} advice columns, {r.get('commitments')} "
                             "commitments.")
            if tool == "ezkl" and vis in ("hashed", "polycommit"):
                pp = r.get("processed_params") or {}
                h = pp.get("poseidon_hash")
                extra.append(f"EZKL {EZKL_VIS[vis]}: module_sizes {json.dumps(r.get('module_sizes'))}"
                             + (f", params hash {json.dumps(h)}" if h else "") + ".")
            if (r.get("evm") or {}).get("note"):
                extra.append(f"{TOOL_NAME[tool]} {vis}: {r['evm']['note']}.")
            if r.get("visibility_mismatch"):
                extra.append(f"EZKL {vis}: {r['visibility_mismatch']}!")
        for x in extra:
            L.append("- " + x)
        if extra:
            L.append("")

    L.append("Cost of the visibility (ratio to the same tool's fixed-parameter circuit on the same model; "
             "1 = free):")
    L.append("")
    L.append("| model | tool | private/fixed prove | private/fixed verify gas | hashed/fixed prove | "
             "hashed/fixed verify gas | polycommit/fixed prove | polycommit/fixed verify gas |")
    L.append("|---" * 8 + "|")
    for res in results:
        for tool in ("zkinfer", "ezkl"):
            runs = res.get(tool) or {}
            if not runs:
                continue
            f = runs.get("fixed")
            cells = []
            for vis in ("private", "hashed", "polycommit"):
                r = runs.get(vis)
                if _ok(f) and _ok(r):
                    cells += [fmt_ratio(ratio(step_s(r, "prove"), step_s(f, "prove"))),
                              fmt_ratio(ratio(_gas(r), _gas(f)))]
                else:
                    cells += ["–", "–"]
            L.append(f"| {res['model']} | {TOOL_NAME[tool]} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("zkinfer / EZKL at the same parameter visibility (below 1 = zkinfer faster/cheaper):")
    L.append("")
    L.append("| model | visibility | prove time | verify gas | prove peak RSS | proof bytes |")
    L.append("|---" * 6 + "|")
    for res in results:
        for vis in ZKINFER_VIS:
            z, e = (res.get(t, {}).get(vis) for t in ("zkinfer", "ezkl"))
            if z is None or e is None:
                continue
            if not (_ok(z) and _ok(e)):
                L.append(f"| {res['model']} | {vis} | – | – | – | – |")
                continue
            L.append("| {} | {} | {} | {} | {} | {} |".format(
                res["model"], vis, fmt_ratio(ratio(step_s(z, "prove"), step_s(e, "prove"))),
                fmt_ratio(ratio(_gas(z), _gas(e))),
                fmt_ratio(ratio(z["prove"]["peak_rss_mib"], e["prove"]["peak_rss_mib"])),
                fmt_ratio(ratio(z["proof_bytes"], e["proof_bytes"]))))
    L.append("")
    base = meta.get("ezkl_baseline_rss_mib")
    L.append(
        "Notes: public inputs and outputs for both tools, calibrated on the same input file. zkinfer "
        "`--param-visibility fixed|private|hashed|polycommit`; EZKL `PyRunArgs.param_visibility` = `fixed`, "
        "`private`, `hashed/public` (Poseidon hash of the weights as a public instance, the counterpart of "
        "zkinfer's `hashed`), `polycommit` (KZG commitments of unblinded weight columns in both tools). Each step (setup, prove, verify) ran in its own process under `/usr/bin/time -v`; peak RSS "
        "is that process's maximum resident set size. zkinfer step times are process wall clock and its prove "
        "includes witness generation; EZKL step times are the time inside the ezkl call (excluding Python "
        "start-up and `import ezkl`) and its prove excludes gen_witness (the witness column). SRS generation is "
        "excluded from setup for both tools (a development SRS of exactly the circuit's k is made beforehand). "
        "`params` = zkinfer settings.json `num_params` (parameter slots in the witness; 0 when fixed). Verify gas "
        "= the verifyProof transaction of the single-contract verifier (solc-js 0.8.30, optimizer on, revm): "
        "`zkinfer verify-evm --json`; EZKL's create_evm_verifier + encode_evm_calldata run with `zkinfer "
        "evm-call`. Proof bytes: the proof without its public instances (proof.json `instances`, which "
        "also carry the weights' commitment when hashed). EZKL's `params` cell is empty: its settings have no "
        "parameter count (`total_const_size` and the poseidon `module_sizes` are in the JSON)."
        + (f" EZKL's RSS includes the Python interpreter with ezkl imported (~{base:.0f} MiB alone)." if base else ""))
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------

def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv and argv[0] == "--report":  # re-render the tables from the saved JSON
        d = json.load(open(argv[1] if len(argv) > 1 else os.path.join(ROOT, "target", "committed_params.json")))
        print(report(d["results"], d["meta"]))
        return 0
    if "ZKINFER_BIN" not in os.environ:
        raise SystemExit("committed_params.py: run it through benches/committed_params.sh (ZKINFER_BIN unset)")
    vis = [x.strip() for x in os.environ.get("VIS", "fixed,private,hashed").split(",") if x.strip()]
    bad = [x for x in vis if x not in EZKL_VIS]
    if bad or not vis:
        raise SystemExit(f"committed_params: VIS: unknown visibility {bad} (fixed, private, hashed, polycommit)")
    vis = [x for x in ORDER if x in vis]
    skip_ezkl = os.environ.get("SKIP_EZKL", "") not in ("", "0")
    corpus = os.environ.get("CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))
    out_dir = os.environ.get("OUT_DIR", os.path.join(ROOT, "target", "committed_params"))
    srs_dir = os.path.join(ROOT, "target", "ezkl-srs")
    json_out = os.path.join(ROOT, "target", "committed_params.json")
    md_out = os.path.join(ROOT, "target", "committed_params.md")
    models = [resolve(n, corpus) for n in (argv or DEFAULT_MODELS)]
    models.sort(key=lambda m: os.path.basename(m["dir"]) in HEAVY)  # the heavy LeNet last
    os.makedirs(out_dir, exist_ok=True)

    meta = {"machine": machine_info(), "versions": versions(), "date": datetime.date.today().isoformat(),
            "visibilities": vis, "ezkl_param_visibility": {x: EZKL_VIS[x] for x in vis},
            "skip_ezkl": skip_ezkl, "step_timeout_s": ce.STEP_TIMEOUT_S, "step_max_rss_mib": ce.STEP_MAX_RSS_MIB}
    if not skip_ezkl:
        try:
            base = measure([sys.executable, os.path.abspath(ce.__file__), "ezkl-step", "import", out_dir, "."],
                           "ezkl-import-baseline", out_dir)
            meta["ezkl_baseline_rss_mib"] = base["peak_rss_mib"]
        except StepFailed:
            pass

    results = []
    for model in models:
        mwork = os.path.join(out_dir, model["name"].replace("/", "_"))
        os.makedirs(mwork, exist_ok=True)
        stage(model, mwork)
        res = {"model": model["name"], "model_info": model, "zkinfer": {}, "ezkl": {}}
        results.append(res)
        plan = [("zkinfer", x) for x in vis if x in ZKINFER_VIS]
        if not skip_ezkl:
            plan += [("ezkl", x) for x in vis]
        for tool, x in plan:
            work = os.path.join(mwork, f"{tool}-{x}")
            print(f"== {model['name']}: {TOOL_NAME[tool]} {x} (load {os.getloadavg()[0]:.2f})",
                  file=sys.stderr, flush=True)
            t0, load0 = time.perf_counter(), os.getloadavg()[0]
            try:
                r = run_zkinfer(model, x, work) if tool == "zkinfer" else run_ezkl(model, x, work, srs_dir)
            except (StepFailed, OSError, KeyError, ValueError, json.JSONDecodeError) as ex:
                r = {"tool": tool, "visibility": x, "error": str(ex)}
                print(f"   failed: {ex}", file=sys.stderr)
            r["total_s"] = time.perf_counter() - t0
            r["loadavg_1m_before"], r["loadavg_1m_after"] = load0, os.getloadavg()[0]
            if _ok(r):
                print(f"   k={r['k']} rows={r['rows']} prove {step_s(r, 'prove'):.2f} s, prove RSS "
                      f"{r['prove']['peak_rss_mib']:.0f} MiB, verify gas {_gas(r)}, err "
                      f"{fmt(r.get('max_abs_error'), '.2e')} ({r['total_s']:.0f} s total)", file=sys.stderr)
            res[tool][x] = r
            # Save as we go, so a long run that dies keeps what it measured.
            with open(json_out, "w") as f:
                json.dump({"meta": meta, "results": results}, f, indent=1, default=str)
    md = report(results, meta)
    with open(md_out, "w") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
