/* The human in the loop, end to end: real `qf worker` and `qf approver`
 * processes and `qf approve` / `qf reject` commands against the local
 * RabbitMQ and PostgreSQL, with login roles created per test (alice and
 * bob in qf_approver, an approver service login in qf_approver, eve in no
 * group; the worker logs in as the qf_worker role of worker_support).
 *
 * Approve and reject (final decision on <p>.decisions and on reply_to, who,
 * when and why in the database and the evidence), self-approval and
 * outsiders refused, 20 racing deciders, expiry by the approver, an approve
 * command that dies between its commit and its publish, and
 * hitl.stage before_execute (the tool runs only after the approval, once). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qf/db.h"
#include "support.h"
#include "worker_support.h"

static qf_wt_t T;

enum { ALICE, BOB, APPROVER, EVE, NROLES };
static char role[NROLES][96];
static char role_url[NROLES][600];

static char reply_q[QF_WORKER_NAME_MAX]; /* <p>.test.reply, the reply_to */

static pid_t approver_pid;
static char approver_log[256];

#define READY "\"event\":\"worker.ready\""
#define APPROVER_READY "\"event\":\"approver.ready\""

/* ------------------------------------------------------------- helpers */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static qf_db_t *connect_as(const char *url) {
  qf_db_t *db = NULL;
  qf_error_t err;
  cr_assert_eq(qf_db_connect(url, "qf-hitl-test", &db, &err), 0, "%s",
               err.message);
  return db;
}

/* Runs sql on the server as the administrator (roles are server-wide). */
static void admin_server(const char *sql) {
  qf_db_t *db = connect_as(qf_test_require_env("QF_DATABASE_URL"));
  qf_error_t err;
  int rc = qf_db_exec(db, sql, 0, NULL, NULL, &err);
  qf_db_free(db);
  cr_assert_eq(rc, 0, "%s: %s", sql, err.message);
}

static void make_role(int i, const char *tag, const char *group) {
  char sql[512], pw[128];
  snprintf(role[i], sizeof role[i], "%s_%s", T.prefix, tag);
  snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role[i]);
  admin_server(sql);
  snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN PASSWORD 'pw-%s'%s%s",
           role[i], role[i], group ? " IN ROLE " : "", group ? group : "");
  admin_server(sql);
  snprintf(pw, sizeof pw, "pw-%s", role[i]);
  qf_test_db_url_as(T.db_url, role[i], pw, role_url[i], sizeof role_url[i]);
}

static qf_amqp_t *amqp_plain(void) {
  qf_amqp_opts_t o = {.url = qf_test_require_env("QF_AMQP_URL"),
                      .connection_name = "qf-hitl-test"};
  qf_amqp_t *c = NULL;
  qf_error_t err;
  cr_assert_eq(qf_amqp_connect(&o, &c, &err), 0, "%s", err.message);
  return c;
}

static void setup(void) {
  qf_wt_init(&T);
  make_role(ALICE, "alice", "qf_approver");
  make_role(BOB, "bob", "qf_approver");
  make_role(APPROVER, "apv", "qf_approver");
  make_role(EVE, "eve", NULL);
  /* The requests' reply_to: a durable queue the test owns. */
  snprintf(reply_q, sizeof reply_q, "%s.test.reply", T.prefix);
  qf_amqp_t *c = amqp_plain();
  qf_error_t err;
  cr_assert_eq(qf_amqp_declare_queue(c, reply_q, 0, NULL, NULL, &err), 0, "%s",
               err.message);
  qf_amqp_free(c);
}

static int reap_approver(int timeout_ms) {
  for (int waited = 0;; waited += 50) {
    int st = 0;
    pid_t r = waitpid(approver_pid, &st, WNOHANG);
    if (r == approver_pid) {
      approver_pid = 0;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    if (r < 0 && errno != EINTR) {
      approver_pid = 0;
      return -1;
    }
    if (waited >= timeout_ms) return -2;
    sleep_ms(50);
  }
}

/* SIGTERM, up to 15 s, then SIGKILL. The exit status, -2 if killed. */
static int stop_approver(void) {
  if (approver_pid <= 0) return -1;
  kill(approver_pid, SIGTERM);
  int st = reap_approver(15000);
  if (st == -2) {
    kill(approver_pid, SIGKILL);
    (void)reap_approver(10000);
    approver_pid = 0;
  }
  return st;
}

static void teardown(void) {
  if (T.prefix[0] == '\0') return;
  (void)stop_approver();
  if (reply_q[0]) {
    qf_amqp_t *c = amqp_plain();
    qf_error_t err;
    if (qf_amqp_delete_queue(c, reply_q, &err) < 0)
      fprintf(stderr, "delete queue %s: %s\n", reply_q, err.message);
    qf_amqp_free(c);
    reply_q[0] = '\0';
  }
  qf_wt_fini(&T); /* workers, queues, exchanges, database */
  char sql[128];
  for (int i = 0; i < NROLES; i++) {
    if (role[i][0] == '\0') continue;
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %.63s", role[i]);
    admin_server(sql);
    role[i][0] = '\0';
  }
}

TestSuite(hitl, .init = setup, .fini = teardown, .timeout = 240);

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static int is_final(const cJSON *d) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "final"));
}

