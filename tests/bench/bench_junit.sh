#!/usr/bin/env bash
# Benchmark: `qf junit` on a large generated report (default 1,000,000
# testcases, about 110 MB): wall time and peak memory. Not part of the
# test run; speed and memory are measured here, never asserted in tests.
#
#   tests/bench/bench_junit.sh [build/normal/qf] [TESTCASES]
set -euo pipefail
qf=${1:-build/normal/qf}
n=${2:-1000000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 - "$dir/big.xml" "$n" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write('<?xml version="1.0"?>\n<testsuites><testsuite name="big">\n')
    for i in range(n):
        if i % 100 == 0:
            f.write(f'<testcase classname="bench.case" name="t{i}" time="0.001">'
                    f'<failure message="boom">trace {i}</failure></testcase>\n')
        else:
            f.write(f'<testcase classname="bench.case" name="t{i}" time="0.001"/>\n')
    f.write('</testsuite></testsuites>\n')
PY
ls -l "$dir/big.xml" | awk '{printf "report: %.1f MB, %s testcases\n", $5/1e6, '"$n"'}'
/usr/bin/time -f "wall %e s, user %U s, peak RSS %M KB" "$qf" junit --json "$dir/big.xml"
