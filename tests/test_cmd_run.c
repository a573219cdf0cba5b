/* qf run end to end: real pytest on examples/demo, through the whole
 * pipeline, for PASS, FAIL, NEED_HITL and dry runs; every evidence
 * document checked against the schema. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

static char root[128], arts[128];
static char env_root[256], env_python[] = "QF_PYTHON=/usr/bin/python3";

/* A fresh copy of examples/demo under a temporary workspace root, so runs
 * never write into the repository. */
static void setup(void) {
  snprintf(root, sizeof root, "%s", qf_test_tmpdir());
  snprintf(arts, sizeof arts, "%s", qf_test_tmpdir());
  snprintf(env_root, sizeof env_root, "QF_WORKSPACE_ROOT=%s", root);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cp -r %s/examples/demo %s/demo", QF_SOURCE_DIR,
           root);
  qf_test_proc_t p;
  qf_test_run((const char *[]){"sh", "-c", cmd, NULL}, NULL, 30, &p);
  cr_assert_eq(p.status, 0, "%s", p.err.data);
  qf_test_proc_fini(&p);
}

TestSuite(cmd_run, .init = setup, .timeout = 120);

static cJSON *qf_run(const char *nl, const char *test_path, const char *extra,
                     int want_exit) {
  char arg[256];
  snprintf(arg, sizeof arg, "test_path=%s", test_path);
  const char *argv[] = {QF_TEST_BIN,   "run",
                        "--nl",        nl,
                        "--arg",       arg,
                        "--workspace", "demo",
                        "--policy",    QF_SOURCE_DIR "/policy/default.yaml",
                        "--artifacts", arts,
                        "--json",      extra,
                        NULL};
  const char *env[] = {env_root, env_python, NULL};
  qf_test_proc_t p;
  qf_test_run(argv, env, 100, &p);
  cr_assert_eq(p.status, want_exit, "exit %d, want %d\nstdout: %s\nstderr: %s",
               p.status, want_exit, p.out.data, p.err.data);
  cJSON *msg = cJSON_Parse(p.out.data);
  cr_assert_not_null(msg, "not JSON: %s", p.out.data);
  qf_test_proc_fini(&p);
  const cJSON *path = cJSON_GetObjectItem(msg, "evidence_path");
  cr_assert(cJSON_IsString(path));
  qf_test_assert_evidence_valid(path->valuestring);
  return msg;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  cr_assert(cJSON_IsString(v), "%s is not a string", k);
  return v->valuestring;
}

static const char *rule0(const cJSON *m) {
  const cJSON *r =
      cJSON_GetArrayItem(cJSON_GetObjectItem(m, "triggered_rules"), 0);
  cr_assert(cJSON_IsString(r));
  return r->valuestring;
}

static double summary(const cJSON *m, const char *k) {
  return cJSON_GetObjectItem(cJSON_GetObjectItem(m, "summary"), k)->valuedouble;
}

/* The run's evidence document, parsed. */
static cJSON *evidence_of(const cJSON *m) {
  FILE *f = fopen(str(m, "evidence_path"), "r");
  cr_assert_not_null(f);
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  cJSON *ev = cJSON_Parse(buf);
  cr_assert_not_null(ev);
  return ev;
}

Test(cmd_run, passing_suite_passes_with_its_junit_report_as_evidence) {
  cJSON *m = qf_run("run the login tests", "tests/passing", NULL, 0);
  cr_expect_str_eq(str(m, "decision"), "PASS");
  cr_expect_str_eq(rule0(m), "junit_all_passed");
  cr_expect_eq(summary(m, "tests"), 3);
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(m, "final")));
  cr_expect_str_eq(str(m, "decided_by"), "gate");
  cr_expect_eq(strlen(str(m, "policy_hash")), 64);
  cJSON *ev = evidence_of(m);
  const cJSON *a;
  int junit = 0, logs = 0;
  cJSON_ArrayForEach(a, cJSON_GetObjectItem(ev, "artifacts")) {
    junit += strcmp(str(a, "type"), "junit_xml") == 0;
    logs += strcmp(str(a, "type"), "stdout") == 0;
    cr_expect_eq(strlen(str(a, "sha256")), 64);
  }
  cr_expect_eq(junit, 1, "the report is an artifact");
  cr_expect_eq(logs, 1, "so is the captured stdout");
  const cJSON *call =
      cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "tool_calls"), 0);
  cr_expect_str_eq(str(call, "status"), "success");
  cr_expect_eq(cJSON_GetObjectItem(call, "exit_code")->valueint, 0);
  cr_expect_eq(cJSON_GetObjectItem(call, "attempts")->valueint, 1);
  cJSON_Delete(ev);
  cJSON_Delete(m);
}

