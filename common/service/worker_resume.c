/* worker_resume.c: a resume message ({run_id, approval_id}) finishes a run
 * that was parked for a human, on whichever worker receives it.
 *
 *   approved, parked before execute -> the pipeline goes on at execute
 *   approved (after execute)        -> final PASS, decided_by approval
 *   rejected                        -> final FAIL, decided_by approval
 *   expired                         -> final FAIL, decided_by expiry
 *   still pending                   -> acked and ignored
 *   run already final               -> its messages are re-published
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/fsutil.h"
#include "qf/resume_msg.h"
#include "worker_internal.h"

/* The human's decision, as the run's final decision. */
typedef struct verdict {
  const char *decision, *decided_by, *rule;
  char reason[QF_GATE_REASON_MAX];
} verdict_t;

static void judge(const qf_resume_row_t *row, verdict_t *v) {
  const char *who = row->decided_by ? row->decided_by : "?";
  if (strcmp(row->approval_status, "approved") == 0) {
    v->decision = "PASS", v->decided_by = "approval";
    v->rule = "approval:approved";
    snprintf(v->reason, sizeof v->reason, "approved by %s%s%s", who,
             row->comment ? ": " : "", row->comment ? row->comment : "");
  } else if (strcmp(row->approval_status, "rejected") == 0) {
    v->decision = "FAIL", v->decided_by = "approval";
    v->rule = "approval:rejected";
    snprintf(v->reason, sizeof v->reason, "rejected by %s: %s", who,
             row->reason ? row->reason : "");
  } else {
    v->decision = "FAIL", v->decided_by = "expiry";
    v->rule = "approval:expired";
    snprintf(v->reason, sizeof v->reason,
             "the approval expired at %s without a decision",
             row->expires_at ? row->expires_at : "?");
  }
}

/* The parked run's rules, then the human's. */
static cJSON *final_rules(const cJSON *message, const char *rule) {
  const cJSON *old =
      cJSON_GetObjectItemCaseSensitive(message, "triggered_rules");
  cJSON *rules =
      cJSON_IsArray(old) ? cJSON_Duplicate(old, 1) : cJSON_CreateArray();
  if (rules && !cJSON_AddItemToArray(rules, cJSON_CreateString(rule))) {
    cJSON_Delete(rules);
    return NULL;
  }
  return rules;
}

/* The evidence with the decision as enforced: who decided, and why. */
static int final_evidence(job_t *j, const qf_resume_row_t *row,
                          const verdict_t *v, cJSON *rules, cJSON **out,
                          char **path, qf_error_t *err) {
  qf_evidence_t *ev = NULL;
  char *text = cJSON_PrintUnformatted(row->run.evidence);
  int rc = text ? qf_evidence_from_json(text, strlen(text), "stored evidence",
                                        &ev, err)
                : QF_ENOMEM;
  cJSON_free(text);
  if (rc < 0) return rc;
  qf_governance_t *g = &ev->governance;
  free(g->decision_source);
  free(g->approver);
  free(g->approval_comment);
  g->decision_source = strdup(v->decided_by);
  g->approver =
      strcmp(v->decided_by, "expiry") ? strdup(row->decided_by) : NULL;
  g->approval_comment = row->comment  ? strdup(row->comment)
                        : row->reason ? strdup(row->reason)
                                      : NULL;
  const char *names[QF_GATE_RULES_MAX + 1];
  size_t n = 0;
  for (const cJSON *r = rules->child; r && n < QF_GATE_RULES_MAX + 1;
       r = r->next)
    names[n++] = r->valuestring;
  rc = qf_evidence_set_decision(ev, v->decision, v->reason, names, n,
                                v->decided_by, err);
  char dir[1024];
  if (rc == QF_OK)
    rc = qf_fs_join(dir, sizeof dir, j->w->cfg->artifacts_root, j->run_id, err);
  qf_evidence_stamp(ev);
  if (rc == QF_OK) rc = qf_evidence_write(ev, dir, path, err);
  if (rc == QF_OK) rc = qf_evidence_to_json(ev, out, err);
  qf_evidence_free(ev);
  return rc;
}

