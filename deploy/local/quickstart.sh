#!/usr/bin/env bash
# The README's first command: from a fresh Debian 12 machine to a running
# local stack. Installs what is missing, builds qf, starts RabbitMQ and
# PostgreSQL on loopback, and migrates the database.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

echo "==> dependencies"
bash deploy/local/install-deps.sh

echo "==> build"
cmake -S . -B build/normal -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/normal -j "$(nproc 2>/dev/null || echo 2)" --target qf

echo "==> services"
eval "$(bash deploy/local/services.sh start)"
export QF_AMQP_URL QF_DATABASE_URL

echo "==> database"
./build/normal/qf migrate

cat <<MSG

Ready. RabbitMQ and PostgreSQL run on loopback with their state in .qf-local/.
  use them:  eval "\$(deploy/local/services.sh env)"; ./build/normal/qf help
  stop them: deploy/local/services.sh stop
MSG
