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
  const amqp_basic_properties_t *orig = qf__amqp_message_props(m);
  if (orig == NULL)
    return qf_error_set(err, QF_EINVAL, "republish: no properties kept");
  amqp_basic_properties_t props = *orig;
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
