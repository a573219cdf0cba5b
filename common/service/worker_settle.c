/* worker_settle.c: the one file that settles a delivery: ack, nack
 * (requeue), publish the results with confirms, dead-letter, re-publish
 * a decided run, and qf__job_fail, which turns an error's class into the
 * settlement. It calls only worker_conn.c below it.
 *
 * Nothing is acked that was not committed and published; a bad request is
 * dead-lettered (with x-qf-error) and acked; our own or the
 * infrastructure's trouble requeues the delivery for a later attempt. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qf/decision.h"
#include "qf/clock.h"
#include "qf/fsutil.h"
#include "qf/log.h"
#include "qf/metrics.h"
#include "qf/utf8.h"
#include "worker_internal.h"

#define PUBLISH_TRIES 3

qf_claim_t qf__job_claim(const job_t *j, const char *request_json,
                         const char *requested_by) {
  return (qf_claim_t){.run_id = j->run_id,
                      .message_id = j->m->message_id,
                      .request_json = request_json,
                      .requested_by = requested_by,
                      .reply_to = j->m->reply_to,
                      .correlation_id = j->m->correlation_id,
                      .worker = j->w->cfg->worker_id,
                      .deliveries = j->deliveries};
}

void qf__job_note_settled(job_t *j, int ack, int requeue) {
  const char *outcome = ack ? "acked" : requeue ? "requeued" : "rejected";
  qf_log_emit(QF_LOG_INFO, &j->log, ack ? "delivery.acked" : "delivery.nacked",
              NULL, 0, "%s", outcome);
  char label[64];
  qf_metrics_label(label, sizeof label, "outcome", outcome);
  qf_metrics_inc(qf_metrics_global(), "qf_deliveries_total", label, 1);
}

qf__settled_t qf__job_settle(job_t *j, int ack, int requeue) {
  qf_error_t err;
  qf_amqp_t *c = j->w->con;
  /* A run given back is given back whole: the next delivery must find
   * no live lease of ours, or it would wait on us forever. */
  if (!ack && j->claimed) {
    (void)qf__worker_lease_release(j->w, j->run_id);
    j->claimed = 0;
  }
  int rc = c == NULL ? QF_EAMQPCONN
           : ack     ? qf_amqp_ack(c, j->m->delivery_tag, &err)
                     : qf_amqp_nack(c, j->m->delivery_tag, requeue, &err);
  if (rc < 0) {
    /* The broker redelivers it: every effect so far is idempotent. */
    qf_log_warn(&j->log, "delivery.settle_failed", "%s",
                c ? err.message : "consumer connection is down");
    return QF__CONN_LOST;
  }
  qf__job_note_settled(j, ack, requeue);
  return ack ? QF__ACKED : QF__REQUEUED;
}

/* Messages nobody subscribed to (no queue bound to qf.evidence, say) are
 * normal in a small deployment: said once per exchange and key, not for
 * every run. */
static void note_unrouted(job_t *j, const qf_amqp_out_t *first, int returned,
                          size_t n) {
  qf__worker_t *w = j->w;
  char key[160];
  const char *ex = first->exchange[0] ? first->exchange : "(default)";
  snprintf(key, sizeof key, "%s/%s", ex, first->routing_key);
  size_t slots = sizeof w->unrouted / sizeof w->unrouted[0], i = 0;
  for (; i < slots && w->unrouted[i][0]; i++)
    if (strcmp(w->unrouted[i], key) == 0) break;
  if (i < slots && w->unrouted[i][0]) { /* said before: counted only */
    char label[200];
    qf_metrics_label(label, sizeof label, "exchange", ex);
    qf_metrics_inc(qf_metrics_global(), "qf_unrouted_publishes_total", label,
                   returned);
    return;
  }
  char label[200];
  qf_metrics_label(label, sizeof label, "exchange", ex);
  qf_metrics_inc(qf_metrics_global(), "qf_unrouted_publishes_total", label,
                 returned);
  if (i < slots) snprintf(w->unrouted[i], sizeof w->unrouted[i], "%s", key);
  qf_log_warn(&j->log, "publish.unrouted",
              "%d of %zu messages (first to %s) reached no queue; further "
              "ones to it are not logged",
              returned, n, key);
}

