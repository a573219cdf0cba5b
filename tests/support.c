#include "support.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qf/db.h"

/* Criterion 2.4.1's runner leaks 48 bytes when a long test is still going
 * while later tests start with --jobs 2; LeakSanitizer reports it at exit
 * and ctest fails the suite. The leak is in the library, not in code under
 * test, so every suite (all link this file) suppresses exactly that. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libcriterion.so\n";
}

static void child(const char *const *argv, const char *const *env, int out,
                  int err) {
  int devnull = open("/dev/null", O_RDONLY);
  dup2(devnull, 0);
  dup2(out, 1);
  dup2(err, 2);
  for (size_t i = 0; env && env[i]; i++) {
    const char *eq = strchr(env[i], '=');
    if (eq == NULL) continue;
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(eq - env[i]), env[i]);
    if (eq[1] == '\0')
      unsetenv(key);
    else
      setenv(key, eq + 1, 1);
  }
  execvp(argv[0], (char *const *)argv);
  dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static void drain(int fd, qf_strbuf_t *sb, int *open_) {
  char buf[8192];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0)
    cr_assert(qf_strbuf_append(sb, buf, (size_t)n) == 0);
  else if (n == 0 || (errno != EINTR && errno != EAGAIN))
    *open_ = 0;
}

void qf_test_run(const char *const *argv, const char *const *env_extra,
                 int timeout_s, qf_test_proc_t *p) {
  int po[2], pe[2];
  qf_strbuf_init(&p->out);
  qf_strbuf_init(&p->err);
  /* Close-on-exec: only the dup2'ed 1 and 2 reach the child, so a daemon
   * it starts (a database server) cannot hold our pipe open forever. */
  cr_assert(pipe(po) == 0 && pipe(pe) == 0);
  for (int i = 0; i < 2; i++) {
    fcntl(po[i], F_SETFD, FD_CLOEXEC);
    fcntl(pe[i], F_SETFD, FD_CLOEXEC);
  }
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) child(argv, env_extra, po[1], pe[1]);
  close(po[1]);
  close(pe[1]);
  int oo = 1, eo = 1;
  time_t deadline = time(NULL) + timeout_s;
  while ((oo || eo) && time(NULL) < deadline) {
    struct pollfd fds[2] = {{oo ? po[0] : -1, POLLIN, 0},
                            {eo ? pe[0] : -1, POLLIN, 0}};
    if (poll(fds, 2, 200) <= 0) continue;
    if (fds[0].revents) drain(po[0], &p->out, &oo);
    if (fds[1].revents) drain(pe[0], &p->err, &eo);
  }
  if (oo || eo) kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  close(po[0]);
  close(pe[0]);
  p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  cr_assert(!(oo || eo), "%s did not finish in %d s", argv[0], timeout_s);
}

void qf_test_proc_fini(qf_test_proc_t *p) {
  qf_strbuf_fini(&p->out);
  qf_strbuf_fini(&p->err);
}

const char *qf_test_require_env(const char *name) {
  const char *v = getenv(name);
  cr_assert(v != NULL && v[0] != '\0',
            "%s is not set: integration tests need the local services; run "
            "them through tests/run.sh or eval \"$(deploy/local/services.sh "
            "start)\" first",
            name);
  return v;
}

/* Replaces the path (database name) of a postgresql:// URI. */
static void url_with_db(const char *url, const char *db, char *out, size_t n) {
  const char *hostpart = strstr(url, "://");
  cr_assert(hostpart != NULL, "QF_DATABASE_URL must be a postgresql:// URI");
  const char *slash = strchr(hostpart + 3, '/');
  const char *query = strchr(hostpart + 3, '?');
  size_t keep = slash   ? (size_t)(slash - url)
                : query ? (size_t)(query - url)
                        : strlen(url);
  snprintf(out, n, "%.*s/%s%s", (int)keep, url, db, query ? query : "");
}

static void admin_exec(const char *sql) {
  qf_db_t *db = NULL;
  qf_error_t err;
  int rc = qf_db_connect(qf_test_require_env("QF_DATABASE_URL"), "qf-test", &db,
                         &err);
  cr_assert(rc == 0, "connect: %s", err.message);
  rc = qf_db_exec(db, sql, 0, NULL, NULL, &err);
  qf_db_free(db);
  cr_assert(rc == 0, "%s: %s", sql, err.message);
}

