/* run_pytest against real pytest projects (tests/data/pytest/<suite>,
 * copied into a temporary workspace first): statuses, exit codes, counts
 * and messages; timeouts that leave no process behind; the output cap;
 * the memory limit; the scrubbed environment; runs without a report
 * (pytest missing for the interpreter, a process that dies, exit 0) that
 * are tool errors, not failing tests; and argument refusals that never
 * start a process. Needs Debian's python3 with pytest
 * (QF_PYTHON=/usr/bin/python3, set here unless already set). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/tools.h"
#include "support.h"

/* Defined in common/exec/tool_pytest.c (tools_builtin.c registers it). */
extern const qf_tool_t qf__tool_pytest;

static char root[PATH_MAX], ws[PATH_MAX + 8], tool_dir[PATH_MAX + 32];

static void setup(void) {
  char tmp[PATH_MAX + 16];
  setenv("QF_PYTHON", "/usr/bin/python3", 0);
  cr_assert_not_null(realpath(qf_test_tmpdir(), root));
  snprintf(ws, sizeof ws, "%s/ws", root);
  snprintf(tool_dir, sizeof tool_dir, "%s/tools/run_pytest", root);
  snprintf(tmp, sizeof tmp, "%s/tools", root);
  cr_assert_eq(mkdir(tmp, 0755), 0);
  cr_assert_eq(mkdir(tool_dir, 0755), 0);
}

TestSuite(pytest, .init = setup, .timeout = 60);

static const char *const policy_yaml =
    "sandbox:\n"
    "  memory_limit_mb: 512\n"
    "  env_whitelist: [PATH, HOME, LANG, \"ALLOWED_*\"]\n"
    "artifact_limits:\n"
    "  max_size_mb: 1\n";

static qf_policy_t *policy_from(const char *yaml) {
  qf_policy_t *p = NULL;
  qf_error_t err;
  cr_assert_eq(qf_policy_parse(yaml, strlen(yaml), "test", &p, &err), 0, "%s",
               err.message);
  return p;
}

/* Copies tests/data/<dir> to the workspace. */
static void workspace_from(const char *dir) {
  char src[PATH_MAX + 64];
  qf_test_proc_t p;
  snprintf(src, sizeof src, "%s/tests/data/%s", QF_SOURCE_DIR, dir);
  const char *const argv[] = {"cp", "-R", src, ws, NULL};
  qf_test_run(argv, NULL, 30, &p);
  cr_assert_eq(p.status, 0, "cp: %s", p.err.data ? p.err.data : "");
  qf_test_proc_fini(&p);
}

/* Copies tests/data/pytest/<suite> to the workspace. */
static void workspace(const char *suite) {
  char dir[128];
  snprintf(dir, sizeof dir, "pytest/%s", suite);
  workspace_from(dir);
}

static cJSON *args_of(const char *json) {
  cJSON *a = cJSON_Parse(json);
  cr_assert_not_null(a, "bad JSON in the test: %s", json);
  return a;
}

/* What the pipeline does: validate, and run only what was accepted. */
static int validate_then_run(const char *json, const qf_policy_t *policy,
                             int timeout_s, qf_tool_outcome_t *out,
                             qf_error_t *err) {
  const qf_tool_t *t = qf_tools_find("run_pytest");
  cr_assert_not_null(t);
  cJSON *args = args_of(json);
  int rc = t->validate(args, ws, policy, err);
  if (rc == 0) {
    qf_tool_ctx_t ctx = {.policy = policy,
                         .run_id = "0b6f6f0e-4a3c-5d7e-9f10-1234567890ab",
                         .workspace = ws,
                         .tool_dir = tool_dir,
                         .timeout_s = timeout_s,
                         .args = args};
    rc = t->run(&ctx, out, err);
  }
  cJSON_Delete(args);
  return rc;
}

/* Validates and runs json in the workspace as it is. */
static void run_here(const char *json, int timeout_s, qf_tool_outcome_t *out) {
  qf_policy_t *p = policy_from(policy_yaml);
  qf_error_t err = {0};
  memset(out, 0, sizeof *out);
  int rc = validate_then_run(json, p, timeout_s, out, &err);
  qf_policy_free(p);
  cr_assert_eq(rc, 0, "%s", err.message);
}

