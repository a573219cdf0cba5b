/* tool_playwright.c: run_playwright, the Playwright Test runner of the
 * workspace with its JUnit reporter (tools.h has the interface).
 *
 * Unlike the reference's action DSL, the request names tests the workspace
 * already has: `playwright test --config C [--project P] [--grep G]
 * [-- TEST_PATH]` runs from the workspace root with the workspace's own
 * node_modules; C is args.config, else the workspace root's
 * playwright.config.* (tool_playwright_config.c). Nothing is ever
 * downloaded at run time: no browser (the worker's Chromium is handed over
 * in QF_CHROMIUM), no npm package (npx only with --no-install, offline).
 *
 * Only a report is a verdict on tests. No report (exit 0 included), an
 * unusable one, or a browser that could not start is a tool error that
 * says so, never "N of M tests failed".
 *
 * Contract with a project's Playwright config (tests/data/playwright is a
 * working example): launch Chromium from process.env.QF_CHROMIUM with the
 * flags in QF_CHROMIUM_FLAGS below, headless. The worker sets the reporter
 * (JUnit into the tool directory) and --output (the tool directory's
 * test-results/), so screenshots, traces and videos land where the
 * pipeline collects artifacts.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec_internal.h"
#include "qf/fsutil.h"
#include "qf/tools.h"
#include "qf/utf8.h"

#define TOOL "run_playwright"
/* Longest project name and grep pattern accepted: real ones are short, and
 * a bound keeps argv and messages small. */
#define PROJECT_MAX 64
#define GREP_MAX 256
/* The log tail read for a failure message: enough for Playwright's error
 * block, small enough to scan cheaply. */
#define TAIL_BYTES 4096
/* Where Debian's chromium package puts the browser; QF_CHROMIUM wins. */
#define CHROMIUM_DEFAULT "/usr/bin/chromium"
/* The child's PATH after node_modules/.bin when the worker has none. */
#define PATH_DEFAULT "/usr/local/bin:/usr/bin:/bin"
/* The flags the project's config should pass to Chromium (documented
 * here; the config owns them). */
#define QF_CHROMIUM_FLAGS                                                \
  "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run " \
  "--disable-background-networking --disable-component-update "          \
  "--disable-sync"
#define NOT_INSTALLED \
  "playwright not installed in the workspace: run npm install"
/* What Playwright says when a browser does not start: every launch error
 * is prefixed by the API call (browserType.launch,
 * browserType.launchPersistentContext); the other two cover a message
 * that lost that prefix. */
static const char *const browser_markers[] = {
    "browserType.launch", "Executable doesn't exist", "Failed to launch"};
/* After the quoted error: where the browser comes from. */
#define BROWSER_HINT                                                \
  " (install the browser the config launches: QF_CHROMIUM, or npx " \
  "playwright install for Playwright's own)"

/* ---- validate ---------------------------------------------------------- */

static int project_char_ok(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ' ' || c == '-';
}

static int check_project(const char *s, qf_error_t *err) {
  size_t n = strlen(s);
  if (n == 0 || n > PROJECT_MAX)
    return qf_error_set(err, QF_EVALIDATE,
                        "project: must be 1-%d characters (got %zu)",
                        PROJECT_MAX, n);
  if (s[0] == '-')
    return qf_error_set(err, QF_EVALIDATE, "project: must not start with '-'");
  for (size_t i = 0; i < n; i++)
    if (!project_char_ok((unsigned char)s[i]))
      return qf_error_set(err, QF_EVALIDATE,
                          "project: only letters, digits, '_', '.', ' ' "
                          "and '-' are allowed");
  return QF_OK;
}

