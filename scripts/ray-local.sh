#!/usr/bin/env bash
# A one-machine Ray cluster for `zkinfer prove DIR --ray ADDRESS` (issue 14).
#
#   bash scripts/ray-local.sh start   # installs ray (scripts/requirements-ray.txt) into
#                                     # .venv-ray/ if needed, starts a head node, prints its address
#   bash scripts/ray-local.sh stop    # stops it
#   bash scripts/ray-local.sh python  # prints the venv's python (what `--ray-python` wants)
#
# Environment: RAY_PORT (default 6390), RAY_CPUS (worker CPUs, default: all).
# Idempotent: `start` on a running cluster prints its address again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-ray"
REQ="$ROOT/scripts/requirements-ray.txt"
STAMP="$VENV/.requirements-ray.sha256"
PORT="${RAY_PORT:-6390}"

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV" >&2 || { echo "ray-local.sh: failed to create $VENV" >&2; exit 1; }
    fi
    local want have
    want="$(sha256sum "$REQ" | cut -d' ' -f1)"
    have="$(cat "$STAMP" 2>/dev/null || true)"
    if [ "$want" != "$have" ]; then
        echo "ray-local.sh: installing $(grep -v '^#' "$REQ" | xargs) into $VENV" >&2
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" >&2 \
            || { echo "ray-local.sh: pip install failed" >&2; exit 1; }
        echo "$want" > "$STAMP"
    fi
}

case "${1:-}" in
    start)
        ensure_venv
        if ! "$VENV/bin/ray" status --address "127.0.0.1:$PORT" >/dev/null 2>&1; then
            args=(start --head --port "$PORT" --disable-usage-stats --include-dashboard=false)
            [ -n "${RAY_CPUS:-}" ] && args+=(--num-cpus "$RAY_CPUS")
            RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1 "$VENV/bin/ray" "${args[@]}" >&2 \
                || { echo "ray-local.sh: ray start failed" >&2; exit 1; }
        fi
        echo "127.0.0.1:$PORT"
        ;;
    stop)
        if [ -x "$VENV/bin/ray" ]; then
            "$VENV/bin/ray" stop --force >&2 || true
        fi
        ;;
    python)
        ensure_venv
        echo "$VENV/bin/python"
        ;;
    *)
        echo "usage: bash scripts/ray-local.sh start|stop|python" >&2
        exit 2
        ;;
esac
