/* repro.h: the facts that let someone reproduce a run, collected into its
 * evidence (ev->repro). Runs git in the workspace, bounded. */
#ifndef QF_REPRO_H
#define QF_REPRO_H

#include "qf/evidence.h"

/* Collects repro facts about workspace: git sha, branch and dirty state
 * (each git command bounded to timeout_ms; unknown on any failure), the qf
 * version and the platform. Never fails for a missing git or repository;
 * returns QF_ENOMEM only. */
int qf_repro_collect(qf_evidence_t *ev, const char *workspace,
                     int timeout_ms) QF_MUSTCHECK;

#endif
