/* qf worker end to end: real worker processes against the local RabbitMQ
 * and PostgreSQL. Load with two workers, idempotence on message_id,
 * another client (pika), dead-lettering of bad requests, SIGTERM, kill -9
 * and a long tool run under a short heartbeat. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include "worker_support.h"

static qf_wt_t T;

static void setup(void) {
  qf_wt_init(&T);
}

static void teardown(void) {
  qf_wt_fini(&T);
}

TestSuite(worker, .init = setup, .fini = teardown, .timeout = 300);

#define READY "\"event\":\"worker.ready\""

static void start_ready(int i, const char *const *extra) {
  qf_wt_start_worker(&T, i, extra);
  qf_wt_wait_log(&T, i, 1, 60, READY, NULL);
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static int count_sql(const char *sql) {
  return atoi(qf_wt_query(&T, sql));
}

/* Both workers' logs, tails, for assertion messages. */
static const char *logs(void) {
  static char buf[6400];
  char a[3200];
  snprintf(a, sizeof a, "%s", qf_wt_log_tail(&T, 0));
  snprintf(buf, sizeof buf, "--- worker 0:\n%s\n--- worker 1:\n%s", a,
           T.workers[1].log[0] ? qf_wt_log_tail(&T, 1) : "(none)");
  return buf;
}

static void slow_test(const char *dir, int seconds) {
  char rel[128], text[256];
  snprintf(rel, sizeof rel, "%s/test_slow.py", dir);
  snprintf(text, sizeof text,
           "import time\n\n\ndef test_slow():\n    time.sleep(%d)\n", seconds);
  qf_wt_write_demo_file(&T, rel, text);
}

/* ------------------------------------------------------------------ load */

#define LOAD_N 200

typedef struct expect {
  char message_id[96], correlation_id[64], run_id[QF_UUID_STR_LEN + 1];
  const char *decision;
  int seen;
} expect_t;