/* Publishes a batch with its confirms awaited together, reconnecting the
 * publisher and retrying the whole batch after a nack, a timeout or a lost
 * connection (its messages are idempotent for their consumers). A return
 * (no queue bound: nobody subscribed) cannot be fixed by retrying and is
 * only logged; the decision is in PostgreSQL either way. */
static int publish_batch(job_t *j, const qf_amqp_out_t *out, size_t n) {
  qf__worker_t *w = j->w;
  qf_error_t err = {0};
  for (int i = 0; i < PUBLISH_TRIES; i++) {
    int returned = 0, rc = QF_EAMQPCONN;
    if (w->pub == NULL &&
        qf__worker_connect_amqp(w, &w->pub, "qf-worker-publisher", 1, &err) < 0)
      continue;
    int64_t t0 = qf_clock_now_ms();
    rc = qf_amqp_publish_batch(w->pub, out, n, w->cfg->publish_timeout_ms,
                               &returned, &err);
    if (rc == QF_OK)
      qf_metrics_observe(qf_metrics_global(), "qf_publish_confirm_seconds",
                         NULL, (double)(qf_clock_now_ms() - t0) / 1000.0);
    if (rc == QF_OK) {
      if (returned) note_unrouted(j, &out[0], returned, n);
      return QF_OK;
    }
    qf_log_warn(&j->log, "publish.retry", "%s", err.message);
    /* A fresh channel: confirms and returns still due for this batch
     * must not be counted against the next try. */
    qf_amqp_free(w->pub);
    w->pub = NULL;
  }
  return QF_ENACK;
}

static qf_amqp_out_t out_msg(const job_t *j, const char *exchange,
                             const char *key, const char *body,
                             const char *correlation_id) {
  return (qf_amqp_out_t){.exchange = exchange,
                         .routing_key = key,
                         .msg = {.body = body,
                                 .body_len = strlen(body),
                                 .content_type = "application/json",
                                 .message_id = j->run_id,
                                 .correlation_id = correlation_id}};
}

int qf__outbox_publish(job_t *j, const qf__outbox_t *o) {
  return o->n ? publish_batch(j, o->out, o->n) : QF_OK;
}

static int publish(job_t *j, const char *exchange, const char *key,
                   const char *body, const char *correlation_id) {
  qf_amqp_out_t o = out_msg(j, exchange, key, body, correlation_id);
  return publish_batch(j, &o, 1);
}

static void lower(const char *s, char *out, size_t n) {
  size_t i = 0;
  for (; s[i] && i + 1 < n; i++)
    out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
  out[i] = '\0';
}

/* What a submitter's reply queue gets: the decision with the whole
 * evidence document as its "evidence" member (when the run has one), so
 * that CI can keep the evidence without reaching the database or the
 * worker's disk. */
static char *reply_text(const char *msg, const char *ev) {
  size_t n = msg ? strlen(msg) : 0;
  if (n < 2 || msg[n - 1] != '}') return NULL;
  size_t len = n + (ev ? strlen(ev) + 16 : 1);
  char *text = malloc(len);
  if (text && ev)
    snprintf(text, len, "%.*s,\"evidence\":%s}", (int)(n - 1), msg, ev);
  else if (text)
    memcpy(text, msg, n + 1);
  return text;
}

static int outbox_grow(qf__outbox_t *o, size_t more) {
  if (o->n + more > o->cap) {
    size_t cap = (o->n + more) * 2;
    qf_amqp_out_t *p = realloc(o->out, cap * sizeof *p);
    if (p == NULL) return QF_ENOMEM;
    o->out = p;
    o->cap = cap;
  }
  if (o->nowned + 5 > o->capowned) {
    size_t cap = (o->nowned + 5) * 2;
    char **p = realloc(o->owned, cap * sizeof *p);
    if (p == NULL) return QF_ENOMEM;
    o->owned = p;
    o->capowned = cap;
  }
  return QF_OK;
}

void qf__outbox_fini(qf__outbox_t *o) {
  for (size_t i = 0; i < o->nowned; i++)
    free(o->owned[i]);
  free(o->owned);
  free(o->out);
  memset(o, 0, sizeof *o);
}

/* Evidence, decision, the submitter's reply queue and every waiter's
 * (each with its own correlation_id), to be published back to back and
 * confirmed together. msg and ev are borrowed until the publish. */
