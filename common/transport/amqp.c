/* amqp.c: one connection: connect, log in, open channel 1 (with confirms
 * when asked), translate rabbitmq-c's replies into QF codes, close. */
#include "qf/amqp.h"

#include <amqp_framing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "amqp_internal.h"

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

/* The broker said no to who we are, not that it is away: ACCESS_REFUSED
 * (a wrong user or password: RabbitMQ closes with 403 once the client
 * announces authentication_failure_close, as rabbitmq-c does) or
 * NOT_ALLOWED (a vhost that does not exist or is not ours). Retrying
 * will not help; the configuration must change. */
static int login_refused(amqp_rpc_reply_t r) {
  if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION ||
      r.reply.id != AMQP_CONNECTION_CLOSE_METHOD)
    return 0;
  const amqp_connection_close_t *cl = r.reply.decoded;
  return cl->reply_code == AMQP_ACCESS_REFUSED ||
         cl->reply_code == AMQP_NOT_ALLOWED;
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
  if (rc < 0 && login_refused(r) && err) err->code = rc = QF_EAUTH;
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

void qf_amqp_describe_url(const char *url, char *out, size_t n) {
  if (n == 0) return;
  char *copy = strdup(url ? url : "");
  struct amqp_connection_info ci;
  if (copy == NULL || amqp_parse_url(copy, &ci) != AMQP_STATUS_OK)
    snprintf(out, n, "(an AMQP URL that does not parse)");
  else
    snprintf(out, n, "%s://%s@%s:%d/%s", ci.ssl ? "amqps" : "amqp", ci.user,
             ci.host, ci.port,
             ci.vhost && ci.vhost[0] && strcmp(ci.vhost, "/") != 0 ? ci.vhost
                                                                   : "%2f");
  free(copy);
}

int qf_amqp_connect(const qf_amqp_opts_t *o, qf_amqp_t **out, qf_error_t *err) {
  int rc = QF_OK;
  char where[512];
  const char *url = o->url ? o->url : "amqp://guest:guest@127.0.0.1:5672/";
  qf_amqp_describe_url(url, where, sizeof where);
  char *copy = strdup(url);
  qf_amqp_t *c = calloc(1, sizeof *c);
  if (copy == NULL || c == NULL) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  struct amqp_connection_info ci;
  if (amqp_parse_url(copy, &ci) != AMQP_STATUS_OK) {
    rc = qf_error_set(err, QF_EINVAL,
                      "invalid AMQP URL (not shown: it may hold a password); "
                      "expected amqp[s]://user:password@host:port/vhost");
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
  qf__amqp_tls_t tls;
  rc = qf__amqp_tls_from(o, &tls, err);
  if (rc == QF_OK)
    rc = qf__amqp_open_socket(c, &ci, &tls, timeout_s, where, err);
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

int qf_amqp_fd(qf_amqp_t *c) {
  return c && c->state ? amqp_get_sockfd(c->state) : -1;
}

amqp_connection_state_t qf_amqp_state(qf_amqp_t *c) {
  return c->state;
}

int qf_amqp_heartbeat_s(const qf_amqp_t *c) {
  return c->heartbeat_s;
}
