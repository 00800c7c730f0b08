#!/usr/bin/env bash
# Runs the whole alert-relay stack on this machine and sends it a signed sample alert:
# RabbitMQ, Redis and PostgreSQL (started, or installed and started, when absent), the Syncro
# simulator, ingest, the processor, the operator API and the web console, built in release
# mode. It returns once the stack is up; the services keep running in the background. It
# prints the operator API's address and its demo token, and the console's address and its
# first sign-in, at the end.
#
#   deploy/up.sh          start everything and send the sample alert
#   deploy/up.sh stop     stop what it started (RabbitMQ, Redis and PostgreSQL are left running)
#   deploy/up.sh status   what runs, and the queue depths
set -euo pipefail
RELAY_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export RELAY_ROOT
# shellcheck source=lib/services.sh
source "$RELAY_ROOT/deploy/lib/services.sh"
RUN="$RELAY_ROOT/.relay-run"
BIN="$RELAY_ROOT/target/release"
INGEST_PORT=${INGEST_PORT:-8080}
SIM_PORT=${SIM_PORT:-8900}
CONSOLE_PORT=${CONSOLE_PORT:-8082}
SERVICES=(syncro-sim ingest processor operator console)

stop_all() {
    local name pid
    for name in "${SERVICES[@]}"; do
        [ -f "$RUN/$name.pid" ] || continue
        pid=$(cat "$RUN/$name.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" && say "stopping $name (pid $pid)"
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
        rm -f "$RUN/$name.pid"
    done
}

status() {
    local name
    for name in "${SERVICES[@]}"; do
        if [ -f "$RUN/$name.pid" ] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
            echo "$name: running (pid $(cat "$RUN/$name.pid"), log $RUN/$name.log)"
        else
            echo "$name: not running"
        fi
    done
    if command -v rabbitmqctl >/dev/null; then
        as_root rabbitmqctl -q list_queues name messages 2>/dev/null | grep -E "^${RELAY_PREFIX:-demo}\\." || true
    fi
}

start() { # name binary args...
    local name=$1; shift
    "$@" >"$RUN/$name.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
    say "started $name (pid $!, log $RUN/$name.log)"
}

# What the demo runs, and nothing else: the test crate's tools and test-only dependencies
# are not built here.
BUILD=(-p ingest -p processor -p operator -p relayctl -p syncro-sim -p console)

# Builds BUILD in release mode, showing how far along it is: cargo prints one "Compiling"
# line per crate; they become "[n/N] compiling crate", on one updating line on a terminal,
# plain lines otherwise. N counts the crates of the dependency graph, so a rebuild that only
# compiles a few ends before N. Everything else cargo prints (errors above all) passes
# through, and cargo's exit status stays the pipeline's (pipefail).
build_release() {
    local started=$SECONDS total tty=0
    total=$(cd "$RELAY_ROOT" && cargo tree -e normal,build --prefix none "${BUILD[@]}" 2>/dev/null |
        awk '{print $1, $2}' | sort -u | wc -l) || total=0
    [ -t 2 ] && tty=1
    if [ "$((total))" -gt 0 ]; then
        say "building alert-relay (release): $((total)) crates, several minutes on a first build"
    else
        say "building alert-relay (release): several minutes on a first build"
    fi
    (cd "$RELAY_ROOT" && cargo build --release --bins "${BUILD[@]}" 2>&1) |
        TOTAL=$total TTY=$tty awk '
            BEGIN { total = ENVIRON["TOTAL"] + 0; tty = ENVIRON["TTY"] == "1" }
            $1 == "Compiling" {
                n++
                if (n > total && total > 0) total = n
                line = total ? sprintf("[%d/%d] compiling %s %s", n, total, $2, $3) : sprintf("[%d] compiling %s %s", n, $2, $3)
                if (tty) { printf "\r\033[K%s", line; open = 1 } else print line
                fflush()
                next
            }
            {
                if (open) { printf "\r\033[K"; open = 0 }
                print
                fflush()
            }
            END { if (open) printf "\r\033[K" }
        ' >&2
    say "built in $(elapsed $((SECONDS - started)))"
}

elapsed() { # seconds -> "3 min 12 s"
    if [ "$1" -ge 60 ]; then echo "$(($1 / 60)) min $(($1 % 60)) s"; else echo "$1 s"; fi
}

wait_http() { # url what
    for _ in $(seq 1 150); do
        curl -fsS "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    tail -n 20 "$RUN/$2.log" >&2 || true
    die "$2 did not become ready ($1)"
}

case "${1:-up}" in
    stop) stop_all; exit 0 ;;
    status) status; exit 0 ;;
    up) ;;
    *) die "usage: deploy/up.sh [up|stop|status]" ;;
