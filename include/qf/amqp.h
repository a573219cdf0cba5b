/* amqp.h: one AMQP 0-9-1 connection (librabbitmq-c 0.11) with channel 1.
 *
 * It wraps rabbitmq-c's two error channels (int status, amqp_rpc_reply_t)
 * once, translating them into QF codes: QF_EAMQPCONN when the connection
 * is lost or closed (reconnect), QF_EAMQP for a channel-level refusal
 * (for example 406 PRECONDITION_FAILED on a queue declared with other
 * arguments), QF_ENACK for a message the broker did not confirm, and
 * QF_ETIMEDOUT.
 *
 * A connection is used by one thread. Publishing with confirms reads
 * frames from the socket, so a connection that consumes must not also
 * publish with confirms (it would swallow deliveries): open two.
 */
#ifndef QF_AMQP_H
#define QF_AMQP_H

#include <amqp.h>
#include <stddef.h>
#include <stdint.h>

#include "qf/err.h"

typedef struct qf_amqp qf_amqp_t;

/* Default heartbeat (seconds): short enough to notice a dead broker fast. */
#define QF_AMQP_HEARTBEAT_S_DEFAULT 15
/* TCP connect and AMQP handshake timeout (seconds). */
#define QF_AMQP_CONNECT_TIMEOUT_S_DEFAULT 10

typedef struct qf_amqp_opts {
  const char *url;             /* amqp://user:pass@host:port/vhost */
  const char *connection_name; /* shown in the broker's UI; may be NULL */
  int heartbeat_s;             /* 0: QF_AMQP_HEARTBEAT_S_DEFAULT */
  int connect_timeout_s;       /* 0: QF_AMQP_CONNECT_TIMEOUT_S_DEFAULT */
  int confirm;                 /* nonzero: put channel 1 in confirm mode */
} qf_amqp_opts_t;

/* A header of type string (the only kind we send). Borrowed. */
typedef struct qf_amqp_header {
  const char *key;
  const char *value;
} qf_amqp_header_t;

/* An outgoing message. Every pointer is borrowed for the call; NULL
 * string properties are left unset. */
typedef struct qf_amqp_msg {
  const void *body;
  size_t body_len;
  const char *content_type;
  const char *message_id;
  const char *correlation_id;
  const char *reply_to;
  const qf_amqp_header_t *headers;
  size_t nheaders;
  int transient; /* nonzero: delivery_mode 1; default persistent */
} qf_amqp_msg_t;

/* A received message; every member is owned (qf_amqp_message_fini). */
typedef struct qf_amqp_message {
  char *body; /* NUL-terminated copy of the body (which may contain NULs) */
  size_t body_len;
  char *content_type, *message_id, *correlation_id, *reply_to;
  char *exchange, *routing_key;
  qf_amqp_header_t *headers; /* string-valued headers, owned */
  size_t nheaders;
  uint64_t delivery_tag;
  int redelivered;
} qf_amqp_message_t;

/* Connects, logs in and opens channel 1. On success *out is owned by the
 * caller (qf_amqp_free). Errors name the broker (password redacted). */
int qf_amqp_connect(const qf_amqp_opts_t *opts, qf_amqp_t **out,
                    qf_error_t *err) QF_MUSTCHECK;

/* Closes the channel and connection politely (bounded), then frees.
 * NULL allowed. */
void qf_amqp_free(qf_amqp_t *c);

/* The librabbitmq state (borrowed) and the negotiated heartbeat. */
amqp_connection_state_t qf_amqp_state(qf_amqp_t *c);
int qf_amqp_heartbeat_s(const qf_amqp_t *c);

/* Checks the reply of the last RPC-style call (what names it for the
 * message). Marks the connection dead on a connection-level failure. */
int qf_amqp_rpc_check(qf_amqp_t *c, const char *what,
                      qf_error_t *err) QF_MUSTCHECK;

/* Declares a durable (or, exclusive, a server-named temporary) queue.
 * args may be NULL. With name "" the broker names it; *name_out (if not
 * NULL) gets a malloc'ed copy of the name. */
int qf_amqp_declare_queue(qf_amqp_t *c, const char *name, int exclusive,
                          const amqp_table_t *args, char **name_out,
                          qf_error_t *err) QF_MUSTCHECK;

int qf_amqp_delete_queue(qf_amqp_t *c, const char *name,
                         qf_error_t *err) QF_MUSTCHECK;

/* Publishes with mandatory=1. On a confirm-mode connection it waits up to
 * timeout_ms for the broker's ack: a nack, a return (unroutable) or a
 * timeout is a failure (QF_ENACK / QF_ETIMEDOUT) and the caller retries. */
int qf_amqp_publish(qf_amqp_t *c, const char *exchange, const char *routing_key,
                    const qf_amqp_msg_t *msg, int timeout_ms,
                    qf_error_t *err) QF_MUSTCHECK;

/* basic.get, polling until a message arrives or timeout_ms passes
 * (QF_ETIMEDOUT). With no_ack zero the message must be acked. */
int qf_amqp_get(qf_amqp_t *c, const char *queue, int no_ack, int timeout_ms,
                qf_amqp_message_t *out, qf_error_t *err) QF_MUSTCHECK;

int qf_amqp_ack(qf_amqp_t *c, uint64_t delivery_tag,
                qf_error_t *err) QF_MUSTCHECK;

/* Releases the members of m and zeroes it. NULL allowed. */
void qf_amqp_message_fini(qf_amqp_message_t *m);

/* Returns the value of string header key, or NULL (borrowed from m). */
const char *qf_amqp_message_header(const qf_amqp_message_t *m, const char *key);

#endif
