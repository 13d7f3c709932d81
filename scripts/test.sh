#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every crate's tests (unit,
# MockProver, real proofs, CLI). Builds in the test profile only.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
bash scripts/npm-ci.sh            # pinned solc-js (package-lock.json) for the Solidity verifier tests
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features verifier-gen/evm --profile test -- -D warnings
cargo test --workspace --features verifier-gen/evm --profile test
