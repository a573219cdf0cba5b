/* worker_delivery.c: one delivery, from the message to its settlement.
 *
 *   parse -> claim (the message_id must belong to this request; the
 *   run's lease: another owner working on it? wait for its decision) ->
 *   (decided? re-publish) -> resume or start the
 *   pipeline, checkpointing after each node (worker_run.c) -> commit ->
 *   publish with confirms -> ack (worker_settle.c)
 *
 * A resume message goes to worker_resume.c instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/log.h"
#include "qf/uuid.h"
#include "qf/clock.h"
#include "qf/metrics.h"
#include "worker_internal.h"

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

/* The run is ours: kill what a previous owner left, hold the lease while
 * the pipeline runs. */
static qf__settled_t run_claimed(job_t *j, qf_request_t **req,
                                 const qf_run_row_t *row) {
  if (row->taken_over) {
    qf_log_warn(&j->log, "run.taken_over",
                "the previous owner's lease expired: taking the run over");
    qf_metrics_inc(qf_metrics_global(), "qf_leases_taken_over_total", NULL, 1);
  }
  j->claimed = 1;
  qf__worker_lease_begin(j->w, &j->lease, j->run_id);
  qf__worker_kill_previous(&j->log, &row->previous);
  qf__settled_t out = qf__job_run(j, req, row);
  qf__worker_lease_end(j->w, &j->lease);
  return out;
}

/* What the claim found decides: re-publish a decided or parked run, wait
 * for another owner's decision, or run it. */
static qf__settled_t after_claim(job_t *j, qf_request_t **req,
                                 const qf_run_row_t *row) {
  if (row->status == QF_RUN_DECIDED || row->status == QF_RUN_AWAITING_APPROVAL)
    return qf__job_republish(j, row);
  if (row->leased_elsewhere) {
    qf_log_info(&j->log, "delivery.waiting",
                "%s holds the run; its decision will reach this delivery's "
                "reply_to",
                row->lease_owner ? row->lease_owner : "another worker");
    return qf__job_settle(j, 1, 0);
  }
  return run_claimed(j, req, row);
}

static qf__settled_t claim_and_run(job_t *j, qf_request_t **req) {
  qf_error_t err;
  if (qf__worker_lease_held(j->w, j->run_id)) return qf__job_wait_in_process(j);
  char *request_json = NULL;
  qf_run_row_t row = {0};
  int created = 0;
  int rc = qf_request_to_json(*req, &request_json, &err);
  if (rc < 0) return qf__job_fail(j, rc, err.message);
  qf_claim_t c = qf__job_claim(j, request_json, (*req)->requested_by);
  rc = j->w->store ? qf_store_claim(j->w->store, &c, &row, &created, &err)
                   : QF_EDBCONN;
  free(request_json);
  qf__settled_t out;
  if (rc == QF_EEXIST) /* the message_id belongs to another request */
    out = qf__job_dead_letter(j, err.message);
  else if (rc < 0)
    out = qf__job_fail(j, rc,
                       j->w->store ? err.message : "no database connection");
  else
    out = after_claim(j, req, &row);
  qf_run_row_fini(&row);
  return out;
}

/* A first delivery runs before it is claimed (job_t.fresh): a run that
 * needs no tool is held for the batch; one whose tool is about to run is
 * claimed then; one that turned out to exist goes the claiming way with
 * the row its claim found. */
static qf__settled_t run_fresh(job_t *j, qf_request_t **req) {
  qf_error_t err;
  qf_run_row_t none = {0};
  int rc = qf_request_to_json(*req, &j->request_json, &err);
  if (rc < 0) return qf__job_fail(j, rc, err.message);
  j->fresh = 1;
  j->requested_by = (*req)->requested_by; /* the run state keeps it */
  qf__settled_t out = qf__job_run(j, req, &none);
  qf__worker_lease_end(j->w, &j->lease); /* a tool run claimed on the way */
  if (out == QF__REDO) {
    qf_run_row_t *row = j->found;
    qf_request_t *again = NULL;
    j->found = NULL;
    j->fresh = 0;
    out = qf_request_parse(j->m->body, j->m->body_len, &again, &err) < 0
              ? qf__job_dead_letter(j, err.message)
              : after_claim(j, &again, row);
    qf_request_free(again);
    qf_run_row_fini(row);
    free(row);
  }
  free(j->request_json);
  j->request_json = NULL;
  return out;
}

/* Only a first delivery of a request is fresh: a redelivered or handed-on
 * one has (or may have) a run with a checkpoint to resume. */
static int may_be_fresh(const qf_amqp_message_t *m) {
  return !m->redelivered &&
         qf_amqp_message_header(m, "x-qf-handed-on-by") == NULL;
}

static qf__settled_t deliver_one(qf__worker_t *w, qf_amqp_message_t *m,
                                 int fresh) {
  job_t j = {.w = w,
             .m = m,
             .own = m,
             .reply_to = m->reply_to,
             .correlation_id = m->correlation_id,
             .started_ms = qf_clock_now_ms()};
  qf_error_t err;
  qf_request_t *req = NULL;
  /* The broker's count of failed deliveries; on a first delivery the
   * header can only be the publisher's, which counts nothing. */
  long long count =
      m->redelivered ? qf_amqp_message_int_header(m, "x-delivery-count") : 0;
  j.deliveries = count < 0 ? 0 : count > 1000000 ? 1000000 : (int)count;
  j.log = (qf_log_ctx_t){.correlation_id = m->correlation_id,
                         .has_delivery = 1,
                         .delivery_tag = m->delivery_tag,
                         .redelivered = m->redelivered};
  if (m->routing_key && strcmp(m->routing_key, "resume") == 0)
    return qf__worker_resume(&j);
  make_run_id(&j); /* first: a refused request is answered by it too */
  j.log.run_id = j.run_id;
  if (qf_request_parse(m->body, m->body_len, &req, &err) < 0)
    return qf__job_dead_letter(&j, err.message);
  qf_log_info(&j.log, "delivery.received", "%s", req->tool_name);
  qf__settled_t out =
      fresh && may_be_fresh(m) && m->message_id && m->message_id[0]
          ? run_fresh(&j, &req)
          : claim_and_run(&j, &req);
  qf_request_free(req);
  return out;
}

qf__settled_t qf__worker_deliver(qf__worker_t *w, qf_amqp_message_t *m,
                                 int fresh) {
  uint64_t tag = m->delivery_tag;
  qf__worker_inflight_add(w, tag); /* no batch acks it with multiple */
  qf__settled_t out = deliver_one(w, m, fresh);
  qf__worker_inflight_remove(w, tag);
  return out;
}
