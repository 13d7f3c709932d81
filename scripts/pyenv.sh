#!/usr/bin/env bash
# Create (or reuse) the Python venv at <repo>/.venv with the pinned packages
# from scripts/requirements-examples.txt. Idempotent and quiet.
# Usage: bash scripts/pyenv.sh && .venv/bin/python examples/make_examples.py
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/scripts/requirements-examples.txt"
STAMP="$VENV/.requirements-examples.sha256"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || { echo "pyenv.sh: failed to create venv at $VENV" >&2; exit 1; }
fi

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" \
        || { echo "pyenv.sh: pip install failed" >&2; exit 1; }
    echo "$want" > "$STAMP"
fi

"$VENV/bin/python" -c "import numpy, onnx, onnxruntime" \
    || { echo "pyenv.sh: venv imports failed" >&2; exit 1; }