static int check_grep(const char *s, qf_error_t *err) {
  size_t n = strlen(s);
  if (n == 0 || n > GREP_MAX)
    return qf_error_set(err, QF_EVALIDATE, "grep: must be 1-%d bytes (got %zu)",
                        GREP_MAX, n);
  if (s[0] == '-')
    return qf_error_set(err, QF_EVALIDATE, "grep: must not start with '-'");
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return qf_error_set(err, QF_EVALIDATE,
                          "grep: must not contain control characters");
  return QF_OK;
}

/* A path argument: the shared workspace rule, and no leading '-' so that
 * it can never read as an option even where the allowlist is empty. */
static int check_path_arg(const char *arg, const char *s, const char *ws,
                          const qf_policy_t *policy, qf_error_t *err) {
  if (s[0] == '-')
    return qf_error_set(err, QF_EVALIDATE, "%s: must not start with '-'", arg);
  return qf_tools_check_path(arg, s, ws, policy, err);
}

static int validate(const cJSON *args, const char *workspace,
                    const qf_policy_t *policy, qf_error_t *err) {
  if (args != NULL && !cJSON_IsObject(args))
    return qf_error_set(err, QF_EVALIDATE, "args: must be an object");
  const cJSON *a;
  cJSON_ArrayForEach(a, args) {
    const char *k = a->string, *v = cJSON_GetStringValue(a);
    int rc;
    if (strcmp(k, "project") && strcmp(k, "grep") && strcmp(k, "config") &&
        strcmp(k, "test_path"))
      return qf_error_set(err, QF_EVALIDATE,
                          "%s: unknown argument (expected project, grep, "
                          "config or test_path)",
                          k);
    if (v == NULL)
      return qf_error_set(err, QF_EVALIDATE, "%s: must be a string", k);
    if (strcmp(k, "project") == 0)
      rc = check_project(v, err);
    else if (strcmp(k, "grep") == 0)
      rc = check_grep(v, err);
    else
      rc = check_path_arg(k, v, workspace, policy, err);
    if (rc < 0) return rc;
  }
  /* No config named (or no args at all): the workspace's own, or no run
   * (tool_playwright_config.c says why). */
  if (cJSON_GetObjectItemCaseSensitive(args, "config") == NULL)
    return qf__playwright_find_config(workspace, NULL, 0, err);
  return QF_OK;
}

/* ---- run: argv and environment ----------------------------------------- */

/* Everything the child's argv and environment point into. */
typedef struct pw_cmd {
  char bin[PATH_MAX];         /* <ws>/node_modules/.bin/playwright */
  char output[PATH_MAX + 16]; /* --output=<tool_dir>/test-results */
  char config[PATH_MAX + 16]; /* --config=<config> */
  char found[64];             /* the workspace root's config, when used */
  char project[PROJECT_MAX + 16];
  char grep[GREP_MAX + 16];
  const char *argv[16];
  char home[PATH_MAX];
  char env_home[PATH_MAX + 8];
  char env_path[4 * PATH_MAX]; /* the worker's PATH may be long */
  char env_chromium[PATH_MAX + 16];
  char env_junit_file[PATH_MAX + 40];
  char env_junit_name[PATH_MAX + 40];
  const char *env[20];
} pw_cmd_t;

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Whether the workspace has the runner at all: its bin link, or the
 * package without one (npm --no-bin-links), which npx --no-install finds. */
static int find_runner(const char *ws, pw_cmd_t *c, int *use_npx) {
  char p[PATH_MAX];
  snprintf(c->bin, sizeof c->bin, "%s/node_modules/.bin/playwright", ws);
  *use_npx = 0;
  if (access(c->bin, X_OK) == 0) return 1;
  *use_npx = 1;
  snprintf(p, sizeof p, "%s/node_modules/@playwright/test/cli.js", ws);
  if (file_exists(p)) return 1;
  snprintf(p, sizeof p, "%s/node_modules/playwright/cli.js", ws);
  return file_exists(p);
}