void qf_test_db_create(const char *prefix, char *url, size_t n) {
  static int counter;
  char name[128], sql[256];
  snprintf(name, sizeof name, "%s_%ld_%d", prefix, (long)getpid(), counter++);
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
  admin_exec(sql);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
  admin_exec(sql);
  url_with_db(qf_test_require_env("QF_DATABASE_URL"), name, url, n);
}

void qf_test_db_drop(const char *url) {
  const char *slash = strrchr(url, '/');
  if (slash == NULL) return;
  char name[128], sql[256];
  snprintf(name, sizeof name, "%.*s", (int)strcspn(slash + 1, "?"), slash + 1);
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
  admin_exec(sql);
}

void qf_test_db_url_as(const char *url, const char *user, const char *pass,
                       char *out, size_t n) {
  const char *scheme = strstr(url, "://");
  cr_assert(scheme != NULL);
  const char *at = strchr(scheme + 3, '@');
  const char *host = at ? at + 1 : scheme + 3;
  snprintf(out, n, "%.*s://%s:%s@%s", (int)(scheme - url), url, user, pass,
           host);
}

void qf_test_assert_evidence_valid(const char *path) {
  qf_test_proc_t p;
  const char *argv[] = {"/usr/bin/python3",
                        QF_SOURCE_DIR "/tests/validate_evidence.py", path,
                        NULL};
  qf_test_run(argv, NULL, 60, &p);
  cr_assert_eq(p.status, 0, "%s is not valid against the schema:\n%s%s", path,
               p.out.data, p.err.data);
  qf_test_proc_fini(&p);
}

const char *qf_test_tmpdir(void) {
  static char dir[64];
  snprintf(dir, sizeof dir, "/tmp/qf-test-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  return dir;
}

char *qf_test_slurp(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  size_t len = fread(buf, 1, n - 1, f);
  buf[len] = '\0';
  fclose(f);
  return buf;
}

int qf_test_http_get(const char *url, qf_strbuf_t *body) {
  /* Python's urllib: the tests need no HTTP client of their own. */
  static const char script[] =
      "import sys, urllib.request, urllib.error\n"
      "try:\n"
      "    r = urllib.request.urlopen(sys.argv[1], timeout=5)\n"
      "    code, text = r.status, r.read()\n"
      "except urllib.error.HTTPError as e:\n"
      "    code, text = e.code, e.read()\n"
      "except Exception as e:\n"
      "    code, text = 0, str(e).encode()\n"
      "sys.stdout.write('%d\\n' % code)\n"
      "sys.stdout.flush()\n"
      "sys.stdout.buffer.write(text)\n";
  const char *argv[] = {"/usr/bin/python3", "-c", script, url, NULL};
  qf_test_proc_t p;
  qf_test_run(argv, NULL, 20, &p);
  int code = p.out.data ? atoi(p.out.data) : 0;
  const char *nl = p.out.data ? strchr(p.out.data, '\n') : NULL;
  qf_strbuf_init(body);
  if (nl) cr_assert_eq(qf_strbuf_puts(body, nl + 1), 0);
  qf_test_proc_fini(&p);
  return code;
}

int qf_test_closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
  cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

char *qf_test_read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)(n < 0 ? 0 : n) + 1);
  cr_assert_not_null(buf);
  size_t got = fread(buf, 1, (size_t)(n < 0 ? 0 : n), f);
  buf[got] = '\0';
  fclose(f);
  return buf;
}

void qf_test_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

int qf_test_pid_runs(long pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  int ok = fgets(buf, sizeof buf, f) != NULL;
  fclose(f);
  const char *p = ok ? strrchr(buf, ')') : NULL;
  return p && p[2] != 'Z' && p[2] != 'X';
}

int qf_test_maps(long pid, const char *needle) {
  char path[64], line[4096];
  snprintf(path, sizeof path, "/proc/%ld/maps", pid);
  FILE *f = fopen(path, "r"); /* size 0 to stat: read line by line */
  if (f == NULL) return -1;
  int found = 0, lines = 0;
  while (!found && fgets(line, sizeof line, f) != NULL) {
    lines++;
    found = strstr(line, needle) != NULL;
  }
  fclose(f);
  return lines == 0 ? -1 : found;
}
