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
