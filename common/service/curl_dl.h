/* curl_dl.h: libcurl, loaded by the first program that posts a webhook
 * (qf approver), never linked: qf worker, the same executable, does not
 * map it or what it pulls in (HTTP/2, SSH, IDN, RTMP...; DESIGN 4b:
 * link only what each program needs). */
#ifndef QF_CURL_DL_H
#define QF_CURL_DL_H

#include <curl/curl.h>

#include "qf/err.h"

/* The libcurl entry points the approver uses. */
typedef struct qf__curl {
  CURLcode (*global_init)(long flags);
  void (*global_cleanup)(void);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *c, CURLoption option, ...);
  CURLcode (*easy_perform)(CURL *c);
  CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
  void (*easy_cleanup)(CURL *c);
  const char *(*easy_strerror)(CURLcode rc);
  struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
  void (*slist_free_all)(struct curl_slist *l);
  CURLU *(*url)(void);
  CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part,
                       unsigned int flags);
  CURLUcode (*url_get)(CURLU *u, CURLUPart what, char **part,
                       unsigned int flags);
  void (*url_cleanup)(CURLU *u);
  void (*free)(void *p);
} qf__curl_t;

/* libcurl's entry points, loaded (and curl_global_init'ed) on the first
 * call, from any thread; NULL with err naming the library and dlerror()
 * when it cannot be loaded. Static: never unloaded. */
const qf__curl_t *qf__curl(qf_error_t *err);

#endif
