#!/usr/bin/env bash
# Local RabbitMQ and PostgreSQL for development, tests and CI.
#
#   deploy/local/services.sh start|stop|status|env
#
# Both servers listen on loopback only, keep their state in a private
# directory ($QF_LOCAL_DIR, default <repo>/.qf-local, git-ignored) and are
# started as their own system users when this runs as root. `start` is a
# no-op for a server that is already running from that directory; `stop`
# stops only the servers this script started (it never touches a system
# instance). `start` and `env` print the variables the qf programs read:
#
#   eval "$(deploy/local/services.sh start)"
#
# Ports: QF_LOCAL_AMQP_PORT (5672), QF_LOCAL_PG_PORT (5432); RabbitMQ's
# distribution port is the AMQP port + 20000 and its epmd port
# QF_LOCAL_EPMD_PORT (4369), both bound to 127.0.0.1. RabbitMQ also listens
# with TLS (amqps://) on QF_LOCAL_AMQPS_PORT (the AMQP port - 1), with
# a certificate for "localhost" signed by a CA made here ($STATE/tls/ca.pem,
# printed as QF_LOCAL_TLS_CA), so the tests can check TLS end to end.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
STATE=${QF_LOCAL_DIR:-$repo/.qf-local}
AMQP_PORT=${QF_LOCAL_AMQP_PORT:-5672}
PG_PORT=${QF_LOCAL_PG_PORT:-5432}
EPMD_PORT=${QF_LOCAL_EPMD_PORT:-4369}
AMQPS_PORT=${QF_LOCAL_AMQPS_PORT:-$((AMQP_PORT - 1))}
DIST_PORT=$((AMQP_PORT + 20000))
START_TIMEOUT_S=${QF_LOCAL_START_TIMEOUT_S:-120}
PG_DB=qf
PG_SUPER=postgres
RMQ_NODE="qf${AMQP_PORT}@localhost"

log() { echo "services: $*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# run_as USER CMD...: as root, drop to the server's own user (PostgreSQL
# refuses to run as root, RabbitMQ should not); otherwise run as ourselves.
run_as() {
  local user=$1; shift
  if is_root; then runuser -u "$user" -- "$@"; else "$@"; fi
}

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] || return 1
  echo "$d"
}

need_packages() {
  if pg_bindir >/dev/null && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    return 0
  fi
  if ! is_root; then
    die "rabbitmq-server and postgresql are not installed; run as root: $here/install-deps.sh"
  fi
  "$here/install-deps.sh" >&2
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for WHAT SECONDS CMD...
  local what=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  return 1
}

# ---------------------------------------------------------------- PostgreSQL
pg_dir() { echo "$STATE/postgres"; }
pg_password() { cat "$STATE/postgres.password"; }

pg_running() {
  local bin; bin=$(pg_bindir) || return 1
  [ -f "$(pg_dir)/data/postmaster.pid" ] || return 1
  run_as postgres "$bin/pg_ctl" -D "$(pg_dir)/data" status >/dev/null 2>&1
}

pg_init() {
  local bin=$1 dir; dir=$(pg_dir)
  [ -f "$dir/data/PG_VERSION" ] && return 0
  mkdir -p "$dir"
  umask 077
  [ -f "$STATE/postgres.password" ] ||
    head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/postgres.password"
  cp "$STATE/postgres.password" "$dir/pwfile"
  is_root && chown -R postgres:postgres "$dir"
  log "initdb in $dir/data"
  # Password authentication over TCP: tests log in as distinct roles and
  # the approver's identity is the authenticated session user.
  run_as postgres "$bin/initdb" -D "$dir/data" -U "$PG_SUPER" \
    --pwfile="$dir/pwfile" --auth-local=scram-sha-256 \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  rm -f "$dir/pwfile"
}