static void build_argv(const qf_tool_ctx_t *ctx, int use_npx, pw_cmd_t *c) {
  const char *config = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(ctx->args, "config"));
  if (config == NULL) config = c->found;
  const char *project = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(ctx->args, "project"));
  const char *grep =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ctx->args, "grep"));
  const char *test_path = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(ctx->args, "test_path"));
  size_t n = 0;
  if (use_npx) {
    c->argv[n++] = "npx";
    c->argv[n++] = "--no-install";
    c->argv[n++] = "playwright";
  } else {
    c->argv[n++] = c->bin;
  }
  c->argv[n++] = "test";
  /* list for a readable stdout.log, junit for the report. */
  c->argv[n++] = "--reporter=list,junit";
  snprintf(c->output, sizeof c->output, "--output=%s/test-results",
           ctx->tool_dir);
  c->argv[n++] = c->output;
  /* "--opt=value" keeps every value one token whatever it starts with. */
  if (config && config[0]) {
    snprintf(c->config, sizeof c->config, "--config=%s", config);
    c->argv[n++] = c->config;
  }
  if (project) {
    snprintf(c->project, sizeof c->project, "--project=%s", project);
    c->argv[n++] = c->project;
  }
  if (grep) {
    snprintf(c->grep, sizeof c->grep, "--grep=%s", grep);
    c->argv[n++] = c->grep;
  }
  if (test_path) {
    c->argv[n++] = "--";
    c->argv[n++] = test_path;
  }
  c->argv[n] = NULL;
}

/* The variables the sandbox whitelist may not carry, and those that keep
 * Playwright and npm from fetching anything or prompting. */
static void build_env(const qf_tool_ctx_t *ctx, pw_cmd_t *c) {
  const char *path = getenv("PATH"), *chromium = getenv("QF_CHROMIUM");
  size_t n = 0;
  snprintf(c->env_home, sizeof c->env_home, "HOME=%s", c->home);
  snprintf(c->env_path, sizeof c->env_path, "PATH=%s/node_modules/.bin:%s",
           ctx->workspace, path && *path ? path : PATH_DEFAULT);
  snprintf(c->env_chromium, sizeof c->env_chromium, "QF_CHROMIUM=%s",
           chromium && *chromium ? chromium : CHROMIUM_DEFAULT);
  /* _FILE wins over a config's own outputFile; _NAME is the documented
   * variable of older releases (an absolute name resolves to itself). */
  snprintf(c->env_junit_file, sizeof c->env_junit_file,
           "PLAYWRIGHT_JUNIT_OUTPUT_FILE=%s/junit.xml", ctx->tool_dir);
  snprintf(c->env_junit_name, sizeof c->env_junit_name,
           "PLAYWRIGHT_JUNIT_OUTPUT_NAME=%s/junit.xml", ctx->tool_dir);
  c->env[n++] = c->env_home;
  c->env[n++] = c->env_path;
  c->env[n++] = c->env_chromium;
  c->env[n++] = c->env_junit_file;
  c->env[n++] = c->env_junit_name;
  c->env[n++] = "PLAYWRIGHT_BROWSERS_PATH=0";
  c->env[n++] = "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1";
  c->env[n++] = "CI=1"; /* no interactive HTML report, no prompts */
  c->env[n++] = "NO_COLOR=1";
  c->env[n++] = "FORCE_COLOR=0";
  c->env[n++] = "npm_config_offline=true";
  c->env[n++] = "npm_config_update_notifier=false";
  c->env[n++] = "npm_config_fund=false";
  c->env[n++] = "npm_config_audit=false";
  c->env[n] = NULL;
}

/* ---- run: the outcome --------------------------------------------------- */

/* Reads the last TAIL_BYTES of path into buf (NUL-terminated); "" when
 * it cannot be read. */
