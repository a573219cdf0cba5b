/* worker_delivery.c: one delivery, from the message to its settlement.
 *
 *   parse -> claim -> (decided? re-publish) -> resume or start the
 *   pipeline, checkpointing after each node -> commit -> publish with
 *   confirms -> ack
 *
 * Nothing is acked that was not committed and published; a bad request is
 * dead-lettered (with x-qf-error) and acked; our own trouble (database,
 * publisher) requeues the delivery for a later attempt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/clock.h"
#include "qf/log.h"
#include "qf/pipeline.h"
#include "qf/uuid.h"
#include "worker_internal.h"

#define PUBLISH_TRIES 3

qf__settled_t qf__job_settle(job_t *j, int ack, int requeue) {
  qf_error_t err;
  qf_amqp_t *c = j->w->con;
  int rc = c == NULL ? QF_EAMQPCONN
           : ack     ? qf_amqp_ack(c, j->m->delivery_tag, &err)
                     : qf_amqp_nack(c, j->m->delivery_tag, requeue, &err);
  if (rc < 0) {
    /* The broker redelivers it: every effect so far is idempotent. */
    qf_log_warn(&j->log, "delivery.settle_failed", "%s",
                c ? err.message : "consumer connection is down");
    return QF__CONN_LOST;
  }
  qf_log_emit(QF_LOG_INFO, &j->log, ack ? "delivery.acked" : "delivery.nacked",
              NULL, 0, "%s",
              ack       ? "acked"
              : requeue ? "requeued"
                        : "rejected");
  return ack ? QF__ACKED : QF__REQUEUED;
}

/* Publishes with confirms, reconnecting the publisher and retrying after
 * a nack, a timeout or a lost connection. A return (no queue bound: nobody
 * subscribed) cannot be fixed by retrying and is only logged; the decision
 * is in PostgreSQL either way. */
static int publish(job_t *j, const char *exchange, const char *key,
                   const char *body, const char *kind) {
  qf__worker_t *w = j->w;
  qf_error_t err;
  qf_amqp_msg_t msg = {.body = body,
                       .body_len = strlen(body),
                       .content_type = "application/json",
                       .message_id = j->run_id,
                       .correlation_id = j->correlation_id};
  for (int i = 0; i < PUBLISH_TRIES; i++) {
    int rc = QF_EAMQPCONN;
    if (w->pub == NULL) {
      qf_amqp_opts_t o = {.url = w->cfg->amqp_url,
                          .connection_name = "qf-worker-publisher",
                          .heartbeat_s = w->cfg->heartbeat_s,
                          .confirm = 1};
      if (qf_amqp_connect(&o, &w->pub, &err) < 0) continue;
    }
    rc = qf_amqp_publish(w->pub, exchange, key, &msg,
                         w->cfg->publish_timeout_ms, &err);
    if (rc == QF_OK) return QF_OK;
    if (rc == QF_ENOROUTE) {
      qf_log_warn(&j->log, "publish.unrouted", "%s to %s/%s reached no queue",
                  kind, exchange[0] ? exchange : "(default)", key);
      return QF_OK;
    }
    qf_log_warn(&j->log, "publish.retry", "%s: %s", kind, err.message);
    if (rc == QF_EAMQPCONN || rc == QF_EAMQP) {
      qf_amqp_free(w->pub);
      w->pub = NULL;
    }
  }
  return QF_ENACK;
}

static void lower(const char *s, char *out, size_t n) {
  size_t i = 0;
  for (; s[i] && i + 1 < n; i++)
    out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
  out[i] = '\0';
}

/* Evidence, decision, and the submitter's reply queue, in that order. */
int qf__job_publish_all(job_t *j, const cJSON *message, const cJSON *evidence,
                        const char *reply_to) {
  const qf_topology_t *t = &j->w->topo;
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(message, "decision");
  char dec[16], key[64];
  lower(cJSON_IsString(d) ? d->valuestring : "fail", dec, sizeof dec);
  char *msg = cJSON_PrintUnformatted(message);
  char *ev = evidence ? cJSON_PrintUnformatted(evidence) : NULL;
  int rc = msg ? QF_OK : QF_ENOMEM;
  if (rc == QF_OK && ev) {
    snprintf(key, sizeof key, "evidence.%s", dec);
    rc = publish(j, t->evidence, key, ev, "evidence");
  }
  if (rc == QF_OK) {
    snprintf(key, sizeof key, "decision.%s", dec);
    rc = publish(j, t->decisions, key, msg, "decision");
  }
  if (rc == QF_OK && reply_to && reply_to[0])
    rc = publish(j, "", reply_to, msg, "reply");
  cJSON_free(msg);
  cJSON_free(ev);
  return rc;
}

/* A request that cannot be run goes to the dead-letter exchange with the
 * first problem in x-qf-error, and is acked: it is never run, never lost. */
