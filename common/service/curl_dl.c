/* curl_dl.c: libcurl loaded on first use (see curl_dl.h). */
#include "curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Debian's libcurl4 (OpenSSL); its ABI has kept soname 4 since 2006.
 * QF_LIBCURL names another (libcurl-gnutls.so.4, a path). */
#define CURL_SONAME "libcurl.so.4"

static const char *soname(void) {
  const char *s = getenv("QF_LIBCURL");
  return s && s[0] ? s : CURL_SONAME;
}

static qf__curl_t api;
static char problem[256]; /* why it could not be loaded; "" when loaded */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* dlsym into a function pointer: POSIX guarantees the conversion. */
#define QF__SYM(field, name)                                          \
  if (ok) {                                                           \
    void *p = dlsym(h, name);                                         \
    if (p == NULL) {                                                  \
      snprintf(problem, sizeof problem, "%s: no %s", soname(), name); \
      ok = 0;                                                         \
    } else {                                                          \
      *(void **)&api.field = p;                                       \
    }                                                                 \
  }

static void load(void) {
  void *h = dlopen(soname(), RTLD_NOW | RTLD_LOCAL);
  int ok = h != NULL;
  if (!ok) {
    const char *why = dlerror();
    snprintf(problem, sizeof problem, "cannot load %s: %s", soname(),
             why ? why : "unknown error");
    return;
  }
  QF__SYM(global_init, "curl_global_init")
  QF__SYM(global_cleanup, "curl_global_cleanup")
  QF__SYM(easy_init, "curl_easy_init")
  QF__SYM(easy_setopt, "curl_easy_setopt")
  QF__SYM(easy_perform, "curl_easy_perform")
  QF__SYM(easy_getinfo, "curl_easy_getinfo")
  QF__SYM(easy_cleanup, "curl_easy_cleanup")
  QF__SYM(easy_strerror, "curl_easy_strerror")
  QF__SYM(slist_append, "curl_slist_append")
  QF__SYM(slist_free_all, "curl_slist_free_all")
  QF__SYM(url, "curl_url")
  QF__SYM(url_set, "curl_url_set")
  QF__SYM(url_get, "curl_url_get")
  QF__SYM(url_cleanup, "curl_url_cleanup")
  QF__SYM(free, "curl_free")
  if (ok && api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(problem, sizeof problem, "%s: curl_global_init failed", soname());
    ok = 0;
  }
  if (!ok) dlclose(h); /* the approver stays up: webhooks fail, said why */
}

const qf__curl_t *qf__curl(qf_error_t *err) {
  pthread_once(&once, load);
  if (problem[0] == '\0') return &api;
  qf_error_set(err, QF_EIO, "%s", problem);
  return NULL;
}
