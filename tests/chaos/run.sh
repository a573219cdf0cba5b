#!/usr/bin/env bash
# tests/chaos/run.sh BUILD_DIR [--short|--long] [chaos.py options]
#
# The chaos test (see tests/chaos/README.md): its own RabbitMQ and
# PostgreSQL (deploy/local/services.sh, private ports and state directory),
# a fresh migrated database, then tests/chaos/chaos.py drives `qf worker`
# processes through kills, drains, broker and database restarts and
# re-sent requests, and reports what was lost, doubled or repeated.
#
#   tests/chaos/run.sh build                 the short version (~1.3 min)
#   tests/chaos/run.sh build --long          the long version (~7 min)
#   tests/chaos/run.sh build --no-faults     the same load, no faults
#   tests/chaos/run.sh build --self-check    checks of the harness itself
#                                            (no servers, ~10 s)
#
# Exit status: 0 every count is 0; 1 a count is not 0; 2 the harness
# could not run (setup failed, global timeout); 64 usage. Everything a
# failure needs is left in BUILD_DIR/chaos/ (worker logs, markers,
# events, summary.json).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

usage() {
  sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 64
}
[ $# -ge 1 ] || usage
case "$1" in -h | --help) usage ;; esac
[ -d "$1" ] || { echo "chaos: no build directory $1" >&2; exit 64; }
BUILD=$(cd "$1" && pwd)
shift

PY=${CHAOS_PYTHON:-/usr/bin/python3}
"$PY" -c 'import pika' 2>/dev/null ||
  { echo "chaos: $PY cannot import pika (apt-get install python3-pika)" >&2; exit 2; }

OUT=$BUILD/chaos
mkdir -p "$OUT"

selfcheck=0
for a in "$@"; do [ "$a" = --self-check ] && selfcheck=1; done
if [ "$selfcheck" = 1 ]; then
  exec "$PY" "$here/chaos.py" --out "$OUT/selfcheck" --python "${CHAOS_TOOL_PYTHON:-/usr/bin/python3}" "$@"
fi

"$PY" "$here/chaos.py" --parse-only --out "$OUT" "$@" || exit 64

QF=$BUILD/worker/qf
[ -x "$QF" ] || QF=$BUILD/qf
[ -x "$QF" ] || { echo "chaos: no qf in $BUILD/worker/ or $BUILD/ (cmake --build $BUILD --target qf)" >&2; exit 2; }
# Migrations, policy and the demo project come from the sources the build
# was made from (the build directory's CMake cache), else from this tree.
SRC=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
[ -n "$SRC" ] && [ -d "$SRC/migrations" ] || SRC=$repo

# Private servers: never the default ports a CI run may be using.
export QF_LOCAL_DIR=${CHAOS_LOCAL_DIR:-$BUILD/chaos-local}
export QF_LOCAL_AMQP_PORT=${CHAOS_AMQP_PORT:-5772}
export QF_LOCAL_PG_PORT=${CHAOS_PG_PORT:-5532}
export QF_LOCAL_EPMD_PORT=${CHAOS_EPMD_PORT:-4469}
export QF_LOCAL_AMQPS_PORT=$((QF_LOCAL_AMQP_PORT - 1))
unset QF_AMQP_URL QF_DATABASE_URL

# Only what this run writes is removed: the marker file, logs and
# summary of an earlier run would be misread as this one's.
rm -rf "$OUT"/workers "$OUT"/ws "$OUT"/artifacts
rm -f "$OUT"/markers.jsonl "$OUT"/events.jsonl "$OUT"/summary.json "$OUT"/infra.log
: >"$OUT/services.log"

