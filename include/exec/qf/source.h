/* source.h: the change under test (DESIGN 4a). A worker keeps one bare
 * mirror per repository under a cache directory, fetches into it in
 * process with libgit2 (no git child), resolves a ref or finds a commit,
 * and checks the commit out into a worktree of the run's own, removed
 * when the run lets go of it, or by the next start of any worker on the
 * host after a crash.
 *
 * Concurrency: workers on one host may share the cache. A mirror is
 * fetched and read under an flock of its own; a worktree is held by an
 * flock for its life, so a sweep removes only worktrees nobody holds.
 * Credentials (qf_source_cfg_t) are used by the fetch only: they never
 * reach a tool (QF_* never does), a log or the evidence.
 */
#ifndef QF_SOURCE_H
#define QF_SOURCE_H

#include "qf/err.h"

typedef struct qf_source_cfg {
  const char *cache_dir;  /* mirrors and worktrees; created when missing */
  const char *ssh_key;    /* private key file for ssh URLs, or NULL */
  const char *ssh_pubkey; /* its public key file, or NULL */
  const char *ssh_passphrase;
  const char *username; /* for https; NULL: "x-access-token" with a token */
  const char *token;    /* https password or token, or NULL */
  int timeout_s;        /* a fetch stops after this long; 0: 600 */
  int (*tick)(void *);  /* called while a fetch runs; nonzero cancels */
  void *tick_ctx;
} qf_source_cfg_t;

/* A checked-out commit. Owned by the caller: qf_source_tree_free removes
 * the worktree. */
typedef struct qf_source_tree {
  char *dir; /* absolute path of the worktree */
  char commit[41];
  int lock_fd; /* held while the tree exists */
} qf_source_tree_t;

/* Fetches what is needed and checks out into a new worktree for run_id:
 * with commit (40 hex) that commit (no fetch when the mirror has it
 * already); otherwise ref (a branch, tag or full ref name) resolved now.
 * Errors: QF_ENOSOURCE when the repository answered but has no such
 * commit or ref (err says which; retrying will not help), QF_ESOURCE when
 * fetching failed (network, authentication, a timeout: worth another
 * try), QF_ECANCELED when tick asked, QF_EIO/QF_ENOMEM on our side. */
int qf_source_checkout(const qf_source_cfg_t *cfg, const char *repo,
                       const char *ref, const char *commit, const char *run_id,
                       qf_source_tree_t **out, qf_error_t *err) QF_MUSTCHECK;

/* Removes the worktree and lets go of it. NULL allowed. */
void qf_source_tree_free(qf_source_tree_t *t);

/* Removes the worktrees under cache_dir that no live process holds (left
 * by a worker that died). Returns how many, or a negative code. */
int qf_source_sweep(const char *cache_dir, qf_error_t *err);

#endif
