/* amqp_publish.c: publishing, with mandatory routing and, on a
 * confirm-mode connection, waiting for the broker's basic.ack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "amqp_internal.h"
#include "qf/clock.h"

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

/* The confirms a wait is for: tags first..last, each confirmed once. */
typedef struct pending {
  uint64_t first, last;
  unsigned char *done; /* one flag per tag */
  size_t left;
  int returned;
} pending_t;

/* A confirm for tag (and, with multiple, every earlier one). The broker
 * may confirm messages bound for different queues out of order. */
static void confirmed(pending_t *p, uint64_t tag, int multiple) {
  uint64_t lo = multiple ? p->first : tag, hi = tag < p->last ? tag : p->last;
  for (uint64_t t = lo < p->first ? p->first : lo; t <= hi; t++)
    if (!p->done[t - p->first]) {
      p->done[t - p->first] = 1;
      p->left--;
    }
}

/* Handles one frame received while waiting for confirms. Returns 1 when
 * the wait is over (rc in *result), 0 to keep waiting. */
static int confirm_frame(qf_amqp_t *c, const amqp_frame_t *f, pending_t *p,
                         int *result, qf_error_t *err) {
  if (f->frame_type != AMQP_FRAME_METHOD) return 0;
  const amqp_method_t *m = &f->payload.method;
  if (m->id == AMQP_BASIC_ACK_METHOD) {
    const amqp_basic_ack_t *a = m->decoded;
    confirmed(p, a->delivery_tag, a->multiple);
    *result = QF_OK;
    return p->left == 0;
  }
  if (m->id == AMQP_BASIC_NACK_METHOD) {
    *result = qf_error_set(err, QF_ENACK, "message nacked by the broker");
    return 1;
  }
  if (m->id == AMQP_BASIC_RETURN_METHOD) {
    amqp_message_t msg;
    p->returned++; /* the ack that follows still means "not delivered" */
    amqp_rpc_reply_t r = amqp_read_message(c->state, f->channel, &msg, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) amqp_destroy_message(&msg);
    return 0;
  }
  *result = qf__amqp_server_close(c, m, "publish", err);
  return 1;
}

/* Waits until the broker confirmed every tag from first to last;
 * *returned counts the messages it returned on the way. */
