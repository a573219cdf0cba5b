/* resume_msg.c: the resume message ({run_id, approval_id}) that makes a
 * worker finish a run parked for a human: built and published by qf
 * approve and the approver, parsed by the worker. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "qf/resume_msg.h"
#include "qf/uuid.h"

int qf_resume_msg_publish(qf_amqp_t *pub, const char *exchange,
                          const qf_approval_t *a, int timeout_ms,
                          qf_error_t *err) {
  cJSON *body = cJSON_CreateObject();
  char *text = NULL, message_id[64];
  int rc = QF_ENOMEM;
  if (body == NULL ||
      cJSON_AddStringToObject(body, "run_id", a->run_id) == NULL ||
      cJSON_AddStringToObject(body, "approval_id", a->id) == NULL ||
      (text = cJSON_PrintUnformatted(body)) == NULL) {
    qf_error_set(err, rc, "out of memory");
    goto out;
  }
  snprintf(message_id, sizeof message_id, "resume:%s", a->id);
  qf_amqp_msg_t m = {.body = text,
                     .body_len = strlen(text),
                     .content_type = "application/json",
                     .message_id = message_id,
                     .correlation_id = a->correlation_id};
  rc = qf_amqp_publish(pub, exchange, "resume", &m, timeout_ms, err);
out:
  cJSON_free(text);
  cJSON_Delete(body);
  return rc;
}

int qf_resume_msg_parse(const char *body, size_t len, char *run_id,
                        char *approval_id, char *why, size_t n) {
  cJSON *doc = cJSON_ParseWithLength(body, len);
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, "run_id");
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "approval_id");
  int ok = cJSON_IsObject(doc) && cJSON_GetArraySize(doc) == 2;
  if (!ok)
    snprintf(why, n, "body: a resume is {\"run_id\", \"approval_id\"}");
  else if (!cJSON_IsString(r) || !qf_uuid_is_valid(r->valuestring))
    ok = 0, snprintf(why, n, "run_id: must be a UUID");
  else if (!cJSON_IsString(a) || !qf_uuid_is_valid(a->valuestring))
    ok = 0, snprintf(why, n, "approval_id: must be a UUID");
  if (ok) {
    snprintf(run_id, QF_UUID_STR_LEN + 1, "%s", r->valuestring);
    snprintf(approval_id, QF_UUID_STR_LEN + 1, "%s", a->valuestring);
  }
  cJSON_Delete(doc);
  return ok ? 0 : -1;
}
