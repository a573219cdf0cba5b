/* node_common.c: the helpers the node files share (see nodes.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"
#include "qf/fsutil.h"

char *qf__dup_or_oom(const char *s, int *ok) {
  char *d = s ? strdup(s) : NULL;
  if (s && d == NULL) *ok = 0;
  return d;
}

int qf__oom(qf_error_t *err) {
  return qf_error_set(err, QF_ENOMEM, "out of memory");
}

/* <artifacts root>/<run_id>[/tools[/<tool>]] */
int qf__run_dir(const qf_run_state_t *s, const qf_run_cfg_t *cfg, int depth,
                char *out, size_t n, qf_error_t *err) {
  char tmp[PATH_MAX];
  int rc = qf_fs_join(out, n, cfg->artifacts_root, s->run_id, err);
  if (rc == QF_OK && depth > 0) {
    memcpy(tmp, out, sizeof tmp);
    rc = qf_fs_join(out, n, tmp, "tools", err);
  }
  if (rc == QF_OK && depth > 1) {
    memcpy(tmp, out, sizeof tmp);
    rc = qf_fs_join(out, n, tmp, s->request->tool_name, err);
  }
  return rc;
}
