/* repro.h: the facts that let someone reproduce a run, collected into its
 * evidence (ev->repro). Reads the workspace's repository in process
 * (libgit2): no child process. */
#ifndef QF_REPRO_H
#define QF_REPRO_H

#include "qf/evidence.h"

/* Collects repro facts about workspace: git sha, branch and dirty state
 * (changed, staged or untracked files; unknown on any failure), the qf
 * version and the platform. Never fails for a missing repository; returns
 * QF_ENOMEM only. */
int qf_repro_collect(qf_evidence_t *ev, const char *workspace) QF_MUSTCHECK;

/* The same for a checked-out source: git sha is the commit tested, branch
 * the ref asked for (NULL: a commit was asked for), never dirty (the
 * worktree was written for the run). Returns QF_ENOMEM only. */
int qf_repro_collect_commit(qf_evidence_t *ev, const char *commit,
                            const char *ref) QF_MUSTCHECK;

#endif
