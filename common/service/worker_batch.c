/* worker_batch.c: runs decided without a tool (dry runs, refusals, runs
 * parked for a human before or without execute), settled together.
 *
 * A fresh delivery whose run needs no tool is held here once decided; the
 * worker flushes the batch when it holds QF_PREFETCH runs, when no other
 * delivery is waiting, before a tool runs, and before it stops. A flush:
 *
 *   one transaction records every run (qf_store_record_commit) ->
 *   one publish of all their messages, confirms awaited together ->
 *   one basic.ack with multiple for the leading runs, single acks after
 *
 * in that order, so the delivery guarantees of a single run hold for each:
 * nothing is acked that is not committed and confirmed; a worker killed
 * anywhere in between leaves deliveries the broker gives again, whose runs
 * are then either absent (decided afresh) or recorded (re-published). */
#include <stdlib.h>
#include <string.h>

#include "qf/clock.h"
#include "qf/log.h"
#include "qf/metrics.h"
#include "worker_internal.h"

typedef struct qf__held {
  qf_amqp_message_t m; /* the delivery, owned */
  job_t j;             /* j.m is &m */
  qf_record_t rec;
  qf_fs_owed_t owed; /* the evidence file's fsyncs */
  char decision[16], decided_by[16];
  struct qf__held *next; /* on the redo list */
} qf__held_t;

static void held_free(qf__held_t *h) {
  if (h == NULL) return;
  qf_amqp_message_fini(&h->m);
  qf_store_record_fini(&h->rec);
  qf_fs_owed_drop(&h->owed);
  free(h->j.request_json);
  free(h);
}

/* Moves the job and its message into h; the job's pointers into itself
 * and into the message follow. */
static void take_job(qf__held_t *h, job_t *j) {
  h->m = *j->own;
  memset(j->own, 0, sizeof *j->own);
  h->j = *j;
  h->j.m = &h->m;
  h->j.own = NULL;
  h->j.node_ms = NULL; /* the caller's, freed by it */
  h->j.found = NULL;
  h->j.request_json = j->request_json;
  j->request_json = NULL;
  h->j.reply_to = h->m.reply_to;
  h->j.correlation_id = h->m.correlation_id;
  h->j.log.correlation_id = h->m.correlation_id;
  h->j.log.run_id = h->j.run_id;
}

qf__settled_t qf__batch_hold(job_t *j, const qf_finish_t *f,
                             qf_fs_owed_t *owed) {
  qf_error_t err;
  qf__batch_t *b = &j->w->batch;
  qf_claim_t c = qf__job_claim(j, j->request_json, f->requested_by);
  qf__held_t *h = calloc(1, sizeof *h);
  int rc = h ? qf_store_record_prepare(&c, f, &h->rec, &err)
             : qf_error_set(&err, QF_ENOMEM, "out of memory");
  if (rc < 0 || j->own == NULL || b->n >= QF_STORE_RECORD_MAX) {
    held_free(h);
    return qf__job_fail(j, rc < 0 ? rc : QF_EINTERNAL,
                        rc < 0 ? err.message : "the batch cannot hold it");
  }
  snprintf(h->decision, sizeof h->decision, "%s", f->decision);
  snprintf(h->decided_by, sizeof h->decided_by, "%s", f->decided_by);
  take_job(h, j);
  h->owed = *owed;
  memset(owed, 0, sizeof *owed);
  b->items[b->n++] = h;
  return QF__HELD;
}

/* The batch could not be recorded or published: each delivery goes back
 * (by its error's class, as for a single run). */
static qf__settled_t fail_all(qf__held_t **items, size_t n, int rc,
                              const char *why) {
  qf__settled_t out = QF__ACKED;
  for (size_t i = 0; i < n; i++)
    if (qf__job_fail(&items[i]->j, rc, why) == QF__CONN_LOST)
      out = QF__CONN_LOST;
  return out;
}

