/* worker.c: the worker's loop: connect (worker_conn.c), consume, hand
 * each delivery to worker_delivery.c, reconnect after a failure, stop on
 * a signal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/clock.h"
#include "qf/exec.h"
#include "qf/log.h"
#include "qf/metrics.h"
#include "worker_internal.h"

/* Refused logins in a row before the worker gives up (exit 78). */
#define AUTH_TRIES 3

/* Consumes until the connection fails or a signal asks us to stop. */
/* The test hook of /healthz: a loop that stops beating (a wedge). */
static void wedge(const qf__worker_t *w) {
  struct stat st;
  while (w->cfg->wedge_file && stat(w->cfg->wedge_file, &st) == 0 &&
         !*w->signals)
    usleep(100 * 1000);
}

/* PostgreSQL round trips since the last look, into the metrics (a new
 * connection starts counting from zero). */
static void count_round_trips(qf__worker_t *w) {
  const qf_db_t *now = w->store ? qf_store_db(w->store) : NULL;
  if (now == NULL) return;
  long long n = qf_db_round_trips(now);
  if (n < w->db_trips_seen) w->db_trips_seen = 0; /* reconnected */
  if (n > w->db_trips_seen)
    qf_metrics_inc(qf_metrics_global(), "qf_db_round_trips_total", NULL,
                   (double)(n - w->db_trips_seen));
  w->db_trips_seen = n;
}

/* Delivers again, not fresh, what the batch found existing. */
static qf__settled_t redo_all(qf__worker_t *w) {
  qf_amqp_message_t *m;
  qf__settled_t out = QF__ACKED;
  while (out != QF__CONN_LOST && (m = qf__batch_next_redo(w)) != NULL) {
    out = qf__worker_deliver(w, m, 0);
    qf_amqp_message_fini(m);
    free(m);
  }
  return out;
}

/* Settles what the batch holds; nonzero when the consumer is gone (and
 * the batch, which the broker gives again, forgotten). */
static int settle_batch(qf__worker_t *w) {
  if (qf__batch_flush(w) != QF__CONN_LOST && redo_all(w) != QF__CONN_LOST)
    return 0;
  qf__batch_drop(w);
  return 1;
}

/* ------------------------------------------- deliveries on threads */

typedef struct thread_job {
  qf__worker_t *w;
  qf_amqp_message_t m; /* owned */
} thread_job_t;

static void *job_main(void *arg) {
  thread_job_t *t = arg;
  qf__worker_t *w = t->w;
  qf__worker_lock(w);
  if (qf__worker_deliver(w, &t->m, 1) == QF__CONN_LOST) w->lost_con = 1;
  qf__worker_inflight_remove(w, t->m.delivery_tag);
  qf_amqp_message_fini(&t->m);
  w->running--;
  pthread_cond_broadcast(&w->job_done);
  qf__worker_unlock(w);
  free(t);
  return NULL;
}

/* Waits, the lock let go, until at most max deliveries run on threads. */
static void wait_jobs(qf__worker_t *w, int max) {
  while (w->threaded && w->running > max)
    pthread_cond_wait(&w->job_done, &w->gil);
}

/* Works on m here, or (QF_CONCURRENCY above 1) on a thread of its own
 * once fewer than QF_CONCURRENCY run; m is emptied when taken. */
static qf__settled_t dispatch(qf__worker_t *w, qf_amqp_message_t *m) {
  if (!w->threaded) return qf__worker_deliver(w, m, 1);
  if (w->running >= w->cfg->concurrency && settle_batch(w))
    return QF__CONN_LOST;
  wait_jobs(w, w->cfg->concurrency - 1);
  thread_job_t *t = malloc(sizeof *t);
  pthread_attr_t a;
  pthread_t th;
  if (t == NULL || pthread_attr_init(&a) != 0) {
    free(t);
    return qf__worker_deliver(w, m, 1); /* here, then */
  }
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  t->w = w;
  t->m = *m;
  /* Counted before the thread runs: no batch acks it meanwhile. */
  qf__worker_inflight_add(w, m->delivery_tag);
  w->running++;
  int rc = pthread_create(&th, &a, job_main, t);
  pthread_attr_destroy(&a);
  if (rc != 0) {
    w->running--;
    qf__worker_inflight_remove(w, m->delivery_tag);
    free(t);
    return qf__worker_deliver(w, m, 1);
  }
  memset(m, 0, sizeof *m);
  return QF__HELD;
}

/* The next delivery within timeout_ms (qf_amqp_next); with threads, the
 * lock is let go while nothing is there, so that their runs go on. */
