/* worker_support.c: see worker_support.h. */
#include "worker_support.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qf/db.h"
#include "qf/uuid.h"
#include "support.h"

static void sleep_ms(long ms) {
  qf_test_sleep_ms(ms);
}

/* Not qf_test_run: a daemon the command starts (services.sh, pg_ctl)
 * would keep its output pipes open. Output goes to a file instead, and
 * only the shell itself is waited for. */
void qf_wt_sh(const char *cmd, int timeout_s) {
  char out[] = "/tmp/qf-wt-sh-XXXXXX";
  int fd = mkstemp(out);
  cr_assert(fd >= 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    for (int i = 3; i < 1024; i++)
      close(i);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  close(fd);
  int st = 0, done = 0;
  for (int waited = 0; waited <= timeout_s * 1000; waited += 100) {
    if (waitpid(pid, &st, WNOHANG) == pid) {
      done = 1;
      break;
    }
    sleep_ms(100);
  }
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
  }
  char text[4096] = "";
  FILE *f = fopen(out, "r");
  if (f) {
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
  }
  unlink(out);
  cr_assert(done, "%s did not finish in %d s:\n%s", cmd, timeout_s, text);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %d\n%s", cmd, st,
            text);
}

static qf_amqp_t *amqp_connect(int confirm) {
  qf_amqp_opts_t o = {.url = qf_test_require_env("QF_AMQP_URL"),
                      .connection_name = "qf-worker-test",
                      .heartbeat_s = 10,
                      .confirm = confirm};
  qf_amqp_t *c = NULL;
  qf_error_t err;
  /* Patient: a test may run while the broker restarts. */
  for (int i = 0; i < 120; i++) {
    if (qf_amqp_connect(&o, &c, &err) == QF_OK) return c;
    sleep_ms(1000);
  }
  cr_assert_fail("connect to RabbitMQ: %s", err.message);
  return NULL;
}

static qf_db_t *db_connect(const qf_wt_t *t) {
  qf_db_t *db = NULL;
  qf_error_t err;
  for (int i = 0; i < 120; i++) {
    if (qf_db_connect(t->db_url, "qf-worker-test", &db, &err) == QF_OK)
      return db;
    sleep_ms(1000);
  }
  cr_assert_fail("connect to PostgreSQL: %s", err.message);
  return NULL;
}

static void admin_sql(const char *sql) {
  qf_db_t *db = NULL;
  qf_error_t err;
  cr_assert_eq(qf_db_connect(qf_test_require_env("QF_DATABASE_URL"),
                             "qf-worker-test", &db, &err),
               0, "%s", err.message);
  int rc = qf_db_exec(db, sql, 0, NULL, NULL, &err);
  qf_db_free(db);
  cr_assert_eq(rc, 0, "%s: %s", sql, err.message);
}

/* A login role <prefix>_<tag> in group (its password pw-<prefix>), and its
 * URL on the test's database. */
static void login_role(const qf_wt_t *t, const char *admin_url, const char *tag,
                       const char *group, char *url, size_t n) {
  char sql[256], role[80], pw[80];
  snprintf(role, sizeof role, "%s_%s", t->prefix, tag);
  snprintf(pw, sizeof pw, "pw-%s", t->prefix);
  snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role);
  admin_sql(sql);
  snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE %s",
           role, pw, group);
  admin_sql(sql);
  qf_test_db_url_as(admin_url, role, pw, url, n);
}