static int has_rule(const cJSON *d, const char *rule) {
  const cJSON *r;
  cJSON_ArrayForEach(r,
                     cJSON_GetObjectItemCaseSensitive(d, "triggered_rules")) {
    if (cJSON_IsString(r) && strcmp(r->valuestring, rule) == 0) return 1;
  }
  return 0;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  cr_assert_not_null(buf);
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = '\0';
  fclose(f);
  return buf;
}

static int count_lines_with(const char *text, const char *needle) {
  int n = 0;
  for (const char *line = text; line && *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char *copy = strndup(line, len);
    n += strstr(copy, needle) != NULL;
    free(copy);
    line += len + (nl != NULL);
  }
  return n;
}

static const char *approver_tail(void) {
  static char tail[3100];
  char *log = read_file(approver_log);
  size_t n = log ? strlen(log) : 0;
  snprintf(tail, sizeof tail, "%s",
           log ? (n > 3000 ? log + n - 3000 : log) : "(no approver log)");
  free(log);
  return tail;
}

static int approver_count_log(const char *needle) {
  char *log = read_file(approver_log);
  int n = count_lines_with(log, needle);
  free(log);
  return n;
}

/* Worker 0's log and the approver's, tails, for assertion messages. */
static const char *logs(void) {
  static char buf[6600];
  char w[3200];
  snprintf(w, sizeof w, "%s", qf_wt_log_tail(&T, 0));
  snprintf(buf, sizeof buf, "--- worker 0:\n%s\n--- approver:\n%s", w,
           approver_log[0] ? approver_tail() : "(not started)");
  return buf;
}

static void start_worker(const char *policy) {
  char e_policy[400];
  snprintf(e_policy, sizeof e_policy, "QF_POLICY=%s", policy);
  const char *extra[] = {policy ? e_policy : NULL, NULL};
  qf_wt_start_worker(&T, 0, extra);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
}

/* `qf approver` as the approver service login, with the test's topology;
 * waits until it consumes <p>.hitl. */
static void start_approver(int sweep_s) {
  cr_assert_eq(approver_pid, 0);
  snprintf(approver_log, sizeof approver_log, "%s/approver.log", T.dir);
  char sweep[16];
  snprintf(sweep, sizeof sweep, "%d", sweep_s);
  pid_t parent = getpid();
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    int log = open(approver_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int devnull = open("/dev/null", O_RDONLY);
    if (log < 0 || devnull < 0) _exit(127);
    dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    setenv("QF_DATABASE_URL", role_url[APPROVER], 1);
    setenv("QF_TOPOLOGY_PREFIX", T.prefix, 1);
    setenv("QF_APPROVER_SWEEP_S", sweep, 1);
    setenv("QF_MAX_BACKOFF_S", "2", 1);
    setenv("QF_LOG_LEVEL", "info", 1);
    unsetenv("QF_APPROVER_WEBHOOK");
    execl(QF_TEST_BIN, "qf", "approver", (char *)NULL);
    dprintf(2, "exec %s: %s\n", QF_TEST_BIN, strerror(errno));
    _exit(127);
  }
  approver_pid = pid;
  for (int i = 0; i < 600; i++) {
    if (approver_count_log(APPROVER_READY) > 0) return;
    cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "the approver exited:\n%s",
                 approver_tail());
    sleep_ms(100);
  }
  cr_assert_fail("the approver is not ready after 60 s:\n%s", approver_tail());
}

/* A copy of the shipped policy with the hitl stage and expiry changed
 * (the keywords stay); returns its path (static buffer). */
static const char *write_policy(const char *stage, int expires_after_s) {
  static char path[256];
  char *text = read_file(QF_SOURCE_DIR "/policy/default.yaml");
  cr_assert_not_null(text);
  const char *k_stage = "stage: after_execute";
  const char *k_exp = "expires_after_s: 86400";
  char *s = strstr(text, k_stage), *e = strstr(text, k_exp);
  cr_assert(s && e && s < e, "policy/default.yaml changed: no '%s' / '%s'",
            k_stage, k_exp);
  snprintf(path, sizeof path, "%s/policy.yaml", T.dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f, "%.*s", (int)(s - text), text);
  fprintf(f, "stage: %s", stage);
  s += strlen(k_stage);
  fprintf(f, "%.*s", (int)(e - s), s);
  fprintf(f, "expires_after_s: %d", expires_after_s);
  fputs(e + strlen(k_exp), f);
  fclose(f);
  free(text);
  return path;
}

/* Runs `qf ARGS...` as login role who (its own QF_DATABASE_URL), with the
 * test's topology; amqp_url NULL: the local broker. */
