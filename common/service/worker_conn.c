/* worker_conn.c: the worker's three connections (consumer, publisher,
 * database): connecting, serving them while a tool runs (renewing the
 * run's lease there), reconnecting with backoff, and the stop deadline
 * after SIGTERM. It calls nothing above it: the loop (worker.c) and the
 * delivery files use it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qf/backoff.h"
#include "qf/clock.h"
#include "qf/exec.h"
#include "qf/log.h"
#include "qf/metrics.h"
#include "qf/migrate.h"
#include "worker_internal.h"

/* ---------------------------------------------------------------- lease */

static int64_t lease_ms(const qf__worker_t *w) {
  return (int64_t)w->cfg->lease_s * 1000;
}

/* A renewal keeps the lease until lease_s from now; we stop trusting it a
 * little earlier, so that our tool is stopped before anyone may take the
 * run over (clocks of the database and of this machine differ). */
static void lease_renewed(qf__worker_t *w, qf__lease_t *l) {
  int64_t now = qf_clock_now_ms(), margin = lease_ms(w) / 4;
  l->renew_at_ms = now + lease_ms(w) / 3;
  l->valid_until_ms = now + lease_ms(w) - (margin < 2000 ? margin : 2000);
}

void qf__worker_lease_begin(qf__worker_t *w, qf__lease_t *l,
                            const char *run_id) {
  qf__worker_lease_end(w, l); /* a lease begun twice is held once */
  snprintf(l->run_id, sizeof l->run_id, "%s", run_id);
  lease_renewed(w, l);
  if (w->nleases < sizeof w->leases / sizeof w->leases[0])
    w->leases[w->nleases++] = l;
}

void qf__worker_lease_end(qf__worker_t *w, qf__lease_t *l) {
  for (size_t i = 0; i < w->nleases; i++)
    if (w->leases[i] == l) {
      w->leases[i] = w->leases[--w->nleases];
      break;
    }
  memset(l, 0, sizeof *l);
}

int qf__worker_lease_held(const qf__worker_t *w, const char *run_id) {
  for (size_t i = 0; i < w->nleases; i++)
    if (strcmp(w->leases[i]->run_id, run_id) == 0) return 1;
  return 0;
}

int qf__worker_lease_release(qf__worker_t *w, const char *run_id) {
  qf_error_t err;
  int rc =
      w->store ? qf_store_release_lease(w->store, run_id, &err) : QF_EDBCONN;
  if (rc < 0)
    qf_log_warn(NULL, "lease.release_failed", "run %s: %s", run_id,
                w->store ? err.message : "no database connection");
  return rc;
}

void qf__worker_on_tool_start(qf__worker_t *w, qf__lease_t *l, int pgid,
                              const char *cgroup) {
  l->tool.pgid = pgid;
  snprintf(l->tool.cgroup, sizeof l->tool.cgroup, "%s", cgroup ? cgroup : "");
  l->tool.started = qf_exec_start_time(pgid);
  snprintf(l->tool.host, sizeof l->tool.host, "%s", w->host_id);
  l->tool_dirty = 1;
  l->renew_at_ms = 0; /* record it at the next tick */
}

/* Renews the lease when due; sets l->lost once it is lost (its tool must
 * stop: another owner may run it now). */
static void lease_tick(qf__worker_t *w, qf__lease_t *l) {
  qf_error_t err;
  if (l->run_id[0] == '\0' || l->lost) return;
  int64_t now = qf_clock_now_ms();
  if (now < l->renew_at_ms) return;
  int rc = w->store
               ? qf_store_renew_lease(w->store, l->run_id,
                                      l->tool_dirty ? &l->tool : NULL, &err)
               : QF_EDBCONN;
  qf_log_ctx_t lc = {.run_id = l->run_id};
  if (rc == QF_OK) {
    l->tool_dirty = 0;
    lease_renewed(w, l);
  } else if (rc == QF_ECONFLICT) {
    l->lost = 1;
    qf_log_warn(&lc, "lease.lost", "%s: stopping the tool", err.message);
  } else if (now > l->valid_until_ms) {
    l->lost = 1;
    qf_log_warn(&lc, "lease.lost",
                "not renewed in time (%s): stopping the tool before another "
                "worker may take the run over",
                w->store ? err.message : "no database connection");
  } else {
    l->renew_at_ms = now + 1000;
    qf_log_warn(&lc, "lease.renew_failed", "%s; trying again",
                w->store ? err.message : "no database connection");
  }
}

/* ------------------------------------------------------ threads, tags */