Test(worker, two_workers_decide_200_requests_once_each, .timeout = 600) {
  static expect_t ex[LOAD_N];
  start_ready(0, NULL);
  start_ready(1, NULL);
  for (int i = 0; i < LOAD_N; i++) {
    expect_t *e = &ex[i];
    snprintf(e->message_id, sizeof e->message_id, "%s-load-%d", T.prefix, i);
    snprintf(e->correlation_id, sizeof e->correlation_id, "corr-%d", i);
    qf_wt_run_id(e->message_id, e->run_id);
    const char *body;
    if (i % 5 == 0 && i % 10 == 0) { /* 20 real pytest runs that pass */
      body = qf_wt_request("run the login tests", "tests/passing", 0, 60);
      e->decision = "PASS";
    } else if (i % 5 == 0) { /* 20 real pytest runs that fail */
      body = qf_wt_request("run the cart tests", "tests/failing", 0, 60);
      e->decision = "FAIL";
    } else if (i % 4 == 1) { /* 40 high-risk dry runs */
      body =
          qf_wt_request("smoke test the prod deploy", "tests/passing", 1, 60);
      e->decision = "NEED_HITL";
    } else { /* 120 dry runs */
      body = qf_wt_request("run the login tests", "tests/passing", 1, 60);
      e->decision = "PASS";
    }
    qf_wt_publish(&T, body, strlen(body), e->message_id, e->correlation_id,
                  NULL);
  }

  static cJSON *got[LOAD_N + 1];
  int n = qf_wt_decisions(&T, got, LOAD_N, 400);
  cr_assert_eq(n, LOAD_N, "%d of %d decisions arrived\n%s", n, LOAD_N, logs());
  cr_expect_eq(qf_wt_decisions(&T, got + LOAD_N, 1, 2), 0,
               "a decision was published twice");
  int hitl = 0;
  for (int k = 0; k < n; k++) {
    const char *corr = str(got[k], "correlation_id");
    cr_assert(strncmp(corr, "corr-", 5) == 0, "correlation_id '%s'", corr);
    int i = atoi(corr + 5);
    cr_assert(i >= 0 && i < LOAD_N);
    expect_t *e = &ex[i];
    cr_expect_eq(e->seen, 0, "request %d decided twice", i);
    e->seen++;
    cr_expect_str_eq(str(got[k], "run_id"), e->run_id, "request %d", i);
    cr_expect_str_eq(str(got[k], "decision"), e->decision, "request %d: %s", i,
                     str(got[k], "reason"));
    hitl += strcmp(e->decision, "NEED_HITL") == 0;
    cJSON_Delete(got[k]);
  }

  /* The database: one row per request, decided once, with its evidence
   * stored and on disk. */
  PGresult *r = qf_wt_query_res(
      &T,
      "SELECT run_id, decision, status, evidence IS NOT NULL, evidence_path, "
      "worker, attempts, evidence->>'run_id' FROM runs");
  cr_assert_eq(PQntuples(r), LOAD_N, "%d runs rows", PQntuples(r));
  int by_worker[2] = {0, 0};
  const char *sample[3] = {NULL, NULL, NULL}; /* PASS, FAIL, NEED_HITL */
  for (int row = 0; row < PQntuples(r); row++) {
    const char *run_id = PQgetvalue(r, row, 0);
    expect_t *e = NULL;
    for (int i = 0; i < LOAD_N && e == NULL; i++)
      if (strcmp(ex[i].run_id, run_id) == 0) e = &ex[i];
    cr_assert_not_null(e, "unexpected run %s", run_id);
    cr_expect_str_eq(PQgetvalue(r, row, 1), e->decision, "%s", e->message_id);
    cr_expect_str_eq(PQgetvalue(r, row, 2),
                     strcmp(e->decision, "NEED_HITL") == 0 ? "awaiting_approval"
                                                           : "decided");
    cr_expect_str_eq(PQgetvalue(r, row, 3), "t", "evidence in the database");
    cr_expect_str_eq(PQgetvalue(r, row, 6), "1", "%s claimed more than once",
                     e->message_id);
    cr_expect_str_eq(PQgetvalue(r, row, 7), run_id);
    const char *path = PQgetvalue(r, row, 4);
    struct stat sb;
    cr_expect(stat(path, &sb) == 0 && sb.st_size > 0, "evidence file '%s'",
              path);
    cr_expect(strncmp(path, T.arts, strlen(T.arts)) == 0, "%s", path);
    const char *w = PQgetvalue(r, row, 5);
    by_worker[0] += strcmp(w, T.workers[0].id) == 0;
    by_worker[1] += strcmp(w, T.workers[1].id) == 0;
    int kind = strcmp(e->decision, "PASS") == 0   ? 0
               : strcmp(e->decision, "FAIL") == 0 ? 1
                                                  : 2;
    if (sample[kind] == NULL) sample[kind] = strdup(path);
  }
  PQclear(r);
  cr_expect_eq(by_worker[0] + by_worker[1], LOAD_N, "runs.worker: %d + %d",
               by_worker[0], by_worker[1]);
  cr_expect(by_worker[0] > 0 && by_worker[1] > 0,
            "both workers must have worked: %d and %d", by_worker[0],
            by_worker[1]);
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event IN "
                         "('decided', 'parked')"),
               LOAD_N);
  /* Only a tool that ran is checkpointed (the 40 real runs); every run's
   * execute node is timed in its one decided (or parked) event. */
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event IN "
                         "('decided', 'parked') AND data->'node_ms' ? "
                         "'execute'"),
               LOAD_N, "every run executed once");
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event LIKE "
                         "'node.%'"),
               LOAD_N / 5, "a checkpoint per tool run, none for dry runs");
  cr_expect_eq(count_sql("SELECT count(*) FROM approvals WHERE status = "
                         "'pending'"),
               hitl);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.hitl), hitl);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 0);
  for (int k = 0; k < 3; k++) {
    cr_assert_not_null(sample[k]);
    qf_test_assert_evidence_valid(sample[k]);
    free((void *)sample[k]);
  }
}

/* ----------------------------------------------------------- idempotence */