static void qf_as_url(const char *db_url, const char *amqp_url,
                      const char *const *args, qf_test_proc_t *p) {
  char e_db[700], e_amqp[600], e_prefix[128];
  snprintf(e_db, sizeof e_db, "QF_DATABASE_URL=%s", db_url);
  snprintf(e_amqp, sizeof e_amqp, "QF_AMQP_URL=%s",
           amqp_url ? amqp_url : qf_test_require_env("QF_AMQP_URL"));
  snprintf(e_prefix, sizeof e_prefix, "QF_TOPOLOGY_PREFIX=%s", T.prefix);
  const char *const env[] = {e_db,
                             e_amqp,
                             e_prefix,
                             "QF_POLICY=" QF_SOURCE_DIR "/policy/default.yaml",
                             "QF_PUBLISH_TIMEOUT_S=10",
                             NULL};
  const char *argv[16] = {QF_TEST_BIN};
  size_t n = 1;
  for (size_t i = 0; args[i] && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  qf_test_run(argv, env, 120, p);
}

static void qf_as(int who, const char *amqp_url, const char *const *args,
                  qf_test_proc_t *p) {
  qf_as_url(role_url[who], amqp_url, args, p);
}

/* A high-risk request ("production") that runs pytest on test_path. */
static void publish_request(const char *tag, const char *requested_by,
                            const char *test_path, const char *reply_to,
                            char *run_id, char *corr, size_t corr_n) {
  char body[1024], mid[128];
  snprintf(body, sizeof body,
           "{\"nl_input\":\"smoke test production login\","
           "\"workspace\":\"demo\",\"requested_by\":\"%s\","
           "\"options\":{\"tool_name\":\"run_pytest\",\"args\":"
           "{\"test_path\":\"%s\"},\"timeout_s\":60,\"dry_run\":false}}",
           requested_by, test_path);
  snprintf(mid, sizeof mid, "%s-%s", T.prefix, tag);
  snprintf(corr, corr_n, "corr-%s-%s", tag, T.prefix);
  qf_wt_run_id(mid, run_id);
  qf_wt_publish(&T, body, strlen(body), mid, corr, reply_to);
}

/* Waits for the NEED_HITL decision of run_id on the test's decisions
 * queue; returns its approval id (into id, 37 bytes). */
static void wait_need_hitl(const char *run_id, char *id) {
  cJSON *d[1];
  cr_assert_eq(qf_wt_decisions(&T, d, 1, 90), 1, "no NEED_HITL\n%s", logs());
  cr_assert_str_eq(str(d[0], "run_id"), run_id);
  cr_assert_str_eq(str(d[0], "decision"), "NEED_HITL", "%s\n%s",
                   str(d[0], "reason"), logs());
  cr_assert(!is_final(d[0]));
  snprintf(id, QF_UUID_STR_LEN + 1, "%s", str(d[0], "approval_id"));
  cJSON_Delete(d[0]);
  cr_assert(qf_uuid_is_valid(id), "approval_id '%s'", id);
}

/* Drains the test's decisions queue for secs seconds (or until the first
 * final decision of run_id when stop_at_first): the final decisions of
 * run_id, the first kept in *first (may be NULL; caller cJSON_Delete). */
static int final_decisions(const char *run_id, int secs, int stop_at_first,
                           cJSON **first) {
  time_t deadline = time(NULL) + secs;
  int n = 0;
  if (first) *first = NULL;
  while (time(NULL) < deadline) {
    cJSON *d[1];
    int left = (int)(deadline - time(NULL));
    if (qf_wt_decisions(&T, d, 1, left > 0 ? left : 1) != 1) break;
    if (strcmp(str(d[0], "run_id"), run_id) == 0 && is_final(d[0])) {
      n++;
      if (first && *first == NULL) {
        *first = d[0];
        d[0] = NULL;
      }
    }
    cJSON_Delete(d[0]);
    if (stop_at_first && n > 0) break;
  }
  return n;
}

/* The first final decision of run_id within timeout_s, then no other one
 * for settle_s more seconds. */
static cJSON *one_final_decision(const char *run_id, int timeout_s,
                                 int settle_s) {
  cJSON *d = NULL;
  int n = final_decisions(run_id, timeout_s, 1, &d);
  cr_assert_eq(n, 1, "no final decision for %s\n%s", run_id, logs());
  int more = final_decisions(run_id, settle_s, 0, NULL);
  cr_expect_eq(more, 0, "%d more final decisions for %s\n%s", more, run_id,
               logs());
  return d;
}

/* A value from the test's database: sql with $1 replaced by uuid
 * (checked to be a UUID), quoted. */
static const char *q1(const char *sql, const char *uuid) {
  cr_assert(qf_uuid_is_valid(uuid), "'%s'", uuid);
  char out[1024];
  const char *at = strstr(sql, "$1");
  cr_assert_not_null(at, "%s", sql);
  snprintf(out, sizeof out, "%.*s'%s'%s", (int)(at - sql), sql, uuid, at + 2);
  return qf_wt_query(&T, out);
}

static int q1_int(const char *sql, const char *uuid) {
  return atoi(q1(sql, uuid));
}

/* The approval of run_id's column (as text, "NULL" for SQL NULL). */
static const char *approval_col(const char *id, const char *col) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT coalesce(%s::text, 'NULL') FROM approvals WHERE id = "
           "$1",
           col);
  return q1(sql, id);
}

static int events(const char *run_id, const char *event) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM run_events WHERE run_id = $1 AND event "
           "= '%s'",
           event);
  return q1_int(sql, run_id);
}

/* The end of a test: the approver and the worker stop cleanly on SIGTERM
 * (exit 0), and neither reported a sanitizer finding in its log. */
