/* backoff.h: capped exponential backoff with full jitter, for reconnects
 * of the worker, the approver and qf submit. */
#ifndef QF_BACKOFF_H
#define QF_BACKOFF_H

#include <stdint.h>

/* Reconnect delay after `failures` consecutive failures: full jitter over
 * min(cap_s, 0.5 s * 2^failures), in milliseconds. */
int64_t qf_backoff_delay_ms(int failures, int cap_s);

#endif
