#!/bin/sh
# install.sh: installs what the sample Playwright project needs, and only
# what is missing (a second run changes nothing):
#   - Chromium from Debian (apt-get) when $QF_CHROMIUM (default
#     /usr/bin/chromium) is not there; run_playwright hands that binary to
#     the project, Playwright's own browser downloads are never used;
#   - Node.js >= 20 (@playwright/test 1.65 needs it) when node is missing;
#   - the project's node_modules with `npm ci` (package-lock.json pinned)
#     when DIR/node_modules/@playwright/test is missing.
# Usage: install.sh [DIR]   (DIR: a copy of this project; default: here)
# Installing packages needs root; a machine that already has chromium and
# node needs no privileges. Concurrent runs wait for each other.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(cd "${1:-$HERE}" && pwd)
CHROMIUM=${QF_CHROMIUM:-/usr/bin/chromium}
export DEBIAN_FRONTEND=noninteractive CI=1 NO_COLOR=1
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PLAYWRIGHT_BROWSERS_PATH=0
export npm_config_fund=false npm_config_audit=false
export npm_config_update_notifier=false

# One installer at a time: apt and dpkg take locks of their own and fail
# rather than wait, and two test processes may start together.
if [ -z "${QF_PW_INSTALL_LOCKED:-}" ] && command -v flock >/dev/null; then
  export QF_PW_INSTALL_LOCKED=1
  exec flock /tmp/qf-playwright-install.lock sh "$0" "$@"
fi

apt_updated=
apt_install() { # apt_install PACKAGE...
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: $* missing and not root: install it (apt-get install $*)" >&2
    exit 1
  fi
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

node_major() {
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

if [ ! -x "$CHROMIUM" ]; then
  echo "install.sh: installing chromium (for $CHROMIUM)"
  apt_install chromium
fi

if ! command -v npm >/dev/null 2>&1 || [ "$(node_major)" -lt 20 ]; then
  # Debian 12's own nodejs is 18: too old for @playwright/test 1.65.
  echo "install.sh: installing Node.js 20+"
  apt_install nodejs npm
  if [ "$(node_major)" -lt 20 ]; then
    echo "install.sh: Node.js $(node -v 2>/dev/null) is too old; @playwright/test needs >= 20 (e.g. from deb.nodesource.com)" >&2
    exit 1
  fi
fi

if [ ! -f "$DIR/node_modules/@playwright/test/package.json" ]; then
  echo "install.sh: npm ci in $DIR"
  (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