static void run_suite(const char *suite, const char *json, int timeout_s,
                      qf_tool_outcome_t *out) {
  workspace(suite);
  run_here(json, timeout_s, out);
}

static char *tool_file(const char *name, char *buf, size_t n) {
  char path[PATH_MAX + 96];
  snprintf(path, sizeof path, "%s/%s", tool_dir, name);
  return qf_test_slurp(path, buf, n);
}

Test(pytest, a_passing_suite_succeeds) {
  qf_tool_outcome_t o;
  run_suite("passing", "{\"test_path\":\"tests\"}", 60, &o);
  cr_expect_eq(o.status, QF_TOOL_SUCCESS, "%s", o.error_message);
  cr_expect(o.has_exit_code && o.exit_code == 0);
  cr_expect_eq(o.steps_total, 3);
  cr_expect_eq(o.steps_passed, 3);
  cr_expect_eq(o.steps_failed, 0);
  cr_expect(o.has_junit);
  cr_expect_eq(o.junit.tests, 3);
  cr_expect_str_eq(o.error_message, "");
  cr_expect_not(o.infra_failure);
  cr_expect_not(o.output_truncated);
  char junit[PATH_MAX + 64];
  struct stat st;
  snprintf(junit, sizeof junit, "%s/junit.xml", tool_dir);
  cr_expect_eq(stat(junit, &st), 0);
}

Test(pytest, failing_tests_are_a_failure_with_counts) {
  qf_tool_outcome_t o;
  run_suite("failing", "{\"test_path\":\"tests\"}", 60, &o);
  cr_expect_eq(o.status, QF_TOOL_FAILED);
  cr_expect_eq(o.exit_code, 1);
  cr_expect_eq(o.steps_total, 4);
  cr_expect_eq(o.steps_failed, 1);
  cr_expect_eq(o.steps_passed, 2);
  cr_expect_eq(o.junit.skipped, 1);
  cr_expect_str_eq(o.error_message,
                   "pytest exited with code 1: 1 of 4 tests failed");
  cr_expect_not(o.infra_failure);
  /* The failing case itself, where its assertion failed. */
  cr_assert_eq(o.failures.n, 1);
  cr_expect_eq(o.failures.total, 1);
  const qf_junit_failure_t *f = &o.failures.items[0];
  cr_expect_str_eq(f->name, "test_fails");
  cr_expect_str_eq(f->suite, "tests.test_mixed");
  cr_expect_str_eq(f->kind, "failure");
  cr_expect(f->message && strstr(f->message, "arithmetic is broken"), "%s",
            f->message ? f->message : "(null)");
  cr_expect_str_eq(f->file ? f->file : "(null)", "tests/test_mixed.py");
  cr_expect_eq(f->line, 13);
  qf_tool_outcome_fini(&o);
  cr_expect_null(o.failures.items);
}

Test(pytest, a_node_id_and_allowed_options_select_tests) {
  qf_tool_outcome_t o;
  run_suite("failing",
            "{\"test_path\":\"tests/test_mixed.py::test_passes\","
            "\"extra_args\":[\"-x\",\"-v\",\"--tb=short\",\"-rfE\"]}",
            60, &o);
  cr_expect_eq(o.status, QF_TOOL_SUCCESS, "%s", o.error_message);
  cr_expect_eq(o.steps_total, 1);
}

Test(pytest, k_expressions_and_markers_are_passed_to_pytest) {
  qf_tool_outcome_t o;
  run_suite("failing",
            "{\"test_path\":\"tests\",\"markers\":\"not slow\","
            "\"extra_args\":[\"-k\",\"passes\",\"-p\",\"no:warnings\"]}",
            60, &o);
  cr_expect_eq(o.status, QF_TOOL_SUCCESS, "%s", o.error_message);
  cr_expect_eq(o.steps_total, 2);
  cr_expect_eq(o.steps_passed, 2);
}

