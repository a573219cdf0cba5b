#!/usr/bin/env bash
# Installs every Debian package the project needs to build, test and run.
# Idempotent: packages already present are skipped, and apt is not touched
# at all when nothing is missing. Used by the README and by tests/run.sh.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config git ca-certificates clang clang-format
  openssl
  # libraries (see DESIGN.md section 1)
  librabbitmq-dev libpq-dev libyaml-dev libcjson-dev libpcre2-dev libcurl4-openssl-dev
  libgit2-dev libmicrohttpd-dev
  libexpat1-dev libssl-dev libcriterion-dev
  # servers, started on loopback by deploy/local/services.sh
  rabbitmq-server postgresql
  # test helpers: a second AMQP client, the test tools we drive
  amqp-tools python3 python3-pytest python3-pika python3-jsonschema
  # process inspection in tests; the browser run_playwright hands to
  # Playwright Test (its own browser downloads are never used)
  procps chromium
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo $0) to install them" >&2
  exit 1
fi

echo "install-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Services must not be started by the package scripts: we run our own
# instances on loopback with private state (deploy/local/services.sh).
policy_rc=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy_rc" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
  chmod +x "$policy_rc"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy_rc"' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
