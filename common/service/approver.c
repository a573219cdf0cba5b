/* approver.c: the `qf approver` process (see include/service/qf/approver.h). */
#include "qf/approver.h"
#include "qf/backoff.h"
#include "qf/metrics.h"
#include "qf/migrate.h"
#include "approver_internal.h"
#include "curl_dl.h"
#include "qf/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qf/amqp.h"
#include "qf/approvals.h"
#include "qf/resume_msg.h"
#include "qf/db.h"
#include "qf/log.h"
#include "qf/worker.h"

/* Refused logins in a row before the approver gives up (exit 78). */
#define AUTH_TRIES 3

/* Approvals handled per sweep: a backlog drains over several sweeps
 * without holding row locks for long. */
#define SWEEP_BATCH 50

typedef struct approver {
  const qf_approver_cfg_t *cfg;
  qf_topology_t topo;
  qf_amqp_t *con, *pub;
  qf_db_t *db;
  volatile sig_atomic_t *signals;
  int failures;
} approver_t;

static void disconnect(approver_t *a) {
  qf_amqp_free(a->con);
  qf_amqp_free(a->pub);
  qf_db_free(a->db);
  a->con = a->pub = NULL;
  a->db = NULL;
}

static int connect_all(approver_t *a, qf_error_t *err) {
  qf_amqp_opts_t o = {.url = a->cfg->amqp_url,
                      .connection_name = "qf-approver",
                      .heartbeat_s = a->cfg->heartbeat_s};
  int rc = qf_db_connect(a->cfg->database_url, "qf-approver", &a->db, err);
  if (rc == 0) rc = qf_migrate_check_version(a->db, QF_SCHEMA_VERSION, err);
  if (rc == 0) rc = qf_amqp_connect(&o, &a->con, err);
  o.confirm = 1;
  o.connection_name = "qf-approver-publisher";
  if (rc == 0) rc = qf_amqp_connect(&o, &a->pub, err);
  if (rc == 0)
    rc = qf_topology_declare(a->con, &a->topo, a->cfg->delivery_limit, err);
  if (rc == 0) rc = qf_amqp_qos(a->con, 10, err);
  if (rc == 0) rc = qf_amqp_consume(a->con, a->topo.hitl, err);
  if (rc < 0) disconnect(a);
  qf_health_ready(QF_READY_BROKER | QF_READY_DB | QF_READY_CONSUMING, rc == 0);
  return rc;
}

/* A NEED_HITL decision arrived: the humans are told through the outbox
 * (approver_notes.c). The approval is in the database either way (`qf
 * approvals` lists it). */
static void notify(approver_t *a, const qf_amqp_message_t *m) {
  qf_error_t err;
  cJSON *d = cJSON_ParseWithLength(m->body, m->body_len);
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(d, "run_id");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "approval_id");
  const cJSON *why = cJSON_GetObjectItemCaseSensitive(d, "reason");
  qf_log_ctx_t ctx = {.run_id = cJSON_IsString(run) ? run->valuestring : NULL,
                      .correlation_id = m->correlation_id};
  qf_log_info(&ctx, "approval.needed", "approval %s waits for a human: %s",
              cJSON_IsString(id) ? id->valuestring : "?",
              cJSON_IsString(why) ? why->valuestring : "");
  if (d && qf__approver_note_needed(a->db, a->cfg, d, &err) < 0)
    qf_log_error(&ctx, "webhook.queue_failed", "%s", err.message);
  cJSON_Delete(d);
}

/* Publishes one decided approval's resume and marks it; a failure leaves
 * it for the next sweep. */
static int publish_resume(approver_t *a, const qf_approval_t *ap,
                          qf_error_t *err) {
  int rc = qf_resume_msg_publish(a->pub, a->topo.requests, ap,
                                 a->cfg->publish_timeout_ms, err);
  if (rc == QF_OK) rc = qf_approvals_mark_published(a->db, ap->id, NULL, err);
  if (rc == QF_OK) {
    qf_log_ctx_t ctx = {.run_id = ap->run_id};
    qf_log_info(&ctx, "resume.published", "approval %s (%s): resume sent",
                ap->id, ap->status);
  }
  return rc;
}

/* The gauge of pending approvals by age, refreshed with each sweep. */
static int count_pending(approver_t *a, qf_error_t *err) {
  static const char *const age[] = {"age=\"lt_1h\"", "age=\"1h_to_1d\"",
                                    "age=\"gt_1d\""};
  long n[3];
  int rc = qf_approvals_pending_ages(a->db, n, err);
  for (int i = 0; rc == QF_OK && i < 3; i++)
    qf_metrics_set(qf_metrics_global(), "qf_approvals_pending", age[i],
                   (double)n[i]);
  return rc;
}

/* Overdue approvals become expired (never approved); their resumes go
 * out in the publish sweep that follows. */
