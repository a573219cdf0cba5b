/* policy_schema.c: the one table of policy keys, types, ranges and
 * defaults. Parsing, defaults and the canonical JSON are all driven by it. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

#define OFF(member) offsetof(qf_policy_t, member)

static const char *const network_vals[] = {"deny", "allowlist", "all", NULL};
static const char *const mode_vals[] = {"subprocess", NULL};
static const char *const stage_vals[] = {"after_execute", "before_execute",
                                         NULL};

static const char *const def_allowed_paths[] = {"tests/", "test/", "artifacts/",
                                                NULL};

/* Reference 2.2: the built-in default and the shipped list are the same. */
static const char *const def_env_whitelist[] = {"PATH",
                                                "HOME",
                                                "USER",
                                                "SHELL",
                                                "TMPDIR",
                                                "TMP",
                                                "TEMP",
                                                "SYSTEMROOT",
                                                "WINDIR",
                                                "COMSPEC",
                                                "PATHEXT",
                                                "USERPROFILE",
                                                "HOMEDRIVE",
                                                "HOMEPATH",
                                                "APPDATA",
                                                "LOCALAPPDATA",
                                                "PROGRAMFILES",
                                                "PROGRAMFILES(X86)",
                                                "COMMONPROGRAMFILES",
                                                "SYSTEMDRIVE",
                                                "NUMBER_OF_PROCESSORS",
                                                "PROCESSOR_ARCHITECTURE",
                                                "OS",
                                                "USERNAME",
                                                "PYTHONPATH",
                                                "PYTHONDONTWRITEBYTECODE",
                                                "PYTHONUNBUFFERED",
                                                "VIRTUAL_ENV",
                                                "LANG",
                                                "LC_*",
                                                "CI",
                                                "GITHUB_*",
                                                "RUNNER_*",
                                                "ACTIONS_*",
                                                NULL};

/* Section indexes below: keep them in step with the table. */
enum {
  S_ARTIFACT = 0,
  S_COST = 3,
  S_FALLBACK = 6,
  S_HITL = 10,
  S_JUNIT = 15,
  S_SANDBOX = 18,
  S_SOURCES = 25,
  S_TOOLS = 27,
  S_PLAYWRIGHT = 29
};

#define SECTION(nm, par) \
  { .name = nm, .parent = par, .type = QF__PF_SECTION }
#define INT(nm, par, m, lo, hi, d)                                           \
  {                                                                          \
    .name = nm, .parent = par, .type = QF__PF_INT, .off = OFF(m), .min = lo, \
    .max = hi, .def_int = d                                                  \
  }
#define BOOL(nm, par, m, d)                                        \
  {                                                                \
    .name = nm, .parent = par, .type = QF__PF_BOOL, .off = OFF(m), \
    .def_int = d                                                   \
  }
#define LIST(nm, par, m, d, k)                                     \
  {                                                                \
    .name = nm, .parent = par, .type = QF__PF_LIST, .off = OFF(m), \
    .def_list = d, .item = k                                       \
  }

