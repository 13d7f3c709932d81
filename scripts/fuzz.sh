#!/usr/bin/env bash
# Runs every zkinfer-fuzz target for SECS_PER_TARGET seconds (default 60),
# each in its own process under a virtual-memory cap, and fails if any
# target found a panic, a timeout, a wrongly accepted proof, or died.
#
#   bash scripts/fuzz.sh [SECS_PER_TARGET] [TARGET...]
#
# Env: FUZZ_SEED (default 0), FUZZ_MEM_KB (ulimit -v, default 4 GiB),
# FUZZ_PROFILE (cargo profile, default test: opt-level 3 with overflow
# checks and debug assertions on, so arithmetic bugs panic).
# Failing inputs: fuzz/artifacts/<target>/{crash,timeout,accepted,abort}-<hash>;
# replay one with target/debug/zkinfer-fuzz TARGET --replay FILE.
set -uo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
profile="${FUZZ_PROFILE:-test}"
mem_kb="${FUZZ_MEM_KB:-4194304}"
seed="${FUZZ_SEED:-0}"

cargo build -p zkinfer-fuzz --bin zkinfer-fuzz --profile "$profile" || exit 2
dir=debug
[ "$profile" = release ] && dir=release
bin="${CARGO_TARGET_DIR:-target}/$dir/zkinfer-fuzz"
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <("$bin" --list | awk '{print $1}')
fi

status=0
for t in "${targets[@]}"; do
    # A subshell, so the cap applies to the fuzzer only. Exit 1: findings;
    # anything else (134 abort, 137 killed, 3 hung): the process died, and
    # the input it died on is fuzz/artifacts/$t/.current (moved to
    # abort-<hash> by the next run of the target).
    (ulimit -v "$mem_kb"; exec "$bin" "$t" --secs "$secs" --seed "$seed")
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "fuzz.sh: target $t exited with $rc" >&2
        if [ $rc -ne 1 ] && [ -f "fuzz/artifacts/$t/.current" ]; then
            echo "fuzz.sh: input it died on: fuzz/artifacts/$t/.current" >&2
        fi
        status=1
    fi
done
exit $status