Test(pytest, a_collection_error_reports_pytests_message) {
  qf_tool_outcome_t o;
  run_suite("collect_error", "{\"test_path\":\"tests\"}", 60, &o);
  cr_expect_eq(o.status, QF_TOOL_FAILED);
  cr_expect_eq(o.exit_code, 2);
  cr_expect(strncmp(o.error_message, "pytest exited with code 2: ", 27) == 0,
            "%s", o.error_message);
  cr_expect(strstr(o.error_message, "SyntaxError") != NULL, "%s",
            o.error_message);
  cr_expect(strstr(o.error_message, "1 error during collection") != NULL, "%s",
            o.error_message);
  cr_expect_leq(strlen(o.error_message), QF_EVIDENCE_ERROR_MAX);
  cr_expect_not(o.infra_failure);
  /* The module that did not import, as pytest reports it. */
  cr_assert_eq(o.failures.n, 1);
  cr_expect_str_eq(o.failures.items[0].name, "tests.test_broken");
  cr_expect_str_eq(o.failures.items[0].kind, "error");
  cr_expect_str_eq(o.failures.items[0].message, "collection failure");
  qf_tool_outcome_fini(&o);
}

Test(pytest, no_tests_collected_is_exit_5) {
  qf_tool_outcome_t o;
  run_suite("empty", "{\"test_path\":\"tests\"}", 60, &o);
  cr_expect_eq(o.status, QF_TOOL_FAILED);
  cr_expect_eq(o.exit_code, 5);
  cr_expect_str_eq(o.error_message,
                   "pytest exited with code 5: no tests were collected");
  cr_expect_eq(o.steps_total, 0);
  cr_expect_not(o.infra_failure);
}

Test(pytest, a_usage_error_reports_pytests_message) {
  qf_tool_outcome_t o;
  run_suite("passing", "{\"test_path\":\"tests/test_missing.py\"}", 60, &o);
  cr_expect_eq(o.status, QF_TOOL_FAILED);
  cr_expect_eq(o.exit_code, 4);
  cr_expect(strstr(o.error_message, "test_missing.py") != NULL, "%s",
            o.error_message);
}

static int alive(pid_t pid) {
  return kill(pid, 0) == 0 || errno != ESRCH;
}

Test(pytest, a_hanging_test_times_out_and_leaves_no_process) {
  qf_tool_outcome_t o;
  char buf[128];
  run_suite("hang", "{\"test_path\":\"tests\"}", 2, &o);
  cr_expect_eq(o.status, QF_TOOL_TIMEOUT);
  cr_expect(o.infra_failure);
  cr_expect_str_eq(o.error_message, "pytest timed out after 2s");
  cr_expect_geq(o.duration_ms, 2000);
  cr_expect_lt(o.duration_ms, 4000, "took %lld ms", o.duration_ms);
  int test_pid = 0, child_pid = 0;
  cr_assert_eq(sscanf(tool_file("pids.txt", buf, sizeof buf), "%d %d",
                      &test_pid, &child_pid),
               2);
  cr_expect_not(alive(test_pid), "pytest %d survived", test_pid);
  cr_expect_not(alive(child_pid), "its sleep %d survived", child_pid);
}

Test(pytest, a_flood_of_output_is_capped) {
  qf_tool_outcome_t o;
  char path[PATH_MAX + 64];
  struct stat st;
  run_suite("flood", "{\"test_path\":\"tests\",\"extra_args\":[\"-s\"]}", 60,
            &o);
  cr_expect_eq(o.status, QF_TOOL_SUCCESS, "%s", o.error_message);
  cr_expect(o.output_truncated);
  snprintf(path, sizeof path, "%s/stdout.log", tool_dir);
  cr_assert_eq(stat(path, &st), 0);
  cr_expect_lt(st.st_size, (1 << 20) + 100);
  cr_expect_geq(st.st_size, 1 << 20);
  fprintf(stderr, "run_pytest flood: 100 MiB of stdout in %lld ms\n",
          o.duration_ms);
}

Test(pytest, allocating_past_the_memory_limit_is_a_test_failure) {
  qf_tool_outcome_t o;
  char buf[65536];
  run_suite("memory", "{\"test_path\":\"tests\"}", 60, &o);
  cr_expect_eq(o.status, QF_TOOL_FAILED);
  cr_expect_eq(o.exit_code, 1);
  cr_expect_str_eq(o.error_message,
                   "pytest exited with code 1: 1 of 1 tests failed");
  cr_expect_not(o.infra_failure);
  cr_expect(strstr(tool_file("stdout.log", buf, sizeof buf), "MemoryError"));
  cr_assert_eq(o.failures.n, 1);
  cr_expect_str_eq(o.failures.items[0].name, "test_allocates_2_gib");
  cr_expect(o.failures.items[0].message &&
                strstr(o.failures.items[0].message, "MemoryError"),
            "%s", o.failures.items[0].message);
  cr_expect_str_eq(o.failures.items[0].file, "tests/test_memory.py");
  cr_expect_eq(o.failures.items[0].line, 2);
  qf_tool_outcome_fini(&o);
}