static void read_tail(const char *path, char *buf, size_t size) {
  FILE *f = qf_tools_open_output(path);
  size_t got = 0;
  buf[0] = '\0';
  if (f == NULL) return;
  if (fseek(f, 0, SEEK_END) == 0) {
    long end = ftell(f);
    long from = end > (long)size - 1 ? end - ((long)size - 1) : 0;
    if (end >= 0 && fseek(f, from, SEEK_SET) == 0)
      got = fread(buf, 1, size - 1, f);
  }
  buf[got] = '\0';
  fclose(f);
}

/* A line worth quoting: has a letter or digit, and is neither npm chatter
 * nor a frame of a Node stack trace (which follows the error line that
 * says what went wrong). s is a cleaned line. */
static int meaningful(const char *s, size_t n) {
  if (n >= 8 && strncmp(s, "npm warn", 8) == 0) return 0;
  if (n >= 3 && strncmp(s, "at ", 3) == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if ((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))
      return 1;
  }
  return 0;
}

/* Copies s[0..n) into out (which may be s: it never writes ahead of
 * what it reads) without escape sequences, control characters or
 * surrounding blanks, NUL-terminated. Returns the length written. */
static size_t clean_line(const char *s, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == 0x1b) { /* CSI: ESC [ params final-byte */
      if (i + 1 < n && s[i + 1] == '[') {
        i += 2;
        while (i < n && !(s[i] >= 0x40 && s[i] <= 0x7e))
          i++;
      }
      continue;
    }
    if (ch < 0x20 || ch == 0x7f) ch = ' ';
    if (ch == ' ' && (o == 0 || out[o - 1] == ' ')) continue;
    out[o++] = (char)ch;
  }
  while (o > 0 && out[o - 1] == ' ')
    o--;
  out[o] = '\0';
  return o;
}

/* The last meaningful lines of text, oldest first, joined with " | ", in
 * out (size n): at most max_lines (<= 8) of them, newest kept first; the
 * newest alone is cut to fit rather than dropped. text is modified. */
static void last_lines(char *text, int max_lines, char *out, size_t n) {
  char *picked[8];
  size_t total = 0;
  int k = 0;
  char *end = text + strlen(text);
  while (end > text && k < max_lines && k < 8) {
    char *start = end;
    while (start > text && start[-1] != '\n')
      start--;
    size_t len = clean_line(start, (size_t)(end - start), start);
    if (meaningful(start, len)) {
      if (k > 0 && total + len + 3 >= n) break;
      picked[k++] = start;
      total += len + 3;
    }
    end = start > text ? start - 1 : text;
  }
  size_t used = 0;
  out[0] = '\0';
  for (int i = k - 1; i >= 0 && used + 1 < n; i--) {
    int w =
        snprintf(out + used, n - used, "%s%s", used ? " | " : "", picked[i]);
    used = w < 0 || (size_t)w >= n - used ? n - 1 : used + (size_t)w;
  }
}

/* Cuts s so that it is valid UTF-8 (a multi-byte character cut by a bound
 * goes entirely). */
static void utf8_trim(char *s) {
  size_t bad = 0;
  if (qf_utf8_validate(s, strlen(s), &bad) < 0) s[bad] = '\0';
}

/* The runner's own words for a failure: stderr's tail, else stdout's. */
static void runner_message(const qf_tool_ctx_t *ctx, char *out, size_t n) {
  char path[PATH_MAX], tail[TAIL_BYTES];
  const char *logs[] = {"stderr.log", "stdout.log"};
  out[0] = '\0';
  for (size_t i = 0; i < 2 && out[0] == '\0'; i++) {
    snprintf(path, sizeof path, "%s/%s", ctx->tool_dir, logs[i]);
    read_tail(path, tail, sizeof tail);
    last_lines(tail, 4, out, n);
  }
}

/* "playwright exited with code N<what>: detail", cut to the evidence
 * bound. */
static void set_message(qf_tool_outcome_t *out, const char *what,
                        const char *detail) {
  qf_utf8_snprintf(out->error_message, sizeof out->error_message,
                   "playwright exited with code %d%s: %s", out->exit_code, what,
                   detail);
  utf8_trim(out->error_message);
}

