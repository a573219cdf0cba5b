/* qf submit against a real worker: the exit code is the decision (0 PASS,
 * 1 FAIL, 2 still NEED_HITL when the wait ends), 3 when the broker cannot
 * be reached, 65 for an invalid request (nothing published), and a
 * NEED_HITL approved while --wait waits ends in 0. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qf/junit.h"
#include "support.h"
#include "worker_support.h"

static qf_wt_t T;

static void setup(void) {
  qf_wt_init(&T);
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_wait_log(&T, 0, 1, 60, "\"event\":\"worker.ready\"", NULL);
}

static void teardown(void) {
  qf_wt_fini(&T);
}

TestSuite(submit, .init = setup, .fini = teardown, .timeout = 240);

static char env_url[600], env_prefix[128];

/* Runs qf submit with the test's broker and prefix. */
static int submit(const char *nl, const char *test_path, const char *wait,
                  const char *amqp_url, qf_test_proc_t *p) {
  char arg[128];
  snprintf(arg, sizeof arg, "test_path=%s", test_path);
  snprintf(env_url, sizeof env_url, "QF_AMQP_URL=%s",
           amqp_url ? amqp_url : qf_test_require_env("QF_AMQP_URL"));
  snprintf(env_prefix, sizeof env_prefix, "QF_TOPOLOGY_PREFIX=%s", T.prefix);
  const char *env[] = {env_url, env_prefix, NULL};
  const char *argv[] = {QF_TEST_BIN,   "submit", "--nl",   nl,
                        "--workspace", "demo",   "--arg",  arg,
                        "--wait",      wait,     "--json", NULL};
  qf_test_run(argv, env, 120, p);
  return p->status;
}

Test(submit, exit_code_is_the_decision) {
  qf_test_proc_t p;
  cr_expect_eq(submit("run the login tests", "tests/passing", "60", NULL, &p),
               0, "%s%s", p.out.data, p.err.data);
  cr_expect_not_null(strstr(p.out.data, "\"decision\":\"PASS\""), "%s",
                     p.out.data);
  qf_test_proc_fini(&p);
  cr_expect_eq(submit("run the cart tests", "tests/failing", "60", NULL, &p), 1,
               "%s%s", p.out.data, p.err.data);
  cr_expect_not_null(strstr(p.out.data, "\"decision\":\"FAIL\""));
  qf_test_proc_fini(&p);
  /* Nobody approves: the wait ends on the NEED_HITL. */
  cr_expect_eq(
      submit("smoke test production login", "tests/passing", "4", NULL, &p), 2,
      "%s%s", p.out.data, p.err.data);
  cr_expect_not_null(strstr(p.err.data, "qf approve "), "%s", p.err.data);
  cr_expect_not_null(strstr(p.out.data, "\"decision\":\"NEED_HITL\""));
  qf_test_proc_fini(&p);
}

Test(submit, unreachable_broker_exits_3) {
  qf_test_proc_t p;
  cr_expect_eq(submit("run the login tests", "tests/passing", "5",
                      "amqp://guest:guest@127.0.0.1:1/%2f", &p),
               3, "%s", p.err.data);
  cr_expect_not_null(strstr(p.err.data, "cannot connect"), "%s", p.err.data);
  cr_expect_not_null(strstr(p.err.data, "retrying in about"), "no retry: %s",
                     p.err.data);
  qf_test_proc_fini(&p);
}

