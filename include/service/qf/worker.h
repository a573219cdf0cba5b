/* worker.h: `qf worker`, the service. It consumes requests from RabbitMQ,
 * runs the pipeline, persists every run in PostgreSQL and publishes the
 * evidence and the decision, with at-least-once delivery and exactly-once
 * effects (DESIGN.md sections 3 to 5):
 *
 *   claim the run (idempotent on message_id) -> run the nodes, saving a
 *   checkpoint after each -> commit the decision (and, for NEED_HITL, a
 *   pending approval) -> publish evidence and decision with confirms ->
 *   ack.
 *
 * A crash anywhere before the ack makes the broker redeliver; the claim
 * then finds the run and either re-publishes what was decided or resumes
 * after the last completed node. Broker or database trouble is met with
 * reconnects (capped exponential backoff with full jitter); the worker
 * never exits on a transient fault. One thread, three connections: the
 * consumer, the publisher (confirms) and the database.
 */
#ifndef QF_WORKER_H
#define QF_WORKER_H

#include <signal.h>
#include <stdint.h>

#include "qf/err.h"
#include "qf/source.h"
#include "qf/topology.h"

/* The topology names' size (kept for callers that size buffers by it). */
#define QF_WORKER_NAME_MAX QF_TOPOLOGY_NAME_MAX

/* The most deliveries one worker works on at once (QF_CONCURRENCY). */
#define QF_WORKER_MAX_CONCURRENCY 32
int qf_worker_max_concurrency(void);

typedef struct qf_worker_cfg {
  const char *amqp_url;
  const char *database_url;
  const char *policy_path;
  const char *artifacts_root;
  const char *workspace_root;
  const char *prefix;            /* topology prefix, "qf" */
  const char *evidence_base_url; /* NULL: no evidence_url in decisions */
  const char *worker_id;         /* e.g. host:pid, for the runs table */
  int prefetch;                  /* basic.qos, >= 1 */
  int concurrency;        /* deliveries worked on at once (tools running side by
                             side), 1 to QF_WORKER_MAX_CONCURRENCY; 0 means 1 */
  int heartbeat_s;        /* AMQP heartbeat */
  int shutdown_grace_s;   /* a run may finish this long after
                             SIGTERM */
  int delivery_limit;     /* x-delivery-limit of the queue */
  int publish_timeout_ms; /* wait for a publisher confirm */
  int max_backoff_s;      /* reconnect backoff cap */
  int lease_s;            /* a run's lease, renewed every lease_s / 3 */
  int stuck_after_s;      /* a run nobody holds this long is ended (error) */
  int sweep_interval_s;   /* how often an idle worker looks for such runs */
  const char *cgroup;     /* "auto" (our own cgroup v2), "off", or a cgroup
                             v2 directory; tools get a cgroup per run below
                             it where the machine allows */
  qf_source_cfg_t source; /* requests' sources (tick and tick_ctx unset:
                             the worker serves its connection) */
  const char *metrics_addr; /* /metrics, /healthz, /readyz; NULL: none */
  int health_stall_s;       /* /healthz fails after this long without a
                               beat of the loop */
  const char *wedge_file;   /* test hook: while it exists the loop stalls
                               (QF_TEST_WEDGE_FILE); NULL in production */
} qf_worker_cfg_t;

/* Runs until *signals becomes nonzero (the caller's signal handler counts
 * signals): then stops consuming, lets the current run finish within
 * shutdown_grace_s, closes and returns QF_OK. A second signal abandons the
 * current run (it is handed on to another worker) at once. Returns a
 * negative code, with err saying why, only for a configuration that cannot
 * work (an invalid prefix: QF_EINVAL; a policy that does not load, checked
 * once here: its code), never for a broker or database outage. */
int qf_worker_run(const qf_worker_cfg_t *cfg, volatile sig_atomic_t *signals,
                  qf_error_t *err) QF_MUSTCHECK;

#endif
