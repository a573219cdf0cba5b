/* git_dl.c: libgit2 loaded on first use (see git_dl.h). */
#include "git_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "qf/dl.h"

/* The soname of the libgit2 whose headers we were built with (CMake
 * derives it from pkg-config's version: libgit2 changes its ABI, and its
 * soname, with every minor release); QF_LIBGIT2 names another (a path, a
 * build of the same minor release). */
#ifndef QF_LIBGIT2_SONAME
#error "QF_LIBGIT2_SONAME is set by CMakeLists.txt"
#endif

static qf__git_t api;
static char problem[256]; /* why it could not be loaded; "" when loaded */
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define QF__GIT_SYM(name) {"git_" #name, (void **)&api.name},

static void load(void) {
  const qf_dl_sym_t syms[] = {QF__GIT_FUNCS(QF__GIT_SYM)};
  const char *name = qf_dl_name("QF_LIBGIT2", QF_LIBGIT2_SONAME);
  void *h = qf_dl_load(name, syms, sizeof syms / sizeof syms[0], problem,
                       sizeof problem);
  if (h && api.libgit2_init() <= 0) {
    snprintf(problem, sizeof problem, "%s: git_libgit2_init failed", name);
    dlclose(h);
  }
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
