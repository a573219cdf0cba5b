/* policy_source.h: the policy a long-running process decides by, from a
 * file that may change under it (a ConfigMap update, an edit).
 *
 * Loaded at open (an invalid policy then is an error: fail closed). Each
 * get looks at the file (size, mtime, inode): when it changed, it is
 * reloaded; a new version that does not load keeps the last good one in
 * force, and qf_policy_source_problem says why until the file is fixed.
 * A broken edit is never a reason to refuse valid requests, nor to decide
 * by permissive defaults. One source per thread.
 */
#ifndef QF_POLICY_SOURCE_H
#define QF_POLICY_SOURCE_H

#include "qf/err.h"
#include "qf/policy.h"

typedef struct qf_policy_source qf_policy_source_t;

/* Loads path; on success *out is owned by the caller (free with
 * qf_policy_source_free). */
int qf_policy_source_open(const char *path, qf_policy_source_t **out,
                          qf_error_t *err) QF_MUSTCHECK;
void qf_policy_source_free(qf_policy_source_t *s);

/* Looks at the file: 1 when it changed since the last look (it was
 * reloaded, or refused: qf_policy_source_problem says why), else 0. */
int qf_policy_source_refresh(qf_policy_source_t *s);

/* The policy in force, shared (qf_policy_ref): the caller lets go of it
 * with qf_policy_free. */
int qf_policy_source_get(const qf_policy_source_t *s, qf_policy_t **out,
                         qf_error_t *err) QF_MUSTCHECK;

/* Why the file on disk is not the policy in force (file, line and key), or
 * NULL when it is. Borrowed until the next get. */
const char *qf_policy_source_problem(const qf_policy_source_t *s);

#endif
