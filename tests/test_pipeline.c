/* The pipeline without running a tool: dry runs, refusals (nothing
 * starts), artifacts, checkpoints and the budget short-circuit. Runs that
 * execute real tools are in test_cmd_run.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/fsutil.h"
#include "qf/pipeline.h"
#include "support.h"

#define RUN_ID "6d5b1c2a-0f3e-4b7a-9c8d-112233445566"

static char ws[128], arts[128], policy_file[256];

static void setup(void) {
  snprintf(ws, sizeof ws, "%s", qf_test_tmpdir());
  snprintf(arts, sizeof arts, "%s", qf_test_tmpdir());
  char tests[256];
  snprintf(tests, sizeof tests, "%s/tests", ws);
  cr_assert_eq(mkdir(tests, 0755), 0);
  snprintf(policy_file, sizeof policy_file, "%s",
           QF_SOURCE_DIR "/policy/default.yaml");
}

TestSuite(pipeline, .init = setup, .timeout = 60);

static qf_run_cfg_t cfg(void) {
  return (qf_run_cfg_t){
      .policy_path = policy_file, .artifacts_root = arts, .workspace_root = ws};
}

static void start(qf_run_state_t *s, const char *body) {
  qf_request_t *r = NULL;
  qf_error_t err;
  cr_assert_eq(qf_request_parse(body, strlen(body), &r, &err), 0, "%s",
               err.message);
  qf_run_state_init(s, RUN_ID, r);
}

static void run_all(qf_run_state_t *s) {
  qf_error_t err;
  qf_run_cfg_t c = cfg();
  cr_assert_eq(qf_pipeline_run(s, &c, NULL, NULL, &err), 0, "%s", err.message);
  cr_assert(s->decided);
  qf_test_assert_evidence_valid(s->evidence_path);
}

Test(pipeline, dry_run_plans_and_validates_but_runs_nothing) {
  qf_run_state_t s;
  start(&s,
        "{\"nl_input\":\"run the unit tests\",\"options\":{\"tool_name\":"
        "\"run_pytest\",\"args\":{\"test_path\":\"tests\"},"
        "\"dry_run\":true}}");
  run_all(&s);
  cr_expect_eq(s.result.decision, QF_DECISION_PASS, "%s", s.result.reason);
  cr_expect_str_eq(s.result.rules[0], "dry_run");
  const qf_tool_call_t *c = &s.evidence->tool_calls[0];
  cr_expect_eq(c->status, QF_TOOL_SKIPPED);
  cr_expect_str_eq(c->error_message, "dry_run");
  char tools[256];
  snprintf(tools, sizeof tools, "%s/" RUN_ID "/tools", arts);
  cr_expect_neq(access(tools, F_OK), 0, "no tool directory: nothing ran");
  qf_run_state_fini(&s);
}

Test(pipeline, dry_run_of_a_risky_request_needs_a_human) {
  qf_run_state_t s;
  start(&s,
        "{\"nl_input\":\"drop the staging schema\",\"options\":{"
        "\"args\":{\"test_path\":\"tests\"},\"dry_run\":true}}");
  run_all(&s);
  cr_expect_eq(s.result.decision, QF_DECISION_NEED_HITL);
  cr_expect_str_eq(s.result.rules[0], "high_risk_keyword:drop");
  qf_run_state_fini(&s);
}

struct refusal {
  const char *body, *why;
};

Test(pipeline, refused_tools_and_arguments_never_start_a_process) {
  static const struct refusal cases[] = {
      {"{\"nl_input\":\"x\",\"options\":{\"tool_name\":\"run_shell\"}}",
       "tool 'run_shell' is not in the policy allowlist"},
      {"{\"nl_input\":\"x\",\"options\":{\"tool_name\":\"fetch_logs\"}}",
       "tool not found: fetch_logs"},
      {"{\"nl_input\":\"x\",\"options\":{\"args\":{\"test_path\":\"../x\"}}}",
       "test_path"},
      {"{\"nl_input\":\"x\",\"options\":{\"args\":{\"test_path\":\"/etc\"}}}",
       "test_path"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qf_run_state_t s;
    start(&s, cases[i].body);
    run_all(&s);
    const qf_tool_call_t *c = &s.evidence->tool_calls[0];
    cr_expect_eq(s.result.decision, QF_DECISION_FAIL, "case %zu", i);
    cr_expect_str_eq(s.result.rules[0], "tool_execution_failed");
    cr_expect_eq(c->status, QF_TOOL_FAILED);
    cr_expect_eq(c->duration_ms, 0);
    cr_expect_not_null(strstr(c->error_message, cases[i].why), "case %zu: %s",
                       i, c->error_message);
    cr_expect_not_null(strstr(s.result.reason, cases[i].why), "case %zu: %s", i,
                       s.result.reason);
    char tools[256];
    snprintf(tools, sizeof tools, "%s/" RUN_ID "/tools", arts);
    cr_expect_neq(access(tools, F_OK), 0, "case %zu: nothing ran", i);
    qf_run_state_fini(&s);
  }
}

Test(pipeline, a_workspace_outside_the_root_is_an_invalid_request) {
  qf_run_state_t s;
  qf_error_t err;
  qf_run_cfg_t c = cfg();
  char link[256];
  snprintf(link, sizeof link, "%s/escape", ws);
  cr_assert_eq(symlink("/", link), 0);
  start(&s, "{\"nl_input\":\"x\",\"workspace\":\"escape\"}");
  cr_expect_eq(qf_pipeline_run(&s, &c, NULL, NULL, &err), QF_EVALIDATE);
  cr_expect_not_null(strstr(err.message, "outside the workspace"), "%s",
                     err.message);
  cr_expect_not_null(strstr(err.message, "normalize"), "%s", err.message);
  qf_run_state_fini(&s);
}

Test(pipeline, an_invalid_policy_stops_the_run) {
  qf_run_state_t s;
  qf_error_t err;
  qf_run_cfg_t c = cfg();
  c.policy_path = "/nonexistent/policy.yaml";
  start(&s, "{\"nl_input\":\"x\"}");
  cr_expect_eq(qf_pipeline_run(&s, &c, NULL, NULL, &err), QF_ENOENT);
  cr_expect_not_null(strstr(err.message, "load_policy"), "%s", err.message);
  qf_run_state_fini(&s);
}

typedef struct stop_after {
  const char *node;
} stop_after_t;

static int stop_at(const qf_run_state_t *s, const char *node, long long ms,
                   void *ctx, qf_error_t *err) {
  (void)s;
  (void)ms;
  if (strcmp(node, ((stop_after_t *)ctx)->node) != 0) return 0;
  return qf_error_set(err, QF_ECANCELED, "stopped after %s", node);
}

/* A run stopped after `execute` resumes from its checkpoint in a fresh
 * state, and ends like an uninterrupted one. */