Test(cmd_run, failing_suite_fails) {
  cJSON *m = qf_run("run the cart tests", "tests/failing", NULL, 1);
  cr_expect_str_eq(str(m, "decision"), "FAIL");
  cr_expect_str_eq(rule0(m), "junit_has_failures");
  cr_expect_not_null(strstr(str(m, "reason"), "1 of 3 tests failed"), "%s",
                     str(m, "reason"));
  cr_expect_eq(summary(m, "failures"), 1);
  cJSON_Delete(m);
}

Test(cmd_run, high_risk_request_needs_a_human_even_when_tests_pass) {
  cJSON *m = qf_run("smoke test production login", "tests/passing", NULL, 2);
  cr_expect_str_eq(str(m, "decision"), "NEED_HITL");
  cr_expect_str_eq(rule0(m), "high_risk_keyword:production");
  cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(m, "final")));
  cr_expect_eq(summary(m, "tests"), 3, "the tool ran (after_execute)");
  cJSON_Delete(m);
}

Test(cmd_run, dry_run_runs_nothing) {
  cJSON *m = qf_run("run the cart tests", "tests/failing", "--dry-run", 0);
  cr_expect_str_eq(str(m, "decision"), "PASS");
  cr_expect_str_eq(rule0(m), "dry_run");
  cJSON *ev = evidence_of(m);
  const cJSON *call =
      cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "tool_calls"), 0);
  cr_expect_str_eq(str(call, "status"), "skipped");
  cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(ev, "artifacts")), 0);
  cJSON_Delete(ev);
  cJSON_Delete(m);
}

Test(cmd_run, a_dry_run_never_passes_what_the_plan_refused) {
  /* An argument out of the workspace, in a dry run: the refusal wins. */
  cJSON *m = qf_run("run the tests", "/etc", "--dry-run", 1);
  cr_expect_str_eq(str(m, "decision"), "FAIL");
  cr_expect_str_eq(rule0(m), "tool_execution_failed");
  cr_expect_not_null(strstr(str(m, "reason"), "test_path"), "%s",
                     str(m, "reason"));
  cJSON_Delete(m);
}

Test(cmd_run, rejected_arguments_fail_without_running) {
  cJSON *m = qf_run("run the tests", "../../etc", NULL, 1);
  cr_expect_str_eq(rule0(m), "tool_execution_failed");
  cr_expect_not_null(strstr(str(m, "reason"), "test_path"), "%s",
                     str(m, "reason"));
  cJSON *ev = evidence_of(m);
  cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(ev, "artifacts")), 0,
               "nothing ran, so nothing was left behind");
  cJSON_Delete(ev);
  cJSON_Delete(m);
}

Test(cmd_run, invalid_requests_exit_65_or_64) {
  qf_test_proc_t p;
  const char *env[] = {env_root, env_python, NULL};
  qf_test_run((const char *[]){QF_TEST_BIN, "run", "--nl", "x", "--workspace",
                               "/etc", "--artifacts", arts, NULL},
              env, 30, &p);
  cr_expect_eq(p.status, 65, "%s", p.err.data);
  cr_expect_not_null(strstr(p.err.data, "workspace"), "%s", p.err.data);
  qf_test_proc_fini(&p);
  qf_test_run((const char *[]){QF_TEST_BIN, "run", "--nl", "", NULL}, env, 30,
              &p);
  cr_expect_eq(p.status, 65, "%s", p.err.data);
  cr_expect_not_null(strstr(p.err.data, "nl_input"), "%s", p.err.data);
  qf_test_proc_fini(&p);
  qf_test_run(
      (const char *[]){QF_TEST_BIN, "run", "--nl", "x", "--timeout", "0", NULL},
      env, 30, &p);
  cr_expect_eq(p.status, 64);
  qf_test_proc_fini(&p);
  qf_test_run(
      (const char *[]){QF_TEST_BIN, "run", "--tool", "run_pytest", NULL}, env,
      30, &p);
  cr_expect_eq(p.status, 64);
  cr_expect_not_null(strstr(p.err.data, "--nl is required"));
  qf_test_proc_fini(&p);
}

