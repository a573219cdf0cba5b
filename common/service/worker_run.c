/* worker_run.c: running (or resuming) the pipeline for a delivery,
 * checkpointing after each node, and committing what it decided. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/clock.h"
#include "qf/log.h"
#include "qf/metrics.h"
#include "qf/pipeline.h"
#include "qf/tools.h"
#include "worker_internal.h"

/* Checkpoint attempts after the first, each after the database is back. */
#define CHECKPOINT_TRIES 3

/* Whether the node did work that must not be repeated: only a tool that
 * really ran (not a dry run, not a refusal). Every other node is
 * recomputed on resume, so it costs the database nothing (DESIGN 4). */
static int worth_saving(const qf_run_state_t *s, const char *node) {
  return strcmp(node, "execute") == 0 && s->blocked == NULL &&
         !s->request->dry_run;
}

/* A fresh run is claimed only when its tool is about to run (a run that
 * needs none is recorded whole when decided). The batch goes first: its
 * runs must not wait for a tool. A run that exists already (another
 * delivery made it) is left to the claiming way: j->found. */
static int claim_for_tool(job_t *j, const qf_run_state_t *s, qf_error_t *e) {
  qf__worker_t *w = j->w;
  qf_run_row_t row = {0};
  int created = 0;
  if (qf__batch_flush(w) == QF__CONN_LOST)
    return qf_error_set(e, QF_EAMQPCONN, "consumer connection lost");
  if (qf__worker_lease_held(w, j->run_id)) { /* a copy runs it here */
    j->held_here = 1;
    return qf_error_set(e, QF_ECONFLICT, "run %s runs here", j->run_id);
  }
  qf_claim_t c = qf__job_claim(j, j->request_json, s->request->requested_by);
  int rc = w->store ? qf_store_claim(w->store, &c, &row, &created, e)
                    : qf_error_set(e, QF_EDBCONN, "no database connection");
  if (rc < 0) return rc;
  if (created) {
    j->claimed = 1;
    qf__worker_lease_begin(w, &j->lease, j->run_id);
    qf_run_row_fini(&row);
    return QF_OK;
  }
  j->found = malloc(sizeof *j->found);
  if (j->found == NULL) {
    qf_run_row_fini(&row);
    return qf_error_set(e, QF_ENOMEM, "out of memory");
  }
  *j->found = row;
  return qf_error_set(e, QF_ECONFLICT, "run %s exists already", j->run_id);
}

/* Whether the node that comes next runs the tool of a fresh run. */
static int tool_next(const job_t *j, const qf_run_state_t *s) {
  const qf_node_t *n = qf_pipeline_node_at(s->next);
  return j->fresh && !j->claimed && n && strcmp(n->name, "execute") == 0 &&
         !s->parked && s->blocked == NULL && !s->request->dry_run;
}

int qf__job_on_node(const qf_run_state_t *s, const char *node, long long ms,
                    void *ctx, qf_error_t *errp) {
  job_t *j = ctx;
  qf_error_t local, *e = errp ? errp : &local;
  cJSON *cp = NULL;
  qf_log_ctx_t lc = j->log;
  lc.node = node;
  qf_log_field_t f[] = {QF_LOG_INT("duration_ms", ms)};
  if (j->node_ms == NULL) j->node_ms = cJSON_CreateObject();
  if (j->node_ms) {
    cJSON_DeleteItemFromObjectCaseSensitive(j->node_ms, node);
    cJSON_AddNumberToObject(j->node_ms, node, (double)ms);
  }
  char label[64];
  qf_metrics_label(label, sizeof label, "node", node);
  qf_metrics_observe(qf_metrics_global(), "qf_node_duration_seconds", label,
                     (double)ms / 1000.0);
  if (!worth_saving(s, node)) {
    qf_log_emit(QF_LOG_INFO, &lc, "node.done", f, 1, NULL);
    return tool_next(j, s) ? claim_for_tool(j, s, e) : QF_OK;
  }
  int rc = qf_pipeline_checkpoint(s, &cp, e);
  if (rc == QF_OK)
    rc = qf_store_checkpoint(j->w->store, s->run_id, node, cp, ms, e);
  /* The work since the last checkpoint (a whole tool run, after execute)
   * is lost if this one fails: a database blip is waited out here, the
   * connection restored, and the checkpoint tried again, rather than the
   * delivery requeued and the tool run again. */
  for (int i = 1; rc < 0 && qf_err_retryable(rc) && i <= CHECKPOINT_TRIES;
       i++) {
    qf_log_emit(QF_LOG_WARN, &lc, "db.checkpoint_retry", f, 1,
                "%s; reconnecting (try %d of %d)", e->message, i,
                CHECKPOINT_TRIES);
    if (qf__worker_restore_db(j->w) < 0) break; /* stopping */
    rc = qf_store_checkpoint(j->w->store, s->run_id, node, cp, ms, e);
  }
  cJSON_Delete(cp);
  if (rc < 0)
    qf_log_emit(QF_LOG_WARN, &lc, "node.checkpoint_failed", f, 1, "%s",
                e->message);
  else
    qf_log_emit(QF_LOG_INFO, &lc, "node.done", f, 1, NULL);
  return rc;
}

