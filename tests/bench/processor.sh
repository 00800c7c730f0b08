#!/usr/bin/env bash
# End-to-end processor benchmarks, real processes on this machine: the Syncro simulator,
# ingest, N processor workers, RabbitMQ and Redis. `relayctl storm` sends signed alerts through
# ingest and waits until the simulator holds every one, then reports.
#
#   tests/bench/processor.sh throughput   5,000 alerts / 100 subjects, simulator's rate limit off
#                                         (workers' budget 10,000/min), 1 and 3 workers
#   tests/bench/processor.sh storm        10,000 alerts / 100 subjects, 180 requests/min, 3 workers
#                                         ("took s" is relayctl storm's settled_secs: from just
#                                         before the first request to the 2-s poll that found
#                                         every alert; "first 202 to all in Syncro s" is exact,
#                                         from the first 202 to the simulator's creation time of
#                                         the comment that brought the last alert)
#   tests/bench/processor.sh probe        the storm above plus 10 probes: one new incident of
#                                         another customer every 5 s (org-fabrikam, org-northwind;
#                                         critical and high), each its own ticket; how long each
#                                         waits behind the storm, from its 202 to its ticket
#   tests/bench/processor.sh budget       3 workers, 180 requests/min, 2 minutes of more work than
#                                         the budget allows: 429s and the share of the budget used
#   tests/bench/processor.sh dlq          relayctl reading 10,000 dead letters: time and peak RSS
#   tests/bench/processor.sh held         one worker's RSS idle and holding `prefetch` (10,000) alerts
#                                         that wait for their notes: the memory each held alert
#                                         costs, in the worker and in Redis
#   tests/bench/processor.sh trail        the throughput run (5,000 alerts / 100 subjects, 3 workers,
#                                         no Syncro limit) with PostgreSQL away (the baseline: no
#                                         trail written) and with it (every step written): alerts/s,
#                                         trail steps and bytes per alert, PostgreSQL's CPU per alert;
#                                         then the probe storm with the trail on (BENCH_TRAIL_STORM=1)
#   tests/bench/processor.sh all
set -euo pipefail
RELAY_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export RELAY_ROOT
# shellcheck source=../../deploy/lib/services.sh
source "$RELAY_ROOT/deploy/lib/services.sh"
ensure_rabbitmq
ensure_redis
cd "$RELAY_ROOT"
cargo build --release --quiet -p ingest -p processor -p relayctl -p syncro-sim --bins
BIN="$RELAY_ROOT/target/release"
WORK=$(mktemp -d)
SIM_PORT=18900
INGEST_PORT=18088
export RELAY_DEMO_SECRET="whsec_$(head -c 32 /dev/urandom | base64 -w0)"
export RELAY_ALERTMANAGER_TOKEN="bench-alertmanager-token-000000"
export RELAY_SYNCRO_TOKEN="bench-syncro-token"
export RELAY_SYNCRO_URL="http://127.0.0.1:$SIM_PORT/api/v1"
export RELAY_INGEST_ADDR="127.0.0.1:$INGEST_PORT"
export RELAY_LOG=warn
export RELAY_LOG_FORMAT=json
PIDS=()

stop_all() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup_prefix() {
    local p=$1
    # Bounded: a broker that stopped answering must not hang the benchmark.
    timeout 60 "$BIN/relayctl" queues --prefix "$p" --delete "$p.alerts.work" "$p.alerts.dead" \
        "$p.alerts.retry.5s" "$p.alerts.retry.30s" "$p.alerts.retry.120s" \
        "$p.alerts.retry.600s" "$p.alerts.retry.3600s" "$p.alerts.parked" "$p.billable-users" >/dev/null 2>&1 || true
    redis-cli --scan --pattern "$p:*" | xargs -r redis-cli del >/dev/null
    redis-cli --scan --pattern "{$p:*" | xargs -r redis-cli del >/dev/null
}
# Logs of the last run are kept for a look: $TMPDIR/relay-bench-logs.
trap 'stop_all; rm -rf "${TMPDIR:-/tmp}/relay-bench-logs"; mv "$WORK" "${TMPDIR:-/tmp}/relay-bench-logs"' EXIT

