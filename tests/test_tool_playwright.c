/* run_playwright: argument validation (nothing runs), the argv and
 * environment handed to the runner (a stand-in runner that records them),
 * a workspace without Playwright, and real runs of the Playwright Test
 * project in tests/data/playwright against Debian's Chromium. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qf/fsutil.h"
#include "qf/tools.h"
#include "support.h"

#define PROJECT QF_SOURCE_DIR "/tests/data/playwright"
#define CONFIG "tests/e2e/playwright.config.js"

/* Paths test files may name, and the variables the sandbox passes on. */
static const char policy_yaml[] =
    "sandbox:\n"
    "  timeout_s: 600\n"
    "  allowed_paths: [tests/]\n"
    "  env_whitelist: [PATH, HOME, LANG, LC_*, TMPDIR]\n";

typedef struct fixture {
  char root[64];       /* temporary directory, removed at the end */
  char workspace[128]; /* root/ws */
  char tool_dir[256];  /* root/tools/run_playwright/<n> */
  qf_policy_t *policy;
  const qf_tool_t *tool;
} fixture_t;

static fixture_t fx;

static void run_ok(const char *const *argv, int timeout_s) {
  qf_test_proc_t p;
  qf_test_run(argv, NULL, timeout_s, &p);
  cr_assert_eq(p.status, 0, "%s failed (%d):\n%s%s", argv[0], p.status,
               p.out.data ? p.out.data : "", p.err.data ? p.err.data : "");
  qf_test_proc_fini(&p);
}

static void setup(void) {
  qf_error_t err;
  memset(&fx, 0, sizeof fx);
  snprintf(fx.root, sizeof fx.root, "%s", qf_test_tmpdir());
  snprintf(fx.workspace, sizeof fx.workspace, "%s/ws", fx.root);
  cr_assert_eq(qf_fs_mkdirs(fx.workspace, &err), 0, "%s", err.message);
  cr_assert_eq(qf_policy_parse(policy_yaml, strlen(policy_yaml), "test",
                               &fx.policy, &err),
               0, "%s", err.message);
  fx.tool = qf_tools_find("run_playwright");
  cr_assert_not_null(fx.tool);
}

static void teardown(void) {
  const char *rm[] = {"rm", "-rf", fx.root, NULL};
  qf_policy_free(fx.policy);
  if (fx.root[0]) run_ok(rm, 120);
}

/* A fresh, empty tool directory (the pipeline gives one per attempt). */
static const char *new_tool_dir(void) {
  static int n;
  qf_error_t err;
  snprintf(fx.tool_dir, sizeof fx.tool_dir, "%s/tools/run_playwright/%d",
           fx.root, ++n);
  cr_assert_eq(qf_fs_mkdirs(fx.tool_dir, &err), 0, "%s", err.message);
  return fx.tool_dir;
}

static void write_file(const char *rel, const char *text, int mode) {
  char path[PATH_MAX], dir[PATH_MAX];
  qf_error_t err;
  snprintf(path, sizeof path, "%s/%s", fx.workspace, rel);
  memcpy(dir, path, sizeof dir);
  *strrchr(dir, '/') = '\0';
  cr_assert_eq(qf_fs_mkdirs(dir, &err), 0, "%s", err.message);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fputs(text, f);
  fclose(f);
  cr_assert_eq(chmod(path, (mode_t)mode), 0);
}

static int exists(const char *dir, const char *rel) {
  char path[PATH_MAX];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  return lstat(path, &st) == 0;
}

static int dir_is_empty(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  cr_assert_not_null(d, "%s", dir);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n == 0;
}

/* Counts files under dir whose names end in suffix (recursively). */
static int count_files(const char *dir, const char *suffix) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (d == NULL) return 0;
  while ((e = readdir(d)) != NULL) {
    char path[PATH_MAX];
    struct stat st;
    size_t len = strlen(e->d_name), sl = strlen(suffix);
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (lstat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode))
      n += count_files(path, suffix);
    else if (len >= sl && strcmp(e->d_name + len - sl, suffix) == 0)
      n++;
  }
  closedir(d);
  return n;
}