static int sweep_expired(approver_t *a, qf_error_t *err) {
  qf_approval_t *list = NULL;
  size_t n = 0;
  int rc = qf_approvals_expire_due(a->db, SWEEP_BATCH, &list, &n, err);
  for (size_t i = 0; rc == QF_OK && i < n; i++) {
    qf_log_ctx_t ctx = {.run_id = list[i].run_id};
    qf_log_info(&ctx, "approval.expired", "approval %s expired at %s",
                list[i].id, list[i].expires_at ? list[i].expires_at : "?");
  }
  qf_approvals_free(list, n);
  return rc;
}

/* Decided approvals whose resume was never published, locked so that a
 * second approver skips them, published, marked, committed. */
static int sweep_unpublished(approver_t *a, qf_error_t *err) {
  qf_approval_t *list = NULL;
  size_t n = 0;
  int rc = qf_db_begin(a->db, err);
  if (rc == QF_OK)
    rc = qf_approvals_claim_unpublished(a->db, SWEEP_BATCH, &list, &n, err);
  for (size_t i = 0; rc == QF_OK && i < n; i++)
    rc = publish_resume(a, &list[i], err);
  if (rc == QF_OK) rc = qf_db_commit(a->db, err);
  if (rc < 0) qf_db_rollback(a->db);
  qf_approvals_free(list, n);
  return rc;
}

/* Consumes and sweeps until a connection fails or a signal arrives. */
static void serve(approver_t *a) {
  qf_error_t err;
  int64_t next_sweep = 0, healthy_since = qf_clock_now_ms();
  while (!*a->signals) {
    qf_health_beat();
    if (a->failures && qf_clock_now_ms() - healthy_since > 60000)
      a->failures = 0;
    if (qf_clock_now_ms() >= next_sweep) {
      if (sweep_expired(a, &err) < 0 || sweep_unpublished(a, &err) < 0 ||
          count_pending(a, &err) < 0 ||
          qf__approver_deliver(a->db, a->cfg, &err) < 0) {
        qf_log_warn(NULL, "approver.sweep_failed", "%s", err.message);
        return;
      }
      next_sweep = qf_clock_now_ms() + a->cfg->sweep_ms;
    }
    qf_amqp_message_t m;
    int rc = qf_amqp_next(a->con, 200, &m, &err);
    if (rc < 0 || qf_amqp_service(a->pub, &err) < 0) {
      qf_log_warn(NULL, "amqp.lost", "%s", err.message);
      return;
    }
    if (rc == 0) continue;
    notify(a, &m);
    rc = qf_amqp_ack(a->con, m.delivery_tag, &err);
    qf_amqp_message_fini(&m);
    if (rc < 0) return;
  }
}

static void backoff(approver_t *a) {
  int64_t until = qf_clock_now_ms() +
                  qf_backoff_delay_ms(a->failures++, a->cfg->max_backoff_s);
  while (!*a->signals && qf_clock_now_ms() < until) {
    qf_health_beat();
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

int qf_approver_run(const qf_approver_cfg_t *cfg,
                    volatile sig_atomic_t *signals, qf_error_t *cfg_err) {
  approver_t a = {.cfg = cfg, .signals = signals};
  qf_error_t err;
  int refused = 0; /* logins refused in a row */
  if (qf_topology_init(&a.topo, cfg->prefix) < 0)
    return qf_error_set(cfg_err, QF_EINVAL, "invalid --prefix '%s'",
                        cfg->prefix);
  if (cfg->metrics_addr) {
    qf_health_require(QF_READY_BROKER | QF_READY_DB | QF_READY_CONSUMING);
    int rc = qf_http_start(cfg->metrics_addr, cfg->health_stall_s, cfg_err);
    if (rc < 0) return rc;
  }
  /* Webhooks need libcurl, which only an approver loads: said now, at
   * start, rather than at the first decision. */
  if (cfg->webhook_url && qf__curl(cfg_err) == NULL) {
    qf_http_stop();
    return qf_error_prefix(cfg_err, "QF_APPROVER_WEBHOOK is set");
  }
  srand((unsigned)qf_clock_now_ms());
  while (!*signals) {
    if (connect_all(&a, &err) < 0) {
      qf_log_warn(NULL, "approver.connect_failed", "%s", err.message);
      /* A refused login is the configuration, not an outage. */
      if (qf_err_class(err.code) == QF_ERRC_CONFIG && ++refused >= AUTH_TRIES) {
        return qf_error_set(cfg_err, err.code, "%s (%d tries in a row)",
                            err.message, refused);
      }
      backoff(&a);
      continue;
    }
    refused = 0;
    qf_log_info(NULL, "approver.ready", "consuming %s", a.topo.hitl);
    serve(&a);
    disconnect(&a);
    if (!*signals) backoff(&a);
  }
  qf_http_stop();
  qf_log_info(NULL, "approver.stop", "stopped cleanly");
  return QF_OK;
}