/* The line of text (cleaned, into out) that names a browser launch
 * failure, or "" when none does. */
static void browser_line(const char *text, char *out, size_t n) {
  const char *hit = NULL;
  out[0] = '\0';
  for (size_t i = 0; hit == NULL && i < 3; i++)
    hit = strstr(text, browser_markers[i]);
  if (hit == NULL) return;
  const char *start = hit, *end = hit + strcspn(hit, "\r\n");
  while (start > text && start[-1] != '\n')
    start--;
  char line[TAIL_BYTES];
  size_t len = (size_t)(end - start) < sizeof line ? (size_t)(end - start)
                                                   : sizeof line - 1;
  len = clean_line(start, len, line);
  const char *s = strncmp(line, "Error: ", 7) == 0 ? line + 7 : line;
  qf_utf8_snprintf(out, n, "%s", len ? s : "");
}

/* Whether the browser never started: a failing case's message, or the
 * runner's output (a global setup that launches one fails before any
 * case), names a launch failure. out gets that line. */
static int browser_failed(const qf_tool_ctx_t *ctx,
                          const qf_tool_outcome_t *out, char *line, size_t n) {
  char path[PATH_MAX], tail[TAIL_BYTES];
  const char *logs[] = {"stdout.log", "stderr.log"};
  for (size_t i = 0; i < out->failures.n; i++) {
    const char *m = out->failures.items[i].message;
    if (m) browser_line(m, line, n);
    if (line[0]) return 1;
  }
  for (size_t i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", ctx->tool_dir, logs[i]);
    read_tail(path, tail, sizeof tail);
    browser_line(tail, line, n);
    if (line[0]) return 1;
  }
  return 0;
}

/* A browser that cannot start fails every test it would have run: that
 * is the worker's or the project's setup, not a verdict on the tests, so
 * the report's counts go (its failing cases stay: they say which tests
 * did not run, and why). A retry would fail the same way. */
static void browser_error(qf_tool_outcome_t *out, char *line) {
  utf8_trim(line); /* a log tail may start mid-character */
  qf_utf8_cut(line, QF_EVIDENCE_ERROR_MAX - 30 - (sizeof BROWSER_HINT - 1));
  qf_utf8_snprintf(out->error_message, sizeof out->error_message,
                   "the browser could not start: %s" BROWSER_HINT, line);
  out->has_junit = 0;
  memset(&out->junit, 0, sizeof out->junit);
  out->steps_total = out->steps_passed = out->steps_failed = 0;
}

/* A run that ended without a report: the runner could not load the
 * project (bad config, missing package) or died. Its own words say which;
 * "tests failed" would be a verdict on tests that never ran. */
static void no_report(const qf_tool_ctx_t *ctx, qf_tool_outcome_t *out,
                      char *detail, size_t n) {
  runner_message(ctx, detail, n);
  if (strstr(detail, "missing packages") ||
      strstr(detail, "could not determine executable")) {
    /* npx --no-install found no local runner: installing would help,
     * retrying would not. */
    qf_utf8_snprintf(out->error_message, sizeof out->error_message,
                     NOT_INSTALLED);
    return;
  }
  set_message(out, " without writing a JUnit report",
              detail[0] ? detail : "no output");
}

