/* Fuzz target: reading an evidence document (untrusted input to `qf gate`
 * and `qf evals`). Whatever parses must serialise and parse back to the
 * same document. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qf/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *text_of(const qf_evidence_t *ev) {
  cJSON *doc = NULL;
  if (qf_evidence_to_json(ev, &doc, NULL) < 0) return NULL;
  char *text = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qf_evidence_t *ev = NULL, *again = NULL;
  if (qf_evidence_from_json((const char *)data, size, "fuzz", &ev, NULL) < 0)
    return 0;
  char *a = text_of(ev);
  if (a != NULL &&
      qf_evidence_from_json(a, strlen(a), "fuzz", &again, NULL) == 0) {
    char *b = text_of(again);
    if (b == NULL || strcmp(a, b) != 0) abort(); /* round trip broke */
    cJSON_free(b);
  }
  cJSON_free(a);
  qf_evidence_free(again);
  qf_evidence_free(ev);
  return 0;
}