int qf__outbox_add_text(qf__outbox_t *o, job_t *j, const char *decision,
                        const char *msg, const char *ev, const char *reply_to,
                        const cJSON *waiters, int reply_only) {
  const qf_topology_t *t = &j->w->topo;
  char dec[16], ekey[64], dkey[64];
  lower(decision ? decision : "fail", dec, sizeof dec);
  snprintf(ekey, sizeof ekey, "evidence.%s", dec);
  snprintf(dkey, sizeof dkey, "decision.%s", dec);
  if (outbox_grow(o, 3 + (size_t)cJSON_GetArraySize(waiters)) < 0)
    return QF_ENOMEM;
  if (reply_only) ev = NULL;
  char *reply = reply_text(msg, ev);
  char *ek = strdup(ekey), *dk = strdup(dkey);
  /* Owned from here on, whatever happens: freed by qf__outbox_fini, after
   * the publish that reads them. */
  char *mine[] = {reply, ek, dk};
  for (size_t i = 0; i < 3; i++)
    o->owned[o->nowned++] = mine[i];
  if (msg == NULL || reply == NULL || ek == NULL || dk == NULL)
    return QF_ENOMEM;
  if (ev) o->out[o->n++] = out_msg(j, t->evidence, ek, ev, j->correlation_id);
  if (!reply_only)
    o->out[o->n++] = out_msg(j, t->decisions, dk, msg, j->correlation_id);
  if (reply_to && reply_to[0])
    o->out[o->n++] = out_msg(j, "", reply_to, reply, j->correlation_id);
  const cJSON *wt;
  cJSON_ArrayForEach(wt, waiters) {
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(wt, "reply_to");
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(wt, "correlation_id");
    /* The run's own reply_to leads the waiters: sent once. */
    if (cJSON_IsString(to) && to->valuestring[0] &&
        !(reply_to && strcmp(reply_to, to->valuestring) == 0))
      o->out[o->n++] = out_msg(j, "", to->valuestring, reply,
                               cJSON_IsString(cid) ? cid->valuestring : NULL);
  }
  return QF_OK;
}

int qf__outbox_add(qf__outbox_t *o, job_t *j, const cJSON *message,
                   const cJSON *evidence, const char *reply_to,
                   const cJSON *waiters, int reply_only) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(message, "decision");
  if (outbox_grow(o, 0) < 0) return QF_ENOMEM;
  char *msg = message ? cJSON_PrintUnformatted(message) : NULL;
  char *ev = evidence && !reply_only ? cJSON_PrintUnformatted(evidence) : NULL;
  o->owned[o->nowned++] = msg;
  o->owned[o->nowned++] = ev;
  if (msg == NULL || (evidence && !reply_only && ev == NULL)) return QF_ENOMEM;
  return qf__outbox_add_text(o, j, cJSON_IsString(d) ? d->valuestring : NULL,
                             msg, ev, reply_to, waiters, reply_only);
}

/* The folder of path into dir (size n): its last part, or NULL when it
 * has no folder or it does not fit. */
static const char *split_path(const char *path, char *dir, size_t n) {
  const char *slash = path ? strrchr(path, '/') : NULL;
  if (slash == NULL || (size_t)(slash - path) >= n) return NULL;
  snprintf(dir, n, "%.*s", (int)(slash - path), path);
  return slash + 1;
}

/* The folder of a run's evidence file: what a writer killed before its
 * rename left there goes (the run is ours now: no live writer can still
 * put its file in place). */
static void remove_temps(const char *evidence_path) {
  char dir[PATH_MAX];
  const char *name = split_path(evidence_path, dir, sizeof dir);
  if (name) (void)qf_fs_remove_temps(dir, name);
}

void qf__owed_place(job_t *j, qf_fs_owed_t *owed) {
  qf_error_t err;
  if (qf_fs_owed_place(owed, &err) < 0)
    qf_log_error(&j->log, "evidence.place_failed",
                 "%s (the evidence is in the database)", err.message);
}

void qf__pay_owed(job_t *j, qf_fs_owed_t *owed, const char *path) {
  remove_temps(path);
  qf__owed_place(j, owed);
  if (owed->owing) (void)qf_fs_owed_sync(&owed, 1);
  qf__owed_report(j, owed);
}