Test(worker, same_message_id_three_times_runs_once) {
  start_ready(0, NULL);
  const char *body =
      qf_wt_request("run the login tests", "tests/passing", 0, 60);
  char mid[96], run_id[QF_UUID_STR_LEN + 1];
  snprintf(mid, sizeof mid, "%s-dup", T.prefix);
  qf_wt_run_id(mid, run_id);
  for (int i = 0; i < 3; i++)
    qf_wt_publish(&T, body, strlen(body), mid, "corr-dup", NULL);
  cJSON *got[4];
  int n = qf_wt_decisions(&T, got, 3, 120);
  cr_assert_eq(n, 3, "%d decisions\n%s", n, logs());
  cr_expect_eq(qf_wt_decisions(&T, got + 3, 1, 2), 0, "a fourth decision");
  for (int i = 0; i < n; i++) {
    cr_expect_str_eq(str(got[i], "run_id"), run_id);
    cr_expect_str_eq(str(got[i], "decision"), "PASS");
    cr_expect_str_eq(str(got[i], "correlation_id"), "corr-dup");
    if (i > 0) {
      char *a = cJSON_PrintUnformatted(got[0]),
           *b = cJSON_PrintUnformatted(got[i]);
      cr_expect(cJSON_Compare(got[0], got[i], 1),
                "the same decision each time:\n%s\n%s", a, b);
      free(a);
      free(b);
    }
  }
  for (int i = 0; i < n; i++)
    cJSON_Delete(got[i]);
  cr_expect_str_eq(qf_wt_query(&T, "SELECT count(*) FROM runs"), "1");
  cr_expect_str_eq(qf_wt_query(&T, "SELECT attempts FROM runs"), "3");
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event = "
                         "'node.execute'"),
               1, "the tool ran once");
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event = "
                         "'decided'"),
               1);
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event = "
                         "'claimed'"),
               3);
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"run.republish\"", NULL), 2,
               "%s", logs());
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
}

/* A producer re-sends a request (same message_id, its own reply queue)
 * while two workers serve: each copy's reply_to gets the one decision,
 * and the run is decided once. (Whether the copies overlap in time is up
 * to the broker; the overlapping case, where the loser of the commit
 * re-publishes the winner's decision, is not forced here.) */
Test(worker, duplicates_answer_both_reply_queues) {
  start_ready(0, NULL);
  start_ready(1, NULL);
  slow_test("tests/slow", 2);
  const char *body = qf_wt_request("run the slow test", "tests/slow", 0, 60);
  char mid[96], qa[128], qb[128];
  qf_error_t err;
  snprintf(mid, sizeof mid, "%s-race", T.prefix);
  snprintf(qa, sizeof qa, "%s.test.reply.a", T.prefix);
  snprintf(qb, sizeof qb, "%s.test.reply.b", T.prefix);
  cr_assert_eq(qf_amqp_declare_queue(T.con, qa, 0, NULL, NULL, &err), 0);
  cr_assert_eq(qf_amqp_declare_queue(T.con, qb, 0, NULL, NULL, &err), 0);
  qf_wt_publish(&T, body, strlen(body), mid, "corr-race", qa);
  qf_wt_publish(&T, body, strlen(body), mid, "corr-race", qb);
  qf_amqp_message_t a, b;
  int na = qf_wt_get(&T, qa, &a, 1, 60), nb = qf_wt_get(&T, qb, &b, 1, 60);
  cr_expect_eq(na, 1, "reply a\n%s", logs());
  cr_expect_eq(nb, 1, "reply b\n%s", logs());
  if (na == 1 && nb == 1) {
    cJSON *da = cJSON_ParseWithLength(a.body, a.body_len);
    cJSON *db = cJSON_ParseWithLength(b.body, b.body_len);
    cr_expect_str_eq(str(da, "run_id"), str(db, "run_id"));
    cr_expect_str_eq(str(da, "decision"), "PASS");
    cr_expect_str_eq(str(db, "decision"), "PASS");
    cJSON_Delete(da);
    cJSON_Delete(db);
  }
  if (na == 1) qf_amqp_message_fini(&a);
  if (nb == 1) qf_amqp_message_fini(&b);
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event = "
                         "'decided'"),
               1, "decided once");
  cr_expect_eq(qf_amqp_delete_queue(T.con, qa, &err), 0);
  cr_expect_eq(qf_amqp_delete_queue(T.con, qb, &err), 0);
}

/* ------------------------------------------------------------------ pika */

