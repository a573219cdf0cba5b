/* approver.h: `qf approver`, the process that keeps the human loop moving.
 * It consumes <prefix>.hitl and, for each NEED_HITL decision, logs it and
 * (with a webhook configured) POSTs a JSON notification, bounded in time
 * and retried; every sweep_s it expires pending approvals past their
 * deadline (expiry never approves: the run ends FAIL) and publishes the
 * resume of every decided approval whose resume was never published (an
 * approve command that died between commit and publish). Several
 * approvers may run at once: the sweeps lock rows with FOR UPDATE SKIP
 * LOCKED, so nothing is decided or published twice by them. */
#ifndef QF_APPROVER_H
#define QF_APPROVER_H

#include <signal.h>

#include "qf/err.h"

typedef struct qf_approver_cfg {
  const char *amqp_url;
  const char *database_url;
  const char *prefix;         /* topology prefix, "qf" */
  const char *webhook_url;    /* NULL: log only */
  int webhook_timeout_ms;     /* per attempt */
  int webhook_tries;          /* attempts per notification (over minutes) */
  int webhook_retry_s;        /* the first retry's delay, doubling, <= 15 min */
  const char *webhook_secret; /* QF_WEBHOOK_SECRET: signs every body */
  int webhook_events;         /* QF_WEBHOOK_EVENT_* bits to send */
  int sweep_ms;               /* between expiry/publish sweeps */
  int heartbeat_s;
  int delivery_limit; /* for declaring the topology */
  int publish_timeout_ms;
  int max_backoff_s;
  const char *metrics_addr; /* /metrics, /healthz, /readyz; NULL: none */
  int health_stall_s;       /* /healthz fails after this long unbeaten */
} qf_approver_cfg_t;

enum {
  QF_WEBHOOK_EVENT_NEEDED = 1,  /* approval.needed */
  QF_WEBHOOK_EVENT_DECIDED = 2, /* approval.decided (approved, rejected) */
  QF_WEBHOOK_EVENT_EXPIRED = 4, /* approval.expired */
  QF_WEBHOOK_EVENT_RUN = 8      /* run.decided: every final decision */
};

/* A comma list of event names into QF_WEBHOOK_EVENT_* bits; NULL gives
 * the three approval events (run.decided, one post per run, is opt-in).
 * QF_EINVAL naming an unknown name. */
int qf_webhook_events_parse(const char *list, int *out,
                            qf_error_t *err) QF_MUSTCHECK;

/* Runs until *signals becomes nonzero; returns QF_OK then. Outages of the
 * broker or the database are waited out with backoff; a login either
 * refuses three times in a row ends the run with QF_EAUTH, and an invalid
 * prefix is QF_EINVAL, err saying why. */
int qf_approver_run(const qf_approver_cfg_t *cfg,
                    volatile sig_atomic_t *signals,
                    qf_error_t *err) QF_MUSTCHECK;

/* One webhook post. Strings borrowed. */
typedef struct qf_webhook_msg {
  const char *url;
  const char *secret;    /* HMAC key of X-QF-Signature-256, or NULL */
  const char *event;     /* X-QF-Event */
  long long delivery_id; /* X-QF-Delivery: the outbox row */
  int timeout_ms;
} qf_webhook_msg_t;

/* POSTs body (JSON) once, with User-Agent, X-QF-Event, X-QF-Delivery and,
 * with a secret, X-QF-Signature-256: sha256=<HMAC-SHA256 hex of the
 * body>. Success is a 2xx answer; else QF_ETIMEDOUT or QF_EIO, err naming
 * scheme://host only (never the URL's path or query). */
int qf_webhook_send(const qf_webhook_msg_t *m, const char *body,
                    qf_error_t *err) QF_MUSTCHECK;

/* A webhook URL as it may be logged: scheme://host as libcurl parses it,
 * never its user, path or query (a chat webhook's secret is its path). */
void qf_webhook_describe(const char *url, char *out, size_t n);

#endif
