/* worker_internal.h: what worker.c (the loop and the connections) and
 * worker_delivery.c (one delivery) share. Not public. */
#ifndef QF_WORKER_INTERNAL_H
#define QF_WORKER_INTERNAL_H

#include <stdint.h>

#include "qf/amqp.h"
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

/* Processes one delivery to its settlement. */
qf__settled_t qf__worker_deliver(qf__worker_t *w, const qf_amqp_message_t *m);

/* Milliseconds on the monotonic clock. */
int64_t qf__worker_now_ms(void);

/* Serves both AMQP connections while the worker is busy; nonzero means
 * "stop what you are doing" (a second signal, or the shutdown grace ran
 * out). */
int qf__worker_tick(void *worker);

/* Reconnects the database with backoff until it works or the worker must
 * stop; serves the AMQP connections meanwhile. */
int qf__worker_restore_db(qf__worker_t *w);

#endif