static char *read_text(const char *dir, const char *rel) {
  char path[PATH_MAX], *text = NULL;
  size_t len;
  qf_error_t err;
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  cr_assert_eq(qf_fs_read(path, 1 << 20, &text, &len, &err), 0, "%s",
               err.message);
  return text;
}

static int validate_json(const char *json, qf_error_t *err) {
  cJSON *args = cJSON_Parse(json);
  cr_assert_not_null(args, "bad test JSON %s", json);
  int rc = fx.tool->validate(args, fx.workspace, fx.policy, err);
  cJSON_Delete(args);
  return rc;
}

/* Validates then runs the tool on args (JSON) in a new tool directory. */
static void run_tool(const char *json, qf_tool_outcome_t *out) {
  qf_error_t err;
  cJSON *args = cJSON_Parse(json);
  cr_assert_not_null(args);
  cr_assert_eq(fx.tool->validate(args, fx.workspace, fx.policy, &err), 0, "%s",
               err.message);
  qf_tool_ctx_t ctx = {.policy = fx.policy,
                       .run_id = "0b6f6f0e-4a3c-5d7e-9f10-1234567890ab",
                       .workspace = fx.workspace,
                       .tool_dir = new_tool_dir(),
                       .timeout_s = 300,
                       .args = args};
  cr_assert_eq(fx.tool->run(&ctx, out, &err), 0, "%s", err.message);
  cJSON_Delete(args);
}

/* ---- validation ---------------------------------------------------------- */

TestSuite(playwright_args, .init = setup, .fini = teardown, .timeout = 60);

/* A stand-in runner that leaves a mark: validation must never start it. */
static const char marker_runner[] = "#!/bin/sh\ntouch \"$0.ran\"\n";

Test(playwright_args, accepts_every_argument_and_an_empty_object) {
  qf_error_t err;
  write_file(CONFIG, "module.exports = {};\n", 0644);
  cr_expect_eq(validate_json("{}", &err), 0, "%s", err.message);
  cr_expect_eq(validate_json("{\"config\": \"" CONFIG "\", \"project\": "
                             "\"Desktop Chrome 1.0-x_y\", \"grep\": "
                             "\"@smoke|heading (a.*b)\", \"test_path\": "
                             "\"tests/e2e/new.spec.js\"}",
                             &err),
               0, "%s", err.message);
  cr_expect_eq(fx.tool->validate(NULL, fx.workspace, fx.policy, &err), 0);
}

Test(playwright_args, refuses_bad_arguments_naming_them_and_runs_nothing) {
  static const struct {
    const char *args, *message;
  } cases[] = {
      {"{\"config\": \"../x\"}", "config: must not contain '..'"},
      {"{\"config\": \"tests/../../x\"}", "config: must not contain '..'"},
      {"{\"config\": \"/etc/x.ts\"}", "config: must be relative"},
      {"{\"config\": \"tests/out/passwd\"}",
       "config: 'tests/out/passwd' "
       "resolves outside the workspace"},
      {"{\"config\": \"src/playwright.config.ts\"}",
       "config: 'src/playwright.config.ts' is outside sandbox.allowed_paths"},
      {"{\"config\": \"\"}", "config: must not be empty"},
      {"{\"config\": 3}", "config: must be a string"},
      {"{\"test_path\": \"/etc\"}", "test_path: must be relative"},
      {"{\"test_path\": \"tests/out\"}",
       "test_path: 'tests/out' resolves "
       "outside the workspace"},
      {"{\"test_path\": \"-x\"}", "test_path: must not start with '-'"},
      {"{\"project\": \"--evil\"}", "project: must not start with '-'"},
      {"{\"project\": \"a;b\"}", "project: only letters"},
      {"{\"project\": \"\"}", "project: must be 1-64 characters"},
      {"{\"project\": \"12345678901234567890123456789012345678901234567890"
       "123456789012345\"}",
       "project: must be 1-64 characters (got 65)"},
      {"{\"grep\": \"-v\"}", "grep: must not start with '-'"},
      {"{\"grep\": \"--reporter=html\"}", "grep: must not start with '-'"},
      {"{\"grep\": \"a\\nb\"}", "grep: must not contain control characters"},
      {"{\"grep\": \"\"}", "grep: must be 1-256 bytes"},
      {"{\"grep\": null}", "grep: must be a string"},
      {"{\"headless\": false}", "headless: unknown argument"},
      {"[]", "args: must be an object"},
  };
  char link[PATH_MAX];
  const char *tool_dir = new_tool_dir();
  write_file("node_modules/.bin/playwright", marker_runner, 0755);
  snprintf(link, sizeof link, "%s/tests/out", fx.workspace);
  write_file("tests/e2e/.keep", "", 0644);
  cr_assert_eq(symlink("/etc", link), 0); /* a way out of the workspace */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qf_error_t err = {0};
    cr_expect_eq(validate_json(cases[i].args, &err), QF_EVALIDATE,
                 "accepted %s", cases[i].args);
    cr_expect(strstr(err.message, cases[i].message) == err.message,
              "%s: got '%s', want '%s...'", cases[i].args, err.message,
              cases[i].message);
  }
  cr_expect(!exists(fx.workspace, "node_modules/.bin/playwright.ran"),
            "validate started the runner");
  cr_expect(dir_is_empty(tool_dir), "validate wrote into the tool dir");
}

