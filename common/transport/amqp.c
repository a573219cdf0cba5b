#include "qf/clock.h"
#include "qf/amqp.h"

#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "amqp_internal.h"
#include "qf/log.h"

char *qf__amqp_bytes_dup(amqp_bytes_t b) {
  char *s = malloc(b.len + 1);
  if (s == NULL) return NULL;
  if (b.len) memcpy(s, b.bytes, b.len);
  s[b.len] = '\0';
  return s;
}

/* Describes a server close method (connection.close or channel.close). */
int qf__amqp_server_close(qf_amqp_t *c, const amqp_method_t *m,
                          const char *what, qf_error_t *err) {
  if (m->id == AMQP_CONNECTION_CLOSE_METHOD) {
    amqp_connection_close_t *cl = m->decoded;
    c->dead = 1;
    return qf_error_set(
        err, QF_EAMQPCONN, "%s: connection closed by broker: %d %.*s", what,
        cl->reply_code, (int)cl->reply_text.len, (char *)cl->reply_text.bytes);
  }
  if (m->id == AMQP_CHANNEL_CLOSE_METHOD) {
    amqp_channel_close_t *cl = m->decoded;
    /* A closed channel is unusable; our connections have one channel, so
     * the connection is treated as lost and the caller reconnects. */
    c->dead = 1;
    c->open = 0;
    return qf_error_set(err, QF_EAMQP, "%s: channel closed by broker: %d %.*s",
                        what, cl->reply_code, (int)cl->reply_text.len,
                        (char *)cl->reply_text.bytes);
  }
  return qf_error_set(err, QF_EAMQP, "%s: unexpected method %s", what,
                      amqp_method_name(m->id));
}

int qf__amqp_reply_check(qf_amqp_t *c, amqp_rpc_reply_t r, const char *what,
                         qf_error_t *err) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return QF_OK;
    case AMQP_RESPONSE_NONE:
      c->dead = 1;
      return qf_error_set(err, QF_EAMQPCONN, "%s: missing RPC reply", what);
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      c->dead = 1;
      return qf_error_set(
          err,
          r.library_error == AMQP_STATUS_TIMEOUT ? QF_ETIMEDOUT : QF_EAMQPCONN,
          "%s: %s", what, amqp_error_string2(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      return qf__amqp_server_close(c, &r.reply, what, err);
  }
  return qf_error_set(err, QF_EINTERNAL, "%s: unknown reply type", what);
}

int qf_amqp_rpc_check(qf_amqp_t *c, const char *what, qf_error_t *err) {
  return qf__amqp_reply_check(c, amqp_get_rpc_reply(c->state), what, err);
}

