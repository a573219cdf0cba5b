/* What an operator reads from a worker (DESIGN 8): a login the database
 * or the broker refuses is a configuration error (exit 78, said as a JSON
 * line too), not an outage retried forever; decisions are log fields; a
 * publish nobody subscribed to is said once, not per run; a stop says it
 * drains. Real worker processes and servers. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

TestSuite(worker_ops, .init = setup, .fini = teardown, .timeout = 180);

#define READY "\"event\":\"worker.ready\""

Test(worker_ops, a_refused_database_login_exits_78_naming_it) {
  char bad[600], env[640];
  qf_test_db_url_as(T.worker_db_url, "qf_nobody", "wrong-password", bad,
                    sizeof bad);
  snprintf(env, sizeof env, "QF_DATABASE_URL=%s", bad);
  const char *extra[] = {env, NULL};
  qf_wt_start_worker(&T, 0, extra);
  int status = qf_wt_wait_exit(&T, 0, 60);
  cr_expect_eq(status, 78, "exit %d\n%s", status, qf_wt_log_tail(&T, 0));
  const char *log = qf_wt_log_tail(&T, 0);
  cr_expect(strstr(log, "qf_nobody") != NULL, "%s", log);
  cr_expect(strstr(log, "3 tries in a row") != NULL, "%s", log);
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"startup.error\"", NULL), 1,
               "%s", log);
  cr_expect(strstr(log, "wrong-password") == NULL, "the password is shown");
}

Test(worker_ops, the_approver_stops_on_a_refused_login_too) {
  char bad[600], env_db[640], env_prefix[128];
  qf_test_db_url_as(T.worker_db_url, "qf_nobody", "wrong-password", bad,
                    sizeof bad);
  snprintf(env_db, sizeof env_db, "QF_DATABASE_URL=%s", bad);
  snprintf(env_prefix, sizeof env_prefix, "QF_TOPOLOGY_PREFIX=%s", T.prefix);
  const char *env[] = {env_db, env_prefix, "QF_MAX_BACKOFF_S=2", NULL};
  const char *argv[] = {QF_TEST_BIN, "approver", NULL};
  qf_test_proc_t p;
  qf_test_run(argv, env, 60, &p);
  cr_expect_eq(p.status, 78, "%s", p.err.data);
  cr_expect(strstr(p.err.data, "3 tries in a row") != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
}

/* Webhooks need libcurl, which only the approver loads: one that cannot
 * load it says so at start, naming the library, rather than at the first
 * decision. */
Test(worker_ops, an_approver_without_libcurl_says_so_at_start) {
  char env_db[640], env_prefix[128];
  snprintf(env_db, sizeof env_db, "QF_DATABASE_URL=%s", T.worker_db_url);
  snprintf(env_prefix, sizeof env_prefix, "QF_TOPOLOGY_PREFIX=%s", T.prefix);
  const char *env[] = {env_db, env_prefix,
                       "QF_APPROVER_WEBHOOK=http://127.0.0.1:9/hook",
                       "QF_LIBCURL=/nonexistent/libcurl-qf.so.4", NULL};
  const char *argv[] = {QF_TEST_BIN, "approver", NULL};
  qf_test_proc_t p;
  qf_test_run(argv, env, 60, &p);
  cr_expect_eq(p.status, 78, "%s", p.err.data);
  cr_expect(strstr(p.err.data,
                   "QF_APPROVER_WEBHOOK is set: cannot load "
                   "/nonexistent/libcurl-qf.so.4") != NULL,
            "%s", p.err.data);
  qf_test_proc_fini(&p);
}

