/* worker_internal.h: what worker.c (the loop and the connections) and
 * worker_delivery.c (one delivery) share. Not public. */
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
  int64_t node_started_ms;
  const char *reply_to;       /* where the decision also goes, or NULL */
  const char *correlation_id; /* echoed on every message about the run */
  const char *approver;       /* a resume approved before execute: who */
  const char *approval_comment;
} job_t;

/* Acks (ack nonzero) or nacks (requeue or dead-letter) the delivery. */
qf__settled_t qf__job_settle(job_t *j, int ack, int requeue);

/* Publishes evidence (may be NULL), decision and the reply, confirmed. */
int qf__job_publish_all(job_t *j, const cJSON *message, const cJSON *evidence,
                        const char *reply_to);

/* Dead-letters the delivery with x-qf-error = why, then acks it. */
qf__settled_t qf__job_dead_letter(job_t *j, const char *why);

/* Reconnects the database, then requeues the delivery. */
qf__settled_t qf__job_db_failure(job_t *j, const char *what);

/* Re-publishes a finished run's stored messages and acks. */
qf__settled_t qf__job_republish(job_t *j, const qf_run_row_t *row);

/* Runs (or resumes) the pipeline for the job and settles it. */
qf__settled_t qf__job_run(job_t *j, qf_request_t **req,
                          const qf_run_row_t *row);

/* Commits and publishes a decided (or parked) run, then settles. */
qf__settled_t qf__job_finish(job_t *j, qf_run_state_t *s);

/* Checkpoints the run after a node (the pipeline's done callback). */
int qf__job_on_node(const qf_run_state_t *s, const char *node, void *job);

/* A resume message: finishes a run parked for a human (worker_resume.c). */
qf__settled_t qf__worker_resume(job_t *j);

/* Processes one delivery to its settlement. */
qf__settled_t qf__worker_deliver(qf__worker_t *w, const qf_amqp_message_t *m);

/* Serves both AMQP connections while the worker is busy; nonzero means
 * "stop what you are doing" (a second signal, or the shutdown grace ran
 * out). */
int qf__worker_tick(void *worker);

/* Reconnects the database with backoff until it works or the worker must
 * stop; serves the AMQP connections meanwhile. */
int qf__worker_restore_db(qf__worker_t *w);

#endif