pg_start() {
  local bin dir; bin=$(pg_bindir) || die "postgresql binaries not found"
  dir=$(pg_dir)
  if pg_running; then log "postgresql already running on port $PG_PORT"; return 0; fi
  if port_open "$PG_PORT"; then
    die "port $PG_PORT is taken by another program; set QF_LOCAL_PG_PORT"
  fi
  pg_init "$bin"
  log "starting postgresql on 127.0.0.1:$PG_PORT"
  run_as postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -t "$START_TIMEOUT_S" -o "-c listen_addresses=127.0.0.1 -p $PG_PORT \
    -c unix_socket_directories='$dir' -c fsync=off \
    -c max_connections=200" start >/dev/null ||
    { tail -n 20 "$dir/server.log" >&2; die "postgresql did not start"; }
  touch "$STATE/postgres.started-by-us"
  wait_for postgresql "$START_TIMEOUT_S" "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" ||
    die "postgresql does not accept connections"
  PGPASSWORD=$(pg_password) "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPER" \
    -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" |
    grep -q 1 || PGPASSWORD=$(pg_password) "$bin/createdb" -h 127.0.0.1 \
    -p "$PG_PORT" -U "$PG_SUPER" "$PG_DB"
}

pg_stop() {
  local bin; bin=$(pg_bindir) || return 0
  [ -f "$STATE/postgres.started-by-us" ] || { log "postgresql: not started here"; return 0; }
  if pg_running; then
    log "stopping postgresql"
    run_as postgres "$bin/pg_ctl" -D "$(pg_dir)/data" -m fast -w stop >/dev/null
  fi
  rm -f "$STATE/postgres.started-by-us"
}

# ------------------------------------------------------------------ RabbitMQ
rmq_dir() { echo "$STATE/rabbitmq"; }

# rmq_env CMD...: runs a RabbitMQ script with this instance's settings. HOME
# points at the state directory so the server and the CLI share one cookie.
rmq_env() {
  local dir; dir=$(rmq_dir)
  run_as rabbitmq env HOME="$dir" \
    RABBITMQ_NODENAME="$RMQ_NODE" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT" \
    RABBITMQ_DIST_PORT="$DIST_PORT" ERL_EPMD_ADDRESS=127.0.0.1 \
    ERL_EPMD_PORT="$EPMD_PORT" RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_PID_FILE="$dir/rabbit.pid" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_CONF_ENV_FILE=/dev/null \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    "$@"
}

rmq_running() {
  [ -f "$(rmq_dir)/rabbit.pid" ] || return 1
  rmq_env /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$RMQ_NODE" status >/dev/null 2>&1
}

# A CA and a server certificate for localhost (once; kept with the state).
tls_setup() {
  local d=$1/tls
  [ -f "$d/server.pem" ] && return 0
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=qf local CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 ||
    die "openssl could not make the local CA"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 &&
    printf 'subjectAltName=DNS:localhost\n' >"$d/san.ext" &&
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
      -CAcreateserial -days 3650 -extfile "$d/san.ext" -out "$d/server.pem" \
      >/dev/null 2>&1 || die "openssl could not make the server certificate"
  chmod 644 "$d/ca.pem" "$d/server.pem"
  chmod 600 "$d/ca.key" "$d/server.key"
}