Test(worker_ops, a_refused_broker_login_exits_78) {
  char url[600], env[640];
  const char *good = qf_test_require_env("QF_AMQP_URL");
  const char *at = strchr(good, '@');
  cr_assert_not_null(at);
  snprintf(url, sizeof url, "amqp://guest:wrong-password%s", at);
  snprintf(env, sizeof env, "QF_AMQP_URL=%s", url);
  const char *extra[] = {env, NULL};
  qf_wt_start_worker(&T, 0, extra);
  int status = qf_wt_wait_exit(&T, 0, 60);
  cr_expect_eq(status, 78, "exit %d\n%s", status, qf_wt_log_tail(&T, 0));
  cr_expect(strstr(qf_wt_log_tail(&T, 0), "ACCESS_REFUSED") != NULL, "%s",
            qf_wt_log_tail(&T, 0));
  /* qf submit says the same at once, not "unreachable" after retries. */
  char prefix[128];
  snprintf(prefix, sizeof prefix, "QF_TOPOLOGY_PREFIX=%s", T.prefix);
  const char *senv[] = {env, prefix, NULL};
  const char *argv[] = {QF_TEST_BIN, "submit", "--nl", "run the tests",
                        "--wait",    "30",     NULL};
  qf_test_proc_t p;
  qf_test_run(argv, senv, 20, &p);
  cr_expect_eq(p.status, 78, "%s", p.err.data);
  cr_expect(strstr(p.err.data, "retrying") == NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
}

Test(worker_ops, decisions_are_fields_and_unrouted_is_said_once) {
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  /* Nothing is bound to <p>.evidence: every run publishes there. */
  const char *body =
      qf_wt_request("run the unit tests", "tests/passing", 1, 60);
  for (int i = 0; i < 3; i++) {
    char id[64];
    snprintf(id, sizeof id, "ops-%d", i);
    qf_wt_publish(&T, body, strlen(body), id, id, NULL);
  }
  cJSON *d[3];
  cr_assert_eq(qf_wt_decisions(&T, d, 3, 60), 3, "%s", qf_wt_log_tail(&T, 0));
  for (int i = 0; i < 3; i++)
    cJSON_Delete(d[i]);
  qf_wt_wait_log(&T, 0, 3, 30, "\"event\":\"run.decided\"",
                 "\"decision\":\"PASS\"", "\"decided_by\":\"gate\"", NULL);
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"publish.unrouted\"", NULL),
               1, "%s", qf_wt_log_tail(&T, 0));
  cr_expect_eq(qf_wt_stop_worker(&T, 0, SIGTERM, 30), 0);
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"worker.drain\"", NULL), 1,
               "%s", qf_wt_log_tail(&T, 0));
}

/* A worker serving /metrics, /healthz and /readyz on a port of its own. */
static void start_http(char *base, size_t n, const char *const *more) {
  static char addr[64], wedge[300];
  int port = qf_test_closed_port();
  snprintf(addr, sizeof addr, "QF_METRICS_ADDR=127.0.0.1:%d", port);
  snprintf(wedge, sizeof wedge, "QF_TEST_WEDGE_FILE=%s/wedge", T.dir);
  const char *env[8] = {addr, wedge, "QF_HEALTH_STALL_S=2"};
  for (size_t i = 0; more && more[i] && i < 4; i++)
    env[3 + i] = more[i];
  qf_wt_start_worker(&T, 0, env);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  snprintf(base, n, "http://127.0.0.1:%d", port);
}

static int get(const char *base, const char *path, qf_strbuf_t *body) {
  char url[128];
  snprintf(url, sizeof url, "%s%s", base, path);
  return qf_test_http_get(url, body);
}

/* The value of an unlabelled series (its line starts "name "), -1 if
 * absent. */
static double gauge(const char *text, const char *name) {
  char line[128];
  snprintf(line, sizeof line, "\n%s", name);
  const char *p = strstr(text, line);
  return p ? strtod(p + strlen(line), NULL) : -1;
}

