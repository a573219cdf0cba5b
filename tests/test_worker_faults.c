/* qf worker under infrastructure faults: RabbitMQ restarted while work is
 * queued, PostgreSQL restarted during a run. Every request is decided
 * once; none is lost.
 *
 * These tests restart the shared local services, which would disturb any
 * test running beside them: the suite runs with --jobs 1
 * (QF_SERIAL_SUITES), and every path (even a failure) ends with the
 * services started again. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include "worker_support.h"

static qf_wt_t T;

/* Idempotent: starts whatever services.sh stopped. */
static void services_start(void) {
  qf_wt_sh("bash " QF_SOURCE_DIR "/deploy/local/services.sh start >/dev/null",
           300);
}

static void setup(void) {
  services_start();
  qf_wt_init(&T);
}

static void teardown(void) {
  services_start(); /* restore the services first, whatever happened */
  qf_wt_fini(&T);
}

TestSuite(worker_faults, .init = setup, .fini = teardown, .timeout = 600);

#define READY "\"event\":\"worker.ready\""
#define PLAN_DONE "\"event\":\"node.done\"", "\"node\":\"plan\""

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static const char *logs(void) {
  static char buf[6400];
  char a[3200];
  snprintf(a, sizeof a, "%s", qf_wt_log_tail(&T, 0));
  snprintf(buf, sizeof buf, "--- worker 0:\n%s\n--- worker 1:\n%s", a,
           T.workers[1].log[0] ? qf_wt_log_tail(&T, 1) : "(none)");
  return buf;
}

static void slow_test(int seconds) {
  char text[256];
  snprintf(text, sizeof text,
           "import time\n\n\ndef test_slow():\n    time.sleep(%d)\n", seconds);
  qf_wt_write_demo_file(&T, "tests/slow/test_slow.py", text);
}

#define MAXREQ 16

/* Publishes n requests (the slow test) and returns their run ids. */
static void publish_slow(int n, char run_ids[][QF_UUID_STR_LEN + 1]) {
  const char *body = qf_wt_request("run the slow tests", "tests/slow", 0, 60);
  for (int i = 0; i < n; i++) {
    char mid[96], corr[32];
    snprintf(mid, sizeof mid, "%s-f-%d", T.prefix, i);
    snprintf(corr, sizeof corr, "corr-%d", i);
    qf_wt_run_id(mid, run_ids[i]);
    qf_wt_publish(&T, body, strlen(body), mid, corr, NULL);
  }
}

/* Collects decisions until every run id has one (duplicate messages are
 * allowed by at-least-once delivery, but must agree); then checks the
 * database: one row per request, decided exactly once. */
static void expect_all_decided_once(int n, char run_ids[][QF_UUID_STR_LEN + 1],
                                    int timeout_s) {
  int seen[MAXREQ] = {0}, distinct = 0, dups = 0;
  time_t deadline = time(NULL) + timeout_s;
  while (distinct < n && time(NULL) < deadline) {
    cJSON *d;
    if (qf_wt_decisions(&T, &d, 1, (int)(deadline - time(NULL))) != 1) break;
    int i = 0;
    while (i < n && strcmp(run_ids[i], str(d, "run_id")) != 0)
      i++;
    cr_assert(i < n, "unexpected decision for %s", str(d, "run_id"));
    cr_expect_str_eq(str(d, "decision"), "PASS", "%s: %s", run_ids[i],
                     str(d, "reason"));
    if (seen[i]++ == 0)
      distinct++;
    else
      dups++;
    cJSON_Delete(d);
  }
  cr_assert_eq(distinct, n, "%d of %d requests decided\n%s", distinct, n,
               logs());
  if (dups) fprintf(stderr, "note: %d decision messages re-published\n", dups);
  PGresult *r = qf_wt_query_res(
      &T,
      "SELECT r.run_id, r.status, r.decision, (SELECT count(*) FROM "
      "run_events e WHERE e.run_id = r.run_id AND e.event = 'decided') "
      "FROM runs r");
  cr_assert_eq(PQntuples(r), n, "%d runs rows for %d requests", PQntuples(r),
               n);
  for (int row = 0; row < PQntuples(r); row++) {
    cr_expect_str_eq(PQgetvalue(r, row, 1), "decided", "%s",
                     PQgetvalue(r, row, 0));
    cr_expect_str_eq(PQgetvalue(r, row, 2), "PASS");
    cr_expect_str_eq(PQgetvalue(r, row, 3), "1", "%s decided %s times",
                     PQgetvalue(r, row, 0), PQgetvalue(r, row, 3));
  }
  PQclear(r);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0, "nothing left queued");
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 0,
               "nothing dead-lettered");
}

Test(worker_faults, rabbitmq_restart_with_work_queued_loses_nothing) {
  slow_test(2);
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_start_worker(&T, 1, NULL);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  qf_wt_wait_log(&T, 1, 1, 60, READY, NULL);
  enum { N = 10 };
  char run_ids[MAXREQ][QF_UUID_STR_LEN + 1];
  publish_slow(N, run_ids);
  /* Work has started and most of it is still queued. */
  qf_wt_wait_log(&T, 0, 1, 60, "\"event\":\"run.decided\"", NULL);
  long queued = qf_wt_queue_count(&T, T.topo.queue);
  cr_assert_gt(queued, 2, "work must still be queued (%ld)", queued);
  qf_wt_sh("bash " QF_SOURCE_DIR "/deploy/local/services.sh stop 2>&1", 120);
  sleep(2);
  services_start();
  /* The workers reconnect by themselves. */
  qf_wt_wait_log(&T, 0, 2, 120, READY, NULL);
  qf_wt_wait_log(&T, 1, 2, 120, READY, NULL);
  expect_all_decided_once(N, run_ids, 240);
}