/* ---- the command handed to the runner (no browser) ------------------- */

TestSuite(playwright_command, .init = setup, .fini = teardown, .timeout = 60);

/* Records argv and the environment, writes a JUnit report where it was
 * told to, and exits with $FAKE_EXIT from a file (the sandbox scrubs the
 * environment, so the test talks to it through the workspace). */
static const char recording_runner[] =
    "#!/bin/sh\n"
    "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > argv.txt\n"
    "env > env.txt\n"
    "pwd > cwd.txt\n"
    "[ -f report.xml ] && cp report.xml \"$PLAYWRIGHT_JUNIT_OUTPUT_FILE\"\n"
    "[ -f say.txt ] && cat say.txt >&2\n"
    "exit $(cat exit.txt 2>/dev/null || echo 0)\n";

static const char report_1_of_2[] =
    "<testsuites tests=\"2\" failures=\"1\"><testsuite name=\"s\">"
    "<testcase name=\"a\"/><testcase name=\"b\"><failure message=\"no\"/>"
    "</testcase></testsuite></testsuites>\n";

Test(playwright_command, passes_arguments_as_single_tokens_and_a_safe_env) {
  qf_tool_outcome_t out;
  write_file("node_modules/.bin/playwright", recording_runner, 0755);
  write_file("tests/e2e/a b.spec.js", "", 0644);
  run_tool(
      "{\"config\": \"" CONFIG
      "\", \"project\": \"chromium\", "
      "\"grep\": \"heading (a|b)\", \"test_path\": \"tests/e2e/a b.spec.js\"}",
      &out);
  cr_assert_eq(out.status, QF_TOOL_SUCCESS, "%s", out.error_message);
  cr_expect_eq(out.has_exit_code, 1);
  cr_expect_eq(out.exit_code, 0);
  cr_expect_eq(out.has_junit, 0, "no report was written");
  char *argv = read_text(fx.workspace, "argv.txt");
  char want[4 * PATH_MAX];
  snprintf(want, sizeof want,
           "test\n--reporter=list,junit\n--output=%s/test-results\n"
           "--config=" CONFIG
           "\n--project=chromium\n--grep=heading (a|b)\n"
           "--\ntests/e2e/a b.spec.js\n",
           fx.tool_dir);
  cr_expect_str_eq(argv, want);
  free(argv);
  char *text = read_text(fx.workspace, "env.txt"), line[2 * PATH_MAX];
  char env[1 << 16];
  snprintf(env, sizeof env, "\n%s", text); /* every entry after a \n */
  free(text);
  const char *chromium = getenv("QF_CHROMIUM");
  snprintf(line, sizeof line, "\nQF_CHROMIUM=%s\n",
           chromium && *chromium ? chromium : "/usr/bin/chromium");
  cr_expect(strstr(env, line), "%s missing in\n%s", line, env);
  snprintf(line, sizeof line, "\nHOME=%s/.home\n", fx.tool_dir);
  cr_expect(strstr(env, line), "%s missing in\n%s", line, env);
  snprintf(line, sizeof line, "\nPLAYWRIGHT_JUNIT_OUTPUT_FILE=%s/junit.xml\n",
           fx.tool_dir);
  cr_expect(strstr(env, line), "%s missing in\n%s", line, env);
  snprintf(line, sizeof line, "\nPATH=%s/node_modules/.bin:", fx.workspace);
  cr_expect(strstr(env, line), "%s missing in\n%s", line, env);
  cr_expect(strstr(env, "\nPLAYWRIGHT_BROWSERS_PATH=0\n"));
  cr_expect(strstr(env, "\nPLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1\n"));
  char *cwd = read_text(fx.workspace, "cwd.txt");
  cr_expect(strncmp(cwd, fx.workspace, strlen(fx.workspace)) == 0, "%s", cwd);
  free(cwd);
  cr_expect(!exists(fx.tool_dir, ".home"), "the private HOME is scratch");
  cr_expect(exists(fx.tool_dir, "stdout.log"));
}

