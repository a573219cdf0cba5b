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
  const char *prefix;      /* topology prefix, "qf" */
  const char *webhook_url; /* NULL: log only */
  int webhook_timeout_ms;  /* per attempt */
  int webhook_tries;       /* attempts per notification */
  int sweep_ms;            /* between expiry/publish sweeps */
  int heartbeat_s;
  int delivery_limit; /* for declaring the topology */
  int publish_timeout_ms;
  int max_backoff_s;
  const char *metrics_addr; /* /metrics, /healthz, /readyz; NULL: none */
  int health_stall_s;       /* /healthz fails after this long unbeaten */
} qf_approver_cfg_t;

/* Runs until *signals becomes nonzero; returns QF_OK then. Outages of the
 * broker or the database are waited out with backoff; a login either
 * refuses three times in a row ends the run with QF_EAUTH, and an invalid
 * prefix is QF_EINVAL, err saying why. */
int qf_approver_run(const qf_approver_cfg_t *cfg,
                    volatile sig_atomic_t *signals,
                    qf_error_t *err) QF_MUSTCHECK;

/* POSTs body (JSON) to url; up to tries attempts, each bounded by
 * timeout_ms, with a growing pause between them. Success is a 2xx answer.
 * QF_ETIMEDOUT or QF_EIO naming the last failure otherwise. */
int qf_webhook_post(const char *url, const char *body, int timeout_ms,
                    int tries, qf_error_t *err) QF_MUSTCHECK;

/* A webhook URL as it may be logged: scheme://host as libcurl parses it,
 * never its user, path or query (a chat webhook's secret is its path). */
void qf_webhook_describe(const char *url, char *out, size_t n);

#endif
