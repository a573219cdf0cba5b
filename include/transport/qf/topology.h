/* topology.h: the exchanges, queues and bindings of DESIGN.md section 3,
 * all named from one prefix (default "qf"), and declaring them. */
#ifndef QF_TOPOLOGY_H
#define QF_TOPOLOGY_H

#include "qf/amqp.h"
#include "qf/err.h"

#define QF_TOPOLOGY_NAME_MAX 128

/* Names of the topology; all derive from one prefix (default "qf"). */
typedef struct qf_topology {
  char requests[QF_TOPOLOGY_NAME_MAX];   /* <p>.requests, direct */
  char decisions[QF_TOPOLOGY_NAME_MAX];  /* <p>.decisions, topic */
  char evidence[QF_TOPOLOGY_NAME_MAX];   /* <p>.evidence, topic */
  char dead[QF_TOPOLOGY_NAME_MAX];       /* <p>.dead, fanout */
  char queue[QF_TOPOLOGY_NAME_MAX];      /* <p>.orchestrations, quorum */
  char dead_queue[QF_TOPOLOGY_NAME_MAX]; /* <p>.orchestrations.dead */
  char hitl[QF_TOPOLOGY_NAME_MAX];       /* <p>.hitl */
} qf_topology_t;

/* Fills the names from prefix; QF_EINVAL when they would not fit. */
int qf_topology_init(qf_topology_t *t, const char *prefix) QF_MUSTCHECK;

/* Declares every exchange, queue and binding of t on c (idempotent: the
 * worker and the approver both do it at every connect; different
 * arguments are a 406 error naming the queue). */
int qf_topology_declare(qf_amqp_t *c, const qf_topology_t *t,
                        int delivery_limit, qf_error_t *err) QF_MUSTCHECK;

#endif