static cJSON *final_message(const qf_resume_row_t *row, const verdict_t *v,
                            const cJSON *rules, const char *path) {
  cJSON *m = cJSON_Duplicate(row->run.decision_message, 1);
  if (m == NULL) return NULL;
  cJSON_ReplaceItemInObject(m, "decision", cJSON_CreateString(v->decision));
  cJSON_ReplaceItemInObject(m, "reason", cJSON_CreateString(v->reason));
  cJSON_ReplaceItemInObject(m, "triggered_rules", cJSON_Duplicate(rules, 1));
  cJSON_ReplaceItemInObject(m, "final", cJSON_CreateTrue());
  cJSON_ReplaceItemInObject(m, "decided_by", cJSON_CreateString(v->decided_by));
  cJSON_ReplaceItemInObject(m, "evidence_path", cJSON_CreateString(path));
  return m;
}

static qf__settled_t resolve(job_t *j, const qf_resume_row_t *row,
                             const char *approval_id) {
  qf_error_t err;
  verdict_t v;
  cJSON *ev = NULL, *msg = NULL, *rules = NULL;
  char *path = NULL;
  judge(row, &v);
  qf__settled_t out;
  rules = final_rules(row->run.decision_message, v.rule);
  int rc =
      rules ? final_evidence(j, row, &v, rules, &ev, &path, &err) : QF_ENOMEM;
  if (rc == QF_OK && (msg = final_message(row, &v, rules, path)) == NULL)
    rc = QF_ENOMEM;
  qf_resolve_t r = {j->run_id,    approval_id, v.decision, v.reason, rules,
                    v.decided_by, ev,          path,       msg};
  if (rc == QF_OK) rc = qf_store_resolve(j->w->store, &r, &err);
  if (rc == QF_ECONFLICT) /* another worker resolved it first */
    out = qf__job_settle(j, 1, 0);
  else if (rc == QF_EDBCONN || rc == QF_EDB || rc == QF_ERETRY ||
           rc == QF_ETIMEDOUT)
    out = qf__job_db_failure(j, err.message);
  else if (rc < 0 || qf__job_publish_all(j, msg, ev, j->reply_to) < 0)
    out = qf__job_settle(j, 0, 1);
  else {
    qf_log_info(&j->log, "run.resolved", "%s: %s", v.decision, v.reason);
    out = qf__job_settle(j, 1, 0);
  }
  cJSON_Delete(ev);
  cJSON_Delete(msg);
  cJSON_Delete(rules);
  free(path);
  return out;
}

/* Approved before execute: the run goes back to running and the pipeline
 * continues at execute, the approver recorded. */
static qf__settled_t continue_run(job_t *j, qf_resume_row_t *row,
                                  const char *approval_id) {
  qf_error_t err;
  int rc = qf_store_resume_parked(j->w->store, j->run_id, approval_id, &err);
  if (rc == QF_ECONFLICT) return qf__job_settle(j, 1, 0);
  if (rc < 0) return qf__job_db_failure(j, err.message);
  j->approver = row->decided_by;
  j->approval_comment = row->comment;
  qf_log_info(&j->log, "run.approved", "approved by %s: running the tool",
              row->decided_by);
  return qf__job_run(j, NULL, &row->run);
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
    return qf__job_db_failure(j, "no database connection");
  int rc =
      qf_store_load_resume(j->w->store, j->run_id, approval_id, &row, &err);
  if (rc == QF_ENOENT) return qf__job_dead_letter(j, err.message);
  if (rc < 0) return qf__job_db_failure(j, err.message);
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
    out = resolve(j, &row, approval_id);
  }
  qf_resume_row_fini(&row);
  return out;
}
