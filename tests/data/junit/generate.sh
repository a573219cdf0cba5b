#!/bin/sh
# generate.sh: regenerates the JUnit fixtures in this directory by running
# the real test tools on tiny sample projects built under a temporary
# directory. Run as root on Debian 12 (it installs what is missing with
# apt-get and npm). Usage: tests/data/junit/generate.sh [TOOL...]
# where TOOL is pytest, ctest, gtest, jest, mocha, vitest, playwright or
# phpunit (default: all). Each report is copied as the tool wrote it.
# Tool versions go to versions.txt; expected counts live in expected.txt
# (maintained by hand, checked by tests/test_junit.c).
set -eu

OUT=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/qf-junit-gen.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PY=/usr/bin/python3
export DEBIAN_FRONTEND=noninteractive CI=1 NO_COLOR=1
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

apt_need() { # apt_need PROGRAM-OR-FILE PACKAGE...
  [ -e "$1" ] || command -v "$1" >/dev/null 2>&1 && return 0
  shift
  apt-get install -y --no-install-recommends "$@" >/dev/null
}

version() { # version TOOL TEXT
  grep -v "^$1 " "$OUT/versions.txt" 2>/dev/null >"$WORK/v" || true
  printf '%s %s\n' "$1" "$2" >>"$WORK/v"
  sort "$WORK/v" >"$OUT/versions.txt"
}

put() { # put TOOL SRC NAME: copies a report unchanged
  mkdir -p "$OUT/$1"
  cp "$2" "$OUT/$1/$3"
  echo "wrote $1/$3 ($(wc -c <"$2") bytes)"
}

gen_pytest() {
  apt_need /usr/lib/python3/dist-packages/pytest python3-pytest
  d=$WORK/pytest && mkdir -p "$d"
  cat >"$d/test_sample.py" <<'PY'
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("fixture setup failed")


def test_adds():
    assert 1 + 1 == 2


def test_concat():
    assert "a" + "b" == "ab"


def test_fails():
    assert 1 == 2, "one is not two"


def test_fixture_error(broken):
    pass


@pytest.mark.skip(reason="not on this platform")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


@pytest.mark.xfail(reason="maybe fixed")
def test_xpass():
    pass
PY
  for fam in xunit1 xunit2; do
    (cd "$d" && PYTHONDONTWRITEBYTECODE=1 $PY -m pytest -p no:cacheprovider \
      -q --junitxml="$d/$fam.xml" -o junit_family=$fam test_sample.py) || true
    put pytest "$d/$fam.xml" "$fam.xml"
  done
  version pytest "$($PY -m pytest --version 2>&1 | head -1)"
}

gen_ctest() {
  apt_need ctest cmake
  d=$WORK/ctest && mkdir -p "$d/src"
  cat >"$d/src/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(sample NONE)
enable_testing()
add_test(NAME passes COMMAND ${CMAKE_COMMAND} -E true)
add_test(NAME passes_too COMMAND ${CMAKE_COMMAND} -E echo hello)
add_test(NAME fails COMMAND ${CMAKE_COMMAND} -E false)
add_test(NAME disabled COMMAND ${CMAKE_COMMAND} -E true)
set_tests_properties(disabled PROPERTIES DISABLED TRUE)
add_test(NAME skips COMMAND sh -c "exit 77")
set_tests_properties(skips PROPERTIES SKIP_RETURN_CODE 77)
CM
  cmake -S "$d/src" -B "$d/build" >/dev/null
  (cd "$d/build" && ctest --output-junit junit.xml) || true
  put ctest "$d/build/junit.xml" junit.xml
  version ctest "$(ctest --version | head -1)"
}

gen_gtest() {
  apt_need /usr/include/gtest/gtest.h libgtest-dev googletest
  apt_need g++ g++
  d=$WORK/gtest && mkdir -p "$d"
  cat >"$d/sample_test.cc" <<'CC'
#include <gtest/gtest.h>

TEST(Math, Adds) { EXPECT_EQ(2, 1 + 1); }
TEST(Math, Fails) { EXPECT_EQ(3, 1 + 1) << "arithmetic is broken"; }
TEST(Math, Skips) { GTEST_SKIP() << "not on this platform"; }
TEST(Math, DISABLED_Off) { EXPECT_TRUE(false); }
TEST(Strings, Concat) { EXPECT_EQ(std::string("ab"), std::string("a") + "b"); }
CC
  g++ -std=c++17 -o "$d/sample_test" "$d/sample_test.cc" -lgtest -lgtest_main \
    -pthread
  "$d/sample_test" --gtest_output="xml:$d/report.xml" || true
  put gtest "$d/report.xml" report.xml
  version googletest "$(dpkg-query -W -f '${Version}' libgtest-dev)"
}

npm_project() { # npm_project DIR PACKAGE...
  mkdir -p "$1"
  (cd "$1" && npm init -y >/dev/null && shift && npm install --no-save \
    --silent "$@" >/dev/null)
}

npm_version() { # npm_version DIR PACKAGE
  node -p "require('$1/node_modules/$2/package.json').version"
}

gen_jest() {
  d=$WORK/jest && npm_project "$d" jest jest-junit
  cat >"$d/sample.test.js" <<'JS'
describe('math', () => {
  test('adds', () => { expect(1 + 1).toBe(2); });
  test('fails', () => { expect(1 + 1).toBe(3); });
  test.skip('skipped', () => {});
  test.todo('to do later');
});
test('top level passes', () => { expect('a' + 'b').toBe('ab'); });
JS
  (cd "$d" && JEST_JUNIT_OUTPUT_DIR="$d" JEST_JUNIT_OUTPUT_NAME=junit.xml \
    npx jest --ci --reporters=default --reporters=jest-junit) || true
  put jest "$d/junit.xml" junit.xml
  version jest "$(npm_version "$d" jest) jest-junit $(npm_version "$d" jest-junit)"
}