/* The decision message, with evidence_url when one is configured. */
static cJSON *decision_message(job_t *j, const qf_run_state_t *s) {
  cJSON *msg = NULL;
  char url[1024];
  const char *base = j->w->cfg->evidence_base_url;
  if (base && base[0])
    snprintf(url, sizeof url, "%s/%s/evidence.json", base, s->run_id);
  if (qf_pipeline_decision_json(s, j->correlation_id,
                                base && base[0] ? url : NULL, &msg, NULL) < 0)
    return NULL;
  return msg;
}

/* Someone else has the run now: another delivery finished it (publish
 * what it decided, so that this delivery's reply_to gets an answer too),
 * or took it over when our lease ran out (this delivery's reply_to joins
 * its waiters). Either way this delivery is done. */
static qf__settled_t settle_elsewhere(job_t *j) {
  qf_run_row_t row = {0};
  qf_error_t err;
  j->claimed = 0; /* not ours to give back */
  int rc = qf_store_load(j->w->store, j->run_id, &row, &err);
  int other = rc == QF_OK && row.lease_live && row.lease_owner &&
              strcmp(row.lease_owner, j->w->cfg->worker_id) != 0;
  if (rc == QF_OK && !other &&
      (row.status == QF_RUN_RECEIVED || row.status == QF_RUN_RUNNING)) {
    j->claimed = 1; /* nobody else has it: give it back, another try */
    qf_run_row_fini(&row);
    return qf__job_settle(j, 0, 1);
  }
  /* The waiter is added under the run's lock: a run finished meanwhile
   * says so (QF_ECONFLICT), and then its decision is re-published. */
  if (rc == QF_OK && other)
    rc = qf_store_add_waiter(j->w->store, j->run_id, j->reply_to,
                             j->correlation_id, &err);
  if (rc == QF_ECONFLICT) {
    qf_run_row_fini(&row);
    rc = qf_store_load(j->w->store, j->run_id, &row, &err);
    other = 0;
  }
  qf__settled_t out;
  if (rc < 0) {
    out = qf__job_fail(j, rc, err.message);
  } else if (other) {
    qf_log_info(&j->log, "delivery.waiting",
                "another worker holds the run; its decision will reach "
                "this delivery's reply_to");
    out = qf__job_settle(j, 1, 0);
  } else {
    out = qf__job_republish(j, &row);
  }
  qf_run_row_fini(&row);
  return out;
}

qf__settled_t qf__job_wait_in_process(job_t *j) {
  qf_error_t err;
  qf_run_row_t row = {0};
  int rc = j->w->store
               ? qf_store_add_waiter(j->w->store, j->run_id, j->reply_to,
                                     j->correlation_id, &err)
               : qf_error_set(&err, QF_EDBCONN, "no database");
  qf__settled_t out;
  if (rc == QF_ECONFLICT || rc == QF_ENOENT) {
    /* It finished meanwhile (or is not recorded yet: a fresh copy that
     * has not claimed). */
    rc = qf_store_load(j->w->store, j->run_id, &row, &err);
    out =
        rc < 0 ? qf__job_fail(j, rc, err.message)
        : row.status == QF_RUN_DECIDED || row.status == QF_RUN_AWAITING_APPROVAL
            ? qf__job_republish(j, &row)
            : qf__job_settle(j, 0, 1);
  } else if (rc < 0) {
    out = qf__job_fail(j, rc, err.message);
  } else {
    qf_log_info(&j->log, "delivery.waiting",
                "another delivery of this request runs here; its decision "
                "will reach this delivery's reply_to");
    out = qf__job_settle(j, 1, 0);
  }
  qf_run_row_fini(&row);
  return out;
}

static const char *first_rule(const qf_run_state_t *s) {
  return s->result.nrules > 0 ? s->result.rules[0] : NULL;
}

