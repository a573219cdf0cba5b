#!/usr/bin/env bash
# tests/chaos/infra.sh: the chaos test's faults on the servers that
# deploy/local/services.sh started (the same state directory and ports,
# from QF_LOCAL_DIR, QF_LOCAL_AMQP_PORT, QF_LOCAL_EPMD_PORT; the
# PostgreSQL port is kept in the data directory's postmaster.opts).
#
#   infra.sh rmq-restart DOWN_S   stop RabbitMQ only, wait, start it again
#   infra.sh pg-restart DOWN_S    stop PostgreSQL only, wait, start it again
#
# services.sh can only stop both servers at once, so the stops are done
# here the way it does them (rabbitmqctl stop with the node's environment;
# pg_ctl stop on its data directory, as tests/test_worker_faults.c does);
# the start is always `services.sh start`, which starts whichever of the
# two is not running and leaves the other alone.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
STATE=${QF_LOCAL_DIR:?QF_LOCAL_DIR must name the chaos state directory}
AMQP_PORT=${QF_LOCAL_AMQP_PORT:?}
EPMD_PORT=${QF_LOCAL_EPMD_PORT:?}
AMQPS_PORT=${QF_LOCAL_AMQPS_PORT:-$((AMQP_PORT - 1))}
DIST_PORT=$((AMQP_PORT + 20000))
RMQ_NODE="qf${AMQP_PORT}@localhost"

log() { echo "infra: $(date +%T) $*" >&2; }
run_as() {
  local user=$1; shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_closed() { # PORT SECONDS
  local i
  for ((i = 0; i < $2 * 4; i++)); do
    port_open "$1" || return 0
    sleep 0.25
  done
  return 1
}

rmq_stop() {
  local dir=$STATE/rabbitmq
  log "stopping rabbitmq (node $RMQ_NODE)"
  # The environment of services.sh's rmq_env: HOME holds the cookie.
  run_as rabbitmq env HOME="$dir" RABBITMQ_NODENAME="$RMQ_NODE" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT" \
    RABBITMQ_DIST_PORT="$DIST_PORT" ERL_EPMD_ADDRESS=127.0.0.1 \
    ERL_EPMD_PORT="$EPMD_PORT" RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_PID_FILE="$dir/rabbit.pid" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_CONF_ENV_FILE=/dev/null \
    timeout 120 /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$RMQ_NODE" stop \
    "$dir/rabbit.pid" >&2 || log "rabbitmqctl stop: status $?"
  wait_closed "$AMQP_PORT" 60 || { log "port $AMQP_PORT still open"; return 1; }
  wait_closed "$AMQPS_PORT" 30 || { log "port $AMQPS_PORT still open"; return 1; }
  log "rabbitmq stopped"
}

pg_stop() {
  local bin d=$STATE/postgres
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  log "stopping postgresql"
  run_as postgres "$bin/pg_ctl" -D "$d/data" -m fast -w -t 120 stop >&2
  log "postgresql stopped"
}

start() {
  log "services.sh start"
  timeout 300 bash "$repo/deploy/local/services.sh" start >/dev/null
  log "started"
}

case "${1:-}" in
  rmq-restart) rmq_stop; sleep "${2:-3}"; start ;;
  pg-restart) pg_stop; sleep "${2:-3}"; start ;;
  rmq-stop) rmq_stop ;;
  pg-stop) pg_stop ;;
  start) start ;;
  *) echo "usage: $0 rmq-restart|pg-restart DOWN_S | rmq-stop | pg-stop | start" >&2; exit 64 ;;
esac