Test(worker, pika_producer_and_consumer_get_the_decision) {
  start_ready(0, NULL);
  char mid[96], run_id[QF_UUID_STR_LEN + 1];
  snprintf(mid, sizeof mid, "%s-pika", T.prefix);
  qf_wt_run_id(mid, run_id);
  const char *body =
      qf_wt_request("run the cart tests", "tests/failing", 0, 60);
  const char *argv[] = {"/usr/bin/python3",
                        QF_SOURCE_DIR "/tests/pika_roundtrip.py",
                        qf_test_require_env("QF_AMQP_URL"),
                        T.prefix,
                        mid,
                        "corr-pika-42",
                        body,
                        "90",
                        NULL};
  qf_test_proc_t p;
  qf_test_run(argv, NULL, 120, &p);
  cr_assert_eq(p.status, 0, "pika: %s%s\n%s", p.out.data, p.err.data, logs());
  cJSON *out = cJSON_Parse(p.out.data);
  cr_assert_not_null(out, "%s", p.out.data);
  cr_expect_str_eq(str(out, "correlation_id"), "corr-pika-42");
  cr_expect_str_eq(str(out, "message_id"), run_id);
  cr_expect_str_eq(str(out, "content_type"), "application/json");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(out, "decision");
  cr_expect_str_eq(str(d, "run_id"), run_id);
  cr_expect_str_eq(str(d, "decision"), "FAIL", "%s", p.out.data);
  cr_expect_str_eq(str(d, "correlation_id"), "corr-pika-42");
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "final")));
  cJSON_Delete(out);
  qf_test_proc_fini(&p);
  /* The same decision went to the decisions exchange too. */
  cJSON *got[1];
  cr_assert_eq(qf_wt_decisions(&T, got, 1, 10), 1);
  cr_expect_str_eq(str(got[0], "run_id"), run_id);
  cJSON_Delete(got[0]);
  /* And pika sees the queue drained (passive declare). */
  const char *cargv[] = {
      "/usr/bin/python3", QF_SOURCE_DIR "/tests/pika_roundtrip.py",
      "--count",          qf_test_require_env("QF_AMQP_URL"),
      T.topo.queue,       NULL};
  qf_test_run(cargv, NULL, 30, &p);
  cr_expect_eq(p.status, 0, "%s", p.err.data);
  cr_expect_str_eq(p.out.data, "0\n");
  qf_test_proc_fini(&p);
}

/* ------------------------------------------------------------ dead letters */

typedef struct bad {
  const char *id;
  char *body;
  size_t len;
  const char *want[2]; /* substrings of x-qf-error */
} bad_t;

Test(worker, invalid_requests_are_dead_lettered_with_the_reason) {
  start_ready(0, NULL);
  static char big[2 * 1024 * 1024 + 32];
  size_t biglen = (size_t)snprintf(big, 32, "{\"nl_input\":\"");
  memset(big + biglen, 'a', 2 * 1024 * 1024);
  biglen += 2 * 1024 * 1024;
  memcpy(big + biglen, "\"}", 2);
  biglen += 2;
  bad_t bad[] = {
      {"malformed",
       "{\"nl_input\": \"run it\",",
       0,
       {"body", "not valid JSON"}},
      {"wrong-type", "{\"nl_input\": 42}", 0, {"nl_input", "must be a string"}},
      {"unknown-key",
       "{\"nl_input\": \"run it\", \"colour\": \"red\"}",
       0,
       {"colour", "unknown key"}},
      {"too-big", big, biglen, {"body", "larger than 65536 bytes"}},
      {"bad-utf8", "{\"nl_input\": \"caf\xc3\x28\"}", 0, {"body", "UTF-8"}},
  };
  size_t nbad = sizeof bad / sizeof bad[0];
  for (size_t i = 0; i < nbad; i++) {
    if (bad[i].len == 0) bad[i].len = strlen(bad[i].body);
    qf_wt_publish(&T, bad[i].body, bad[i].len, bad[i].id, bad[i].id, NULL);
  }
  const char *ok = qf_wt_request("run the login tests", "tests/passing", 1, 60);
  qf_wt_publish(&T, ok, strlen(ok), "valid-after", "valid-after", NULL);

  qf_amqp_message_t dead[8];
  int n = qf_wt_get(&T, T.topo.dead_queue, dead, (int)nbad, 60);
  cr_assert_eq(n, (int)nbad, "%d dead letters\n%s", n, logs());
  int seen[8] = {0};
  for (int k = 0; k < n; k++) {
    size_t i = 0;
    while (i < nbad &&
           strcmp(bad[i].id, dead[k].message_id ? dead[k].message_id : "") != 0)
      i++;
    cr_assert(i < nbad, "unexpected dead letter %s", dead[k].message_id);
    seen[i]++;
    const char *why = qf_amqp_message_header(&dead[k], "x-qf-error");
    cr_assert_not_null(why, "%s has no x-qf-error", bad[i].id);
    for (int w = 0; w < 2; w++)
      cr_expect_not_null(strstr(why, bad[i].want[w]),
                         "%s: x-qf-error '%s' lacks '%s'", bad[i].id, why,
                         bad[i].want[w]);
    cr_expect_str_eq(
        qf_amqp_message_header(&dead[k], "x-qf-original-routing-key"), "run");
    cr_expect_str_eq(dead[k].correlation_id, bad[i].id);
    cr_expect_eq(dead[k].body_len, bad[i].len, "%s: the body is kept",
                 bad[i].id);
    cr_expect(dead[k].body_len == bad[i].len &&
                  memcmp(dead[k].body, bad[i].body, bad[i].len) == 0,
              "%s: the body is kept unchanged", bad[i].id);
    qf_amqp_message_fini(&dead[k]);
  }
  for (size_t i = 0; i < nbad; i++)
    cr_expect_eq(seen[i], 1, "%s dead-lettered %d times", bad[i].id, seen[i]);

  /* The worker kept serving: the valid request after them is decided. */
  cJSON *got[2];
  cr_assert_eq(qf_wt_decisions(&T, got, 1, 60), 1, "%s", logs());
  cr_expect_str_eq(str(got[0], "correlation_id"), "valid-after");
  cr_expect_str_eq(str(got[0], "decision"), "PASS");
  cJSON_Delete(got[0]);
  cr_expect_eq(qf_wt_decisions(&T, got, 1, 1), 0);
  cr_expect_str_eq(qf_wt_query(&T, "SELECT count(*) FROM runs"), "1",
                   "an invalid request is never run");
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"delivery.invalid\"", NULL),
               (int)nbad, "%s", logs());
  cr_expect_eq(qf_wt_count_log(&T, 0, READY, NULL), 1, "no reconnect: %s",
               logs());
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 0);
  cr_expect_gt(T.workers[0].pid, 0);
  cr_expect_eq(qf_wt_wait_exit(&T, 0, 0), -1, "the worker is still running");
}