/* Top-level keys and each section's keys are in bytewise order. */
const qf__pfield_t qf__policy_fields[] = {
    /* 0 */ SECTION("artifact_limits", -1),
    /* 1 */
    INT("max_count", S_ARTIFACT, artifact_limits.max_count, 1, 100000, 50),
    /* 2 */
    INT("max_size_mb", S_ARTIFACT, artifact_limits.max_size_mb, 1, 102400, 10),
    /* 3 */ SECTION("cost_governance", -1),
    /* 4 */ INT("max_retries", S_COST, max_retries, 0, 10, 3),
    /* 5 */ INT("timeout_s", S_COST, timeout_s, 1, 3600, 300),
    /* 6 */ SECTION("fallback_rule", -1),
    /* 7 */
    BOOL("require_all_tools_success", S_FALLBACK, require_all_tools_success, 1),
    /* 8 */
    LIST("high_risk_keywords", -1, high_risk_keywords, NULL, QF__PI_KEYWORD),
    /* 9 */
    LIST("high_risk_patterns", -1, high_risk_patterns, NULL, QF__PI_REGEX),
    /* 10 */ SECTION("hitl", -1),
    /* 11 */ LIST("approvers", S_HITL, hitl.approvers, NULL, QF__PI_ANY),
    /* 12 */
    INT("expires_after_s", S_HITL, hitl.expires_after_s, 1, 31536000, 86400),
    /* 13 */
    BOOL("prevent_self_approval", S_HITL, hitl.prevent_self_approval, 1),
    /* 14 */
    {.name = "stage",
     .parent = S_HITL,
     .type = QF__PF_STAGE,
     .off = OFF(hitl.stage),
     .enum_vals = stage_vals,
     .def_int = QF_HITL_AFTER_EXECUTE},
    /* 15 */ SECTION("junit_pass_rule", -1),
    /* 16 */ INT("max_errors", S_JUNIT, max_errors, 0, 1000000, 0),
    /* 17 */ INT("max_failures", S_JUNIT, max_failures, 0, 1000000, 0),
    /* 18 */ SECTION("sandbox", -1),
    /* 19 */
    LIST("allowed_paths", S_SANDBOX, sandbox.allowed_paths, def_allowed_paths,
         QF__PI_ANY),
    /* 20 */ BOOL("enabled", S_SANDBOX, sandbox.enabled, 1),
    /* 21 */
    LIST("env_whitelist", S_SANDBOX, sandbox.env_whitelist, def_env_whitelist,
         QF__PI_ENVNAME),
    /* 22 */
    INT("memory_limit_mb", S_SANDBOX, sandbox.memory_limit_mb, 64, 1048576,
        512),
    /* 23 */
    {.name = "mode",
     .parent = S_SANDBOX,
     .type = QF__PF_ENUM,
     .off = OFF(sandbox.mode),
     .enum_vals = mode_vals,
     .def_str = "subprocess",
     .unsupported = "container"},
    /* 24 */ INT("timeout_s", S_SANDBOX, sandbox.timeout_s, 1, 3600, 300),
    /* 25 */ SECTION("sources", -1),
    /* 26 */ LIST("allow", S_SOURCES, sources_allow, NULL, QF__PI_ANY),
    /* 27 */ SECTION("tools", -1),
    /* 28 */ LIST("allowlist", S_TOOLS, tools_allowlist, NULL, QF__PI_ANY),
    /* 29 */ SECTION("playwright", S_TOOLS),
    /* 30 */
    LIST("allowlist", S_PLAYWRIGHT, playwright.allowlist, NULL, QF__PI_ANY),
    /* 31 */
    {.name = "network",
     .parent = S_PLAYWRIGHT,
     .type = QF__PF_ENUM,
     .off = OFF(playwright.network),
     .enum_vals = network_vals,
     .def_str = "deny"},
    /* 32 */
    {.name = "version",
     .parent = -1,
     .type = QF__PF_STR,
     .off = OFF(version),
     .def_str = "1.0"},
};

const size_t qf__policy_nfields =
    sizeof qf__policy_fields / sizeof qf__policy_fields[0];

/* The parents' path goes straight into out and the name is appended after
 * it: a buffer per level would bound the parent by one size and then need
 * more than that size for parent + "." + name. */
void qf__policy_field_path(size_t i, char *out, size_t n) {
  const qf__pfield_t *f = &qf__policy_fields[i];
  size_t len = 0;
  if (n == 0) return;
  if (f->parent >= 0) {
    qf__policy_field_path((size_t)f->parent, out, n);
    len = strlen(out);
  }
  snprintf(out + len, n - len, "%s%s", f->parent >= 0 ? "." : "", f->name);
}

static int set_list(qf_strlist_t *l, const char *const *def) {
  size_t n = 0;
  while (def != NULL && def[n] != NULL)
    n++;
  l->items = NULL;
  l->n = 0;
  if (n == 0) return QF_OK;
  l->items = calloc(n, sizeof *l->items);
  if (l->items == NULL) return QF_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    l->items[i] = strdup(def[i]);
    if (l->items[i] == NULL) return QF_ENOMEM; /* caller frees what is set */
    l->n++;
  }
  return QF_OK;
}

int qf__policy_set_defaults(qf_policy_t *p) {
  char *base = (char *)p;
  for (size_t i = 0; i < qf__policy_nfields; i++) {
    const qf__pfield_t *f = &qf__policy_fields[i];
    void *at = base + f->off;
    switch (f->type) {
      case QF__PF_STR:
      case QF__PF_ENUM:
        *(char **)at = strdup(f->def_str);
        if (*(char **)at == NULL) return QF_ENOMEM;
        break;
      case QF__PF_STAGE:
        *(qf_hitl_stage_t *)at = (qf_hitl_stage_t)f->def_int;
        break;
      case QF__PF_INT:
      case QF__PF_BOOL:
        *(int *)at = f->def_int;
        break;
      case QF__PF_LIST:
        if (set_list(at, f->def_list) < 0) return QF_ENOMEM;
        break;
      case QF__PF_SECTION:
        break;
    }
  }
  return QF_OK;
}

void qf__policy_free_list(qf_strlist_t *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = 0;
}

void qf__policy_free_fields(qf_policy_t *p) {
  char *base = (char *)p;
  for (size_t i = 0; i < qf__policy_nfields; i++) {
    const qf__pfield_t *f = &qf__policy_fields[i];
    void *at = base + f->off;
    if (f->type == QF__PF_STR || f->type == QF__PF_ENUM) {
      free(*(char **)at);
      *(char **)at = NULL;
    } else if (f->type == QF__PF_LIST) {
      qf__policy_free_list(at);
    }
  }
}
