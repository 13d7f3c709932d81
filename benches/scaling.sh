#!/usr/bin/env bash
# Prove time vs model size (issue #4): MLPs and CNNs of growing width.
#
# Usage:
#   bash benches/scaling.sh
#
# Builds the models (seeded numpy weights, onnx.helper) under
# $CARGO_TARGET_DIR/scaling/ (default target/scaling/), runs `zkinfer run
# --json` on each (plus one `zkinfer prove` under perf for the MSM/FFT shares,
# when perf works), and writes docs/scaling.png (log-log prove time vs MACs)
# and a markdown table with the fitted slopes (target/scaling/scaling.md,
# also printed). About 5 to 10 minutes on 2 cores.
#
# Environment: MLP_WIDTHS (default 16,32,64,128,256,512), CNN_WIDTHS
# (2,4,8,16,32), SCALING_PROFILE=0 (no perf), ZKINFER_BIN (skip the build),
# ZKINFER_CACHE (dev SRS cache, default target/srs-cache), PLOT (output path).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

# numpy, onnx, onnxruntime (scripts/pyenv.sh), then matplotlib, pinned, with
# its own stamp so it is installed once.
bash scripts/pyenv.sh
REQ="$ROOT/scripts/requirements-scaling.txt"
STAMP="$ROOT/.venv/.requirements-scaling.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ "$want" != "$(cat "$STAMP" 2>/dev/null || true)" ]; then
    echo "scaling.sh: installing $(grep -v '^#' "$REQ" | xargs) into .venv" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQ" \
        || { echo "scaling.sh: pip install failed" >&2; exit 1; }
    echo "$want" > "$STAMP"
fi

if [ -z "${ZKINFER_BIN:-}" ]; then
    cargo build --release --quiet || { echo "scaling.sh: cargo build --release failed" >&2; exit 1; }
    export ZKINFER_BIN="$TARGET/release/zkinfer"
fi
export ZKINFER_CACHE="${ZKINFER_CACHE:-$ROOT/target/srs-cache}"
exec .venv/bin/python benches/scaling.py "$@"
