/* node_source.c: the change under test in a run (DESIGN 4a). A request
 * with a source gets its own checkout of the commit, once the policy says
 * the repository may be fetched; the commit is fixed the first time (a
 * ref is resolved once and the checkpoint keeps the commit), so a run
 * resumed elsewhere, or approved by a human, tests the same commit. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qf/fsutil.h"
#include "qf/repro.h"

#include "nodes.h"

/* The request's workspace inside the checkout (its root without one). */
static int tree_workspace(qf_run_state_t *s, qf_error_t *err) {
  char joined[PATH_MAX], ws[PATH_MAX];
  const char *rel = s->request->workspace, *root = s->tree->dir;
  struct stat st;
  if (rel) {
    int rc = qf_tools_check_path("workspace", rel, root, NULL, err);
    if (rc == QF_OK) rc = qf_fs_join(joined, sizeof joined, root, rel, err);
    if (rc < 0) return rc;
  } else {
    snprintf(joined, sizeof joined, "%s", root);
  }
  if (realpath(joined, ws) == NULL || stat(ws, &st) < 0 || !S_ISDIR(st.st_mode))
    return qf_error_set(err, QF_EVALIDATE,
                        "workspace: '%s' is not a directory in commit %s",
                        rel ? rel : ".", s->source_commit);
  free(s->workspace);
  return (s->workspace = strdup(ws)) ? QF_OK : qf__oom(err);
}

static int checkout(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                    qf_error_t *err) {
  const qf_request_t *r = s->request;
  const char *commit =
      s->source_commit[0] ? s->source_commit : r->source_commit;
  if (!qf_policy_source_allowed(s->policy, r->source_repo))
    return qf_error_set(err, QF_EVALIDATE,
                        "source.repo: '%s' is not allowed by the policy "
                        "(sources.allow%s)",
                        r->source_repo,
                        s->policy->sources_allow.n ? "" : " is empty");
  if (cfg->sources == NULL || cfg->sources->cache_dir == NULL)
    return qf_error_set(err, QF_EVALIDATE,
                        "source: this runner checks out no sources (no "
                        "QF_SOURCE_CACHE)");
  int rc = qf_source_checkout(cfg->sources, r->source_repo,
                              commit ? NULL : r->source_ref, commit, s->run_id,
                              &s->tree, err);
  if (rc < 0) return rc;
  memcpy(s->source_commit, s->tree->commit, sizeof s->source_commit);
  return QF_OK;
}

int qf__source_prepare(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                       qf_error_t *err) {
  const qf_request_t *r = s->request;
  if (r->source_repo == NULL || s->tree != NULL) return QF_OK;
  int rc = checkout(s, cfg, err);
  if (rc == QF_OK) rc = tree_workspace(s, err);
  if (rc < 0) return rc;
  qf_evidence_source_t src = {.kind = "git",
                              .repo = r->source_repo,
                              .ref = r->source_ref,
                              .commit = s->source_commit,
                              .workspace = r->workspace};
  return qf_evidence_set_source(s->evidence, &src, err);
}

int qf__source_repro(qf_run_state_t *s, qf_error_t *err) {
  int rc = s->source_commit[0]
               ? qf_repro_collect_commit(s->evidence, s->source_commit,
                                         s->request->source_ref)
               : qf_repro_collect(s->evidence, s->workspace);
  return rc < 0 ? qf__oom(err) : QF_OK;
}
