/* dl.h: a shared library loaded on first use rather than linked, so a
 * program that never needs it never maps it (libcurl for the approver's
 * webhooks, libgit2 for sources and repositories; DESIGN 4b). The callers
 * keep their own table of entry points and load it once (pthread_once). */
#ifndef QF_DL_H
#define QF_DL_H

#include <stddef.h>

/* One entry point: its name, and the function pointer to set (as void **:
 * POSIX guarantees the conversion dlsym needs). */
typedef struct qf_dl_sym {
  const char *name;
  void **slot;
} qf_dl_sym_t;

/* The library to load: the environment variable env when it is set and
 * not empty (another flavour, a path), else fallback. Not owned. */
const char *qf_dl_name(const char *env, const char *fallback);

/* dlopen(name) (RTLD_NOW, RTLD_LOCAL) and each symbol into its slot.
 * Returns the handle; NULL with why (n bytes) naming the library and
 * dlerror()'s reason or the missing symbol, the library closed again. */
void *qf_dl_load(const char *name, const qf_dl_sym_t *syms, size_t nsyms,
                 char *why, size_t n);

#endif