gen_mocha() {
  d=$WORK/mocha && npm_project "$d" mocha@10 mocha-junit-reporter
  mkdir -p "$d/test"
  cat >"$d/test/sample.spec.js" <<'JS'
const assert = require('assert');
describe('math', function () {
  it('adds', function () { assert.strictEqual(1 + 1, 2); });
  it('fails', function () { assert.strictEqual(1 + 1, 3); });
  it.skip('skipped', function () {});
  describe('nested', function () {
    it('passes deeper', function () { assert.ok(true); });
  });
});
JS
  (cd "$d" && npx mocha --reporter mocha-junit-reporter \
    --reporter-options "mochaFile=$d/junit.xml") || true
  put mocha "$d/junit.xml" junit.xml
  # By default pending tests are left out of the report; includePending
  # writes them as <testcase> with <skipped/>.
  (cd "$d" && npx mocha --reporter mocha-junit-reporter \
    --reporter-options "mochaFile=$d/pending.xml,includePending=true") || true
  put mocha "$d/pending.xml" junit-pending.xml
  version mocha "$(npm_version "$d" mocha) mocha-junit-reporter $(npm_version "$d" mocha-junit-reporter)"
}

gen_vitest() {
  d=$WORK/vitest && npm_project "$d" vitest@3 vite@7
  cat >"$d/sample.test.js" <<'JS'
import { describe, expect, test } from 'vitest';
describe('math', () => {
  test('adds', () => { expect(1 + 1).toBe(2); });
  test('fails', () => { expect(1 + 1).toBe(3); });
  test.skip('skipped', () => {});
  test.todo('to do later');
});
test('top level passes', () => { expect('a' + 'b').toBe('ab'); });
JS
  (cd "$d" && npx vitest run --reporter=junit --outputFile="$d/junit.xml") ||
    true
  put vitest "$d/junit.xml" junit.xml
  version vitest "$(npm_version "$d" vitest) vite $(npm_version "$d" vite)"
}

gen_playwright() {
  apt_need chromium chromium
  d=$WORK/playwright
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_project "$d" @playwright/test
  cat >"$d/playwright.config.js" <<'JS'
const { defineConfig } = require('@playwright/test');
module.exports = defineConfig({
  testDir: '.',
  retries: 0,
  workers: 1,
  timeout: 15000,
  expect: { timeout: 1000 },
  reporter: [['junit', { outputFile: process.env.QF_JUNIT_OUT }]],
  use: {
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu',
             '--disable-background-networking', '--disable-component-update',
             '--disable-sync'],
    },
  },
});
JS
  cat >"$d/sample.spec.js" <<'JS'
const { test, expect } = require('@playwright/test');
const page1 = 'data:text/html,<title>Sample</title><h1>Hello</h1>';
test('title is Sample', async ({ page }) => {
  await page.goto(page1);
  await expect(page).toHaveTitle('Sample');
});
test('heading says Hello', async ({ page }) => {
  await page.goto(page1);
  await expect(page.locator('h1')).toHaveText('Hello');
});
test('heading says Goodbye (fails)', async ({ page }) => {
  await page.goto(page1);
  await expect(page.locator('h1')).toHaveText('Goodbye');
});
test.skip('skipped', async () => {});
test.fixme('fixme', async () => {});
JS
  (cd "$d" && QF_JUNIT_OUT="$d/junit.xml" npx playwright test) || true
  put playwright "$d/junit.xml" junit.xml
  version playwright "$(npm_version "$d" @playwright/test) chromium $(chromium --version 2>/dev/null | awk '{print $2}')"
}

gen_phpunit() {
  apt_need phpunit phpunit
  d=$WORK/phpunit && mkdir -p "$d/tests/Unit" "$d/tests/Other"
  cat >"$d/phpunit.xml" <<'XML'
<?xml version="1.0"?>
<phpunit colors="false" cacheResult="false">
  <testsuites>
    <testsuite name="unit"><directory>tests/Unit</directory></testsuite>
    <testsuite name="other"><directory>tests/Other</directory></testsuite>
  </testsuites>
</phpunit>
XML
  cat >"$d/tests/Unit/MathTest.php" <<'PHP'
<?php
use PHPUnit\Framework\TestCase;

final class MathTest extends TestCase
{
    public function testAdds(): void { $this->assertSame(2, 1 + 1); }
    public function testFails(): void { $this->assertSame(3, 1 + 1); }
    public function testErrors(): void { throw new RuntimeException('boom'); }
    public function testSkipped(): void { $this->markTestSkipped('not here'); }
    public function testIncomplete(): void { $this->markTestIncomplete('later'); }

    /** @dataProvider pairs */
    public function testSums(int $a, int $b, int $sum): void
    {
        $this->assertSame($sum, $a + $b);
    }

    public function pairs(): array
    {
        return ['small' => [1, 1, 2], 'large' => [20, 22, 42], 'wrong' => [1, 2, 4]];
    }
}
PHP
  cat >"$d/tests/Other/StringTest.php" <<'PHP'
<?php
use PHPUnit\Framework\TestCase;

final class StringTest extends TestCase
{
    public function testConcat(): void { $this->assertSame('ab', 'a' . 'b'); }
}
PHP
  (cd "$d" && phpunit --log-junit "$d/junit.xml") || true
  put phpunit "$d/junit.xml" junit.xml
  version phpunit "$(phpunit --version | head -1)"
}

tools=${*:-pytest ctest gtest jest mocha vitest playwright phpunit}
for t in $tools; do
  echo "== $t"
  "gen_$t"
done
