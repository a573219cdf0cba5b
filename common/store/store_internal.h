/* store_internal.h: what store.c, store_run.c and store_resume.c share.
 * Not public. */
#ifndef QF_STORE_INTERNAL_H
#define QF_STORE_INTERNAL_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "qf/store.h"

struct qf_store {
  qf_db_t *db;
  char *conninfo; /* kept to reconnect with the same settings */
  char *app;
  char *owner; /* the lease owner (qf_store_set_lease), NULL: no leases */
  int lease_s;
  char lease_s_text[16];
};

/* The columns of qf_run_row_t, in the order qf__store_run_read expects,
 * each prefixed with p (the table's name or alias, "runs." or "r."; never
 * empty: the waiters' subquery must name the outer row). A query that
 * needs more columns lists them after these. */
/* The run's waiters (see qf_run_row_t), the run's own reply_to first: a
 * delivery other than the first may be the one that finishes the run. */
#define QF__STORE_WAITERS(p)                                                 \
  "(SELECT jsonb_agg(jsonb_build_object('reply_to', w.reply_to, "            \
  "'correlation_id', w.correlation_id) ORDER BY w.k, w.at) FROM (SELECT 0 "  \
  "AS k, " p "created_at AS at, " p "reply_to, " p "correlation_id WHERE " p \
  "reply_to IS NOT NULL UNION ALL SELECT 1, added_at, reply_to, "            \
  "correlation_id FROM run_waiters WHERE run_waiters.run_id = " p "run_id) w)"
#define QF__STORE_RUN_COLS(p)                                 \
  p "run_id, " p "status, " p "attempts, " p "checkpoint, " p \
    "decision_message, " p "evidence, " p "reply_to, " p      \
    "correlation_id, " QF__STORE_WAITERS(                     \
        p) ", " p "lease_owner, coalesce(" p                  \
           "lease_expires_at > now(), false), " p "evidence_path"
/* How many columns QF__STORE_RUN_COLS lists. */
#define QF__STORE_RUN_NCOLS 12

/* Reads the run columns (QF__STORE_RUN_COLS, first in the SELECT) of row
 * 0 into row. An unknown status is QF_EINTERNAL: a schema newer than this
 * worker must not be mistaken for a run that was merely received. On
 * failure row holds nothing to free. */
int qf__store_run_read(const PGresult *res, qf_run_row_t *row, qf_error_t *err);
/* A jsonb column of row 0 as cJSON (NULL for SQL NULL); *bad is set when
 * it does not parse. */
cJSON *qf__store_json_col(const PGresult *res, int col, int *bad);
/* A text column of row 0, malloc'ed (NULL for SQL NULL); *bad on OOM. */
char *qf__store_text_col(const PGresult *res, int col, int *bad);
/* Appends a run_events row (actor NULL: the session user). */
int qf__store_add_event(qf_db_t *db, const char *run_id, const char *event,
                        const char *actor, const cJSON *data, qf_error_t *err);
/* Explains why a compare-and-set on a run changed nothing. */
int qf__store_conflict(qf_db_t *db, const char *run_id, qf_error_t *err);
/* Reads row 0 of a query that selected only QF__STORE_RUN_COLS. */
int qf__store_read_one(qf_db_t *db, const char *sql, int n,
                       const char *const *params, qf_run_row_t *row,
                       qf_error_t *err);
/* The run's waiters as qf_run_row_t has them, read by a statement of its
 * own: one that sees every waiter committed before it (a RETURNING clause
 * would see only those committed before its UPDATE started). *out NULL
 * when there are none. */
int qf__store_waiters(qf_db_t *db, const char *run_id, cJSON **out,
                      qf_error_t *err);
/* Adds a waiter (nothing when reply_to is NULL or empty, or is the run's
 * own reply_to). */
int qf__store_add_waiter(qf_db_t *db, const char *run_id, const char *reply_to,
                         const char *correlation_id, qf_error_t *err);
/* Serializes a document bound for jsonb, refusing one over 16 MiB. */
int qf__store_doc_text(const cJSON *doc, const char *what, char **out,
                       qf_error_t *err);

/* The data of a run's "claimed" event (owner: the one taken over from, or
 * NULL) and of its "decided"/"parked" event (approval_id NULL or "" when
 * none), and hitl.approvers as a JSON array text: as qf_store_claim,
 * qf_store_finish and qf_store_record_prepare write them. NULL on OOM;
 * cJSON_Delete / cJSON_free. */
cJSON *qf__store_claim_event(const qf_claim_t *c, int attempt,
                             const char *owner);
cJSON *qf__store_final_event(const qf_finish_t *f, const char *approval_id);
char *qf__store_approvers_json(const qf_finish_t *f);

/* The checks qf_store_finish and qf_store_record_prepare make of f. */
int qf__store_finish_check(const qf_finish_t *f, qf_error_t *err);

#endif
