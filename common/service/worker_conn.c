/* worker_conn.c: the worker's three connections (consumer, publisher,
 * database): connecting, serving them while a tool runs, reconnecting with
 * backoff, and the stop deadline after SIGTERM. It calls nothing above it:
 * the loop (worker.c) and the delivery files use it. */
#include <stdlib.h>
#include <time.h>

#include "qf/backoff.h"
#include "qf/clock.h"
#include "qf/log.h"
#include "worker_internal.h"

static int must_stop_now(qf__worker_t *w) {
  if (*w->signals >= 2) return 1;
  return *w->signals == 1 && w->stop_deadline_ms > 0 &&
         qf_clock_now_ms() > w->stop_deadline_ms;
}

int qf__worker_tick(void *worker) {
  qf__worker_t *w = worker;
  qf_error_t err;
  if (*w->signals && w->stop_deadline_ms == 0)
    w->stop_deadline_ms =
        qf_clock_now_ms() + (int64_t)w->cfg->shutdown_grace_s * 1000;
  /* librabbitmq does nothing in the background: without this a long tool
   * run loses both connections to missed heartbeats. A lost connection
   * is noticed here and dealt with after the run (its delivery is then
   * redelivered by the broker; the run's effects are idempotent). */
  if (w->con && qf_amqp_service(w->con, &err) < 0)
    qf_log_warn(NULL, "amqp.consumer_lost", "%s", err.message);
  if (w->pub && qf_amqp_service(w->pub, &err) < 0) {
    qf_amqp_free(w->pub);
    w->pub = NULL;
  }
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
    nanosleep(&ts, NULL);
    if (w->con) (void)qf__worker_tick(w);
  }
}

int qf__worker_restore_db(qf__worker_t *w) {
  qf_error_t err;
  while (!must_stop_now(w)) {
    if (w->store && qf_store_reconnect(w->store, &err) == QF_OK) return QF_OK;
    if (w->store == NULL && qf_store_open(w->cfg->database_url, "qf-worker",
                                          &w->store, &err) == QF_OK)
      return QF_OK;
    qf_log_warn(NULL, "db.unavailable", "%s", err.message);
    qf__worker_backoff(w);
  }
  return QF_ECANCELED;
}

int qf__worker_connect_amqp(qf__worker_t *w, qf_amqp_t **c, const char *name,
                            int confirm, qf_error_t *err) {
  qf_amqp_opts_t o = {.url = w->cfg->amqp_url,
                      .connection_name = name,
                      .heartbeat_s = w->cfg->heartbeat_s,
                      .confirm = confirm};
  return qf_amqp_connect(&o, c, err);
}

void qf__worker_disconnect(qf__worker_t *w) {
  qf_amqp_free(w->con);
  qf_amqp_free(w->pub);
  w->con = w->pub = NULL;
}

int qf__worker_connect_all(qf__worker_t *w, qf_error_t *err) {
  int rc = QF_OK;
  if (w->store == NULL || qf_store_reconnect(w->store, err) < 0) {
    qf_store_close(w->store);
    w->store = NULL;
    rc = qf_store_open(w->cfg->database_url, "qf-worker", &w->store, err);
  }
  if (rc == 0)
    rc = qf__worker_connect_amqp(w, &w->con, "qf-worker-consumer", 0, err);
  if (rc == 0)
    rc = qf__worker_connect_amqp(w, &w->pub, "qf-worker-publisher", 1, err);
  if (rc == 0)
    rc = qf_topology_declare(w->con, &w->topo, w->cfg->delivery_limit, err);
  if (rc == 0) rc = qf_amqp_qos(w->con, w->cfg->prefetch, err);
  if (rc == 0) rc = qf_amqp_consume(w->con, w->topo.queue, err);
  if (rc < 0) qf__worker_disconnect(w);
  return rc;
}
