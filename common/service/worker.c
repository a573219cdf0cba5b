/* worker.c: the worker's loop: connections, topology, backoff, signals.
 * One delivery is processed by worker_delivery.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stddef.h>

#include "qf/clock.h"
#include "qf/log.h"
#include "worker_internal.h"

int qf_topology_init(qf_topology_t *t, const char *prefix) {
  static const struct {
    size_t off;
    const char *suffix;
  } names[] = {
      {offsetof(qf_topology_t, requests), "requests"},
      {offsetof(qf_topology_t, decisions), "decisions"},
      {offsetof(qf_topology_t, evidence), "evidence"},
      {offsetof(qf_topology_t, dead), "dead"},
      {offsetof(qf_topology_t, queue), "orchestrations"},
      {offsetof(qf_topology_t, dead_queue), "orchestrations.dead"},
      {offsetof(qf_topology_t, hitl), "hitl"},
  };
  if (prefix == NULL || prefix[0] == '\0' || strlen(prefix) > 64)
    return QF_EINVAL;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    snprintf((char *)t + names[i].off, QF_WORKER_NAME_MAX, "%s.%s", prefix,
             names[i].suffix);
  return QF_OK;
}

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

int64_t qf_backoff_delay_ms(int failures, int cap_s) {
  int64_t cap = (int64_t)cap_s * 1000;
  int64_t base = 500LL << (failures < 16 ? failures : 16);
  int64_t ms = base < cap ? base : cap;
  return ms > 0 ? rand() % ms + 1 : 1;
}

/* Sleeps for the backoff of the current failure count, in slices so that
 * signals are noticed and the connections stay served. */
static void backoff(qf__worker_t *w) {
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
    backoff(w);
  }
  return QF_ECANCELED;
}

static int connect_amqp(qf__worker_t *w, qf_amqp_t **c, const char *name,
                        int confirm, qf_error_t *err) {
  qf_amqp_opts_t o = {.url = w->cfg->amqp_url,
                      .connection_name = name,
                      .heartbeat_s = w->cfg->heartbeat_s,
                      .confirm = confirm};
  return qf_amqp_connect(&o, c, err);
}

int qf_topology_declare(qf_amqp_t *c, const qf_topology_t *t,
                        int delivery_limit, qf_error_t *err) {
  amqp_table_entry_t e[3];
  e[0].key = amqp_cstring_bytes("x-queue-type");
  e[0].value.kind = AMQP_FIELD_KIND_UTF8;
  e[0].value.value.bytes = amqp_cstring_bytes("quorum");
  e[1].key = amqp_cstring_bytes("x-delivery-limit");
  e[1].value.kind = AMQP_FIELD_KIND_I64;
  e[1].value.value.i64 = delivery_limit;
  e[2].key = amqp_cstring_bytes("x-dead-letter-exchange");
  e[2].value.kind = AMQP_FIELD_KIND_UTF8;
  e[2].value.value.bytes = amqp_cstring_bytes(t->dead);
  amqp_table_t args = {.num_entries = 3, .entries = e};
  int rc = qf_amqp_declare_exchange(c, t->requests, "direct", err);
  if (rc == 0) rc = qf_amqp_declare_exchange(c, t->decisions, "topic", err);
  if (rc == 0) rc = qf_amqp_declare_exchange(c, t->evidence, "topic", err);
  if (rc == 0) rc = qf_amqp_declare_exchange(c, t->dead, "fanout", err);
  if (rc == 0) rc = qf_amqp_declare_queue(c, t->dead_queue, 0, NULL, NULL, err);
  if (rc == 0) rc = qf_amqp_bind_queue(c, t->dead_queue, t->dead, "", err);
  if (rc == 0) rc = qf_amqp_declare_queue(c, t->queue, 0, &args, NULL, err);
  if (rc == 0) rc = qf_amqp_bind_queue(c, t->queue, t->requests, "run", err);
  if (rc == 0) rc = qf_amqp_bind_queue(c, t->queue, t->requests, "resume", err);
  if (rc == 0) rc = qf_amqp_declare_queue(c, t->hitl, 0, NULL, NULL, err);
  if (rc == 0)
    rc =
        qf_amqp_bind_queue(c, t->hitl, t->decisions, "decision.need_hitl", err);
  return rc;
}

