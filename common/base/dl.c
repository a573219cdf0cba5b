/* dl.c: libraries loaded on first use (dl.h). */
#include "qf/dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

const char *qf_dl_name(const char *env, const char *fallback) {
  const char *s = getenv(env);
  return s && s[0] ? s : fallback;
}

void *qf_dl_load(const char *name, const qf_dl_sym_t *syms, size_t nsyms,
                 char *why, size_t n) {
  void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char *e = dlerror();
    snprintf(why, n, "cannot load %s: %s", name, e ? e : "unknown error");
    return NULL;
  }
  for (size_t i = 0; i < nsyms; i++)
    if ((*syms[i].slot = dlsym(h, syms[i].name)) == NULL) {
      snprintf(why, n, "%s: no %s", name, syms[i].name);
      dlclose(h);
      return NULL;
    }
  return h;
}
