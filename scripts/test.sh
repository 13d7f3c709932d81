#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every crate's tests (unit,
# MockProver, real proofs, CLI). Builds in the test profile only.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --profile test -- -D warnings
cargo test --workspace --profile test
