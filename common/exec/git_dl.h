/* git_dl.h: libgit2, loaded by the first run that needs it (a source to
 * check out, a workspace inside a repository), never linked: a worker
 * whose runs need no repository does not map it or what it pulls in
 * (mbedTLS, libssh2, http-parser; DESIGN 4b: link only what each program
 * needs). The headers are libgit2's own, so every entry point keeps its
 * declared type. */
#ifndef QF_GIT_DL_H
#define QF_GIT_DL_H

#include <git2.h>

#include "qf/err.h"

/* The entry points repro.c and source.c use, without their git_ prefix. */
#define QF__GIT_FUNCS(X)               \
  X(libgit2_init)                      \
  X(error_last)                        \
  X(repository_open_ext)               \
  X(repository_open_bare)              \
  X(repository_init)                   \
  X(repository_free)                   \
  X(repository_head)                   \
  X(repository_head_detached)          \
  X(reference_target)                  \
  X(reference_shorthand)               \
  X(reference_dwim)                    \
  X(reference_peel)                    \
  X(reference_free)                    \
  X(oid_tostr)                         \
  X(oid_fromstr)                       \
  X(oid_cpy)                           \
  X(object_id)                         \
  X(object_free)                       \
  X(commit_lookup)                     \
  X(commit_tree)                       \
  X(commit_free)                       \
  X(tree_free)                         \
  X(status_options_init)               \
  X(status_list_new)                   \
  X(status_list_entrycount)            \
  X(status_list_free)                  \
  X(remote_create_options_init)        \
  X(remote_create_with_opts)           \
  X(remote_fetch)                      \
  X(remote_free)                       \
  X(fetch_options_init)                \
  X(credential_ssh_key_new)            \
  X(credential_userpass_plaintext_new) \
  X(checkout_options_init)             \
  X(checkout_tree)

#define QF__GIT_FIELD(name) __typeof__(git_##name) *name;
typedef struct qf__git {
  QF__GIT_FUNCS(QF__GIT_FIELD)
} qf__git_t;
#undef QF__GIT_FIELD

/* libgit2's entry points, loaded (and git_libgit2_init'ed) on the first
 * call, from any thread; NULL with err naming the library and dlerror()
 * when it cannot be loaded. Static: never unloaded. */
const qf__git_t *qf__git(qf_error_t *err);

/* The entry points, for a thread on which qf__git() succeeded. */
const qf__git_t *qf__git_api(void);
#define GIT (qf__git_api())

#endif
