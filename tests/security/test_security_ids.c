/* Attacks on message ids, as a requester would try them against a real
 * worker: squatting a victim's predictable id with a harmless request
 * first, and re-sending a known id to read another run's decision. The
 * id belongs to the request it was first sent with; anything else is
 * refused (decided_by refused, dead-lettered) and never answered with the
 * other run's decision. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "worker_support.h"

static qf_wt_t T;
static void setup(void) {
  qf_wt_init(&T);
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_wait_log(&T, 0, 1, 30, "\"event\":\"worker.ready\"", NULL);
}
static void teardown(void) {
  qf_wt_fini(&T);
}
TestSuite(security_ids, .init = setup, .fini = teardown, .timeout = 120);

static char *reply_queue(void) {
  char *name = NULL;
  qf_error_t err;
  cr_assert_eq(qf_amqp_declare_queue(T.con, "", 1, NULL, &name, &err), 0, "%s",
               err.message);
  return name;
}

static cJSON *one_reply(const char *queue, int timeout_s) {
  qf_amqp_message_t m;
  cr_assert_eq(qf_wt_get(&T, queue, &m, 1, timeout_s), 1, "no reply");
  cJSON *d = cJSON_ParseWithLength(m.body, m.body_len);
  qf_amqp_message_fini(&m);
  cr_assert_not_null(d);
  return d;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

#define ID "github:acme/shop:4242:test"

Test(security_ids, a_squatted_message_id_refuses_the_victim_not_passes_it) {
  /* The attacker goes first, with a harmless dry run under the id. */
  const char *harmless = qf_wt_request("run the unit tests", "tests", 1, 60);
  qf_wt_publish(&T, harmless, strlen(harmless), ID, NULL, NULL);
  cJSON *first = NULL;
  cr_assert_eq(qf_wt_decisions(&T, &first, 1, 30), 1);
  cr_assert_str_eq(str(first, "decision"), "PASS");
  cJSON_Delete(first);
  /* The victim's request under the same id, waiting on its reply_to. */
  char *q = reply_queue();
  const char *risky = qf_wt_request(
      "deploy to production and drop the users table", "tests", 1, 60);
  qf_wt_publish(&T, risky, strlen(risky), ID, "corr-victim", q);
  cJSON *d = one_reply(q, 30);
  cr_expect_str_eq(str(d, "decision"), "FAIL");
  cr_expect_str_eq(str(d, "decided_by"), "refused");
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "final")));
  cr_expect(strstr(str(d, "reason"), "already used by a different request"),
            "%s", str(d, "reason"));
  cr_expect_str_eq(str(d, "correlation_id"), "corr-victim");
  cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "evidence_path")),
            "nothing of the other run");
  cJSON_Delete(d);
  qf_amqp_message_t extra;
  cr_expect_eq(qf_wt_get(&T, q, &extra, 1, 2), 0,
               "the other run's decision never reaches the victim");
  /* Not lost: dead-lettered with the reason; the run is untouched. */
  qf_amqp_message_t dead;
  cr_assert_eq(qf_wt_get(&T, T.topo.dead_queue, &dead, 1, 10), 1);
  cr_expect(strstr(qf_amqp_message_header(&dead, "x-qf-error"),
                   "already used by a different request") != NULL);
  cr_expect(strstr(dead.body, "drop the users table") != NULL);
  qf_amqp_message_fini(&dead);
  cr_expect_str_eq(qf_wt_query(&T, "SELECT count(*) FROM runs"), "1");
  cr_expect_str_eq(qf_wt_query(&T, "SELECT request->>'nl_input' FROM runs"),
                   "run the unit tests");
  cr_expect_str_eq(qf_wt_query(&T, "SELECT attempts FROM runs"), "1");
  free(q);
}

Test(security_ids, the_same_request_re_sent_gets_its_decision_again) {
  const char *req = qf_wt_request("run the unit tests", "tests", 1, 60);
  qf_wt_publish(&T, req, strlen(req), ID, NULL, NULL);
  cJSON *first = NULL;
  cr_assert_eq(qf_wt_decisions(&T, &first, 1, 30), 1);
  cJSON_Delete(first);
  char *q = reply_queue(); /* a retry: the same request, a new reply queue */
  qf_wt_publish(&T, req, strlen(req), ID, NULL, q);
  cJSON *d = one_reply(q, 30);
  cr_expect_str_eq(str(d, "decision"), "PASS");
  cr_expect_str_eq(str(d, "decided_by"), "gate");
  cJSON_Delete(d);
  free(q);
}

Test(security_ids, an_invalid_request_is_answered_refused_with_the_reason) {
  char *q = reply_queue();
  const char *bad = "{\"nl_input\":\"x\",\"options\":{\"tool_name\":7}}";
  qf_wt_publish(&T, bad, strlen(bad), "invalid-1", NULL, q);
  cJSON *d = one_reply(q, 30);
  char run_id[QF_UUID_STR_LEN + 1];
  qf_wt_run_id("invalid-1", run_id);
  cr_expect_str_eq(str(d, "run_id"), run_id);
  cr_expect_str_eq(str(d, "decided_by"), "refused");
  cr_expect(strstr(str(d, "reason"), "options.tool_name") != NULL, "%s",
            str(d, "reason"));
  cJSON_Delete(d);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 1);
  cr_expect_str_eq(qf_wt_query(&T, "SELECT count(*) FROM runs"), "0");
  free(q);
}