Test(pytest, the_environment_is_scrubbed_to_the_whitelist) {
  qf_tool_outcome_t o;
  char buf[8192];
  setenv("QF_TEST_SECRET", "s3cret", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "hunter2", 1);
  setenv("ALLOWED_X", "visible", 1);
  setenv("QF_DATABASE_URL", "postgresql://qf_worker:hunter2@127.0.0.1/qf", 1);
  setenv("QF_AMQP_URL", "amqp://qf:hunter2@127.0.0.1/", 1);
  setenv("LANG", "C.UTF-8", 1);
  run_suite("env", "{\"test_path\":\"tests\"}", 60, &o);
  cr_expect_eq(o.status, QF_TOOL_SUCCESS, "%s", o.error_message);
  const char *env = tool_file("env.txt", buf, sizeof buf);
  cr_expect_null(strstr(env, "QF_TEST_SECRET"), "%s", env);
  cr_expect_null(strstr(env, "AWS_SECRET_ACCESS_KEY"), "%s", env);
  cr_expect_null(strstr(env, "QF_PYTHON\n"), "%s", env);
  cr_expect_null(strstr(env, "QF_DATABASE_URL"), "%s", env);
  cr_expect_null(strstr(env, "QF_AMQP_URL"), "%s", env);
  cr_expect_not_null(strstr(env, "ALLOWED_X\n"), "%s", env);
  cr_expect_not_null(strstr(env, "LANG\n"), "%s", env);
  cr_expect_not_null(strstr(env, "QF_ARTIFACT_DIR\n"), "%s", env);
}

Test(pytest, a_fifo_left_as_the_report_fails_the_call_without_blocking,
     .timeout = 30) {
  qf_tool_outcome_t o;
  run_suite("fifo", "{\"test_path\":\"tests\"}", 20, &o);
  cr_expect_eq(o.status, QF_TOOL_FAILED, "%s", o.error_message);
  cr_expect_not(o.has_junit);
  cr_expect_not(o.infra_failure, "a test's doing: never retried");
  cr_expect(strstr(o.error_message, "JUnit report cannot be used") != NULL &&
                strstr(o.error_message, "FIFO") != NULL,
            "%s", o.error_message);
}

Test(pytest, an_interpreter_that_cannot_start_is_an_infra_failure) {
  qf_tool_outcome_t o;
  setenv("QF_PYTHON", "/nonexistent/python3", 1);
  run_suite("passing", "{\"test_path\":\"tests\"}", 60, &o);
  cr_expect_eq(o.status, QF_TOOL_FAILED);
  cr_expect(o.infra_failure);
  cr_expect_not(o.has_exit_code);
  cr_expect_str_eq(o.error_message,
                   "pytest could not start: No such file or directory");
}

/* ------------------------------------------- no report, no verdict */

/* A python3 in dir (made here) that cannot import pytest: Debian's
 * interpreter isolated (-I) and without site (-S), so dist-packages,
 * where python3-pytest lives, is not on sys.path. */
static void python_without_pytest(const char *dir, char *shim, size_t n) {
  FILE *f;
  mkdir(dir, 0755);
  snprintf(shim, n, "%s/python3", dir);
  cr_assert_not_null(f = fopen(shim, "w"));
  fputs("#!/bin/sh\nexec /usr/bin/python3 -I -S \"$@\"\n", f);
  cr_assert_eq(fclose(f), 0);
  cr_assert_eq(chmod(shim, 0755), 0);
}

static void expect_no_verdict(const qf_tool_outcome_t *o) {
  cr_expect_eq(o->status, QF_TOOL_FAILED);
  cr_expect_not(o->infra_failure, "a retry would not help");
  cr_expect_not(o->has_junit);
  cr_expect_eq(o->steps_total, 0);
  cr_expect_eq(o->failures.n, 0);
  cr_expect_null(strstr(o->error_message, "tests failed"), "%s",
                 o->error_message);
  cr_expect_leq(strlen(o->error_message), QF_EVIDENCE_ERROR_MAX);
}

