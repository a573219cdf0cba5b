/* fuzz_junit: any byte string must parse or fail cleanly, never crash or
 * leak, and a successful parse must give consistent counts. */
#include <stdint.h>
#include <stdlib.h>

#include "qf/junit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qf_junit_summary_t s;
  qf_error_t err;
  int rc = qf_junit_parse_buffer(data, size, "fuzz", &s, &err);
  if (rc == 0) {
    if (s.tests < 0 || s.failures < 0 || s.errors < 0 || s.skipped < 0 ||
        s.passed < 0 || s.tests > QF_JUNIT_COUNT_MAX || !(s.time_s >= 0))
      abort();
    if (s.passed > s.tests) abort();
  } else if (rc != err.code || err.message[0] == '\0') {
    abort();
  }
  return 0;
}