# start_stack RATE WORKERS [BUDGET]: a fresh prefix, simulator (RATE requests/min, 0 = no
# limit), ingest, workers (sharing BUDGET requests/min, default 180).
start_stack() {
    PREFIX="bench-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    export RELAY_PREFIX=$PREFIX
    SYNCRO_SIM_PORT=$SIM_PORT SYNCRO_SIM_TOKEN=$RELAY_SYNCRO_TOKEN SYNCRO_SIM_RATE_LIMIT=$1 \
        "$BIN/syncro-sim" >"$WORK/sim.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$SIM_PORT/healthz" >/dev/null && break; sleep 0.1; done
    "$BIN/ingest" --config deploy/config.example.toml 2>"$WORK/ingest.log" &
    PIDS+=($!)
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$INGEST_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    WORKER_PIDS=()
    for i in $(seq 1 "$2"); do
        sed -e "s/^metrics_listen = .*/metrics_listen = \"127.0.0.1:$((19190 + i))\"/" \
            -e "s/^requests_per_minute = .*/requests_per_minute = ${3:-180}/" \
            ${BENCH_PREFETCH:+-e "s/^prefetch = .*/prefetch = $BENCH_PREFETCH/"} \
            deploy/config.example.toml >"$WORK/worker$i.toml"
        "$BIN/processor" run --config "$WORK/worker$i.toml" 2>"$WORK/worker$i.log" &
        PIDS+=($!)
        WORKER_PIDS+=($!)
        for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$((19190 + i))/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    done
}
rss_of() { # pid: its peak RSS in MB
    python3 -c "print(round($(awk '/VmHWM/ {print $2}' "/proc/$1/status") / 1024, 1))"
}
peak_rss_mb() {
    local max=0 kb
    for pid in "${WORKER_PIDS[@]}"; do
        kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
        [ "$kb" -gt "$max" ] && max=$kb
    done
    python3 -c "print(round($max / 1024, 1))"
}
row() { # relayctl storm's JSON, a %(key)s template; a nested object's keys are
    # %(object_key)s (probes.worst_secs: %(probes_worst_secs)s), a null prints as n/a
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
for k, v in list(r.items()):
    if isinstance(v, dict):
        r.update((k + "_" + kk, vv) for kk, vv in v.items())
print(sys.argv[2] % {k: "n/a" if v is None else v for k, v in r.items()})' "$1" "$2"
}
storm() { # alerts subjects [more relayctl storm options]
    "$BIN/relayctl" storm --url "http://127.0.0.1:$INGEST_PORT" --secret-env RELAY_DEMO_SECRET \
        --alerts "$1" --subjects "$2" --batch 100 --concurrency 4 \
        --wait-sim "http://127.0.0.1:$SIM_PORT" --timeout 1200 "${@:3}"
}

throughput() {
    echo "| workers | alerts | subjects | alerts/s end to end | tickets | comments | Syncro calls | calls/alert | duplicates | missing | worker peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for workers in ${BENCH_WORKERS:-1 3}; do
        start_stack 0 "$workers" 10000
        r=$(storm 5000 100)
        rss=$(peak_rss_mb)
        stop_all
        cat "$WORK"/worker*.log >"$WORK/throughput-$workers-workers.log"
        cleanup_prefix "$PREFIX"
        row "$r" "| $workers | %(sent)s | 100 | %(alerts_per_sec)s | %(tickets)s | %(comments)s | %(syncro_calls)s | %(calls_per_alert)s | %(duplicates)s | %(missing)s | $rss |"
    done
}