chaos_pid=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$chaos_pid" ] && kill -0 "$chaos_pid" 2>/dev/null; then
    kill -TERM "$chaos_pid" 2>/dev/null || true
    # (it lets a server restart in progress finish: at most 240 s)
    for _ in $(seq 1 600); do kill -0 "$chaos_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$chaos_pid" 2>/dev/null || true
  fi
  echo "chaos: stopping the servers ($QF_LOCAL_DIR)" >&2
  timeout 300 bash "$repo/deploy/local/services.sh" stop >>"$OUT/services.log" 2>&1 ||
    echo "chaos: services.sh stop failed: see $OUT/services.log" >&2
  # services.sh ends epmd only when no node is registered, and may look
  # before the stopped node has gone: ours (on our port) goes once empty.
  local epmd
  epmd=$(ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | tail -n 1)
  if [ -n "$epmd" ]; then
    for _ in $(seq 1 40); do
      ERL_EPMD_PORT=$QF_LOCAL_EPMD_PORT "$epmd" -names 2>/dev/null | grep -q '^name ' || break
      sleep 0.25
    done
    ERL_EPMD_PORT=$QF_LOCAL_EPMD_PORT "$epmd" -names 2>/dev/null | grep -q '^name ' ||
      ERL_EPMD_PORT=$QF_LOCAL_EPMD_PORT "$epmd" -kill >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "chaos: starting RabbitMQ :$QF_LOCAL_AMQP_PORT and PostgreSQL :$QF_LOCAL_PG_PORT in $QF_LOCAL_DIR" >&2
if ! env_text=$(timeout 400 bash "$repo/deploy/local/services.sh" start 2>>"$OUT/services.log"); then
  echo "chaos: services.sh start failed:" >&2
  tail -n 20 "$OUT/services.log" >&2
  exit 2
fi
eval "$env_text"

# A fresh database, migrated; the workers log in as a role of qf_worker
# (least privilege, as tests/worker_support.c makes them). Passwords go in
# the environment, never on a command line.
PSQL=$QF_LOCAL_PG_BIN/psql
export PGOPTIONS="-c client_min_messages=warning"
DB=qf_chaos
ADMIN_URL=${QF_DATABASE_URL%/*}/$DB
ADMIN_PW=$(sed -n 's|^postgresql://[^:]*:\([^@]*\)@.*|\1|p' <<<"$QF_DATABASE_URL")
WORKER_PW=chaos-pw-$$-$RANDOM
WORKER_URL=postgresql://chaos_w:$WORKER_PW@127.0.0.1:$QF_LOCAL_PG_PORT/$DB
admin_psql() { # DB SQL...
  local db=$1 a=(); shift
  for q in "$@"; do a+=(-c "$q"); done
  PGPASSWORD=$ADMIN_PW "$PSQL" -h 127.0.0.1 -p "$QF_LOCAL_PG_PORT" -U postgres -d "$db" \
    -qAtX -v ON_ERROR_STOP=1 "${a[@]}" >/dev/null
}
admin_psql qf "DROP DATABASE IF EXISTS $DB WITH (FORCE)" "CREATE DATABASE $DB"
if ! QF_DATABASE_URL=$ADMIN_URL "$QF" migrate --dir "$SRC/migrations" --quiet \
  >"$OUT/migrate.log" 2>&1; then
  echo "chaos: qf migrate failed:" >&2
  cat "$OUT/migrate.log" >&2
  exit 2
fi
admin_psql "$DB" "DROP ROLE IF EXISTS chaos_w" \
  "CREATE ROLE chaos_w LOGIN PASSWORD '$WORKER_PW' IN ROLE qf_worker"

set +e
CHAOS_AMQP_URL=$QF_AMQP_URL CHAOS_ADMIN_DB=$ADMIN_URL CHAOS_WORKER_DB=$WORKER_URL \
  "$PY" "$here/chaos.py" --qf "$QF" --src "$SRC" --repo "$repo" --out "$OUT" \
  --psql "$PSQL" --python "${CHAOS_TOOL_PYTHON:-/usr/bin/python3}" "$@" &
chaos_pid=$!
wait "$chaos_pid"
rc=$?
# wait returns early when a trapped signal arrives; the trap handles it.
chaos_pid=
set -e
exit "$rc"