rmq_start() {
  local dir; dir=$(rmq_dir)
  if rmq_running; then log "rabbitmq already running on port $AMQP_PORT"; return 0; fi
  if port_open "$AMQP_PORT"; then
    die "port $AMQP_PORT is taken by another program; set QF_LOCAL_AMQP_PORT"
  fi
  if port_open "$AMQPS_PORT"; then
    die "port $AMQPS_PORT is taken by another program; set QF_LOCAL_AMQPS_PORT"
  fi
  mkdir -p "$dir/log" "$dir/mnesia"
  tls_setup "$dir"
  # consumer_timeout stays above the longest tool timeout (3600 s) plus grace,
  # so a long test run is never cut off by the broker (DESIGN.md section 4).
  cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
listeners.ssl.default = 127.0.0.1:$AMQPS_PORT
ssl_options.cacertfile = $dir/tls/ca.pem
ssl_options.certfile = $dir/tls/server.pem
ssl_options.keyfile = $dir/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
loopback_users.guest = true
consumer_timeout = 3900000
log.file.level = warning
log.console = false
CONF
  echo "[]." >"$dir/enabled_plugins"
  is_root && chown -R rabbitmq:rabbitmq "$dir"
  log "starting rabbitmq on 127.0.0.1:$AMQP_PORT (node $RMQ_NODE)"
  rmq_env /usr/lib/rabbitmq/bin/rabbitmq-server -detached >"$STATE/rabbitmq.start.log" 2>&1 ||
    { cat "$STATE/rabbitmq.start.log" >&2; die "rabbitmq did not start"; }
  touch "$STATE/rabbitmq.started-by-us"
  # await_startup fails at once until the node has registered with epmd,
  # so it is retried rather than trusted with the whole timeout.
  if ! wait_for rabbitmq "$START_TIMEOUT_S" rmq_env /usr/lib/rabbitmq/bin/rabbitmqctl \
    -q -n "$RMQ_NODE" await_startup --timeout 10; then
    tail -n 30 "$dir"/log/*.log >&2 2>/dev/null || true
    die "rabbitmq did not finish starting in ${START_TIMEOUT_S}s"
  fi
  wait_for rabbitmq "$START_TIMEOUT_S" port_open "$AMQP_PORT" ||
    die "rabbitmq does not accept connections on $AMQP_PORT"
  wait_for rabbitmq "$START_TIMEOUT_S" port_open "$AMQPS_PORT" ||
    die "rabbitmq does not accept TLS connections on $AMQPS_PORT"
}

rmq_stop() {
  [ -f "$STATE/rabbitmq.started-by-us" ] || { log "rabbitmq: not started here"; return 0; }
  if rmq_running; then
    log "stopping rabbitmq"
    rmq_env /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$RMQ_NODE" stop >/dev/null 2>&1 || true
  fi
  # The node started epmd; end it too once no other Erlang node uses it.
  local epmd; epmd=$(ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | tail -n 1)
  if [ -n "$epmd" ] && ! ERL_EPMD_PORT=$EPMD_PORT "$epmd" -names 2>/dev/null | grep -q '^name '; then
    ERL_EPMD_PORT=$EPMD_PORT "$epmd" -kill >/dev/null 2>&1 || true
  fi
  rm -f "$STATE/rabbitmq.started-by-us" "$(rmq_dir)/rabbit.pid"
}

# The servers run as their own users: they must be able to reach STATE.
reachable_by() {
  is_root || return 0
  runuser -u "$1" -- test -x "$STATE" 2>/dev/null ||
    die "user $1 cannot reach $STATE (a parent directory is not traversable: chmod o+x it, or set QF_LOCAL_DIR to a directory $1 can reach)"
}

# ------------------------------------------------------------------ commands
print_env() {
  # %2f is the default vhost "/" for every client (a bare trailing "/"
  # means the empty vhost to librabbitmq tools and the AMQP URI spec).
  echo "export QF_AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f"
  echo "export QF_DATABASE_URL=postgresql://$PG_SUPER:$(pg_password)@127.0.0.1:$PG_PORT/$PG_DB"
  echo "export QF_LOCAL_PG_BIN=$(pg_bindir)"
  echo "export QF_LOCAL_AMQPS_URL=amqps://guest:guest@localhost:$AMQPS_PORT/%2f"
  echo "export QF_LOCAL_TLS_CA=$(rmq_dir)/tls/ca.pem"
}

status() {
  local rc=0
  if rmq_running; then echo "rabbitmq: running on 127.0.0.1:$AMQP_PORT"; else echo "rabbitmq: stopped"; rc=3; fi
  if pg_running; then echo "postgresql: running on 127.0.0.1:$PG_PORT"; else echo "postgresql: stopped"; rc=3; fi
  return $rc
}

main() {
  local cmd=${1:-}
  case "$cmd" in
    start)
      need_packages
      mkdir -p "$STATE"
      chmod 755 "$STATE"
      reachable_by postgres
      reachable_by rabbitmq
      pg_start
      rmq_start
      print_env
      ;;
    stop) rmq_stop; pg_stop ;;
    status) status ;;
    rabbitmqctl) shift; rmq_env /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$RMQ_NODE" "$@" ;;
    env)
      [ -f "$STATE/postgres.password" ] || die "not started yet: run $0 start"
      print_env
      ;;
    *)
      echo "usage: $0 start|stop|status|env|rabbitmqctl ARGS..." >&2
      exit 64
      ;;
  esac
}

main "$@"
