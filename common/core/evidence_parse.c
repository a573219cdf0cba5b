/* evidence_parse.c: reads an evidence document back, strictly. Every
 * problem is an error naming the field path ("tool_calls[2].status: ...");
 * the accepted shape is the one schemas/evidence.v1.schema.json describes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/evidence.h"
#include "qf/fsutil.h"

typedef struct rd {
  const char *name; /* the document's name, for messages */
  qf_error_t *err;
} rd_t;

static int fail(rd_t *r, const char *path, const char *what) {
  return qf_error_set(r->err, QF_EVALIDATE, "%s: %s: %s", r->name, path, what);
}

static void join(char *out, size_t n, const char *path, const char *key) {
  snprintf(out, n, "%s%s%s", path, path[0] ? "." : "", key);
}

/* Refuses keys not in allowed (NULL-terminated) and duplicates; then
 * checks every required key (prefix '!') is present. */
static int check_keys(rd_t *r, const cJSON *o, const char *path,
                      const char *const *keys) {
  char p[256];
  if (!cJSON_IsObject(o))
    return fail(r, path[0] ? path : "(document)", "must be an object");
  for (const cJSON *c = o->child; c; c = c->next) {
    int known = 0;
    for (size_t i = 0; keys[i] && !known; i++)
      known = strcmp(keys[i] + (keys[i][0] == '!'), c->string) == 0;
    join(p, sizeof p, path, c->string);
    if (!known) return fail(r, p, "unknown key");
    for (const cJSON *d = c->next; d; d = d->next)
      if (strcmp(d->string, c->string) == 0) return fail(r, p, "duplicate key");
  }
  for (size_t i = 0; keys[i]; i++) {
    if (keys[i][0] != '!') continue;
    join(p, sizeof p, path, keys[i] + 1);
    if (!cJSON_GetObjectItemCaseSensitive(o, keys[i] + 1))
      return fail(r, p, "missing");
  }
  return QF_OK;
}