/* The tool runs of a decided run (not a dry run's or a refusal's). */
static void count_tools(const qf_run_state_t *s) {
  const qf_evidence_t *ev = s->evidence;
  for (size_t i = 0; ev && i < ev->ntool_calls; i++) {
    const qf_tool_call_t *c = &ev->tool_calls[i];
    if (c->status == QF_TOOL_SKIPPED || c->decision_source) continue;
    char a[96], b[64], label[170];
    qf_metrics_label(a, sizeof a, "tool", c->tool_name);
    qf_metrics_label(b, sizeof b, "status", qf_tool_status_name(c->status));
    snprintf(label, sizeof label, "%s,%s", a, b);
    qf_metrics_observe(qf_metrics_global(), "qf_tool_duration_seconds", label,
                       (double)c->duration_ms / 1000.0);
  }
}

/* A fresh delivery's run is not this worker's until it is recorded whole
 * (qf__batch_hold) or claimed, before a tool runs; its evidence file goes
 * in place only then (qf_run_cfg_t.unowned). */
static int job_unowned(void *ctx) {
  const job_t *j = ctx;
  return j->fresh && !j->claimed;
}

/* Commits the decision (a NEED_HITL run parks with a pending approval),
 * then publishes it. */
qf__settled_t qf__job_finish(job_t *j, qf_run_state_t *s) {
  qf_error_t err;
  cJSON *msg = decision_message(j, s), *ev = NULL, *stored = NULL;
  cJSON *waiters = NULL, *cp = NULL;
  cJSON *rules = cJSON_GetObjectItemCaseSensitive(msg, "triggered_rules");
  /* A run parked for a human resumes from the state it parked in. */
  /* A fresh run's evidence goes as the text gate wrote: printed once. */
  int fresh = job_unowned(j);
  int print_ev = !(fresh && s->evidence_text);
  if (msg == NULL ||
      (print_ev && qf_evidence_to_json(s->evidence, &ev, &err) < 0) ||
      (s->parked && qf_pipeline_checkpoint(s, &cp, &err) < 0)) {
    cJSON_Delete(msg);
    cJSON_Delete(ev);
    return qf__job_settle(j, 0, 1);
  }
  qf_finish_t f = {
      .run_id = s->run_id,
      .decision = qf_decision_name(s->result.decision),
      .reason = s->result.reason,
      .triggered_rules = rules,
      .decided_by = s->result.decided_by,
      .evidence = ev,
      .evidence_text = print_ev ? NULL : s->evidence_text,
      .evidence_path = s->evidence_path,
      .policy_version = s->policy->version,
      .policy_hash = s->policy->hash,
      .decision_message = msg,
      .stage = s->policy->hitl.stage == QF_HITL_BEFORE_EXECUTE
                   ? "before_execute"
                   : "after_execute",
      .triggered_rule = first_rule(s),
      .requested_by = s->request->requested_by,
      .expires_after_s = s->policy->hitl.expires_after_s,
      .approvers = (const char *const *)s->policy->hitl.approvers.items,
      .napprovers = s->policy->hitl.approvers.n,
      .prevent_self_approval = s->policy->hitl.prevent_self_approval,
      .checkpoint = cp,
      .node_ms = j->node_ms};
  if (fresh) { /* no tool ran: recorded whole, batched */
    qf__settled_t held = qf__batch_hold(j, &f, &s->evidence_owed);
    if (held == QF__HELD) count_tools(s);
    cJSON_Delete(cp);
    cJSON_Delete(ev);
    cJSON_Delete(msg);
    return held;
  }
  qf__pay_owed(j, &s->evidence_owed, s->evidence_path);
  int64_t t0 = qf_clock_now_ms();
  int rc = qf_store_finish(j->w->store, &f, &stored, &waiters, &err);
  if (rc == QF_OK)
    qf_metrics_observe(qf_metrics_global(), "qf_db_commit_seconds", NULL,
                       (double)(qf_clock_now_ms() - t0) / 1000.0);
  qf__settled_t out;
  if (rc == QF_OK) j->claimed = 0; /* decided: the lease went with it */
  if (rc == QF_ECONFLICT) {
    qf_log_info(&j->log, "run.finished_elsewhere", "%s", err.message);
    out = settle_elsewhere(j);
  } else if (rc < 0) {
    out = qf__job_fail(j, rc, err.message);
  } else if (qf__job_announce(j, stored, ev, j->reply_to, waiters, 0) < 0) {
    out = qf__job_settle(j, 0, 1); /* decided: a redelivery re-publishes it */
  } else {
    qf_log_field_t lf[] = {QF_LOG_STR("decision", f.decision),
                           QF_LOG_STR("decided_by", f.decided_by)};
    qf_log_emit(QF_LOG_INFO, &j->log, "run.decided", lf, 2, "%s: %s",
                f.decision, f.reason);
    qf__job_count_decision(j, f.decision, f.decided_by);
    count_tools(s);
    out = qf__job_settle(j, 1, 0);
  }
  cJSON_Delete(stored);
  cJSON_Delete(waiters);
  cJSON_Delete(cp);
  cJSON_Delete(ev);
  cJSON_Delete(msg);
  return out;
}

