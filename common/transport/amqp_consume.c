/* amqp_consume.c: consuming and settling (ack, nack), basic.get, and
 * keeping a consuming connection alive while its owner is busy (a tool
 * runs for minutes). */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "amqp_internal.h"
#include "qf/clock.h"

static int oom(qf_error_t *err) {
  return qf_error_set(err, QF_ENOMEM, "out of memory");
}

int qf_amqp_qos(qf_amqp_t *c, int prefetch, qf_error_t *err) {
  amqp_basic_qos(c->state, CHANNEL, 0, (uint16_t)prefetch, 0);
  return qf_amqp_rpc_check(c, "basic.qos", err);
}

int qf_amqp_consume(qf_amqp_t *c, const char *queue, qf_error_t *err) {
  amqp_basic_consume_ok_t *ok =
      amqp_basic_consume(c->state, CHANNEL, amqp_cstring_bytes(queue),
                         amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  int rc = qf_amqp_rpc_check(c, "basic.consume", err);
  if (rc < 0) return qf_error_prefix(err, "queue %s", queue);
  free(c->consumer_tag);
  c->consumer_tag = qf__amqp_bytes_dup(ok->consumer_tag);
  return c->consumer_tag ? QF_OK : oom(err);
}

int qf_amqp_cancel(qf_amqp_t *c, qf_error_t *err) {
  if (c->consumer_tag == NULL || c->dead) return QF_OK;
  /* Deliveries already in flight arrive before cancel-ok; rabbitmq-c
   * queues them, and they are nacked back (requeued) by the caller's
   * shutdown path or redelivered when the connection closes. */
  amqp_basic_cancel(c->state, CHANNEL, amqp_cstring_bytes(c->consumer_tag));
  free(c->consumer_tag);
  c->consumer_tag = NULL;
  return qf_amqp_rpc_check(c, "basic.cancel", err);
}

static int get_once(qf_amqp_t *c, const char *queue, int no_ack,
                    qf_amqp_message_t *out, int *got, qf_error_t *err) {
  amqp_maybe_release_buffers(c->state);
  amqp_rpc_reply_t r =
      amqp_basic_get(c->state, CHANNEL, amqp_cstring_bytes(queue), no_ack);
  int rc = qf__amqp_reply_check(c, r, "basic.get", err);
  if (rc < 0) return rc;
  if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) return QF_OK; /* get-empty */
  amqp_basic_get_ok_t *ok = r.reply.decoded;
  memset(out, 0, sizeof *out);
  out->delivery_tag = ok->delivery_tag;
  out->redelivered = ok->redelivered;
  out->exchange = qf__amqp_bytes_dup(ok->exchange);
  out->routing_key = qf__amqp_bytes_dup(ok->routing_key);
  amqp_message_t msg;
  r = amqp_read_message(c->state, CHANNEL, &msg, 0);
  if ((rc = qf__amqp_reply_check(c, r, "basic.get body", err)) < 0) return rc;
  rc = qf__amqp_copy_message(&msg, out);
  amqp_destroy_message(&msg);
  if (rc < 0 || !out->exchange || !out->routing_key) {
    qf_amqp_message_fini(out);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  *got = 1;
  return QF_OK;
}

int qf_amqp_get(qf_amqp_t *c, const char *queue, int no_ack, int timeout_ms,
                qf_amqp_message_t *out, qf_error_t *err) {
  int64_t deadline = qf_clock_now_ms() + timeout_ms;
  for (;;) {
    int got = 0;
    int rc = get_once(c, queue, no_ack, out, &got, err);
    if (rc < 0 || got) return rc;
    if (qf_clock_now_ms() >= deadline)
      return qf_error_set(err, QF_ETIMEDOUT, "no message on %s in %d ms", queue,
                          timeout_ms);
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

static int ack(qf_amqp_t *c, uint64_t delivery_tag, int multiple,
               qf_error_t *err) {
  int st = amqp_basic_ack(c->state, CHANNEL, delivery_tag, multiple);
  if (st != AMQP_STATUS_OK) {
    c->dead = 1;
    return qf_error_set(err, QF_EAMQPCONN, "basic.ack: %s",
                        amqp_error_string2(st));
  }
  return QF_OK;
}

int qf_amqp_ack(qf_amqp_t *c, uint64_t delivery_tag, qf_error_t *err) {
  return ack(c, delivery_tag, 0, err);
}

int qf_amqp_ack_upto(qf_amqp_t *c, uint64_t delivery_tag, qf_error_t *err) {
  return ack(c, delivery_tag, 1, err);
}

int qf_amqp_nack(qf_amqp_t *c, uint64_t delivery_tag, int requeue,
                 qf_error_t *err) {
  if (c->dead) return qf_error_set(err, QF_EAMQPCONN, "nack: connection down");
  int st = amqp_basic_nack(c->state, CHANNEL, delivery_tag, 0, requeue != 0);
  if (st != AMQP_STATUS_OK) {
    c->dead = 1;
    return qf_error_set(err, QF_EAMQPCONN, "basic.nack: %s",
                        amqp_error_string2(st));
  }
  return QF_OK;
}

/* -------------------------------------------------- receiving deliveries */

/* A basic.deliver read as a bare frame: read its content and keep it. */
static int keep_delivery(qf_amqp_t *c, const amqp_frame_t *f, qf_error_t *err) {
  const amqp_basic_deliver_t *d = f->payload.method.decoded;
  amqp_envelope_t env = {0};
  env.channel = f->channel;
  env.delivery_tag = d->delivery_tag;
  env.redelivered = d->redelivered;
  env.exchange = d->exchange;
  env.routing_key = d->routing_key;
  amqp_rpc_reply_t r = amqp_read_message(c->state, f->channel, &env.message, 0);
  int rc = qf__amqp_reply_check(c, r, "delivery body", err);
  if (rc < 0) return rc;
  rc = qf__amqp_push_pending(c, &env);
  amqp_destroy_message(&env.message);
  return rc < 0 ? oom(err) : QF_OK;
}

/* Handles a frame that is not a delivery in progress. */
static int other_frame(qf_amqp_t *c, const amqp_frame_t *f, qf_error_t *err) {
  if (f->frame_type != AMQP_FRAME_METHOD) return QF_OK;
  switch (f->payload.method.id) {
    case AMQP_BASIC_DELIVER_METHOD:
      return keep_delivery(c, f, err);
    case AMQP_BASIC_CANCEL_METHOD:
      c->dead = 1; /* the queue went away: start over */
      return qf_error_set(err, QF_EAMQPCONN, "consumer cancelled by broker");
    case AMQP_CONNECTION_CLOSE_METHOD:
    case AMQP_CHANNEL_CLOSE_METHOD:
      return qf__amqp_server_close(c, &f->payload.method, "consume", err);
    default:
      return QF_OK; /* acks, returns: nothing to do on this connection */
  }
}

int qf_amqp_service(qf_amqp_t *c, qf_error_t *err) {
  if (c->dead) return qf_error_set(err, QF_EAMQPCONN, "connection is down");
  for (;;) {
    amqp_frame_t f;
    struct timeval zero = {0, 0};
    int st = amqp_simple_wait_frame_noblock(c->state, &f, &zero);
    if (st == AMQP_STATUS_TIMEOUT) return QF_OK;
    if (st != AMQP_STATUS_OK) {
      c->dead = 1;
      return qf_error_set(err, QF_EAMQPCONN, "connection lost: %s",
                          amqp_error_string2(st));
    }
    int rc = other_frame(c, &f, err);
    if (rc < 0) return rc;
  }
}

int qf_amqp_next(qf_amqp_t *c, int timeout_ms, qf_amqp_message_t *out,
                 qf_error_t *err) {
  if (qf__amqp_pop_pending(c, out)) return 1;
  if (c->dead) return qf_error_set(err, QF_EAMQPCONN, "connection is down");
  amqp_envelope_t env;
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  amqp_maybe_release_buffers(c->state);
  amqp_rpc_reply_t r = amqp_consume_message(c->state, &env, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) {
    int rc = qf__amqp_from_envelope(&env, out);
    amqp_destroy_envelope(&env);
    return rc < 0 ? oom(err) : 1;
  }
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      r.library_error == AMQP_STATUS_TIMEOUT)
    return 0;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    amqp_frame_t f;
    if (amqp_simple_wait_frame(c->state, &f) != AMQP_STATUS_OK) {
      c->dead = 1;
      return qf_error_set(err, QF_EAMQPCONN, "connection lost");
    }
    int rc = other_frame(c, &f, err);
    return rc < 0 ? rc : qf__amqp_pop_pending(c, out);
  }
  return qf__amqp_reply_check(c, r, "consume", err);
}
