/* The evidence model: JSON form valid against the schema, strict reading,
 * atomic writing, summary rules, and repro facts from a real git repo. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/evidence.h"
#include "qf/repro.h"
#include "support.h"

#define RUN_ID "0b6f6f0e-4a3c-5d7e-9f10-1234567890ab"

static qf_evidence_t *sample(void) {
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_new(RUN_ID, "run the unit tests", NULL, &ev, &err),
               0);
  qf_tool_call_t call = {.tool_name = "run_pytest",
                         .status = QF_TOOL_FAILED,
                         .duration_ms = 1234,
                         .has_exit_code = 1,
                         .exit_code = 1,
                         .steps_total = 5,
                         .steps_passed = 4,
                         .steps_failed = 1,
                         .error_message = "1 test failed",
                         .attempts = 1};
  cr_assert_eq(qf_evidence_add_tool_call(ev, &call, &err), 0);
  cr_assert_eq(qf_evidence_add_artifact(
                   ev, "junit_xml", RUN_ID "/tools/run_pytest/junit.xml", 512,
                   "application/xml",
                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b78"
                   "52b855",
                   &err),
               0);
  qf_junit_summary_t j = {
      .tests = 5, .failures = 1, .passed = 4, .time_s = 1.5};
  qf_evidence_summarize(ev, &j);
  qf_evidence_account(ev, 300, 3);
  qf_evidence_stamp(ev);
  return ev;
}

static char *to_text(const qf_evidence_t *ev) {
  cJSON *doc = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_to_json(ev, &doc, &err), 0);
  char *text = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  return text;
}

Test(evidence, written_document_is_valid_and_reads_back_the_same) {
  qf_evidence_t *ev = sample(), *back = NULL;
  qf_error_t err;
  char *path = NULL;
  const char *dir = qf_test_tmpdir();
  char sub[256];
  snprintf(sub, sizeof sub, "%s/%s", dir, RUN_ID);
  cr_assert_eq(qf_evidence_write(ev, sub, &path, &err), 0, "%s", err.message);
  qf_test_assert_evidence_valid(path);
  cr_assert_eq(qf_evidence_load(path, &back, &err), 0, "%s", err.message);
  char *a = to_text(ev), *b = to_text(back);
  cr_expect_str_eq(a, b);
  cr_expect_eq(back->governance.elapsed_ms_total, 1234);
  cr_expect_eq(back->governance.timeout_s, 300);
  cr_expect_eq(back->summary.failures, 1);
  free(a);
  free(b);
  free(path);
  qf_evidence_free(ev);
  qf_evidence_free(back);
}

Test(evidence, write_is_atomic_and_leaves_no_temporary_files) {
  qf_evidence_t *ev = sample();
  qf_error_t err;
  const char *dir = qf_test_tmpdir();
  for (int i = 0; i < 3; i++) /* overwriting keeps one complete file */
    cr_assert_eq(qf_evidence_write(ev, dir, NULL, &err), 0, "%s", err.message);
  DIR *d = opendir(dir);
  int files = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    cr_expect_str_eq(e->d_name, "evidence.json");
    files++;
  }
  closedir(d);
  cr_expect_eq(files, 1);
  cr_expect_eq(qf_evidence_write(ev, "/proc/qf-cannot-write", NULL, &err),
               QF_ENOENT, "%s", err.message);
  qf_evidence_free(ev);
}

Test(evidence, enforced_governance_and_decision_are_what_is_saved) {
  qf_evidence_t *ev = sample(), *back = NULL;
  qf_error_t err;
  ev->governance.short_circuited = 1;
  ev->governance.short_circuit_reason = strdup("budget_elapsed_exceeded");
  ev->governance.decision_source = strdup("governance_short_circuit");
  const char *rules[] = {"budget_elapsed_exceeded"};
  cr_assert_eq(qf_evidence_set_decision(ev, "FAIL", "over budget", rules, 1,
                                        "budget", &err),
               0);
  const char *dir = qf_test_tmpdir();
  char *path = NULL;
  cr_assert_eq(qf_evidence_write(ev, dir, &path, &err), 0);
  qf_test_assert_evidence_valid(path);
  cr_assert_eq(qf_evidence_load(path, &back, &err), 0, "%s", err.message);
  cr_expect(back->governance.short_circuited);
  cr_expect_str_eq(back->governance.short_circuit_reason,
                   "budget_elapsed_exceeded");
  cr_expect_str_eq(back->governance.decision_source,
                   "governance_short_circuit");
  free(path);
  qf_evidence_free(ev);
  qf_evidence_free(back);
}

