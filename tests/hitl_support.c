/* hitl_support.c: see hitl_support.h. */
#include "hitl_support.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

qf_wt_t T;

char role[NROLES][96];
char role_url[NROLES][600];

char reply_q[QF_WORKER_NAME_MAX];

static pid_t approver_pid;
static char approver_log[256];

long approver_process(void) {
  return (long)approver_pid;
}

#define READY "\"event\":\"worker.ready\""
#define APPROVER_READY "\"event\":\"approver.ready\""

void sleep_ms(long ms) {
  qf_test_sleep_ms(ms);
}

qf_db_t *connect_as(const char *url) {
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

void hitl_setup(void) {
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

void hitl_teardown(void) {
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

const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

int is_final(const cJSON *d) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "final"));
}

int has_rule(const cJSON *d, const char *rule) {
  const cJSON *r;
  cJSON_ArrayForEach(r,
                     cJSON_GetObjectItemCaseSensitive(d, "triggered_rules")) {
    if (cJSON_IsString(r) && strcmp(r->valuestring, rule) == 0) return 1;
  }
  return 0;
}

char *read_file(const char *path) {
  return qf_test_read_all(path);
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

int approver_count_log(const char *needle) {
  char *log = read_file(approver_log);
  int n = count_lines_with(log, needle);
  free(log);
  return n;
}

const char *logs(void) {
  static char buf[6600];
  char w[3200];
  snprintf(w, sizeof w, "%s", qf_wt_log_tail(&T, 0));
  snprintf(buf, sizeof buf, "--- worker 0:\n%s\n--- approver:\n%s", w,
           approver_log[0] ? approver_tail() : "(not started)");
  return buf;
}

void start_worker(const char *policy) {
  char e_policy[400];
  snprintf(e_policy, sizeof e_policy, "QF_POLICY=%s", policy);
  const char *extra[] = {policy ? e_policy : NULL, NULL};
  qf_wt_start_worker(&T, 0, extra);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
}

void start_approver(int sweep_s) {
  start_approver_env(sweep_s, NULL);
}

void start_approver_env(int sweep_s, const char *const *extra) {
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
    for (size_t k = 0; extra && extra[k]; k++) {
      const char *eq = strchr(extra[k], '=');
      char key[128];
      if (eq == NULL || eq - extra[k] >= (long)sizeof key) continue;
      snprintf(key, sizeof key, "%.*s", (int)(eq - extra[k]), extra[k]);
      setenv(key, eq + 1, 1);
    }
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

const char *write_policy(const char *stage, int expires_after_s) {
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

void qf_as_url(const char *db_url, const char *amqp_url,
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

void qf_as(int who, const char *amqp_url, const char *const *args,
           qf_test_proc_t *p) {
  qf_as_url(role_url[who], amqp_url, args, p);
}

void publish_request(const char *tag, const char *requested_by,
                     const char *test_path, const char *reply_to, char *run_id,
                     char *corr, size_t corr_n) {
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

void wait_need_hitl(const char *run_id, char *id) {
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

int final_decisions(const char *run_id, int secs, int stop_at_first,
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

cJSON *one_final_decision(const char *run_id, int timeout_s, int settle_s) {
  cJSON *d = NULL;
  int n = final_decisions(run_id, timeout_s, 1, &d);
  cr_assert_eq(n, 1, "no final decision for %s\n%s", run_id, logs());
  int more = final_decisions(run_id, settle_s, 0, NULL);
  cr_expect_eq(more, 0, "%d more final decisions for %s\n%s", more, run_id,
               logs());
  return d;
}

const char *q1(const char *sql, const char *uuid) {
  cr_assert(qf_uuid_is_valid(uuid), "'%s'", uuid);
  char out[1024];
  const char *at = strstr(sql, "$1");
  cr_assert_not_null(at, "%s", sql);
  snprintf(out, sizeof out, "%.*s'%s'%s", (int)(at - sql), sql, uuid, at + 2);
  return qf_wt_query(&T, out);
}

int q1_int(const char *sql, const char *uuid) {
  return atoi(q1(sql, uuid));
}

const char *approval_col(const char *id, const char *col) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT coalesce(%s::text, 'NULL') FROM approvals WHERE id = "
           "$1",
           col);
  return q1(sql, id);
}

int events(const char *run_id, const char *event) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM run_events WHERE run_id = $1 AND event "
           "= '%s'",
           event);
  return q1_int(sql, run_id);
}

void finish(void) {
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
