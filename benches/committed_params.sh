#!/usr/bin/env bash
# Parameter visibility benchmark (issue 12): fixed vs private vs hashed
# weights, zkinfer and EZKL side by side in the same run.
#
# Usage:
#   benches/committed_params.sh [MODEL ...]
#
# MODEL is a directory with model.onnx, input.json and expected.json, a corpus
# model name (`ezkl/3l_relu_conv_fc`, `3l_relu_conv_fc`), or
# `DIR:MODEL.onnx[:INPUT.json[:EXPECTED.json]]` for other file names.
# Default: examples/fraud:model_v1.onnx:flagged_v1.json:expected.json
# ezkl/3l_relu_conv_fc benches/models/lenet5 (LeNet always runs last).
# Quick check:
#   VIS=fixed,hashed STEP_TIMEOUT_S=600 benches/committed_params.sh \
#       examples/fraud:model_v1.onnx:flagged_v1.json:expected.json
#
# What it does:
#   1. creates/reuses the venv .venv-bench/ with the pinned EZKL from
#      scripts/requirements-bench.txt (idempotent, shared with compare_ezkl.sh);
#   2. builds zkinfer once (`cargo build --release`) unless ZKINFER_BIN is set;
#   3. per model and per visibility V (zkinfer fixed, private, hashed, then
#      EZKL fixed, private, hashed), public inputs and outputs, calibrated on
#      the input file:
#      zkinfer: `compile --param-visibility V` (k, rows, num_params from
#      settings.json), the dev SRS of that k made untimed, then setup, prove,
#      verify each in its own process under `/usr/bin/time -v` (wall, peak
#      RSS), `verify-evm --json` for the verify gas, proof/pk sizes, accuracy
#      against expected.json, and for hashed the proof's commitments.params
#      (checked against `zkinfer commitment`);
#      EZKL: benches/compare_ezkl.py's run_ezkl with PyRunArgs.param_visibility
#      = fixed | private | hashed/public (EZKL_PARAM_VISIBILITY), its steps
#      timed the same way, EVM gas via `zkinfer evm-call` on EZKL's verifier;
#   4. prints a table per model (tool x visibility), a visibility-cost ratio
#      table (private/fixed, hashed/fixed per tool) and a zkinfer/EZKL ratio
#      table per visibility; writes target/committed_params.md and the raw
#      numbers to target/committed_params.json (saved after every run).
#
# Environment:
#   VIS=LIST             visibilities to run (default fixed,private,hashed;
#                        `polycommit` adds an EZKL-only KZG-commitment run)
#   SKIP_EZKL=1          zkinfer only
#   STEP_TIMEOUT_S=N     kill any single step after N s (default 1200); that
#                        run is recorded as failed with the reason, the rest go on
#   STEP_MAX_RSS_MIB=N   kill any single step above N MiB RSS (default 16384)
#   ZKINFER_BIN=PATH     use this zkinfer binary and skip `cargo build`
#   CORPUS=DIR           corpus root (default: <repo>/../shared/corpus)
#   OUT_DIR=DIR          work dir for keys/proofs (default: target/committed_params)
#   ZKINFER_CACHE        zkinfer dev-SRS cache (default: target/srs-cache);
#                        EZKL's gen_srs output is cached in target/ezkl-srs/
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-bench"
REQ="$ROOT/scripts/requirements-bench.txt"
STAMP="$VENV/.requirements-bench.sha256"

cd "$ROOT"

# 1. EZKL venv (idempotent).
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || { echo "committed_params.sh: failed to create venv at $VENV" >&2; exit 1; }
fi
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    echo "committed_params.sh: installing $(grep -v '^#' "$REQ" | xargs) into $VENV" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" \
        || { echo "committed_params.sh: pip install failed" >&2; exit 1; }
    echo "$want" > "$STAMP"
fi
"$VENV/bin/python" -c "import ezkl" || { echo "committed_params.sh: cannot import ezkl" >&2; exit 1; }

[ -x /usr/bin/time ] || { echo "committed_params.sh: /usr/bin/time (GNU time) is required" >&2; exit 1; }

# 2. zkinfer (once).
if [ -z "${ZKINFER_BIN:-}" ]; then
    cargo build --release --quiet || { echo "committed_params.sh: cargo build --release failed" >&2; exit 1; }
    export ZKINFER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/zkinfer"
fi
export ZKINFER_CACHE="${ZKINFER_CACHE:-$ROOT/target/srs-cache}"

# solc-js for the gas columns (a failure leaves those columns as errors).
if [ ! -f "$ROOT/node_modules/solc/soljson.js" ]; then
    bash "$ROOT/scripts/npm-ci.sh" || echo "committed_params.sh: npm-ci failed; gas columns will show errors" >&2
fi

# 3-4. Run both tools at each visibility and write the tables.
exec "$VENV/bin/python" "$ROOT/benches/committed_params.py" "$@"