static void say_decided(qf__held_t *h) {
  qf_log_field_t lf[] = {QF_LOG_STR("decision", h->decision),
                         QF_LOG_STR("decided_by", h->decided_by)};
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(h->rec.message, "reason");
  qf_log_emit(QF_LOG_INFO, &h->j.log, "run.decided", lf, 2, "%s: %s",
              h->decision, cJSON_IsString(r) ? r->valuestring : "");
  qf__job_count_decision(&h->j, h->decision, h->decided_by);
}

static int by_tag(const void *a, const void *b) {
  uint64_t x = (*(qf__held_t *const *)a)->m.delivery_tag;
  uint64_t y = (*(qf__held_t *const *)b)->m.delivery_tag;
  return x < y ? -1 : x > y;
}

/* How many of the recorded runs (in tag order) one basic.ack multiple may
 * settle: those below every delivery of the channel not settled yet (one
 * being worked on, one on the redo list). */
static size_t ack_lead(const qf__worker_t *w, qf__held_t **done, size_t n) {
  uint64_t bound = qf__worker_inflight_min(w);
  for (const qf__held_t *h = w->batch.redo; h; h = h->next)
    if (h->m.delivery_tag < bound) bound = h->m.delivery_tag;
  size_t lead = 0;
  while (lead < n && done[lead]->m.delivery_tag < bound)
    lead++;
  return lead;
}

/* Acks the recorded runs: the leading ones with one basic.ack multiple,
 * the others one by one. */
static qf__settled_t ack_all(qf__worker_t *w, qf__held_t **done, size_t n) {
  qf_error_t err;
  size_t i = 0, lead = ack_lead(w, done, n);
  if (lead >= 2) {
    if (w->con == NULL ||
        qf_amqp_ack_upto(w->con, done[lead - 1]->m.delivery_tag, &err) < 0) {
      qf_log_warn(&done[0]->j.log, "delivery.settle_failed", "%s",
                  w->con ? err.message : "consumer connection is down");
      return QF__CONN_LOST;
    }
    for (; i < lead; i++)
      qf__job_note_settled(&done[i]->j, 1, 0);
  }
  for (; i < n; i++)
    if (qf__job_settle(&done[i]->j, 1, 0) == QF__CONN_LOST)
      return QF__CONN_LOST;
  return QF__ACKED;
}

/* Publishes every recorded run's messages at once, then acks them. */
static qf__settled_t announce_all(qf__worker_t *w, qf__held_t **done,
                                  size_t n) {
  qf__outbox_t o = {0};
  int rc = QF_OK;
  for (size_t i = 0; rc == QF_OK && i < n; i++)
    rc = qf__outbox_add_text(&o, &done[i]->j, done[i]->decision,
                             qf_store_record_message(&done[i]->rec),
                             qf_store_record_evidence(&done[i]->rec),
                             done[i]->j.reply_to, NULL, 0);
  if (rc == QF_OK) rc = qf__outbox_publish(&done[0]->j, &o);
  qf__outbox_fini(&o);
  /* Recorded but not confirmed: redelivered, the runs are re-published. */
  if (rc < 0) return fail_all(done, n, QF_ENACK, "publish not confirmed");
  for (size_t i = 0; i < n; i++)
    say_decided(done[i]);
  return ack_all(w, done, n);
}

static void to_redo(qf__batch_t *b, qf__held_t *h) {
  qf__held_t **p = &b->redo;
  while (*p)
    p = &(*p)->next;
  *p = h;
}

typedef struct {
  qf__held_t **items;
  size_t n;
} owed_t;

/* The evidence files' fsyncs, side by side; a failure is said per run. */
static void sync_files(qf__held_t **items, size_t n) {
  qf_fs_owed_t *owed[QF_STORE_RECORD_MAX];
  if (n == 0 || n > QF_STORE_RECORD_MAX) return;
  for (size_t i = 0; i < n; i++)
    owed[i] = &items[i]->owed;
  if (qf_fs_owed_sync(owed, n) == 0) return;
  for (size_t i = 0; i < n; i++)
    qf__owed_report(&items[i]->j, owed[i]);
}