static const cJSON *field(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Reads a string (or null when nullable) into *out (malloc'ed or NULL). */
static int get_str(rd_t *r, const cJSON *o, const char *path, const char *key,
                   int nullable, size_t max, char **out) {
  char p[256];
  const cJSON *v = field(o, key);
  join(p, sizeof p, path, key);
  *out = NULL;
  if (v == NULL || (nullable && cJSON_IsNull(v))) return QF_OK;
  if (!cJSON_IsString(v))
    return fail(r, p,
                nullable ? "must be a string or null" : "must be a string");
  if (strlen(v->valuestring) > max) return fail(r, p, "too long");
  *out = strdup(v->valuestring);
  return *out ? QF_OK : qf_error_set(r->err, QF_ENOMEM, "out of memory");
}

static int get_int(rd_t *r, const cJSON *o, const char *path, const char *key,
                   long long min, long long max, long long *out) {
  char p[256];
  const cJSON *v = field(o, key);
  join(p, sizeof p, path, key);
  if (v == NULL) return QF_OK; /* keeps the default */
  double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
  if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max) {
    char what[96];
    snprintf(what, sizeof what, "must be an integer from %lld to %lld", min,
             max);
    return fail(r, p, what);
  }
  *out = (long long)d;
  return QF_OK;
}

static int get_bool(rd_t *r, const cJSON *o, const char *path, const char *key,
                    int *out) {
  char p[256];
  const cJSON *v = field(o, key);
  join(p, sizeof p, path, key);
  if (v == NULL) return QF_OK;
  if (!cJSON_IsBool(v)) return fail(r, p, "must be true or false");
  *out = cJSON_IsTrue(v);
  return QF_OK;
}

#define BIG 1000000000000LL /* bounds counts and durations */

static int read_call(rd_t *r, const cJSON *o, const char *path,
                     qf_tool_call_t *c) {
  static const char *const keys[] = {
      "!tool_name",      "!status",      "duration_ms",  "exit_code",
      "steps_total",     "steps_passed", "steps_failed", "error_message",
      "decision_source", "attempts",     "retries_used", NULL};
  char *status = NULL;
  long long v;
  int rc = check_keys(r, o, path, keys);
  if (rc == 0) rc = get_str(r, o, path, "tool_name", 0, 64, &c->tool_name);
  if (rc == 0) rc = get_str(r, o, path, "status", 0, 16, &status);
  if (rc == 0 && qf_tool_status_parse(status, &c->status) < 0) {
    char p[256];
    join(p, sizeof p, path, "status");
    rc = fail(r, p,
              "must be one of success, failed, timeout, skipped, "
              "cancelled");
  }
  free(status);
  if (rc == 0) rc = get_int(r, o, path, "duration_ms", 0, BIG, &c->duration_ms);
  const cJSON *ec = field(o, "exit_code");
  if (rc == 0 && ec && !cJSON_IsNull(ec)) {
    v = 0;
    rc = get_int(r, o, path, "exit_code", -1000, 1000, &v);
    c->has_exit_code = 1;
    c->exit_code = (int)v;
  }
  if (rc == 0) rc = get_int(r, o, path, "steps_total", 0, BIG, &c->steps_total);
  if (rc == 0)
    rc = get_int(r, o, path, "steps_passed", 0, BIG, &c->steps_passed);
  if (rc == 0)
    rc = get_int(r, o, path, "steps_failed", 0, BIG, &c->steps_failed);
  if (rc == 0)
    rc = get_str(r, o, path, "error_message", 1, QF_EVIDENCE_ERROR_MAX,
                 &c->error_message);
  if (rc == 0)
    rc = get_str(r, o, path, "decision_source", 1, 64, &c->decision_source);
  v = 1;
  if (rc == 0) rc = get_int(r, o, path, "attempts", 1, 1000, &v);
  c->attempts = (int)v;
  v = 0;
  if (rc == 0) rc = get_int(r, o, path, "retries_used", 0, 1000, &v);
  c->retries_used = (int)v;
  return rc;
}

static int read_calls(rd_t *r, const cJSON *arr, qf_evidence_t *ev) {
  if (!cJSON_IsArray(arr)) return fail(r, "tool_calls", "must be an array");
  int n = cJSON_GetArraySize(arr), rc = QF_OK;
  if (n > 1000) return fail(r, "tool_calls", "more than 1000 entries");
  ev->tool_calls = calloc((size_t)n + 1, sizeof *ev->tool_calls);
  if (ev->tool_calls == NULL) return qf_error_set(r->err, QF_ENOMEM, "oom");
  for (int i = 0; i < n && rc == 0; i++) {
    char p[64];
    snprintf(p, sizeof p, "tool_calls[%d]", i);
    ev->ntool_calls++;
    rc = read_call(r, cJSON_GetArrayItem(arr, i), p, &ev->tool_calls[i]);
  }
  return rc;
}

static int read_artifact(rd_t *r, const cJSON *o, const char *path,
                         qf_artifact_t *a) {
  static const char *const keys[] = {"!type", "!path",  "size",
                                     "mime",  "sha256", NULL};
  char *sha = NULL;
  int rc = check_keys(r, o, path, keys);
  if (rc == 0) rc = get_str(r, o, path, "type", 0, 32, &a->type);
  if (rc == 0) rc = get_str(r, o, path, "path", 0, 4096, &a->path);
  if (rc == 0) rc = get_int(r, o, path, "size", 0, BIG, &a->size);
  if (rc == 0) rc = get_str(r, o, path, "mime", 1, 128, &a->mime);
  if (rc == 0) rc = get_str(r, o, path, "sha256", 1, QF_SHA256_HEX_LEN, &sha);
  if (rc == 0 && sha) snprintf(a->sha256, sizeof a->sha256, "%s", sha);
  free(sha);
  return rc;
}

static int read_artifacts(rd_t *r, const cJSON *arr, qf_evidence_t *ev) {
  if (!cJSON_IsArray(arr)) return fail(r, "artifacts", "must be an array");
  int n = cJSON_GetArraySize(arr), rc = QF_OK;
  if (n > 10000) return fail(r, "artifacts", "more than 10000 entries");
  ev->artifacts = calloc((size_t)n + 1, sizeof *ev->artifacts);
  if (ev->artifacts == NULL) return qf_error_set(r->err, QF_ENOMEM, "oom");
  for (int i = 0; i < n && rc == 0; i++) {
    char p[64];
    snprintf(p, sizeof p, "artifacts[%d]", i);
    ev->nartifacts++;
    rc = read_artifact(r, cJSON_GetArrayItem(arr, i), p, &ev->artifacts[i]);
  }
  return rc;
}

static int read_summary(rd_t *r, const cJSON *o, qf_junit_summary_t *s) {
  static const char *const keys[] = {
      "!tests", "!failures", "!errors", "!skipped", "passed", "!time", NULL};
  int rc = check_keys(r, o, "summary", keys);
  if (rc == 0) rc = get_int(r, o, "summary", "tests", 0, BIG, &s->tests);
  if (rc == 0) rc = get_int(r, o, "summary", "failures", 0, BIG, &s->failures);
  if (rc == 0) rc = get_int(r, o, "summary", "errors", 0, BIG, &s->errors);
  if (rc == 0) rc = get_int(r, o, "summary", "skipped", 0, BIG, &s->skipped);
  s->passed = s->tests - s->failures - s->errors - s->skipped;
  if (s->passed < 0) s->passed = 0;
  if (rc == 0) rc = get_int(r, o, "summary", "passed", 0, BIG, &s->passed);
  const cJSON *t = field(o, "time");
  if (rc == 0 &&
      !(cJSON_IsNumber(t) && isfinite(t->valuedouble) && t->valuedouble >= 0))
    rc = fail(r, "summary.time", "must be a number >= 0");
  if (rc == 0) s->time_s = t->valuedouble;
  return rc;
}

static int read_repro(rd_t *r, const cJSON *o, qf_evidence_t *ev) {
  static const char *const keys[] = {"!git_sha", "!git_branch", "!git_dirty",
                                     "version",  "platform",    NULL};
  if (o == NULL || cJSON_IsNull(o)) return QF_OK;
  qf_repro_t *p = &ev->repro;
  int rc = check_keys(r, o, "repro", keys);
  if (rc == 0) rc = get_str(r, o, "repro", "git_sha", 1, 64, &p->git_sha);
  if (rc == 0)
    rc = get_str(r, o, "repro", "git_branch", 1, 256, &p->git_branch);
  const cJSON *d = field(o, "git_dirty");
  p->git_dirty = -1;
  if (rc == 0 && d && !cJSON_IsNull(d))
    rc = get_bool(r, o, "repro", "git_dirty", &p->git_dirty);
  if (rc == 0) rc = get_str(r, o, "repro", "version", 1, 64, &p->version);
  if (rc == 0) rc = get_str(r, o, "repro", "platform", 1, 64, &p->platform);
  ev->has_repro = rc == 0;
  return rc;
}

static int read_budget(rd_t *r, const cJSON *o, qf_governance_t *g) {
  static const char *const keys[] = {"!elapsed_ms_total", "!attempts_total",
                                     "!retries_used_total", NULL};
  const char *p = "governance.budget";
  int rc = check_keys(r, o, p, keys);
  if (rc == 0)
    rc = get_int(r, o, p, "elapsed_ms_total", 0, BIG, &g->elapsed_ms_total);
  if (rc == 0)
    rc = get_int(r, o, p, "attempts_total", 0, BIG, &g->attempts_total);
  if (rc == 0)
    rc = get_int(r, o, p, "retries_used_total", 0, BIG, &g->retries_used_total);
  return rc;
}

static int read_limits(rd_t *r, const cJSON *o, qf_governance_t *g) {
  static const char *const keys[] = {"timeout_s", "max_retries", NULL};
  const char *p = "governance.policy_limits";
  if (o == NULL) return QF_OK;
  int rc = check_keys(r, o, p, keys);
  long long t = 0, m = 0;
  const cJSON *tv = field(o, "timeout_s"), *mv = field(o, "max_retries");
  if (rc == 0 && tv && !cJSON_IsNull(tv))
    rc = get_int(r, o, p, "timeout_s", 1, 86400, &t);
  if (rc == 0 && mv && !cJSON_IsNull(mv))
    rc = get_int(r, o, p, "max_retries", 0, 100, &m);
  g->has_policy_limits = tv && !cJSON_IsNull(tv);
  g->timeout_s = (int)t;
  g->max_retries = (int)m;
  return rc;
}

static int read_governance(rd_t *r, const cJSON *o, qf_governance_t *g) {
  static const char *const keys[] = {"!budget",          "policy_limits",
                                     "!short_circuited", "short_circuit_reason",
                                     "decision_source",  "approver",
                                     "approval_comment", NULL};
  const char *p = "governance";
  int rc = check_keys(r, o, p, keys);
  if (rc == 0) rc = read_budget(r, field(o, "budget"), g);
  if (rc == 0) rc = read_limits(r, field(o, "policy_limits"), g);
  if (rc == 0) rc = get_bool(r, o, p, "short_circuited", &g->short_circuited);
  if (rc == 0)
    rc = get_str(r, o, p, "short_circuit_reason", 1, 64,
                 &g->short_circuit_reason);
  if (rc == 0)
    rc = get_str(r, o, p, "decision_source", 1, 64, &g->decision_source);
  if (rc == 0) rc = get_str(r, o, p, "approver", 1, 256, &g->approver);
  if (rc == 0)
    rc = get_str(r, o, p, "approval_comment", 1, QF_EVIDENCE_COMMENT_MAX,
                 &g->approval_comment);
  return rc;
}

static int read_policy(rd_t *r, const cJSON *o, qf_evidence_t *ev) {
  static const char *const keys[] = {"!version", "!hash", NULL};
  if (o == NULL || cJSON_IsNull(o)) return QF_OK;
  int rc = check_keys(r, o, "policy", keys);
  if (rc == 0)
    rc = get_str(r, o, "policy", "version", 1, 64, &ev->policy_version);
  if (rc == 0) rc = get_str(r, o, "policy", "hash", 0, 64, &ev->policy_hash);
  return rc;
}

static int read_top(rd_t *r, const cJSON *doc, qf_evidence_t *ev) {
  static const char *const keys[] = {
      "!run_id",    "!input_nl", "!environment",  "dry_run",     "!tool_calls",
      "!artifacts", "!summary",  "!repro",        "!governance", "policy",
      "decision",   "ai_review", "!collected_at", "!$schema",    NULL};
  int rc = check_keys(r, doc, "", keys);
  char *tmp = NULL;
  if (rc == 0) rc = get_str(r, doc, "", "run_id", 0, 64, &ev->run_id);
  if (rc == 0) rc = get_str(r, doc, "", "input_nl", 0, 65536, &ev->input_nl);
  if (rc == 0 && ev->input_nl[0] == '\0')
    rc = fail(r, "input_nl", "must not be empty");
  const cJSON *env = field(doc, "environment");
  static const char *const env_keys[] = {"environment_id", "base_url",
                                         "headless", NULL};
  if (rc == 0) rc = check_keys(r, env, "environment", env_keys);
  if (rc == 0)
    rc = get_str(r, env, "environment", "environment_id", 1, 64,
                 &ev->environment_id);
  if (rc == 0) rc = get_bool(r, doc, "", "dry_run", &ev->dry_run);
  if (rc == 0) rc = read_calls(r, field(doc, "tool_calls"), ev);
  if (rc == 0) rc = read_artifacts(r, field(doc, "artifacts"), ev);
  if (rc == 0) rc = read_summary(r, field(doc, "summary"), &ev->summary);
  if (rc == 0) rc = read_repro(r, field(doc, "repro"), ev);
  if (rc == 0)
    rc = read_governance(r, field(doc, "governance"), &ev->governance);
  if (rc == 0) rc = read_policy(r, field(doc, "policy"), ev);
  if (rc == 0) rc = get_str(r, doc, "", "collected_at", 0, 39, &tmp);
  if (rc == 0) snprintf(ev->collected_at, sizeof ev->collected_at, "%s", tmp);
  free(tmp);
  return rc;
}

/* The decision block is informational for readers (the gate recomputes
 * it); it is checked for shape only. */
static int read_decision(rd_t *r, const cJSON *o) {
  static const char *const keys[] = {"!decision", "!reason", "!triggered_rules",
                                     "!decided_by", NULL};
  if (o == NULL || cJSON_IsNull(o)) return QF_OK;
  return check_keys(r, o, "decision", keys);
}

int qf_evidence_from_json(const char *text, size_t len, const char *name,
                          qf_evidence_t **out, qf_error_t *err) {
  rd_t r = {name ? name : "evidence", err};
  const char *end = NULL;
  cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (doc == NULL) {
    long at = end ? (long)(end - text) : 0;
    return qf_error_set(err, QF_EPARSE, "%s: not valid JSON near byte %ld",
                        r.name, at);
  }
  qf_evidence_t *ev = calloc(1, sizeof *ev);
  int rc = ev ? QF_OK : qf_error_set(err, QF_ENOMEM, "out of memory");
  if (rc == 0) rc = read_top(&r, doc, ev);
  if (rc == 0) rc = read_decision(&r, field(doc, "decision"));
  const cJSON *schema = field(doc, "$schema");
  if (rc == 0 && !(cJSON_IsString(schema) &&
                   strcmp(schema->valuestring, QF_EVIDENCE_SCHEMA_ID) == 0))
    rc = fail(&r, "$schema", "must be " QF_EVIDENCE_SCHEMA_ID);
  cJSON_Delete(doc);
  if (rc < 0) {
    qf_evidence_free(ev);
    return rc;
  }
  *out = ev;
  return QF_OK;
}

int qf_evidence_load(const char *path, qf_evidence_t **out, qf_error_t *err) {
  char *buf = NULL;
  size_t len = 0;
  int rc = qf_fs_read(path, QF_EVIDENCE_MAX_BYTES, &buf, &len, err);
  if (rc == QF_OK) rc = qf_evidence_from_json(buf, len, path, out, err);
  free(buf);
  return rc;
}