Test(evidence, long_error_messages_are_cut_at_a_character_boundary) {
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_new(RUN_ID, "x", NULL, &ev, &err), 0);
  char msg[1200] = "";
  for (int i = 0; i < 400; i++)
    strcat(msg, "\xc3\xa9"); /* 800 bytes of é */
  qf_tool_call_t c = {.tool_name = "run_pytest", .error_message = msg};
  cr_assert_eq(qf_evidence_add_tool_call(ev, &c, &err), 0);
  size_t n = strlen(ev->tool_calls[0].error_message);
  cr_expect_eq(n, 500);
  cr_expect_eq(ev->tool_calls[0].attempts, 1, "attempts default to 1");
  qf_evidence_free(ev);
}

Test(evidence, summary_prefers_junit_else_aggregates_tool_steps) {
  qf_evidence_t *ev = sample();
  cr_expect_eq(ev->summary.tests, 5);
  cr_expect_eq(ev->summary.passed, 4);
  qf_junit_summary_t empty = {0};
  qf_evidence_summarize(ev, &empty); /* a report with no tests: fall back */
  cr_expect_eq(ev->summary.tests, 5);
  cr_expect_eq(ev->summary.failures, 1);
  cr_expect_eq(ev->summary.errors, 0);
  cr_expect_eq(ev->summary.passed, 4);
  cr_expect_float_eq(ev->summary.time_s, 1.234, 1e-9);
  qf_evidence_free(ev);
}

struct bad_case {
  const char *from, *to; /* textual replacement applied to a valid doc */
  const char *message;   /* expected substring */
};

Test(evidence, reading_refuses_bad_documents_naming_the_field) {
  static const struct bad_case cases[] = {
      {"\"status\":\"failed\"", "\"status\":\"exploded\"",
       "tool_calls[0].status: must be one of"},
      {"\"tool_name\":\"run_pytest\"", "\"tool_name\":7",
       "tool_calls[0].tool_name: must be a string"},
      {"\"run_id\"", "\"color\":1,\"run_id\"", ": color: unknown key"},
      {"\"tests\":5", "\"tests\":-5", "summary.tests: must be an integer"},
      {"\"tests\":5", "\"tests\":5.5", "summary.tests: must be an integer"},
      {"\"tests\":5,", "", "summary.tests: missing"},
      {"\"input_nl\":\"run the unit tests\"", "\"input_nl\":\"\"",
       "input_nl: must not be empty"},
      {"\"short_circuited\":false", "\"short_circuited\":\"no\"",
       "governance.short_circuited: must be true or false"},
      {"\"budget\":{", "\"budget\":{\"x\":1,", "governance.budget.x: unknown"},
      {"\"run_id\"", "\"run_id\":\"a\",\"run_id\"", "run_id: duplicate key"},
      {"{\"run_id\"", "[{\"run_id\"", "not valid JSON"},
      {"qf-worker/evidence.v1.json", "other.json", "$schema: must be"},
  };
  qf_evidence_t *ev = sample();
  char *good = to_text(ev);
  qf_evidence_free(ev);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *at = strstr(good, cases[i].from);
    cr_assert_not_null(at, "case %zu: '%s' not in the document", i,
                       cases[i].from);
    char doc[8192];
    snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - good), good, cases[i].to,
             at + strlen(cases[i].from));
    qf_evidence_t *out = NULL;
    qf_error_t err;
    int rc = qf_evidence_from_json(doc, strlen(doc), "ev.json", &out, &err);
    cr_expect_lt(rc, 0, "case %zu accepted: %s", i, doc);
    cr_expect_null(out);
    cr_expect_not_null(strstr(err.message, cases[i].message),
                       "case %zu: got '%s', want '%s'", i, err.message,
                       cases[i].message);
  }
  free(good);
}

Test(evidence, load_refuses_missing_and_oversized_files) {
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  cr_expect_eq(qf_evidence_load("/nonexistent/evidence.json", &ev, &err),
               QF_ENOENT);
  cr_expect_not_null(strstr(err.message, "/nonexistent/evidence.json"));
  char path[256];
  snprintf(path, sizeof path, "%s/big.json", qf_test_tmpdir());
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  cr_assert_eq(ftruncate(fileno(f), (off_t)QF_EVIDENCE_MAX_BYTES + 1), 0);
  fclose(f);
  cr_expect_eq(qf_evidence_load(path, &ev, &err), QF_ETOOBIG);
}