esac

ensure_rabbitmq
ensure_redis
ensure_postgres
ensure_command curl curl
command -v cargo >/dev/null || die "cargo is missing: install Rust with rustup first"
build_release

mkdir -p "$RUN" && chmod 700 "$RUN"
stop_all
# Demo secrets: generated once, kept (mode 600, in the git-ignored $RUN) so later runs and
# `relayctl send` reuse them; one missing from an earlier run's file is added.
random_token() { head -c 24 /dev/urandom | base64 -w0 | tr '+/' '-_'; }
demo_secret() { # name value
    grep -q "^$1=" "$RUN/secrets.env" || echo "$1=$2" >>"$RUN/secrets.env"
}
(umask 077 && touch "$RUN/secrets.env")
demo_secret RELAY_DEMO_SECRET "whsec_$(head -c 32 /dev/urandom | base64 -w0)"
demo_secret RELAY_ALERTMANAGER_TOKEN "$(random_token)"
demo_secret RELAY_SYNCRO_TOKEN "$(random_token)"
# The operator API's token (RELAY_OPERATOR_OPERATE_TOKENS: may change state, e.g. silence
# or pause), printed at the end; local demo only.
demo_secret RELAY_OPERATOR_OPERATE_TOKENS "$(random_token)"
# The web console's own token of the operator API (it may name the person it acts for; see
# docs/console.md) and its first sign-in: the account "admin" with a random password, printed
# on the run that makes it. Its argon2 hash is single-quoted: a hash holds '$'.
demo_secret RELAY_CONSOLE_OPERATOR_TOKEN "$(random_token)"
CONSOLE_PASSWORD_NEW=""
if ! grep -q '^RELAY_CONSOLE_ADMIN_PASSWORD=' "$RUN/secrets.env"; then
    CONSOLE_PASSWORD_NEW=$(random_token)
    console_hash=$(printf '%s\n' "$CONSOLE_PASSWORD_NEW" | "$BIN/console" hash-password) ||
        die "could not hash the console's first password"
    {
        echo "RELAY_CONSOLE_ADMIN_PASSWORD=$CONSOLE_PASSWORD_NEW"
        echo "RELAY_CONSOLE_USERS='admin:admin:$console_hash'"
    } >>"$RUN/secrets.env"
fi
set -a
# shellcheck disable=SC1091
source "$RUN/secrets.env"
set +a
export RELAY_CONFIG="$RELAY_ROOT/deploy/config.example.toml"
# The demo's own prefix, emptied on every start: the simulator starts afresh too, and state
# left from an earlier run (handled alerts, group pointers) would point at tickets it forgot.
export RELAY_PREFIX=${RELAY_PREFIX:-demo}
"$BIN/relayctl" queues --prefix "$RELAY_PREFIX" --delete "$RELAY_PREFIX.alerts.work" "$RELAY_PREFIX.alerts.dead" \
    "$RELAY_PREFIX".alerts.retry.{5,30,120,600,3600}s >/dev/null 2>&1 || true
if command -v redis-cli >/dev/null; then
    redis-cli --scan --pattern "$RELAY_PREFIX:*" | xargs -r redis-cli del >/dev/null
    redis-cli --scan --pattern "{$RELAY_PREFIX:*" | xargs -r redis-cli del >/dev/null
fi
# The demo's operator state (a pause or a silence left from an earlier run would hold the
# sample alert back): its schema goes, and the services migrate a fresh one at start.
if command -v psql >/dev/null; then
    demo_schema=$(printf '%s' "$RELAY_PREFIX" | tr -c 'a-zA-Z0-9_' '_' | tr 'A-Z' 'a-z')
    psql -q "${RELAY_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}" \
        -c "DROP SCHEMA IF EXISTS \"$demo_schema\" CASCADE" >/dev/null 2>&1 || true
fi
export RELAY_INGEST_ADDR="127.0.0.1:$INGEST_PORT"
export RELAY_SYNCRO_URL="http://127.0.0.1:$SIM_PORT/api/v1"