void qf__owed_report(job_t *j, qf_fs_owed_t *owed) {
  if (owed->sync_errno == 0) return;
  qf_log_error(&j->log, "evidence.sync_failed",
               "evidence.json: fsync: %s (the evidence is in the database)",
               strerror(owed->sync_errno));
  owed->sync_errno = 0;
}

int qf__job_announce(job_t *j, const cJSON *message, const cJSON *evidence,
                     const char *reply_to, const cJSON *waiters,
                     int reply_only) {
  qf__outbox_t o = {0};
  int rc =
      qf__outbox_add(&o, j, message, evidence, reply_to, waiters, reply_only);
  if (rc == QF_OK) rc = qf__outbox_publish(j, &o);
  qf__outbox_fini(&o);
  return rc;
}

void qf__job_count_decision(job_t *j, const char *decision,
                            const char *decided_by) {
  char label[128], a[64], b[64];
  qf_metrics_label(a, sizeof a, "decision", decision);
  qf_metrics_label(b, sizeof b, "decided_by", decided_by);
  snprintf(label, sizeof label, "%s,%s", a, b);
  qf_metrics_inc(qf_metrics_global(), "qf_decisions_total", label, 1);
  qf_metrics_observe(qf_metrics_global(), "qf_run_duration_seconds", a,
                     (double)(qf_clock_now_ms() - j->started_ms) / 1000.0);
}

int qf__job_progress(job_t *j, const char *node) {
  const char *to = j->reply_to;
  if (to == NULL || to[0] == '\0') return QF_OK;
  cJSON *o = cJSON_CreateObject(), *p = NULL;
  char *text = NULL;
  if (o && cJSON_AddStringToObject(o, "run_id", j->run_id) &&
      (p = cJSON_AddObjectToObject(o, "progress")) != NULL &&
      cJSON_AddStringToObject(p, "state", "running") &&
      cJSON_AddStringToObject(p, "node", node) &&
      cJSON_AddStringToObject(p, "worker", j->w->cfg->worker_id))
    text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  int rc = text ? publish(j, "", to, text, j->correlation_id) : QF_ENOMEM;
  cJSON_free(text);
  return rc;
}

int qf__job_end(job_t *j, const char *decided_by, const char *why) {
  qf_error_t err;
  cJSON *msg = NULL;
  qf_run_row_t row = {0};
  int refused = strcmp(decided_by, "refused") == 0;
  int rc = refused ? qf_decision_refusal_message(j->run_id, why,
                                                 j->correlation_id, &msg, &err)
                   : qf_decision_error_message(j->run_id, why,
                                               j->correlation_id, &msg, &err);
  qf_end_t e = {j->run_id, decided_by, why, msg, 1};
  if (rc == QF_OK)
    rc = j->w->store ? qf_store_end_run(j->w->store, &e, &row, &err)
                     : QF_EDBCONN;
  if (rc == QF_OK) {
    j->claimed = 0; /* ended: nothing left to give back */
    qf__job_count_decision(j, "FAIL", decided_by);
    qf_log_warn(&j->log, refused ? "run.refused" : "run.error", "FAIL: %s",
                why);
    /* A refused request never ran: the decisions exchange speaks of runs
     * that did, so only its submitters hear of it. */
    rc = qf__job_announce(j, row.decision_message, NULL,
                          j->reply_to ? j->reply_to : row.reply_to, row.waiters,
                          refused);
  } else {
    qf_log_warn(&j->log, "run.end_failed", "%s",
                j->w->store ? err.message : "no database connection");
  }
  qf_run_row_fini(&row);
  cJSON_Delete(msg);
  return rc;
}

/* A request that is never run still gets an answer: its reply_to (when
 * it has one, and a message_id to name the run by) receives a final FAIL
 * decided_by refused with the reason. Only the reply_to: the decisions
 * exchange speaks of runs, and this one never ran. */
static int reply_refused(job_t *j, const char *why) {
  const char *to = j->m->reply_to, *mid = j->m->message_id;
  cJSON *msg = NULL;
  char *text = NULL;
  if (to == NULL || to[0] == '\0' || mid == NULL || mid[0] == '\0' ||
      j->run_id[0] == '\0')
    return QF_OK;
  int rc = qf_decision_refusal_message(j->run_id, why, j->m->correlation_id,
                                       &msg, NULL);
  if (rc == QF_OK && (text = cJSON_PrintUnformatted(msg)) == NULL)
    rc = QF_ENOMEM;
  if (rc == QF_OK) rc = publish(j, "", to, text, j->correlation_id);
  cJSON_free(text);
  cJSON_Delete(msg);
  return rc;
}

