/* tool_pytest.c: the run_pytest tool (reference 6.5, with our fixes).
 *
 * Arguments are validated before anything runs: test_path follows the
 * reference's rule and the workspace path rule; extra_args pass only an
 * allowlist of pytest options, because most others load code or files
 * from elsewhere (-p, -c, --rootdir, --pyargs, ...) or write where they
 * please (--basetemp deletes its directory, --junitxml).
 *
 * Only pytest's JUnit report is a verdict on tests: a run without one
 * (pytest missing for the interpreter, a process that died, even exit 0)
 * is a tool error that says what is missing, never "tests failed". */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/tools.h"
#include "qf/utf8.h"

#define MAX_PATH_ARG 1024
#define MAX_MARKERS 256
#define MAX_EXTRA 64
#define MAX_EXTRA_LEN 256

/* ------------------------------------------------------------ test_path */

static int has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
  return 0;
}

/* The reference's _is_safe_test_path on the file part: first component
 * `tests` or `test`, or a single `test_*.py`. */
static int reference_rule(const char *p) {
  while (p[0] == '.' && p[1] == '/')
    p += 2;
  size_t first = strcspn(p, "/");
  if ((first == 5 && strncmp(p, "tests", 5) == 0) ||
      (first == 4 && strncmp(p, "test", 4) == 0))
    return 1;
  size_t n = strlen(p);
  return p[first] == '\0' && n > 8 && strncmp(p, "test_", 5) == 0 &&
         strcmp(p + n - 3, ".py") == 0;
}

static int check_test_path(const cJSON *v, const char *workspace,
                           const qf_policy_t *policy, qf_error_t *err) {
  char file[MAX_PATH_ARG + 1];
  if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
    return qf_error_set(err, QF_EVALIDATE,
                        "test_path: required, a non-empty string");
  const char *s = v->valuestring;
  if (strlen(s) > MAX_PATH_ARG || has_ctl(s))
    return qf_error_set(err, QF_EVALIDATE,
                        "test_path: longer than %d bytes "
                        "or holds control characters",
                        MAX_PATH_ARG);
  /* A node id (tests/test_x.py::test_y[p]) is judged by its file part. */
  const char *sep = strstr(s, "::");
  size_t n = sep ? (size_t)(sep - s) : strlen(s);
  snprintf(file, sizeof file, "%.*s", (int)n, s);
  if (strstr(s, "..") || file[0] == '/' || file[0] == '-' ||
      !reference_rule(file))
    return qf_error_set(err, QF_EVALIDATE,
                        "test_path: invalid '%s': it must "
                        "start with 'tests/' or 'test/' (or be one test_*.py "
                        "file) and cannot contain '..'",
                        s);
  return qf_tools_check_path("test_path", file, workspace, policy, err);
}

static int check_markers(const cJSON *v, qf_error_t *err) {
  if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
    return qf_error_set(err, QF_EVALIDATE,
                        "markers: must be a non-empty "
                        "string");
  const char *s = v->valuestring;
  if (strlen(s) > MAX_MARKERS || has_ctl(s) || s[0] == '-')
    return qf_error_set(err, QF_EVALIDATE,
                        "markers: at most %d bytes, no "
                        "control characters, no leading '-'",
                        MAX_MARKERS);
  return QF_OK;
}

/* ----------------------------------------------------------- extra_args */

typedef enum { V_NONE, V_ANY, V_INT, V_CHOICE, V_RCHARS, V_NOPLUGIN } vkind_t;

typedef struct opt {
  const char *name;
  vkind_t kind;
  const char *choices; /* V_CHOICE: "|a|b|" */
} opt_t;

static const opt_t allowed[] = {
    {"-x", V_NONE, NULL},
    {"--exitfirst", V_NONE, NULL},
    {"-v", V_NONE, NULL},
    {"--verbose", V_NONE, NULL},
    {"-vv", V_NONE, NULL},
    {"-q", V_NONE, NULL},
    {"--quiet", V_NONE, NULL},
    {"-s", V_NONE, NULL},
    {"-l", V_NONE, NULL},
    {"--showlocals", V_NONE, NULL},
    {"--strict-markers", V_NONE, NULL},
    {"--runxfail", V_NONE, NULL},
    {"--disable-warnings", V_NONE, NULL},
    {"--no-header", V_NONE, NULL},
    {"--no-summary", V_NONE, NULL},
    {"--full-trace", V_NONE, NULL},
    {"--setup-show", V_NONE, NULL},
    {"--collect-only", V_NONE, NULL},
    {"--co", V_NONE, NULL},
    {"-k", V_ANY, NULL},
    {"-r", V_RCHARS, NULL},
    {"-p", V_NOPLUGIN, NULL},
    {"--maxfail", V_INT, NULL},
    {"--durations", V_INT, NULL},
    {"--tb", V_CHOICE, "|auto|long|short|line|native|no|"},
    {"--capture", V_CHOICE, "|no|sys|fd|tee-sys|"},
    {"--color", V_CHOICE, "|yes|no|auto|"},
};

