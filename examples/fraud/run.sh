#!/usr/bin/env bash
# The committed-model walkthrough, one command (see README.md here):
# compile the fraud MLP with hashed params, one setup, deploy its verifier and
# a ModelRegistry in an in-process EVM, approve v1, prove and submit; then
# retrain (v2), approve v2, revoke v1, prove v2 with the same key and
# verifier, and see a v1 proof rejected. Prints the gas of every step.
#   bash examples/fraud/run.sh [OUT_DIR]     (default out/fraud)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/npm-ci.sh
cargo run --release --quiet -- fraud-demo --example examples/fraud -o "${1:-out/fraud}"