Test(submit, invalid_request_exits_65_and_publishes_nothing) {
  qf_test_proc_t p;
  const char *before = qf_wt_query(&T, "SELECT count(*) FROM runs");
  char n_before[16];
  snprintf(n_before, sizeof n_before, "%s", before);
  const char *argv[] = {QF_TEST_BIN, "submit", "--nl", "", NULL};
  qf_test_run(argv, NULL, 30, &p);
  cr_expect_eq(p.status, 65);
  cr_expect_not_null(strstr(p.err.data, "nl_input"), "%s", p.err.data);
  qf_test_proc_fini(&p);
  const char *argv2[] = {QF_TEST_BIN,   "submit", "--nl", "x",
                         "--workspace", "/etc",   NULL};
  qf_test_run(argv2, NULL, 30, &p);
  cr_expect_eq(p.status, 65);
  cr_expect_not_null(strstr(p.err.data, "workspace"), "%s", p.err.data);
  qf_test_proc_fini(&p);
  sleep(1);
  cr_expect_str_eq(qf_wt_query(&T, "SELECT count(*) FROM runs"), n_before,
                   "nothing was published");
}

/* A NEED_HITL that a human approves while --wait waits: exit 0. */
Test(submit, approved_while_waiting_ends_in_0) {
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    setenv("QF_TOPOLOGY_PREFIX", T.prefix, 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(QF_TEST_BIN, "qf", "submit", "--nl", "smoke test production login",
          "--workspace", "demo", "--arg", "test_path=tests/passing",
          "--requested-by", "ci-bot", "--wait", "90", (char *)NULL);
    _exit(127);
  }
  char id[64] = "";
  for (int i = 0; i < 300 && strlen(id) != 36; i++) {
    snprintf(id, sizeof id, "%s",
             qf_wt_query(&T,
                         "SELECT coalesce(max(id::text), '') FROM "
                         "approvals WHERE status = 'pending'"));
    if (strlen(id) != 36) usleep(100 * 1000);
  }
  cr_assert_eq(strlen(id), 36, "no pending approval appeared");
  char env_db[600];
  snprintf(env_db, sizeof env_db, "QF_DATABASE_URL=%s", T.approver_db_url);
  snprintf(env_prefix, sizeof env_prefix, "QF_TOPOLOGY_PREFIX=%s", T.prefix);
  const char *env[] = {env_db, env_prefix, NULL};
  qf_test_proc_t p;
  qf_test_run((const char *[]){QF_TEST_BIN, "approve", id, "--comment",
                               "ship it", NULL},
              env, 60, &p);
  cr_expect_eq(p.status, 0, "%s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);
  int st = 0;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "qf submit status %d", st);
}

/* A request the worker refuses (a workspace that does not exist) is
 * answered at once: --wait 600 ends with 65 and the reason, not after its
 * wait, and the run is ended refused in PostgreSQL (a re-sent copy gets
 * the same answer). */