void qf__worker_lock(qf__worker_t *w) {
  if (w->threaded) pthread_mutex_lock(&w->gil);
}

void qf__worker_unlock(qf__worker_t *w) {
  if (w->threaded) pthread_mutex_unlock(&w->gil);
}

void qf__worker_inflight_add(qf__worker_t *w, uint64_t tag) {
  if (w->ninflight < sizeof w->inflight / sizeof w->inflight[0])
    w->inflight[w->ninflight++] = tag;
}

void qf__worker_inflight_remove(qf__worker_t *w, uint64_t tag) {
  for (size_t i = 0; i < w->ninflight; i++)
    if (w->inflight[i] == tag) {
      w->inflight[i] = w->inflight[--w->ninflight];
      return;
    }
}

uint64_t qf__worker_inflight_min(const qf__worker_t *w) {
  uint64_t min = UINT64_MAX;
  for (size_t i = 0; i < w->ninflight; i++)
    if (w->inflight[i] < min) min = w->inflight[i];
  return min;
}

void qf__worker_kill_previous(const qf_log_ctx_t *log,
                              const qf_tool_trace_t *t) {
  qf_error_t err;
  int killed = 0;
  if (t == NULL || (t->pgid <= 0 && t->cgroup[0] == '\0')) return;
  qf_log_field_t f[] = {QF_LOG_INT("pgid", t->pgid),
                        QF_LOG_STR("host", t->host)};
  int rc = qf_exec_kill_leftover(t->pgid, t->cgroup, t->host, t->started, 5000,
                                 &killed, &err);
  if (rc < 0)
    qf_log_emit(QF_LOG_ERROR, log, "run.leftover_alive", f, 2, "%s",
                err.message);
  else if (killed)
    qf_log_emit(QF_LOG_WARN, log, "run.leftover_killed", f, 2,
                "killed the tool a previous owner left running");
}

/* ----------------------------------------------------------- connections */

static int must_stop_now(qf__worker_t *w) {
  if (*w->signals >= 2) return 1;
  return *w->signals == 1 && w->stop_deadline_ms > 0 &&
         qf_clock_now_ms() > w->stop_deadline_ms;
}

/* A consumer that stays down while a tool runs is noticed at every tick:
 * said once, then every 30 s with how many times since. */
void qf__worker_consumer_lost(qf__worker_t *w, const char *why) {
  long held = 0;
  if (!qf_log_limit(&w->consumer_lost, qf_clock_now_ms(), 30000, &held)) return;
  qf_log_field_t f[] = {QF_LOG_INT("repeated", held)};
  qf_log_emit(QF_LOG_WARN, NULL, "amqp.consumer_lost", f, held ? 1 : 0, "%s",
              why);
}

void qf__worker_note_drain(qf__worker_t *w) {
  if (!*w->signals || w->draining) return;
  w->draining = 1;
  qf_log_field_t f[] = {QF_LOG_INT("grace_s", w->cfg->shutdown_grace_s)};
  qf_log_emit(QF_LOG_INFO, NULL, "worker.drain", f, 1,
              "stopping: no new deliveries; the current run has %d s to "
              "finish",
              w->cfg->shutdown_grace_s);
}

int qf__worker_tick(void *worker) {
  qf__worker_t *w = worker;
  qf_error_t err;
  qf_health_beat(); /* a tool running is the loop alive */
  if (*w->signals && w->stop_deadline_ms == 0)
    w->stop_deadline_ms =
        qf_clock_now_ms() + (int64_t)w->cfg->shutdown_grace_s * 1000;
  /* librabbitmq does nothing in the background: without this a long tool
   * run loses both connections to missed heartbeats. A lost connection
   * is noticed here and dealt with after the run (its delivery is then
   * redelivered by the broker; the run's effects are idempotent). */
  /* A lost consumer does not stop the tool: the lease (in PostgreSQL)
   * is still ours, and a tool that finishes while the broker is away
   * saves its checkpoint, so the redelivery resumes after it instead of
   * running it again. Whoever takes the run over makes our next renewal
   * fail, and that stops the tool. */
  if (w->con && qf_amqp_service(w->con, &err) < 0)
    qf__worker_consumer_lost(w, err.message);
  qf__worker_note_drain(w);
  if (w->pub && qf_amqp_service(w->pub, &err) < 0) {
    qf_amqp_free(w->pub);
    w->pub = NULL;
  }
  for (size_t i = 0; i < w->nleases; i++)
    lease_tick(w, w->leases[i]);
  return must_stop_now(w);
}

/* Sleeps for the backoff of the current failure count, in slices so that
 * signals are noticed and the connections stay served. */
