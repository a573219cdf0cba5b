#!/usr/bin/env bash
# Benchmark: what one decision costs the worker, against a floor measured
# in the same run (tests/bench/floor.c: consume, one INSERT, publish with a
# confirm, ack). Not part of the test run: speed is measured here, never
# asserted in tests. Needs the local services (deploy/local/services.sh
# start, QF_AMQP_URL and QF_DATABASE_URL exported) and a build.
#
#   tests/bench/bench_worker.sh BUILD_DIR [N] [PREFETCH] [WORKERS]
#                               [CONCURRENCY] [pytest]
#
# N requests (default 1000; 80% dry runs, 20% high-risk dry runs that park
# for a human) are preloaded into a fresh topology; then W workers drain
# them. Prints decisions/s, CPU ms per decision (worker, PostgreSQL,
# RabbitMQ, from /proc), PostgreSQL commits per decision, the worker's peak
# RSS, and each figure's ratio to the floor's (above prefetch 1, also the
# worker's decisions/s against the floor at prefetch 1, measured in the
# same round). With "pytest", N real pytest runs (examples/demo
# tests/passing) instead, against the same pytest started by hand N
# times: the wall time the worker adds per run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: bench_worker.sh BUILD_DIR [N] [PREFETCH] [WORKERS]}" && pwd)
exec /usr/bin/python3 "$here/bench_worker.py" --build "$build" \
  --repo "$(cd "$here/../.." && pwd)" --n "${2:-1000}" \
  --prefetch "${3:-1}" --workers "${4:-1}" --concurrency "${5:-1}" \
  ${6:+--pytest}