/* ---------------------------------------------------------------- SIGTERM */

#define PLAN_DONE "\"event\":\"node.done\"", "\"node\":\"plan\""

Test(worker, sigterm_during_a_run_finishes_it_and_exits_0) {
  slow_test("tests/slow", 4);
  start_ready(0, NULL);
  const char *body = qf_wt_request("run the slow tests", "tests/slow", 0, 60);
  qf_wt_publish(&T, body, strlen(body), "term-1", "term-1", NULL);
  qf_wt_wait_log(&T, 0, 1, 60, PLAN_DONE, NULL);
  struct timespec ts = {0, 300 * 1000000L};
  nanosleep(&ts, NULL);
  cr_assert_eq(qf_wt_count_log(&T, 0, "\"event\":\"run.decided\"", NULL), 0,
               "the tool must still be running");
  kill(T.workers[0].pid, SIGTERM);
  /* A request that arrives during the shutdown is left for another
   * worker: neither run nor lost. */
  const char *next =
      qf_wt_request("run the login tests", "tests/passing", 1, 60);
  qf_wt_publish(&T, next, strlen(next), "term-2", "term-2", NULL);
  int st = qf_wt_wait_exit(&T, 0, 60);
  cr_assert_eq(st, 0, "exit status %d\n%s", st, logs());
  cJSON *got[2];
  cr_assert_eq(qf_wt_decisions(&T, got, 2, 5), 1, "%s", logs());
  cr_expect_str_eq(str(got[0], "correlation_id"), "term-1");
  cr_expect_str_eq(str(got[0], "decision"), "PASS", "%s",
                   str(got[0], "reason"));
  cJSON_Delete(got[0]);
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"delivery.acked\"", NULL), 1,
               "%s", logs());
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"worker.stop\"", NULL), 1);
  cr_expect_str_eq(qf_wt_query(&T, "SELECT string_agg(status, ',') FROM runs"),
                   "decided");
  /* Nothing unacked: with the worker gone, anything it held would be back
   * in the queue; only the request it never took is there. */
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 1);
  qf_amqp_message_t m;
  cr_assert_eq(qf_wt_get(&T, T.topo.queue, &m, 1, 5), 1);
  cr_expect_str_eq(m.message_id, "term-2");
  qf_amqp_message_fini(&m);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
}