storm_at_budget() {
    start_stack 180 3
    r=$(storm 10000 100)
    rss=$(peak_rss_mb)
    sim_rss=$(rss_of "${PIDS[0]}")
    ingest_rss=$(rss_of "${PIDS[1]}")
    stop_all
    cleanup_prefix "$PREFIX"
    echo "| alerts | subjects | workers | Syncro limit | took s | first 202 to all in Syncro s | tickets | comments | Syncro calls | calls/alert | 429s | duplicates | missing | worker peak RSS MB | ingest peak RSS MB | simulator peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    row "$r" "| %(sent)s | 100 | 3 | 180/min | %(settled_secs)s | %(first_202_to_all_secs)s | %(tickets)s | %(comments)s | %(syncro_calls)s | %(calls_per_alert)s | %(syncro_429)s | %(duplicates)s | %(missing)s | $rss | $ingest_rss | $sim_rss |"
}

probe() {
    # The storm at the budget, and meanwhile new incidents of two other customers, one every
    # 5 s from the storm's first request: is a new incident stuck behind the storm? Each
    # probe's latency runs from its 202 to its ticket's creation in the simulator. Syncro
    # calls include the probes' own few.
    start_stack 180 3
    local r status=0
    r=$(storm 10000 100 --probe-orgs org-fabrikam,org-northwind --probes 10 --probe-every-secs 5) || status=$?
    rss=$(peak_rss_mb)
    stop_all
    cleanup_prefix "$PREFIX"
    [ -n "$r" ] || die "relayctl storm printed no report (exit $status); logs: ${TMPDIR:-/tmp}/relay-bench-logs"
    echo "| alerts | subjects | workers | Syncro limit | took s | first 202 to all in Syncro s | tickets | comments | Syncro calls | calls/alert | 429s | duplicates | missing | worker peak RSS MB | probes | probe worst s | probe median s | probes missing |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    row "$r" "| %(sent)s | 100 | 3 | 180/min | %(settled_secs)s | %(first_202_to_all_secs)s | %(tickets)s | %(comments)s | %(syncro_calls)s | %(calls_per_alert)s | %(syncro_429)s | %(duplicates)s | %(missing)s | $rss | %(probes_sent)s | %(probes_worst_secs)s | %(probes_median_secs)s | %(probes_missing)s |"
    echo
    echo "| probe | organization | severity | 202 after s | to its ticket s | tickets | its own ticket |"
    echo "|---|---|---|---|---|---|---|"
    python3 -c '
import json, sys
for n, p in enumerate(json.loads(sys.argv[1])["probes"]["each"]):
    late = "n/a" if p["latency_secs"] is None else p["latency_secs"]
    print("| {n} | {org} | {severity} | {accepted_secs} | {late} | {tickets} | {own_ticket} |".format(n=n, late=late, **p))' "$r"
    [ "$status" = 0 ] || die "relayctl storm failed (exit $status): a storm alert or a probe missing or duplicated"
}

budget() {
    start_stack 180 3
    # Every alert its own subject: each needs a ticket, far more work than 180 calls a minute.
    "$BIN/relayctl" storm --url "http://127.0.0.1:$INGEST_PORT" --secret-env RELAY_DEMO_SECRET \
        --alerts 3000 --subjects 3000 --batch 100 >/dev/null
    sleep 135
    curl -fsS "http://127.0.0.1:$SIM_PORT/_admin/requests?limit=10000" >"$WORK/requests.json"
    curl -fsS "http://127.0.0.1:$SIM_PORT/_admin/counters" >"$WORK/counters.json"
    stop_all
    cleanup_prefix "$PREFIX"
    python3 - "$WORK/requests.json" "$WORK/counters.json" <<'PY'
import json, sys
from datetime import datetime, timedelta
log = json.load(open(sys.argv[1]))
entries = log["requests"] if isinstance(log, dict) else log
counters = json.load(open(sys.argv[2]))
times = sorted(datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in entries)
start = times[0] + timedelta(seconds=10)
end = start + timedelta(seconds=120)
window = [t for t in times if start <= t < end]
throttled = counters.get("rate_limited", 0) + counters.get("burst_429s", 0)
print("| workers | Syncro limit | window | requests in window | budget | share of budget | 429s |")
print("|---|---|---|---|---|---|---|")
print(f"| 3 | 180/min | 120 s (from 10 s after the first request) | {len(window)} | 360 | {len(window) / 360:.1%} | {throttled} |")
PY
}

