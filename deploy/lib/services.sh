# shellcheck shell=bash
# Starts (or installs, then starts) the services alert-relay needs: RabbitMQ and Redis on
# their standard local ports. Sourced by deploy/up.sh and tests/run.sh.
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
    local i
    for i in $(seq 1 $(($3 * 5))); do
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
        as_root rabbitmqctl await_startup --timeout 120 >/dev/null 2>&1 || true
        heal_rabbitmq_dlx || true
    fi
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

ensure_command() { # command debian-package
    command -v "$1" >/dev/null && return 0
    apt_install "$2" || die "$1 is missing and $2 cannot be installed here"
}
