/* clock.c: the monotonic clock (see clock.h). */
#include "qf/clock.h"

#include <time.h>

int64_t qf_clock_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t qf_clock_read(const qf_clock_t *c) {
  return c && c->now_ms ? c->now_ms(c->ctx) : qf_clock_now_ms();
}
