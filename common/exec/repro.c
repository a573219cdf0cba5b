/* repro.c: the repro facts of a run (git sha, branch, dirty state of the
 * workspace, qf version, platform). It runs git, so it lives beside the
 * process runner, not in the evidence core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "qf/proc.h"
#include "qf/repro.h"
#include "qf/version.h"

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

int qf_repro_collect(qf_evidence_t *ev, const char *workspace, int timeout_ms) {
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