void qf_wt_init(qf_wt_t *t) {
  static int counter;
  memset(t, 0, sizeof *t);
  snprintf(t->prefix, sizeof t->prefix, "t%ld_%d", (long)getpid(), counter++);
  cr_assert_eq(qf_topology_init(&t->topo, t->prefix), 0);
  snprintf(t->decisions_q, sizeof t->decisions_q, "%s.test.decisions",
           t->prefix);
  snprintf(t->dir, sizeof t->dir, "%s", qf_test_tmpdir());
  snprintf(t->root, sizeof t->root, "%s/ws", t->dir);
  snprintf(t->arts, sizeof t->arts, "%s/artifacts", t->dir);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "mkdir -p %s %s && cp -r %s/examples/demo %s/demo",
           t->root, t->arts, QF_SOURCE_DIR, t->root);
  qf_wt_sh(cmd, 30);

  /* A fresh database, migrated; the workers log in as a role of the
   * qf_worker group, as in production (least privilege). */
  char admin_url[512];
  qf_test_db_create("qf_wt", admin_url, sizeof admin_url);
  /* The test reads as the administrator. */
  snprintf(t->db_url, sizeof t->db_url, "%s", admin_url);
  char env_url[600];
  snprintf(env_url, sizeof env_url, "QF_DATABASE_URL=%s", admin_url);
  qf_test_proc_t p;
  qf_test_run((const char *[]){QF_TEST_BIN, "migrate", "--dir",
                               QF_SOURCE_DIR "/migrations", "--quiet", NULL},
              (const char *[]){env_url, NULL}, 120, &p);
  cr_assert_eq(p.status, 0, "qf migrate: %s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);
  login_role(t, admin_url, "w", "qf_worker", t->worker_db_url,
             sizeof t->worker_db_url);
  login_role(t, admin_url, "a", "qf_approver", t->approver_db_url,
             sizeof t->approver_db_url);

  t->pub = amqp_connect(1);
  t->con = amqp_connect(0);
  qf_error_t err;
  const qf_topology_t *o = &t->topo;
  int rc = qf_amqp_declare_exchange(t->con, o->requests, "direct", &err);
  if (rc == 0)
    rc = qf_amqp_declare_exchange(t->con, o->decisions, "topic", &err);
  if (rc == 0)
    rc = qf_amqp_declare_exchange(t->con, o->evidence, "topic", &err);
  if (rc == 0)
    rc = qf_amqp_declare_queue(t->con, t->decisions_q, 0, NULL, NULL, &err);
  if (rc == 0)
    rc = qf_amqp_bind_queue(t->con, t->decisions_q, o->decisions, "decision.#",
                            &err);
  cr_assert_eq(rc, 0, "topology: %s", err.message);
}

int qf_wt_tool_pids(qf_wt_t *t, pid_t *pids, int max) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  int n = 0;
  if (d == NULL) return 0;
  while ((e = readdir(d)) != NULL && n < max) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 1 || pid == (long)getpid()) continue;
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) continue;
    for (ssize_t i = 0; i < len; i++)
      if (buf[i] == '\0') buf[i] = ' ';
    buf[len] = '\0';
    if (strstr(buf, t->arts) != NULL) pids[n++] = (pid_t)pid;
  }
  closedir(d);
  return n;
}

/* Tool processes a SIGKILLed worker left behind (orphaned to init). */
static void kill_leftover_tools(qf_wt_t *t) {
  pid_t pids[64];
  int n = qf_wt_tool_pids(t, pids, 64);
  for (int i = 0; i < n; i++)
    kill(pids[i], SIGKILL);
}

void qf_wt_kill_leftover_tools(qf_wt_t *t) {
  kill_leftover_tools(t);
}

void qf_wt_fini(qf_wt_t *t) {
  if (t->prefix[0] == '\0') return;
  for (int i = 0; i < QF_WT_MAX_WORKERS; i++)
    if (t->workers[i].pid > 0) (void)qf_wt_stop_worker(t, i, SIGTERM, 40);
  kill_leftover_tools(t);
  qf_amqp_free(t->pub);
  qf_amqp_free(t->con);
  t->pub = t->con = NULL;
  /* A fresh connection: a channel error must not stop the cleanup. */
  const char *queues[] = {t->topo.queue, t->topo.dead_queue, t->topo.hitl,
                          t->decisions_q};
  const char *exchanges[] = {t->topo.requests, t->topo.decisions,
                             t->topo.evidence, t->topo.dead};
  qf_error_t err;
  for (size_t i = 0; i < 4; i++) {
    qf_amqp_t *c = amqp_connect(0);
    if (qf_amqp_delete_queue(c, queues[i], &err) < 0)
      fprintf(stderr, "delete queue %s: %s\n", queues[i], err.message);
    qf_amqp_free(c);
  }
  for (size_t i = 0; i < 4; i++) {
    qf_amqp_t *c = amqp_connect(0);
    amqp_exchange_delete(qf_amqp_state(c), 1, amqp_cstring_bytes(exchanges[i]),
                         0);
    if (qf_amqp_rpc_check(c, "exchange.delete", &err) < 0)
      fprintf(stderr, "delete exchange %s: %s\n", exchanges[i], err.message);
    qf_amqp_free(c);
  }
  qf_test_db_drop(t->db_url);
  char sql[256];
  snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s_w", t->prefix);
  admin_sql(sql);
  snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s_a", t->prefix);
  admin_sql(sql);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
  qf_wt_sh(cmd, 60);
  t->prefix[0] = '\0';
}