/* Options refused with a reason (others: "not in the allowlist"). */
static const char *const refused[][2] = {
    {"-p", "loads plugins"},
    {"-c", "reads another configuration file"},
    {"--config-file", "reads another configuration file"},
    {"--rootdir", "changes which files are loaded"},
    {"--confcutdir", "changes which conftest.py files are loaded"},
    {"-o", "overrides the configuration"},
    {"--override-ini", "overrides the configuration"},
    {"--pyargs", "imports installed packages"},
    {"--import-mode", "changes how test modules are imported"},
    {"--basetemp", "deletes and reuses a directory of its choice"},
    {"--junitxml", "the worker writes the report"},
    {"--junit-xml", "the worker writes the report"},
    {"-m", "use the markers argument"},
};

static int value_ok(const opt_t *o, const char *v) {
  switch (o->kind) {
    case V_NONE:
      return 0;
    case V_ANY:
      return v[0] != '\0' && v[0] != '-';
    case V_INT:
      return v[0] != '\0' && strlen(v) <= 6 &&
             strspn(v, "0123456789") == strlen(v);
    case V_RCHARS:
      return v[0] != '\0' && strspn(v, "fEsxXpPaAwN") == strlen(v);
    case V_NOPLUGIN:
      return strncmp(v, "no:", 3) == 0 && v[3] != '\0' &&
             strspn(v + 3,
                    "abcdefghijklmnopqrstuvwxyz"
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == strlen(v + 3);
    case V_CHOICE: {
      char key[64];
      snprintf(key, sizeof key, "|%s|", v);
      return strlen(v) < 60 && strstr(o->choices, key) != NULL;
    }
  }
  return 0;
}

/* The option name of an item: "--x=v" -> "--x", "-kEXPR" -> "-k". */
static void option_name(const char *a, char *out, size_t n) {
  size_t len = a[1] == '-' ? strcspn(a, "=") : (a[1] ? 2 : 1);
  snprintf(out, n, "%.*s", (int)len, a);
}

static const opt_t *find_opt(const char *name) {
  for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
    if (strcmp(allowed[i].name, name) == 0) return &allowed[i];
  return NULL;
}

static int refuse(size_t i, const char *item, const char *name,
                  qf_error_t *err) {
  for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++)
    if (strcmp(refused[k][0], name) == 0)
      return qf_error_set(err, QF_EVALIDATE,
                          "extra_args[%zu]: '%s' is not allowed (%s)", i, item,
                          refused[k][1]);
  if (item[0] != '-')
    return qf_error_set(err, QF_EVALIDATE,
                        "extra_args[%zu]: positional "
                        "argument '%s' is not allowed (paths go in "
                        "test_path)",
                        i, item);
  return qf_error_set(err, QF_EVALIDATE,
                      "extra_args[%zu]: '%s' is not in "
                      "the allowlist of pytest options",
                      i, item);
}

/* "-xvs": short flags combined. */
static int combined_flags(const char *a) {
  return a[0] == '-' && a[1] != '-' && a[1] != '\0' &&
         strspn(a + 1, "xvqsl") == strlen(a + 1);
}

/* Checks items[*i] (and its value, which may be the next item). */
static int check_item(const cJSON *items, size_t *i, size_t n,
                      qf_error_t *err) {
  const char *a = cJSON_GetArrayItem(items, (int)*i)->valuestring;
  size_t at = *i; /* the option's index, for messages */
  char name[64];
  if (a[0] != '-' || strcmp(a, "-") == 0 || strcmp(a, "--") == 0)
    return refuse(*i, a, a, err);
  if (combined_flags(a)) return QF_OK;
  option_name(a, name, sizeof name);
  const opt_t *o = find_opt(name);
  if (o == NULL) return refuse(*i, a, name, err);
  const char *rest = a + strlen(name), *v = NULL;
  if (o->kind == V_NONE) return rest[0] ? refuse(*i, a, name, err) : QF_OK;
  if (rest[0] == '=')
    v = rest + 1;
  else if (rest[0])
    v = name[1] != '-' ? rest : NULL;
  else if (*i + 1 < n)
    v = cJSON_GetArrayItem(items, (int)++*i)->valuestring;
  if (v == NULL || !value_ok(o, v)) {
    if (o->kind == V_NOPLUGIN) return refuse(at, name, name, err);
    return qf_error_set(err, QF_EVALIDATE,
                        "extra_args[%zu]: '%s' needs a "
                        "valid value (got '%s')",
                        at, name, v ? v : "");
  }
  return QF_OK;
}

