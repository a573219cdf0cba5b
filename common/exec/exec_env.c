/* exec_env.c: the child's environment for exec.h (qf_exec_env_build). */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "qf/exec.h"
#include "qf/policy.h"

extern char **environ;

/* Length of the name in "NAME=VALUE" (the whole string when no '='). */
static size_t name_len(const char *kv) {
  const char *eq = strchr(kv, '=');
  return eq ? (size_t)(eq - kv) : strlen(kv);
}

static int same_name(const char *a, const char *b) {
  size_t n = name_len(a);
  return n == name_len(b) && strncmp(a, b, n) == 0;
}

static int in_list(const char *kv, const char *const *list) {
  for (size_t i = 0; list && list[i]; i++)
    if (same_name(kv, list[i])) return 1;
  return 0;
}

static int whitelisted(const char *kv, const char *const *patterns, size_t n) {
  char name[1024];
  size_t len = name_len(kv);
  /* A name longer than any sane variable matches nothing. */
  if (len == 0 || len >= sizeof name) return 0;
  memcpy(name, kv, len);
  name[len] = '\0';
  for (size_t i = 0; i < n; i++)
    if (patterns[i] && fnmatch(patterns[i], name, 0) == 0) return 1;
  return 0;
}

/* Never inherited, whatever the patterns say (qf_policy_env_is_secret);
 * extra (what the runner sets itself, e.g. QF_ARTIFACT_DIR) is exempt. */
static int secret(const char *kv) {
  char name[1024];
  size_t len = name_len(kv);
  if (len >= sizeof name) return 1;
  memcpy(name, kv, len);
  name[len] = '\0';
  return qf_policy_env_is_secret(name);
}

static int push(char **env, size_t *len, const char *kv) {
  char *copy = strdup(kv);
  if (copy == NULL) return QF_ENOMEM;
  env[(*len)++] = copy;
  return QF_OK;
}

int qf_exec_env_build(const char *const *patterns, size_t n,
                      const char *const *extra, char ***out, qf_error_t *err) {
  size_t cap = 1, len = 0;
  int rc = QF_OK;
  for (char **e = environ; e && *e; e++)
    cap++;
  for (size_t i = 0; extra && extra[i]; i++) {
    if (strchr(extra[i], '=') == NULL || extra[i][0] == '=')
      return qf_error_set(err, QF_EINVAL,
                          "environment entry '%s' is not "
                          "NAME=VALUE",
                          extra[i]);
    cap++;
  }
  char **env = calloc(cap, sizeof *env);
  if (env == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  for (char **e = environ; e && *e && rc == QF_OK; e++) {
    /* extra overrides ours; a name twice in ours keeps the first. */
    if (strchr(*e, '=') == NULL || in_list(*e, extra)) continue;
    if (!whitelisted(*e, patterns, n) || secret(*e)) continue;
    if (in_list(*e, (const char *const *)env)) continue;
    rc = push(env, &len, *e);
  }
  for (size_t i = 0; extra && extra[i] && rc == QF_OK; i++) {
    /* The last of several entries with one name wins. */
    if (in_list(extra[i], extra + i + 1)) continue;
    rc = push(env, &len, extra[i]);
  }
  if (rc < 0) {
    qf_exec_env_free(env);
    return qf_error_set(err, rc, "out of memory");
  }
  *out = env;
  return QF_OK;
}

void qf_exec_env_free(char **env) {
  if (env == NULL) return;
  for (char **e = env; *e; e++)
    free(*e);
  free(env);
}