static void finish(void) {
  const char *bad[] = {"AddressSanitizer", "LeakSanitizer", "runtime error:"};
  if (approver_pid > 0) {
    int st = stop_approver();
    cr_expect_eq(st, 0, "the approver's exit status %d\n%s", st, logs());
  }
  if (approver_log[0])
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
      cr_expect_eq(approver_count_log(bad[i]), 0, "%s", approver_tail());
  int st = qf_wt_stop_worker(&T, 0, SIGTERM, 40);
  cr_expect_eq(st, 0, "the worker's exit status %d\n%s", st, logs());
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_expect_eq(qf_wt_count_log(&T, 0, bad[i], NULL), 0, "%s",
                 qf_wt_log_tail(&T, 0));
}

/* ------------------------------------------------------------ 1 approve */

Test(hitl, alice_approves_and_the_run_passes_on_decisions_and_reply_to) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128];
  publish_request("approve", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);

  /* NEED_HITL on <p>.hitl (the approver's queue; no approver runs yet). */
  qf_amqp_message_t m;
  cr_assert_eq(qf_wt_get(&T, T.topo.hitl, &m, 1, 90), 1, "nothing on %s\n%s",
               T.topo.hitl, logs());
  cJSON *need = cJSON_ParseWithLength(m.body, m.body_len);
  cr_assert_not_null(need, "%s", m.body);
  cr_expect_str_eq(m.routing_key, "decision.need_hitl");
  cr_expect_str_eq(m.correlation_id, corr);
  qf_amqp_message_fini(&m);
  cr_assert_str_eq(str(need, "decision"), "NEED_HITL", "%s",
                   str(need, "reason"));
  cr_expect_str_eq(str(need, "run_id"), run_id);
  cr_expect_str_eq(str(need, "correlation_id"), corr);
  cr_expect(!is_final(need));
  cr_expect_str_eq(str(need, "decided_by"), "gate");
  cr_expect(has_rule(need, "high_risk_keyword:production"));
  char id[QF_UUID_STR_LEN + 1];
  snprintf(id, sizeof id, "%s", str(need, "approval_id"));
  cr_assert(qf_uuid_is_valid(id), "approval_id '%s'", id);
  cJSON_Delete(need);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.hitl), 0);

  /* The same NEED_HITL on the decisions exchange. */
  char id2[QF_UUID_STR_LEN + 1];
  wait_need_hitl(run_id, id2);
  cr_expect_str_eq(id2, id);

  /* The run is parked, the delivery acked, the approval pending. */
  cr_expect_str_eq(q1("SELECT status FROM runs WHERE run_id = $1", run_id),
                   "awaiting_approval");
  cr_expect_str_eq(approval_col(id, "status"), "pending");
  cr_expect_str_eq(approval_col(id, "run_id"), run_id);
  cr_expect_str_eq(approval_col(id, "requested_by"), "ci-bot");
  cr_expect_str_eq(approval_col(id, "decided_by"), "NULL");
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0, "nothing held open");

  const char *args[] = {"approve", id, "--comment", "ok", NULL};
  qf_test_proc_t p;
  qf_as(ALICE, NULL, args, &p);
  cr_assert_eq(p.status, 0, "qf approve: %s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.out.data, "approved by") != NULL, "%s", p.out.data);
  cr_expect(strstr(p.out.data, "resume published") != NULL, "%s", p.out.data);
  qf_test_proc_fini(&p);

  /* The final PASS on <p>.decisions, once. */
  cJSON *fin = one_final_decision(run_id, 60, 3);
  cr_expect_str_eq(str(fin, "decision"), "PASS", "%s", str(fin, "reason"));
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cr_expect_str_eq(str(fin, "approval_id"), id);
  cr_expect_str_eq(str(fin, "correlation_id"), corr);
  char want[256];
  snprintf(want, sizeof want, "approved by %s: ok", role[ALICE]);
  cr_expect_str_eq(str(fin, "reason"), want);
  cr_expect(has_rule(fin, "high_risk_keyword:production"));
  cr_expect(has_rule(fin, "approval:approved"));
  char evidence_path[1024];
  snprintf(evidence_path, sizeof evidence_path, "%s",
           str(fin, "evidence_path"));
  cJSON_Delete(fin);

  /* reply_to got the NEED_HITL, then the final PASS, with the request's
   * correlation_id. */
  qf_amqp_message_t r[3];
  cr_assert_eq(qf_wt_get(&T, reply_q, r, 2, 30), 2, "reply_to\n%s", logs());
  cr_expect_eq(qf_wt_get(&T, reply_q, &r[2], 1, 2), 0, "a third reply");
  const char *want_dec[] = {"NEED_HITL", "PASS"};
  for (int i = 0; i < 2; i++) {
    cJSON *d = cJSON_ParseWithLength(r[i].body, r[i].body_len);
    cr_assert_not_null(d, "%s", r[i].body);
    cr_expect_str_eq(r[i].correlation_id, corr);
    cr_expect_str_eq(str(d, "run_id"), run_id);
    cr_expect_str_eq(str(d, "correlation_id"), corr);
    cr_expect_str_eq(str(d, "decision"), want_dec[i]);
    cr_expect_eq(is_final(d), i == 1);
    if (i == 1) cr_expect_str_eq(str(d, "decided_by"), "approval");
    cJSON_Delete(d);
    qf_amqp_message_fini(&r[i]);
  }

  /* Who, when and why, from the authenticated session user. */
  cr_expect_str_eq(approval_col(id, "status"), "approved");
  cr_expect_str_eq(approval_col(id, "decided_by"), role[ALICE]);
  cr_expect_str_eq(approval_col(id, "comment"), "ok");
  cr_expect_str_eq(approval_col(id, "reason"), "NULL");
  cr_expect_str_eq(
      q1("SELECT decided_at BETWEEN created_at AND now() FROM approvals "
         "WHERE id = $1",
         id),
      "t", "decided_at is set, after the approval was opened");
  cr_expect_str_eq(
      q1("SELECT resume_published_at >= decided_at FROM approvals WHERE id "
         "= $1",
         id),
      "t", "resume_published_at is set");
  snprintf(want, sizeof want, "%s ok", role[ALICE]);
  cr_expect_str_eq(q1("SELECT actor || ' ' || (data->>'comment') FROM "
                      "run_events WHERE run_id = $1 AND event = "
                      "'approved'",
                      run_id),
                   want);
  cr_expect_str_eq(q1("SELECT status || ' ' || decision || ' ' || decided_by "
                      "|| ' ' || final FROM runs WHERE run_id = $1",
                      run_id),
                   "decided PASS approval true");
  cr_expect_eq(events(run_id, "resolved"), 1);
  cr_expect_eq(events(run_id, "node.execute"), 1, "the tool ran once");

  /* The evidence records the approval too. */
  char *text = read_file(evidence_path);
  cr_assert_not_null(text, "evidence '%s'", evidence_path);
  cJSON *ev = cJSON_Parse(text);
  free(text);
  cr_assert_not_null(ev);
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(ev, "governance");
  cr_expect_str_eq(str(g, "approver"), role[ALICE]);
  cr_expect_str_eq(str(g, "approval_comment"), "ok");
  cr_expect_str_eq(str(g, "decision_source"), "approval");
  cJSON_Delete(ev);
  qf_test_assert_evidence_valid(evidence_path);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
  finish();
}

