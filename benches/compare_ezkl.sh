#!/usr/bin/env bash
# Side-by-side benchmark of zkinfer against EZKL (issue #4).
#
# Usage:
#   benches/compare_ezkl.sh [MODEL ...]
#
# MODEL is a corpus model name (`1l_mlp`, `ezkl/1l_mlp`) or a directory holding
# model.onnx, input.json and expected.json. Default: ezkl/1l_mlp
# ezkl/2l_relu_small ezkl/sklearn_mlp ezkl/3l_relu_conv_fc ezkl/variable_cnn
# ezkl/large_mlp (large_mlp always runs last).
#
# What it does:
#   1. creates/reuses the venv .venv-bench/ with the pinned EZKL from
#      scripts/requirements-bench.txt (idempotent; reinstalls only when the
#      requirements file changes);
#   2. builds zkinfer once (`cargo build --release`);
#   3. per model, zkinfer first then EZKL, both calibrated on input.json with
#      public inputs and outputs and fixed (constant) parameters: each heavy
#      step (setup, prove, verify) runs in its own process under
#      `/usr/bin/time -v` for wall time and peak RSS;
#   4. per model, on-chain verification gas for both: zkinfer `verify-evm
#      --json` (and `--separate`), EZKL's create_evm_verifier (single and
#      reusable) + encode_evm_calldata run through `zkinfer evm-call`, i.e. the
#      same solc-js 0.8.30 and revm (needs `bash scripts/npm-ci.sh`, run here
#      when node_modules/solc is missing);
#   5. prints a markdown table, a zkinfer/EZKL ratio table and the gas tables,
#      and writes them to target/compare_ezkl.md (raw: target/compare_ezkl.json).
#
# Environment:
#   SKIP_LARGE_MLP=1     skip ezkl/large_mlp (EZKL needs k=19, ~4 min, ~8 GB)
#   STEP_TIMEOUT_S=N     kill any single step after N s (default 1200); the
#                        model is then recorded as failed/skipped with the reason
#   STEP_MAX_RSS_MIB=N   kill any single step above N MiB RSS (default 16384)
#   ZKINFER_BIN=PATH     use this zkinfer binary and skip `cargo build`
#   PROFILE=0            skip the second, perf-profiled zkinfer prove (MSM/FFT shares)
#   CORPUS=DIR           corpus root (default: <repo>/../shared/corpus)
#   OUT_DIR=DIR          work dir for keys/proofs (default: target/compare_ezkl)
#   ZKINFER_CACHE        zkinfer dev-SRS cache (default: target/srs-cache);
#                        EZKL's gen_srs output is cached in target/ezkl-srs/
#
# SRS generation is excluded from both tools' setup times: before setup, each
# tool gets a development SRS of exactly the circuit's k, made once and cached
# (zkinfer: `zkinfer srs` into $ZKINFER_CACHE/dev-kK.srs; EZKL: ezkl.gen_srs
# into target/ezkl-srs/kK.srs, since ezkl.get_srs needs the network). Both
# setup times still include loading the SRS from disk.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-bench"
REQ="$ROOT/scripts/requirements-bench.txt"
STAMP="$VENV/.requirements-bench.sha256"

cd "$ROOT"

# 1. EZKL venv (idempotent).
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || { echo "compare_ezkl.sh: failed to create venv at $VENV" >&2; exit 1; }
fi
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    echo "compare_ezkl.sh: installing $(grep -v '^#' "$REQ" | xargs) into $VENV" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" \
        || { echo "compare_ezkl.sh: pip install failed" >&2; exit 1; }
    echo "$want" > "$STAMP"
fi
"$VENV/bin/python" -c "import ezkl" || { echo "compare_ezkl.sh: cannot import ezkl" >&2; exit 1; }

[ -x /usr/bin/time ] || { echo "compare_ezkl.sh: /usr/bin/time (GNU time) is required" >&2; exit 1; }

# 2. zkinfer (once).
if [ -z "${ZKINFER_BIN:-}" ]; then
    cargo build --release --quiet || { echo "compare_ezkl.sh: cargo build --release failed" >&2; exit 1; }
    export ZKINFER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/zkinfer"
fi
export ZKINFER_CACHE="${ZKINFER_CACHE:-$ROOT/target/srs-cache}"

# solc-js for the gas columns (a failure leaves those columns as errors).
if [ ! -f "$ROOT/node_modules/solc/soljson.js" ]; then
    bash "$ROOT/scripts/npm-ci.sh" || echo "compare_ezkl.sh: npm-ci failed; gas columns will show errors" >&2
fi

# 3-5. Run both tools and write the tables.
exec "$VENV/bin/python" "$ROOT/benches/compare_ezkl.py" "$@"