static void sh(const char *dir, const char *cmd) {
  char full[1024];
  snprintf(full, sizeof full, "cd %s && %s", dir, cmd);
  qf_test_proc_t p;
  qf_test_run((const char *[]){"sh", "-c", full, NULL}, NULL, 30, &p);
  cr_assert_eq(p.status, 0, "%s: %s", cmd, p.err.data);
  qf_test_proc_fini(&p);
}

Test(evidence, repro_reads_git_sha_branch_and_dirty_state) {
  const char *dir = qf_test_tmpdir();
  sh(dir,
     "git init -q -b feature/x && git -c user.email=t@t -c user.name=t commit "
     "-q --allow-empty -m init");
  qf_evidence_t *ev = sample();
  cr_assert_eq(qf_repro_collect(ev, dir), 0);
  cr_expect_eq(strlen(ev->repro.git_sha), 40, "%s", ev->repro.git_sha);
  cr_expect_str_eq(ev->repro.git_branch, "feature/x");
  cr_expect_eq(ev->repro.git_dirty, 0);
  cr_expect_not_null(strstr(ev->repro.platform, "linux-"));
  qf_evidence_free(ev);

  sh(dir, "echo change > file.txt");
  ev = sample();
  cr_assert_eq(qf_repro_collect(ev, dir), 0);
  cr_expect_eq(ev->repro.git_dirty, 1);
  const char *out = qf_test_tmpdir();
  char *path = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_write(ev, out, &path, &err), 0);
  qf_test_assert_evidence_valid(path);
  free(path);
  qf_evidence_free(ev);
}

/* Read in process (libgit2): a detached HEAD is on no branch, an empty
 * repository has no commit yet, and a subfolder finds its repository. */
Test(evidence, repro_reads_detached_and_unborn_heads) {
  const char *dir = qf_test_tmpdir();
  sh(dir,
     "git init -q -b main && git -c user.email=t@t -c user.name=t commit "
     "-q --allow-empty -m init && git checkout -q --detach && mkdir -p sub "
     "&& echo x > .gitignore && git add .gitignore && git -c "
     "user.email=t@t -c user.name=t commit -q -m ignore");
  char sub[1100];
  snprintf(sub, sizeof sub, "%s/sub", dir);
  qf_evidence_t *ev = sample();
  cr_assert_eq(qf_repro_collect(ev, sub), 0);
  cr_expect_eq(strlen(ev->repro.git_sha), 40);
  cr_expect_str_eq(ev->repro.git_branch, "");
  cr_expect_eq(ev->repro.git_dirty, 0, "an ignored file is not a change");
  qf_evidence_free(ev);
  const char *empty = qf_test_tmpdir();
  sh(empty, "git init -q");
  ev = sample();
  cr_assert_eq(qf_repro_collect(ev, empty), 0);
  cr_expect_null(ev->repro.git_sha);
  cr_expect_eq(ev->repro.git_dirty, -1);
  qf_evidence_free(ev);
}

Test(evidence, repro_outside_a_repository_is_unknown_not_an_error) {
  const char *dir = qf_test_tmpdir();
  qf_evidence_t *ev = sample();
  cr_assert_eq(qf_repro_collect(ev, dir), 0);
  cr_expect_null(ev->repro.git_sha);
  cr_expect_null(ev->repro.git_branch);
  cr_expect_eq(ev->repro.git_dirty, -1);
  char *path = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_write(ev, dir, &path, &err), 0);
  qf_test_assert_evidence_valid(path);
  free(path);
  qf_evidence_free(ev);
}

/* ------------------------------------------------- failures and source */

static void add_failure(qf_evidence_t *ev, const char *suite, const char *name,
                        const char *kind, const char *message, const char *file,
                        long line) {
  qf_junit_failure_t f = {.suite = (char *)suite,
                          .name = (char *)name,
                          .kind = (char *)kind,
                          .message = (char *)message,
                          .file = (char *)file,
                          .line = line};
  cr_assert_eq(qf_junit_failures_add(&ev->failures, &f), 0);
}