/* Refines the generic outcome from the exit code and the report. */
static void refine(const qf_tool_ctx_t *ctx, const qf_exec_result_t *r,
                   qf_tool_outcome_t *out) {
  /* Room for the detail after "playwright exited with code N: ". */
  char detail[QF_EVIDENCE_ERROR_MAX - 40], counts[64];
  qf_error_t bad = {0};
  int rc = qf_tools_read_junit(ctx, out, &bad);
  if (!r->exited || r->timed_out || r->start_failed) return;
  if (rc < 0 && rc != QF_ENOENT) { /* there, but no verdict to use */
    out->status = QF_TOOL_FAILED;
    qf_utf8_snprintf(out->error_message, sizeof out->error_message,
                     "the JUnit report cannot be used: %s", bad.message);
    return;
  }
  if (r->exit_code == 0) {
    /* The worker asks for the report: a pass without one is no
     * evidence that anything passed. */
    if (!out->has_junit) {
      out->status = QF_TOOL_FAILED;
      qf_utf8_snprintf(out->error_message, sizeof out->error_message,
                       "playwright exited 0 but wrote no JUnit report");
    }
    return;
  }
  if (browser_failed(ctx, out, detail, sizeof detail)) {
    browser_error(out, detail);
    return;
  }
  if (!out->has_junit) {
    no_report(ctx, out, detail, sizeof detail);
    return;
  }
  if (r->exit_code == 1 && out->steps_failed > 0) {
    snprintf(counts, sizeof counts, "%lld of %lld tests failed",
             out->steps_failed, out->junit.tests);
    set_message(out, "", counts);
    return;
  }
  runner_message(ctx, detail, sizeof detail);
  set_message(out, "", detail[0] ? detail : "no output");
}

static int run(const qf_tool_ctx_t *ctx, qf_tool_outcome_t *out,
               qf_error_t *err) {
  pw_cmd_t *c = calloc(1, sizeof *c);
  qf_exec_result_t r;
  int use_npx = 0, rc = QF_OK;
  memset(out, 0, sizeof *out);
  if (c == NULL) return qf_error_set(err, QF_ENOMEM, TOOL ": out of memory");
  /* Every path handed to the child starts with one of these: refuse a
   * length that could cut one rather than run with a wrong path. */
  if (strlen(ctx->workspace) > PATH_MAX - 64 ||
      strlen(ctx->tool_dir) > PATH_MAX - 64) {
    rc = qf_error_set(err, QF_ETOOBIG,
                      TOOL
                      ": workspace or tool directory "
                      "path too long");
    goto out;
  }
  if (!find_runner(ctx->workspace, c, &use_npx)) {
    /* Refuse rather than let npx fetch it from the registry. */
    out->status = QF_TOOL_FAILED;
    qf_utf8_snprintf(out->error_message, sizeof out->error_message,
                     NOT_INSTALLED);
    goto out;
  }
  qf_error_t why = {0};
  if (cJSON_GetObjectItemCaseSensitive(ctx->args, "config") == NULL &&
      qf__playwright_find_config(ctx->workspace, c->found, sizeof c->found,
                                 &why) < 0) {
    /* validate refuses this; a caller that skipped it gets the same. */
    out->status = QF_TOOL_FAILED;
    qf_utf8_snprintf(out->error_message, sizeof out->error_message, "%s",
                     why.message);
    goto out;
  }
  /* A private HOME: browser and npm caches stay out of the worker's. */
  rc = qf_fs_join(c->home, sizeof c->home, ctx->tool_dir, ".home", err);
  if (rc == QF_OK) rc = qf_fs_mkdirs(c->home, err);
  if (rc < 0) goto out;
  build_argv(ctx, use_npx, c);
  build_env(ctx, c);
  /* No address-space limit: V8 and Chromium reserve tens of GiB of
   * virtual memory up front and abort under any realistic RLIMIT_AS. */
  rc = qf_tools_exec(ctx, c->argv, c->env, 0, &r, err);
  if (rc < 0) goto out;
  qf_tools_outcome_from_exec("playwright", &r, ctx->timeout_s, out);
  refine(ctx, &r, out);
out:
  /* The private HOME is scratch (fontconfig, NSS, npm caches), not
   * evidence: gone before the pipeline collects artifacts. */
  if (c->home[0] && qf_fs_empty_dir(c->home, NULL) == QF_OK) rmdir(c->home);
  free(c);
  return rc;
}

const qf_tool_t qf__tool_playwright = {TOOL, validate, run};