/* ------------------------------------------------------------- 2 reject */

Test(hitl, bob_rejects_with_a_reason_and_the_run_fails) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  publish_request("reject", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);
  const char *reason = "not during the release freeze";
  const char *args[] = {"reject", id, "--reason", reason, NULL};
  qf_test_proc_t p;
  qf_as(BOB, NULL, args, &p);
  cr_assert_eq(p.status, 0, "qf reject: %s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);

  cJSON *fin = one_final_decision(run_id, 60, 3);
  cr_expect_str_eq(str(fin, "decision"), "FAIL", "%s", str(fin, "reason"));
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cr_expect(strstr(str(fin, "reason"), reason) != NULL, "reason '%s'",
            str(fin, "reason"));
  cr_expect(strstr(str(fin, "reason"), role[BOB]) != NULL, "reason '%s'",
            str(fin, "reason"));
  cr_expect(has_rule(fin, "approval:rejected"));
  cr_expect_str_eq(str(fin, "correlation_id"), corr);
  cJSON_Delete(fin);

  cr_expect_str_eq(approval_col(id, "status"), "rejected");
  cr_expect_str_eq(approval_col(id, "decided_by"), role[BOB]);
  cr_expect_str_eq(approval_col(id, "reason"), reason);
  cr_expect_str_neq(approval_col(id, "decided_at"), "NULL");
  cr_expect_str_neq(approval_col(id, "resume_published_at"), "NULL");
  cr_expect_str_eq(q1("SELECT status || ' ' || decision || ' ' || decided_by "
                      "FROM runs WHERE run_id = $1",
                      run_id),
                   "decided FAIL approval");
  cr_expect_eq(events(run_id, "rejected"), 1);
  cr_expect_eq(events(run_id, "resolved"), 1);

  /* The reply_to's last message is the final FAIL. */
  qf_amqp_message_t r[2];
  cr_assert_eq(qf_wt_get(&T, reply_q, r, 2, 30), 2, "%s", logs());
  cJSON *d = cJSON_ParseWithLength(r[1].body, r[1].body_len);
  cr_expect_str_eq(str(d, "decision"), "FAIL");
  cr_expect_str_eq(r[1].correlation_id, corr);
  cJSON_Delete(d);
  qf_amqp_message_fini(&r[0]);
  qf_amqp_message_fini(&r[1]);
  finish();
}

/* ------------------------------------------------------------ 3 refused */