#define COMMIT "0123456789abcdef0123456789abcdef01234567"

/* A sample with two failures (one with every field, one with none of the
 * optional ones) and a git source. */
static qf_evidence_t *sample_with_failures(void) {
  qf_evidence_t *ev = sample();
  qf_error_t err;
  add_failure(ev, "tests.test_login", "test_wrong_password", "failure",
              "assert 401 == 200", "tests/test_login.py", 42);
  add_failure(ev, NULL, "test_db", "error", NULL, NULL, 0);
  qf_evidence_source_t src = {.kind = "git",
                              .repo = "https://example.com/app.git",
                              .ref = "main",
                              .commit = COMMIT,
                              .workspace = "services/api"};
  cr_assert_eq(qf_evidence_set_source(ev, &src, &err), 0, "%s", err.message);
  return ev;
}

/* Writes ev, checks it against the schema, and reads it back. */
static qf_evidence_t *write_and_load(const qf_evidence_t *ev) {
  qf_evidence_t *back = NULL;
  qf_error_t err;
  char *path = NULL;
  cr_assert_eq(qf_evidence_write(ev, qf_test_tmpdir(), &path, &err), 0, "%s",
               err.message);
  qf_test_assert_evidence_valid(path);
  cr_assert_eq(qf_evidence_load(path, &back, &err), 0, "%s", err.message);
  free(path);
  char *a = to_text(ev), *b = to_text(back);
  cr_expect_str_eq(a, b);
  free(a);
  free(b);
  return back;
}

Test(evidence, failures_and_git_source_round_trip) {
  qf_evidence_t *ev = sample_with_failures();
  qf_evidence_t *back = write_and_load(ev);
  cr_assert_eq(back->failures.n, 2);
  cr_expect_eq(back->failures.total, 2);
  const qf_junit_failure_t *f = &back->failures.items[0];
  cr_expect_str_eq(f->suite, "tests.test_login");
  cr_expect_str_eq(f->name, "test_wrong_password");
  cr_expect_str_eq(f->kind, "failure");
  cr_expect_str_eq(f->message, "assert 401 == 200");
  cr_expect_str_eq(f->file, "tests/test_login.py");
  cr_expect_eq(f->line, 42);
  f = &back->failures.items[1];
  cr_expect_null(f->suite);
  cr_expect_str_eq(f->kind, "error");
  cr_expect_null(f->message);
  cr_expect_null(f->file);
  cr_expect_eq(f->line, 0);
  cr_assert(back->has_source);
  cr_expect_str_eq(back->source.kind, "git");
  cr_expect_str_eq(back->source.repo, "https://example.com/app.git");
  cr_expect_str_eq(back->source.ref, "main");
  cr_expect_str_eq(back->source.commit, COMMIT);
  cr_expect_str_eq(back->source.workspace, "services/api");

  /* Keys in a stable order: failures after summary, source before repro. */
  char *text = to_text(ev);
  const char *summary = strstr(text, "\"summary\":"),
             *failures = strstr(text, "\"failures\":["),
             *total = strstr(text, "\"failures_total\":2"),
             *source = strstr(text, "\"source\":{"),
             *repro = strstr(text, "\"repro\":");
  cr_assert(summary && failures && total && source && repro, "%s", text);
  cr_expect(summary < failures && failures < total && total < source &&
                source < repro,
            "%s", text);
  cr_expect_not_null(strstr(text,
                            "\"suite\":null,\"name\":\"test_db\","
                            "\"kind\":\"error\",\"message\":null,"
                            "\"file\":null,\"line\":null"),
                     "%s", text);
  free(text);
  qf_evidence_free(ev);
  qf_evidence_free(back);
}