dlq_tools() {
    # 10,000 alerts that Syncro refuses (422 on every create) fill the dead-letter queue; then
    # relayctl reads it: time and peak RSS of stats, list, and a dry-run replay.
    start_stack 0 1 10000
    curl -fsS -X POST "http://127.0.0.1:$SIM_PORT/_admin/faults" -H 'content-type: application/json' \
        -d '{"kind": "error", "route": "POST /tickets", "status": 422}' >/dev/null
    "$BIN/relayctl" storm --url "http://127.0.0.1:$INGEST_PORT" --secret-env RELAY_DEMO_SECRET \
        --alerts 10000 --subjects 100 >/dev/null
    local dead
    for _ in $(seq 1 600); do
        dead=$("$BIN/relayctl" queues --prefix "$PREFIX" "$PREFIX.alerts.dead" | awk '{print $2}')
        [ "$dead" = 10000 ] && break
        sleep 1
    done
    [ "$dead" = 10000 ] || die "the dead-letter queue holds $dead, not 10000"
    echo "| relayctl (10,000 dead letters) | took s | peak RSS MB |"
    echo "|---|---|---|"
    for cmd in "dlq stats" "dlq list --limit 20" "dlq replay --dry-run"; do
        # shellcheck disable=SC2086
        /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN/relayctl" --config "$WORK/worker1.toml" $cmd >/dev/null
        read -r secs kb <"$WORK/time"
        echo "| \`$cmd\` | $secs | $(python3 -c "print(round($kb / 1024, 1))") |"
    done
    dead=$("$BIN/relayctl" queues --prefix "$PREFIX" "$PREFIX.alerts.dead" | awk '{print $2}')
    [ "$dead" = 10000 ] || die "reading changed the dead-letter queue: $dead messages"
    stop_all
    cleanup_prefix "$PREFIX"
}

