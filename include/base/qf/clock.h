/* clock.h: the one monotonic clock, and a clock a caller can pass in.
 *
 * Everything that measures a duration or waits for a deadline uses
 * qf_clock_now_ms() (CLOCK_MONOTONIC: never jumps with the wall clock).
 * Code that a test may want to drive in time (the pipeline's node
 * durations) takes a qf_clock_t instead; NULL means the real clock.
 */
#ifndef QF_CLOCK_H
#define QF_CLOCK_H

#include <stdint.h>

/* Milliseconds on the monotonic clock (an arbitrary origin). */
int64_t qf_clock_now_ms(void);

/* A clock: now_ms(ctx) returns monotonic milliseconds. Borrowed by whoever
 * holds it. */
typedef struct qf_clock {
  int64_t (*now_ms)(void *ctx);
  void *ctx;
} qf_clock_t;

/* c's time, or the monotonic clock's when c (or its function) is NULL. */
int64_t qf_clock_read(const qf_clock_t *c);

#endif