static int next_delivery(qf__worker_t *w, int timeout_ms, qf_amqp_message_t *m,
                         qf_error_t *err) {
  if (!w->threaded || timeout_ms == 0)
    return qf_amqp_next(w->con, timeout_ms, m, err);
  int64_t end = qf_clock_now_ms() + timeout_ms;
  for (;;) {
    int rc = qf_amqp_next(w->con, 0, m, err);
    int64_t left = end - qf_clock_now_ms();
    /* A run a thread held for the batch is settled without waiting. */
    if (rc != 0 || w->lost_con || *w->signals || left <= 0 || w->batch.n)
      return rc;
    struct pollfd p = {qf_amqp_fd(w->con), POLLIN, 0};
    qf__worker_unlock(w);
    (void)poll(&p, 1, left < 100 ? (int)left : 100);
    qf__worker_lock(w);
    qf_health_beat();
  }
}

static void serve_loop(qf__worker_t *w) {
  int64_t healthy_since = qf_clock_now_ms();
  qf_error_t err;
  while (!*w->signals && !w->lost_con) {
    qf_amqp_message_t m;
    wedge(w);
    qf_health_beat();
    if (w->failures && qf_clock_now_ms() - healthy_since > 60000)
      w->failures = 0; /* a minute of health resets the backoff */
    /* Runs held for the batch wait only for deliveries already here. */
    int held = w->batch.n > 0 || w->batch.redo != NULL;
    int rc = next_delivery(w, held ? 0 : 1000, &m, &err);
    if (rc < 0) {
      qf__worker_consumer_lost(w, err.message);
      return;
    }
    qf_log_limit_reset(&w->consumer_lost); /* served: the next loss is news */
    if (rc == 0 && held) {
      if (settle_batch(w)) return;
      count_round_trips(w);
      continue;
    }
    if (rc == 0) {
      if (w->pub == NULL || qf_amqp_service(w->pub, &err) < 0) return;
      qf__worker_sweep(w);
      continue;
    }
    qf__settled_t s = dispatch(w, &m);
    qf_amqp_message_fini(&m);
    count_round_trips(w);
    if (s == QF__CONN_LOST) return;
    if ((w->batch.n >= w->batch.limit || w->batch.redo) && settle_batch(w))
      return;
  }
}

/* Consumes until the connection fails or a signal asks us to stop; then
 * the runs on threads end (a stop's grace applies to them) and what the
 * batch holds is settled, before the connections may go. */
static void serve(qf__worker_t *w) {
  serve_loop(w);
  wait_jobs(w, 0);
  if (!w->lost_con)
    (void)settle_batch(w);
  else
    qf__batch_drop(w);
  w->lost_con = 0;
}

/* Where the tools' cgroups go: checked once, and said once; without one
 * the tool's process group is what holds it. */
static void choose_cgroup(qf__worker_t *w) {
  const char *want = w->cfg->cgroup ? w->cfg->cgroup : "auto";
  qf_error_t err;
  int rc = QF_OK;
  w->cgroup[0] = '\0';
  if (strcmp(want, "off") == 0) return;
  if (strcmp(want, "auto") == 0)
    rc = qf_exec_cgroup_default(w->cgroup, sizeof w->cgroup, &err);
  else
    snprintf(w->cgroup, sizeof w->cgroup, "%s", want);
  if (rc == QF_OK) rc = qf_exec_cgroup_probe(w->cgroup, &err);
  if (rc < 0) {
    w->cgroup[0] = '\0';
    qf_log_warn(NULL, "exec.cgroup_unavailable",
                "%s: tools are held by their process group only", err.message);
    return;
  }
  qf_log_info(NULL, "exec.cgroup", "each tool run gets a cgroup below %s",
              w->cgroup);
}

static void log_start(const qf_worker_cfg_t *cfg) {
  char amqp[256], db[256];
  qf_amqp_describe_url(cfg->amqp_url, amqp, sizeof amqp);
  qf_db_describe(cfg->database_url, db, sizeof db);
  qf_log_field_t f[] = {QF_LOG_STR("amqp", amqp), QF_LOG_STR("database", db),
                        QF_LOG_STR("prefix", cfg->prefix),
                        QF_LOG_INT("prefetch", cfg->prefetch)};
  qf_log_emit(QF_LOG_INFO, NULL, "worker.start", f, 4, "worker %s starting",
              cfg->worker_id);
}

/* /metrics, /healthz and /readyz on their own thread. */
static int serve_http(qf__worker_t *w, qf_error_t *err) {
  qf_health_require(QF_READY_BROKER | QF_READY_DB | QF_READY_CONSUMING |
                    QF_READY_POLICY);
  qf_health_ready(QF_READY_POLICY,
                  qf_policy_source_problem(w->policies) == NULL);
  int rc = qf_http_start(w->cfg->metrics_addr, w->cfg->health_stall_s, err);
  if (rc == QF_OK)
    qf_log_info(NULL, "worker.http", "/metrics, /healthz and /readyz on %s",
                w->cfg->metrics_addr);
  return rc;
}