/* Ctrl-C while a test hangs (and its own child sleeps too): qf stops the
 * tool's whole process group, exits 3, and leaves no process behind. */
Test(cmd_run, interrupt_stops_the_whole_tool_group) {
  char hang[512], marker[256];
  snprintf(hang, sizeof hang, "%s/demo/tests/hang", root);
  cr_assert_eq(mkdir(hang, 0755), 0);
  snprintf(marker, sizeof marker, "qf-run-int-%ld", (long)getpid());
  char test[1024];
  snprintf(test, sizeof test,
           "import subprocess, time\n"
           "def test_hang():\n"
           "    subprocess.Popen(['sleep', '300', '%s'])\n"
           "    time.sleep(300)\n",
           marker);
  char path[600];
  snprintf(path, sizeof path, "%s/test_hang.py", hang);
  FILE *f = fopen(path, "w");
  fputs(test, f);
  fclose(f);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    setenv("QF_WORKSPACE_ROOT", root, 1);
    setenv("QF_PYTHON", "/usr/bin/python3", 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(QF_TEST_BIN, "qf", "run", "--nl", "run it", "--arg",
          "test_path=tests/hang", "--workspace", "demo", "--artifacts", arts,
          "--policy", QF_SOURCE_DIR "/policy/default.yaml", (char *)NULL);
    _exit(127);
  }
  sleep(3); /* pytest has started and spawned its sleeper */
  kill(pid, SIGINT);
  int st = 0;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %d", st);
  char cmd[512];
  /* "[q]f-..." matches the sleeper but not this shell's own command line. */
  snprintf(cmd, sizeof cmd, "pgrep -f '[q]%s'", marker + 1);
  qf_test_proc_t p;
  qf_test_run((const char *[]){"sh", "-c", cmd, NULL}, NULL, 10, &p);
  cr_expect_neq(p.status, 0, "the sleeper is gone: %s", p.out.data);
  qf_test_proc_fini(&p);
}

/* Runs qf run with a policy given as YAML text; returns the evidence. */
static cJSON *run_with_policy(const char *yaml, const char *test_path,
                              int want_exit) {
  char policy[256], arg[128];
  snprintf(policy, sizeof policy, "%s/policy.yaml", root);
  FILE *f = fopen(policy, "w");
  cr_assert_not_null(f);
  fputs(yaml, f);
  fclose(f);
  snprintf(arg, sizeof arg, "test_path=%s", test_path);
  const char *argv[] = {QF_TEST_BIN, "run",  "--nl",        "run it",
                        "--arg",     arg,    "--workspace", "demo",
                        "--policy",  policy, "--artifacts", arts,
                        "--json",    NULL};
  const char *env[] = {env_root, env_python, NULL};
  qf_test_proc_t p;
  qf_test_run(argv, env, 100, &p);
  cr_assert_eq(p.status, want_exit, "exit %d\nstdout: %s\nstderr: %s", p.status,
               p.out.data, p.err.data);
  cJSON *m = cJSON_Parse(p.out.data);
  qf_test_proc_fini(&p);
  cr_assert_not_null(m);
  qf_test_assert_evidence_valid(str(m, "evidence_path"));
  cJSON *ev = evidence_of(m);
  cJSON_Delete(m);
  return ev;
}

static int call_int(const cJSON *ev, const char *k) {
  const cJSON *call =
      cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "tool_calls"), 0);
  return cJSON_GetObjectItem(call, k)->valueint;
}

