#!/usr/bin/env bash
# The overview's activity query (opstate/src/trail/activity.rs: alerts, tickets and notes per
# hour over 24 h, and the busiest organizations and event types) on a trail of realistic size:
# ROWS steps (default 200,000: ~67,000 alerts of 300 organizations and 40 event types, three
# steps each: received, planned, then ticket_created or note_added), spread over SPAN_HOURS
# (default 168: a week's retention; 24 puts every row in the day the query reads, a storm's
# worst case). Prints each query's plan (EXPLAIN ANALYZE, BUFFERS) and its median time over 7
# runs, in a schema of its own in RELAY_POSTGRES_URL's database, dropped afterwards.
#   tests/bench/activity.sh [ROWS] [SPAN_HOURS]
# The SQL below is the code's, copied: keep the two the same.
set -euo pipefail
RELAY_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-200000}
SPAN_HOURS=${2:-168}
URL=${RELAY_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
SCHEMA="bench_activity_$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
psql_() { PGOPTIONS="-c search_path=$SCHEMA" psql "$URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() { psql "$URL" -X -q -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql "$URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $SCHEMA"
for migration in "$RELAY_ROOT"/opstate/migrations/*.sql; do psql_ -f "$migration" >/dev/null; done

# Steps in time order (as the writer inserts them), the alert's three steps a few seconds apart.
psql_ <<SQL
INSERT INTO trail (at, message_id, source, sender_id, organization, ticket_id, step, detail)
SELECT now() - make_interval(secs => ($SPAN_HOURS * 3600.0) * (1 - a::float / ($ROWS / 3)))
           + make_interval(secs => s),
       'ar1-' || a, 'demo', 'evt-' || a, 'org-' || (a * 7919 % 300),
       CASE WHEN s = 2 THEN 900000 + a / 20 END,
       CASE s WHEN 0 THEN 'received' WHEN 1 THEN 'planned'
              ELSE CASE WHEN a % 20 = 0 THEN 'ticket_created' ELSE 'note_added' END END,
       CASE s WHEN 0 THEN jsonb_build_object('event_type', 'type-' || (a * 31 % 40),
                                             'severity', 'high', 'status', 'firing',
                                             'title', 'Alert number ' || a)
              ELSE '{}'::jsonb END
  FROM generate_series(1, $ROWS / 3) AS a, generate_series(0, 2) AS s
 ORDER BY 1;
ANALYZE trail;
SQL

SINCE="date_trunc('hour', now()) - interval '23 hours'"
HOURS="SELECT date_trunc('hour', at) AS hour,
        count(*) FILTER (WHERE step = 'received') AS alerts,
        count(DISTINCT ticket_id) FILTER (WHERE step = 'ticket_created') AS tickets,
        count(*) FILTER (WHERE step = 'note_added') AS notes
   FROM trail
  WHERE at >= $SINCE AND step IN ('received', 'ticket_created', 'note_added')
  GROUP BY 1"
busiest() {
    echo "SELECT $1 AS name, count(*) AS alerts FROM trail
           WHERE at >= $SINCE AND step = 'received' AND $1 IS NOT NULL
           GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
}
ORGS=$(busiest organization)
TYPES=$(busiest "detail->>'event_type'")

echo "trail: $(psql_ -tA -c 'SELECT count(*) FROM trail') rows over $SPAN_HOURS h," \
     "$(psql_ -tA -c "SELECT count(*) FROM trail WHERE at >= $SINCE") in the last 24 h;" \
     "$(psql_ -tA -c "SELECT pg_size_pretty(pg_total_relation_size('trail'))") with its indexes"
measure() {
    for name in HOURS ORGS TYPES; do
        sql=${!name}
        [ -n "${QUIET_PLANS:-}" ] || { echo "== $name: plan"; psql_ -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $sql"; }
        times=()
        for _ in 1 2 3 4 5 6 7; do
            t=$(psql_ -c '\timing on' -c "$sql" -o /dev/null | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
            times+=("$t")
        done
        median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 4p)
        echo "== $name ($1): median $median ms over 7 runs (${times[*]})"
    done
}
# Rows inserted after the BRIN index was made are in ranges not summarized yet, which every
# scan reads whole: the state before autovacuum has passed (an insert-only table is vacuumed
# after autovacuum_vacuum_insert_threshold rows), then after it.
measure "as inserted"
psql_ -c "VACUUM ANALYZE trail"
measure "after vacuum"
