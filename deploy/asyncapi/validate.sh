#!/usr/bin/env bash
# Validates deploy/asyncapi.yaml (the message contract) with
# @asyncapi/parser, the topology and field lists, the examples, and, when a
# built qf exists, real `qf run` output (see validate.mjs). tests/run.sh
# runs it; it needs Node.js >= 20 and npm (installs node_modules from
# package-lock.json when missing). QF_BIN selects the qf binary.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$here"

command -v node >/dev/null || { echo "validate.sh: node not found (Node.js >= 20 needed)" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "validate.sh: Node.js $(node --version) is too old (>= 20 needed)" >&2; exit 1; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi

# The most recently built qf, if any (tests/run.sh has just built it).
if [ -z "${QF_BIN:-}" ]; then
  for b in "$repo/build/normal/qf" "$repo/build/sanitize/qf"; do
    if [ -x "$b" ] && { [ -z "${QF_BIN:-}" ] || [ "$b" -nt "$QF_BIN" ]; }; then
      QF_BIN=$b
    fi
  done
  [ -n "${QF_BIN:-}" ] && export QF_BIN
fi

exec node validate.mjs "$repo/deploy/asyncapi.yaml"
