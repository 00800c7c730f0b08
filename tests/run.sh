#!/usr/bin/env bash
# Runs every test of alert-relay: lints, unit tests and the integration tests against real
# RabbitMQ, Redis and PostgreSQL (started, or installed and started, when absent; PostgreSQL
# where RELAY_POSTGRES_URL points, when set) and a real Prometheus Alertmanager. This is the
# README's test command; CI runs exactly this.
set -euo pipefail
RELAY_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export RELAY_ROOT
# shellcheck source=../deploy/lib/services.sh
source "$RELAY_ROOT/deploy/lib/services.sh"
cd "$RELAY_ROOT"

ensure_rabbitmq
ensure_redis
ensure_postgres
ensure_command prometheus-alertmanager prometheus-alertmanager
# The Redis over TLS and Sentinel tests start private servers (redis-server, also as a
# sentinel) with certificates made by openssl, even when Redis on 6379 is a container.
ensure_command redis-server redis-server
ensure_command openssl openssl
# The console's browser test drives Debian's headless Chromium through chromedriver.
ensure_command chromium chromium && ensure_command chromedriver chromium-driver
command -v cargo >/dev/null || die "cargo is missing: install Rust with rustup first"

# Queues left behind by an interrupted earlier run (every test uses a t-<random> prefix).
if command -v rabbitmqctl >/dev/null; then
    # (grep finds nothing on a clean broker: not an error.)
    { as_root rabbitmqctl -q list_queues name 2>/dev/null || true; } |
        { grep -E '^t-[0-9a-f]{12}\.' || true; } |
        while read -r queue; do as_root rabbitmqctl -q delete_queue "$queue" </dev/null >/dev/null 2>&1 || true; done
    heal_rabbitmq_dlx || true
fi

# Schemas left behind by an interrupted earlier run (each test's operator state lives in
# t_<random>).
if command -v psql >/dev/null; then
    pg_url=${RELAY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
    { psql -qtA "$pg_url" -c "SELECT nspname FROM pg_namespace WHERE nspname ~ '^t_[0-9a-f]{12}$'" 2>/dev/null || true; } |
        while read -r schema; do psql -q "$pg_url" -c "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" >/dev/null 2>&1 || true; done
fi

say "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "building every binary (some tests run them as real processes)"
cargo build --workspace --bins --quiet

say "tests"
run_tests() {
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --profile ci
    else
        cargo test --workspace
    fi
}
# Tests delete their quorum queues as they finish; on RabbitMQ with rabbitmq-server#16652 that
# can kill the broker's dead-letter supervisor mid-run, and every later test's broker calls
# then fail with INTERNAL_ERROR; and Debian's RabbitMQ 3.10 has wedged under that churn (the
# port open, no handshake answered). Only in those cases: heal the broker and run the tests
# again (twice at most). A node that answers and does not confirm a publish counts as wedged.
# Any other failure fails the run.
attempt=1
until run_tests; do
    [ "$attempt" -le 2 ] || exit 1
    if amqp_healthy; then
        heal_rabbitmq_dlx || exit 1
    else
        heal_rabbitmq_wedge || exit 1
    fi
    say "the broker was healed; running the tests again (rerun $attempt of 2)"
    attempt=$((attempt + 1))
done

say "fault injection, quick (private RabbitMQ node and Redis; see docs/reliability.md)"
tests/fault/run.sh --quick