void qf__worker_backoff(qf__worker_t *w) {
  int64_t ms = qf_backoff_delay_ms(w->failures, w->cfg->max_backoff_s);
  w->failures++;
  qf_log_info(NULL, "worker.backoff", "reconnecting in %lld ms (attempt %d)",
              (long long)ms, w->failures);
  int64_t until = qf_clock_now_ms() + ms;
  while (!*w->signals && qf_clock_now_ms() < until) {
    struct timespec ts = {0, 100 * 1000000L};
    qf__worker_unlock(w); /* other runs go on meanwhile */
    nanosleep(&ts, NULL);
    qf__worker_lock(w);
    qf_health_beat(); /* waiting out an outage is the loop alive */
    if (w->con) (void)qf__worker_tick(w);
  }
}

/* Opens the database with our lease settings, once it is sure to have
 * the schema this qf was built for. */
static int open_store(qf__worker_t *w, qf_error_t *err) {
  int rc = qf_store_open(w->cfg->database_url, "qf-worker", &w->store, err);
  if (rc == QF_OK)
    rc =
        qf_migrate_check_version(qf_store_db(w->store), QF_SCHEMA_VERSION, err);
  if (rc == QF_OK && (rc = qf_store_set_lease(w->store, w->cfg->worker_id,
                                              w->cfg->lease_s)) < 0)
    rc = qf_error_set(err, rc, "the lease settings were refused");
  if (rc < 0 && w->store) {
    qf_store_close(w->store);
    w->store = NULL;
  }
  return rc;
}

int qf__worker_restore_db(qf__worker_t *w) {
  qf_error_t err;
  while (!must_stop_now(w)) {
    if (w->store && qf_store_reconnect(w->store, &err) == QF_OK) return QF_OK;
    if (w->store == NULL && open_store(w, &err) == QF_OK) return QF_OK;
    qf_log_warn(NULL, "db.unavailable", "%s", err.message);
    qf__worker_backoff(w);
  }
  return QF_ECANCELED;
}

int qf__worker_connect_amqp(qf__worker_t *w, qf_amqp_t **c, const char *name,
                            int confirm, qf_error_t *err) {
  /* Named after the worker (host:pid), so that an operator can tell the
   * replicas' connections apart in the broker. */
  char full[QF_WORKER_NAME_MAX + 320];
  snprintf(full, sizeof full, "%s %s", name,
           w->cfg->worker_id ? w->cfg->worker_id : "");
  qf_amqp_opts_t o = {.url = w->cfg->amqp_url,
                      .connection_name = full,
                      .heartbeat_s = w->cfg->heartbeat_s,
                      .confirm = confirm};
  return qf_amqp_connect(&o, c, err);
}

void qf__worker_disconnect(qf__worker_t *w) {
  qf_health_ready(QF_READY_BROKER | QF_READY_CONSUMING, 0);
  qf_amqp_free(w->con);
  qf_amqp_free(w->pub);
  w->con = w->pub = NULL;
}

int qf__worker_connect_all(qf__worker_t *w, qf_error_t *err) {
  int rc = QF_OK;
  qf_health_beat();
  if (w->store == NULL || qf_store_reconnect(w->store, err) < 0) {
    qf_store_close(w->store);
    w->store = NULL;
    rc = open_store(w, err);
  }
  if (rc == 0)
    rc = qf__worker_connect_amqp(w, &w->con, "qf-worker-consumer", 0, err);
  if (rc == 0)
    rc = qf__worker_connect_amqp(w, &w->pub, "qf-worker-publisher", 1, err);
  if (rc == 0)
    rc = qf_topology_declare(w->con, &w->topo, w->cfg->delivery_limit, err);
  /* Each delivery worked on at once needs one unacked. */
  int qos = w->cfg->prefetch > w->cfg->concurrency ? w->cfg->prefetch
                                                   : w->cfg->concurrency;
  if (rc == 0) rc = qf_amqp_qos(w->con, qos, err);
  if (rc == 0) rc = qf_amqp_consume(w->con, w->topo.queue, err);
  if (rc < 0) qf__worker_disconnect(w);
  qf_health_ready(QF_READY_DB, w->store != NULL);
  qf_health_ready(QF_READY_BROKER | QF_READY_CONSUMING, rc == 0);
  if (w->connected_once) {
    char label[32];
    qf_metrics_label(label, sizeof label, "result", rc == 0 ? "ok" : "failed");
    qf_metrics_inc(qf_metrics_global(), "qf_reconnects_total", label, 1);
  }
  w->connected_once = 1;
  return rc;
}
