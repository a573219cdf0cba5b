/* fuzz_policy: the YAML policy loader on arbitrary bytes, then the
 * high-risk check (on the input itself as the natural-language text) and
 * the canonical JSON of whatever loaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qf/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qf_policy_t *p = NULL;
  qf_error_t err;
  char hit[64], *json = NULL, *text;
  if (qf_policy_parse((const char *)data, size, "fuzz.yaml", &p, &err) < 0)
    return 0;
  text = malloc(size + 1);
  if (text != NULL) {
    memcpy(text, data, size);
    text[size] = '\0';
    (void)qf_policy_high_risk(p, text, hit, sizeof hit);
    (void)qf_policy_high_risk(p, "deploy to pre-prod with sudo", hit,
                              sizeof hit);
    free(text);
  }
  (void)qf_policy_tool_allowed(p, "run_pytest");
  if (qf_policy_to_json(p, &json, &err) == 0) free(json);
  qf_policy_free(p);
  return 0;
}