/* ---------------------------------------------------------------- kill -9 */

Test(worker, kill_9_mid_run_is_finished_by_another_worker_once) {
  slow_test("tests/slow", 6);
  start_ready(0, NULL);
  const char *body = qf_wt_request("run the slow tests", "tests/slow", 0, 60);
  char mid[96], run_id[QF_UUID_STR_LEN + 1];
  snprintf(mid, sizeof mid, "%s-kill", T.prefix);
  qf_wt_run_id(mid, run_id);
  qf_wt_publish(&T, body, strlen(body), mid, "corr-kill", NULL);
  qf_wt_wait_log(&T, 0, 1, 60, PLAN_DONE, NULL);
  start_ready(1, NULL);
  /* The tool of worker 0 is running: remember it, then kill the worker. */
  pid_t tools[16];
  int ntools = 0;
  for (int i = 0; i < 50 && ntools == 0; i++) {
    ntools = qf_wt_tool_pids(&T, tools, 16);
    if (ntools == 0) {
      struct timespec ts = {0, 100 * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
  cr_assert_gt(ntools, 0, "worker 0's tool is not running\n%s", logs());
  cr_assert_eq(qf_wt_count_log(&T, 0, "\"event\":\"run.decided\"", NULL), 0);
  cr_assert_eq(qf_wt_stop_worker(&T, 0, SIGKILL, 10), 128 + SIGKILL);
  for (int i = 0; i < ntools; i++) /* orphaned to init: by PID only */
    kill(tools[i], SIGKILL);

  cJSON *got[2];
  cr_assert_eq(qf_wt_decisions(&T, got, 1, 90), 1, "%s", logs());
  cr_expect_str_eq(str(got[0], "run_id"), run_id);
  cr_expect_str_eq(str(got[0], "decision"), "PASS", "%s",
                   str(got[0], "reason"));
  cJSON_Delete(got[0]);
  cr_expect_eq(qf_wt_decisions(&T, got, 1, 3), 0, "decided twice");
  cr_expect_eq(qf_wt_count_log(&T, 1, "\"event\":\"run.decided\"", NULL), 1,
               "%s", logs());
  /* Nothing before a finished tool is saved (those nodes are recomputed):
   * the run cut off mid-tool starts again from its request. */
  cr_expect_eq(qf_wt_count_log(&T, 1, "\"event\":\"run.resume\"", NULL), 0,
               "%s", logs());
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event LIKE "
                         "'node.%'"),
               1, "one checkpoint: after the tool");
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT status || ' ' || attempts || ' ' || worker FROM runs");
  char want[400];
  snprintf(want, sizeof want, "decided 2 %s", T.workers[1].id);
  cr_expect_str_eq(qf_wt_query(&T, sql), want);
  cr_expect_str_eq(qf_wt_query(&T, "SELECT count(*) FROM runs"), "1");
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event = "
                         "'decided'"),
               1);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
}

/* -------------------------------------------------------------- heartbeat */

Test(worker, a_90_s_tool_keeps_the_connection_with_a_5_s_heartbeat,
     .timeout = 400) {
  slow_test("tests/slow", 90);
  start_ready(0, (const char *[]){"QF_HEARTBEAT_S=5", NULL});
  const char *body = qf_wt_request("run the slow tests", "tests/slow", 0, 120);
  qf_wt_publish(&T, body, strlen(body), "hb-1", "hb-1", NULL);
  cJSON *got[1];
  cr_assert_eq(qf_wt_decisions(&T, got, 1, 200), 1, "%s", logs());
  cr_expect_str_eq(str(got[0], "decision"), "PASS", "%s",
                   str(got[0], "reason"));
  cJSON_Delete(got[0]);
  qf_wt_wait_log(&T, 0, 1, 10, "\"event\":\"delivery.acked\"", NULL);
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"amqp.consumer_lost\"", NULL),
               0, "%s", logs());
  cr_expect_eq(
      qf_wt_count_log(&T, 0, "\"event\":\"worker.connect_failed\"", NULL), 0,
      "%s", logs());
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"publish.retry\"", NULL), 0,
               "%s", logs());
  cr_expect_eq(qf_wt_count_log(&T, 0, READY, NULL), 1, "%s", logs());
  cr_expect_str_eq(
      qf_wt_query(&T, "SELECT status || ' ' || attempts FROM runs"),
      "decided 1");
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
}