static void disconnect(qf__worker_t *w) {
  qf_amqp_free(w->con);
  qf_amqp_free(w->pub);
  w->con = w->pub = NULL;
}

static int connect_all(qf__worker_t *w, qf_error_t *err) {
  int rc = QF_OK;
  if (w->store == NULL || qf_store_reconnect(w->store, err) < 0) {
    qf_store_close(w->store);
    w->store = NULL;
    rc = qf_store_open(w->cfg->database_url, "qf-worker", &w->store, err);
  }
  if (rc == 0) rc = connect_amqp(w, &w->con, "qf-worker-consumer", 0, err);
  if (rc == 0) rc = connect_amqp(w, &w->pub, "qf-worker-publisher", 1, err);
  if (rc == 0)
    rc = qf_topology_declare(w->con, &w->topo, w->cfg->delivery_limit, err);
  if (rc == 0) rc = qf_amqp_qos(w->con, w->cfg->prefetch, err);
  if (rc == 0) rc = qf_amqp_consume(w->con, w->topo.queue, err);
  if (rc < 0) disconnect(w);
  return rc;
}

/* Consumes until the connection fails or a signal asks us to stop. */
static void serve(qf__worker_t *w) {
  int64_t healthy_since = qf_clock_now_ms();
  qf_error_t err;
  while (!*w->signals) {
    qf_amqp_message_t m;
    if (w->failures && qf_clock_now_ms() - healthy_since > 60000)
      w->failures = 0; /* a minute of health resets the backoff */
    int rc = qf_amqp_next(w->con, 1000, &m, &err);
    if (rc < 0) {
      qf_log_warn(NULL, "amqp.consumer_lost", "%s", err.message);
      return;
    }
    if (rc == 0) {
      if (w->pub == NULL || qf_amqp_service(w->pub, &err) < 0) return;
      continue;
    }
    qf__settled_t s = qf__worker_deliver(w, &m);
    qf_amqp_message_fini(&m);
    if (s == QF__CONN_LOST) return;
  }
}

static void log_start(const qf_worker_cfg_t *cfg) {
  char amqp[256], db[256];
  qf_log_redact_url(cfg->amqp_url, amqp, sizeof amqp);
  qf_log_redact_url(cfg->database_url, db, sizeof db);
  qf_log_field_t f[] = {QF_LOG_STR("amqp", amqp), QF_LOG_STR("database", db),
                        QF_LOG_STR("prefix", cfg->prefix),
                        QF_LOG_INT("prefetch", cfg->prefetch)};
  qf_log_emit(QF_LOG_INFO, NULL, "worker.start", f, 4, "worker %s starting",
              cfg->worker_id);
}

int qf_worker_run(const qf_worker_cfg_t *cfg, volatile sig_atomic_t *signals) {
  qf__worker_t w = {.cfg = cfg, .signals = signals};
  qf_error_t err;
  if (qf_topology_init(&w.topo, cfg->prefix) < 0) return QF_EINVAL;
  srand((unsigned)(qf_clock_now_ms() ^ (int64_t)getpid()));
  log_start(cfg);
  while (!*signals) {
    if (connect_all(&w, &err) < 0) {
      qf_log_warn(NULL, "worker.connect_failed", "%s", err.message);
      backoff(&w);
      continue;
    }
    qf_log_info(NULL, "worker.ready", "consuming %s", w.topo.queue);
    serve(&w);
    if (w.con && qf_amqp_cancel(w.con, &err) < 0)
      qf_log_warn(NULL, "amqp.cancel_failed", "%s", err.message);
    disconnect(&w);
    if (!*signals) backoff(&w);
  }
  qf_store_close(w.store);
  qf_log_info(NULL, "worker.stop", "stopped cleanly");
  return QF_OK;
}