Test(pytest, pytest_missing_for_the_interpreter_is_a_tool_error) {
  qf_tool_outcome_t o;
  char dir[PATH_MAX + 16], shim[PATH_MAX + 32], want[PATH_MAX + 64];
  snprintf(dir, sizeof dir, "%s/nopytest", root);
  python_without_pytest(dir, shim, sizeof shim);
  setenv("QF_PYTHON", shim, 1);
  run_suite("passing", "{\"test_path\":\"tests\"}", 60, &o);
  expect_no_verdict(&o);
  cr_expect(o.has_exit_code && o.exit_code == 1);
  snprintf(want, sizeof want, "pytest is not installed for %s", shim);
  cr_expect_str_eq(o.error_message, want);
}

Test(pytest, a_bare_interpreter_name_is_named_as_found_on_path) {
  qf_tool_outcome_t o;
  char dir[PATH_MAX + 16], shim[PATH_MAX + 32], want[PATH_MAX + 64];
  char path[8192];
  const char *old = getenv("PATH");
  snprintf(dir, sizeof dir, "%s/nopytest", root);
  python_without_pytest(dir, shim, sizeof shim);
  snprintf(path, sizeof path, "%s:%s", dir, old ? old : "/usr/bin:/bin");
  setenv("PATH", path, 1);
  setenv("QF_PYTHON", "python3", 1);
  run_suite("passing", "{\"test_path\":\"tests\"}", 60, &o);
  expect_no_verdict(&o);
  snprintf(want, sizeof want, "pytest is not installed for %s", shim);
  cr_expect_str_eq(o.error_message, want);
}

Test(pytest, exit_1_without_a_report_says_the_report_is_missing) {
  qf_tool_outcome_t o;
  workspace_from("tools_truth/pytest_exits_early");
  run_here("{\"test_path\":\"tests\",\"extra_args\":[\"-s\"]}", 60, &o);
  expect_no_verdict(&o);
  cr_expect(o.has_exit_code && o.exit_code == 1);
  cr_expect_str_eq(o.error_message,
                   "pytest exited with code 1 without writing a JUnit report: "
                   "test_exit: giving up before the report");
}

Test(pytest, exit_0_without_a_report_is_no_pass) {
  qf_tool_outcome_t o;
  workspace_from("tools_truth/pytest_passes_without_report");
  run_here("{\"test_path\":\"tests\"}", 60, &o);
  expect_no_verdict(&o);
  cr_expect(o.has_exit_code && o.exit_code == 0);
  cr_expect_str_eq(o.error_message,
                   "pytest exited 0 but wrote no JUnit report");
}

/* ------------------------------------------------------------ refusals */

