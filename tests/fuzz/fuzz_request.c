/* fuzz_request: qf_request_parse on arbitrary bytes; an accepted request
 * must serialise (qf_request_to_json), parse back, and be the same request
 * with the same text; a refusal must carry a UTF-8 message. abort() on any
 * mismatch. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/request.h"
#include "qf/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Exact, ordered equality of two JSON trees, in linear time (cJSON_Compare
 * compares objects both ways at every level: exponential in the depth, and
 * it takes doubles within an epsilon as equal). */
static int same_json(const cJSON *a, const cJSON *b) {
  if ((a->type & 0xFF) != (b->type & 0xFF)) return 0;
  if (cJSON_IsNumber(a)) return a->valuedouble == b->valuedouble;
  if (cJSON_IsString(a)) return strcmp(a->valuestring, b->valuestring) == 0;
  for (a = a->child, b = b->child; a != NULL && b != NULL;
       a = a->next, b = b->next) {
    if ((a->string == NULL) != (b->string == NULL)) return 0;
    if (a->string != NULL && strcmp(a->string, b->string) != 0) return 0;
    if (!same_json(a, b)) return 0;
  }
  return a == NULL && b == NULL;
}

static int same_request(const qf_request_t *a, const qf_request_t *b) {
  return same_str(a->nl_input, b->nl_input) &&
         same_str(a->environment_id, b->environment_id) &&
         same_str(a->tool_name, b->tool_name) && same_json(a->args, b->args) &&
         a->timeout_s == b->timeout_s && a->dry_run == b->dry_run &&
         same_str(a->requested_by, b->requested_by) &&
         same_str(a->workspace, b->workspace);
}

static void check(int ok, const char *what, const char *text) {
  if (ok) return;
  fprintf(stderr, "fuzz_request: %s\n%s\n", what, text ? text : "");
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qf_request_t *r = NULL, *again = NULL;
  char *text = NULL, *text2 = NULL;
  qf_error_t err;
  qf_error_clear(&err);
  int rc = qf_request_parse((const char *)data, size, &r, &err);
  check(rc <= 0 && (rc == 0) == (r != NULL), "bad return", NULL);
  if (rc < 0) {
    check(err.code == rc && err.message[0] != '\0', "no message", NULL);
    /* Messages travel as AMQP headers and JSON logs: always UTF-8. */
    check(qf_utf8_validate(err.message, strlen(err.message), NULL) == 0,
          "message is not UTF-8", err.message);
    return 0;
  }
  check(r->timeout_s >= 1 && r->timeout_s <= 3600, "timeout", NULL);
  check(cJSON_IsObject(r->args) && r->tool_name != NULL, "normalize", NULL);
  check(qf_request_to_json(r, &text, &err) == 0, "to_json", err.message);
  rc = qf_request_parse(text, strlen(text), &again, &err);
  check(rc == 0, err.message, text);
  check(same_request(r, again), "round trip changed the request", text);
  check(qf_request_to_json(again, &text2, &err) == 0, "to_json 2", NULL);
  check(strcmp(text, text2) == 0, "round trip changed the text", text2);
  free(text);
  free(text2);
  qf_request_free(again);
  qf_request_free(r);
  return 0;
}
