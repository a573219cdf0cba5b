/* source_env.c: the worker's source settings (QF_SOURCE_CACHE, QF_GIT_*)
 * and keeping the fetch credentials away from tools. A tool never gets
 * QF_* in its environment (policy_env.c), and here the secrets are also
 * copied out and wiped from the worker's own environment block, and the
 * worker is made non-dumpable, so that a test cannot read them from
 * /proc/<worker>/environ or the worker's memory either. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "cli.h"
#include "qf/fsutil.h"

/* A copy of the variable, wiped in place and removed from the
 * environment (the copy lives as long as the process). */
static const char *take_secret(const char *name) {
  char *v = getenv(name);
  if (v == NULL || v[0] == '\0') return NULL;
  char *copy = strdup(v);
  memset(v, 0, strlen(v)); /* /proc/self/environ shows this block */
  unsetenv(name);
  return copy;
}

/* A token from QF_GIT_TOKEN_FILE (a mounted secret), its last newline
 * dropped. */
static const char *token_from_file(const char *path) {
  char *text = NULL;
  size_t len = 0;
  qf_error_t err;
  if (qf_fs_read(path, 64 * 1024, &text, &len, &err) < 0) {
    fprintf(stderr, "qf worker: QF_GIT_TOKEN_FILE: %s\n", err.message);
    return NULL;
  }
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
    text[--len] = '\0';
  return text;
}

int qf_cli_source_env(qf_source_cfg_t *s, const char *artifacts_root) {
  static char cache[4096];
  const char *c = qf_cli_env("QF_SOURCE_CACHE", NULL);
  if (c == NULL) {
    snprintf(cache, sizeof cache, "%s/.sources", artifacts_root);
    c = cache;
  }
  s->cache_dir = c;
  s->ssh_key = qf_cli_env("QF_GIT_SSH_KEY", NULL);
  s->ssh_pubkey = qf_cli_env("QF_GIT_SSH_PUBKEY", NULL);
  s->username = qf_cli_env("QF_GIT_USERNAME", NULL);
  s->ssh_passphrase = take_secret("QF_GIT_SSH_PASSPHRASE");
  s->token = take_secret("QF_GIT_TOKEN");
  const char *file = qf_cli_env("QF_GIT_TOKEN_FILE", NULL);
  if (s->token == NULL && file != NULL &&
      (s->token = token_from_file(file)) == NULL)
    return -1;
  if (qf_cli_env_int("worker", "QF_GIT_TIMEOUT_S", 600, 1, 86400,
                     &s->timeout_s) < 0)
    return -1;
  /* Tools run as our user: without this they could read our environment
   * and memory through /proc. */
  (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return 0;
}
