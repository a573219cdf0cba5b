/* evidence_read.c: the field readers both evidence formats share
 * (evidence_internal.h): key checks, typed and bounded values, and the
 * path-naming error every problem becomes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence_internal.h"

int qf__ev_fail(qf__ev_rd_t *r, const char *path, const char *what) {
  return qf_error_set(r->err, QF_EVALIDATE, "%s: %s: %s", r->name, path, what);
}

void qf__ev_join(char *out, size_t n, const char *path, const char *key) {
  snprintf(out, n, "%s%s%s", path, path[0] ? "." : "", key);
}

static int must_be_object(qf__ev_rd_t *r, const cJSON *o, const char *path) {
  if (cJSON_IsObject(o)) return QF_OK;
  return qf__ev_fail(r, path[0] ? path : "(document)", "must be an object");
}

int qf__ev_check_dups(qf__ev_rd_t *r, const cJSON *o, const char *path) {
  char p[QF__EV_PATH_MAX];
  int rc = must_be_object(r, o, path);
  for (const cJSON *c = rc == 0 ? o->child : NULL; c; c = c->next) {
    for (const cJSON *d = c->next; d; d = d->next) {
      if (strcmp(d->string, c->string) != 0) continue;
      qf__ev_join(p, sizeof p, path, c->string);
      return qf__ev_fail(r, p, "duplicate key");
    }
  }
  return rc;
}

static int known_key(const char *const *keys, const char *key) {
  for (size_t i = 0; keys[i]; i++)
    if (strcmp(keys[i] + (keys[i][0] == '!'), key) == 0) return 1;
  return 0;
}

int qf__ev_check_keys(qf__ev_rd_t *r, const cJSON *o, const char *path,
                      const char *const *keys) {
  char p[QF__EV_PATH_MAX];
  int rc = must_be_object(r, o, path);
  if (rc < 0) return rc;
  /* Unknown keys first, in document order, then duplicates: the first
   * problem a reader meets is the one reported. */
  for (const cJSON *c = o->child; c; c = c->next) {
    qf__ev_join(p, sizeof p, path, c->string);
    if (!known_key(keys, c->string)) return qf__ev_fail(r, p, "unknown key");
    for (const cJSON *d = c->next; d; d = d->next)
      if (strcmp(d->string, c->string) == 0)
        return qf__ev_fail(r, p, "duplicate key");
  }
  for (size_t i = 0; keys[i]; i++) {
    if (keys[i][0] != '!') continue;
    qf__ev_join(p, sizeof p, path, keys[i] + 1);
    if (!cJSON_GetObjectItemCaseSensitive(o, keys[i] + 1))
      return qf__ev_fail(r, p, "missing");
  }
  return QF_OK;
}

const cJSON *qf__ev_field(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

int qf__ev_get_str(qf__ev_rd_t *r, const cJSON *o, const char *path,
                   const char *key, int nullable, size_t max, char **out) {
  char p[QF__EV_PATH_MAX];
  const cJSON *v = qf__ev_field(o, key);
  qf__ev_join(p, sizeof p, path, key);
  *out = NULL;
  if (v == NULL || (nullable && cJSON_IsNull(v))) return QF_OK;
  if (!cJSON_IsString(v))
    return qf__ev_fail(
        r, p, nullable ? "must be a string or null" : "must be a string");
  if (strlen(v->valuestring) > max) return qf__ev_fail(r, p, "too long");
  *out = strdup(v->valuestring);
  return *out ? QF_OK : qf_error_set(r->err, QF_ENOMEM, "out of memory");
}

int qf__ev_get_int(qf__ev_rd_t *r, const cJSON *o, const char *path,
                   const char *key, long long min, long long max,
                   long long *out) {
  char p[QF__EV_PATH_MAX];
  const cJSON *v = qf__ev_field(o, key);
  qf__ev_join(p, sizeof p, path, key);
  if (v == NULL) return QF_OK; /* keeps the default */
  double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
  if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max) {
    char what[96];
    snprintf(what, sizeof what, "must be an integer from %lld to %lld", min,
             max);
    return qf__ev_fail(r, p, what);
  }
  *out = (long long)d;
  return QF_OK;
}

