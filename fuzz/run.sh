#!/usr/bin/env bash
# Runs every cargo-fuzz target of alert-relay for SECONDS each (default 180) and prints, per
# target, the executions, executions per second, corpus size and whether it crashed.
#
#   fuzz/run.sh [SECONDS]
#
# Only stable Rust is needed: RUSTC_BOOTSTRAP=1 lets stable rustc accept the -Z flags
# cargo-fuzz passes (sanitizer coverage). No sanitizer is used (-s none): the project forbids
# `unsafe` code, so AddressSanitizer would find nothing the Rust checks do not, at twice the
# cost. Installs cargo-fuzz from crates.io when it is missing.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-180}"
targets=(verify payload template encoding)

if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
fuzz() { nice -n 10 cargo +stable fuzz "$@"; }
fuzz build -s none

status=0
printf '%-10s %14s %10s %12s %s\n' target executions exec/s corpus result
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "seeds/$target" "artifacts/$target"
    log="artifacts/$target/run.log"
    # Seeds (committed) and the corpus grown by earlier runs (not committed).
    if fuzz run -s none "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="CRASH: see $log and artifacts/$target/"
        status=1
    fi
    # libFuzzer's final statistics (cargo-fuzz may repeat the log after a crash).
    stat() { grep -ao "stat::$1: *[0-9]*" "$log" | tail -n 1 | grep -o '[0-9]*$' || echo '?'; }
    runs=$(stat number_of_executed_units)
    speed=$(stat average_exec_per_sec)
    corpus=$(find "corpus/$target" -type f | wc -l)
    printf '%-10s %14s %10s %12s %s\n' "$target" "$runs" "$speed" "$corpus" "$result"
done
exit "$status"
