#!/usr/bin/env bash
# Checks every deployment file under deploy/ (tests/run.sh runs it):
#   deploy/systemd/verify.sh   systemd-analyze verify + security, shutdown lint
#   deploy/rabbitmq/check.py   definitions.json = asyncapi.yaml topology, rabbitmq.conf
#   deploy/k8s/check.py        manifests: structure, grace, KEDA target, secrets
#   deploy/ci/check.py         CI snippets: YAML, bash, exit codes with a fake qf
#   deploy/prometheus/check.py alert rules and dashboard name real metrics
# QF_DEPLOY_BOOT_TEST=1 also boots a throw-away RabbitMQ with deploy/rabbitmq/
# (deploy/rabbitmq/boot-test.sh; ~20 s; with QF_BIN and QF_DATABASE_URL set it
# starts a real `qf worker` against it).
# Installs python3-yaml and systemd with apt-get when missing (root only).
# Exits non-zero if any check fails; runs them all first.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."

missing=()
/usr/bin/python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
command -v systemd-analyze >/dev/null || missing+=(systemd)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deploy/check.sh: missing ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "deploy/check.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

failed=()
run() { # name command...
  echo "--- $1"
  if ! "${@:2}"; then failed+=("$1"); fi
}
run systemd bash deploy/systemd/verify.sh
run rabbitmq /usr/bin/python3 deploy/rabbitmq/check.py
run k8s /usr/bin/python3 deploy/k8s/check.py
run ci /usr/bin/python3 deploy/ci/check.py
run prometheus /usr/bin/python3 deploy/prometheus/check.py
if [ "${QF_DEPLOY_BOOT_TEST:-0}" = 1 ]; then
  run rabbitmq-boot bash deploy/rabbitmq/boot-test.sh
fi

if [ "${#failed[@]}" -gt 0 ]; then
  echo "deploy/check.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "deploy/check.sh: all deployment files ok"
