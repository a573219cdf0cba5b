#include "cli.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/log.h"
#include "qf/utf8.h"
#include "qf/version.h"

const char *qf_cli_amqp_url(void) {
  return qf_cli_env("QF_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/");
}

const char *qf_cli_env(const char *name, const char *def) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' ? v : def;
}

/* Set by the services (worker, approver): their errors are JSON lines
 * too, since the journal and kubectl logs are where they are read. */
static int json_errors;

void qf_cli_log_errors(const char *program) {
  qf_log_set_program(program);
  json_errors = 1;
}

static void say(const char *cmd, const char *fmt, va_list ap) QF_PRINTF(2, 0);
static void say(const char *cmd, const char *fmt, va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  fprintf(stderr, "qf %s: %s\n", cmd, msg);
  if (json_errors) qf_log_error(NULL, "startup.error", "%s", msg);
}

int qf_cli_fail(const char *cmd, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  say(cmd, fmt, ap);
  va_end(ap);
  return code;
}

int qf_cli_usage_error(const qf_cmd_t *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  say(cmd->name, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n%s", cmd->usage);
  return QF_EXIT_USAGE;
}

int qf_cli_exit_for(int code) {
  switch (qf_err_class(code)) {
    case QF_ERRC_OK:
      return QF_EXIT_PASS;
    case QF_ERRC_USAGE:
      return QF_EXIT_USAGE;
    case QF_ERRC_INPUT:
      return QF_EXIT_DATAERR;
    case QF_ERRC_INFRA:
      return QF_EXIT_INFRA;
    case QF_ERRC_INTERNAL:
      return QF_EXIT_SOFTWARE;
    case QF_ERRC_CONFIG:
      return QF_EXIT_CONFIG;
    case QF_ERRC_REFUSED:
    default:
      return QF_EXIT_FAIL;
  }
}

int qf_cli_exit_for_file(int code) {
  int exit = qf_cli_exit_for(code);
  return exit == QF_EXIT_FAIL ? QF_EXIT_DATAERR : exit;
}

int qf_cli_wants_help(const qf_cmd_t *cmd, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      fputs(cmd->usage, stdout);
      return 1;
    }
  }
  return 0;
}

/* Whether path exists (a file or a directory we may read). */
static int readable(const char *path) {
  return access(path, R_OK) == 0;
}

/* The directory of this executable, or "" (from /proc/self/exe). */
static void exe_dir(char *out, size_t n) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  out[0] = '\0';
  if (len <= 0) return;
  exe[len] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash) *slash = '\0';
  snprintf(out, n, "%s", exe);
}

const char *qf_cli_data_path(const char *rel) {
  static char found[4][PATH_MAX + 64];
  static int next;
  char dir[PATH_MAX], build[PATH_MAX];
  char *out = found[next++ % 4];
  if (readable(rel)) return rel; /* the source tree as the current dir */
  exe_dir(dir, sizeof dir);
  /* Run from its build directory (build/normal/qf): the tree it was built
   * from, not whatever was installed some time. */
  if (dir[0] && realpath(QF_BUILD_BINARY_DIR, build) &&
      strcmp(dir, build) == 0) {
    snprintf(out, PATH_MAX + 64, "%s/%s", QF_BUILD_SOURCE_DIR, rel);
    if (readable(out)) return out;
  }
  /* Installed: <prefix>/bin/qf next to <prefix>/share/qf, wherever the
   * prefix was moved; else the prefix it was configured with. */
  if (dir[0]) {
    snprintf(out, PATH_MAX + 64, "%s/../share/qf/%s", dir, rel);
    if (readable(out)) return out;
  }
  snprintf(out, PATH_MAX + 64, "%s/%s", QF_DATADIR, rel);
  return out;
}

const char *qf_cli_policy_path(const char *flag) {
  if (flag != NULL) return flag;
  const char *env = qf_cli_env("QF_POLICY", NULL);
  if (env != NULL) return env;
  return qf_cli_data_path("policy/default.yaml");
}

int qf_cli_env_int(const char *cmd, const char *name, int def, int min, int max,
                   int *out) {
  const char *v = qf_cli_env(name, NULL);
  char *end;
  long n = v ? strtol(v, &end, 10) : def;
  if (v && (*end != '\0' || n < min || n > max)) {
    (void)qf_cli_fail(cmd, QF_EXIT_USAGE, "%s must be an integer from %d to %d",
                      name, min, max);
    return -1;
  }
  *out = (int)n;
  return 0;
}

static volatile sig_atomic_t g_signals;

static void count_signal(int sig) {
  (void)sig;
  if (g_signals < 2) g_signals++;
}

volatile sig_atomic_t *qf_cli_catch_signals(void) {
  struct sigaction sa = {.sa_handler = count_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  return &g_signals;
}

void qf_cli_cell(const char *s, size_t width) {
  char *safe = qf_utf8_escape(s ? s : "-");
  const char *t = safe ? safe : "?";
  /* Cut and padded by characters, not bytes: "café" takes four columns. */
  size_t bytes = 0, chars = 0;
  while (t[bytes] && chars < width) {
    bytes++;
    while ((t[bytes] & 0xC0) == 0x80)
      bytes++;
    chars++;
  }
  printf("%.*s%*s ", (int)bytes, t, (int)(width - chars), "");
  free(safe);
}
