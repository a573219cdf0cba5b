#define _GNU_SOURCE /* FNM_CASEFOLD */
/* policy_env.c: what reaches a tool, and from where: the variables no
 * tool may ever get, whatever the policy says (the worker's own
 * configuration, QF_* and libpq's PG*, and anything named like a
 * credential), and the repositories a worker may fetch (sources.allow). The
 * worker's process environment holds the database and broker URLs with their
 * passwords; a test under test must never read them. */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "policy_internal.h"

/* Names (fnmatch patterns, matched case-insensitively) never passed on. */
static const char *const secret_names[] = {"QF_*",
                                           "PG*",
                                           "*PASSWORD*",
                                           "*PASSWD*",
                                           "*TOKEN*",
                                           "*SECRET*",
                                           "*CREDENTIAL*",
                                           "*_KEY",
                                           "*ACCESS_KEY*",
                                           "*PRIVATE_KEY*",
                                           "*DATABASE_URL*",
                                           "*AMQP_URL*",
                                           "SSH_AUTH_SOCK",
                                           "GIT_ASKPASS",
                                           "SSH_ASKPASS",
                                           "*API_KEY*",
                                           NULL};

/* What a pattern of the policy must not match: the worker's own settings
 * and a few credential names tools commonly see. */
static const char *const probes[] = {
    "QF_DATABASE_URL",       "QF_AMQP_URL",   "QF_WEBHOOK_URL",
    "QF_WEBHOOK_SECRET",     "PGPASSWORD",    "DB_PASSWORD",
    "AWS_SECRET_ACCESS_KEY", "SSH_AUTH_SOCK", NULL};

int qf_policy_env_is_secret(const char *name) {
  for (size_t i = 0; secret_names[i]; i++)
    if (fnmatch(secret_names[i], name, FNM_CASEFOLD) == 0) return 1;
  return 0;
}

int qf__policy_check_env_name(const char *pattern, char *why, size_t n) {
  if (strchr(pattern, '=') != NULL) {
    snprintf(why, n, "\"%s\" is not a variable name (contains '=')", pattern);
    return QF_EVALIDATE;
  }
  for (size_t i = 0; probes[i]; i++) {
    if (fnmatch(pattern, probes[i], 0) == 0) {
      snprintf(why, n,
               "\"%s\" would pass %s to the tool; the worker's own settings "
               "and credentials never reach a tool",
               pattern, probes[i]);
      return QF_EVALIDATE;
    }
  }
  /* A literal credential name is refused too: it could only be stripped. */
  if (strpbrk(pattern, "*?[") == NULL && qf_policy_env_is_secret(pattern)) {
    snprintf(why, n,
             "\"%s\" is one of the worker's settings or a credential; "
             "those never reach a tool",
             pattern);
    return QF_EVALIDATE;
  }
  return QF_OK;
}

int qf_policy_source_allowed(const qf_policy_t *p, const char *url) {
  for (size_t i = 0; i < p->sources_allow.n; i++)
    if (fnmatch(p->sources_allow.items[i], url, 0) == 0) return 1;
  return 0;
}