Test(pipeline, checkpoint_resumes_after_the_last_completed_node) {
  qf_run_state_t a, b;
  qf_error_t err;
  qf_run_cfg_t c = cfg();
  stop_after_t stop = {"execute"};
  start(&a,
        "{\"nl_input\":\"run it\",\"options\":{\"args\":{\"test_path\":"
        "\"tests\"},\"dry_run\":true}}");
  cr_assert_eq(qf_pipeline_run(&a, &c, stop_at, &stop, &err), QF_ECANCELED);
  cJSON *cp = NULL;
  cr_assert_eq(qf_pipeline_checkpoint(&a, &cp, &err), 0, "%s", err.message);
  char *text = cJSON_PrintUnformatted(cp);
  cJSON_Delete(cp);
  qf_run_state_fini(&a);
  cJSON *back = cJSON_Parse(text); /* as read back from the database */
  free(text);
  qf_run_state_init(&b, NULL, NULL);
  cr_assert_eq(qf_pipeline_restore(&b, back, &err), 0, "%s", err.message);
  cJSON_Delete(back);
  cr_expect_str_eq(qf_pipeline_node_at(b.next)->name, "enforce_budget");
  cr_expect_eq(b.evidence->ntool_calls, 1, "the tool call is not repeated");
  cr_assert_eq(qf_pipeline_run(&b, &c, NULL, NULL, &err), 0, "%s", err.message);
  cr_expect_eq(b.evidence->ntool_calls, 1);
  cr_expect_eq(b.result.decision, QF_DECISION_PASS);
  cr_expect_str_eq(b.result.rules[0], "dry_run");
  qf_test_assert_evidence_valid(b.evidence_path);
  cJSON *msg = NULL;
  cr_assert_eq(qf_pipeline_decision_json(&b, "corr-7", NULL, &msg, &err), 0);
  cr_expect_str_eq(cJSON_GetObjectItem(msg, "run_id")->valuestring, RUN_ID);
  cr_expect_str_eq(cJSON_GetObjectItem(msg, "correlation_id")->valuestring,
                   "corr-7");
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(msg, "final")));
  cJSON_Delete(msg);
  qf_run_state_fini(&b);
}

