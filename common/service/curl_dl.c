/* curl_dl.c: libcurl loaded on first use (see curl_dl.h). */
#include "curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "qf/dl.h"

/* Debian's libcurl4 (OpenSSL); its ABI has kept soname 4 since 2006.
 * QF_LIBCURL names another (libcurl-gnutls.so.4, a path). */
#define CURL_SONAME "libcurl.so.4"

static qf__curl_t api;
static char problem[256]; /* why it could not be loaded; "" when loaded */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
  const qf_dl_sym_t syms[] = {
      {"curl_global_init", (void **)&api.global_init},
      {"curl_global_cleanup", (void **)&api.global_cleanup},
      {"curl_easy_init", (void **)&api.easy_init},
      {"curl_easy_setopt", (void **)&api.easy_setopt},
      {"curl_easy_perform", (void **)&api.easy_perform},
      {"curl_easy_getinfo", (void **)&api.easy_getinfo},
      {"curl_easy_cleanup", (void **)&api.easy_cleanup},
      {"curl_easy_strerror", (void **)&api.easy_strerror},
      {"curl_slist_append", (void **)&api.slist_append},
      {"curl_slist_free_all", (void **)&api.slist_free_all},
      {"curl_url", (void **)&api.url},
      {"curl_url_set", (void **)&api.url_set},
      {"curl_url_get", (void **)&api.url_get},
      {"curl_url_cleanup", (void **)&api.url_cleanup},
      {"curl_free", (void **)&api.free},
  };
  const char *name = qf_dl_name("QF_LIBCURL", CURL_SONAME);
  void *h = qf_dl_load(name, syms, sizeof syms / sizeof syms[0], problem,
                       sizeof problem);
  if (h && api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(problem, sizeof problem, "%s: curl_global_init failed", name);
    dlclose(h); /* qf__curl says why; the approver exits with it at start */
  }
}

const qf__curl_t *qf__curl(qf_error_t *err) {
  pthread_once(&once, load);
  if (problem[0] == '\0') return &api;
  /* The installation, not an outage: retrying will not load it. */
  qf_error_set(err, QF_ENOLIB, "%s", problem);
  return NULL;
}
