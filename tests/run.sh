#!/usr/bin/env bash
# The project's whole test run, on a fresh Debian 12 machine or a laptop:
# installs what is missing, starts RabbitMQ and PostgreSQL on loopback,
# builds twice (normal, and ASan+UBSan), and runs every suite (unit and
# integration) in both builds, plus the format and header checks.
# Exits non-zero on any failure. `.ci/run` calls this and nothing else.
#
#   tests/run.sh            everything
#   QF_TEST_LABEL=unit tests/run.sh     only one ctest label
#   QF_TEST_BUILDS=normal tests/run.sh  skip the sanitizer and release builds
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
jobs=$(nproc 2>/dev/null || echo 2)
label=${QF_TEST_LABEL:-}
builds=${QF_TEST_BUILDS:-normal sanitize release}

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
bash deploy/local/install-deps.sh

step "services"
# Assigned first: a failing start stops the script (set -e), which an
# eval of a command substitution would not.
services_env=$(bash deploy/local/services.sh start)
eval "$services_env"
export QF_AMQP_URL QF_DATABASE_URL

configure_and_build() { # dir cmake-args...
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

run_suites() { # dir [ctest args...]
  local args=(--test-dir "$1" --output-on-failure --timeout 900)
  shift
  args+=("$@")
  [ -n "$label" ] && args+=(-L "$label")
  ctest "${args[@]}"
}

for b in $builds; do
  case "$b" in
    normal)
      step "build (normal)"
      configure_and_build build/normal -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQF_WERROR=ON
      cmake --build build/normal --target qf_header_check format-check
      step "tests (normal)"
      run_suites build/normal
      if [ -z "$label" ] || [ "$label" = integration ]; then
        # Workers under kill -9, drains, broker and database restarts and
        # re-sent requests, on servers of its own (tests/chaos/README.md;
        # the long version is run by hand: --long).
        step "chaos (short)"
        bash tests/chaos/run.sh build/normal --short
      fi
      ;;
    sanitize)
      step "build (ASan+UBSan)"
      configure_and_build build/sanitize -DCMAKE_BUILD_TYPE=Debug -DQF_SANITIZE=ON \
        -DQF_WERROR=ON
      step "tests (ASan+UBSan)"
      # test_quickstart builds and runs its own normal build from a clean
      # clone: a second run here would test nothing new.
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_suites build/sanitize -E test_quickstart
      ;;
    release)
      # What a user or a distribution builds: Release (-O3) with gcc and
      # with clang, every target, and no warning (QF_WERROR).
      step "build (Release, gcc)"
      CC=gcc configure_and_build build/release-gcc -DCMAKE_BUILD_TYPE=Release \
        -DQF_WERROR=ON
      step "build (Release, clang)"
      CC=clang configure_and_build build/release-clang \
        -DCMAKE_BUILD_TYPE=Release -DQF_WERROR=ON
      ;;
    *) echo "unknown build '$b'" >&2; exit 64 ;;
  esac
done

step "AsyncAPI contract"
bash deploy/asyncapi/validate.sh

step "deployment files"
bash deploy/check.sh

step "all tests passed"
