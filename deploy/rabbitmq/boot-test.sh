#!/usr/bin/env bash
# Boots a throw-away RabbitMQ node with THIS folder's rabbitmq.conf,
# enabled_plugins and definitions.json (ports and paths moved to a temp
# directory, everything else as shipped), then checks that the node accepted
# the config (consumer_timeout, heartbeat), loaded the topology (queues with
# their arguments, bindings), and that a declaration with the worker's own
# arguments is accepted (pika, when installed: the 406 check). Stops the node
# and its epmd afterwards. Slow (~20 s), so deploy/check.sh runs it only with
# QF_DEPLOY_BOOT_TEST=1. Needs root and rabbitmq-server (Debian package).
#
#   QF_BOOT_TEST_PORT   AMQP port of the temp node (default 5699; +20000 is
#                       its distribution port, +10000 its management port)
#   QF_BOOT_TEST_EPMD   its own epmd port (default 4399)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${QF_BOOT_TEST_PORT:-5699}
epmd_port=${QF_BOOT_TEST_EPMD:-4399}
node="qf-boot-test-$$@localhost"
sbin=/usr/lib/rabbitmq/bin
[ -x "$sbin/rabbitmq-server" ] || { echo "boot-test.sh: rabbitmq-server is not installed" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "boot-test.sh: run as root" >&2; exit 1; }

