#!/usr/bin/env bash
# The fault-injection suite (issue 7): real ingest, processor and syncro-sim processes against
# a private RabbitMQ node, a private Redis and a private PostgreSQL cluster that the suite
# starts on free ports and stops again. The machine's own RabbitMQ, Redis and PostgreSQL are
# never touched (scenario 8 stops PostgreSQL: its own), so this runs beside other tests and
# in CI.
#
#   tests/fault/run.sh              the issue's sizes (5,000-alert storm, ...), a few minutes
#   tests/fault/run.sh --quick      a few hundred alerts per scenario, every scenario (CI)
#   tests/fault/run.sh --release    release binaries instead of debug ones
#   tests/fault/run.sh --only 1,4   some scenarios (any relay-fault option is passed on)
#
# Scenario 7 runs at Syncro's real limit (180 requests/min, simulator and workers), so the
# budget paces it: one to two minutes with --quick, a few minutes at full size. Scenario 8
# sends its storm twice (without the fault, then with PostgreSQL stopped in it).
#
# Prints one Markdown table row per scenario; exits non-zero when any row shows a lost or
# duplicated alert, a 2xx for an alert that was not queued, or another broken promise.
# Needs redis-server, rabbitmq-server and PostgreSQL's server programs (initdb, postgres,
# psql; Debian's postgresql package) installed, none of them running; see
# docs/reliability.md. Run as root, the suite runs PostgreSQL as the postgres account.
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
# The newest cluster version's programs (relay-fault looks in the same places), unless
# RELAY_FAULT_POSTGRES_BIN names their directory.
if [ -z "${RELAY_FAULT_POSTGRES_BIN:-}" ] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null &&
    ! command -v initdb >/dev/null; then
    echo "error: PostgreSQL's server programs (initdb, postgres) are not installed (apt-get install postgresql)" >&2
    exit 2
fi

if [ "$profile" = release ]; then
    cargo build --release --quiet --workspace --bins
else
    cargo build --quiet --workspace --bins
fi
echo "relay-fault: $profile binaries, $(date -u +%Y-%m-%dT%H:%M:%SZ)" >&2
exec "target/$profile/relay-fault" --bin "target/$profile" "${args[@]}"