static int wait_confirms(qf_amqp_t *c, uint64_t first, uint64_t last,
                         int timeout_ms, int *returned, qf_error_t *err) {
  int64_t deadline = qf_clock_now_ms() + timeout_ms;
  pending_t p = {first, last, calloc(last - first + 1, 1), last - first + 1, 0};
  int result = QF_OK;
  if (p.done == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  for (;;) {
    int64_t left = deadline - qf_clock_now_ms();
    if (left <= 0) {
      result = qf_error_set(err, QF_ETIMEDOUT, "no publisher confirm in %d ms",
                            timeout_ms);
      break;
    }
    struct timeval tv = {left / 1000, (left % 1000) * 1000};
    amqp_frame_t f;
    amqp_maybe_release_buffers(c->state);
    int st = amqp_simple_wait_frame_noblock(c->state, &f, &tv);
    if (st == AMQP_STATUS_TIMEOUT) continue;
    if (st != AMQP_STATUS_OK) {
      c->dead = 1;
      result = qf_error_set(err, QF_EAMQPCONN, "waiting for confirm: %s",
                            amqp_error_string2(st));
      break;
    }
    if (confirm_frame(c, &f, &p, &result, err)) break;
  }
  free(p.done);
  *returned = p.returned;
  return result;
}

static int wait_confirm(qf_amqp_t *c, uint64_t tag, int timeout_ms,
                        qf_error_t *err) {
  int returned = 0;
  int rc = wait_confirms(c, tag, tag, timeout_ms, &returned, err);
  if (rc == QF_OK && returned)
    rc = qf_error_set(err, QF_ENOROUTE, "message returned as unroutable");
  return rc;
}

/* basic.publish (mandatory) and, on a confirm-mode connection, the wait
 * for the broker's ack. */
static int send_and_confirm(qf_amqp_t *c, const char *exchange,
                            const char *routing_key,
                            const amqp_basic_properties_t *props,
                            amqp_bytes_t body, int timeout_ms,
                            qf_error_t *err) {
  if (c->dead)
    return qf_error_set(err, QF_EAMQPCONN, "publish: connection is down");
  int st =
      amqp_basic_publish(c->state, CHANNEL, amqp_cstring_bytes(exchange),
                         amqp_cstring_bytes(routing_key), 1, 0, props, body);
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

static int send_one(qf_amqp_t *c, const qf_amqp_out_t *o, qf_error_t *err) {
  amqp_basic_properties_t props;
  amqp_table_t headers;
  amqp_table_entry_t *entries = NULL;
  if (o->msg.nheaders > 0 &&
      (entries = calloc(o->msg.nheaders, sizeof *entries)) == NULL)
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  fill_props(&o->msg, &props, &headers, entries);
  amqp_bytes_t body = {.len = o->msg.body_len, .bytes = (void *)o->msg.body};
  int st = amqp_basic_publish(
      c->state, CHANNEL, amqp_cstring_bytes(o->exchange),
      amqp_cstring_bytes(o->routing_key), 1, 0, &props, body);
  free(entries);
  if (st == AMQP_STATUS_OK) {
    if (c->confirm) c->next_tag++;
    return QF_OK;
  }
  c->dead = 1;
  return qf_error_set(err, QF_EAMQPCONN, "publish to %s/%s: %s", o->exchange,
                      o->routing_key, amqp_error_string2(st));
}

int qf_amqp_publish_batch(qf_amqp_t *c, const qf_amqp_out_t *out, size_t n,
                          int timeout_ms, int *returned, qf_error_t *err) {
  int ret = 0;
  if (returned) *returned = 0;
  if (c->dead)
    return qf_error_set(err, QF_EAMQPCONN, "publish: connection is down");
  if (n == 0) return QF_OK;
  uint64_t first = c->next_tag;
  for (size_t i = 0; i < n; i++) {
    int rc = send_one(c, &out[i], err);
    if (rc < 0) return rc;
  }
  if (!c->confirm) return QF_OK;
  int rc = wait_confirms(c, first, c->next_tag - 1, timeout_ms, &ret, err);
  if (rc < 0) return qf_error_prefix(err, "publishing %zu messages", n);
  if (returned) *returned = ret;
  return QF_OK;
}

int qf_amqp_publish(qf_amqp_t *c, const char *exchange, const char *routing_key,
                    const qf_amqp_msg_t *m, int timeout_ms, qf_error_t *err) {
  amqp_basic_properties_t props;
  amqp_table_t headers;
  amqp_table_entry_t *entries = NULL;
  if (m->nheaders > 0) {
    entries = calloc(m->nheaders, sizeof *entries);
    if (entries == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  fill_props(m, &props, &headers, entries);
  amqp_bytes_t body = {.len = m->body_len, .bytes = (void *)m->body};
  int rc =
      send_and_confirm(c, exchange, routing_key, &props, body, timeout_ms, err);
  free(entries);
  return rc;
}

/* The entries of headers plus extra (replacing entries of the same key),
 * into out (caller frees); *n their number. */
static amqp_table_entry_t *merge_headers(const amqp_table_t *headers,
                                         const qf_amqp_header_t *extra,
                                         size_t nextra, int *n) {
  size_t have = headers->num_entries > 0 ? (size_t)headers->num_entries : 0;
  amqp_table_entry_t *e = calloc(have + nextra + 1, sizeof *e);
  if (e == NULL) return NULL;
  int k = 0;
  for (size_t i = 0; i < have; i++) {
    const amqp_table_entry_t *h = &headers->entries[i];
    int replaced = 0;
    for (size_t j = 0; j < nextra && !replaced; j++)
      replaced = h->key.len == strlen(extra[j].key) &&
                 memcmp(h->key.bytes, extra[j].key, h->key.len) == 0;
    if (!replaced) e[k++] = *h;
  }
  for (size_t j = 0; j < nextra; j++) {
    if (extra[j].value == NULL) continue; /* removed */
    e[k].key = amqp_cstring_bytes(extra[j].key);
    e[k].value.kind = AMQP_FIELD_KIND_UTF8;
    e[k++].value.value.bytes = amqp_cstring_bytes(extra[j].value);
  }
  *n = k;
  return e;
}

int qf_amqp_republish(qf_amqp_t *c, const char *exchange,
                      const char *routing_key, const qf_amqp_message_t *m,
                      const qf_amqp_header_t *extra, size_t nextra,
                      int timeout_ms, qf_error_t *err) {
  return qf_amqp_republish_as(c, exchange, routing_key, m, NULL, extra, nextra,
                              timeout_ms, err);
}

int qf_amqp_republish_as(qf_amqp_t *c, const char *exchange,
                         const char *routing_key, const qf_amqp_message_t *m,
                         const char *message_id, const qf_amqp_header_t *extra,
                         size_t nextra, int timeout_ms, qf_error_t *err) {
  const amqp_basic_properties_t *orig = qf__amqp_message_props(m);
  if (orig == NULL)
    return qf_error_set(err, QF_EINVAL, "republish: no properties kept");
  amqp_basic_properties_t props = *orig;
  if (message_id) {
    props.message_id = amqp_cstring_bytes(message_id);
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
  }
  char user[256] = "";
  qf_amqp_header_t *more = calloc(nextra + 1, sizeof *more);
  if (more == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  size_t nmore = nextra;
  if (nextra) memcpy(more, extra, nextra * sizeof *more);
  /* The broker refuses a user_id other than the connection's own login. */
  if (props._flags & AMQP_BASIC_USER_ID_FLAG) {
    snprintf(user, sizeof user, "%.*s", (int)props.user_id.len,
             (const char *)props.user_id.bytes);
    more[nmore++] = (qf_amqp_header_t){"x-qf-original-user-id", user};
    props._flags &= ~AMQP_BASIC_USER_ID_FLAG;
  }
  int n = 0;
  amqp_table_entry_t *e = merge_headers(&props.headers, more, nmore, &n);
  free(more); /* e points at the strings, not at this array */
  if (e == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  props.headers = (amqp_table_t){.num_entries = n, .entries = e};
  props._flags |= AMQP_BASIC_HEADERS_FLAG;
  amqp_bytes_t body = {.len = m->body_len, .bytes = m->body};
  int rc =
      send_and_confirm(c, exchange, routing_key, &props, body, timeout_ms, err);
  free(e);
  return rc;
}