/* Worktrees left by a worker that died on this host go now; their runs
 * make new ones wherever they resume. */
static void sweep_sources(qf__worker_t *w) {
  qf_error_t err;
  w->source = w->cfg->source;
  w->source.tick = qf__worker_tick;
  w->source.tick_ctx = w;
  if (w->source.cache_dir == NULL) return;
  int n = qf_source_sweep(w->source.cache_dir, &err);
  if (n < 0)
    qf_log_warn(NULL, "source.sweep_failed", "%s", err.message);
  else if (n > 0)
    qf_log_info(NULL, "source.swept",
                "removed %d worktree(s) left by a "
                "worker that stopped",
                n);
}

int qf_worker_max_concurrency(void) {
  return QF_WORKER_MAX_CONCURRENCY;
}

/* No thread runs outside serve(): the lock and its condition go. */
static void end_threads(qf__worker_t *w) {
  qf__worker_unlock(w);
  pthread_cond_destroy(&w->job_done);
  pthread_mutex_destroy(&w->gil);
}

int qf_worker_run(const qf_worker_cfg_t *cfg, volatile sig_atomic_t *signals,
                  qf_error_t *cfg_err) {
  qf__worker_t w = {.cfg = cfg, .signals = signals};
  qf_error_t err;
  if (qf_topology_init(&w.topo, cfg->prefix) < 0)
    return qf_error_set(cfg_err, QF_EINVAL, "invalid --prefix '%s'",
                        cfg->prefix);
  /* Fail closed at start; then the policy is reloaded when its file
   * changes, a broken edit keeping the last good version
   * (qf/policy_source.h). */
  int rc = qf_policy_source_open(cfg->policy_path, &w.policies, cfg_err);
  if (rc == QF_OK) rc = qf_exec_host_id(w.host_id, sizeof w.host_id, cfg_err);
  if (rc < 0) {
    qf_policy_source_free(w.policies);
    return rc;
  }
  /* With threads, the main loop holds the lock but while it waits. */
  w.threaded = cfg->concurrency > 1;
  pthread_mutex_init(&w.gil, NULL);
  pthread_cond_init(&w.job_done, NULL);
  qf__worker_lock(&w);
  w.batch.limit = cfg->prefetch < 1                     ? 1
                  : cfg->prefetch > QF_STORE_RECORD_MAX ? QF_STORE_RECORD_MAX
                                                        : (size_t)cfg->prefetch;
  w.next_sweep_ms = qf_clock_now_ms() + (int64_t)cfg->sweep_interval_s * 1000;
  srand((unsigned)(qf_clock_now_ms() ^ (int64_t)getpid()));
  log_start(cfg);
  if (cfg->metrics_addr && (rc = serve_http(&w, cfg_err)) < 0) {
    end_threads(&w);
    qf_policy_source_free(w.policies);
    return rc;
  }
  choose_cgroup(&w);
  sweep_sources(&w);
  int refused = 0; /* logins refused in a row */
  while (!*signals) {
    if (qf__worker_connect_all(&w, &err) < 0) {
      qf_log_warn(NULL, "worker.connect_failed", "%s", err.message);
      /* A refused login is the configuration, not an outage: said a few
       * times (a password being rotated), then the worker stops. */
      if (qf_err_class(err.code) == QF_ERRC_CONFIG && ++refused >= AUTH_TRIES) {
        end_threads(&w);
        qf_store_close(w.store);
        qf_policy_source_free(w.policies);
        return qf_error_set(cfg_err, err.code, "%s (%d tries in a row)",
                            err.message, refused);
      }
      qf__worker_backoff(&w);
      continue;
    }
    refused = 0;
    qf_log_info(NULL, "worker.ready", "consuming %s", w.topo.queue);
    qf_log_limit_reset(&w.consumer_lost);
    serve(&w);
    if (w.con && qf_amqp_cancel(w.con, &err) < 0)
      qf_log_warn(NULL, "amqp.cancel_failed", "%s", err.message);
    qf__worker_disconnect(&w);
    if (!*signals) qf__worker_backoff(&w);
  }
  qf__worker_note_drain(&w);
  end_threads(&w);
  qf_http_stop();
  qf_store_close(w.store);
  qf_policy_source_free(w.policies);
  qf_log_info(NULL, "worker.stop", "stopped cleanly");
  return QF_OK;
}
