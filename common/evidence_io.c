/* evidence_io.c: writing evidence.json atomically, and repro facts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "qf/evidence.h"
#include "qf/fsutil.h"
#include "qf/proc.h"
#include "qf/version.h"

int qf_evidence_write(const qf_evidence_t *ev, const char *dir, char **path_out,
                      qf_error_t *err) {
  cJSON *doc = NULL;
  char *text = NULL;
  int rc = qf_evidence_to_json(ev, &doc, err);
  if (rc == QF_OK && (text = cJSON_Print(doc)) == NULL)
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  /* Atomic: a reader (a decision consumer following evidence_path, a
   * resumed run) never sees half a document. */
  if (rc == QF_OK)
    rc = qf_fs_write_atomic(dir, "evidence.json", text, strlen(text), err);
  if (rc == QF_OK && path_out) {
    size_t n = strlen(dir) + sizeof "/evidence.json";
    *path_out = malloc(n);
    if (*path_out == NULL)
      rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    else
      snprintf(*path_out, n, "%s/evidence.json", dir);
  }
  cJSON_free(text);
  cJSON_Delete(doc);
  return rc;
}

/* Runs git in the workspace; returns its first output line or NULL. */
static char *git_line(const char *workspace, const char *const *args,
                      int timeout_ms, int *exit_code) {
  char *out = NULL;
  *exit_code = -1;
  if (qf_proc_capture(args, workspace, timeout_ms, 4096, &out, exit_code,
                      NULL) < 0)
    return NULL;
  if (*exit_code != 0) {
    free(out);
    return NULL;
  }
  out[strcspn(out, "\r\n")] = '\0';
  return out;
}

static int is_hex_sha(const char *s) {
  size_t n = strlen(s);
  if (n < 7 || n > 64) return 0;
  return strspn(s, "0123456789abcdef") == n;
}

int qf_evidence_collect_repro(qf_evidence_t *ev, const char *workspace,
                              int timeout_ms) {
  static const char *const sha[] = {"git", "rev-parse", "HEAD", NULL};
  static const char *const branch[] = {"git", "branch", "--show-current", NULL};
  static const char *const status[] = {"git", "status", "--porcelain",
                                       "--untracked-files=normal", NULL};
  qf_repro_t *r = &ev->repro;
  int code;
  struct utsname u;
  char platform[160];
  r->git_sha = git_line(workspace, sha, timeout_ms, &code);
  if (r->git_sha && !is_hex_sha(r->git_sha)) {
    free(r->git_sha);
    r->git_sha = NULL;
  }
  r->git_branch =
      r->git_sha ? git_line(workspace, branch, timeout_ms, &code) : NULL;
  char *dirty =
      r->git_sha ? git_line(workspace, status, timeout_ms, &code) : NULL;
  r->git_dirty = dirty ? dirty[0] != '\0' : -1;
  free(dirty);
  if (uname(&u) == 0) {
    snprintf(platform, sizeof platform, "%s-%s", u.sysname, u.machine);
    for (char *p = platform; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  } else {
    snprintf(platform, sizeof platform, "unknown");
  }
  r->version = strdup(QF_VERSION);
  r->platform = strdup(platform);
  ev->has_repro = 1;
  return r->version && r->platform ? QF_OK : QF_ENOMEM;
}