static int check_extra(const cJSON *v, qf_error_t *err) {
  if (!cJSON_IsArray(v))
    return qf_error_set(err, QF_EVALIDATE,
                        "extra_args: must be a list of "
                        "strings");
  size_t n = (size_t)cJSON_GetArraySize(v);
  if (n > MAX_EXTRA)
    return qf_error_set(err, QF_EVALIDATE, "extra_args: at most %d items",
                        MAX_EXTRA);
  for (size_t i = 0; i < n; i++) {
    const cJSON *it = cJSON_GetArrayItem(v, (int)i);
    if (!cJSON_IsString(it) || strlen(it->valuestring) > MAX_EXTRA_LEN ||
        has_ctl(it->valuestring))
      return qf_error_set(err, QF_EVALIDATE,
                          "extra_args[%zu]: must be a "
                          "string of at most %d bytes without control "
                          "characters",
                          i, MAX_EXTRA_LEN);
  }
  for (size_t i = 0; i < n; i++) {
    int rc = check_item(v, &i, n, err);
    if (rc < 0) return rc;
  }
  return QF_OK;
}

static int validate(const cJSON *args, const char *workspace,
                    const qf_policy_t *policy, qf_error_t *err) {
  if (!cJSON_IsObject(args))
    return qf_error_set(err, QF_EVALIDATE, "args: must be an object");
  const cJSON *it;
  cJSON_ArrayForEach(it, args) {
    const char *k = it->string;
    if (strcmp(k, "working_dir") == 0)
      return qf_error_set(err, QF_EVALIDATE,
                          "working_dir: not supported "
                          "(pytest runs in the workspace)");
    if (strcmp(k, "test_path") && strcmp(k, "markers") &&
        strcmp(k, "extra_args"))
      return qf_error_set(err, QF_EVALIDATE, "%s: unknown argument", k);
  }
  int rc = check_test_path(cJSON_GetObjectItemCaseSensitive(args, "test_path"),
                           workspace, policy, err);
  if (rc == QF_OK && (it = cJSON_GetObjectItemCaseSensitive(args, "markers")))
    rc = check_markers(it, err);
  if (rc == QF_OK &&
      (it = cJSON_GetObjectItemCaseSensitive(args, "extra_args")))
    rc = check_extra(it, err);
  return rc;
}

/* ------------------------------------------------------------------ run */

/* Keeps a line of pytest's output for the message: printable ASCII only
 * (the evidence wants valid UTF-8, and the tail may start mid-character),
 * decorations ("=====", "!!!!!") trimmed. */
static void clean_line(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  while (n > 0 && strchr("=!_ \t\r", s[0]))
    s++, n--;
  while (n > 0 && strchr("=!_ \t\r", s[n - 1]))
    n--;
  for (size_t i = 0; i < n && o + 1 < cap; i++)
    out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  out[o] = '\0';
}

/* Adds line to msg unless it says nothing (a caret, our own report's
 * path) or is there already. */
static void append(char *msg, size_t cap, const char *line) {
  size_t len = strlen(msg);
  if (strcspn(line, "abcdefghijklmnopqrstuvwxyz") == strlen(line) ||
      strstr(line, "generated xml file") || strstr(msg, line))
    return;
  snprintf(msg + len, cap - len, "%s%s", len ? "; " : "", line);
}

/* Appends the telling lines of a log's last 64 KiB to msg: pytest's "E "
 * error lines and ERROR/Interrupted summaries, else the last lines. */