Test(evidence, workspace_source_round_trips_with_nulls) {
  qf_evidence_t *ev = sample();
  qf_error_t err;
  qf_evidence_source_t src = {.kind = "workspace", .workspace = "sub/dir"};
  cr_assert_eq(qf_evidence_set_source(ev, &src, &err), 0);
  qf_evidence_t *back = write_and_load(ev);
  cr_assert(back->has_source);
  cr_expect_str_eq(back->source.kind, "workspace");
  cr_expect_null(back->source.repo);
  cr_expect_null(back->source.ref);
  cr_expect_null(back->source.commit);
  cr_expect_str_eq(back->source.workspace, "sub/dir");
  char *text = to_text(ev);
  cr_expect_not_null(strstr(text,
                            "\"source\":{\"kind\":\"workspace\","
                            "\"repo\":null,\"ref\":null,\"commit\":null,"
                            "\"workspace\":\"sub/dir\"}"),
                     "%s", text);
  free(text);
  /* Setting it again replaces it; a kind the reader refuses is refused. */
  src.workspace = NULL;
  cr_assert_eq(qf_evidence_set_source(ev, &src, &err), 0);
  cr_expect_null(ev->source.workspace);
  src.kind = "svn";
  cr_expect_eq(qf_evidence_set_source(ev, &src, &err), QF_EINVAL);
  cr_expect_str_eq(ev->source.kind, "workspace");
  qf_evidence_free(ev);
  qf_evidence_free(back);
}

Test(evidence, no_failures_and_no_source_are_written_empty_and_null) {
  qf_evidence_t *ev = sample();
  char *text = to_text(ev);
  cr_expect_not_null(
      strstr(text, "\"failures\":[],\"failures_total\":0,\"source\":null"),
      "%s", text);
  free(text);
  qf_evidence_t *back = write_and_load(ev);
  cr_expect_eq(back->failures.n, 0);
  cr_expect_eq(back->failures.total, 0);
  cr_expect_eq(back->has_source, 0);
  qf_evidence_free(ev);
  qf_evidence_free(back);
}

Test(evidence, failures_keep_the_first_50_and_total_counts_all) {
  qf_evidence_t *ev = sample();
  for (int i = 0; i < 73; i++) {
    char name[32];
    snprintf(name, sizeof name, "test_%d", i);
    add_failure(ev, "suite", name, i % 2 ? "error" : "failure", "boom", "t.py",
                i + 1);
  }
  cr_assert_eq(ev->failures.n, QF_JUNIT_MAX_FAILURES);
  cr_assert_eq(ev->failures.total, 73);
  cJSON *doc = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_to_json(ev, &doc, &err), 0);
  cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "failures")), 50);
  cr_expect_eq(cJSON_GetObjectItem(doc, "failures_total")->valuedouble, 73);
  cJSON_Delete(doc);
  qf_evidence_t *back = write_and_load(ev);
  cr_expect_eq(back->failures.n, 50);
  cr_expect_eq(back->failures.total, 73);
  cr_expect_str_eq(back->failures.items[49].name, "test_49");
  qf_evidence_free(ev);
  qf_evidence_free(back);

  /* A 51st listed item is refused: the writer never lists more. */
  ev = sample();
  for (int i = 0; i < 50; i++)
    add_failure(ev, NULL, "t", "failure", NULL, NULL, 0);
  char *text = to_text(ev);
  const char *at = strstr(text, "\"failures\":[");
  cr_assert_not_null(at);
  at += strlen("\"failures\":[");
  size_t n = strlen(text) + 256;
  char *doc51 = malloc(n);
  snprintf(doc51, n, "%.*s%s,%s", (int)(at - text), text,
           "{\"suite\":null,\"name\":\"t\",\"kind\":\"failure\","
           "\"message\":null,\"file\":null,\"line\":null}",
           at);
  qf_evidence_t *out = NULL;
  cr_expect_eq(
      qf_evidence_from_json(doc51, strlen(doc51), "ev.json", &out, &err),
      QF_EVALIDATE);
  cr_expect_not_null(strstr(err.message, "failures: more than 50 entries"),
                     "%s", err.message);
  free(doc51);
  free(text);
  qf_evidence_free(ev);
}