dir=$(mktemp -d /tmp/qf-rmq-boot.XXXXXX)
chmod 0755 "$dir"
cleanup() {
  rmq "$sbin/rabbitmqctl" -q -n "$node" stop >/dev/null 2>&1 || true
  local epmd; epmd=$(ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | tail -n 1)
  [ -n "$epmd" ] && ERL_EPMD_PORT=$epmd_port "$epmd" -kill >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

# The shipped config, with only listeners and file paths moved.
sed -e "s|^listeners.tcp.default = .*|listeners.tcp.default = 127.0.0.1:$port|" \
  -e "s|^management.tcp.port = .*|management.tcp.port = $((port + 10000))\nmanagement.tcp.ip = 127.0.0.1|" \
  -e "s|^load_definitions = .*|load_definitions = $dir/definitions.json|" \
  -e "s|^disk_free_limit.absolute = .*|disk_free_limit.absolute = 50MB|" \
  "$here/rabbitmq.conf" >"$dir/rabbitmq.conf"
cp "$here/definitions.json" "$here/enabled_plugins" "$dir/"
mkdir -p "$dir/mnesia" "$dir/log"
chown -R rabbitmq:rabbitmq "$dir"

rmq() {
  runuser -u rabbitmq -- env HOME="$dir" RABBITMQ_NODENAME="$node" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port" \
    RABBITMQ_DIST_PORT=$((port + 20000)) ERL_EPMD_ADDRESS=127.0.0.1 \
    ERL_EPMD_PORT="$epmd_port" RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_PID_FILE="$dir/rabbit.pid" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_CONF_ENV_FILE=/dev/null \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    "$@"
}

echo "boot-test: starting a temp node on 127.0.0.1:$port with deploy/rabbitmq/*"
rmq "$sbin/rabbitmq-server" -detached
ok=0
for _ in $(seq 1 60); do
  if rmq "$sbin/rabbitmqctl" -q -n "$node" await_startup --timeout 5 >/dev/null 2>&1; then ok=1; break; fi
  sleep 1
done
if [ "$ok" -ne 1 ]; then
  tail -n 40 "$dir"/log/*.log >&2 || true
  echo "boot-test.sh: the node did not start with this config" >&2
  exit 1
fi

fail=0
expect() { # what command... ; the command's output must match the pattern in $pat
  local what=$1; shift
  local out; out=$("$@" 2>&1) || true
  if printf '%s\n' "$out" | grep -Eq -- "$pat"; then
    echo "boot-test: $what: ok"
  else
    printf '%s\n' "$out" >&2
    echo "boot-test.sh: $what: expected /$pat/" >&2
    fail=1
  fi
}
pat='3900000'
expect "consumer_timeout" rmq "$sbin/rabbitmqctl" -q -n "$node" eval 'application:get_env(rabbit, consumer_timeout).'
pat='60'
expect "heartbeat" rmq "$sbin/rabbitmqctl" -q -n "$node" eval 'application:get_env(rabbit, heartbeat).'
# (arguments are listed sorted by name)
pat='^qf\.orchestrations[[:space:]]+quorum[[:space:]].*\{"x-dead-letter-exchange","qf\.dead"\},\{"x-delivery-limit",3\}'
expect "queue qf.orchestrations (quorum, x-delivery-limit 3, DLX qf.dead)" \
  rmq "$sbin/rabbitmqctl" -q -n "$node" list_queues name type arguments
pat='qf\.hitl'
expect "queue qf.hitl" rmq "$sbin/rabbitmqctl" -q -n "$node" list_queues name
pat='qf\.dead[[:space:]]+fanout'
expect "exchange qf.dead (fanout)" rmq "$sbin/rabbitmqctl" -q -n "$node" list_exchanges name type
pat='qf\.requests[[:space:]]+qf\.orchestrations[[:space:]]+resume'
expect "binding qf.requests -> qf.orchestrations (resume)" \
  rmq "$sbin/rabbitmqctl" -q -n "$node" list_bindings source_name destination_name routing_key

# The worker declares the queue with x-delivery-limit as a 64-bit integer;
# the broker must find that equivalent to the loaded definition.
if /usr/bin/python3 -c 'import pika' 2>/dev/null || python3 -c 'import pika' 2>/dev/null; then
  py=/usr/bin/python3; $py -c 'import pika' 2>/dev/null || py=python3
  rmq "$sbin/rabbitmqctl" -q -n "$node" add_user qfboot qfboot >/dev/null
  rmq "$sbin/rabbitmqctl" -q -n "$node" set_permissions -p / qfboot '.*' '.*' '.*' >/dev/null
  if $py - "$port" <<'PY'; then echo "boot-test: re-declaring the topology as the worker does: ok"; else fail=1; fi
import sys, pika
c = pika.BlockingConnection(pika.ConnectionParameters(
    "127.0.0.1", int(sys.argv[1]), "/", pika.PlainCredentials("qfboot", "qfboot")))
ch = c.channel()
for name, kind in (("qf.requests", "direct"), ("qf.decisions", "topic"),
                   ("qf.evidence", "topic"), ("qf.dead", "fanout")):
    ch.exchange_declare(name, kind, durable=True)
ch.queue_declare("qf.orchestrations.dead", durable=True)
ch.queue_declare("qf.orchestrations", durable=True, arguments={
    "x-queue-type": "quorum", "x-delivery-limit": 3,
    "x-dead-letter-exchange": "qf.dead"})
ch.queue_declare("qf.hitl", durable=True)
c.close()
PY
else
  echo "boot-test: pika not installed: skipped the re-declaration check"
fi

# The real worker: with QF_BIN and QF_DATABASE_URL set (tests/run.sh's local
# PostgreSQL will do), `qf worker` must declare its topology against the
# loaded definitions (no 406), start consuming, and exit 0 on SIGTERM.
if [ -n "${QF_BIN:-}" ] && [ -x "${QF_BIN:-}" ] && [ -n "${QF_DATABASE_URL:-}" ]; then
  rmq "$sbin/rabbitmqctl" -q -n "$node" add_user qfworker qfworker >/dev/null 2>&1 || true
  rmq "$sbin/rabbitmqctl" -q -n "$node" set_permissions -p / qfworker '.*' '.*' '.*' >/dev/null
  QF_AMQP_URL="amqp://qfworker:qfworker@127.0.0.1:$port/" QF_ARTIFACTS_ROOT="$dir/artifacts" \
    QF_POLICY="$here/../../policy/default.yaml" "$QF_BIN" worker 2>"$dir/worker.log" &
  wpid=$!
  consuming=0
  for _ in $(seq 1 20); do
    if rmq "$sbin/rabbitmqctl" -q -n "$node" list_consumers queue_name 2>/dev/null |
      grep -q '^qf\.orchestrations'; then consuming=1; break; fi
    sleep 0.5
  done
  kill -TERM "$wpid" 2>/dev/null || true
  wrc=0; wait "$wpid" || wrc=$?
  if [ "$consuming" -eq 1 ] && [ "$wrc" -eq 0 ] && ! grep -qi 'PRECONDITION_FAILED\|406' "$dir/worker.log"; then
    echo "boot-test: qf worker declared its topology, consumed qf.orchestrations, exited 0 on SIGTERM: ok"
  else
    cat "$dir/worker.log" >&2
    echo "boot-test.sh: qf worker against the loaded definitions: consuming=$consuming exit=$wrc" >&2
    fail=1
  fi
else
  echo "boot-test: QF_BIN or QF_DATABASE_URL unset: skipped the qf worker check"
fi

[ "$fail" -eq 0 ] || { echo "deploy/rabbitmq boot test: FAILED" >&2; exit 1; }
echo "deploy/rabbitmq boot test: ok"