static void tail_lines(const char *path, char *msg, size_t cap) {
  static const size_t want = 65536;
  char *buf = malloc(want + 1), line[512];
  FILE *f = qf_tools_open_output(path);
  if (buf == NULL || f == NULL) goto out;
  if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > (long)want)
    fseek(f, -(long)want, SEEK_END);
  else
    rewind(f);
  size_t n = fread(buf, 1, want, f);
  buf[n] = '\0';
  const char *picked[6];
  int np = 0, nl = 0;
  const char *last[3] = {NULL, NULL, NULL};
  for (char *s = buf, *e; s < buf + n; s = e + 1) {
    e = memchr(s, '\n', (size_t)(buf + n - s));
    if (e == NULL) e = buf + n;
    *e = '\0';
    if (strncmp(s, "E ", 2) == 0 || strncmp(s, "ERROR", 5) == 0 ||
        strstr(s, "Interrupted:") || strstr(s, "error:")) {
      if (np == 6) memmove(picked, picked + 1, sizeof picked[0] * 5), np--;
      picked[np++] = strncmp(s, "E ", 2) == 0 ? s + 1 : s;
    }
    clean_line(s, strlen(s), line, sizeof line);
    if (line[0]) last[nl++ % 3] = s;
  }
  for (int i = 0; i < np; i++) {
    clean_line(picked[i], strlen(picked[i]), line, sizeof line);
    append(msg, cap, line);
  }
  for (int i = 0; np == 0 && i < 3; i++) {
    const char *s = last[(nl + i) % 3];
    if (s == NULL) continue;
    clean_line(s, strlen(s), line, sizeof line);
    append(msg, cap, line);
  }
out:
  if (f) fclose(f);
  free(buf);
}

/* The report pytest wrote. One that is there but cannot be read (the
 * test under test replaced it with a FIFO, a symlink, something huge or
 * malformed) makes the call fail: no report, no verdict on the tests. */
static int read_junit(const qf_tool_ctx_t *ctx, qf_tool_outcome_t *out,
                      qf_error_t *err) {
  int rc = qf_tools_read_junit(ctx, out, err);
  return rc < 0 && rc != QF_ENOENT;
}

/* The interpreter named by QF_PYTHON, else python3. */
static const char *python_of(void) {
  const char *py = getenv("QF_PYTHON");
  return py && py[0] ? py : "python3";
}

/* py as the child found it: a bare name looked up on PATH the way execvp
 * does, so that the message names the interpreter that lacks pytest; as
 * given when it has a '/' or no PATH entry has it. */
static void resolve_python(const char *py, char *out, size_t cap) {
  const char *s = getenv("PATH");
  char cand[PATH_MAX];
  struct stat st;
  qf_utf8_snprintf(out, cap, "%s", py);
  if (strchr(py, '/') || s == NULL) return;
  while (*s) {
    size_t len = strcspn(s, ":");
    int w = snprintf(cand, sizeof cand, "%.*s/%s", (int)len, s, py);
    if (len > 0 && w > 0 && (size_t)w < sizeof cand && stat(cand, &st) == 0 &&
        S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
      qf_utf8_snprintf(out, cap, "%s", cand); /* cut at a character */
      return;
    }
    s += len + (s[len] == ':');
  }
}

/* Whether python said it has no pytest to run: runpy's "<exe>: No module
 * named pytest" (or pytest.__main__, a broken install), which is then
 * all of stderr, so its first 4 KiB are enough. */
static int pytest_missing(const char *tool_dir) {
  static const char key[] = "No module named pytest";
  char path[PATH_MAX], buf[4096];
  snprintf(path, sizeof path, "%s/stderr.log", tool_dir);
  FILE *f = qf_tools_open_output(path);
  if (f == NULL) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  for (const char *p = buf; (p = strstr(p, key)) != NULL; p += sizeof key - 1)
    if (strchr("\r\n.", p[sizeof key - 1])) return 1; /* '\0' matches too */
  return 0;
}

/* pytest's own words from its logs: stderr's telling lines, then
 * stdout's; "no output" when neither says anything. */
static void log_detail(const qf_tool_ctx_t *ctx, char *detail, size_t cap) {
  char path[PATH_MAX];
  detail[0] = '\0';
  snprintf(path, sizeof path, "%s/stderr.log", ctx->tool_dir);
  tail_lines(path, detail, cap);
  snprintf(path, sizeof path, "%s/stdout.log", ctx->tool_dir);
  tail_lines(path, detail, cap);
  if (detail[0] == '\0') snprintf(detail, cap, "no output");
}

/* Exit code 1 means "tests failed" only with a report that shows them:
 * without one, pytest never ran (not installed for this interpreter) or
 * died before writing it, and saying "tests failed" would be a verdict
 * on tests nobody saw. Neither is worth a retry. */
static void exit_1(const qf_tool_ctx_t *ctx, qf_tool_outcome_t *out) {
  char *m = out->error_message, detail[QF_EVIDENCE_ERROR_MAX + 1];
  size_t cap = sizeof out->error_message;
  if (out->has_junit) {
    snprintf(m, cap, "pytest exited with code 1: %lld of %lld tests failed",
             out->steps_failed, out->steps_total);
  } else if (pytest_missing(ctx->tool_dir)) {
    resolve_python(python_of(), detail, sizeof detail);
    qf_utf8_snprintf(m, cap, "pytest is not installed for %s", detail);
  } else {
    log_detail(ctx, detail, sizeof detail);
    qf_utf8_snprintf(m, cap,
                     "pytest exited with code 1 without writing a JUnit "
                     "report: %s",
                     detail);
  }
}