Test(hitl, self_approval_outsiders_and_the_worker_role_are_refused) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  /* alice asks for the run herself. */
  publish_request("self", role[ALICE], "tests/passing", NULL, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);
  cr_assert_str_eq(approval_col(id, "requested_by"), role[ALICE]);

  qf_test_proc_t p;
  const char *approve[] = {"approve", id, "--comment", "mine", NULL};
  qf_as(ALICE, NULL, approve, &p);
  cr_expect_eq(p.status, 1, "self-approval: %s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.err.data, "requested by") != NULL &&
                strstr(p.err.data, "prevent_self_approval") != NULL,
            "%s", p.err.data);
  qf_test_proc_fini(&p);
  const char *reject[] = {"reject", id, "--reason", "mine", NULL};
  qf_as(ALICE, NULL, reject, &p);
  cr_expect_eq(p.status, 1, "self-rejection: %s", p.err.data);
  qf_test_proc_fini(&p);

  /* A login in no group, and the worker's login. */
  qf_as(EVE, NULL, approve, &p);
  cr_expect_eq(p.status, 1, "%s", p.err.data);
  cr_expect(strstr(p.err.data, "is not a member of qf_approver") != NULL, "%s",
            p.err.data);
  qf_test_proc_fini(&p);
  qf_as_url(T.worker_db_url, NULL, approve, &p);
  cr_expect_eq(p.status, 1, "%s", p.err.data);
  cr_expect(strstr(p.err.data, "is not a member of qf_approver") != NULL, "%s",
            p.err.data);
  qf_test_proc_fini(&p);

  /* The worker's login cannot decide by hand-written SQL either. */
  qf_db_t *w = connect_as(T.worker_db_url);
  qf_error_t err;
  const char *const param[] = {id};
  const char *attempts[] = {
      "UPDATE approvals SET status = 'approved' WHERE id = $1",
      "UPDATE approvals SET status = 'rejected', reason = 'x', decided_by = "
      "'ci', decided_at = now() WHERE id = $1",
      "UPDATE approvals SET comment = 'x' WHERE id = $1",
      "DELETE FROM approvals WHERE id = $1",
  };
  for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
    int rc = qf_db_exec(w, attempts[i], 1, param, NULL, &err);
    cr_expect_eq(rc, QF_EPERM, "%s: %s", attempts[i],
                 rc < 0 ? err.message : "succeeded");
    cr_expect(rc == 0 || strstr(err.message, "permission denied") != NULL, "%s",
              err.message);
  }
  int rc = qf_db_exec(w, "SET ROLE qf_approver", 0, NULL, NULL, &err);
  cr_expect_lt(rc, 0, "the worker's login may not become an approver");
  qf_db_free(w);

  /* Nothing changed, nothing was published, nothing resumed. */
  cr_expect_str_eq(approval_col(id, "status"), "pending");
  cr_expect_str_eq(approval_col(id, "decided_by"), "NULL");
  cr_expect_eq(q1_int("SELECT count(*) FROM run_events WHERE run_id = $1 "
                      "AND event IN ('approved', 'rejected', 'resolved')",
                      run_id),
               0);
  cr_expect_eq(final_decisions(run_id, 2, 0, NULL), 0);
  cr_expect_str_eq(q1("SELECT status FROM runs WHERE run_id = $1", run_id),
                   "awaiting_approval");

  /* Someone else may decide it. */
  const char *bob[] = {"approve", id, NULL};
  qf_as(BOB, NULL, bob, &p);
  cr_expect_eq(p.status, 0, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cJSON *fin = one_final_decision(run_id, 60, 1);
  cr_expect_str_eq(str(fin, "decision"), "PASS");
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cJSON_Delete(fin);
  cr_expect_str_eq(approval_col(id, "decided_by"), role[BOB]);
  finish();
}

/* ---------------------------------------------------------------- 4 race */

Test(hitl, twenty_racing_deciders_one_wins_one_final_decision) {
  enum { N = 20 };
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  publish_request("race", "ci-bot", "tests/passing", NULL, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);

  char dir[200];
  snprintf(dir, sizeof dir, "%s/race", T.dir);
  cr_assert_eq(mkdir(dir, 0700), 0);
  pid_t pids[N];
  for (int i = 0; i < N; i++) {
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
      char path[256];
      snprintf(path, sizeof path, "%s/%d.err", dir, i);
      int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 2);
      snprintf(path, sizeof path, "%s/%d.out", dir, i);
      fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 1);
      /* Mixed: alice and bob, approving and rejecting. */
      int who = (i / 2) % 2 ? BOB : ALICE;
      setenv("QF_DATABASE_URL", role_url[who], 1);
      setenv("QF_TOPOLOGY_PREFIX", T.prefix, 1);
      setenv("QF_POLICY", QF_SOURCE_DIR "/policy/default.yaml", 1);
      if (i % 2)
        execl(QF_TEST_BIN, "qf", "reject", id, "--reason", "race", (char *)0);
      else
        execl(QF_TEST_BIN, "qf", "approve", id, "--comment", "race", (char *)0);
      _exit(127);
    }
    pids[i] = pid;
  }
  int wins = 0, already = 0, winner = -1;
  for (int i = 0; i < N; i++) {
    int st = 0;
    cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
    cr_assert(WIFEXITED(st), "decider %d died", i);
    char path[256], buf[2048];
    snprintf(path, sizeof path, "%s/%d.err", dir, i);
    qf_test_slurp(path, buf, sizeof buf);
    if (WEXITSTATUS(st) == 0) {
      wins++;
      winner = i;
    } else {
      cr_expect_eq(WEXITSTATUS(st), 1, "decider %d: %s", i, buf);
      if (strstr(buf, " is already approved by ") ||
          strstr(buf, " is already rejected by "))
        already++;
      else
        cr_expect_fail("loser %d says: %s", i, buf);
    }
  }
  cr_assert_eq(wins, 1, "%d winners", wins);
  cr_expect_eq(already, N - 1);

  const char *status = approval_col(id, "status");
  int approved = strcmp(status, "approved") == 0;
  cr_expect_eq(approved, winner % 2 == 0, "winner %d, status %s", winner,
               status);
  cr_expect_str_eq(approval_col(id, "decided_by"),
                   role[(winner / 2) % 2 ? BOB : ALICE]);

  /* Exactly one final decision over a few seconds. */
  cJSON *fin = one_final_decision(run_id, 60, 4);
  cr_expect_str_eq(str(fin, "decision"), approved ? "PASS" : "FAIL");
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cJSON_Delete(fin);
  cr_expect_eq(q1_int("SELECT count(*) FROM run_events WHERE run_id = $1 "
                      "AND event IN ('approved', 'rejected')",
                      run_id),
               1);
  cr_expect_eq(events(run_id, "resolved"), 1);
  cr_expect_str_eq(q1("SELECT status || ' ' || decision FROM runs WHERE "
                      "run_id = $1",
                      run_id),
                   approved ? "decided PASS" : "decided FAIL");
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"run.resolved\"", NULL), 1,
               "%s", logs());
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
  finish();
}

