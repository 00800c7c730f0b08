#!/usr/bin/env bash
# What the silence check costs a worker per alert, with 0 to 1,000 active silences (release
# build, one core; the 0 row is the baseline of the same run). See tests/src/bin/bench-silences.rs.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p relay-tests --bin bench-silences
target/release/bench-silences