held() {
    # 100 tickets first, with the budget open; then a worker whose budget is 1 request a minute
    # takes `prefetch` alerts for those tickets: each is held (unacknowledged) while its
    # group's note waits for the budget, as in a storm under Syncro's limit. The worker's RSS
    # idle, then once it holds them all; and what the held alerts' entries cost in Redis.
    start_stack 0 1 10000
    storm 100 100 >/dev/null
    for pid in "${WORKER_PIDS[@]}"; do
        kill -TERM "$pid"
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    local prefetch=${BENCH_PREFETCH:-10000}
    sed -e 's/^metrics_listen = .*/metrics_listen = "127.0.0.1:19191"/' \
        -e 's/^requests_per_minute = .*/requests_per_minute = 1/' \
        -e "s/^prefetch = .*/prefetch = $prefetch/" \
        deploy/config.example.toml >"$WORK/held.toml"
    "$BIN/processor" run --config "$WORK/held.toml" 2>"$WORK/held.log" &
    PIDS+=($!)
    WORKER_PIDS=($!)
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$INGEST_PORT/readyz" >/dev/null 2>&1 && curl -fs http://127.0.0.1:19191/readyz >/dev/null 2>&1 && break; sleep 0.1; done
    sleep 2
    local idle held_kb n=0 redis_before redis_after
    idle=$(awk '/VmRSS/ {print $2}' "/proc/${WORKER_PIDS[0]}/status")
    redis_before=$(redis-cli info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
    "$BIN/relayctl" storm --url "http://127.0.0.1:$INGEST_PORT" --secret-env RELAY_DEMO_SECRET \
        --alerts "$prefetch" --subjects 100 --batch 100 --concurrency 4 >/dev/null
    for _ in $(seq 1 600); do
        n=$(curl -fs http://127.0.0.1:19191/metrics | awk '/^relay_processor_held / {print $2}')
        [ "${n:-0}" -ge "$prefetch" ] && break
        sleep 0.2
    done
    # How long the worker holds them before its RSS is read (BENCH_HELD_SETTLE_SECS, 3 s):
    # the allocator may hand the intake burst's freed memory back only after a while.
    sleep "${BENCH_HELD_SETTLE_SECS:-3}"
    held_kb=$(awk '/VmRSS/ {print $2}' "/proc/${WORKER_PIDS[0]}/status")
    redis_after=$(redis-cli info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
    # The figures first: a clean-up that hangs on the broker must not lose them.
    echo "| prefetch | alerts held | RSS idle MB | RSS holding them MB | per held alert KB | Redis per held alert KB |"
    echo "|---|---|---|---|---|---|"
    python3 -c "i, h, n, rb, ra = $idle, $held_kb, ${n:-0}, $redis_before, $redis_after; print(f'| $prefetch | {n} | {i/1024:.1f} | {h/1024:.1f} | {(h-i)/max(n,1):.2f} | {(ra-rb)/1024/max(n,1):.2f} |')"
    stop_all
    cleanup_prefix "$PREFIX"
}

pg_cpu_ticks() { # every PostgreSQL process's user+system CPU ticks so far
    local total=0 pid t
    for pid in $(pgrep -x postgres; pgrep -f '^postgres:' || true); do
        t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + t))
    done
    echo "$total"
}

trail() {
    ensure_postgres
    local pg=${RELAY_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
    echo "| trail | alerts | alerts/s end to end | duplicates | missing | trail steps | steps/alert | trail bytes/alert (table + indexes) | PostgreSQL CPU ms/alert | worker peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for mode in off on; do
        if [ "$mode" = off ]; then
            export RELAY_POSTGRES_URL="postgres://postgres@127.0.0.1:1/postgres"   # nothing listens on port 1
        else
            export RELAY_POSTGRES_URL=$pg
        fi
        local before after
        before=$(pg_cpu_ticks)
        start_stack 0 3 10000
        # A worker consumes once it has read the operator state, or after 5 s without it
        # (PostgreSQL away): that start-up wait is not the storm's.
        sleep 6
        r=$(storm 5000 100)
        rss=$(peak_rss_mb)
        local schema=${PREFIX//-/_} steps=0 bytes=0 last=-1
        if [ "$mode" = on ]; then
            # The writers flush every batch at once; wait until the count stops growing.
            for _ in $(seq 1 60); do
                steps=$(psql -qtA "$pg" -c "SELECT count(*) FROM \"$schema\".trail" 2>/dev/null || echo 0)
                [ "$steps" = "$last" ] && break
                last=$steps
                sleep 1
            done
            psql -q "$pg" -c "VACUUM ANALYZE \"$schema\".trail" >/dev/null 2>&1 || true
            bytes=$(psql -qtA "$pg" -c "SELECT pg_total_relation_size('\"$schema\".trail')" 2>/dev/null || echo 0)
        fi
        after=$(pg_cpu_ticks)
        stop_all
        cleanup_prefix "$PREFIX"
        psql -q "$pg" -c "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" >/dev/null 2>&1 || true
        local hz
        hz=$(getconf CLK_TCK)
        row "$r" "| $mode | %(sent)s | %(alerts_per_sec)s | %(duplicates)s | %(missing)s | $steps | $(python3 -c "print(round($steps / 5000, 2))") | $(python3 -c "print(round($bytes / 5000))") | $(python3 -c "print(round(($after - $before) * 1000 / $hz / 5000, 3))") | $rss |"
    done
    export RELAY_POSTGRES_URL=$pg
    if [ -n "${BENCH_TRAIL_STORM:-}" ]; then
        echo
        probe
    fi
}

case "${1:-all}" in
    throughput) throughput ;;
    storm) storm_at_budget ;;
    probe) probe ;;
    budget) budget ;;
    dlq) dlq_tools ;;
    held) held ;;
    trail) trail ;;
    all) throughput; echo; storm_at_budget; echo; budget ;;
    *) die "usage: tests/bench/processor.sh [throughput|storm|probe|budget|dlq|held|trail|all]" ;;
esac