void qf_wt_write_demo_file(qf_wt_t *t, const char *rel, const char *text) {
  char path[512], cmd[600];
  snprintf(path, sizeof path, "%s/demo/%s", t->root, rel);
  snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname %s)\"", path);
  qf_wt_sh(cmd, 10);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fputs(text, f);
  fclose(f);
}

void qf_wt_start_worker(qf_wt_t *t, int i, const char *const *extra) {
  cr_assert(i >= 0 && i < QF_WT_MAX_WORKERS);
  qf_wt_worker_t *w = &t->workers[i];
  cr_assert_eq(w->pid, 0, "worker %d is running", i);
  snprintf(w->log, sizeof w->log, "%s/worker%d.log", t->dir, i);
  pid_t parent = getpid();
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    /* A test that dies (timeout, crash) must not leave workers behind. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    int log = open(w->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int devnull = open("/dev/null", O_RDONLY);
    if (log < 0 || devnull < 0) _exit(127);
    dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    setenv("QF_DATABASE_URL", t->worker_db_url, 1);
    setenv("QF_TOPOLOGY_PREFIX", t->prefix, 1);
    setenv("QF_PYTHON", "/usr/bin/python3", 1);
    setenv("QF_POLICY", QF_SOURCE_DIR "/policy/default.yaml", 1);
    setenv("QF_ARTIFACTS_ROOT", t->arts, 1);
    setenv("QF_WORKSPACE_ROOT", t->root, 1);
    setenv("QF_MAX_BACKOFF_S", "2", 1);
    setenv("QF_LOG_LEVEL", "info", 1);
    unsetenv("QF_EVIDENCE_BASE_URL");
    for (size_t k = 0; extra && extra[k]; k++) {
      const char *eq = strchr(extra[k], '=');
      if (eq == NULL) continue;
      char key[128];
      snprintf(key, sizeof key, "%.*s", (int)(eq - extra[k]), extra[k]);
      setenv(key, eq + 1, 1);
    }
    execl(QF_TEST_BIN, "qf", "worker", (char *)NULL);
    dprintf(2, "exec %s: %s\n", QF_TEST_BIN, strerror(errno));
    _exit(127);
  }
  w->pid = pid;
  w->status = -1;
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  snprintf(w->id, sizeof w->id, "%s:%ld", host, (long)pid);
}

static int reap(qf_wt_worker_t *w, int timeout_ms) {
  for (int waited = 0;; waited += 50) {
    int st = 0;
    pid_t r = waitpid(w->pid, &st, WNOHANG);
    if (r == w->pid) {
      w->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      w->pid = 0;
      return w->status;
    }
    if (r < 0 && errno != EINTR) {
      w->pid = 0;
      return w->status = -1;
    }
    if (waited >= timeout_ms) return -1;
    sleep_ms(50);
  }
}

int qf_wt_wait_exit(qf_wt_t *t, int i, int timeout_s) {
  qf_wt_worker_t *w = &t->workers[i];
  if (w->pid <= 0) return w->status;
  return reap(w, timeout_s * 1000);
}

int qf_wt_stop_worker(qf_wt_t *t, int i, int sig, int timeout_s) {
  qf_wt_worker_t *w = &t->workers[i];
  if (w->pid <= 0) return w->status;
  kill(w->pid, sig);
  int st = reap(w, timeout_s * 1000);
  if (w->pid > 0) {
    kill(w->pid, SIGKILL);
    st = reap(w, 10000);
    w->status = st = 128 + SIGKILL;
    w->pid = 0;
    return -2; /* did not stop in time */
  }
  return st;
}

