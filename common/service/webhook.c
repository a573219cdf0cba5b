/* webhook.c: bounded HTTP POST of a JSON notification (libcurl). */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "qf/approver.h"

static size_t discard(void *p, size_t size, size_t n, void *ctx) {
  (void)p;
  (void)ctx;
  return size * n; /* the answer's body is not ours to keep */
}

static int post_once(const char *url, const char *body, int timeout_ms,
                     long *status, char *why, size_t n) {
  CURL *c = curl_easy_init();
  struct curl_slist *h =
      curl_slist_append(NULL, "Content-Type: application/json");
  if (c == NULL || h == NULL) {
    snprintf(why, n, "out of memory");
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return QF_ENOMEM;
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in our process */
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = curl_easy_perform(c);
  *status = 0;
  if (rc == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  else
    snprintf(why, n, "%s", curl_easy_strerror(rc));
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  if (rc == CURLE_OPERATION_TIMEDOUT) return QF_ETIMEDOUT;
  if (rc != CURLE_OK) return QF_EIO;
  if (*status < 200 || *status > 299) {
    snprintf(why, n, "HTTP %ld", *status);
    return QF_EIO;
  }
  return QF_OK;
}

int qf_webhook_post(const char *url, const char *body, int timeout_ms,
                    int tries, qf_error_t *err) {
  char why[256] = "";
  long status = 0;
  int rc = QF_EIO;
  for (int i = 0; i < tries; i++) {
    if (i > 0) { /* 0.5 s, 1 s, 2 s, ...: a restarting receiver recovers */
      long ms = 500L << (i - 1 < 6 ? i - 1 : 6);
      struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
      nanosleep(&ts, NULL);
    }
    rc = post_once(url, body, timeout_ms, &status, why, sizeof why);
    if (rc == QF_OK) return QF_OK;
  }
  char where[300];
  qf_webhook_describe(url, where, sizeof where);
  return qf_error_set(err, rc, "webhook %s: %s after %d attempts", where, why,
                      tries);
}

void qf_webhook_describe(const char *url, char *out, size_t n) {
  if (n == 0) return;
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  if (u && curl_url_set(u, CURLUPART_URL, url ? url : "", 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
    snprintf(out, n, "%s://%s", scheme, host);
  else
    snprintf(out, n, "(a webhook URL that does not parse)");
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
}
