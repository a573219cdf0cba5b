/* amqp_internal.h: what the files of the amqp module share. Not public.
 * amqp_message.c depends on nothing else; amqp.c on it; amqp_publish.c,
 * amqp_declare.c and amqp_consume.c on both. */
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
/* amqp_message.c: an envelope as an owned message; the pending queue. */
int qf__amqp_from_envelope(const amqp_envelope_t *env, qf_amqp_message_t *out);
int qf__amqp_push_pending(qf_amqp_t *c, const amqp_envelope_t *env);
/* Takes the oldest pending delivery into *out: 1, or 0 when none. */
int qf__amqp_pop_pending(qf_amqp_t *c, qf_amqp_message_t *out);
/* Frees the pending deliveries (on free). */
void qf__amqp_drop_pending(qf_amqp_t *c);

/* amqp_socket.c: the TLS settings of a connection (opts, else the
 * environment: QF_AMQP_CACERT, QF_AMQP_CERT, QF_AMQP_KEY; borrowed). */
typedef struct qf__amqp_tls {
  const char *ca, *cert, *key;
} qf__amqp_tls_t;
int qf__amqp_tls_from(const qf_amqp_opts_t *o, qf__amqp_tls_t *t,
                      qf_error_t *err);
/* Opens the TCP or (amqps://) TLS socket of c, verifying the broker. */
int qf__amqp_open_socket(qf_amqp_t *c, const struct amqp_connection_info *ci,
                         const qf__amqp_tls_t *t, int timeout_s,
                         const char *where, qf_error_t *err);

/* The properties kept with a received message (NULL when none). */
const amqp_basic_properties_t *qf__amqp_message_props(
    const qf_amqp_message_t *m);

#endif
