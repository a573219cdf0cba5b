/* approver_internal.h: what approver.c (the loop) uses of
 * approver_notes.c (the webhook events: queued in the outbox, delivered
 * with retries). Not public. */
#ifndef QF_APPROVER_INTERNAL_H
#define QF_APPROVER_INTERNAL_H

#include <cjson/cJSON.h>

#include "qf/approvals.h"
#include "qf/approver.h"
#include "qf/db.h"

/* Queues approval.needed for a NEED_HITL decision (when configured). */
int qf__approver_note_needed(qf_db_t *db, const qf_approver_cfg_t *cfg,
                             const cJSON *decision, qf_error_t *err);

/* Queues approval.decided, approval.expired and run.decided for recent
 * decisions (those configured; whoever decided: qf approve, qf reject, an
 * expiry), then posts what is due, marking each row delivered, retried or
 * failed. */
int qf__approver_deliver(qf_db_t *db, const qf_approver_cfg_t *cfg,
                         qf_error_t *err);

#endif