Test(evidence, reading_refuses_bad_failures_and_source_naming_the_field) {
  static const struct bad_case cases[] = {
      {"\"kind\":\"failure\"", "\"kind\":\"flaky\"",
       "failures[0].kind: must be failure or error"},
      {"\"kind\":\"error\"", "\"kind\":null",
       "failures[1].kind: must be a string"},
      {"\"line\":42", "\"line\":42,\"color\":1",
       "failures[0].color: unknown key"},
      {"\"line\":42", "\"line\":0",
       "failures[0].line: must be an integer from 1"},
      {"\"line\":42", "\"line\":\"42\"",
       "failures[0].line: must be an integer"},
      {"\"suite\":null,", "", "failures[1].suite: missing"},
      {"\"name\":\"test_db\"", "\"name\":null",
       "failures[1].name: must be a string"},
      {"\"failures_total\":2", "\"failures_total\":1",
       "failures_total: must be at least the number of failures listed"},
      {"\"failures_total\":2,", "", "failures_total: missing"},
      {"\"failures_total\":2", "\"failures_total\":-1",
       "failures_total: must be an integer"},
      {"\"commit\":\"" COMMIT "\"", "\"commit\":\"abc123\"",
       "source.commit: must be 40 hex digits"},
      {"\"commit\":\"" COMMIT "\"", "\"commit\":null",
       "source.commit: must be 40 hex digits when kind is git"},
      {"\"commit\":\"" COMMIT "\"",
       "\"commit\":\"0123456789abcdef0123456789abcdef0123456g\"",
       "source.commit: must be 40 hex digits"},
      {"\"kind\":\"git\"", "\"kind\":\"svn\"",
       "source.kind: must be git or workspace"},
      {"\"repo\":\"https://example.com/app.git\"", "\"repo\":null",
       "source.repo: must be a string when kind is git"},
      {"\"workspace\":\"services/api\"",
       "\"workspace\":\"services/api\",\"color\":1",
       "source.color: unknown key"},
      {"\"ref\":\"main\",", "", "source.ref: missing"},
  };
  qf_evidence_t *ev = sample_with_failures();
  char *good = to_text(ev);
  qf_evidence_free(ev);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *at = strstr(good, cases[i].from);
    cr_assert_not_null(at, "case %zu: '%s' not in %s", i, cases[i].from, good);
    char doc[8192];
    snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - good), good, cases[i].to,
             at + strlen(cases[i].from));
    qf_evidence_t *out = NULL;
    qf_error_t err;
    int rc = qf_evidence_from_json(doc, strlen(doc), "ev.json", &out, &err);
    cr_expect_lt(rc, 0, "case %zu accepted: %s", i, doc);
    cr_expect_null(out);
    cr_expect_not_null(strstr(err.message, cases[i].message),
                       "case %zu: got '%s', want '%s'", i, err.message,
                       cases[i].message);
  }
  free(good);
}

/* Wrong types for the blocks themselves (replaced whole). */
Test(evidence, reading_refuses_failures_and_source_of_the_wrong_type) {
  static const struct {
    const char *key, *value, *message;
  } cases[] = {
      {"failures", "{}", "failures: must be an array"},
      {"failures", "null", "failures: must be an array"},
      {"failures", "[7]", "failures[0]: must be an object"},
      {"failures_total", "2.5", "failures_total: must be an integer"},
      {"failures_total", "null", "failures_total: must be an integer"},
      {"source", "[]", "source: must be an object"},
      {"source", "\"git\"", "source: must be an object"},
      {"source", "{}", "source.kind: missing"},
  };
  qf_evidence_t *ev = sample_with_failures();
  char *good = to_text(ev);
  qf_evidence_free(ev);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *doc = cJSON_Parse(good);
    cr_assert(cJSON_ReplaceItemInObjectCaseSensitive(
        doc, cases[i].key, cJSON_Parse(cases[i].value)));
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    qf_evidence_t *out = NULL;
    qf_error_t err;
    cr_expect_eq(
        qf_evidence_from_json(text, strlen(text), "ev.json", &out, &err),
        QF_EVALIDATE, "case %zu accepted", i);
    cr_expect_null(out);
    cr_expect_not_null(strstr(err.message, cases[i].message),
                       "case %zu: got '%s', want '%s'", i, err.message,
                       cases[i].message);
    cJSON_free(text);
  }
  free(good);
}

