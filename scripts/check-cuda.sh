#!/usr/bin/env bash
# Type-checks the `cuda` feature (prover/src/cuda.rs against halo2-axiom-gpu's
# real API) on a machine WITHOUT the CUDA toolkit: a stand-in `nvcc` lets the
# CUDA crates' build scripts "compile" their kernels to empty objects, which
# `cargo check` never links. Nothing built here can run; on a GPU machine use
# `cargo test -p prover --features cuda` instead (docs/NOTES.md, "CUDA backend").
# Separate target dir (target/cuda-check); about 10 minutes on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FAKE="$(mktemp -d)"
trap 'rm -rf "$FAKE"' EXIT
cat > "$FAKE/nvcc" <<'NVCC'
#!/bin/sh
# Stand-in nvcc: `--version` succeeds; a compile writes an empty object to -o.
out=""; prev=""
for a in "$@"; do
  case "$a" in --version) echo "stand-in nvcc (scripts/check-cuda.sh)"; exit 0;; esac
  [ "$prev" = "-o" ] && out="$a"
  prev="$a"
done
[ -n "$out" ] && cc -c -x c /dev/null -o "$out"
exit 0
NVCC
chmod +x "$FAKE/nvcc"
export PATH="$FAKE:$PATH" CUDA_ARCH="${CUDA_ARCH:-80}"
export CARGO_TARGET_DIR="${CUDA_CHECK_TARGET_DIR:-$ROOT/target/cuda-check}"
cargo clippy -p prover --features cuda --all-targets -- -D warnings
echo "check-cuda.sh: prover with --features cuda type-checks (not built, not run)"