/* Looks at the policy file before a run; says so once when it changed. */
static void policy_refresh(qf__worker_t *w) {
  if (w->policies == NULL || !qf_policy_source_refresh(w->policies)) return;
  const char *why = qf_policy_source_problem(w->policies);
  qf_health_ready(QF_READY_POLICY, why == NULL);
  if (why)
    qf_log_error(NULL, "policy.invalid", "%s", why);
  else
    qf_log_info(NULL, "policy.reloaded", "%s", w->cfg->policy_path);
}

static int start_state(job_t *j, qf_request_t **req, const qf_run_row_t *row,
                       qf_run_state_t *s, qf_error_t *err) {
  if (row->checkpoint == NULL) {
    if (req == NULL || *req == NULL)
      return qf_error_set(err, QF_EINTERNAL, "run %s: nothing to resume",
                          j->run_id);
    qf_run_state_init(s, j->run_id, *req);
    *req = NULL; /* the state owns it now */
    return QF_OK;
  }
  qf_log_info(&j->log, "run.resume", "resuming from its checkpoint");
  qf_run_state_init(s, NULL, NULL);
  int rc = qf_pipeline_restore(s, row->checkpoint, err);
  if (rc == QF_OK && j->approver != NULL && s->parked)
    rc = qf_pipeline_approve_parked(s, j->approver, j->approval_comment, err);
  return rc;
}

/* The worker's tick, and the submitter told once its tool is running. */
static int job_tick(void *ctx) {
  job_t *j = ctx;
  int stop = qf__worker_tick(j->w) || j->lease.lost;
  if (j->progress_due && !stop) {
    j->progress_due = 0;
    (void)qf__job_progress(j, "execute"); /* news only: never fatal */
  }
  return stop;
}

/* While a tool runs, other deliveries' worker code may run (QF_CONCURRENCY
 * above 1): the lock is let go for each wait. */
static void job_waiting(int begin, void *ctx) {
  job_t *j = ctx;
  if (begin)
    qf__worker_unlock(j->w);
  else
    qf__worker_lock(j->w);
}

/* Only a submitter that asked (header x-qf-progress, as qf submit sends
 * it) gets progress on its reply queue: other consumers of reply_to get
 * decisions only, as the contract always said. */
static void job_tool_started(int pgid, const char *cgroup, void *ctx) {
  job_t *j = ctx;
  qf__worker_on_tool_start(j->w, &j->lease, pgid, cgroup);
  const char *want = qf_amqp_message_header(j->m, "x-qf-progress");
  j->progress_due = want && strcmp(want, "1") == 0;
}

qf__settled_t qf__job_run(job_t *j, qf_request_t **req,
                          const qf_run_row_t *row) {
  qf_run_state_t s;
  qf_error_t err;
  qf__worker_t *w = j->w;
  policy_refresh(w);
  qf_run_cfg_t cfg = {.policy_path = w->cfg->policy_path,
                      .policies = w->policies,
                      .artifacts_root = w->cfg->artifacts_root,
                      .workspace_root = w->cfg->workspace_root,
                      .tick = job_tick,
                      .tick_ctx = j,
                      .on_tool_start = job_tool_started,
                      .tool_waiting = job_waiting,
                      .cgroup_parent = w->cgroup[0] ? w->cgroup : NULL,
                      .tools = qf_tools_builtin(),
                      .sources = &w->source,
                      .owe_syncs = 1,
                      .unowned = job_unowned};
  qf__settled_t out;
  int rc = start_state(j, req, row, &s, &err);
  if (rc == QF_OK) rc = qf_pipeline_run(&s, &cfg, qf__job_on_node, j, &err);
  /* A request or policy that cannot be run is dead-lettered; a stop, the
   * database or our own trouble means another try later; a lease lost
   * (the tool was stopped) or a run changed under us means another owner
   * has it. */
  if (j->held_here)
    out = qf__job_wait_in_process(j);
  else if (j->found)
    out = QF__REDO; /* the caller claims the run it found */
  else if (rc == QF_OK)
    out = qf__job_finish(j, &s);
  else if (rc == QF_EEXIST && j->fresh && !j->claimed)
    out = qf__job_dead_letter(j, err.message); /* another request's id */
  else if (rc == QF_ECONFLICT || (j->lease.lost && !*w->signals))
    out = settle_elsewhere(j);
  else
    out = qf__job_fail(j, rc, err.message);
  qf_run_state_fini(&s);
  cJSON_Delete(j->node_ms);
  j->node_ms = NULL;
  return out;
}