/* Failure text longer than junit.h keeps is refused: qf never writes it. */
Test(evidence, reading_refuses_failure_strings_over_the_junit_limits) {
  qf_evidence_t *ev = sample_with_failures();
  char *good = to_text(ev);
  qf_evidence_free(ev);
  const char *from = "\"assert 401 == 200\"";
  const char *at = strstr(good, from);
  cr_assert_not_null(at);
  size_t n = strlen(good) + QF_JUNIT_FAILURE_TEXT_MAX + 16;
  char *doc = malloc(n), *big = malloc(QF_JUNIT_FAILURE_TEXT_MAX + 2);
  memset(big, 'x', QF_JUNIT_FAILURE_TEXT_MAX + 1);
  big[QF_JUNIT_FAILURE_TEXT_MAX + 1] = '\0';
  snprintf(doc, n, "%.*s\"%s\"%s", (int)(at - good), good, big,
           at + strlen(from));
  qf_evidence_t *out = NULL;
  qf_error_t err;
  cr_expect_eq(qf_evidence_from_json(doc, strlen(doc), "ev.json", &out, &err),
               QF_EVALIDATE);
  cr_expect_not_null(strstr(err.message, "failures[0].message: too long"), "%s",
                     err.message);
  big[QF_JUNIT_FAILURE_TEXT_MAX] = '\0'; /* exactly the limit reads */
  snprintf(doc, n, "%.*s\"%s\"%s", (int)(at - good), good, big,
           at + strlen(from));
  cr_expect_eq(qf_evidence_from_json(doc, strlen(doc), "ev.json", &out, &err),
               0, "%s", err.message);
  qf_evidence_free(out);
  free(big);
  free(doc);
  free(good);
}

/* Documents written before failures and source still read. */
Test(evidence, documents_without_failures_and_source_still_read) {
  qf_evidence_t *ev = sample();
  char *text = to_text(ev);
  qf_evidence_free(ev);
  const char *cut = ",\"failures\":[],\"failures_total\":0,\"source\":null";
  char *at = strstr(text, cut);
  cr_assert_not_null(at, "%s", text);
  memmove(at, at + strlen(cut), strlen(at + strlen(cut)) + 1);
  qf_evidence_t *out = NULL;
  qf_error_t err;
  cr_assert_eq(
      qf_evidence_from_json(text, strlen(text), "old.json", &out, &err), 0,
      "%s", err.message);
  cr_expect_eq(out->failures.n, 0);
  cr_expect_eq(out->failures.total, 0);
  cr_expect_eq(out->has_source, 0);
  qf_evidence_free(out);
  free(text);
}

/* Our own documents through the reader `qf gate` uses (it takes both
 * formats; the reference's have their own suite, test_evidence_ref.c). */
static qf_evidence_t *read_compat(const char *doc) {
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  cr_assert_eq(
      qf_evidence_from_json_compat(doc, strlen(doc), "ours.json", &ev, &err), 0,
      "%s: %s", doc, err.message);
  return ev;
}

Test(evidence, compat_reader_reads_our_documents_as_ours) {
  qf_evidence_t *ev = sample_with_failures();
  char *text = to_text(ev);
  qf_evidence_free(ev);
  ev = read_compat(text);
  char *again = to_text(ev);
  cr_expect_str_eq(text, again);
  free(again);
  qf_evidence_free(ev);
  /* ... and refuses them as ours would, naming the field. */
  char *at = strstr(text, "\"dry_run\":false");
  cr_assert_not_null(at);
  memcpy(at, "\"dry_run\":77777", strlen("\"dry_run\":77777"));
  qf_error_t err;
  cr_expect_eq(
      qf_evidence_from_json_compat(text, strlen(text), "ev.json", &ev, &err),
      QF_EVALIDATE);
  cr_expect_not_null(strstr(err.message, "ev.json: dry_run: must be true"),
                     "%s", err.message);
  free(text);
  cr_expect_eq(qf_evidence_from_json_compat("[1]", 3, "x.json", &ev, &err),
               QF_EVALIDATE);
  cr_expect_not_null(strstr(err.message, "(document): must be an object"), "%s",
                     err.message);
  cr_expect_eq(qf_evidence_from_json_compat("{", 1, "x.json", &ev, &err),
               QF_EPARSE);
  const char *other =
      "{\"run_id\": \"r\", \"input_nl\": \"x\", \"$schema\": "
      "\"https://example.com/s.json\"}";
  cr_expect_eq(
      qf_evidence_from_json_compat(other, strlen(other), "x.json", &ev, &err),
      QF_EVALIDATE);
  cr_expect_not_null(
      strstr(err.message, "$schema: must be " QF_EVIDENCE_SCHEMA_ID
                          " or " QF_EVIDENCE_REF_SCHEMA_ID),
      "%s", err.message);
  /* The strict reader of our own format does not take the reference's. */
  const char *ref = "{\"run_id\": \"r\", \"input_nl\": \"x\"}";
  cr_expect_eq(qf_evidence_from_json(ref, strlen(ref), "x.json", &ev, &err),
               QF_EVALIDATE);
}