Test(worker_ops, metrics_move_with_a_run) {
  char base[64];
  start_http(base, sizeof base, NULL);
  qf_strbuf_t b;
  cr_assert_eq(get(base, "/metrics", &b), 200, "%s", b.data);
  cr_expect(strstr(b.data, "# TYPE qf_decisions_total counter") != NULL);
  cr_expect(strstr(b.data, "qf_build_info{version=") != NULL, "%s", b.data);
  cr_expect(strstr(b.data, "qf_decisions_total{") == NULL,
            "a decision before any run");
  qf_strbuf_fini(&b);
  const char *body =
      qf_wt_request("run the unit tests", "tests/passing", 0, 60);
  qf_wt_publish(&T, body, strlen(body), "metrics-1", "metrics-1", NULL);
  cJSON *d[1];
  cr_assert_eq(qf_wt_decisions(&T, d, 1, 60), 1, "%s", qf_wt_log_tail(&T, 0));
  cJSON_Delete(d[0]);
  qf_wt_wait_log(&T, 0, 1, 30, "\"event\":\"delivery.acked\"", NULL);
  cr_assert_eq(get(base, "/metrics", &b), 200);
  const char *want[] = {
      "qf_decisions_total{decision=\"PASS\",decided_by=\"gate\"} 1\n",
      "qf_deliveries_total{outcome=\"acked\"} 1\n",
      "qf_run_duration_seconds_count{decision=\"PASS\"} 1\n",
      "qf_node_duration_seconds_count{node=\"execute\"} 1\n",
      ("qf_tool_duration_seconds_count{tool=\"run_pytest\",status=\"success\"}"
       " 1\n"),
      "qf_publish_confirm_seconds_count 1\n",
      "qf_db_commit_seconds_count 1\n"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cr_expect(strstr(b.data, want[i]) != NULL, "no %s in\n%s", want[i], b.data);
  /* Memory, now and at its peak: a few MiB, the peak at least the now. */
  double rss = gauge(b.data, "qf_process_resident_memory_bytes ");
  double peak = gauge(b.data, "qf_process_peak_resident_memory_bytes ");
  cr_expect(rss > 1 << 20 && rss < 1 << 30, "resident %.0f", rss);
  cr_expect(peak >= rss, "peak %.0f below resident %.0f", peak, rss);
  qf_strbuf_fini(&b);
  cr_expect_eq(get(base, "/readyz", &b), 200, "%s", b.data);
  qf_strbuf_fini(&b);
  cr_expect_eq(get(base, "/nothing", &b), 404);
  qf_strbuf_fini(&b);
  /* The worker needs no libcurl (only the approver loads it) and no
   * second copy of anything it pulls in. */
  cr_expect_eq(qf_test_maps(T.workers[0].pid, "libcurl"), 0);
  cr_expect_eq(qf_test_maps(T.workers[0].pid, "libnghttp2"), 0);
  /* Nor libgit2 after a run in a workspace that is no repository. */
  cr_expect_eq(qf_test_maps(T.workers[0].pid, "libgit2"), 0);
  cr_expect_eq(qf_test_maps(T.workers[0].pid, "libmbed"), 0);
  cr_expect_eq(qf_test_maps(T.workers[0].pid, "libpq"), 1, "the maps read");
}

Test(worker_ops, healthz_fails_while_the_loop_is_stuck) {
  char base[64], wedge[300];
  start_http(base, sizeof base, NULL);
  qf_strbuf_t b;
  cr_assert_eq(get(base, "/healthz", &b), 200, "%s", b.data);
  qf_strbuf_fini(&b);
  snprintf(wedge, sizeof wedge, "%s/wedge", T.dir);
  FILE *f = fopen(wedge, "w");
  cr_assert_not_null(f);
  fclose(f);
  int code = 200;
  for (int i = 0; i < 50 && code == 200; i++) {
    qf_test_sleep_ms(200);
    code = get(base, "/healthz", &b);
    qf_strbuf_fini(&b);
  }
  cr_expect_eq(code, 503, "a stuck loop still looks healthy");
  unlink(wedge);
  for (int i = 0; i < 50 && code != 200; i++) {
    qf_test_sleep_ms(200);
    code = get(base, "/healthz", &b);
    qf_strbuf_fini(&b);
  }
  cr_expect_eq(code, 200, "the loop came back and /healthz did not");
}

Test(worker_ops, a_bad_metrics_address_is_a_usage_error) {
  const char *env[] = {"QF_METRICS_ADDR=127.0.0.1:notaport", NULL};
  qf_wt_start_worker(&T, 0, env);
  cr_expect_eq(qf_wt_wait_exit(&T, 0, 30), 64, "%s", qf_wt_log_tail(&T, 0));
}

/* An operator tells replicas apart in the broker: each connection is
 * named after its worker (host:pid). */
Test(worker_ops, broker_connections_name_their_worker) {
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  const char *argv[] = {"bash",
                        QF_SOURCE_DIR "/deploy/local/services.sh",
                        "rabbitmqctl",
                        "list_connections",
                        "client_properties",
                        NULL};
  qf_test_proc_t p;
  qf_test_run(argv, NULL, 60, &p);
  cr_assert_eq(p.status, 0, "%s", p.err.data);
  char want[400];
  snprintf(want, sizeof want, "qf-worker-consumer %s", T.workers[0].id);
  cr_expect(strstr(p.out.data, want) != NULL, "no '%s' in:\n%s", want,
            p.out.data);
  snprintf(want, sizeof want, "qf-worker-publisher %s", T.workers[0].id);
  cr_expect(strstr(p.out.data, want) != NULL, "no '%s' in:\n%s", want,
            p.out.data);
  qf_test_proc_fini(&p);
}