Test(worker_faults, postgresql_restart_during_a_run_loses_nothing) {
  slow_test(5);
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  enum { N = 3 };
  char run_ids[MAXREQ][QF_UUID_STR_LEN + 1];
  publish_slow(N, run_ids);
  qf_wt_wait_log(&T, 0, 1, 60, PLAN_DONE, NULL);
  /* Only PostgreSQL, while the tool runs (the same data directory, port
   * and options services.sh uses). */
  qf_wt_sh("set -e; d=${QF_LOCAL_DIR:-" QF_SOURCE_DIR
           "/.qf-local}/postgres; "
           "bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1); "
           "if [ \"$(id -u)\" = 0 ]; then as='runuser -u postgres --'; "
           "else as=; fi; "
           "$as \"$bin/pg_ctl\" -D \"$d/data\" -l \"$d/server.log\" -m fast "
           "-w -t 120 restart >/dev/null",
           180);
  expect_all_decided_once(N, run_ids, 180);
  /* The fault was met and survived: the run's database work failed, the
   * worker reconnected, and the run was finished. */
  cr_expect_gt(qf_wt_count_log(&T, 0, "\"event\":\"db.", NULL), 0, "%s",
               logs());
  cr_expect_eq(qf_wt_wait_exit(&T, 0, 0), -1, "the worker is still running");
}

/* qf submit --wait through a broker restart in the middle of the run: it
 * reconnects, asks again with the same message id, and ends with the
 * decision and its exit code, the tests run once. */
Test(worker_faults, submit_waits_through_a_broker_restart) {
  slow_test(8);
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  char out[300], err[300], url[600], prefix[128];
  snprintf(out, sizeof out, "%s/submit.out", T.dir);
  snprintf(err, sizeof err, "%s/submit.err", T.dir);
  snprintf(url, sizeof url, "QF_AMQP_URL=%s",
           qf_test_require_env("QF_AMQP_URL"));
  snprintf(prefix, sizeof prefix, "QF_TOPOLOGY_PREFIX=%s", T.prefix);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr)) _exit(99);
    putenv(url);
    putenv(prefix);
    execl(QF_TEST_BIN, QF_TEST_BIN, "submit", "--nl", "run the slow tests",
          "--workspace", "demo", "--arg", "test_path=tests/slow",
          "--message-id", "restart-1", "--progress", "2", "--wait", "200",
          (char *)NULL);
    _exit(98);
  }
  qf_wt_wait_log(&T, 0, 1, 60, PLAN_DONE, NULL);
  qf_wt_sh("bash " QF_SOURCE_DIR "/deploy/local/services.sh stop 2>&1", 120);
  sleep(2);
  services_start();
  int status = -1;
  for (int i = 0; i < 2400 && waitpid(pid, &status, WNOHANG) == 0; i++)
    qf_test_sleep_ms(100);
  char o[4096], e[16384];
  qf_test_slurp(out, o, sizeof o);
  qf_test_slurp(err, e, sizeof e);
  cr_assert(WIFEXITED(status), "qf submit did not end\n%s", e);
  cr_expect_eq(WEXITSTATUS(status), 0, "exit %d\n%s\n%s\n%s",
               WEXITSTATUS(status), o, e, logs());
  cr_expect(strstr(o, "PASS") != NULL, "%s", o);
  cr_expect(strstr(e, "reconnecting") != NULL, "%s", e);
  cr_expect(strstr(e, "s elapsed") != NULL, "no progress line: %s", e);
  char run[QF_UUID_STR_LEN + 1], sql[256];
  qf_wt_run_id("restart-1", run);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM run_events WHERE run_id = '%s' AND "
           "event = 'node.execute'",
           run);
  cr_expect_str_eq(qf_wt_query(&T, sql), "1", "the tests ran twice");
}

/* /readyz says what a load balancer and an operator need: unready while
 * the broker is down, ready again once the worker reconnected; /healthz
 * stays 200 all along (the loop is alive, it is the world that is not). */
Test(worker_faults, readyz_follows_the_broker) {
  char addr[64], url[96];
  int port = qf_test_closed_port();
  snprintf(addr, sizeof addr, "QF_METRICS_ADDR=127.0.0.1:%d", port);
  const char *env[] = {addr, NULL};
  qf_wt_start_worker(&T, 0, env);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  qf_strbuf_t b;
  snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", port);
  cr_assert_eq(qf_test_http_get(url, &b), 200, "%s", b.data);
  qf_strbuf_fini(&b);
  qf_wt_sh("bash " QF_SOURCE_DIR "/deploy/local/services.sh stop 2>&1", 120);
  int code = 200;
  for (int i = 0; i < 100 && code == 200; i++) {
    qf_test_sleep_ms(200);
    code = qf_test_http_get(url, &b);
    if (code != 200) cr_expect(strstr(b.data, "broker") != NULL, "%s", b.data);
    qf_strbuf_fini(&b);
  }
  cr_expect_eq(code, 503, "ready with the broker down");
  snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
  cr_expect_eq(qf_test_http_get(url, &b), 200, "%s", b.data);
  qf_strbuf_fini(&b);
  services_start();
  qf_wt_wait_log(&T, 0, 2, 120, READY, NULL);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", port);
  cr_expect_eq(qf_test_http_get(url, &b), 200, "%s", b.data);
  qf_strbuf_fini(&b);
}