Test(cmd_run, a_timeout_is_retried_up_to_max_retries) {
  char hang[512], path[600];
  snprintf(hang, sizeof hang, "%s/demo/tests/slow", root);
  cr_assert_eq(mkdir(hang, 0755), 0);
  snprintf(path, sizeof path, "%s/test_slow.py", hang);
  FILE *f = fopen(path, "w");
  fputs("import time\ndef test_slow():\n    time.sleep(60)\n", f);
  fclose(f);
  cJSON *ev = run_with_policy(
      "cost_governance: {timeout_s: 2, max_retries: 1}\n", "tests/slow", 1);
  const cJSON *call =
      cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "tool_calls"), 0);
  cr_expect_str_eq(str(call, "status"), "timeout");
  cr_expect_eq(call_int(ev, "attempts"), 2);
  cr_expect_eq(call_int(ev, "retries_used"), 1);
  const cJSON *g = cJSON_GetObjectItem(ev, "governance");
  const cJSON *b = cJSON_GetObjectItem(g, "budget");
  cr_expect_eq(cJSON_GetObjectItem(b, "attempts_total")->valueint, 2);
  cr_expect_eq(cJSON_GetObjectItem(b, "retries_used_total")->valueint, 1);
  cr_expect_geq(cJSON_GetObjectItem(b, "elapsed_ms_total")->valueint, 4000,
                "both attempts count");
  cJSON_Delete(ev);
}

Test(cmd_run, failing_tests_are_never_retried) {
  cJSON *ev = run_with_policy("cost_governance: {max_retries: 3}\n",
                              "tests/failing", 1);
  cr_expect_eq(call_int(ev, "attempts"), 1);
  cr_expect_eq(call_int(ev, "retries_used"), 0);
  cJSON_Delete(ev);
}

/* Two real specs in Debian's Chromium through the whole pipeline: the
 * evidence has the JUnit counts and the screenshots. */
Test(cmd_run, playwright_specs_run_in_chromium, .timeout = 600) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "cp -r %s/tests/data/playwright %s/pw && rm -rf %s/pw/node_modules "
           "&& sh %s/pw/install.sh %s/pw",
           QF_SOURCE_DIR, root, root, root, root);
  qf_test_proc_t p;
  qf_test_run((const char *[]){"sh", "-c", cmd, NULL}, NULL, 500, &p);
  cr_assert_eq(p.status, 0, "install: %s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);
  const char *argv[] = {QF_TEST_BIN,   "run",
                        "--nl",        "run the e2e browser tests",
                        "--tool",      "run_playwright",
                        "--arg",       "config=tests/e2e/playwright.config.js",
                        "--workspace", "pw",
                        "--policy",    QF_SOURCE_DIR "/policy/default.yaml",
                        "--artifacts", arts,
                        "--json",      NULL};
  const char *env[] = {env_root, NULL};
  qf_test_run(argv, env, 300, &p);
  cr_assert_eq(p.status, 1, "stdout: %s\nstderr: %s", p.out.data, p.err.data);
  cJSON *m = cJSON_Parse(p.out.data);
  qf_test_proc_fini(&p);
  cr_assert_not_null(m);
  cr_expect_str_eq(rule0(m), "junit_has_failures");
  cr_expect_eq(summary(m, "tests"), 2);
  cr_expect_eq(summary(m, "failures"), 1);
  qf_test_assert_evidence_valid(str(m, "evidence_path"));
  cJSON *ev = evidence_of(m);
  int shots = 0, junit = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, cJSON_GetObjectItem(ev, "artifacts")) {
    shots += strcmp(str(a, "type"), "screenshot") == 0 &&
             strcmp(str(a, "mime"), "image/png") == 0;
    junit += strcmp(str(a, "type"), "junit_xml") == 0;
  }
  cr_expect_geq(shots, 1, "a screenshot artifact in the evidence");
  cr_expect_eq(junit, 1);
  cJSON_Delete(ev);
  cJSON_Delete(m);
}