int qf__ev_get_bool(qf__ev_rd_t *r, const cJSON *o, const char *path,
                    const char *key, int *out) {
  char p[QF__EV_PATH_MAX];
  const cJSON *v = qf__ev_field(o, key);
  qf__ev_join(p, sizeof p, path, key);
  if (v == NULL) return QF_OK;
  if (!cJSON_IsBool(v)) return qf__ev_fail(r, p, "must be true or false");
  *out = cJSON_IsTrue(v);
  return QF_OK;
}

int qf__ev_get_time(qf__ev_rd_t *r, const cJSON *o, const char *path,
                    const char *key, double *out) {
  char p[QF__EV_PATH_MAX];
  const cJSON *v = qf__ev_field(o, key);
  qf__ev_join(p, sizeof p, path, key);
  if (v == NULL) return QF_OK;
  if (!(cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0))
    return qf__ev_fail(r, p, "must be a number >= 0");
  *out = v->valuedouble;
  return QF_OK;
}

int qf__ev_read_budget(qf__ev_rd_t *r, const cJSON *o, int required,
                       qf_governance_t *g) {
  static const char *const all[] = {"!elapsed_ms_total", "!attempts_total",
                                    "!retries_used_total", NULL};
  static const char *const any[] = {"elapsed_ms_total", "attempts_total",
                                    "retries_used_total", NULL};
  const char *p = "governance.budget";
  if (o == NULL) return required ? qf__ev_fail(r, p, "missing") : QF_OK;
  int rc = qf__ev_check_keys(r, o, p, required ? all : any);
  const char *name[] = {"elapsed_ms_total", "attempts_total",
                        "retries_used_total"};
  long long *to[] = {&g->elapsed_ms_total, &g->attempts_total,
                     &g->retries_used_total};
  for (int i = 0; i < 3 && rc == 0; i++)
    if (required || qf__ev_field(o, name[i]))
      rc = qf__ev_get_int(r, o, p, name[i], 0, QF__EV_BIG, to[i]);
  return rc;
}

int qf__ev_read_limits(qf__ev_rd_t *r, const cJSON *o, qf_governance_t *g) {
  static const char *const keys[] = {"timeout_s", "max_retries", NULL};
  const char *p = "governance.policy_limits";
  long long t = 0, m = 0;
  if (o == NULL) return QF_OK;
  int rc = qf__ev_check_keys(r, o, p, keys);
  const cJSON *tv = qf__ev_field(o, "timeout_s");
  const cJSON *mv = qf__ev_field(o, "max_retries");
  if (rc == 0 && tv && !cJSON_IsNull(tv))
    rc = qf__ev_get_int(r, o, p, "timeout_s", 1, 86400, &t);
  if (rc == 0 && mv && !cJSON_IsNull(mv))
    rc = qf__ev_get_int(r, o, p, "max_retries", 0, 100, &m);
  g->has_policy_limits = tv && !cJSON_IsNull(tv);
  g->timeout_s = (int)t;
  g->max_retries = (int)m;
  return rc;
}

int qf__ev_read_governance(qf__ev_rd_t *r, const cJSON *o, int budget_required,
                           qf_governance_t *g) {
  const char *p = "governance";
  int rc = qf__ev_read_budget(r, qf__ev_field(o, "budget"), budget_required, g);
  if (rc == 0) rc = qf__ev_read_limits(r, qf__ev_field(o, "policy_limits"), g);
  if (rc == 0)
    rc = qf__ev_get_bool(r, o, p, "short_circuited", &g->short_circuited);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, p, "short_circuit_reason", 1, 64,
                        &g->short_circuit_reason);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, p, "decision_source", 1, 64, &g->decision_source);
  return rc;
}