/* While the batch's transaction is on the wire, its evidence files (not
 * in place yet) are made durable together, overlapping the commit. */
static void pay_all(void *ctx) {
  owed_t *o = ctx;
  sync_files(o->items, o->n);
}

/* The runs recorded: their files go in place (and their folders are
 * synced) before anything is published. A run another delivery recorded
 * keeps its own file: this one's is removed with the held run. */
static void place_files(qf__held_t **done, size_t n) {
  for (size_t i = 0; i < n; i++)
    qf__owed_place(&done[i]->j, &done[i]->owed);
  sync_files(done, n);
}

/* The runs of a batch recorded: each one this batch inserted is put out
 * (files in place, messages, acks); one another delivery had made goes to
 * the redo list, to be claimed the usual way. */
static qf__settled_t settle_recorded(qf__worker_t *w, qf__held_t **items,
                                     size_t n) {
  qf__held_t *done[QF_STORE_RECORD_MAX];
  size_t ndone = 0;
  qf__settled_t out = QF__ACKED;
  for (size_t i = 0; i < n; i++) {
    if (items[i]->rec.inserted)
      done[ndone++] = items[i];
    else
      to_redo(&w->batch, items[i]);
  }
  qsort(done, ndone, sizeof done[0], by_tag);
  place_files(done, ndone);
  if (ndone) out = announce_all(w, done, ndone);
  for (size_t i = 0; i < ndone; i++)
    held_free(done[i]);
  return out;
}

qf__settled_t qf__batch_flush(qf__worker_t *w) {
  qf__batch_t *b = &w->batch;
  size_t n = b->n;
  if (n == 0) return QF__ACKED;
  qf_error_t err;
  qf_record_t *recs[QF_STORE_RECORD_MAX];
  qf__held_t *items[QF_STORE_RECORD_MAX];
  /* The batch is empty from here on: a failure below may wait out an
   * outage with the worker's lock let go, and other runs then fill the
   * batch anew. */
  memcpy(items, b->items, n * sizeof items[0]);
  b->n = 0;
  for (size_t i = 0; i < n; i++)
    recs[i] = &items[i]->rec;
  int64_t t0 = qf_clock_now_ms();
  owed_t o = {items, n};
  int rc = w->store
               ? qf_store_record_commit(w->store, recs, n, pay_all, &o, &err)
               : qf_error_set(&err, QF_EDBCONN, "no database connection");
  if (rc == QF_OK) {
    qf_metrics_observe(qf_metrics_global(), "qf_db_commit_seconds", NULL,
                       (double)(qf_clock_now_ms() - t0) / 1000.0);
    qf_metrics_inc(qf_metrics_global(), "qf_batch_runs_total", NULL, (double)n);
    return settle_recorded(w, items, n);
  }
  qf__settled_t out = fail_all(items, n, rc, err.message);
  for (size_t i = 0; i < n; i++)
    held_free(items[i]);
  return out;
}

qf_amqp_message_t *qf__batch_next_redo(qf__worker_t *w) {
  qf__held_t *h = w->batch.redo;
  if (h == NULL) return NULL;
  w->batch.redo = h->next;
  qf_amqp_message_t *m = malloc(sizeof *m);
  if (m) {
    *m = h->m;
    memset(&h->m, 0, sizeof h->m);
  }
  held_free(h);
  return m;
}

void qf__batch_drop(qf__worker_t *w) {
  qf__batch_t *b = &w->batch;
  for (size_t i = 0; i < b->n; i++)
    held_free(b->items[i]);
  b->n = 0;
  while (b->redo) {
    qf__held_t *h = b->redo;
    b->redo = h->next;
    held_free(h);
  }
}
