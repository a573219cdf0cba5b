/* amqp_socket.c: the socket under a connection: plain TCP for amqp://,
 * TLS with the broker's certificate and host name verified for amqps://.
 * A TLS setting that cannot be honoured is an error, never a quiet plain
 * connection. */
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <stdlib.h>
#include <unistd.h>

#include "amqp_internal.h"

/* The system's CA bundle (Debian's ca-certificates), used when amqps://
 * names no CA file of its own. */
#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

static const char *setting(const char *given, const char *env) {
  if (given && given[0]) return given;
  const char *v = getenv(env);
  return v && v[0] ? v : NULL;
}

int qf__amqp_tls_from(const qf_amqp_opts_t *o, qf__amqp_tls_t *t,
                      qf_error_t *err) {
  t->ca = setting(o->tls_ca, "QF_AMQP_CACERT");
  t->cert = setting(o->tls_cert, "QF_AMQP_CERT");
  t->key = setting(o->tls_key, "QF_AMQP_KEY");
  if ((t->cert == NULL) != (t->key == NULL))
    return qf_error_set(err, QF_EINVAL,
                        "a client certificate needs both QF_AMQP_CERT and "
                        "QF_AMQP_KEY");
  return QF_OK;
}

static int tls_socket(amqp_connection_state_t st, const qf__amqp_tls_t *t,
                      amqp_socket_t **out, qf_error_t *err) {
  amqp_socket_t *s = amqp_ssl_socket_new(st);
  if (s == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  const char *ca = t->ca;
  if (ca == NULL && access(SYSTEM_CA, R_OK) == 0) ca = SYSTEM_CA;
  if (ca == NULL)
    return qf_error_set(err, QF_EINVAL,
                        "amqps:// needs a CA to verify the broker: set "
                        "QF_AMQP_CACERT (no system bundle at %s)",
                        SYSTEM_CA);
  amqp_ssl_socket_set_verify_peer(s, 1);
  amqp_ssl_socket_set_verify_hostname(s, 1);
  if (amqp_ssl_socket_set_cacert(s, ca) != AMQP_STATUS_OK)
    return qf_error_set(err, QF_EINVAL, "cannot read the CA file %s", ca);
  if (t->cert && amqp_ssl_socket_set_key(s, t->cert, t->key) != AMQP_STATUS_OK)
    return qf_error_set(err, QF_EINVAL,
                        "cannot read the client certificate %s or key %s",
                        t->cert, t->key);
  *out = s;
  return QF_OK;
}

int qf__amqp_open_socket(qf_amqp_t *c, const struct amqp_connection_info *ci,
                         const qf__amqp_tls_t *t, int timeout_s,
                         const char *where, qf_error_t *err) {
  amqp_socket_t *sock = NULL;
  if (!ci->ssl && (t->ca || t->cert))
    return qf_error_set(err, QF_EINVAL,
                        "TLS settings (QF_AMQP_CACERT, QF_AMQP_CERT) are set "
                        "but %s is not amqps://: refusing a plain connection",
                        where);
  int rc = QF_OK;
  if (ci->ssl)
    rc = tls_socket(c->state, t, &sock, err);
  else if ((sock = amqp_tcp_socket_new(c->state)) == NULL)
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  if (rc < 0) return rc;
  struct timeval tv = {timeout_s, 0};
  amqp_set_handshake_timeout(c->state, &tv);
  int st = amqp_socket_open_noblock(sock, ci->host, ci->port, &tv);
  if (st != AMQP_STATUS_OK)
    return qf_error_set(err, QF_EAMQPCONN, "cannot connect to %s%s: %s", where,
                        ci->ssl ? " (TLS)" : "", amqp_error_string2(st));
  return QF_OK;
}
