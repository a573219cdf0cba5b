/* run_playwright: argument validation (nothing runs), the config found
 * when none is named, the argv and environment handed to the runner (a
 * stand-in runner that records them), runs that are tool errors rather
 * than failing tests (no report, a browser that cannot start), a
 * workspace without Playwright, and real runs of the Playwright Test
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
/* What validate says when no config is named and the root has none. */
#define NO_CONFIG                                        \
  "config: no Playwright config found in the workspace " \
  "(playwright.config.{ts,js,mts,mjs,cts,cjs}); name one with args.config"

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

/* The config Playwright would find itself, at the workspace root. */
static void write_root_config(void) {
  write_file("playwright.config.js", "module.exports = {};\n", 0644);
}

Test(playwright_args, accepts_every_argument_and_an_empty_object) {
  qf_error_t err;
  write_file(CONFIG, "module.exports = {};\n", 0644);
  write_root_config();
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

Test(playwright_args, without_a_config_anywhere_it_refuses_naming_args_config) {
  qf_error_t err = {0};
  char link[PATH_MAX];
  const char *tool_dir = new_tool_dir();
  write_file("node_modules/.bin/playwright", marker_runner, 0755);
  /* Not at the root: Playwright would not find it either. */
  write_file(CONFIG, "module.exports = {};\n", 0644);
  cr_expect_eq(validate_json("{}", &err), QF_EVALIDATE);
  cr_expect_str_eq(err.message, NO_CONFIG);
  err.message[0] = '\0';
  cr_expect_eq(fx.tool->validate(NULL, fx.workspace, fx.policy, &err),
               QF_EVALIDATE);
  cr_expect_str_eq(err.message, NO_CONFIG);
  cr_expect_eq(validate_json("{\"project\": \"chromium\"}", &err),
               QF_EVALIDATE);
  cr_expect_str_eq(err.message, NO_CONFIG);
  /* Named, it is the request's choice. */
  cr_expect_eq(validate_json("{\"config\": \"" CONFIG "\"}", &err), 0, "%s",
               err.message);
  /* A root config that leads out of the workspace is no config. */
  snprintf(link, sizeof link, "%s/playwright.config.ts", fx.workspace);
  cr_assert_eq(symlink("/etc/passwd", link), 0);
  cr_expect_eq(validate_json("{}", &err), QF_EVALIDATE);
  cr_expect_str_eq(err.message,
                   "config: playwright.config.ts resolves outside the "
                   "workspace; name one with args.config");
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
  /* Exit 0, but no report: nothing shows that a test passed. */
  cr_expect_eq(out.status, QF_TOOL_FAILED);
  cr_expect_str_eq(out.error_message,
                   "playwright exited 0 but wrote no JUnit report");
  cr_expect_eq(out.infra_failure, 0);
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

Test(playwright_command, without_config_the_workspace_root_config_is_passed) {
  qf_tool_outcome_t out;
  char want[4 * PATH_MAX];
  write_file("node_modules/.bin/playwright", recording_runner, 0755);
  write_file("report.xml", report_1_of_2, 0644);
  write_root_config();
  write_file("playwright.config.cjs", "module.exports = {};\n", 0644);
  run_tool("{\"project\": \"chromium\"}", &out);
  char *argv = read_text(fx.workspace, "argv.txt");
  /* .js before .cjs, as Playwright looks. */
  snprintf(want, sizeof want,
           "test\n--reporter=list,junit\n--output=%s/test-results\n"
           "--config=playwright.config.js\n--project=chromium\n",
           fx.tool_dir);
  cr_expect_str_eq(argv, want);
  free(argv);
  qf_tool_outcome_fini(&out);
  /* A TypeScript one wins over both. */
  write_file("playwright.config.ts", "export default {};\n", 0644);
  run_tool("{}", &out);
  argv = read_text(fx.workspace, "argv.txt");
  cr_expect(strstr(argv, "\n--config=playwright.config.ts\n"), "%s", argv);
  free(argv);
  qf_tool_outcome_fini(&out);
}

Test(playwright_command, a_run_without_validate_still_needs_a_config) {
  qf_tool_outcome_t out;
  qf_error_t err;
  write_file("node_modules/.bin/playwright", marker_runner, 0755);
  qf_tool_ctx_t ctx = {.policy = fx.policy,
                       .run_id = "0b6f6f0e-4a3c-5d7e-9f10-1234567890ab",
                       .workspace = fx.workspace,
                       .tool_dir = new_tool_dir(),
                       .timeout_s = 60};
  cr_assert_eq(fx.tool->run(&ctx, &out, &err), 0, "%s", err.message);
  cr_expect_eq(out.status, QF_TOOL_FAILED);
  cr_expect_str_eq(out.error_message, NO_CONFIG);
  cr_expect(!exists(fx.workspace, "node_modules/.bin/playwright.ran"));
}

Test(playwright_command, exit_1_with_a_report_counts_the_failed_tests) {
  qf_tool_outcome_t out;
  write_root_config();
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
  cr_assert_eq(out.failures.n, 1);
  cr_expect_str_eq(out.failures.items[0].name, "b");
  cr_expect_str_eq(out.failures.items[0].suite, "s");
  cr_expect_str_eq(out.failures.items[0].message, "no");
  qf_tool_outcome_fini(&out);
}

/* What Playwright 1.65 writes when the browser is not there (two specs,
 * each failing at launch). */
static const char report_no_browser[] =
    "<testsuites tests=\"2\" failures=\"0\" errors=\"2\">"
    "<testsuite name=\"heading.spec.js\" tests=\"1\" errors=\"1\">"
    "<testcase name=\"heading welcomes the user\" "
    "classname=\"heading.spec.js\"><error message=\"browserType.launch: "
    "Executable doesn&apos;t exist at /nonexistent/chromium\" type=\"Error\">"
    "Error: browserType.launch: Executable doesn't exist at "
    "/nonexistent/chromium\n  at tests/e2e/heading.spec.js:4:1</error>"
    "</testcase></testsuite>"
    "<testsuite name=\"status.spec.js\" tests=\"1\" errors=\"1\">"
    "<testcase name=\"status reports an outage\" "
    "classname=\"status.spec.js\"><error message=\"browserType.launch: "
    "Executable doesn&apos;t exist at /nonexistent/chromium\" type=\"Error\"/>"
    "</testcase></testsuite></testsuites>\n";

#define BROWSER_HINT                                                \
  " (install the browser the config launches: QF_CHROMIUM, or npx " \
  "playwright install for Playwright's own)"

/* A tool error, never "N of N tests failed", and no counts to show. */
static void expect_browser_error(const qf_tool_outcome_t *out,
                                 const char *why) {
  char want[1024];
  snprintf(want, sizeof want, "the browser could not start: %s" BROWSER_HINT,
           why);
  cr_expect_eq(out->status, QF_TOOL_FAILED);
  cr_expect_eq(out->exit_code, 1);
  cr_expect_eq(out->infra_failure, 0, "a retry starts no browser either");
  cr_expect_str_eq(out->error_message, want);
  cr_expect_null(strstr(out->error_message, "tests failed"));
  cr_expect_eq(out->has_junit, 0, "the report is no verdict on the tests");
  cr_expect_eq(out->junit.tests, 0);
  cr_expect_eq(out->steps_total, 0);
  cr_expect_eq(out->steps_failed, 0);
  cr_expect_leq(strlen(out->error_message), 500);
}

Test(playwright_command, a_browser_that_cannot_start_is_a_tool_error) {
  qf_tool_outcome_t out;
  write_root_config();
  write_file("node_modules/.bin/playwright", recording_runner, 0755);
  write_file("report.xml", report_no_browser, 0644);
  write_file("exit.txt", "1\n", 0644);
  run_tool("{}", &out);
  expect_browser_error(&out,
                       "browserType.launch: Executable doesn't exist at "
                       "/nonexistent/chromium");
  /* The cases stay: they say which tests did not run, and why. */
  cr_assert_eq(out.failures.n, 2);
  cr_expect_str_eq(out.failures.items[0].name, "heading welcomes the user");
  cr_expect_str_eq(out.failures.items[0].kind, "error");
  cr_expect_str_eq(out.failures.items[0].file, "tests/e2e/heading.spec.js");
  cr_expect_eq(out.failures.items[0].line, 4);
  cr_expect_str_eq(out.failures.items[1].name, "status reports an outage");
  qf_tool_outcome_fini(&out);
}

Test(playwright_command, a_browser_failing_before_any_test_is_a_tool_error) {
  qf_tool_outcome_t out;
  /* A global setup that launches the browser: no case, no report, only
   * the runner's words. */
  write_root_config();
  write_file("node_modules/.bin/playwright", recording_runner, 0755);
  write_file("say.txt",
             "Error: browserType.launch: Failed to launch chromium because "
             "executable doesn't exist at /nonexistent/chromium\n"
             "    at globalSetup (/ws/global-setup.js:3:9)\n",
             0644);
  write_file("exit.txt", "1\n", 0644);
  run_tool("{}", &out);
  expect_browser_error(&out,
                       "browserType.launch: Failed to launch chromium "
                       "because executable doesn't exist at "
                       "/nonexistent/chromium");
  qf_tool_outcome_fini(&out);
}

Test(playwright_command, exit_1_without_a_report_says_the_report_is_missing) {
  qf_tool_outcome_t out;
  write_root_config();
  write_file("node_modules/.bin/playwright", recording_runner, 0755);
  write_file("say.txt", "Error: playwright.config.js: Unexpected token '}'\n",
             0644);
  write_file("exit.txt", "1\n", 0644);
  run_tool("{}", &out);
  cr_expect_eq(out.status, QF_TOOL_FAILED);
  cr_expect_eq(out.exit_code, 1);
  cr_expect_eq(out.infra_failure, 0);
  cr_expect_eq(out.has_junit, 0);
  cr_expect_str_eq(out.error_message,
                   "playwright exited with code 1 without writing a JUnit "
                   "report: Error: playwright.config.js: Unexpected token "
                   "'}'");
  /* Nothing said at all. */
  write_file("say.txt", "", 0644);
  run_tool("{}", &out);
  cr_expect_str_eq(out.error_message,
                   "playwright exited with code 1 without writing a JUnit "
                   "report: no output");
}

Test(playwright_command, an_unusable_report_is_no_verdict) {
  qf_tool_outcome_t out;
  write_root_config();
  write_file("node_modules/.bin/playwright", recording_runner, 0755);
  write_file("report.xml", "<testsuites><testsuite>", 0644);
  write_file("exit.txt", "1\n", 0644);
  run_tool("{}", &out);
  cr_expect_eq(out.status, QF_TOOL_FAILED);
  cr_expect_eq(out.has_junit, 0);
  cr_expect(
      strncmp(out.error_message, "the JUnit report cannot be used: ", 33) == 0,
      "%s", out.error_message);
}

Test(playwright_command, other_failures_quote_the_runner_briefly) {
  qf_tool_outcome_t out;
  char say[4000] = "npm warn Unknown user config \"nodedir\"\n\n";
  for (int i = 0; i < 40; i++)
    strcat(say, "  at some/frame.js:1:2\n");
  strcat(say, "\x1b[31mError: Cannot find module '@playwright/test'\x1b[0m\n");
  strcat(say, "\n  \xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\n"); /* a rule */
  write_root_config();
  write_file("node_modules/.bin/playwright", recording_runner, 0755);
  write_file("say.txt", say, 0644);
  write_file("exit.txt", "2\n", 0644);
  run_tool("{}", &out);
  cr_expect_eq(out.status, QF_TOOL_FAILED);
  cr_expect_eq(out.exit_code, 2);
  cr_expect_eq(out.has_junit, 0);
  /* Not the npm warning, the stack frames or the ruler: the error. */
  cr_expect_str_eq(out.error_message,
                   "playwright exited with code 2 without writing a JUnit "
                   "report: Error: Cannot find module '@playwright/test'");
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
  cr_assert_eq(out.failures.n, 1);
  const qf_junit_failure_t *f = &out.failures.items[0];
  cr_expect_str_eq(f->name, "status reports an outage (fails on purpose)");
  cr_expect_str_eq(f->suite, "status.spec.js");
  cr_expect_str_eq(f->message, "expect(locator).toHaveText(expected) failed");
  cr_expect_str_eq(f->file, "tests/e2e/status.spec.js");
  cr_expect_eq(f->line, 8);
  qf_tool_outcome_fini(&out);
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

  /* No browser where the config looks: a tool error, not two failures. */
  setenv("QF_CHROMIUM", "/nonexistent/chromium", 1);
  run_tool("{\"config\": \"" CONFIG "\"}", &out);
  expect_browser_error(&out,
                       "browserType.launch: Failed to launch chromium "
                       "because executable doesn't exist at "
                       "/nonexistent/chromium");
  cr_expect_eq(out.failures.n, 2);
  qf_tool_outcome_fini(&out);
}
