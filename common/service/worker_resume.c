/* worker_resume.c: a resume message ({run_id, approval_id}) finishes a run
 * that was parked for a human, on whichever worker receives it.
 *
 *   approved, parked before execute -> the pipeline goes on at execute
 *   approved, rejected or expired   -> the human's final decision
 *                                      (qf/decision.h decides it)
 *   still pending                   -> acked and ignored
 *   run already final               -> its messages are re-published
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/decision.h"
#include "qf/fsutil.h"
#include "qf/resume_msg.h"
#include "worker_internal.h"

/* The stored evidence with the human's decision recorded, written to
 * the run's directory (*path) and as JSON (*out). */
static int final_evidence(job_t *j, const qf_resume_row_t *row,
                          const qf_human_input_t *h, const qf_verdict_t *v,
                          const cJSON *rules, cJSON **out, char **path,
                          qf_error_t *err) {
  qf_evidence_t *ev = NULL;
  char dir[1024];
  char *text = cJSON_PrintUnformatted(row->run.evidence);
  int rc = text ? qf_evidence_from_json(text, strlen(text), "stored evidence",
                                        &ev, err)
                : qf_error_set(err, QF_ENOMEM, "out of memory");
  cJSON_free(text);
  if (rc == QF_OK) rc = qf_decision_apply_human(ev, h, v, rules, err);
  if (rc == QF_OK)
    rc = qf_fs_join(dir, sizeof dir, j->w->cfg->artifacts_root, j->run_id, err);
  if (rc == QF_OK) {
    qf_evidence_stamp(ev);
    rc = qf_evidence_write(ev, dir, path, err);
  }
  if (rc == QF_OK) rc = qf_evidence_to_json(ev, out, err);
  qf_evidence_free(ev);
  return rc;
}

/* Records the human's final decision and publishes it. */
static qf__settled_t resolve(job_t *j, const qf_resume_row_t *row,
                             const char *approval_id) {
  qf_error_t err;
  qf_verdict_t v;
  cJSON *ev = NULL, *msg = NULL, *rules = NULL, *waiters = NULL;
  char *path = NULL;
  qf_human_input_t h = {row->approval_status, row->decided_by, row->comment,
                        row->reason, row->expires_at};
  int rc = qf_decision_judge(&h, &v, &err);
  if (rc == QF_OK)
    rc = qf_decision_final_rules(row->run.decision_message, &v, &rules, &err);
  if (rc == QF_OK) rc = final_evidence(j, row, &h, &v, rules, &ev, &path, &err);
  if (rc == QF_OK)
    rc = qf_decision_human_message(row->run.decision_message, &v, rules, path,
                                   &msg, &err);
  const char *decision = qf_decision_name(v.decision);
  qf_resolve_t r = {j->run_id,    approval_id, decision, v.reason, rules,
                    v.decided_by, ev,          path,     msg};
  if (rc == QF_OK) rc = qf_store_resolve(j->w->store, &r, &waiters, &err);
  if (rc == QF_OK) j->claimed = 0; /* resolved: nothing to give back */
  qf__settled_t out;
  if (rc == QF_ECONFLICT) /* another worker resolved it first */
    out = qf__job_settle(j, 1, 0);
  else if (rc < 0)
    out = qf__job_fail(j, rc, err.message);
  else if (qf__job_announce(j, msg, ev, j->reply_to, waiters, 0) < 0)
    out = qf__job_settle(j, 0, 1); /* resolved: a redelivery re-publishes */
  else {
    qf_log_info(&j->log, "run.resolved", "%s: %s", decision, v.reason);
    out = qf__job_settle(j, 1, 0);
  }
  cJSON_Delete(ev);
  cJSON_Delete(msg);
  cJSON_Delete(rules);
  cJSON_Delete(waiters);
  free(path);
  return out;
}

/* Approved before execute: the run goes back to running and the pipeline
 * continues at execute, the approver recorded. */
static qf__settled_t continue_run(job_t *j, qf_resume_row_t *row,
                                  const char *approval_id) {
  qf_error_t err;
  qf_tool_trace_t previous;
  int rc = qf_store_resume_parked(j->w->store, j->run_id, approval_id,
                                  j->deliveries, &previous, &err);
  /* Decided, or another owner runs it now: its decision reaches the
   * request's reply_to and waiters. */
  if (rc == QF_ECONFLICT) return qf__job_settle(j, 1, 0);
  if (rc < 0) return qf__job_fail(j, rc, err.message);
  j->approver = row->decided_by;
  j->approval_comment = row->comment;
  qf_log_info(&j->log, "run.approved", "approved by %s: running the tool",
              row->decided_by);
  j->claimed = 1;
  qf__worker_lease_begin(j->w, &j->lease, j->run_id);
  qf__worker_kill_previous(&j->log, &previous);
  qf__settled_t out = qf__job_run(j, NULL, &row->run);
  qf__worker_lease_end(j->w, &j->lease);
  return out;
}

qf__settled_t qf__worker_resume(job_t *j) {
  char approval_id[QF_UUID_STR_LEN + 1], why[160];
  qf_resume_row_t row;
  qf_error_t err;
  if (qf_resume_msg_parse(j->m->body, j->m->body_len, j->run_id, approval_id,
                          why, sizeof why) < 0)
    return qf__job_dead_letter(j, why);
  j->log.run_id = j->run_id;
  if (j->w->store == NULL)
    return qf__job_fail(j, QF_EDBCONN, "no database connection");
  int rc =
      qf_store_load_resume(j->w->store, j->run_id, approval_id, &row, &err);
  /* A resume naming no such approval of that run can never succeed. */
  if (rc == QF_ENOENT) return qf__job_dead_letter(j, err.message);
  if (rc < 0) return qf__job_fail(j, rc, err.message);
  /* The decision goes where the original request asked for it. */
  j->reply_to = row.run.reply_to;
  j->correlation_id = row.run.correlation_id;
  j->log.correlation_id = j->correlation_id;
  qf__settled_t out;
  if (row.run.status == QF_RUN_DECIDED) {
    out = qf__job_republish(j, &row.run);
  } else if (strcmp(row.approval_status, "pending") == 0) {
    qf_log_info(&j->log, "resume.pending", "approval %s is still pending",
                approval_id);
    out = qf__job_settle(j, 1, 0);
  } else if (strcmp(row.approval_status, "approved") == 0 &&
             strcmp(row.stage, "before_execute") == 0) {
    out = continue_run(j, &row, approval_id);
  } else {
    j->claimed = 1; /* its last delivery may end it (qf__job_fail) */
    out = resolve(j, &row, approval_id);
  }
  qf_resume_row_fini(&row);
  return out;
}