SYNCRO_SIM_PORT=$SIM_PORT SYNCRO_SIM_TOKEN=$RELAY_SYNCRO_TOKEN start syncro-sim "$BIN/syncro-sim"
wait_http "http://127.0.0.1:$SIM_PORT/healthz" syncro-sim
start ingest "$BIN/ingest"
wait_http "http://127.0.0.1:$INGEST_PORT/readyz" ingest
start processor "$BIN/processor" run
wait_http "http://127.0.0.1:9091/readyz" processor
RELAY_OPERATOR_CONSOLE_TOKENS="console:$RELAY_CONSOLE_OPERATOR_TOKEN" start operator "$BIN/operator"
wait_http "http://127.0.0.1:8081/healthz" operator
RELAY_CONSOLE_ADDR="127.0.0.1:$CONSOLE_PORT" RELAY_OPERATOR_URL="http://127.0.0.1:8081" \
    RELAY_LOG_FORMAT=pretty start console "$BIN/console"
wait_http "http://127.0.0.1:$CONSOLE_PORT/healthz" console

say "sending the signed sample alert (deploy/sample-alert.json)"
"$BIN/relayctl" send --url "http://127.0.0.1:$INGEST_PORT" --source demo \
    --secret-env RELAY_DEMO_SECRET "$RELAY_ROOT/deploy/sample-alert.json"
API="http://127.0.0.1:$SIM_PORT/api/v1"
find_ticket() { # the sample's ticket, as "#number (id N): subject", or nothing
    curl -fsS -H "Authorization: Bearer $RELAY_SYNCRO_TOKEN" \
        "$API/tickets?customer_id=4101771&query=Impossible%20travel" 2>/dev/null | python3 -c '
import json, sys
tickets = [t for t in json.load(sys.stdin)["tickets"] if "Impossible travel" in (t.get("subject") or "")]
if tickets:
    t = tickets[0]
    print("#%s (id %s): %s" % (t["number"], t["id"], t["subject"]))
' 2>/dev/null || true
}
TICKET=""
for _ in $(seq 1 100); do
    TICKET=$(find_ticket)
    [ -n "$TICKET" ] && break
    sleep 0.2
done
[ -n "$TICKET" ] || die "the sample alert did not become a ticket; see $RUN/processor.log"
say "the sample alert is Syncro ticket $TICKET for Contoso Ltd"

say "a storm: 100 alerts with one subject"
"$BIN/relayctl" storm --url "http://127.0.0.1:$INGEST_PORT" --source demo --secret-env RELAY_DEMO_SECRET \
    --alerts 100 --subjects 1 --batch 25 --wait-sim "http://127.0.0.1:$SIM_PORT" --timeout 120 |
    python3 -c '
import json, sys
r = json.load(sys.stdin)
print("   %(sent)s alerts -> %(tickets)s ticket with %(comments)s comments (the alerts that arrived while it was being created ride in its first comment, the rest are gathered into notes); %(syncro_calls)s Syncro calls, %(duplicates)s duplicates, %(missing)s missing" % r)
'

cat <<EOT

alert-relay is running:
  ingest          http://127.0.0.1:$INGEST_PORT  (POST /v1/webhooks/{source}, /healthz, /readyz, /metrics)
  Syncro sim      http://127.0.0.1:$SIM_PORT/api/v1  (token in $RUN/secrets.env)
  its tickets     curl -H "Authorization: Bearer \$RELAY_SYNCRO_TOKEN" $API/tickets
                  or everything: curl http://127.0.0.1:$SIM_PORT/_admin/state
  processor       http://127.0.0.1:9091/metrics
  operator API    http://127.0.0.1:8081, token: $RELAY_OPERATOR_OPERATE_TOKENS
                  (a local demo token, also in $RUN/secrets.env)
  web console     http://127.0.0.1:$CONSOLE_PORT  (sign in as admin; docs/console.md)
EOT
if [ -n "$CONSOLE_PASSWORD_NEW" ]; then
    echo "                  admin's password (shown this once): $CONSOLE_PASSWORD_NEW"
else
    echo "                  admin's password: RELAY_CONSOLE_ADMIN_PASSWORD in $RUN/secrets.env"
fi
echo "                  or sign in with the operator API's token above"
cat <<EOT
  logs            $RUN/*.log
  queue depths    deploy/up.sh status
  send another    set -a; . $RUN/secrets.env; set +a
                  target/release/relayctl send --source demo --secret-env RELAY_DEMO_SECRET deploy/sample-alert.json
  stop            deploy/up.sh stop
EOT
status