qf__settled_t qf__job_dead_letter(job_t *j, const char *why) {
  qf__worker_t *w = j->w;
  qf_error_t err;
  qf_amqp_header_t h[] = {{"x-qf-error", why},
                          {"x-qf-original-routing-key", j->m->routing_key}};
  qf_amqp_msg_t msg = {.body = j->m->body,
                       .body_len = j->m->body_len,
                       .content_type = j->m->content_type,
                       .message_id = j->m->message_id,
                       .correlation_id = j->m->correlation_id,
                       .reply_to = j->m->reply_to,
                       .headers = h,
                       .nheaders = 2};
  qf_log_warn(&j->log, "delivery.invalid", "%s", why);
  if (w->pub == NULL || qf_amqp_publish(w->pub, w->topo.dead, "", &msg,
                                        w->cfg->publish_timeout_ms, &err) < 0) {
    qf_amqp_free(w->pub);
    w->pub = NULL;
    return qf__job_settle(j, 0, 1); /* try again later rather than lose it */
  }
  return qf__job_settle(j, 1, 0);
}

int qf__job_on_node(const qf_run_state_t *s, const char *node, void *ctx) {
  job_t *j = ctx;
  qf_error_t err;
  int64_t now = qf_clock_now_ms();
  long long ms = (long long)(now - j->node_started_ms);
  j->node_started_ms = now;
  cJSON *cp = NULL;
  int rc = qf_pipeline_checkpoint(s, &cp, &err);
  if (rc == QF_OK)
    rc = qf_store_checkpoint(j->w->store, s->run_id, node, cp, ms, &err);
  cJSON_Delete(cp);
  qf_log_ctx_t lc = j->log;
  lc.node = node;
  qf_log_field_t f[] = {QF_LOG_INT("duration_ms", ms)};
  if (rc < 0)
    qf_log_emit(QF_LOG_WARN, &lc, "node.checkpoint_failed", f, 1, "%s",
                err.message);
  else
    qf_log_emit(QF_LOG_INFO, &lc, "node.done", f, 1, NULL);
  return rc;
}

/* The decision message: the pipeline's, plus evidence_url when configured. */
static cJSON *decision_message(job_t *j, const qf_run_state_t *s) {
  cJSON *msg = NULL;
  if (qf_pipeline_decision_json(s, j->correlation_id, &msg, NULL) < 0)
    return NULL;
  const char *base = j->w->cfg->evidence_base_url;
  if (base && base[0]) {
    char url[1024];
    snprintf(url, sizeof url, "%s/%s/evidence.json", base, s->run_id);
    cJSON_AddStringToObject(msg, "evidence_url", url);
  }
  return msg;
}

/* The database failed mid-delivery: whatever it was doing rolled back.
 * Reconnect (serving AMQP meanwhile), then requeue the delivery. */
qf__settled_t qf__job_db_failure(job_t *j, const char *what) {
  qf_log_warn(&j->log, "db.failed", "%s; requeueing after reconnect", what);
  if (qf__worker_restore_db(j->w) < 0) return qf__job_settle(j, 0, 1);
  return qf__job_settle(j, 0, 1);
}

qf__settled_t qf__job_republish(job_t *j, const qf_run_row_t *row) {
  qf_log_info(&j->log, "run.republish",
              "already decided: re-publishing the stored messages");
  if (qf__job_publish_all(j, row->decision_message, row->evidence,
                          j->reply_to ? j->reply_to : row->reply_to) < 0)
    return qf__job_settle(j, 0, 1);
  return qf__job_settle(j, 1, 0);
}

static qf__settled_t republish_current(job_t *j) {
  qf_run_row_t row = {0};
  qf_error_t err;
  int rc = qf_store_load(j->w->store, j->run_id, &row, &err);
  qf__settled_t out =
      rc < 0 ? qf__job_db_failure(j, err.message) : qf__job_republish(j, &row);
  qf_run_row_fini(&row);
  return out;
}

static const char *first_rule(const qf_run_state_t *s) {
  return s->result.nrules > 0 ? s->result.rules[0] : NULL;
}

/* Commits the decision (a NEED_HITL run parks with a pending approval),
 * then publishes it. */
