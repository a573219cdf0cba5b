/* webhook.c: one bounded, signed HTTP POST of a notification (libcurl,
 * loaded on first use: curl_dl.h); the retries are the outbox's
 * (approver.c, migration 006). */
#include <stdio.h>
#include <string.h>

#include "qf/approver.h"
#include "qf/hash.h"
#include "qf/version.h"
#include "curl_dl.h"

static size_t discard(void *p, size_t size, size_t n, void *ctx) {
  (void)p;
  (void)ctx;
  return size * n; /* the answer's body is not ours to keep */
}

/* The headers of one post: what it is, which delivery (a receiver
 * deduplicates by it), who sent it, and the body's HMAC under the shared
 * secret, as GitHub signs its webhooks (X-Hub-Signature-256). */
static struct curl_slist *headers(const qf__curl_t *cu,
                                  const qf_webhook_msg_t *m, const char *body,
                                  qf_error_t *err) {
  char line[160], mac[QF_SHA256_HEX_LEN + 1];
  struct curl_slist *h =
      cu->slist_append(NULL, "Content-Type: application/json");
  h = h ? cu->slist_append(h, "User-Agent: qf-approver/" QF_VERSION) : NULL;
  snprintf(line, sizeof line, "X-QF-Event: %s", m->event);
  h = h ? cu->slist_append(h, line) : NULL;
  snprintf(line, sizeof line, "X-QF-Delivery: %lld", m->delivery_id);
  h = h ? cu->slist_append(h, line) : NULL;
  if (h && m->secret && m->secret[0]) {
    if (qf_hmac_sha256_hex(m->secret, strlen(m->secret), body, strlen(body),
                           mac) < 0) {
      cu->slist_free_all(h);
      qf_error_set(err, QF_EINTERNAL, "webhook: cannot sign the body");
      return NULL;
    }
    snprintf(line, sizeof line, "X-QF-Signature-256: sha256=%s", mac);
    h = cu->slist_append(h, line);
  }
  if (h == NULL) qf_error_set(err, QF_ENOMEM, "out of memory");
  return h;
}

int qf_webhook_send(const qf_webhook_msg_t *m, const char *body,
                    qf_error_t *err) {
  char where[300];
  long status = 0;
  const qf__curl_t *cu = qf__curl(err);
  if (cu == NULL) return err ? err->code : QF_ENOLIB;
  qf_webhook_describe(m->url, where, sizeof where);
  struct curl_slist *h = headers(cu, m, body, err);
  CURL *c = h ? cu->easy_init() : NULL;
  if (c == NULL) {
    cu->slist_free_all(h);
    return h ? qf_error_set(err, QF_ENOMEM, "out of memory")
             : (err ? err->code : QF_ENOMEM);
  }
  cu->easy_setopt(c, CURLOPT_URL, m->url);
  cu->easy_setopt(c, CURLOPT_HTTPHEADER, h);
  cu->easy_setopt(c, CURLOPT_POSTFIELDS, body);
  cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)m->timeout_ms);
  cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)m->timeout_ms);
  cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in our process */
  cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = cu->easy_perform(c);
  if (rc == CURLE_OK) cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  cu->slist_free_all(h);
  cu->easy_cleanup(c);
  /* The URL's path and query may hold its secret: only scheme://host is
   * ever said. */
  if (rc != CURLE_OK)
    return qf_error_set(err,
                        rc == CURLE_OPERATION_TIMEDOUT ? QF_ETIMEDOUT : QF_EIO,
                        "webhook %s: %s", where, cu->easy_strerror(rc));
  if (status < 200 || status > 299)
    return qf_error_set(err, QF_EIO, "webhook %s: HTTP %ld", where, status);
  return QF_OK;
}

void qf_webhook_describe(const char *url, char *out, size_t n) {
  if (n == 0) return;
  const qf__curl_t *cu = qf__curl(NULL);
  CURLU *u = cu ? cu->url() : NULL;
  char *scheme = NULL, *host = NULL;
  if (u && cu->url_set(u, CURLUPART_URL, url ? url : "", 0) == CURLUE_OK &&
      cu->url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      cu->url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
    snprintf(out, n, "%s://%s", scheme, host);
  else
    snprintf(out, n, "(a webhook URL that does not parse)");
  if (cu) {
    cu->free(scheme);
    cu->free(host);
    cu->url_cleanup(u);
  }
}
