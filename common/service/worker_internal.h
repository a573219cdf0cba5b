/* worker_internal.h: what the worker's files share. Not public. The
 * files call each other only downwards, in this order (no circle):
 *
 *   worker.c -> worker_delivery.c -> worker_resume.c -> worker_run.c
 *            -> worker_settle.c -> worker_conn.c
 */
#ifndef QF_WORKER_INTERNAL_H
#define QF_WORKER_INTERNAL_H

#include <stdint.h>

#include "qf/amqp.h"
#include "qf/log.h"
#include "qf/pipeline.h"
#include "qf/store.h"
#include "qf/worker.h"

typedef struct qf__worker {
  const qf_worker_cfg_t *cfg;
  qf_topology_t topo;
  qf_amqp_t *con; /* consumer */
  qf_amqp_t *pub; /* publisher, confirm mode */
  qf_store_t *store;
  qf_policy_source_t *policies; /* the policy in force (reloaded on change) */
  volatile sig_atomic_t *signals;
  int64_t stop_deadline_ms; /* when a run must give up after SIGTERM */
  int failures;             /* consecutive connection failures (backoff) */
} qf__worker_t;

/* What became of a delivery. */
typedef enum qf__settled {
  QF__ACKED,    /* done: decided, dead-lettered, or re-published */
  QF__REQUEUED, /* nacked back to the queue (our trouble, not its) */
  QF__CONN_LOST /* the consumer connection is gone: reconnect */
} qf__settled_t;

/* One delivery being processed. */
typedef struct job {
  qf__worker_t *w;
  const qf_amqp_message_t *m;
  qf_log_ctx_t log;
  char run_id[QF_UUID_STR_LEN + 1];
  const char *reply_to;       /* where the decision also goes, or NULL */
  const char *correlation_id; /* echoed on every message about the run */
  const char *approver;       /* a resume approved before execute: who */
  const char *approval_comment;
} job_t;

/* ---- worker_settle.c: settling a delivery (calls only worker_conn.c) */

/* Acks (ack nonzero) or nacks (requeue or dead-letter) the delivery. */
qf__settled_t qf__job_settle(job_t *j, int ack, int requeue);

/* Publishes evidence (may be NULL), decision and the reply, confirmed. */
int qf__job_publish_all(job_t *j, const cJSON *message, const cJSON *evidence,
                        const char *reply_to);

/* Dead-letters the delivery with x-qf-error = why, then acks it. */
qf__settled_t qf__job_dead_letter(job_t *j, const char *why);

/* Settles a delivery whose processing failed with rc, by rc's class
 * (qf_err_class): bad input is dead-lettered; infrastructure trouble
 * restores the database connection, then requeues; anything else is
 * requeued. A run canceled by a graceful stop is handed on (re-published
 * whole, then acked) so that drains never spend delivery attempts. The
 * one place that turns an error into a settlement. */
qf__settled_t qf__job_fail(job_t *j, int rc, const char *what);

/* Re-publishes a finished run's stored messages and acks. */
qf__settled_t qf__job_republish(job_t *j, const qf_run_row_t *row);

/* ---- worker_run.c: the pipeline for a delivery (calls worker_settle.c) */

/* Runs (or resumes) the pipeline for the job and settles it. */
qf__settled_t qf__job_run(job_t *j, qf_request_t **req,
                          const qf_run_row_t *row);

/* Commits and publishes a decided (or parked) run, then settles. */
qf__settled_t qf__job_finish(job_t *j, qf_run_state_t *s);

/* Checkpoints the run after a node (the pipeline's done callback). */
int qf__job_on_node(const qf_run_state_t *s, const char *node, long long ms,
                    void *job, qf_error_t *err);

/* ---- worker_resume.c: a resume message finishes a run parked for a
 * human (calls worker_run.c and worker_settle.c). */
qf__settled_t qf__worker_resume(job_t *j);

/* ---- worker_delivery.c: one delivery to its settlement (calls the
 * three above). */
qf__settled_t qf__worker_deliver(qf__worker_t *w, const qf_amqp_message_t *m);

/* ---- worker_conn.c: the connections (calls nothing above it) */

/* Serves both AMQP connections while the worker is busy; nonzero means
 * "stop what you are doing" (a second signal, or the shutdown grace ran
 * out). */
int qf__worker_tick(void *worker);

/* Reconnects the database with backoff until it works or the worker must
 * stop; serves the AMQP connections meanwhile. */
int qf__worker_restore_db(qf__worker_t *w);

/* Opens an AMQP connection named name (confirm mode when confirm). */
int qf__worker_connect_amqp(qf__worker_t *w, qf_amqp_t **c, const char *name,
                            int confirm, qf_error_t *err);

/* Connects the database (when needed), both AMQP connections, declares
 * the topology and starts consuming; on failure nothing stays open but
 * the database. */
int qf__worker_connect_all(qf__worker_t *w, qf_error_t *err);

/* Closes both AMQP connections. */
void qf__worker_disconnect(qf__worker_t *w);

/* Sleeps for the backoff of the current failure count (and counts one
 * more), in slices so that signals are noticed and the connections stay
 * served. */
void qf__worker_backoff(qf__worker_t *w);

#endif