/* -------------------------------------------------------------- 5 expiry */

Test(hitl, an_undecided_approval_is_expired_by_the_approver) {
  const char *policy = write_policy("after_execute", 2);
  start_worker(policy);
  start_approver(1);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  publish_request("expiry", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);
  cr_expect_eq(
      q1_int("SELECT round(extract(epoch FROM expires_at - created_at)) FROM "
             "approvals WHERE id = $1",
             id),
      2, "hitl.expires_after_s");

  cJSON *fin = one_final_decision(run_id, 30, 3);
  cr_expect_str_eq(str(fin, "decision"), "FAIL", "%s", str(fin, "reason"));
  cr_expect_str_eq(str(fin, "decided_by"), "expiry");
  cr_expect(strstr(str(fin, "reason"), "expired") != NULL, "%s",
            str(fin, "reason"));
  cr_expect(has_rule(fin, "approval:expired"));
  cr_expect_str_eq(str(fin, "correlation_id"), corr);
  char evidence_path[1024];
  snprintf(evidence_path, sizeof evidence_path, "%s",
           str(fin, "evidence_path"));
  cJSON_Delete(fin);
  /* The evidence: expiry decided, nobody approved. */
  char *ev_text = read_file(evidence_path);
  cr_assert_not_null(ev_text, "evidence '%s'", evidence_path);
  cJSON *ev = cJSON_Parse(ev_text);
  free(ev_text);
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(ev, "governance");
  cr_expect_str_eq(str(g, "decision_source"), "expiry");
  cr_expect(!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(g, "approver")),
            "no approver for an expired approval");
  cJSON_Delete(ev);
  qf_test_assert_evidence_valid(evidence_path);

  cr_expect_str_eq(approval_col(id, "status"), "expired");
  cr_expect_str_eq(approval_col(id, "decided_by"), "expiry");
  cr_expect_str_neq(approval_col(id, "resume_published_at"), "NULL");
  cr_expect_str_eq(q1("SELECT status || ' ' || decision || ' ' || decided_by "
                      "FROM runs WHERE run_id = $1",
                      run_id),
                   "decided FAIL expiry");
  cr_expect_eq(events(run_id, "expired"), 1);
  cr_expect_eq(events(run_id, "resolved"), 1);
  cr_expect_eq(approver_count_log("\"event\":\"approval.needed\""), 1, "%s",
               logs());
  cr_expect_eq(approver_count_log("\"event\":\"approval.expired\""), 1, "%s",
               logs());
  cr_expect_eq(approver_count_log("\"event\":\"resume.published\""), 1, "%s",
               logs());

  /* Too late for alice: refused, nothing changes. */
  const char *args[] = {"approve", id, NULL};
  qf_test_proc_t p;
  qf_as(ALICE, NULL, args, &p);
  cr_expect_eq(p.status, 1, "%s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.err.data, "expire") != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(id, "status"), "expired");
  cr_expect_eq(final_decisions(run_id, 2, 0, NULL), 0);

  finish();
}

/* ------------------------------------------- 6 approve dies after commit */

Test(hitl, a_resume_lost_after_the_commit_is_published_by_the_approver) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  publish_request("lost", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);

  char amqp[128];
  snprintf(amqp, sizeof amqp, "amqp://guest:guest@127.0.0.1:%d/",
           qf_test_closed_port());
  const char *args[] = {"approve", id, "--comment", "ok", NULL};
  qf_test_proc_t p;
  qf_as(ALICE, amqp, args, &p);
  cr_assert_eq(p.status, 3, "%s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.err.data, "decision stands") != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(id, "status"), "approved");
  cr_expect_str_eq(approval_col(id, "decided_by"), role[ALICE]);
  cr_expect_str_eq(approval_col(id, "resume_published_at"), "NULL");
  /* No resume went out: the run stays parked. */
  cr_expect_eq(final_decisions(run_id, 2, 0, NULL), 0);
  cr_expect_str_eq(q1("SELECT status FROM runs WHERE run_id = $1", run_id),
                   "awaiting_approval");

  start_approver(1);
  cJSON *fin = one_final_decision(run_id, 30, 4);
  cr_expect_str_eq(str(fin, "decision"), "PASS", "%s", str(fin, "reason"));
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cr_expect_str_eq(str(fin, "correlation_id"), corr);
  cJSON_Delete(fin);
  cr_expect_str_neq(approval_col(id, "resume_published_at"), "NULL");
  cr_expect_eq(approver_count_log("\"event\":\"resume.published\""), 1, "%s",
               logs());
  cr_expect_eq(events(run_id, "resolved"), 1);
  cr_expect_str_eq(q1("SELECT status || ' ' || decision FROM runs WHERE "
                      "run_id = $1",
                      run_id),
                   "decided PASS");
  /* reply_to: NEED_HITL, then the one final decision. */
  qf_amqp_message_t r[3];
  cr_expect_eq(qf_wt_get(&T, reply_q, r, 3, 3), 2);
  for (int i = 0; i < 2; i++)
    qf_amqp_message_fini(&r[i]);
  finish();
}

