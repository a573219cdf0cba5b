/* outbox.h: the webhook outbox (migration 006). A notification is a row
 * first, keyed so that the same event is never queued twice, then
 * delivered by an approver: claimed under a row lock (two approvers never
 * post the same row at once), posted, and marked delivered, retried later
 * with its error, or failed for good after its last try. Nothing is
 * dropped without a row saying so. */
#ifndef QF_OUTBOX_H
#define QF_OUTBOX_H

#include <stddef.h>

#include "qf/db.h"
#include "qf/err.h"

typedef struct qf_outbox_row {
  long long id;
  char event[32];
  char *body; /* JSON text, owned */
  int attempts;
} qf_outbox_row_t;

/* Queues event with body (JSON text) unless dedup_key is queued already.
 * *added (may be NULL) says whether it was new. */
int qf_outbox_add(qf_db_t *db, const char *event, const char *dedup_key,
                  const char *body, int *added, qf_error_t *err) QF_MUSTCHECK;

/* Queues run.decided for every run decided in the last window_s seconds
 * that has none yet; *added counts them. */
int qf_outbox_add_decided_runs(qf_db_t *db, int window_s, int *added,
                               qf_error_t *err) QF_MUSTCHECK;

/* Queues approval.decided (approved, rejected: decided) and
 * approval.expired for approvals decided in the last window_s seconds
 * that have none yet, as chosen by decided and expired (nonzero: queue
 * that kind). *added counts them. */
int qf_outbox_add_decided_approvals(qf_db_t *db, int window_s, int decided,
                                    int expired, int *added,
                                    qf_error_t *err) QF_MUSTCHECK;

/* Inside an open transaction: locks up to limit rows due now (SKIP
 * LOCKED). *out malloc'ed (qf_outbox_free). */
int qf_outbox_claim(qf_db_t *db, int limit, qf_outbox_row_t **out, size_t *n,
                    qf_error_t *err) QF_MUSTCHECK;

/* The row was delivered. */
int qf_outbox_delivered(qf_db_t *db, long long id,
                        qf_error_t *err) QF_MUSTCHECK;

/* The row failed this try: retried in delay_s seconds, or (final) failed
 * for good; error is kept as its last_error. */
int qf_outbox_failed(qf_db_t *db, long long id, const char *error, int delay_s,
                     int final, qf_error_t *err) QF_MUSTCHECK;

void qf_outbox_free(qf_outbox_row_t *rows, size_t n);

#endif
