/* node_support.c: see node_support.h. */
#include "node_support.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

const char *const qf_nt_policy =
    "version: \"node-test\"\n"
    "high_risk_keywords: [deploy]\n"
    "cost_governance: {timeout_s: 30, max_retries: 2}\n"
    "tools: {allowlist: [run_pytest, fake_tool]}\n"
    "sandbox: {allowed_paths: [tests/]}\n"
    "hitl: {stage: after_execute}\n";

qf_fake_tool_t qf_fake;

static int fake_validate(const cJSON *args, const char *workspace,
                         const qf_policy_t *policy, qf_error_t *err) {
  (void)workspace;
  (void)policy;
  if (qf_fake.refuse_arg &&
      cJSON_GetObjectItemCaseSensitive(args, qf_fake.refuse_arg))
    return qf_error_set(err, QF_EVALIDATE, "%s: refused by the fake tool",
                        qf_fake.refuse_arg);
  return QF_OK;
}

static int fake_run(const qf_tool_ctx_t *ctx, qf_tool_outcome_t *out,
                    qf_error_t *err) {
  (void)err;
  qf_fake.calls++;
  snprintf(qf_fake.tool_dir, sizeof qf_fake.tool_dir, "%s", ctx->tool_dir);
  snprintf(qf_fake.workspace, sizeof qf_fake.workspace, "%s", ctx->workspace);
  qf_fake.timeout_s = ctx->timeout_s;
  char path[1024];
  snprintf(path, sizeof path, "%s/fake.log", ctx->tool_dir);
  FILE *f = fopen(path, "w");
  if (f) {
    fprintf(f, "fake run %d\n", qf_fake.calls);
    fclose(f);
  }
  out->duration_ms = qf_fake.duration_ms;
  out->canceled = qf_fake.canceled;
  if (qf_fake.calls <= qf_fake.infra_failures) {
    out->status = QF_TOOL_FAILED;
    out->infra_failure = 1;
    snprintf(out->error_message, sizeof out->error_message,
             "fake infrastructure failure %d", qf_fake.calls);
    return QF_OK;
  }
  out->status = qf_fake.status;
  out->has_exit_code = 1;
  out->exit_code = qf_fake.status == QF_TOOL_SUCCESS ? 0 : 1;
  if (qf_fake.junit.tests > 0) {
    out->has_junit = 1;
    out->junit = qf_fake.junit;
  }
  return QF_OK;
}

static const qf_tool_t fake_tool = {"fake_tool", fake_validate, fake_run};

static int64_t fake_now(void *ctx) {
  qf_nt_t *t = ctx;
  return t->now_ms += 7;
}

void qf_nt_setup(qf_nt_t *t, const char *policy_yaml) {
  memset(t, 0, sizeof *t);
  memset(&qf_fake, 0, sizeof qf_fake);
  qf_fake.status = QF_TOOL_SUCCESS;
  snprintf(t->ws, sizeof t->ws, "%s", qf_test_tmpdir());
  snprintf(t->arts, sizeof t->arts, "%s", qf_test_tmpdir());
  char dir[128];
  snprintf(dir, sizeof dir, "%s/tests", t->ws);
  cr_assert_eq(mkdir(dir, 0755), 0);
  snprintf(t->policy, sizeof t->policy, "%s/policy.yaml", t->arts);
  FILE *f = fopen(t->policy, "w");
  cr_assert_not_null(f);
  fputs(policy_yaml ? policy_yaml : qf_nt_policy, f);
  fclose(f);
  t->toolv[0] = &fake_tool;
  t->toolv[1] = qf_tools_find("run_pytest");
  t->tools = (qf_tool_registry_t){t->toolv, 2};
  t->clock = (qf_clock_t){fake_now, t};
  t->cfg = (qf_run_cfg_t){.policy_path = t->policy,
                          .artifacts_root = t->arts,
                          .workspace_root = t->ws,
                          .tools = &t->tools,
                          .clock = &t->clock};
}

void qf_nt_start(qf_nt_t *t, const char *body) {
  qf_request_t *r = NULL;
  qf_error_t err;
  cr_assert_eq(qf_request_parse(body, strlen(body), &r, &err), 0, "%s",
               err.message);
  qf_run_state_init(&t->s, QF_NT_RUN_ID, r);
}

void qf_nt_run_until(qf_nt_t *t, const char *node) {
  int stop = qf_pipeline_node_index(node);
  cr_assert_geq(stop, 0, "no node %s", node);
  for (size_t i = t->s.next; i < (size_t)stop; i++) {
    qf_error_t err;
    const qf_node_t *n = qf_pipeline_node_at(i);
    cr_assert_eq(n->run(&t->s, &t->cfg, &err), 0, "%s: %s", n->name,
                 err.message);
    t->s.next = i + 1;
  }
}

int qf_nt_node(qf_nt_t *t, const char *name, qf_error_t *err) {
  const qf_node_t *n = qf_pipeline_node(name);
  cr_assert_not_null(n, "no node %s", name);
  qf_error_clear(err);
  return n->run(&t->s, &t->cfg, err);
}

void qf_nt_fini(qf_nt_t *t) {
  qf_run_state_fini(&t->s);
}
