/* worker_sweep.c: no run stays unfinished with nobody working on it. An
 * idle worker looks, every sweep_interval_s, for runs the store says
 * nobody will finish (their lease ran out and the broker gave their
 * request up, or nobody took them over for stuck_after_s; a parked run
 * whose resume was lost) and ends each FAIL, decided_by error, announced
 * like any decision. Workers racing for the same run end it once (the
 * store's compare-and-set). */
#include <stdio.h>
#include <string.h>

#include "qf/clock.h"
#include "qf/decision.h"
#include "qf/log.h"
#include "worker_internal.h"

#define SWEEP_MAX 16

static void end_one(qf__worker_t *w, const char run_id[QF_UUID_STR_LEN + 1]) {
  qf_error_t err;
  qf_run_row_t before = {0}, row = {0};
  cJSON *msg = NULL;
  job_t j = {.w = w};
  memcpy(j.run_id, run_id, sizeof j.run_id);
  j.log.run_id = j.run_id;
  const char *why =
      "the run was abandoned: its last worker stopped working on it and its "
      "request will not be delivered again (see the run's events)";
  int rc = qf_store_load(w->store, run_id, &before, &err);
  if (rc == QF_OK) {
    j.correlation_id = before.correlation_id;
    j.log.correlation_id = before.correlation_id;
    rc = qf_decision_error_message(run_id, why, before.correlation_id, &msg,
                                   &err);
  }
  qf_end_t e = {run_id, "error", why, msg, 0};
  if (rc == QF_OK) rc = qf_store_end_run(w->store, &e, &row, &err);
  if (rc == QF_ECONFLICT) { /* taken over or ended meanwhile */
  } else if (rc < 0) {
    qf_log_warn(&j.log, "sweep.end_failed", "%s", err.message);
  } else {
    qf_log_warn(&j.log, "run.swept", "FAIL: %s", why);
    if (qf__job_announce(&j, row.decision_message, NULL, row.reply_to,
                         row.waiters, 0) < 0)
      qf_log_error(&j.log, "sweep.announce_failed",
                   "ended in PostgreSQL, but its decision was not confirmed "
                   "by the broker");
  }
  qf_run_row_fini(&before);
  qf_run_row_fini(&row);
  cJSON_Delete(msg);
}

void qf__worker_sweep(qf__worker_t *w) {
  int64_t now = qf_clock_now_ms();
  qf_error_t err;
  if (w->store == NULL || now < w->next_sweep_ms) return;
  w->next_sweep_ms = now + (int64_t)w->cfg->sweep_interval_s * 1000;
  qf_sweep_t s = {.grace_s = w->cfg->lease_s,
                  .stuck_s = w->cfg->stuck_after_s,
                  .delivery_limit = w->cfg->delivery_limit,
                  .max = SWEEP_MAX};
  char ids[SWEEP_MAX][QF_UUID_STR_LEN + 1];
  int n = qf_store_stuck_runs(w->store, &s, ids, &err);
  if (n < 0) {
    qf_log_warn(NULL, "sweep.failed", "%s", err.message);
    return;
  }
  for (int i = 0; i < n && !*w->signals; i++)
    end_one(w, ids[i]);
}