/* ------------------------------------------------------ 7 before_execute */

/* A worker with hitl.stage before_execute and a high-risk request whose
 * pytest test appends a line to marker (an absolute path: the sandbox
 * passes only whitelisted variables) each time it runs; returns once the
 * run is parked, having checked that the tool has not run. corr gets
 * the request's correlation id (128 bytes). */
static void park_before_execute(const char *tag, char *marker, size_t n,
                                char *run_id, char *id, char *corr) {
  char test_py[768];
  snprintf(marker, n, "%s/marker.txt", T.dir);
  snprintf(test_py, sizeof test_py,
           "\"\"\"Leaves a trace of each run.\"\"\"\n\n\n"
           "def test_marker():\n"
           "    with open(\"%s\", \"a\") as f:\n"
           "        f.write(\"ran\\n\")\n",
           marker);
  qf_wt_write_demo_file(&T, "tests/marker/test_marker.py", test_py);
  start_worker(write_policy("before_execute", 3600));
  publish_request(tag, "ci-bot", "tests/marker", reply_q, run_id, corr, 128);
  wait_need_hitl(run_id, id);
  cr_expect_str_eq(approval_col(id, "stage"), "before_execute");
  cr_expect_str_eq(q1("SELECT status FROM runs WHERE run_id = $1", run_id),
                   "awaiting_approval");
  sleep_ms(500);
  struct stat sb;
  cr_expect(stat(marker, &sb) < 0 && errno == ENOENT,
            "the tool ran before the approval");
  cr_expect_eq(events(run_id, "node.execute"), 0);
}

Test(hitl, before_execute_runs_the_tool_only_after_the_approval_once) {
  char marker[256], run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1];
  char corr[128];
  park_before_execute("before", marker, sizeof marker, run_id, id, corr);

  const char *args[] = {"approve", id, "--comment", "go", NULL};
  qf_test_proc_t p;
  qf_as(ALICE, NULL, args, &p);
  cr_assert_eq(p.status, 0, "%s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);

  cJSON *fin = one_final_decision(run_id, 60, 3);
  char *rules = cJSON_PrintUnformatted(
      cJSON_GetObjectItemCaseSensitive(fin, "triggered_rules"));
  cr_expect_str_eq(str(fin, "decision"), "PASS", "%s %s", str(fin, "reason"),
                   rules);
  cr_expect(has_rule(fin, "high_risk_keyword:production:approved"), "%s",
            rules);
  cr_expect_str_eq(str(fin, "correlation_id"), corr);
  char evidence_path[1024];
  snprintf(evidence_path, sizeof evidence_path, "%s",
           str(fin, "evidence_path"));
  free(rules);
  cJSON_Delete(fin);

  char *text = read_file(marker);
  cr_assert_not_null(text, "the tool never ran\n%s", logs());
  cr_expect_str_eq(text, "ran\n", "the tool ran exactly once");
  free(text);
  cr_expect_eq(events(run_id, "node.execute"), 1);
  cr_expect_eq(events(run_id, "resumed"), 1);
  cr_expect_str_eq(approval_col(id, "decided_by"), role[ALICE]);
  cr_expect_str_eq(q1("SELECT status || ' ' || decision FROM runs WHERE "
                      "run_id = $1",
                      run_id),
                   "decided PASS");
  char *ev_text = read_file(evidence_path);
  cr_assert_not_null(ev_text, "evidence '%s'", evidence_path);
  cJSON *ev = cJSON_Parse(ev_text);
  free(ev_text);
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(ev, "governance");
  cr_expect_str_eq(str(g, "approver"), role[ALICE]);
  cr_expect_str_eq(str(g, "approval_comment"), "go");
  cJSON_Delete(ev);
  qf_test_assert_evidence_valid(evidence_path);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
  finish();
}

Test(hitl, before_execute_rejected_never_runs_the_tool) {
  char marker[256], run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1];
  char corr[128];
  park_before_execute("before-no", marker, sizeof marker, run_id, id, corr);
  const char *args[] = {"reject", id, "--reason", "not today", NULL};
  qf_test_proc_t p;
  qf_as(BOB, NULL, args, &p);
  cr_assert_eq(p.status, 0, "%s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);
  cJSON *fin = one_final_decision(run_id, 60, 2);
  cr_expect_str_eq(str(fin, "decision"), "FAIL", "%s", str(fin, "reason"));
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cr_expect(strstr(str(fin, "reason"), "not today") != NULL, "%s",
            str(fin, "reason"));
  cJSON_Delete(fin);
  struct stat sb;
  cr_expect(stat(marker, &sb) < 0 && errno == ENOENT,
            "a rejected run must never run the tool");
  cr_expect_eq(events(run_id, "node.execute"), 0);
  cr_expect_eq(events(run_id, "resolved"), 1);
  finish();
}
