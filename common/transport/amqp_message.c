/* amqp_message.c: received messages as owned copies, and the queue of
 * deliveries read while the connection's owner waited for something else
 * (a confirm, a tool). Nothing here talks to the broker. */
#include <stdlib.h>
#include <string.h>

#include "amqp_internal.h"

char *qf__amqp_bytes_dup(amqp_bytes_t b) {
  char *s = malloc(b.len + 1);
  if (s == NULL) return NULL;
  if (b.len) memcpy(s, b.bytes, b.len);
  s[b.len] = '\0';
  return s;
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

/* Every property of a received message, deep-copied into a pool of its
 * own: what re-publishing it (a dead letter, a replay) must keep. */
struct qf__amqp_props {
  amqp_pool_t pool;
  amqp_basic_properties_t p;
};

static int dup_bytes(amqp_pool_t *pool, amqp_bytes_t *b) {
  if (b->len == 0) return QF_OK;
  amqp_bytes_t d;
  amqp_pool_alloc_bytes(pool, b->len, &d);
  if (d.bytes == NULL) return QF_ENOMEM;
  memcpy(d.bytes, b->bytes, b->len);
  *b = d;
  return QF_OK;
}

static int keep_props(const amqp_basic_properties_t *p,
                      qf_amqp_message_t *out) {
  struct qf__amqp_props *k = calloc(1, sizeof *k);
  if (k == NULL) return QF_ENOMEM;
  init_amqp_pool(&k->pool, 4096);
  k->p = *p;
  out->props = k; /* freed by qf_amqp_message_fini, even when half done */
  struct {
    amqp_bytes_t *b;
    amqp_flags_t flag;
  } fields[] = {{&k->p.content_type, AMQP_BASIC_CONTENT_TYPE_FLAG},
                {&k->p.content_encoding, AMQP_BASIC_CONTENT_ENCODING_FLAG},
                {&k->p.correlation_id, AMQP_BASIC_CORRELATION_ID_FLAG},
                {&k->p.reply_to, AMQP_BASIC_REPLY_TO_FLAG},
                {&k->p.expiration, AMQP_BASIC_EXPIRATION_FLAG},
                {&k->p.message_id, AMQP_BASIC_MESSAGE_ID_FLAG},
                {&k->p.type, AMQP_BASIC_TYPE_FLAG},
                {&k->p.user_id, AMQP_BASIC_USER_ID_FLAG},
                {&k->p.app_id, AMQP_BASIC_APP_ID_FLAG},
                {&k->p.cluster_id, AMQP_BASIC_CLUSTER_ID_FLAG}};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    if (!(p->_flags & fields[i].flag))
      *fields[i].b = amqp_empty_bytes;
    else if (dup_bytes(&k->pool, fields[i].b) < 0)
      return QF_ENOMEM;
  }
  if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG)) k->p.headers = amqp_empty_table;
  if ((p->_flags & AMQP_BASIC_HEADERS_FLAG) &&
      amqp_table_clone(&p->headers, &k->p.headers, &k->pool) != AMQP_STATUS_OK)
    return QF_ENOMEM;
  return QF_OK;
}

const amqp_basic_properties_t *qf__amqp_message_props(
    const qf_amqp_message_t *m) {
  const struct qf__amqp_props *k = m->props;
  return k ? &k->p : NULL;
}

int qf__amqp_copy_message(const amqp_message_t *msg, qf_amqp_message_t *out) {
  const amqp_basic_properties_t *p = &msg->properties;
  if (keep_props(p, out) < 0) return QF_ENOMEM;
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
  struct qf__amqp_props *k = m->props;
  if (k) {
    empty_amqp_pool(&k->pool);
    free(k);
  }
  memset(m, 0, sizeof *m);
}

const char *qf_amqp_message_header(const qf_amqp_message_t *m,
                                   const char *key) {
  for (size_t i = 0; i < m->nheaders; i++)
    if (strcmp(m->headers[i].key, key) == 0) return m->headers[i].value;
  return NULL;
}

long long qf_amqp_message_int_header(const qf_amqp_message_t *m,
                                     const char *key) {
  const amqp_basic_properties_t *p = qf__amqp_message_props(m);
  if (p == NULL) return -1;
  for (int i = 0; i < p->headers.num_entries; i++) {
    const amqp_table_entry_t *e = &p->headers.entries[i];
    if (e->key.len != strlen(key) || memcmp(e->key.bytes, key, e->key.len))
      continue;
    switch (e->value.kind) { /* brokers pick the width */
      case AMQP_FIELD_KIND_I8:
        return e->value.value.i8;
      case AMQP_FIELD_KIND_U8:
        return e->value.value.u8;
      case AMQP_FIELD_KIND_I16:
        return e->value.value.i16;
      case AMQP_FIELD_KIND_U16:
        return e->value.value.u16;
      case AMQP_FIELD_KIND_I32:
        return e->value.value.i32;
      case AMQP_FIELD_KIND_U32:
        return e->value.value.u32;
      case AMQP_FIELD_KIND_I64:
        return (long long)e->value.value.i64;
      case AMQP_FIELD_KIND_U64:
        return (long long)e->value.value.u64;
      default:
        return -1;
    }
  }
  return -1;
}

int qf__amqp_from_envelope(const amqp_envelope_t *env, qf_amqp_message_t *out) {
  memset(out, 0, sizeof *out);
  out->delivery_tag = env->delivery_tag;
  out->redelivered = env->redelivered;
  out->exchange = qf__amqp_bytes_dup(env->exchange);
  out->routing_key = qf__amqp_bytes_dup(env->routing_key);
  int rc = qf__amqp_copy_message(&env->message, out);
  if (rc < 0 || !out->exchange || !out->routing_key) {
    qf_amqp_message_fini(out);
    return QF_ENOMEM;
  }
  return QF_OK;
}

int qf__amqp_push_pending(qf_amqp_t *c, const amqp_envelope_t *env) {
  qf__pending_t *p = calloc(1, sizeof *p);
  if (p == NULL || qf__amqp_from_envelope(env, &p->msg) < 0) {
    free(p);
    return QF_ENOMEM;
  }
  if (c->pending_tail)
    c->pending_tail->next = p;
  else
    c->pending = p;
  c->pending_tail = p;
  return QF_OK;
}

void qf__amqp_drop_pending(qf_amqp_t *c) {
  while (c->pending) {
    qf__pending_t *p = c->pending;
    c->pending = p->next;
    qf_amqp_message_fini(&p->msg);
    free(p);
  }
  c->pending_tail = NULL;
}

int qf__amqp_pop_pending(qf_amqp_t *c, qf_amqp_message_t *out) {
  qf__pending_t *p = c->pending;
  if (p == NULL) return 0;
  c->pending = p->next;
  if (c->pending == NULL) c->pending_tail = NULL;
  *out = p->msg;
  free(p);
  return 1;
}