/* A request that cannot be run goes to the dead-letter exchange with the
 * first problem in x-qf-error, and is acked: it is never run, never lost. */
/* The whole message (every property and header) goes to the dead-letter
 * exchange, so that it can be recovered and replayed as it was sent;
 * then the delivery is acked. */
static qf__settled_t to_dead(job_t *j, const char *why) {
  qf__worker_t *w = j->w;
  qf_error_t err;
  qf_metrics_inc(qf_metrics_global(), "qf_dead_letters_total", NULL, 1);
  qf_amqp_header_t h[] = {{"x-qf-error", why},
                          {"x-qf-original-routing-key", j->m->routing_key}};
  if (w->pub == NULL ||
      qf_amqp_republish(w->pub, w->topo.dead, "", j->m, h, 2,
                        w->cfg->publish_timeout_ms, &err) < 0) {
    qf_amqp_free(w->pub);
    w->pub = NULL;
    return qf__job_settle(j, 0, 1); /* try again later rather than lose it */
  }
  return qf__job_settle(j, 1, 0);
}

/* A fresh run refused on the way (a typo'd workspace) had no claim yet:
 * it is claimed now, so that it ends refused in PostgreSQL like any
 * other. A run that exists already is left as it is. */
static void claim_refused(job_t *j) {
  qf_error_t err;
  qf_run_row_t row = {0};
  int created = 0;
  qf_claim_t c = qf__job_claim(j, j->request_json, j->requested_by);
  if (!j->fresh || j->claimed || j->request_json == NULL || j->w->store == NULL)
    return;
  if (qf_store_claim(j->w->store, &c, &row, &created, &err) == QF_OK)
    j->claimed = created;
  qf_run_row_fini(&row);
}

qf__settled_t qf__job_dead_letter(job_t *j, const char *why) {
  qf_log_warn(&j->log, "delivery.invalid", "%s", why);
  claim_refused(j);
  /* A claimed run ends refused in PostgreSQL too, so that a re-sent copy
   * gets the same answer and no run is left unfinished. */
  int rc = j->claimed ? qf__job_end(j, "refused", why) : reply_refused(j, why);
  if (rc < 0)
    return qf__job_settle(j, 0, 1); /* the submitter must get its answer */
  return to_dead(j, why);
}

/* Infrastructure failed mid-delivery (database, broker, a timeout, a
 * stop): whatever the database was doing rolled back. Restore the
 * database connection (serving AMQP meanwhile), then requeue. */
static qf__settled_t infra_failure(job_t *j, int rc, const char *what) {
  int db = rc == QF_EDB || rc == QF_EDBCONN;
  qf_log_warn(&j->log, db ? "db.failed" : "delivery.retry",
              "%s; requeueing after reconnect", what);
  (void)qf__worker_restore_db(j->w);
  return qf__job_settle(j, 0, 1);
}

/* A run cut off by a graceful stop is handed on: the request goes back to
 * the queue as a new message, whole (its checkpoint is in PostgreSQL, so
 * the next worker resumes it), and this delivery is acked. A drain is not
 * a failure: it must not spend one of the queue's delivery attempts, or a
 * few rolling restarts would dead-letter a valid run. */
static qf__settled_t hand_on(job_t *j) {
  qf__worker_t *w = j->w;
  qf_error_t err;
  /* A new message: the broker's count of this one's failed deliveries
   * must not follow it (none of them failed for a drain). */
  qf_amqp_header_t h[] = {{"x-qf-handed-on-by", w->cfg->worker_id},
                          {"x-delivery-count", NULL}};
  const char *key = j->m->routing_key ? j->m->routing_key : "run";
  /* The copy must find the run free: a live lease of ours would make its
   * delivery wait on us, and we are leaving. */
  if (j->claimed && qf__worker_lease_release(w, j->run_id) < 0)
    return qf__job_settle(j, 0, 1);
  j->claimed = 0;
  if (w->pub == NULL ||
      qf_amqp_republish(w->pub, w->topo.requests, key, j->m, h, 2,
                        w->cfg->publish_timeout_ms, &err) < 0) {
    qf_log_warn(&j->log, "delivery.hand_on_failed", "%s; requeueing",
                w->pub ? err.message : "no publisher connection");
    return qf__job_settle(j, 0, 1);
  }
  qf_log_info(&j->log, "delivery.handed_on",
              "stopping: the run goes on from its checkpoint elsewhere");
  return qf__job_settle(j, 1, 0);
}