Test(submit, a_typod_workspace_is_answered_65_at_once) {
  snprintf(env_url, sizeof env_url, "QF_AMQP_URL=%s",
           qf_test_require_env("QF_AMQP_URL"));
  snprintf(env_prefix, sizeof env_prefix, "QF_TOPOLOGY_PREFIX=%s", T.prefix);
  const char *env[] = {env_url, env_prefix, NULL};
  const char *argv[] = {QF_TEST_BIN,     "submit",      "--nl",
                        "run the tests", "--workspace", "no-such-project",
                        "--message-id",  "typo-1",      "--wait",
                        "600",           "--json",      NULL};
  qf_test_proc_t p;
  qf_test_run(argv, env, 60, &p); /* fails the test if it waits on */
  cr_expect_eq(p.status, 65, "%s%s", p.out.data, p.err.data);
  cr_expect_not_null(strstr(p.out.data, "\"decided_by\":\"refused\""), "%s",
                     p.out.data);
  cr_expect_not_null(strstr(p.out.data, "no-such-project"), "%s", p.out.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(qf_wt_query(&T,
                               "SELECT status || ' ' || decision || ' ' "
                               "|| decided_by FROM runs"),
                   "decided FAIL refused");
  cr_expect_str_eq(qf_wt_query(&T,
                               "SELECT count(*) FROM run_events WHERE "
                               "event = 'ended'"),
                   "1");
}

/* What CI shows: the failing test by name in the log, an annotation and
 * a step summary on GitHub Actions, a JUnit report that lists it (read
 * back by qf's own JUnit parser), and the evidence equal to the worker's,
 * all from the broker's reply (no database access). */
Test(submit, ci_outputs_name_the_failing_tests) {
  char summary[300], junit[300], evidence[300], sum_env[340];
  snprintf(summary, sizeof summary, "%s/summary.md", T.dir);
  snprintf(junit, sizeof junit, "%s/qf-junit.xml", T.dir);
  snprintf(evidence, sizeof evidence, "%s/qf-evidence.json", T.dir);
  snprintf(sum_env, sizeof sum_env, "GITHUB_STEP_SUMMARY=%s", summary);
  snprintf(env_url, sizeof env_url, "QF_AMQP_URL=%s",
           qf_test_require_env("QF_AMQP_URL"));
  snprintf(env_prefix, sizeof env_prefix, "QF_TOPOLOGY_PREFIX=%s", T.prefix);
  const char *env[] = {env_url, env_prefix,           "GITHUB_ACTIONS=true",
                       sum_env, "GITHUB_REPOSITORY=", "GITLAB_CI=",
                       NULL};
  const char *argv[] = {QF_TEST_BIN,
                        "submit",
                        "--nl",
                        "run the cart tests",
                        "--workspace",
                        "demo",
                        "--arg",
                        "test_path=tests/failing",
                        "--message-id",
                        "ci-out-1",
                        "--wait",
                        "60",
                        "--junit-out",
                        junit,
                        "--evidence-out",
                        evidence,
                        NULL};
  qf_test_proc_t p;
  qf_test_run(argv, env, 90, &p);
  cr_expect_eq(p.status, 1, "%s%s", p.out.data, p.err.data);
  const char *o = p.out.data;
  cr_expect(strstr(o, "failing tests (1):") != NULL, "%s", o);
  cr_expect(strstr(o, "test_cents_are_kept") != NULL, "%s", o);
  cr_expect(strstr(o, "::error file=tests/failing/test_cart.py,line=") != NULL,
            "no annotation: %s", o);
  cr_expect(strstr(o, "title=test_cents_are_kept::") != NULL, "%s", o);
  char *md = qf_test_read_all(summary);
  cr_assert_not_null(md, "no step summary");
  cr_expect(strstr(md, "### QualityFoundry: FAIL") != NULL, "%s", md);
  cr_expect(strstr(md, "test_cents_are_kept") != NULL, "%s", md);
  free(md);
  qf_junit_summary_t js;
  qf_junit_failures_t jf;
  qf_error_t err;
  qf_junit_failures_init(&jf);
  cr_assert_eq(qf_junit_read_file(junit, &js, &jf, &err), 0, "%s", err.message);
  /* It lists the failing cases; its attributes carry the run's counts. */
  cr_expect_eq(js.failures, 1);
  char *xml = qf_test_read_all(junit);
  cr_expect(strstr(xml,
                   "<testsuites name=\"qualityfoundry\" tests=\"3\" "
                   "failures=\"1\" errors=\"0\"") != NULL,
            "%s", xml);
  free(xml);
  cr_assert_eq(jf.n, 1);
  cr_expect_str_eq(jf.items[0].name, "test_cents_are_kept");
  qf_junit_failures_fini(&jf);
  /* The evidence CI keeps is the worker's. */
  char run[QF_UUID_STR_LEN + 1], path[400];
  qf_wt_run_id("ci-out-1", run);
  snprintf(path, sizeof path, "%s/%s/evidence.json", T.arts, run);
  char *a = qf_test_read_all(path), *b = qf_test_read_all(evidence);
  cr_assert(a && b, "evidence missing: worker %p, submit %p", a, b);
  cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
  cr_expect(cJSON_Compare(ja, jb, 1), "--evidence-out differs:\n%s\n%s", a, b);
  cJSON_Delete(ja), cJSON_Delete(jb), free(a), free(b);
  qf_test_proc_fini(&p);
}
