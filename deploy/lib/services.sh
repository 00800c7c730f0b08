# shellcheck shell=bash
# Starts (or installs, then starts) the services alert-relay needs: RabbitMQ, Redis and
# PostgreSQL on their standard local ports (PostgreSQL where RELAY_POSTGRES_URL points, when
# set). Sourced by deploy/up.sh, tests/run.sh and tests/fault/run.sh.
#
# Order of preference: a service already answering is used as it is; an installed one is
# started; on Debian a missing one is installed with apt-get; elsewhere, a running Docker
# engine starts it from docker-compose.yml.

RELAY_ROOT=${RELAY_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=""
apt_install() {
    command -v apt-get >/dev/null || return 1
    if [ -z "$APT_UPDATED" ]; then
        as_root apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
    say "installing $* with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

docker_engine() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

compose_up() {
    docker_engine || return 1
    say "starting $* with docker compose"
    if docker compose version >/dev/null 2>&1; then
        (cd "$RELAY_ROOT" && docker compose up -d --wait "$@") >&2
    elif command -v docker-compose >/dev/null; then
        (cd "$RELAY_ROOT" && docker-compose up -d "$@") >&2
    else
        return 1
    fi
}

wait_port() { # port what seconds
    for _ in $(seq 1 $(($3 * 5))); do
        port_open "$1" && return 0
        sleep 0.2
    done
    die "$2 did not start listening on 127.0.0.1:$1 within $3 s"
}

ensure_redis() {
    port_open 6379 && return 0
    if ! command -v redis-server >/dev/null; then
        apt_install redis-server || compose_up redis || die "Redis is not running and cannot be installed here"
        port_open 6379 && return 0
    fi
    say "starting Redis"
    local dir=/var/lib/redis log=/var/log/redis/relay.log
    [ -w "$dir" ] || dir=$(mktemp -d)
    [ -w "$(dirname "$log")" ] || log="$dir/redis.log"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir "$dir" --logfile "$log" >&2
    wait_port 6379 Redis 30
}

ensure_rabbitmq() {
    if ! port_open 5672; then
        if ! command -v rabbitmq-server >/dev/null; then
            apt_install rabbitmq-server || compose_up rabbitmq ||
                die "RabbitMQ is not running and cannot be installed here"
        fi
        if ! port_open 5672 && command -v rabbitmqctl >/dev/null &&
            as_root rabbitmqctl -q ping >/dev/null 2>&1; then
            # The node runs but its application stopped (e.g. after a crashed supervisor).
            say "RabbitMQ's node is up without its application: restarting the application"
            as_root rabbitmqctl -q stop_app >/dev/null 2>&1 || true
            as_root rabbitmqctl -q start_app >&2 || true
            wait_port 5672 RabbitMQ 120
        elif ! port_open 5672; then
            say "starting RabbitMQ"
            as_root rabbitmq-server -detached >&2 2>&1 || true
            wait_port 5672 RabbitMQ 120
        fi
    fi
    # The port opens before the node is fully booted; quorum queues need it booted.
    if command -v rabbitmqctl >/dev/null; then
        as_root timeout 150 rabbitmqctl await_startup --timeout 120 >/dev/null 2>&1 || true
        heal_rabbitmq_dlx || true
    fi
    amqp_healthy || heal_rabbitmq_wedge ||
        die "RabbitMQ on 127.0.0.1:5672 does not answer the AMQP handshake or confirm a publish"
}

# RabbitMQ answers the handshake and confirms a persistent publish to a quorum queue.
amqp_healthy() {
    amqp_answers && amqp_publishes
}

# A publish with a confirm, to a quorum queue made for it and deleted after (what ingest does
# for every alert): a node can answer the handshake and still never confirm. False only when
# the broker took the connection and did not confirm; a probe that cannot tell (no python3,
# the guest login refused on someone's own broker) does not count against it.
amqp_publishes() {
    command -v python3 >/dev/null || return 0
    local rc=0 said
    said=$(python3 "$RELAY_ROOT/deploy/lib/amqp_probe.py" 127.0.0.1 5672 2>&1) || rc=$?
    [ -z "$said" ] || say "$said"
    [ "$rc" -ne 1 ]
}

# RabbitMQ answers the AMQP handshake on 127.0.0.1:5672 (an open port is not enough: a wedged
# node accepts connections and never answers). The server's first frame is type 1.
amqp_answers() {
    timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672 && printf "AMQP\0\0\x09\x01" >&3 && head -c 1 <&3' 2>/dev/null |
        od -An -tx1 | grep -q 01
}

# The Debian RabbitMQ (3.10) on the machines this runs on has wedged under the tests' queue
# churn (hundreds of quorum queues declared and deleted): the port stays open, the node says
# it runs, and no connection gets an answer; or it answers and never confirms a publish. Only
# a local node is healed: first restarted; if it wedges again while it recovers its queues,
# its data directory (test leftovers on a test machine) is moved aside and it starts empty.
# A resource alarm (memory or disk) is not healed: restarting would not free what is short,
# so it is named and left to whoever runs the machine. Returns 1 when there is nothing it
# can do.
heal_rabbitmq_wedge() {
    [ -d /var/lib/rabbitmq/mnesia ] && command -v rabbitmq-server >/dev/null || return 1
    local alarms
    if command -v rabbitmq-diagnostics >/dev/null &&
        ! alarms=$(as_root timeout 30 rabbitmq-diagnostics -q check_local_alarms 2>&1) &&
        grep -qi alarm <<<"$alarms"; then
        say "RabbitMQ has a resource alarm, so it blocks every publish: $alarms"
        say "free memory or disk (see its disk_free_limit and vm_memory_high_watermark), then retry"
        return 1
    fi
    say "RabbitMQ does not answer the AMQP handshake or confirm a publish: restarting the local node"
    as_root pkill -9 -f 'beam.smp.*rabbit' || true
    sleep 2
    as_root rabbitmq-server -detached >&2 2>&1 || true
    wait_port 5672 RabbitMQ 120
    as_root timeout 150 rabbitmqctl await_startup --timeout 120 >/dev/null 2>&1 || true
    amqp_healthy && return 0
    local aside
    aside=/var/lib/rabbitmq/mnesia.wedged.$(date +%Y%m%d%H%M%S)
    say "RabbitMQ wedged again while recovering its queues: moving its data to $aside and starting it empty"
    as_root pkill -9 -f 'beam.smp.*rabbit' || true
    sleep 2
    as_root mv /var/lib/rabbitmq/mnesia "$aside"
    as_root rabbitmq-server -detached >&2 2>&1 || true
    wait_port 5672 RabbitMQ 120
    as_root timeout 150 rabbitmqctl await_startup --timeout 120 >/dev/null 2>&1 || true
    amqp_healthy
}

# RabbitMQ's supervisor of at-least-once dead-letter workers gives up after a burst of worker
# exits (many such quorum queues deleted or losing their leader within a second; a known
# RabbitMQ bug, rabbitmq-server#16652) and is not restarted: from then on every quorum queue
# with at-least-once dead-lettering (our work and retry queues) fails to start, and
# declaring one closes the connection with INTERNAL_ERROR. Restarting the RabbitMQ
# application (not the node) brings it back; queues and messages are kept.
# Returns 0 when it had to heal (callers may then redo what the broken broker spoiled).
heal_rabbitmq_dlx() {
    local sup
    sup=$(as_root rabbitmqctl -q eval 'whereis(rabbit_fifo_dlx_sup).' 2>/dev/null) || return 1
    if [ "$sup" = "undefined" ]; then
        say "RabbitMQ lost its dead-letter supervisor (rabbitmq-server#16652): restarting the RabbitMQ application"
        as_root rabbitmqctl -q stop_app && as_root rabbitmqctl -q start_app ||
            die "could not restart the RabbitMQ application"
        return 0
    fi
    return 1
}

# PostgreSQL holds the durable operator state: silences, pause, each alert's trail, the audit
# log, source heartbeats. The binaries use this URL when RELAY_POSTGRES_URL is not set.
RELAY_POSTGRES_DEFAULT_URL=postgres://postgres@127.0.0.1:5432/postgres

# docker-compose.yml's PostgreSQL (its role, database and development password).
pg_compose_url() { echo "postgres://relay:${POSTGRES_PASSWORD:-relay-demo-only}@127.0.0.1:5432/relay"; }

ensure_postgres() {
    # The clusters that exist before anything is done here: only one created by this call may
    # have its authentication loosened (pg_trust_loopback).
    local before
    before=$(compgen -G '/etc/postgresql/*/*/postgresql.conf' || true)
    pg_parse_url "${RELAY_POSTGRES_URL:-$RELAY_POSTGRES_DEFAULT_URL}"
    if ! pg_answers "$PG_HOST" "$PG_PORT"; then
        pg_is_local || die "PostgreSQL at $PG_HOST:$PG_PORT (RELAY_POSTGRES_URL) does not answer; only a local one is started here"
        if pg_server_installed || apt_install postgresql; then
            start_postgres_cluster "$PG_PORT" "$before"
        elif [ "$PG_PORT" = 5432 ] && compose_up postgres; then
            if [ -z "${RELAY_POSTGRES_URL:-}" ]; then
                RELAY_POSTGRES_URL=$(pg_compose_url)
                export RELAY_POSTGRES_URL
                pg_parse_url "$RELAY_POSTGRES_URL"
            fi
        else
            die "PostgreSQL is not running and cannot be installed here"
        fi
        wait_postgres "$PG_HOST" "$PG_PORT" 60
    fi
    pg_ensure_login
}

# Splits a postgres:// URL into PG_USER, PG_PASSWORD, PG_HOST, PG_PORT and PG_DB, with libpq's
# defaults for the parts it leaves out (port 5432, the database named as the user). Only what
# is needed here: one host; query parameters are ignored. Never prints the URL (its password).
pg_parse_url() { # url
    local rest userinfo="" hostport
    [[ $1 =~ ^postgres(ql)?:// ]] || die "RELAY_POSTGRES_URL is not a postgres:// URL"
    rest=${1#*://}
    rest=${rest%%\?*}
    hostport=${rest%%/*}
    PG_DB=""
    [[ $rest == */* ]] && PG_DB=$(pct_decode "${rest#*/}")
    if [[ $hostport == *@* ]]; then
        userinfo=${hostport%@*}
        hostport=${hostport##*@}
    fi
    PG_USER=$(pct_decode "${userinfo%%:*}")
    PG_PASSWORD=""
    [[ $userinfo == *:* ]] && PG_PASSWORD=$(pct_decode "${userinfo#*:}")
    if [[ $hostport =~ ^\[([^]]*)\](:([0-9]*))?$ ]]; then  # [IPv6]:port
        PG_HOST=${BASH_REMATCH[1]} PG_PORT=${BASH_REMATCH[3]}
    else
        PG_HOST=${hostport%%:*} PG_PORT=""
        [[ $hostport == *:* ]] && PG_PORT=${hostport##*:}
    fi
    PG_HOST=${PG_HOST:-localhost} PG_PORT=${PG_PORT:-5432} PG_DB=${PG_DB:-$PG_USER}
    [[ $PG_PORT =~ ^[0-9]+$ ]] || die "RELAY_POSTGRES_URL: the port is not a number"
}

pct_decode() { if [[ $1 == *%* ]]; then printf '%b' "${1//%/\\x}"; else printf '%s' "$1"; fi; }

pg_is_local() { case $PG_HOST in 127.0.0.1 | localhost | ::1) return 0 ;; *) return 1 ;; esac; }

# Accepting connections (pg_isready), or, without the client tools, listening.
pg_answers() { # host port
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h "$1" -p "$2" -t 2
    else
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
    fi
}

wait_postgres() { # host port seconds
    local deadline=$((SECONDS + $3))
    until pg_answers "$1" "$2"; do
        [ "$SECONDS" -lt "$deadline" ] ||
            die "PostgreSQL did not start accepting connections on $1:$2 within $3 s"
        sleep 0.2
    done
}

# A PostgreSQL server (not only the client), as Debian installs it or on the PATH.
pg_server_installed() {
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || command -v postgres >/dev/null
}

# Starts the cluster on port with Debian's cluster tools (pg_ctlcluster runs the server as its
# owner; it needs neither systemd nor a running init), creating one when the machine has no
# cluster at all. Without those tools, the init script.
start_postgres_cluster() { # port clusters-that-existed-before
    local port=$1 version="" name="" status=""
    if ! command -v pg_ctlcluster >/dev/null; then
        say "starting PostgreSQL"
        as_root service postgresql start >&2 || die "PostgreSQL is installed but could not be started"
        return 0
    fi
    read -r version name status < <(pg_lsclusters -h 2>/dev/null |
        awk -v port="$port" '$3 == port { print $1, $2, $4; exit }') || true
    if [ -z "$version" ]; then
        if [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
            pg_lsclusters >&2
            die "no PostgreSQL cluster on port $port: start one there, or point RELAY_POSTGRES_URL at one of these"
        fi
        version=$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | awk -F/ '{print $5}' | sort -V | tail -n 1)
        [ -n "$version" ] || die "PostgreSQL is installed without Debian's server packages: start it on port $port"
        name=main status=down
        say "creating PostgreSQL cluster $version/$name on port $port"
        as_root pg_createcluster --port "$port" "$version" "$name" >&2
    fi
    if ! grep -qxF "/etc/postgresql/$version/$name/postgresql.conf" <<<"$2"; then
        pg_trust_loopback "$version" "$name"
    fi
    if [[ $status == online* ]]; then
        # Running (installing the package may start it) but not answering yet, or with the
        # authentication just changed.
        as_root pg_ctlcluster "$version" "$name" reload >&2 || true
    else
        say "starting PostgreSQL $version/$name"
        as_root pg_ctlcluster "$version" "$name" start >&2 ||
            die "PostgreSQL $version/$name did not start: see /var/log/postgresql/postgresql-$version-$name.log"
    fi
}

# A cluster created by this script (installing the package creates one) has Debian's
# authentication: peer on the Unix socket and scram-sha-256 on TCP, where the role postgres
# has no password, so the default URL (postgres://postgres@127.0.0.1:5432/postgres, without a
# password) could not log in. On that cluster only, connections from the machine itself
# (127.0.0.1, ::1) are trusted, as on a development or CI machine: anyone with a shell here
# may then connect as any role, so do not let this create a production database. A cluster
# this script did not create is never changed: it works as its owner set it up, and
# RELAY_POSTGRES_URL carries the role and password it accepts.
pg_trust_loopback() { # version name
    local hba=/etc/postgresql/$1/$2/pg_hba.conf
    say "PostgreSQL $1/$2 was created here: trusting connections from this machine ($hba)"
    as_root sed -i -E \
        -e 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1/32|::1/128)[[:space:]]+)[^[:space:]]+#\1trust#' \
        -e '1i # alert-relay (deploy/lib/services.sh) created this cluster and trusts loopback connections.' \
        "$hba"
}

# The URL's role can log in and its database exists; on this machine's own cluster, a missing
# role or database is created (as the postgres system account, over the Unix socket). An
# existing role is never altered.
pg_ensure_login() {
    local url=${RELAY_POSTGRES_URL:-$RELAY_POSTGRES_DEFAULT_URL}
    # No client here (docker-compose.yml's PostgreSQL): the services report what fails.
    command -v psql >/dev/null || return 0
    pg_login "$url" && return 0
    # A docker-compose.yml PostgreSQL already running on 5432 has its own role and password.
    if [ -z "${RELAY_POSTGRES_URL:-}" ] && pg_login "$(pg_compose_url)"; then
        RELAY_POSTGRES_URL=$(pg_compose_url)
        export RELAY_POSTGRES_URL
        say "using docker-compose.yml's PostgreSQL (RELAY_POSTGRES_URL set for this run)"
        return 0
    fi
    if pg_is_local && [ -n "$PG_USER" ] && command -v pg_ctlcluster >/dev/null &&
        id postgres >/dev/null 2>&1; then
        pg_create_role_and_database && pg_login "$url" && return 0
    fi
    die "cannot use PostgreSQL at $PG_HOST:$PG_PORT as role ${PG_USER:-(none)}, database ${PG_DB:-(none)}: $PG_LOGIN_ERROR
Set RELAY_POSTGRES_URL to a role, password and database this PostgreSQL accepts, e.g.
postgres://relay:PASSWORD@127.0.0.1:5432/relay (the authentication of a PostgreSQL this script did not create is left as it is)."
}

PG_LOGIN_ERROR=""
pg_login() { # url
    PG_LOGIN_ERROR=$(PGCONNECT_TIMEOUT=5 psql -w -X -Atq -c 'select 1' "$1" 2>&1 >/dev/null) && return 0
    PG_LOGIN_ERROR=$(tail -n 1 <<<"$PG_LOGIN_ERROR")
    return 1
}

pg_create_role_and_database() {
    say "making sure PostgreSQL has the role $PG_USER and the database $PG_DB"
    # psql's :'var' and format(%I, %L) quote the names and the password.
    (cd / && as_root runuser -u postgres -- psql -X -q -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 \
        -v role="$PG_USER" -v password="$PG_PASSWORD" -v db="$PG_DB") >&2 <<'SQL'
SELECT CASE WHEN :'password' = '' THEN format('CREATE ROLE %I LOGIN', :'role')
            ELSE format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password') END
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
}

ensure_command() { # command debian-package
    command -v "$1" >/dev/null && return 0
    apt_install "$2" || die "$1 is missing and $2 cannot be installed here"
}