Test(pipeline, spent_budget_short_circuits_before_the_gate) {
  qf_run_state_t a, b;
  qf_error_t err;
  qf_run_cfg_t c = cfg();
  stop_after_t stop = {"execute"};
  start(&a,
        "{\"nl_input\":\"deploy to production\",\"options\":{\"args\":{"
        "\"test_path\":\"tests\"},\"dry_run\":true}}");
  cr_assert_eq(qf_pipeline_run(&a, &c, stop_at, &stop, &err), QF_ECANCELED);
  /* The tool "took" longer than the policy's 300 s budget. */
  a.evidence->tool_calls[0].duration_ms = 301000;
  cJSON *cp = NULL;
  cr_assert_eq(qf_pipeline_checkpoint(&a, &cp, &err), 0);
  qf_run_state_fini(&a);
  qf_run_state_init(&b, NULL, NULL);
  cr_assert_eq(qf_pipeline_restore(&b, cp, &err), 0, "%s", err.message);
  cJSON_Delete(cp);
  cr_assert_eq(qf_pipeline_run(&b, &c, NULL, NULL, &err), 0, "%s", err.message);
  cr_expect_eq(b.result.decision, QF_DECISION_FAIL);
  cr_expect_str_eq(b.result.rules[0], "budget_elapsed_exceeded");
  cr_expect_str_eq(b.result.decided_by, "budget");
  cr_expect(b.evidence->governance.short_circuited);
  cr_expect_str_eq(b.evidence->governance.decision_source,
                   "governance_short_circuit");
  qf_test_assert_evidence_valid(b.evidence_path);
  qf_run_state_fini(&b);
}

static void write_file(const char *path, size_t size) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  for (size_t i = 0; i < size; i++)
    fputc('x', f);
  fclose(f);
}

Test(pipeline, artifacts_are_hashed_typed_limited_and_never_escape) {
  char dir[256], sub[300], path[400];
  snprintf(dir, sizeof dir, "%s/run/tools/run_pytest", arts);
  cr_assert_eq(qf_fs_mkdirs(dir, NULL), 0);
  snprintf(sub, sizeof sub, "%s/ui", dir);
  cr_assert_eq(mkdir(sub, 0755), 0);
  snprintf(path, sizeof path, "%s/junit.xml", dir);
  write_file(path, 10);
  snprintf(path, sizeof path, "%s/ui/shot.png", dir);
  write_file(path, 20);
  snprintf(path, sizeof path, "%s/stdout.log", dir);
  write_file(path, 5);
  snprintf(path, sizeof path, "%s/big.bin", dir);
  write_file(path, (1u << 20) + 1); /* over a 1 MiB limit */
  snprintf(path, sizeof path, "%s/passwd", dir);
  cr_assert_eq(symlink("/etc/passwd", path), 0);
  snprintf(path, sizeof path, "%s/inside", dir);
  cr_assert_eq(symlink("junit.xml", path), 0); /* stays in the root: kept */

  qf_policy_t *p = NULL;
  qf_error_t err;
  const char *y = "artifact_limits: {max_count: 3, max_size_mb: 1}\n";
  cr_assert_eq(qf_policy_parse(y, strlen(y), "t.yaml", &p, &err), 0);
  qf_evidence_t *ev = NULL;
  cr_assert_eq(qf_evidence_new(RUN_ID, "x", NULL, &ev, &err), 0);
  int dropped = 0;
  char tools[256];
  snprintf(tools, sizeof tools, "%s/run/tools", arts);
  cr_assert_eq(
      qf_pipeline_collect_artifacts(ev, arts, tools, p, &dropped, &err), 0,
      "%s", err.message);
  cr_expect_eq(ev->nartifacts, 3, "max_count");
  cr_expect_eq(dropped, 3, "big.bin, passwd, and one over the count");
  for (size_t i = 0; i < ev->nartifacts; i++) {
    const qf_artifact_t *a = &ev->artifacts[i];
    cr_expect_eq(strncmp(a->path, "run/tools/run_pytest/", 21), 0, "%s",
                 a->path);
    cr_expect_eq(strlen(a->sha256), 64);
    cr_expect_null(strstr(a->path, "passwd"));
  }
  /* Sorted walk: big.bin (dropped), inside -> junit.xml (kept under its
   * own name), junit.xml, passwd (dropped), stdout.log, ui/shot.png (over
   * the count). */
  cr_expect_str_eq(ev->artifacts[0].path, "run/tools/run_pytest/inside");
  cr_expect_str_eq(ev->artifacts[0].type, "other");
  cr_expect_str_eq(ev->artifacts[1].type, "junit_xml");
  cr_expect_str_eq(ev->artifacts[2].type, "stdout");
  cr_expect_str_eq(ev->artifacts[2].mime, "text/plain");
  cr_expect_eq(ev->artifacts[2].size, 5);
  qf_evidence_free(ev);
  qf_policy_free(p);
}