Test(playwright_command, exit_1_with_a_report_counts_the_failed_tests) {
  qf_tool_outcome_t out;
  write_file("node_modules/.bin/playwright", recording_runner, 0755);
  write_file("report.xml", report_1_of_2, 0644);
  write_file("exit.txt", "1\n", 0644);
  run_tool("{}", &out);
  cr_expect_eq(out.status, QF_TOOL_FAILED);
  cr_expect_eq(out.exit_code, 1);
  cr_expect_eq(out.infra_failure, 0);
  cr_assert_eq(out.has_junit, 1);
  cr_expect_eq(out.junit.tests, 2);
  cr_expect_eq(out.steps_total, 2);
  cr_expect_eq(out.steps_passed, 1);
  cr_expect_eq(out.steps_failed, 1);
  cr_expect_str_eq(out.error_message,
                   "playwright exited with code 1: 1 of 2 tests failed");
}

Test(playwright_command, other_failures_quote_the_runner_briefly) {
  qf_tool_outcome_t out;
  char say[4000] = "npm warn Unknown user config \"nodedir\"\n\n";
  for (int i = 0; i < 40; i++)
    strcat(say, "  at some/frame.js:1:2\n");
  strcat(say, "\x1b[31mError: Cannot find module '@playwright/test'\x1b[0m\n");
  strcat(say, "\n  \xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\n"); /* a rule */
  write_file("node_modules/.bin/playwright", recording_runner, 0755);
  write_file("say.txt", say, 0644);
  write_file("exit.txt", "2\n", 0644);
  run_tool("{}", &out);
  cr_expect_eq(out.status, QF_TOOL_FAILED);
  cr_expect_eq(out.exit_code, 2);
  cr_expect_eq(out.has_junit, 0);
  /* Not the npm warning, the stack frames or the ruler: the error. */
  cr_expect_str_eq(out.error_message,
                   "playwright exited with code 2: Error: Cannot find module "
                   "'@playwright/test'");
  cr_expect(!strchr(out.error_message, '\x1b'), "%s", out.error_message);
  cr_expect(strlen(out.error_message) <= 500);
}

Test(playwright_command, a_workspace_without_playwright_fails_without_running) {
  qf_tool_outcome_t out;
  const char *cp[] = {"cp", "-a", PROJECT "/.", fx.workspace, NULL};
  const char *rm[] = {"rm", "-rf", NULL, NULL};
  char nm[PATH_MAX];
  run_ok(cp, 60);
  snprintf(nm, sizeof nm, "%s/node_modules", fx.workspace);
  rm[2] = nm;
  run_ok(rm, 60); /* the source tree may have had one */
  run_tool("{\"config\": \"" CONFIG "\"}", &out);
  cr_expect_eq(out.status, QF_TOOL_FAILED);
  cr_expect_eq(out.infra_failure, 0, "installing helps, retrying does not");
  cr_expect_eq(out.has_exit_code, 0);
  cr_expect_str_eq(out.error_message,
                   "playwright not installed in the workspace: run npm "
                   "install");
  cr_expect(dir_is_empty(fx.tool_dir), "something ran");
  cr_expect(!exists(fx.workspace, "node_modules"), "something was installed");
}

