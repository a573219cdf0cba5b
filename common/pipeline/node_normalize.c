/* node_normalize.c: the request was validated and normalized when it
 * was parsed; here a local workspace is resolved inside the workspace
 * root and the evidence document is started. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qf/fsutil.h"

#include "nodes.h"

/* The workspace below the root (the request's, or the root itself). */
static int local_workspace(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                           qf_error_t *err) {
  char root[PATH_MAX], ws[PATH_MAX], joined[PATH_MAX];
  const char *rel = s->request->workspace;
  struct stat st;
  if (realpath(cfg->workspace_root, root) == NULL)
    return qf_error_set(err, QF_EVALIDATE, "workspace root %s: %s",
                        cfg->workspace_root, strerror(errno));
  if (rel != NULL) {
    int rc = qf_tools_check_path("workspace", rel, root, NULL, err);
    if (rc == QF_OK) rc = qf_fs_join(joined, sizeof joined, root, rel, err);
    if (rc < 0) return rc;
  } else {
    snprintf(joined, sizeof joined, "%s", root);
  }
  if (realpath(joined, ws) == NULL || stat(ws, &st) < 0 || !S_ISDIR(st.st_mode))
    return qf_error_set(err, QF_EVALIDATE, "workspace: '%s' is not a directory",
                        rel ? rel : root);
  free(s->workspace);
  return (s->workspace = strdup(ws)) ? QF_OK : qf__oom(err);
}

/* normalize: the request was validated and normalized when it was parsed;
 * here the evidence document is started and a local workspace resolved
 * inside the workspace root. A request with a source gets its workspace
 * inside its checkout, once the policy said the repository may be
 * fetched (plan). */
int qf__node_normalize(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                       qf_error_t *err) {
  const qf_request_t *r = s->request;
  int rc = r->source_repo ? QF_OK : local_workspace(s, cfg, err);
  if (rc < 0) return rc; /* nothing is started for a bad workspace */
  qf_evidence_free(s->evidence);
  s->evidence = NULL;
  rc = qf_evidence_new(s->run_id, r->nl_input, r->environment_id, &s->evidence,
                       err);
  if (rc < 0) return rc;
  s->evidence->dry_run = r->dry_run;
  if (r->source_repo) return QF_OK; /* plan checks it out */
  qf_evidence_source_t src = {.kind = "workspace", .workspace = r->workspace};
  return qf_evidence_set_source(s->evidence, &src, err);
}
