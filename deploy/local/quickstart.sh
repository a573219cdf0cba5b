#!/usr/bin/env bash
# The README's first command: from a fresh Debian 12 machine to the whole
# service running on loopback, and three requests decided.
#
#   deploy/local/quickstart.sh        install, build, start, migrate, start
#                                     two workers and the approver, submit
#                                     three requests against examples/demo
#   deploy/local/quickstart.sh stop   stop the workers, the approver and
#                                     the local RabbitMQ and PostgreSQL
#
# The three requests: one passing (PASS), one failing (FAIL), and one
# high-risk (NEED_HITL) that a demo approver login approves (then PASS).
# Processes and logs live in .qf-local/quickstart/.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
state=${QF_LOCAL_DIR:-$repo/.qf-local}/quickstart
qf=$repo/build/normal/qf
export QF_TOPOLOGY_PREFIX=${QF_TOPOLOGY_PREFIX:-qf}

say() { printf '\n==> %s\n' "$*"; }

stop_all() {
  for pidfile in "$state"/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "${1:-}" = "stop" ]; then
  stop_all
  bash deploy/local/services.sh stop
  exit 0
fi

say "dependencies"
bash deploy/local/install-deps.sh

say "build"
cmake -S . -B build/normal -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/normal -j "$(nproc 2>/dev/null || echo 2)" --target qf

say "services"
# Assigned first: a failing start stops the script (set -e), which an
# eval of a command substitution would not.
services_env=$(bash deploy/local/services.sh start)
eval "$services_env"
export QF_AMQP_URL QF_DATABASE_URL

say "database"
"$qf" migrate
# Login roles: the workers connect as qf_demo_worker (qf_worker), the
# approver process and the demo approval as qf_demo_approver (qf_approver).
pw=$(cat "${QF_LOCAL_DIR:-$repo/.qf-local}/postgres.password")
psql "$QF_DATABASE_URL" -qv ON_ERROR_STOP=1 <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'qf_demo_worker') THEN
    CREATE ROLE qf_demo_worker LOGIN PASSWORD '$pw' IN ROLE qf_worker;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'qf_demo_approver') THEN
    CREATE ROLE qf_demo_approver LOGIN PASSWORD '$pw' IN ROLE qf_approver;
  END IF;
END
\$\$;
SQL
as_role() { # as_role ROLE: QF_DATABASE_URL for that login
  echo "$QF_DATABASE_URL" | sed -E "s#://[^@]*@#://$1:$pw@#"
}

say "workers and approver"
stop_all
mkdir -p "$state" "$state/artifacts"
export QF_WORKSPACE_ROOT=$repo/examples QF_ARTIFACTS_ROOT=$state/artifacts
export QF_PYTHON=${QF_PYTHON:-/usr/bin/python3}
for i in 1 2; do
  QF_DATABASE_URL=$(as_role qf_demo_worker) nohup "$qf" worker \
    >"$state/worker$i.log" 2>&1 &
  echo $! >"$state/worker$i.pid"
done
QF_DATABASE_URL=$(as_role qf_demo_approver) QF_APPROVER_SWEEP_S=1 \
  nohup "$qf" approver >"$state/approver.log" 2>&1 &
echo $! >"$state/approver.pid"
for _ in $(seq 1 100); do
  grep -q worker.ready "$state/worker1.log" "$state/worker2.log" 2>/dev/null && break
  sleep 0.2
done

say "three requests"
run_id=$(date +%s)
submit() { # submit NAME NL TEST_PATH: prints the decision, returns its code
  "$qf" submit --nl "$2" --workspace demo --arg "test_path=$3" \
    --message-id "quickstart-$run_id-$1" --requested-by quickstart --wait 120
}
set +e
submit pass "run the login tests" tests/passing; pass_rc=$?
submit fail "run the cart tests" tests/failing; fail_rc=$?
# The high-risk one: approved by the demo approver once it waits.
submit hitl "smoke test the production login" tests/passing \
  2>"$state/hitl.err" &
hitl_pid=$!
approval=""
for _ in $(seq 1 150); do
  approval=$(grep -o 'qf approve [0-9a-f-]*' "$state/hitl.err" | head -1 | cut -d' ' -f3)
  [ -n "$approval" ] && break
  sleep 0.2
done
cat "$state/hitl.err"
if [ -n "$approval" ]; then
  echo "(demo) approving $approval as qf_demo_approver"
  QF_DATABASE_URL=$(as_role qf_demo_approver) "$qf" approve "$approval" \
    --comment "approved by the quick start's demo approver"
fi
wait "$hitl_pid"; hitl_rc=$?
set -e

say "done"
printf 'decisions: passing=%s failing=%s high-risk=%s (exit codes 0 PASS, 1 FAIL)\n' \
  "$pass_rc" "$fail_rc" "$hitl_rc"
cat <<MSG
Evidence is under $state/artifacts/<run_id>/evidence.json; logs in $state/.
The service keeps running. Try:
  eval "\$(deploy/local/services.sh env)"
  build/normal/qf submit --nl "run the login tests" --workspace demo --arg test_path=tests/passing --wait
  build/normal/qf approvals
Stop everything: deploy/local/quickstart.sh stop
MSG
[ "$pass_rc" = 0 ] && [ "$fail_rc" = 1 ] && [ "$hitl_rc" = 0 ]
