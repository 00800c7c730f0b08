#!/usr/bin/env bash
# Ingest benchmark: wrk (2 threads x 64 connections, 10 s) sends distinct signed canonical
# alerts of ~600 bytes, first to a minimal baseline ingress (HMAC check + publish with
# confirm, no parsing), then to ingest, both publishing to quorum queues on the same broker,
# in the same run. Prints alerts/s, latency, ingest's peak RSS, the ratio to the baseline,
# and checks that the number of 202 answers equals the number of queued messages.
#   tests/bench/ingest.sh [DURATION_SECONDS]
# CONNECTIONS (64), BENCH_LOG (info): the load and ingest's log level. To compare builds in
# alternating rounds, BENCH_BIN_DIR (a directory holding ingest, relayctl and bench-baseline;
# nothing is built then) and INGEST_BIN (the ingest binary measured) override the release
# build of this tree. BENCH_PERF=FILE records a CPU profile of ingest under the load
# (`perf record`, call graphs from DWARF unwinding) into FILE, for `perf report -i FILE`.
# BENCH_CALLGRIND=DIR runs both targets under `valgrind --tool=callgrind`, instructions
# counted only while wrk runs, and prints instructions per request: a count that does not
# depend on what else the machine is doing (throughput under valgrind means nothing; use
# CONNECTIONS=8). The profiles stay in DIR for `callgrind_annotate`.
# BENCH_RELAY_BASELINE=1 adds a third target between the two: the baseline publishing through
# the relay's own broker path (exchange, quorum work queue, mandatory, properties, headers),
# which tells what that durable topology costs RabbitMQ apart from what ingest itself does.
set -euo pipefail
RELAY_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export RELAY_ROOT
# shellcheck source=../../deploy/lib/services.sh
source "$RELAY_ROOT/deploy/lib/services.sh"
DURATION=${1:-10}
# A broker given by RELAY_AMQP_URL is someone else's to run (BENCH_BROKER_PID: its process,
# for its CPU figure); otherwise the local one is started when needed.
[ -n "${RELAY_AMQP_URL:-}" ] || ensure_rabbitmq
ensure_command wrk wrk
cd "$RELAY_ROOT"
if [ -z "${BENCH_BIN_DIR:-}" ]; then
    cargo build --release --quiet -p ingest -p relayctl -p relay-tests --bins
fi
BIN=${BENCH_BIN_DIR:-$RELAY_ROOT/target/release}
INGEST_BIN=${INGEST_BIN:-$BIN/ingest}
WORK=$(mktemp -d)
PREFIX="bench-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export BENCH_SECRET="whsec_$(head -c 32 /dev/urandom | base64 -w0)"
export BENCH_RUN=$PREFIX
AMQP_URL=${RELAY_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
BASE_PORT=18181
INGEST_PORT=18080
PIDS=()
WRAP=()
if [ -n "${BENCH_CALLGRIND:-}" ]; then
    ensure_command valgrind valgrind
    mkdir -p "$BENCH_CALLGRIND"
    WRAP=(valgrind -q --tool=callgrind --dump-instr=no
        "--callgrind-out-file=$BENCH_CALLGRIND/callgrind.out.%p")
fi
# Counts from zero in a process run under callgrind (its start-up left out); nothing otherwise.
counting_from_zero() { # pid
    [ -n "${BENCH_CALLGRIND:-}" ] || return 0
    callgrind_control -z "$1" >/dev/null
}
# Instructions counted in a callgrind process since its zero (dumps its profile to
# DIR/NAME.callgrind), or 0.
instructions() { # pid name
    [ -n "${BENCH_CALLGRIND:-}" ] || { echo 0; return; }
    callgrind_control -d "$2" "$1" >/dev/null
    local file
    file=$(ls -t "$BENCH_CALLGRIND/callgrind.out.$1"* 2>/dev/null | head -1)
    [ -n "$file" ] || { echo 0; return; }
    mv "$file" "$BENCH_CALLGRIND/$2.callgrind"
    awk '/^(summary|totals):/ {print $2; exit}' "$BENCH_CALLGRIND/$2.callgrind"
}
# Context switches of every thread of a process so far (voluntary and not).
switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^(non)?voluntary_ctxt_switches/ {n += $2} END {print n + 0}'
}
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    # Every queue ingest declares (the parked and billable-users ones too), bounded in time.
    timeout 60 "$BIN/relayctl" queues --amqp-url "$AMQP_URL" --prefix "$PREFIX" --delete \
        "$PREFIX.baseline" "$PREFIX.alerts.work" "$PREFIX.alerts.dead" \
        "$PREFIX.alerts.parked" "$PREFIX.billable-users" >/dev/null 2>&1 || true
    [ -z "${BENCH_RELAY_BASELINE:-}" ] ||
        timeout 60 "$BIN/relayctl" queues --amqp-url "$AMQP_URL" --prefix "$PREFIX-rb" --delete \
            "$PREFIX-rb.alerts.work" "$PREFIX-rb.alerts.dead" "$PREFIX-rb.alerts.parked" \
            "$PREFIX-rb.billable-users" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

