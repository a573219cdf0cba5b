/* backoff.c: the reconnect delay every long-running loop uses. */
#include "qf/backoff.h"

#include <stdlib.h>

int64_t qf_backoff_delay_ms(int failures, int cap_s) {
  int64_t cap = (int64_t)cap_s * 1000;
  int64_t base = 500LL << (failures < 16 ? failures : 16);
  int64_t ms = base < cap ? base : cap;
  return ms > 0 ? rand() % ms + 1 : 1;
}