static char *read_log(const qf_wt_t *t, int i) {
  char *buf = qf_test_read_all(t->workers[i].log);
  return buf ? buf : strdup("");
}

static int count_lines(const char *log, const char *const *needles) {
  int n = 0;
  for (const char *line = log; *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    int all = 1;
    for (size_t k = 0; needles[k] && all; k++) {
      size_t nlen = strlen(needles[k]);
      all = 0;
      for (size_t p = 0; p + nlen <= len; p++)
        if (memcmp(line + p, needles[k], nlen) == 0) {
          all = 1;
          break;
        }
    }
    n += all;
    line += len + (nl != NULL);
  }
  return n;
}

static size_t collect_needles(va_list ap, const char **out, size_t max) {
  size_t n = 0;
  const char *s;
  while ((s = va_arg(ap, const char *)) != NULL && n + 1 < max)
    out[n++] = s;
  out[n] = NULL;
  return n;
}

int qf_wt_count_log(qf_wt_t *t, int i, ...) {
  const char *needles[16];
  va_list ap;
  va_start(ap, i);
  collect_needles(ap, needles, 16);
  va_end(ap);
  char *log = read_log(t, i);
  int n = count_lines(log, needles);
  free(log);
  return n;
}

const char *qf_wt_log_tail(qf_wt_t *t, int i) {
  static char tail[3100];
  char *log = read_log(t, i);
  size_t n = strlen(log);
  snprintf(tail, sizeof tail, "%s", n > 3000 ? log + n - 3000 : log);
  free(log);
  return tail;
}

void qf_wt_wait_log(qf_wt_t *t, int i, int n, int timeout_s, ...) {
  const char *needles[16];
  va_list ap;
  va_start(ap, timeout_s);
  collect_needles(ap, needles, 16);
  va_end(ap);
  time_t deadline = time(NULL) + timeout_s;
  int got = 0;
  while (time(NULL) < deadline) {
    char *log = read_log(t, i);
    got = count_lines(log, needles);
    free(log);
    if (got >= n) return;
    sleep_ms(100);
  }
  cr_assert_fail("worker %d: %d/%d log lines with %s%s%s after %d s; log:\n%s",
                 i, got, n, needles[0], needles[1] ? " + " : "",
                 needles[1] ? needles[1] : "", timeout_s, qf_wt_log_tail(t, i));
}

void qf_wt_publish(qf_wt_t *t, const void *body, size_t len,
                   const char *message_id, const char *correlation_id,
                   const char *reply_to) {
  qf_amqp_msg_t m = {.body = body,
                     .body_len = len,
                     .content_type = "application/json",
                     .message_id = message_id,
                     .correlation_id = correlation_id,
                     .reply_to = reply_to};
  qf_error_t err;
  for (int i = 0; i < 60; i++) {
    if (t->pub == NULL) t->pub = amqp_connect(1);
    int rc = qf_amqp_publish(t->pub, t->topo.requests, "run", &m, 10000, &err);
    if (rc == QF_OK) return;
    cr_assert_neq(rc, QF_ENOROUTE, "request unroutable: is a worker up?");
    qf_amqp_free(t->pub);
    t->pub = NULL;
    sleep_ms(1000);
  }
  cr_assert_fail("publish: %s", err.message);
}

const char *qf_wt_request(const char *nl, const char *test_path, int dry_run,
                          int timeout_s) {
  static char buf[1024];
  if (test_path == NULL) {
    snprintf(buf, sizeof buf, "{\"nl_input\":\"%s\",\"workspace\":\"demo\"}",
             nl);
    return buf;
  }
  snprintf(buf, sizeof buf,
           "{\"nl_input\":\"%s\",\"workspace\":\"demo\",\"requested_by\":"
           "\"ci\",\"options\":{\"tool_name\":\"run_pytest\",\"args\":{"
           "\"test_path\":\"%s\"},\"timeout_s\":%d,\"dry_run\":%s}}",
           nl, test_path, timeout_s, dry_run ? "true" : "false");
  return buf;
}