CONNECTIONS=${CONNECTIONS:-64}
run_wrk() { # port label
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$RELAY_ROOT/tests/bench/signed-alerts.lua" \
        "http://127.0.0.1:$1/v1/webhooks/bench" >"$WORK/$2.wrk"
    grep '^RESULT ' "$WORK/$2.wrk" | sed 's/^RESULT //' | grep . ||
        { cat "$WORK/$2.wrk" >&2; die "wrk against $2 printed no result"; }
}
# CPU time (user + system, clock ticks) a process has used so far; 0 when there is none.
cpu_ticks() { [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
BROKER_PID=${BENCH_BROKER_PID:-$(pgrep -x -o beam.smp || true)}
# Every PostgreSQL process's CPU (ingest's trail writer keeps its connections for the run).
pg_ticks() { local t=0 p; for p in $(pgrep -x postgres); do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
queued() { timeout 20 "$BIN/relayctl" queues --amqp-url "$AMQP_URL" "$1" | awk '{print $2}'; }
settle() { # queue expected
    local n
    for _ in $(seq 1 50); do n=$(queued "$1"); [ "$n" = "$2" ] && break; sleep 0.2; done
    echo "$n"
}

# Measures one target under wrk: prints its wrk result then, space-separated, its CPU ticks,
# RabbitMQ's and PostgreSQL's CPU ticks meanwhile, its context switches and instructions.
measure() { # pid port label
    counting_from_zero "$1"
    local cpu0 broker0 pg0 cs0 result
    cpu0=$(cpu_ticks "$1") broker0=$(cpu_ticks "$BROKER_PID") pg0=$(pg_ticks) cs0=$(switches "$1")
    result=$(run_wrk "$2" "$3")
    echo "$result $(($(cpu_ticks "$1") - cpu0)) $(($(cpu_ticks "$BROKER_PID") - broker0))" \
        "$(($(pg_ticks) - pg0)) $(($(switches "$1") - cs0)) $(instructions "$1" "$3")"
}
start_baseline() { # port [prefix: through the relay's broker path]
    BASELINE_PORT=$1 BASELINE_QUEUE="$PREFIX.baseline" AMQP_URL=$AMQP_URL BASELINE_PREFIX=${2:-} \
        BASELINE_SECRET=$BENCH_SECRET "${WRAP[@]}" "$BIN/bench-baseline" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    for _ in $(seq 1 300); do port_open "$1" && break; sleep 0.1; done
}

say "baseline: minimal HMAC-check + publish-with-confirm handler"
start_baseline $BASE_PORT
BASE=$(measure "$LAST_PID" $BASE_PORT baseline)
BASE_Q=$(settle "$PREFIX.baseline" "$(json "${BASE%% *}" accepted)")
kill "$LAST_PID" 2>/dev/null || true

RELAY_BASE="" RELAY_BASE_Q=0
if [ -n "${BENCH_RELAY_BASELINE:-}" ]; then
    say "baseline through the relay's broker path (its exchange, queue, properties, headers)"
    start_baseline $((BASE_PORT + 1)) "$PREFIX-rb"
    RELAY_BASE=$(measure "$LAST_PID" $((BASE_PORT + 1)) relay-baseline)
    RELAY_BASE_Q=$(settle "$PREFIX-rb.alerts.work" "$(json "${RELAY_BASE%% *}" accepted)")
    kill "$LAST_PID" 2>/dev/null || true
fi

say "ingest"
cat >"$WORK/relay.toml" <<EOT
prefix = "$PREFIX"
[amqp]
url = "$AMQP_URL"
[log]
format = "json"
level = "${BENCH_LOG:-info}"
[ingest]
listen = "127.0.0.1:$INGEST_PORT"
[sources.bench]
verify = "standard-webhooks"
secrets_env = ["BENCH_SECRET"]
EOT
"${WRAP[@]}" "$INGEST_BIN" --config "$WORK/relay.toml" 2>"$WORK/ingest.log" &
INGEST_PID=$!
PIDS+=($INGEST_PID)
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$INGEST_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
RSS_IDLE=$(awk '/VmRSS/ {print $2}' "/proc/$INGEST_PID/status")
if [ -n "${BENCH_PERF:-}" ]; then
    ensure_command perf linux-perf
    perf record -q -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$INGEST_PID" -o "$BENCH_PERF" &
    PERF_PID=$!
fi
ING=$(measure $INGEST_PID $INGEST_PORT ingest)
if [ -n "${BENCH_PERF:-}" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; fi
RSS_PEAK=$(awk '/VmHWM/ {print $2}' "/proc/$INGEST_PID/status")
ING_Q=$(settle "$PREFIX.alerts.work" "$(json "${ING%% *}" accepted)")

python3 - "$BASE" "$ING" "$BASE_Q" "$ING_Q" "$RSS_IDLE" "$RSS_PEAK" "$DURATION" "$CONNECTIONS" \
    "$(getconf CLK_TCK)" "$RELAY_BASE" "$RELAY_BASE_Q" <<'PY'
import json, sys
def target(measured):
    parts = measured.split(" ")
    r = json.loads(parts[0])
    r["cpu"], r["broker"], r["pg"], r["cs"] = (int(p) for p in parts[1:5])
    r["ir"] = int(parts[5].replace(",", ""))
    return r
base, ing = target(sys.argv[1]), target(sys.argv[2])
base_q, ing_q, idle, peak = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
duration, connections, tck = sys.argv[7], sys.argv[8], int(sys.argv[9])
rows = [("baseline (HMAC + publish/confirm)", base, base_q)]
if sys.argv[10]:
    relay = target(sys.argv[10])
    rows.append(("baseline through the relay's broker path", relay, int(sys.argv[11])))
rows.append(("ingest", ing, ing_q))
print(f"\nwrk -t2 -c{connections} -d{duration}s, distinct signed alerts of ~600 bytes, quorum queues\n")
print("| target | requests/s | p50 ms | p99 ms | 202s | queued | unanswered at stop | other answers | socket errors |")
print("|---|---|---|---|---|---|---|---|---|")
ok = True
for name, r, q in rows:
    unanswered = r["sent"] - r["requests"]
    print(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['accepted']} | {q} | {unanswered} | {r['other']} | {r['errors']} |")
    # Every 202 is queued; beyond that only requests wrk sent but stopped waiting for.
    ok = ok and r["accepted"] <= q <= r["accepted"] + unanswered
print(f"\ningest / baseline throughput ratio: {ing['rps'] / base['rps']:.2f}")
print(f"ingest RSS: {idle / 1024:.1f} MB idle, {peak / 1024:.1f} MB peak")
# CPU per request is steadier than requests/s on a shared machine: it does not depend on
# how much of the cores the others left.
per = lambda ticks, r: 1e6 * ticks / tck / max(r["requests"], 1)
each = lambda n, r: n / max(r["requests"], 1)
print("\n| per request | target's CPU µs | RabbitMQ CPU µs | PostgreSQL CPU µs | context switches | instructions (callgrind) |")
print("|---|---|---|---|---|---|")
for name, r, _ in rows:
    ir = f"{each(r['ir'], r):,.0f}" if r["ir"] else "-"
    print(f"| {name} | {per(r['cpu'], r):.0f} | {per(r['broker'], r):.0f} | {per(r['pg'], r):.0f} | {each(r['cs'], r):.2f} | {ir} |")
print("\nevery 202 queued, nothing queued beyond the requests in flight at stop:", "yes" if ok else "NO")
sys.exit(0 if ok else 1)
PY