/* ---- real runs (Chromium) -------------------------------------------- */

TestSuite(playwright_run, .init = setup, .fini = teardown, .timeout = 600);

/* Copies the sample project into the workspace and installs what it needs
 * (Chromium, node_modules) with its own install script. */
static void install_project(void) {
  const char *cp[] = {"cp", "-a", PROJECT "/.", fx.workspace, NULL};
  const char *install[] = {"sh", PROJECT "/install.sh", fx.workspace, NULL};
  char nm[PATH_MAX];
  const char *rm[] = {"rm", "-rf", nm, NULL};
  run_ok(cp, 60);
  snprintf(nm, sizeof nm, "%s/node_modules", fx.workspace);
  run_ok(rm, 60); /* install.sh must install it from package-lock.json */
  time_t t0 = time(NULL);
  run_ok(install, 540);
  fprintf(stderr, "install.sh took %lds\n", (long)(time(NULL) - t0));
}

Test(playwright_run, runs_the_project_reports_one_failure_then_greps_one) {
  qf_tool_outcome_t out;
  install_project();
  run_tool("{\"config\": \"" CONFIG "\"}", &out);
  fprintf(stderr, "failing run: %lld ms\n", out.duration_ms);
  cr_expect_eq(out.status, QF_TOOL_FAILED, "%s", out.error_message);
  cr_expect_eq(out.exit_code, 1);
  cr_expect_eq(out.infra_failure, 0);
  cr_assert_eq(out.has_junit, 1, "no junit.xml: %s", out.error_message);
  cr_expect_eq(out.junit.tests, 2);
  cr_expect_eq(out.junit.failures, 1);
  cr_expect_eq(out.junit.errors, 0);
  cr_expect_eq(out.steps_total, 2);
  cr_expect_eq(out.steps_failed, 1);
  cr_expect(strstr(out.error_message, "1 of 2 tests failed"), "%s",
            out.error_message);
  /* screenshot: 'on' gives both tests one; the failing one keeps a trace. */
  cr_expect_geq(count_files(fx.tool_dir, ".png"), 2);
  cr_expect_geq(count_files(fx.tool_dir, ".zip"), 1);
  cr_expect(exists(fx.tool_dir, "junit.xml"));
  cr_expect(!exists(fx.tool_dir, ".home"));

  run_tool("{\"config\": \"" CONFIG
           "\", \"project\": \"chromium\", "
           "\"grep\": \"welcomes\"}",
           &out);
  fprintf(stderr, "grep run: %lld ms\n", out.duration_ms);
  cr_expect_eq(out.status, QF_TOOL_SUCCESS, "%s", out.error_message);
  cr_assert_eq(out.has_junit, 1);
  cr_expect_eq(out.junit.tests, 1);
  cr_expect_eq(out.junit.failures, 0);
  cr_expect_eq(out.steps_passed, 1);
  cr_expect_str_eq(out.error_message, "");
  cr_expect_geq(count_files(fx.tool_dir, ".png"), 1);

  /* The runner's own words when it has no report to show. */
  run_tool("{\"config\": \"tests/e2e/missing.config.js\"}", &out);
  cr_expect_eq(out.status, QF_TOOL_FAILED);
  cr_expect_eq(out.infra_failure, 0);
  cr_expect(strstr(out.error_message, "missing.config.js does not exist") &&
                !strstr(out.error_message, " at "),
            "%s", out.error_message);
  run_tool("{\"config\": \"" CONFIG "\", \"grep\": \"no such test\"}", &out);
  cr_expect_eq(out.status, QF_TOOL_FAILED);
  cr_expect_str_eq(out.error_message,
                   "playwright exited with code 1: Error: No tests found");
}