Test(pipeline, screenshots_traces_and_videos_are_typed) {
  char dir[256], path[400];
  snprintf(dir, sizeof dir, "%s/r/tools/run_playwright/test-results/t1", arts);
  cr_assert_eq(qf_fs_mkdirs(dir, NULL), 0);
  const char *names[] = {"test-failed-1.png", "trace.zip", "video.webm",
                         "junit.xml"};
  const char *types[] = {"screenshot", "trace", "video", "junit_xml"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    write_file(path, 3);
  }
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_new(RUN_ID, "x", NULL, &ev, &err), 0);
  int dropped = 0;
  char tools[256];
  snprintf(tools, sizeof tools, "%s/r/tools", arts);
  cr_assert_eq(
      qf_pipeline_collect_artifacts(ev, arts, tools, NULL, &dropped, &err), 0,
      "%s", err.message);
  cr_assert_eq(ev->nartifacts, 4);
  for (size_t i = 0; i < 4; i++) {
    int found = 0;
    for (size_t j = 0; j < ev->nartifacts; j++)
      found |= strstr(ev->artifacts[j].path, names[i]) != NULL &&
               strcmp(ev->artifacts[j].type, types[i]) == 0;
    cr_expect(found, "%s as %s", names[i], types[i]);
  }
  qf_evidence_free(ev);
}

/* hitl.stage before_execute: a risky request parks after plan, before any
 * tool runs; approved, it resumes at execute and the gate records the
 * approval. */
Test(pipeline, before_execute_parks_until_approved) {
  char path[256];
  snprintf(path, sizeof path, "%s/before.yaml", ws);
  FILE *f = fopen(path, "w");
  fputs("high_risk_keywords: [drop]\nhitl: {stage: before_execute}\n", f);
  fclose(f);
  snprintf(policy_file, sizeof policy_file, "%s", path);
  qf_run_state_t a, b;
  qf_error_t err;
  qf_run_cfg_t c = cfg();
  start(&a,
        "{\"nl_input\":\"drop the staging schema\",\"options\":{"
        "\"args\":{\"test_path\":\"tests\"},\"dry_run\":true}}");
  cr_assert_eq(qf_pipeline_run(&a, &c, NULL, NULL, &err), 0, "%s", err.message);
  cr_expect(a.parked);
  cr_expect_eq(a.result.decision, QF_DECISION_NEED_HITL);
  cr_expect_str_eq(a.result.rules[0], "high_risk_keyword:drop");
  cr_expect_str_eq(qf_pipeline_node_at(a.next)->name, "execute");
  cr_expect_eq(a.evidence->ntool_calls, 0, "nothing ran");
  cJSON *cp = NULL;
  cr_assert_eq(qf_pipeline_checkpoint(&a, &cp, &err), 0);
  qf_run_state_fini(&a);
  qf_run_state_init(&b, NULL, NULL);
  cr_assert_eq(qf_pipeline_restore(&b, cp, &err), 0, "%s", err.message);
  cJSON_Delete(cp);
  cr_expect(b.parked, "the checkpoint keeps the run parked");
  cr_assert_eq(qf_pipeline_approve_parked(&b, "alice", "go ahead", &err), 0);
  cr_assert_eq(qf_pipeline_run(&b, &c, NULL, NULL, &err), 0, "%s", err.message);
  cr_expect(!b.parked);
  cr_expect_eq(b.evidence->ntool_calls, 1, "the tool step ran once");
  cr_expect_eq(b.result.decision, QF_DECISION_PASS, "%s", b.result.reason);
  cr_expect_str_eq(b.result.rules[0], "dry_run");
  cr_expect_str_eq(b.result.rules[1], "high_risk_keyword:drop:approved");
  cr_expect_str_eq(b.evidence->governance.approver, "alice");
  qf_test_assert_evidence_valid(b.evidence_path);
  qf_run_state_fini(&b);
}