static int open_socket(qf_amqp_t *c, struct amqp_connection_info *ci,
                       int timeout_s, const char *where, qf_error_t *err) {
  amqp_socket_t *sock = amqp_tcp_socket_new(c->state);
  if (sock == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  struct timeval tv = {timeout_s, 0};
  amqp_set_handshake_timeout(c->state, &tv);
  int st = amqp_socket_open_noblock(sock, ci->host, ci->port, &tv);
  if (st != AMQP_STATUS_OK)
    return qf_error_set(err, QF_EAMQPCONN, "cannot connect to %s: %s", where,
                        amqp_error_string2(st));
  return QF_OK;
}

static int login(qf_amqp_t *c, struct amqp_connection_info *ci,
                 const qf_amqp_opts_t *o, const char *where, qf_error_t *err) {
  amqp_table_entry_t props[1];
  props[0].key = amqp_cstring_bytes("connection_name");
  props[0].value.kind = AMQP_FIELD_KIND_UTF8;
  props[0].value.value.bytes =
      amqp_cstring_bytes(o->connection_name ? o->connection_name : "qf");
  amqp_table_t table = {.num_entries = 1, .entries = props};
  int hb = o->heartbeat_s > 0 ? o->heartbeat_s : QF_AMQP_HEARTBEAT_S_DEFAULT;
  amqp_rpc_reply_t r = amqp_login_with_properties(
      c->state, ci->vhost, 0, AMQP_DEFAULT_FRAME_SIZE, hb, &table,
      AMQP_SASL_METHOD_PLAIN, ci->user, ci->password);
  int rc = qf__amqp_reply_check(c, r, "login", err);
  if (rc < 0) return qf_error_prefix(err, "%s", where);
  c->heartbeat_s = amqp_get_heartbeat(c->state);
  amqp_channel_open(c->state, CHANNEL);
  if ((rc = qf_amqp_rpc_check(c, "channel.open", err)) < 0) return rc;
  c->open = 1;
  if (o->confirm) {
    amqp_confirm_select(c->state, CHANNEL);
    if ((rc = qf_amqp_rpc_check(c, "confirm.select", err)) < 0) return rc;
    c->confirm = 1;
    c->next_tag = 1;
  }
  return QF_OK;
}

int qf_amqp_connect(const qf_amqp_opts_t *o, qf_amqp_t **out, qf_error_t *err) {
  int rc = QF_OK;
  char where[512];
  const char *url = o->url ? o->url : "amqp://guest:guest@127.0.0.1:5672/";
  qf_log_redact_url(url, where, sizeof where);
  char *copy = strdup(url);
  qf_amqp_t *c = calloc(1, sizeof *c);
  if (copy == NULL || c == NULL) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  struct amqp_connection_info ci;
  if (amqp_parse_url(copy, &ci) != AMQP_STATUS_OK) {
    rc = qf_error_set(err, QF_EINVAL, "invalid AMQP URL: %s", where);
    goto out;
  }
  /* By the AMQP URI spec "amqp://host/" names the empty vhost, which no
   * broker has; like pika we read it as the default vhost "/". */
  if (ci.vhost == NULL || ci.vhost[0] == '\0') ci.vhost = "/";
  c->state = amqp_new_connection();
  if (c->state == NULL) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  int timeout_s = o->connect_timeout_s > 0 ? o->connect_timeout_s
                                           : QF_AMQP_CONNECT_TIMEOUT_S_DEFAULT;
  rc = open_socket(c, &ci, timeout_s, where, err);
  if (rc == QF_OK) rc = login(c, &ci, o, where, err);
  if (rc == QF_OK) {
    *out = c;
    c = NULL;
  }
out:
  if (c) c->dead = 1; /* a failed handshake has nothing to close politely */
  qf_amqp_free(c);
  free(copy);
  return rc;
}

void qf_amqp_free(qf_amqp_t *c) {
  if (c == NULL) return;
  if (c->state) {
    if (!c->dead) {
      if (c->open) amqp_channel_close(c->state, CHANNEL, AMQP_REPLY_SUCCESS);
      amqp_connection_close(c->state, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(c->state);
  }
  qf__amqp_drop_pending(c);
  free(c->consumer_tag);
  free(c);
}

amqp_connection_state_t qf_amqp_state(qf_amqp_t *c) {
  return c->state;
}

int qf_amqp_heartbeat_s(const qf_amqp_t *c) {
  return c->heartbeat_s;
}

int qf_amqp_declare_queue(qf_amqp_t *c, const char *name, int exclusive,
                          const amqp_table_t *args, char **name_out,
                          qf_error_t *err) {
  amqp_queue_declare_ok_t *ok = amqp_queue_declare(
      c->state, CHANNEL, amqp_cstring_bytes(name), 0, !exclusive, exclusive,
      exclusive, args ? *args : amqp_empty_table);
  int rc = qf_amqp_rpc_check(c, "queue.declare", err);
  if (rc < 0) return qf_error_prefix(err, "queue %s", name);
  if (name_out) {
    *name_out = qf__amqp_bytes_dup(ok->queue);
    if (*name_out == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  return QF_OK;
}

int qf_amqp_delete_queue(qf_amqp_t *c, const char *name, qf_error_t *err) {
  amqp_queue_delete(c->state, CHANNEL, amqp_cstring_bytes(name), 0, 0);
  return qf_amqp_rpc_check(c, "queue.delete", err);
}

static void fill_props(const qf_amqp_msg_t *m, amqp_basic_properties_t *p,
                       amqp_table_t *headers, amqp_table_entry_t *entries) {
  memset(p, 0, sizeof *p);
  p->_flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  p->delivery_mode = m->transient ? 1 : AMQP_DELIVERY_PERSISTENT;
#define QF__PROP(field, flag)                \
  if (m->field) {                            \
    p->_flags |= flag;                       \
    p->field = amqp_cstring_bytes(m->field); \
  }
  QF__PROP(content_type, AMQP_BASIC_CONTENT_TYPE_FLAG)
  QF__PROP(message_id, AMQP_BASIC_MESSAGE_ID_FLAG)
  QF__PROP(correlation_id, AMQP_BASIC_CORRELATION_ID_FLAG)
  QF__PROP(reply_to, AMQP_BASIC_REPLY_TO_FLAG)
#undef QF__PROP
  if (m->nheaders > 0) {
    for (size_t i = 0; i < m->nheaders; i++) {
      entries[i].key = amqp_cstring_bytes(m->headers[i].key);
      entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
      entries[i].value.value.bytes = amqp_cstring_bytes(m->headers[i].value);
    }
    headers->num_entries = (int)m->nheaders;
    headers->entries = entries;
    p->_flags |= AMQP_BASIC_HEADERS_FLAG;
    p->headers = *headers;
  }
}

/* Handles one frame received while waiting for a confirm. Returns 1 when
 * the wait is over (rc in *result), 0 to keep waiting. */
static int confirm_frame(qf_amqp_t *c, const amqp_frame_t *f, uint64_t tag,
                         int *returned, int *result, qf_error_t *err) {
  if (f->frame_type != AMQP_FRAME_METHOD) return 0;
  const amqp_method_t *m = &f->payload.method;
  if (m->id == AMQP_BASIC_ACK_METHOD) {
    const amqp_basic_ack_t *a = m->decoded;
    if (a->delivery_tag == tag || (a->multiple && a->delivery_tag >= tag)) {
      *result = *returned ? qf_error_set(err, QF_ENOROUTE,
                                         "message returned as unroutable")
                          : QF_OK;
      return 1;
    }
    return 0;
  }
  if (m->id == AMQP_BASIC_NACK_METHOD) {
    *result = qf_error_set(err, QF_ENACK, "message nacked by the broker");
    return 1;
  }
  if (m->id == AMQP_BASIC_RETURN_METHOD) {
    amqp_message_t msg;
    *returned = 1; /* the ack that follows still means "not delivered" */
    amqp_rpc_reply_t r = amqp_read_message(c->state, f->channel, &msg, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) amqp_destroy_message(&msg);
    return 0;
  }
  *result = qf__amqp_server_close(c, m, "publish", err);
  return 1;
}

static int wait_confirm(qf_amqp_t *c, uint64_t tag, int timeout_ms,
                        qf_error_t *err) {
  int64_t deadline = qf_clock_now_ms() + timeout_ms;
  int returned = 0, result = QF_OK;
  for (;;) {
    int64_t left = deadline - qf_clock_now_ms();
    if (left <= 0)
      return qf_error_set(err, QF_ETIMEDOUT, "no publisher confirm in %d ms",
                          timeout_ms);
    struct timeval tv = {left / 1000, (left % 1000) * 1000};
    amqp_frame_t f;
    amqp_maybe_release_buffers(c->state);
    int st = amqp_simple_wait_frame_noblock(c->state, &f, &tv);
    if (st == AMQP_STATUS_TIMEOUT) continue;
    if (st != AMQP_STATUS_OK) {
      c->dead = 1;
      return qf_error_set(err, QF_EAMQPCONN, "waiting for confirm: %s",
                          amqp_error_string2(st));
    }
    if (confirm_frame(c, &f, tag, &returned, &result, err)) return result;
  }
}

int qf_amqp_publish(qf_amqp_t *c, const char *exchange, const char *routing_key,
                    const qf_amqp_msg_t *m, int timeout_ms, qf_error_t *err) {
  if (c->dead)
    return qf_error_set(err, QF_EAMQPCONN, "publish: connection is down");
  amqp_basic_properties_t props;
  amqp_table_t headers;
  amqp_table_entry_t *entries = NULL;
  if (m->nheaders > 0) {
    entries = calloc(m->nheaders, sizeof *entries);
    if (entries == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  fill_props(m, &props, &headers, entries);
  amqp_bytes_t body = {.len = m->body_len, .bytes = (void *)m->body};
  int st =
      amqp_basic_publish(c->state, CHANNEL, amqp_cstring_bytes(exchange),
                         amqp_cstring_bytes(routing_key), 1, 0, &props, body);
  free(entries);
  if (st != AMQP_STATUS_OK) {
    c->dead = 1;
    return qf_error_set(err, QF_EAMQPCONN, "publish to %s/%s: %s", exchange,
                        routing_key, amqp_error_string2(st));
  }
  if (!c->confirm) return QF_OK;
  uint64_t tag = c->next_tag++;
  int rc = wait_confirm(c, tag, timeout_ms, err);
  if (rc < 0) qf_error_prefix(err, "publish to %s/%s", exchange, routing_key);
  return rc;
}

static int copy_headers(const amqp_basic_properties_t *p,
                        qf_amqp_message_t *out) {
  if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG) || p->headers.num_entries <= 0)
    return QF_OK;
  out->headers = calloc((size_t)p->headers.num_entries, sizeof *out->headers);
  if (out->headers == NULL) return QF_ENOMEM;
  for (int i = 0; i < p->headers.num_entries; i++) {
    const amqp_table_entry_t *e = &p->headers.entries[i];
    if (e->value.kind != AMQP_FIELD_KIND_UTF8 &&
        e->value.kind != AMQP_FIELD_KIND_BYTES)
      continue; /* we only carry string headers */
    qf_amqp_header_t *h = &out->headers[out->nheaders++];
    h->key = qf__amqp_bytes_dup(e->key);
    h->value = qf__amqp_bytes_dup(e->value.value.bytes);
    if (h->key == NULL || h->value == NULL) return QF_ENOMEM;
  }
  return QF_OK;
}

int qf__amqp_copy_message(const amqp_message_t *msg, qf_amqp_message_t *out) {
  const amqp_basic_properties_t *p = &msg->properties;
  out->body = qf__amqp_bytes_dup(msg->body);
  out->body_len = msg->body.len;
  if (out->body == NULL) return QF_ENOMEM;
#define QF__COPY(field, flag)                              \
  if ((p->_flags & flag) &&                                \
      (out->field = qf__amqp_bytes_dup(p->field)) == NULL) \
    return QF_ENOMEM;
  QF__COPY(content_type, AMQP_BASIC_CONTENT_TYPE_FLAG)
  QF__COPY(message_id, AMQP_BASIC_MESSAGE_ID_FLAG)
  QF__COPY(correlation_id, AMQP_BASIC_CORRELATION_ID_FLAG)
  QF__COPY(reply_to, AMQP_BASIC_REPLY_TO_FLAG)
#undef QF__COPY
  return copy_headers(p, out);
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

int qf_amqp_ack(qf_amqp_t *c, uint64_t delivery_tag, qf_error_t *err) {
  int st = amqp_basic_ack(c->state, CHANNEL, delivery_tag, 0);
  if (st != AMQP_STATUS_OK) {
    c->dead = 1;
    return qf_error_set(err, QF_EAMQPCONN, "basic.ack: %s",
                        amqp_error_string2(st));
  }
  return QF_OK;
}

void qf_amqp_message_fini(qf_amqp_message_t *m) {
  if (m == NULL) return;
  free(m->body);
  free(m->content_type);
  free(m->message_id);
  free(m->correlation_id);
  free(m->reply_to);
  free(m->exchange);
  free(m->routing_key);
  for (size_t i = 0; i < m->nheaders; i++) {
    free((char *)m->headers[i].key);
    free((char *)m->headers[i].value);
  }
  free(m->headers);
  memset(m, 0, sizeof *m);
}

const char *qf_amqp_message_header(const qf_amqp_message_t *m,
                                   const char *key) {
  for (size_t i = 0; i < m->nheaders; i++)
    if (strcmp(m->headers[i].key, key) == 0) return m->headers[i].value;
  return NULL;
}
