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
  /* amqps:// only: the CA that signs the broker's certificate (NULL:
   * $QF_AMQP_CACERT, else the system bundle) and a client certificate and
   * key (NULL: $QF_AMQP_CERT, $QF_AMQP_KEY). The broker's certificate and
   * host name are always verified; a TLS setting with a plain amqp:// URL
   * is refused (QF_EINVAL), never ignored. */
  const char *tls_ca, *tls_cert, *tls_key;
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
  void *props; /* every property and header as received (opaque, owned):
                  qf_amqp_republish sends them again */
} qf_amqp_message_t;

/* Connects, logs in and opens channel 1. On success *out is owned by the
 * caller (qf_amqp_free). Errors name the broker (password redacted). */
int qf_amqp_connect(const qf_amqp_opts_t *opts, qf_amqp_t **out,
                    qf_error_t *err) QF_MUSTCHECK;

/* url as it may be shown: amqp[s]://user@host:port/vhost as librabbitmq
 * parses it, never the password; a URL that does not parse is not shown. */
void qf_amqp_describe_url(const char *url, char *out, size_t n);

/* Closes the channel and connection politely (bounded), then frees.
 * NULL allowed. */
void qf_amqp_free(qf_amqp_t *c);

/* The librabbitmq state (borrowed) and the negotiated heartbeat. */
amqp_connection_state_t qf_amqp_state(qf_amqp_t *c);

/* The connection's socket, to poll for readability (a frame librabbitmq
 * already buffered is not seen there: ask qf_amqp_next first); -1 when
 * none. */
int qf_amqp_fd(qf_amqp_t *c);
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
 * timeout_ms for the broker's ack: a nack or a timeout is a failure
 * (QF_ENACK / QF_ETIMEDOUT) worth retrying; a return (no queue bound for
 * the routing key) is QF_ENOROUTE, which retrying cannot change. */
int qf_amqp_publish(qf_amqp_t *c, const char *exchange, const char *routing_key,
                    const qf_amqp_msg_t *msg, int timeout_ms,
                    qf_error_t *err) QF_MUSTCHECK;

/* One message of a batch: where it goes and what it is. */
typedef struct qf_amqp_out {
  const char *exchange;
  const char *routing_key;
  qf_amqp_msg_t msg;
} qf_amqp_out_t;

/* Publishes the n messages back to back (mandatory) and, on a confirm-mode
 * connection, waits once for the broker to confirm them all (DESIGN 4b: a
 * run's messages, confirmed together). QF_OK when every one was
 * confirmed; *returned (may be NULL) counts those the broker returned as
 * unroutable (confirmed, but no queue was bound for them). A nack, a
 * timeout or a lost connection fails the whole batch: publish it again
 * (its messages are idempotent for their consumers). */
int qf_amqp_publish_batch(qf_amqp_t *c, const qf_amqp_out_t *out, size_t n,
                          int timeout_ms, int *returned,
                          qf_error_t *err) QF_MUSTCHECK;

/* Publishes a received message again, whole: its body and every property
 * and header as it arrived (content_encoding, type, app_id, timestamp,
 * priority, expiration, headers of any type), plus extra string headers
 * (added, or replacing one of the same name; a NULL value removes the
 * header of that name). user_id, which the broker
 * checks against the connection's login, moves to the header
 * x-qf-original-user-id. Confirmed like qf_amqp_publish. */
int qf_amqp_republish(qf_amqp_t *c, const char *exchange,
                      const char *routing_key, const qf_amqp_message_t *m,
                      const qf_amqp_header_t *extra, size_t nextra,
                      int timeout_ms, qf_error_t *err) QF_MUSTCHECK;

/* qf_amqp_republish under another message_id (NULL: the same). */
int qf_amqp_republish_as(qf_amqp_t *c, const char *exchange,
                         const char *routing_key, const qf_amqp_message_t *m,
                         const char *message_id, const qf_amqp_header_t *extra,
                         size_t nextra, int timeout_ms,
                         qf_error_t *err) QF_MUSTCHECK;

/* basic.get, polling until a message arrives or timeout_ms passes
 * (QF_ETIMEDOUT). With no_ack zero the message must be acked. */
int qf_amqp_get(qf_amqp_t *c, const char *queue, int no_ack, int timeout_ms,
                qf_amqp_message_t *out, qf_error_t *err) QF_MUSTCHECK;

int qf_amqp_ack(qf_amqp_t *c, uint64_t delivery_tag,
                qf_error_t *err) QF_MUSTCHECK;
/* Acks delivery_tag and every earlier delivery of the channel not yet
 * settled (basic.ack with multiple): one frame for a batch. */
int qf_amqp_ack_upto(qf_amqp_t *c, uint64_t delivery_tag,
                     qf_error_t *err) QF_MUSTCHECK;

/* Declares a durable exchange of type (direct, topic, fanout). */
int qf_amqp_declare_exchange(qf_amqp_t *c, const char *name, const char *type,
                             qf_error_t *err) QF_MUSTCHECK;

/* Binds queue to exchange with key. */
int qf_amqp_bind_queue(qf_amqp_t *c, const char *queue, const char *exchange,
                       const char *key, qf_error_t *err) QF_MUSTCHECK;

/* basic.qos with prefetch_count (per consumer). */
int qf_amqp_qos(qf_amqp_t *c, int prefetch, qf_error_t *err) QF_MUSTCHECK;

/* Starts consuming queue with manual acks (the broker names the consumer);
 * one consumer per connection. */
int qf_amqp_consume(qf_amqp_t *c, const char *queue,
                    qf_error_t *err) QF_MUSTCHECK;

/* Stops consuming (basic.cancel); no-op when not consuming. */
int qf_amqp_cancel(qf_amqp_t *c, qf_error_t *err) QF_MUSTCHECK;

/* Waits up to timeout_ms for the next delivery: 1 and *out filled (the
 * caller owns it: qf_amqp_message_fini), 0 when none came, or a negative
 * code (QF_EAMQPCONN: reconnect). Deliveries that qf_amqp_service read
 * while the caller was busy come first, in order. */
int qf_amqp_next(qf_amqp_t *c, int timeout_ms, qf_amqp_message_t *out,
                 qf_error_t *err) QF_MUSTCHECK;

/* Serves the connection without blocking: sends due heartbeats, notices
 * missed ones and closes, and keeps any delivery that arrives for
 * qf_amqp_next. Call it at least every few seconds while busy (librabbitmq
 * does no background work). QF_EAMQPCONN when the connection is gone. */
int qf_amqp_service(qf_amqp_t *c, qf_error_t *err) QF_MUSTCHECK;

/* basic.nack of one delivery; requeue nonzero puts it back in the queue,
 * zero dead-letters it. */
int qf_amqp_nack(qf_amqp_t *c, uint64_t delivery_tag, int requeue,
                 qf_error_t *err) QF_MUSTCHECK;

/* Releases the members of m and zeroes it. NULL allowed. */
void qf_amqp_message_fini(qf_amqp_message_t *m);

/* Returns the value of string header key, or NULL (borrowed from m). */
const char *qf_amqp_message_header(const qf_amqp_message_t *m, const char *key);

/* The value of an integer header (any width), e.g. a quorum queue's
 * x-delivery-count; -1 when there is none or it is not an integer. */
long long qf_amqp_message_int_header(const qf_amqp_message_t *m,
                                     const char *key);

#endif
