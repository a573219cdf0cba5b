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
#include "../json_equal.h"
#include "qf/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_request(const qf_request_t *a, const qf_request_t *b) {
  return qf_test_same_str(a->nl_input, b->nl_input) &&
         qf_test_same_str(a->environment_id, b->environment_id) &&
         qf_test_same_str(a->tool_name, b->tool_name) &&
         qf_test_same_json(a->args, b->args) && a->timeout_s == b->timeout_s &&
         a->dry_run == b->dry_run &&
         qf_test_same_str(a->requested_by, b->requested_by) &&
         qf_test_same_str(a->workspace, b->workspace);
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