/* Refines the outcome from pytest's exit code (0 passed, 1 tests failed,
 * 2 interrupted, 3 internal error, 4 usage error, 5 nothing collected). */
static void refine(const qf_tool_ctx_t *ctx, const qf_exec_result_t *r,
                   qf_tool_outcome_t *out) {
  char *m = out->error_message, detail[QF_EVIDENCE_ERROR_MAX + 1];
  size_t cap = sizeof out->error_message;
  if (r->start_failed || r->timed_out || !r->exited) return;
  if (r->exit_code == 0 && !out->has_junit) {
    /* pytest always writes the report it was asked for (--collect-only
     * too): a pass without one is no evidence that anything passed. */
    out->status = QF_TOOL_FAILED;
    snprintf(m, cap, "pytest exited 0 but wrote no JUnit report");
  } else if (r->exit_code == 1) {
    exit_1(ctx, out);
  } else if (r->exit_code == 5) {
    snprintf(m, cap, "pytest exited with code 5: no tests were collected");
  } else if (r->exit_code != 0) {
    log_detail(ctx, detail, sizeof detail);
    qf_utf8_snprintf(m, cap, "pytest exited with code %d: %s", r->exit_code,
                     detail);
  }
}

#define ARGV_MAX (12 + MAX_EXTRA)

/* <python> -m pytest -q -p no:cacheprovider --junitxml=... <test_path>
 * [-m markers] [extra_args...]; the strings are borrowed from args. */
static void build_argv(const qf_tool_ctx_t *ctx, const char *junit,
                       const char **argv) {
  const cJSON *a = ctx->args, *v;
  size_t n = 0;
  argv[n++] = python_of();
  argv[n++] = "-m", argv[n++] = "pytest", argv[n++] = "-q";
  argv[n++] = "-p", argv[n++] = "no:cacheprovider";
  argv[n++] = junit;
  argv[n++] = cJSON_GetObjectItemCaseSensitive(a, "test_path")->valuestring;
  if ((v = cJSON_GetObjectItemCaseSensitive(a, "markers")) != NULL)
    argv[n++] = "-m", argv[n++] = v->valuestring;
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(a, "extra_args")) {
    if (n + 1 < ARGV_MAX) argv[n++] = it->valuestring;
  }
  argv[n] = NULL;
}

static int run(const qf_tool_ctx_t *ctx, qf_tool_outcome_t *out,
               qf_error_t *err) {
  char junit[PATH_MAX + 16], artifact[PATH_MAX + 32], legacy[PATH_MAX + 48];
  const char *argv[ARGV_MAX + 1];
  qf_exec_result_t r;
  memset(out, 0, sizeof *out);
  snprintf(junit, sizeof junit, "--junitxml=%s/junit.xml", ctx->tool_dir);
  snprintf(artifact, sizeof artifact, "QF_ARTIFACT_DIR=%s", ctx->tool_dir);
  snprintf(legacy, sizeof legacy, "QUALITYFOUNDRY_ARTIFACT_DIR=%s",
           ctx->tool_dir);
  /* Options and plugins must come from the validated arguments only, even
   * when the whitelist lets PYTEST_* through. */
  const char *env[] = {"PYTHONDONTWRITEBYTECODE=1", artifact,          legacy,
                       "PYTEST_ADDOPTS=",           "PYTEST_PLUGINS=", NULL};
  if (cJSON_GetObjectItemCaseSensitive(ctx->args, "test_path") == NULL)
    return qf_error_set(err, QF_EINVAL, "run_pytest: test_path missing");
  build_argv(ctx, junit, argv);
  int rc = qf_tools_exec(ctx, argv, env, 1, &r, err);
  if (rc < 0) return rc;
  qf_tools_outcome_from_exec("pytest", &r, ctx->timeout_s, out);
  qf_error_t bad;
  int unusable = read_junit(ctx, out, &bad);
  refine(ctx, &r, out);
  if (unusable && r.exited && !r.timed_out) { /* no verdict to use */
    out->status = QF_TOOL_FAILED;
    qf_utf8_snprintf(out->error_message, sizeof out->error_message,
                     "the JUnit report cannot be used: %s", bad.message);
  }
  return QF_OK;
}

const qf_tool_t qf__tool_pytest = {"run_pytest", validate, run};
