/* amqp_internal.h: what amqp.c and amqp_consume.c share. Not public. */
#ifndef QF_AMQP_INTERNAL_H
#define QF_AMQP_INTERNAL_H

#include <amqp.h>
#include <amqp_framing.h>
#include <stdint.h>

#include "qf/amqp.h"

#define CHANNEL 1

/* Deliveries read while waiting for something else (a tool, a confirm)
 * wait here, so that none is swallowed (Hazard B of the recipe). */
typedef struct qf__pending {
  qf_amqp_message_t msg;
  struct qf__pending *next;
} qf__pending_t;

struct qf_amqp {
  amqp_connection_state_t state;
  int open;          /* channel 1 is open: close it politely on free */
  int dead;          /* the connection failed: do not talk to it any more */
  int confirm;       /* channel in confirm mode */
  uint64_t next_tag; /* delivery tag the next publish will get */
  int heartbeat_s;
  char *consumer_tag; /* set while consuming */
  qf__pending_t *pending, *pending_tail;
};

char *qf__amqp_bytes_dup(amqp_bytes_t b);
int qf__amqp_reply_check(qf_amqp_t *c, amqp_rpc_reply_t r, const char *what,
                         qf_error_t *err);
int qf__amqp_server_close(qf_amqp_t *c, const amqp_method_t *m,
                          const char *what, qf_error_t *err);
int qf__amqp_copy_message(const amqp_message_t *msg, qf_amqp_message_t *out);
/* Frees the pending deliveries (on free). */
void qf__amqp_drop_pending(qf_amqp_t *c);

#endif
