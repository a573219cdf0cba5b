/* git_dl.c: libgit2 loaded on first use (see git_dl.h). */
#include "git_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* The soname of the libgit2 whose headers we were built with (CMake
 * derives it from pkg-config's version: libgit2 changes its ABI, and its
 * soname, with every minor release). */
#ifndef QF_LIBGIT2_SONAME
#error "QF_LIBGIT2_SONAME is set by CMakeLists.txt"
#endif

/* QF_LIBGIT2 names another (a path, a build of the same minor release). */
static const char *soname(void) {
  const char *s = getenv("QF_LIBGIT2");
  return s && s[0] ? s : QF_LIBGIT2_SONAME;
}

static qf__git_t api;
static char problem[256]; /* why it could not be loaded; "" when loaded */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* dlsym into a function pointer: POSIX guarantees the conversion. */
#define QF__GIT_SYM(name)                                     \
  if (problem[0] == '\0' &&                                   \
      (*(void **)&api.name = dlsym(h, "git_" #name)) == NULL) \
    snprintf(problem, sizeof problem, "%s: no git_%s", soname(), #name);

static void load(void) {
  void *h = dlopen(soname(), RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char *why = dlerror();
    snprintf(problem, sizeof problem, "cannot load %s: %s", soname(),
             why ? why : "unknown error");
    return;
  }
  QF__GIT_FUNCS(QF__GIT_SYM)
  if (problem[0] == '\0' && api.libgit2_init() <= 0)
    snprintf(problem, sizeof problem, "%s: git_libgit2_init failed", soname());
  if (problem[0]) dlclose(h);
}

const qf__git_t *qf__git(qf_error_t *err) {
  pthread_once(&once, load);
  if (problem[0] == '\0') return &api;
  qf_error_set(err, QF_EINTERNAL, "%s", problem);
  return NULL;
}

const qf__git_t *qf__git_api(void) {
  return &api;
}