qf__settled_t qf__job_finish(job_t *j, qf_run_state_t *s) {
  qf_error_t err;
  cJSON *msg = decision_message(j, s), *ev = NULL, *stored = NULL;
  cJSON *rules = cJSON_GetObjectItemCaseSensitive(msg, "triggered_rules");
  if (msg == NULL || qf_evidence_to_json(s->evidence, &ev, &err) < 0) {
    cJSON_Delete(msg);
    return qf__job_settle(j, 0, 1);
  }
  qf_finish_t f = {.run_id = s->run_id,
                   .decision = qf_decision_name(s->result.decision),
                   .reason = s->result.reason,
                   .triggered_rules = rules,
                   .decided_by = s->result.decided_by,
                   .evidence = ev,
                   .evidence_path = s->evidence_path,
                   .policy_version = s->policy->version,
                   .policy_hash = s->policy->hash,
                   .decision_message = msg,
                   .stage = s->policy->hitl.stage == QF_HITL_BEFORE_EXECUTE
                                ? "before_execute"
                                : "after_execute",
                   .triggered_rule = first_rule(s),
                   .requested_by = s->request->requested_by,
                   .expires_after_s = s->policy->hitl.expires_after_s};
  int rc = qf_store_finish(j->w->store, &f, &stored, &err);
  qf__settled_t out;
  if (rc == QF_ECONFLICT) {
    /* Another delivery of the same request finished it first: publish
     * what it decided, so this delivery's reply_to gets an answer too. */
    qf_log_info(&j->log, "run.finished_elsewhere", "%s", err.message);
    out = republish_current(j);
  } else if (rc < 0) {
    out = qf__job_db_failure(j, err.message);
  } else if (qf__job_publish_all(j, stored, ev, j->reply_to) < 0) {
    out = qf__job_settle(j, 0, 1); /* decided: a redelivery re-publishes it */
  } else {
    qf_log_info(&j->log, "run.decided", "%s: %s", f.decision, f.reason);
    out = qf__job_settle(j, 1, 0);
  }
  cJSON_Delete(stored);
  cJSON_Delete(ev);
  cJSON_Delete(msg);
  return out;
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

qf__settled_t qf__job_run(job_t *j, qf_request_t **req,
                          const qf_run_row_t *row) {
  qf_run_state_t s;
  qf_error_t err;
  qf__worker_t *w = j->w;
  qf_run_cfg_t cfg = {.policy_path = w->cfg->policy_path,
                      .artifacts_root = w->cfg->artifacts_root,
                      .workspace_root = w->cfg->workspace_root,
                      .tick = qf__worker_tick,
                      .tick_ctx = w};
  qf__settled_t out;
  int rc = start_state(j, req, row, &s, &err);
  j->node_started_ms = qf_clock_now_ms();
  if (rc == QF_OK) rc = qf_pipeline_run(&s, &cfg, qf__job_on_node, j, &err);
  if (rc == QF_OK)
    out = qf__job_finish(j, &s);
  else if (rc == QF_EDBCONN || rc == QF_EDB || rc == QF_ERETRY)
    out = qf__job_db_failure(j, err.message);
  else if (rc == QF_EVALIDATE || rc == QF_EPARSE)
    out = qf__job_dead_letter(j, err.message);
  else /* canceled by shutdown, or our own trouble: another try later */
    out = qf__job_settle(j, 0, 1);
  qf_run_state_fini(&s);
  return out;
}

static void make_run_id(job_t *j) {
  const char *mid = j->m->message_id;
  if (mid && mid[0] &&
      qf_uuid_v5(QF_UUID_NS_RUN, mid, strlen(mid), j->run_id) == QF_OK)
    return;
  if (qf_uuid_v4(j->run_id) < 0) j->run_id[0] = '\0';
  qf_log_warn(&j->log, "delivery.no_message_id",
              "no message_id: run %s cannot be deduplicated on redelivery",
              j->run_id);
}

static qf__settled_t claim_and_run(job_t *j, qf_request_t **req) {
  qf_error_t err;
  char *request_json = NULL;
  qf_run_row_t row = {0};
  int created = 0;
  if (qf_request_to_json(*req, &request_json, &err) < 0)
    return qf__job_settle(j, 0, 1);
  qf_claim_t c = {.run_id = j->run_id,
                  .message_id = j->m->message_id,
                  .request_json = request_json,
                  .requested_by = (*req)->requested_by,
                  .reply_to = j->m->reply_to,
                  .correlation_id = j->m->correlation_id,
                  .worker = j->w->cfg->worker_id};
  int rc = j->w->store ? qf_store_claim(j->w->store, &c, &row, &created, &err)
                       : QF_EDBCONN;
  free(request_json);
  qf__settled_t out;
  if (rc < 0)
    out = qf__job_db_failure(
        j, j->w->store ? err.message : "no database connection");
  else if (row.status == QF_RUN_DECIDED ||
           row.status == QF_RUN_AWAITING_APPROVAL)
    out = qf__job_republish(j, &row);
  else
    out = qf__job_run(j, req, &row);
  qf_run_row_fini(&row);
  return out;
}

qf__settled_t qf__worker_deliver(qf__worker_t *w, const qf_amqp_message_t *m) {
  job_t j = {.w = w,
             .m = m,
             .reply_to = m->reply_to,
             .correlation_id = m->correlation_id};
  qf_error_t err;
  qf_request_t *req = NULL;
  j.log = (qf_log_ctx_t){.correlation_id = m->correlation_id,
                         .has_delivery = 1,
                         .delivery_tag = m->delivery_tag,
                         .redelivered = m->redelivered};
  if (m->routing_key && strcmp(m->routing_key, "resume") == 0)
    return qf__worker_resume(&j);
  if (qf_request_parse(m->body, m->body_len, &req, &err) < 0)
    return qf__job_dead_letter(&j, err.message);
  make_run_id(&j);
  j.log.run_id = j.run_id;
  qf_log_info(&j.log, "delivery.received", "%s", req->tool_name);
  qf__settled_t out = claim_and_run(&j, &req);
  qf_request_free(req);
  return out;
}
