#!/usr/bin/env bash
# The fault-injection suite (issue 7): real ingest, processor and syncro-sim processes against
# a private RabbitMQ node and a private Redis that the suite starts on free ports and stops
# again. The machine's own RabbitMQ and Redis are never touched, so this runs beside other
# tests and in CI.
#
#   tests/fault/run.sh              the issue's sizes (5,000-alert storm, ...), a few minutes
#   tests/fault/run.sh --quick      a few hundred alerts per scenario, every scenario (CI)
#   tests/fault/run.sh --release    release binaries instead of debug ones
#   tests/fault/run.sh --only 1,4   some scenarios (any relay-fault option is passed on)
#
# Scenario 7 runs at Syncro's real limit (180 requests/min, simulator and workers), so the
# budget paces it: one to two minutes with --quick, a few minutes at full size.
#
# Prints one Markdown table row per scenario; exits non-zero when any row shows a lost or
# duplicated alert, a 2xx for an alert that was not queued, or another broken promise.
# Needs redis-server and rabbitmq-server installed (not running); see docs/reliability.md.
set -euo pipefail
RELAY_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$RELAY_ROOT"

profile=debug
args=()
for arg in "$@"; do
    case "$arg" in
        --release) profile=release ;;
        *) args+=("$arg") ;;
    esac
done

for command in redis-server rabbitmq-server; do
    command -v "$command" >/dev/null || {
        echo "error: $command is not installed (apt-get install redis-server rabbitmq-server)" >&2
        exit 2
    }
done

if [ "$profile" = release ]; then
    cargo build --release --quiet --workspace --bins
else
    cargo build --quiet --workspace --bins
fi
echo "relay-fault: $profile binaries, $(date -u +%Y-%m-%dT%H:%M:%SZ)" >&2
exec "target/$profile/relay-fault" --bin "target/$profile" "${args[@]}"