static int dir_entries(const char *path) {
  DIR *d = opendir(path);
  struct dirent *e;
  int n = 0;
  cr_assert_not_null(d);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* Refused: the message, and nothing ran (the env suite writes env.txt
 * into the tool directory whenever pytest runs). */
static void expect_refused(const char *json, const char *message) {
  qf_policy_t *p = policy_from(policy_yaml);
  qf_tool_outcome_t o;
  qf_error_t err = {0};
  int rc = validate_then_run(json, p, 60, &o, &err);
  qf_policy_free(p);
  cr_expect_eq(rc, QF_EVALIDATE, "%s accepted", json);
  cr_expect(strstr(err.message, message) != NULL, "%s: got '%s', want '%s'",
            json, err.message, message);
  cr_expect_eq(dir_entries(tool_dir), 0, "%s: something ran", json);
}

Test(pytest, refuses_paths_outside_the_rule_or_the_workspace) {
  char link[PATH_MAX + 64];
  workspace("env");
  snprintf(link, sizeof link, "%s/tests/link", ws);
  cr_assert_eq(symlink("/", link), 0);
  expect_refused("{\"test_path\":\"../x\"}", "test_path: invalid '../x'");
  expect_refused("{\"test_path\":\"/abs/tests\"}", "test_path: invalid");
  expect_refused("{\"test_path\":\"tests/../../etc\"}", "test_path: invalid");
  expect_refused("{\"test_path\":\"tests/link/etc\"}",
                 "test_path: 'tests/link/etc' resolves outside the workspace");
  expect_refused("{\"test_path\":\"tests/link::x\"}",
                 "resolves outside the workspace");
  expect_refused("{\"test_path\":\"src/x.py\"}", "test_path: invalid");
  expect_refused("{\"test_path\":\"-p\"}", "test_path: invalid");
  expect_refused("{\"test_path\":\"\"}", "test_path: required");
  expect_refused("{}", "test_path: required");
  expect_refused("{\"test_path\":7}", "test_path: required");
}

Test(pytest, refuses_options_that_load_code_or_files) {
  workspace("env");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"--rootdir=/\"]}",
                 "extra_args[0]: '--rootdir=/' is not allowed");
  expect_refused(
      "{\"test_path\":\"tests\",\"extra_args\":[\"-v\",\"-p\",\"xdist\"]}",
      "extra_args[1]: '-p' is not allowed (loads plugins)");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"-pxdist\"]}",
                 "extra_args[0]: '-p' is not allowed (loads plugins)");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"-p\"]}",
                 "extra_args[0]: '-p' is not allowed (loads plugins)");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"-c\",\"x.ini\"]}",
                 "extra_args[0]: '-c' is not allowed");
  expect_refused(
      "{\"test_path\":\"tests\",\"extra_args\":[\"-o\",\"addopts=-p x\"]}",
      "extra_args[0]: '-o' is not allowed (overrides the configuration)");
  expect_refused(
      "{\"test_path\":\"tests\",\"extra_args\":[\"-x\",\"tests/other\"]}",
      "extra_args[1]: positional argument 'tests/other' is not allowed");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"--pyargs\"]}",
                 "'--pyargs' is not allowed (imports installed packages)");
  expect_refused(
      "{\"test_path\":\"tests\",\"extra_args\":[\"--junitxml=/tmp/x\"]}",
      "'--junitxml=/tmp/x' is not allowed");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"--basetemp=/\"]}",
                 "'--basetemp=/' is not allowed");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"--lf\"]}",
                 "'--lf' is not in the allowlist");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"--root=/\"]}",
                 "'--root=/' is not in the allowlist");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"-k\"]}",
                 "extra_args[0]: '-k' needs a valid value");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"--tb=evil\"]}",
                 "'--tb' needs a valid value");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":\"-x\"}",
                 "extra_args: must be a list");
  expect_refused("{\"test_path\":\"tests\",\"extra_args\":[\"--\"]}",
                 "extra_args[0]");
}

Test(pytest, refuses_unknown_keys_working_dir_and_bad_markers) {
  workspace("env");
  expect_refused("{\"test_path\":\"tests\",\"foo\":1}",
                 "foo: unknown argument");
  expect_refused("{\"test_path\":\"tests\",\"working_dir\":\"/\"}",
                 "working_dir: not supported");
  expect_refused("{\"test_path\":\"tests\",\"markers\":\"-p evil\"}",
                 "markers:");
  expect_refused("[\"tests\"]", "args: must be an object");
}

Test(pytest, the_policy_allowed_paths_apply) {
  qf_policy_t *p = policy_from("sandbox:\n  allowed_paths: [test/]\n");
  qf_error_t err = {0};
  workspace("env");
  cJSON *a = args_of("{\"test_path\":\"tests\"}");
  cr_expect_eq(qf__tool_pytest.validate(a, ws, p, &err), QF_EVALIDATE);
  cr_expect(strstr(err.message, "outside sandbox.allowed_paths"), "%s",
            err.message);
  cJSON_Delete(a);
  qf_policy_free(p);
}

Test(pytest, accepts_the_allowlisted_options) {
  qf_policy_t *p = policy_from(policy_yaml);
  qf_error_t err = {0};
  workspace("env");
  cJSON *a = args_of(
      "{\"test_path\":\"./tests/test_env.py::test_x[a-b]\",\"markers\":"
      "\"smoke and not slow\",\"extra_args\":[\"-x\",\"-xvs\",\"-q\","
      "\"--exitfirst\",\"-kfoo\",\"-k=bar\",\"-k\",\"a and not b\","
      "\"--maxfail=2\",\"--maxfail\",\"3\",\"--tb=no\",\"-r\",\"fE\","
      "\"--strict-markers\",\"--durations=5\",\"-p\",\"no:cacheprovider\","
      "\"-pno:warnings\"]}");
  cr_expect_eq(qf__tool_pytest.validate(a, ws, p, &err), 0, "%s", err.message);
  cJSON_Delete(a);
  qf_policy_free(p);
}
