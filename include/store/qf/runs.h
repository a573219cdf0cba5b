/* runs.h: looking at runs without psql (`qf runs`, `qf runs show`): the
 * list, newest first, and one run whole (its events, its approvals, and
 * on request the evidence stored in PostgreSQL, so nobody needs the
 * worker's disk). Read only; any role that may read runs. Results are
 * JSON documents owned by the caller (cJSON_Delete). */
#ifndef QF_RUNS_H
#define QF_RUNS_H

#include <cjson/cJSON.h>

#include "qf/db.h"
#include "qf/err.h"

/* Rows `qf runs` may ask for at most. */
#define QF_RUNS_LIST_MAX 10000

typedef struct qf_runs_filter {
  const char *status; /* received, running, awaiting_approval, decided or
                         NULL for all */
  const char *since;  /* only runs updated since: "30m", "2h", "7d", or an
                         ISO 8601 time; NULL: any time */
  int limit;          /* 1 .. QF_RUNS_LIST_MAX */
} qf_runs_filter_t;

/* *out: an array of {run_id, status, current_node, decision, decided_by,
 * attempts, lease_owner, lease_live, worker, requested_by, nl_input, tool,
 * created_at, updated_at}, newest first. QF_EINVAL for a bad filter (the
 * message names it). */
int qf_runs_list(qf_db_t *db, const qf_runs_filter_t *f, cJSON **out,
                 qf_error_t *err) QF_MUSTCHECK;

/* *out: the run (as in the list, plus reason, triggered_rules, final,
 * reply_to, correlation_id, evidence_path, policy_version, deliveries,
 * decided_at, the request, its waiters, its approvals and its events in
 * order) and, when with_evidence, "evidence" (null when none yet).
 * QF_ENOENT when there is no such run. */
int qf_runs_get(qf_db_t *db, const char *run_id, int with_evidence, cJSON **out,
                qf_error_t *err) QF_MUSTCHECK;

#endif
