#!/usr/bin/env bash
# Checks deploy/systemd/*.service without installing anything on this
# machine's systemd (which need not be running: containers and CI have no
# systemd as PID 1):
#   1. `systemd-analyze verify` in a throw-away root (--root): the host's
#      own units (sysinit.target, ...) are copied in, a fake executable
#      stands at the ExecStart path (/usr/local/bin/qf), and our units go to
#      <root>/etc/systemd/system. verify exits 0 even on "Unknown key" or an
#      unparsable value, so ANY output it prints is a failure here.
#   2. `systemd-analyze security --offline=yes`: the exposure score must stay
#      at or below the thresholds below (worker 4.5: tools need JIT and
#      namespaces; approver 2.5).
#   3. the settings the worker's shutdown depends on (lint below):
#      TimeoutStopSec > QF_SHUTDOWN_GRACE_S (also the value documented in
#      qf.env.example), KillMode=mixed, KillSignal=SIGTERM,
#      Restart=on-failure, ExecStart=/usr/local/bin/qf <command>, User=qf,
#      and that qf.env.example mentions every QF_ variable that `qf worker`
#      and `qf approver` read (parsed from worker/cmd_*.c).
# Needs systemd-analyze (Debian package systemd) and python3. Exits non-zero
# on any problem.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

command -v systemd-analyze >/dev/null ||
  { echo "verify.sh: systemd-analyze not found (apt-get install systemd)" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system" "$root/usr/local/bin" "$root/etc/qf"
for d in /usr/lib/systemd/system /lib/systemd/system; do
  if [ -d "$d" ]; then cp -a "$d" "$root/usr/lib/systemd/"; break; fi
done
printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/bin/qf"
chmod 0755 "$root/usr/local/bin/qf"
cp "$here"/*.service "$root/etc/systemd/system/"
cp "$here/qf.env.example" "$root/etc/qf/qf.env"
cp "$here/approver.env.example" "$root/etc/qf/approver.env"

units=(qf-worker@1.service qf-worker@2.service qf-approver.service)
fail=0

echo "systemd-analyze verify ${units[*]}"
if ! out=$(systemd-analyze verify --man=no --generators=no --root="$root" "${units[@]}" 2>&1) ||
  [ -n "$out" ]; then
  printf '%s\n' "$out" >&2
  echo "verify.sh: systemd-analyze verify reported problems" >&2
  fail=1
fi

security() { # unit threshold
  local out
  if ! out=$(systemd-analyze security --offline=yes --man=no --root="$root" \
    --threshold="$2" "$1" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "verify.sh: $1: exposure above $2" >&2
    fail=1
  fi
  printf '%s\n' "$out" | grep -i 'overall exposure' || true
}
# --threshold is the score times ten (0..100).
security qf-worker@1.service 45
security qf-approver.service 25

"${PYTHON:-/usr/bin/python3}" - "$here" "$repo" <<'PY' || fail=1
import re, sys, pathlib

here, repo = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
problems = []

def settings(path):
    """[Service] and [Unit] keys of a unit file (last value wins, as in systemd)."""
    out, section = {}, None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        k, _, v = line.partition("=")
        out.setdefault(section, {}).setdefault(k.strip(), []).append(v.strip())
    return out

def seconds(v):
    m = re.fullmatch(r"(\d+)\s*(s|sec|min|m)?", v)
    if not m:
        raise ValueError(v)
    return int(m.group(1)) * (60 if m.group(2) in ("min", "m") else 1)

def env_default(path, name):
    for line in path.read_text().splitlines():
        m = re.match(r"#?\s*%s=(\d+)\s*$" % name, line)
        if m:
            return int(m.group(1))
    return None

example = here / "qf.env.example"
for unit, cmd in (("qf-worker@.service", "worker"), ("qf-approver.service", "approver")):
    s = settings(here / unit).get("Service", {})
    last = lambda k: (s.get(k) or [None])[-1]
    def want(k, v):
        if last(k) != v:
            problems.append(f"{unit}: {k}={last(k)}, expected {v}")
    want("ExecStart", f"/usr/local/bin/qf {cmd}")
    want("User", "qf")
    want("Restart", "on-failure")
    want("KillSignal", "SIGTERM")
    want("KillMode", "mixed")
    want("NoNewPrivileges", "yes")
    if "/etc/qf/qf.env" not in (s.get("EnvironmentFile") or []):
        problems.append(f"{unit}: EnvironmentFile=/etc/qf/qf.env missing")
    stop = seconds(last("TimeoutStopSec") or "90s")
    if cmd != "worker":  # the approver runs no tools and has no grace period
        print(f"{unit}: TimeoutStopSec={stop}s, KillMode={last('KillMode')}, "
              f"Restart={last('Restart')}")
        continue
    # The grace the unit sets, else the documented/compiled default of 30.
    grace = 30
    for e in s.get("Environment", []):
        m = re.fullmatch(r"QF_SHUTDOWN_GRACE_S=(\d+)", e)
        if m:
            grace = int(m.group(1))
    documented = env_default(example, "QF_SHUTDOWN_GRACE_S")
    for g in {grace, documented or grace}:
        if stop <= g:
            problems.append(f"{unit}: TimeoutStopSec={stop}s must exceed QF_SHUTDOWN_GRACE_S={g}")
    if stop < grace + 10:
        problems.append(f"{unit}: TimeoutStopSec={stop}s leaves under 10 s after the "
                        f"{grace} s grace for stopping the tool group (5 s) and requeueing")
    print(f"{unit}: TimeoutStopSec={stop}s, QF_SHUTDOWN_GRACE_S={grace}, "
          f"KillMode={last('KillMode')}, Restart={last('Restart')}")

# Every variable the programs read is documented in qf.env.example. Names
# of status codes (the X-macro list of include/base/qf/err.h, QF_ERRC_*) and
# exit codes (QF_EXIT_*) are not variables.
text = example.read_text()
codes = {"QF_" + c for c in re.findall(
    r"^\s*X\((E[A-Z0-9_]+),", (repo / "include/base/qf/err.h").read_text(), re.M)}
if "QF_EINVAL" not in codes:
    problems.append("include/base/qf/err.h: cannot read the status codes")
for src in ("worker/cmd_worker.c", "worker/cmd_approver.c"):
    names = set(re.findall(r"\bQF_[A-Z0-9_]+\b", (repo / src).read_text()))
    for n in sorted(names - codes):
        if n.startswith(("QF_EXIT_", "QF_ERRC_")):
            continue
        if n + "=" not in text:
            problems.append(f"qf.env.example: {n} (read by {src}) is not documented")

for p in problems:
    print("verify.sh: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

if [ "$fail" -ne 0 ]; then
  echo "deploy/systemd: FAILED" >&2
  exit 1
fi
echo "deploy/systemd: units verified"
