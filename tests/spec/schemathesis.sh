#!/usr/bin/env bash
# Runs schemathesis against the operator API: requests generated from its OpenAPI document
# (docs/openapi/operator.json), valid and invalid, each answer checked against the document
# (status documented, body and headers as described, no 5xx, auth enforced...).
#
# Usage:
#   tests/spec/schemathesis.sh [BASE_URL] [-- SCHEMATHESIS_ARGS...]
#
# With BASE_URL (or RELAY_OPERATOR_URL): an operator already running; RELAY_OPERATOR_TOKEN
# must hold one of its operate tokens. Mind that the run adds silences and pauses the fleet
# there (and resumes it, at the end): never point it at production.
#
# Without: builds the `operator` binary, starts it on a free port with a scratch prefix (its
# own PostgreSQL schema, at RELAY_POSTGRES_URL or the local default) and a throwaway token,
# runs schemathesis, then stops the operator and drops the schema.
#
# schemathesis is installed with pip when missing. Not part of tests/run.sh: it takes minutes
# and its generated cases vary from run to run; the integration tests validate every answer
# they get against the same document (tests/src/operator.rs).
set -euo pipefail
RELAY_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$RELAY_ROOT"

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'schemathesis.sh: %s\n' "$*" >&2; exit 2; }

base_url=${RELAY_OPERATOR_URL:-}
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
    base_url=$1
    shift
fi
[ "${1:-}" = "--" ] && shift
extra=("$@")

if ! command -v schemathesis >/dev/null; then
    say "installing schemathesis"
    python3 -m pip install --quiet schemathesis || die "cannot install schemathesis with pip"
fi

operator_pid=
workdir=
schema=
# shellcheck disable=SC2317 # (called by the trap)
cleanup() {
    if [ -n "$operator_pid" ]; then
        kill -TERM "$operator_pid" 2>/dev/null || true
        wait "$operator_pid" 2>/dev/null || true
    fi
    if [ -n "$schema" ] && command -v psql >/dev/null; then
        psql -q "$postgres_url" -c "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" >/dev/null 2>&1 || true
    fi
    if [ -n "$workdir" ]; then
        rm -rf "$workdir"
    fi
}
trap cleanup EXIT

workdir=$(mktemp -d)
postgres_url=${RELAY_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# What the document cannot say, told to schemathesis: a body or query can fit its schema and
# still be refused, by rules across fields (the trail's "at least one of alert, organization,
# ticket_number, since") or about meaning (an `until` in the past, a regular expression that
# does not compile, a blank reason): those answers are 400 or 422, documented, never 5xx.
cat >"$workdir/schemathesis.toml" <<'EOF'
[[operations]]
include-operation-id = "searchTrail"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404"]

[[operations]]
include-operation-id = ["addSilence", "extendSilence", "pause"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
EOF

if [ -z "$base_url" ]; then
    say "building the operator"
    cargo build --quiet -p operator
    # t-<12 hex>: the pattern tests/run.sh cleans up after an interrupted run.
    prefix="t-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    schema=${prefix//-/_}
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    token="st-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    cat >"$workdir/operator.toml" <<EOF
prefix = "$prefix"
[log]
format = "json"
level = "warn"
[operator]
listen = "127.0.0.1:$port"
EOF
    say "starting the operator on 127.0.0.1:$port (schema $schema; log: $workdir/operator.log)"
    RELAY_POSTGRES_URL=$postgres_url \
        RELAY_OPERATOR_OPERATE_TOKENS="schemathesis:$token" \
        target/debug/operator --config "$workdir/operator.toml" >"$workdir/operator.log" 2>&1 &
    operator_pid=$!
    base_url="http://127.0.0.1:$port"
    RELAY_OPERATOR_TOKEN=$token
    for _ in $(seq 1 100); do
        curl -fs "$base_url/readyz" >/dev/null 2>&1 && break
        kill -0 "$operator_pid" 2>/dev/null || { cat "$workdir/operator.log" >&2; die "the operator exited"; }
        sleep 0.2
    done
    curl -fs "$base_url/readyz" >/dev/null || die "the operator is not ready (is PostgreSQL at $postgres_url up?)"
fi
[ -n "${RELAY_OPERATOR_TOKEN:-}" ] || die "set RELAY_OPERATOR_TOKEN to an operate token of $base_url"

say "schemathesis against $base_url"
status=0
schemathesis --config-file "$workdir/schemathesis.toml" run docs/openapi/operator.json \
    --url "$base_url" \
    --header "Authorization: Bearer $RELAY_OPERATOR_TOKEN" \
    --checks all \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" \
    --suppress-health-check too_slow \
    "${extra[@]}" || status=$?

# Leave the fleet as the run found it running: generated requests pause it.
curl -fs -X POST -H "Authorization: Bearer $RELAY_OPERATOR_TOKEN" "$base_url/v1/resume" >/dev/null || true
if [ "$status" -ne 0 ] && [ -n "$operator_pid" ] && grep -q '"level":"ERROR"' "$workdir/operator.log"; then
    say "the operator logged errors:"
    grep '"level":"ERROR"' "$workdir/operator.log" >&2 || true
fi
exit "$status"
