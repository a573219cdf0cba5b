/* A policy file broken after the worker started: the worker goes on
 * deciding by the last good version, says why once, and dead-letters
 * nothing; a fixed file is taken at the next run. A real worker. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "worker_support.h"

static qf_wt_t T;
static char policy[256];

static void setup(void) {
  qf_wt_init(&T);
  snprintf(policy, sizeof policy, "%s/policy.yaml", T.dir);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cp %s/policy/default.yaml %s", QF_SOURCE_DIR,
           policy);
  qf_wt_sh(cmd, 10);
  char env[300];
  snprintf(env, sizeof env, "QF_POLICY=%s", policy);
  const char *extra[] = {env, NULL};
  qf_wt_start_worker(&T, 0, extra);
  qf_wt_wait_log(&T, 0, 1, 30, "\"event\":\"worker.ready\"", NULL);
}
static void teardown(void) {
  qf_wt_fini(&T);
}
TestSuite(worker_policy, .init = setup, .fini = teardown, .timeout = 120);

static cJSON *decide(const char *id) {
  const char *req = qf_wt_request("run the unit tests", "tests", 1, 60);
  qf_wt_publish(&T, req, strlen(req), id, NULL, NULL);
  cJSON *d = NULL;
  cr_assert_eq(qf_wt_decisions(&T, &d, 1, 30), 1, "no decision for %s\n%s", id,
               qf_wt_log_tail(&T, 0));
  return d;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

Test(worker_policy, a_broken_edit_never_stops_valid_requests) {
  cJSON *d = decide("pol-1");
  char good[80];
  snprintf(good, sizeof good, "%s", str(d, "policy_hash"));
  cr_expect_str_eq(str(d, "decision"), "PASS");
  cJSON_Delete(d);
  FILE *f = fopen(policy, "a");
  cr_assert_not_null(f);
  fputs("version: \"again\"\n", f); /* a duplicate key: invalid */
  fclose(f);
  for (int i = 0; i < 2; i++) {
    char id[16];
    snprintf(id, sizeof id, "pol-bad-%d", i);
    d = decide(id);
    cr_expect_str_eq(str(d, "decision"), "PASS", "%s", str(d, "reason"));
    cr_expect_str_eq(str(d, "policy_hash"), good, "the last good policy");
    cJSON_Delete(d);
  }
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 0);
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"policy.invalid\"", NULL), 1,
               "said once: %s", qf_wt_log_tail(&T, 0));
  /* Fixed, with a different hash: taken. */
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "cp %s/policy/default.yaml %s && echo '# edited' >> %s",
           QF_SOURCE_DIR, policy, policy);
  qf_wt_sh(cmd, 10);
  d = decide("pol-fixed");
  cr_expect_str_eq(str(d, "decision"), "PASS");
  cJSON_Delete(d);
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"policy.reloaded\"", NULL), 1,
               "%s", qf_wt_log_tail(&T, 0));
}