int qf_wt_get(qf_wt_t *t, const char *queue, qf_amqp_message_t *out, int n,
              int timeout_s) {
  time_t deadline = time(NULL) + timeout_s;
  int got = 0;
  qf_error_t err;
  while (got < n && time(NULL) < deadline) {
    if (t->con == NULL) t->con = amqp_connect(0);
    int rc = qf_amqp_get(t->con, queue, 1, 500, &out[got], &err);
    if (rc == QF_OK) {
      got++;
    } else if (rc != QF_ETIMEDOUT) {
      qf_amqp_free(t->con);
      t->con = NULL;
      sleep_ms(500);
    }
  }
  return got;
}

int qf_wt_decisions(qf_wt_t *t, cJSON **out, int n, int timeout_s) {
  time_t deadline = time(NULL) + timeout_s;
  int got = 0;
  while (got < n) {
    long left = (long)(deadline - time(NULL));
    if (left <= 0) break;
    qf_amqp_message_t m;
    if (qf_wt_get(t, t->decisions_q, &m, 1, (int)left) != 1) break;
    out[got] = cJSON_ParseWithLength(m.body, m.body_len);
    cr_assert_not_null(out[got], "decision is not JSON: %s", m.body);
    got++;
    qf_amqp_message_fini(&m);
  }
  return got;
}

long qf_wt_queue_count(qf_wt_t *t, const char *queue) {
  (void)t;
  qf_amqp_t *c = amqp_connect(0);
  amqp_queue_declare_ok_t *ok =
      amqp_queue_declare(qf_amqp_state(c), 1, amqp_cstring_bytes(queue), 1, 0,
                         0, 0, amqp_empty_table);
  qf_error_t err;
  long n = -1;
  if (qf_amqp_rpc_check(c, "queue.declare passive", &err) == 0 && ok)
    n = (long)ok->message_count;
  qf_amqp_free(c);
  return n;
}

const char *qf_wt_query(qf_wt_t *t, const char *sql) {
  static char out[4096];
  PGresult *res = qf_wt_query_res(t, sql);
  snprintf(
      out, sizeof out, "%s",
      PQntuples(res) > 0 && PQnfields(res) > 0 ? PQgetvalue(res, 0, 0) : "");
  PQclear(res);
  return out;
}

PGresult *qf_wt_query_res(qf_wt_t *t, const char *sql) {
  qf_db_t *db = db_connect(t);
  PGresult *res = NULL;
  qf_error_t err;
  int rc = qf_db_exec(db, sql, 0, NULL, &res, &err);
  qf_db_free(db);
  cr_assert_eq(rc, 0, "%s: %s", sql, err.message);
  return res;
}

void qf_wt_run_id(const char *message_id, char *out) {
  cr_assert_eq(qf_uuid_v5(QF_UUID_NS_RUN, message_id, strlen(message_id), out),
               0);
}

void qf_wt_reply_queue(qf_wt_t *t, char *out, size_t n, const char *name) {
  qf_error_t err;
  snprintf(out, n, "%s.test.%s", t->prefix, name);
  cr_assert_eq(qf_amqp_declare_queue(t->con, out, 0, NULL, NULL, &err), 0, "%s",
               err.message);
}

cJSON *qf_wt_reply_from(qf_wt_t *t, const char *q, int timeout_s) {
  qf_amqp_message_t m;
  cr_assert_eq(qf_wt_get(t, q, &m, 1, timeout_s), 1, "no reply on %s\n%s", q,
               qf_wt_log_tail(t, 0));
  cJSON *d = cJSON_ParseWithLength(m.body, m.body_len);
  qf_amqp_message_fini(&m);
  cr_assert_not_null(d);
  return d;
}