/* The last delivery the queue allows (x-delivery-count at the limit): a
 * requeue would dead-letter it and leave its run unfinished, so the run
 * ends here, FAIL by error, and the request is dead-lettered with why. */
static int last_delivery(const job_t *j) {
  return j->claimed && j->deliveries >= j->w->cfg->delivery_limit;
}

static qf__settled_t give_up(job_t *j, int rc, const char *what) {
  char why[1024];
  if (rc == QF_ENOSOURCE)
    qf_utf8_snprintf(why, sizeof why, "the source cannot be checked out: %s",
                     what);
  else
    qf_utf8_snprintf(why, sizeof why,
                     "the run could not finish: %s (%s) on its last "
                     "delivery attempt of %d",
                     what, qf_err_name(rc), j->w->cfg->delivery_limit + 1);
  if (qf_err_class(rc) == QF_ERRC_INFRA) (void)qf__worker_restore_db(j->w);
  /* Ended (claimed cleared) but not announced: the decision is stored and
   * a re-send republishes it; a requeue now would only be dropped by the
   * broker. */
  if (qf__job_end(j, "error", why) < 0 && j->claimed)
    return qf__job_settle(j, 0, 1);
  return to_dead(j, why);
}

qf__settled_t qf__job_fail(job_t *j, int rc, const char *what) {
  if (rc == QF_ECANCELED && *j->w->signals) return hand_on(j);
  /* A commit or ref the repository does not have will not appear by
   * trying again: the run ends now, FAIL by error, with why. */
  if (qf_err_class(rc) != QF_ERRC_INPUT &&
      (last_delivery(j) || (rc == QF_ENOSOURCE && j->claimed)))
    return give_up(j, rc, what);
  switch (qf_err_class(rc)) {
    case QF_ERRC_INPUT: /* the request cannot be run: never retried */
      return qf__job_dead_letter(j, what);
    case QF_ERRC_INFRA:
      return infra_failure(j, rc, what);
    default: /* our own trouble: another try, on this or another worker */
      qf_log_warn(&j->log, "delivery.failed", "%s: %s; requeueing",
                  qf_err_name(rc), what);
      return qf__job_settle(j, 0, 1);
  }
}

/* A worker that died between its commit and putting its evidence file
 * in place (or before the file's fsyncs) may have left no file, or an
 * empty one: the stored evidence is written there again before it is
 * re-published. */
static void restore_evidence_file(job_t *j, const qf_run_row_t *row) {
  struct stat st;
  const char *path = row->evidence_path;
  if (path == NULL || row->evidence == NULL ||
      (stat(path, &st) == 0 && st.st_size > 0))
    return;
  char dir[PATH_MAX];
  const char *name = split_path(path, dir, sizeof dir);
  char *text = cJSON_PrintUnformatted(row->evidence);
  qf_error_t err = {0};
  int rc = name && text
               ? qf_fs_write_atomic(dir, name, text, strlen(text), &err)
               : qf_error_set(&err, QF_EINVAL, "%s: cannot be restored", path);
  cJSON_free(text);
  remove_temps(path);
  if (rc == QF_OK)
    qf_log_warn(&j->log, "evidence.restored",
                "%s: written again from the database", path);
  else
    qf_log_error(&j->log, "evidence.restore_failed", "%s", err.message);
}

qf__settled_t qf__job_republish(job_t *j, const qf_run_row_t *row) {
  qf_log_info(&j->log, "run.republish",
              "already decided: re-publishing the stored messages");
  restore_evidence_file(j, row);
  if (qf__job_announce(j, row->decision_message, row->evidence,
                       j->reply_to ? j->reply_to : row->reply_to, row->waiters,
                       0) < 0)
    return qf__job_settle(j, 0, 1);
  return qf__job_settle(j, 1, 0);
}
