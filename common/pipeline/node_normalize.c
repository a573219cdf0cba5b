/* node_normalize.c: the request was validated and normalized when it
 * was parsed; here its workspace is resolved inside the workspace root
 * and the evidence document is started. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qf/fsutil.h"

#include "nodes.h"

/* normalize: the request was validated and normalized when it was parsed;
 * here its workspace is resolved inside the workspace root and the
 * evidence document is started. */
int qf__node_normalize(qf_run_state_t *s, const qf_run_cfg_t *cfg,
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
  if ((s->workspace = strdup(ws)) == NULL) return qf__oom(err);
  qf_evidence_free(s->evidence);
  s->evidence = NULL;
  int rc = qf_evidence_new(s->run_id, s->request->nl_input,
                           s->request->environment_id, &s->evidence, err);
  if (rc == QF_OK) s->evidence->dry_run = s->request->dry_run;
  return rc;
}
