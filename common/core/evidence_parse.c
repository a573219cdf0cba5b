/* evidence_parse.c: reads an evidence document back, strictly. Every
 * problem is an error naming the field path ("tool_calls[2].status: ...");
 * the accepted shape is the one schemas/evidence.v1.schema.json describes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence_internal.h"
#include "qf/evidence.h"
#include "qf/fsutil.h"

#define BIG QF__EV_BIG

static int read_call(qf__ev_rd_t *r, const cJSON *o, const char *path,
                     qf_tool_call_t *c) {
  static const char *const keys[] = {
      "!tool_name",      "!status",      "duration_ms",  "exit_code",
      "steps_total",     "steps_passed", "steps_failed", "error_message",
      "decision_source", "attempts",     "retries_used", NULL};
  char *status = NULL;
  long long v;
  int rc = qf__ev_check_keys(r, o, path, keys);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, path, "tool_name", 0, 64, &c->tool_name);
  if (rc == 0) rc = qf__ev_get_str(r, o, path, "status", 0, 16, &status);
  if (rc == 0 && qf_tool_status_parse(status, &c->status) < 0) {
    char p[256];
    qf__ev_join(p, sizeof p, path, "status");
    rc = qf__ev_fail(r, p,
                     "must be one of success, failed, timeout, skipped, "
                     "cancelled");
  }
  free(status);
  if (rc == 0)
    rc = qf__ev_get_int(r, o, path, "duration_ms", 0, BIG, &c->duration_ms);
  const cJSON *ec = qf__ev_field(o, "exit_code");
  if (rc == 0 && ec && !cJSON_IsNull(ec)) {
    v = 0;
    rc = qf__ev_get_int(r, o, path, "exit_code", -1000, 1000, &v);
    c->has_exit_code = 1;
    c->exit_code = (int)v;
  }
  if (rc == 0)
    rc = qf__ev_get_int(r, o, path, "steps_total", 0, BIG, &c->steps_total);
  if (rc == 0)
    rc = qf__ev_get_int(r, o, path, "steps_passed", 0, BIG, &c->steps_passed);
  if (rc == 0)
    rc = qf__ev_get_int(r, o, path, "steps_failed", 0, BIG, &c->steps_failed);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, path, "error_message", 1, QF_EVIDENCE_ERROR_MAX,
                        &c->error_message);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, path, "decision_source", 1, 64,
                        &c->decision_source);
  v = 1;
  if (rc == 0) rc = qf__ev_get_int(r, o, path, "attempts", 1, 1000, &v);
  c->attempts = (int)v;
  v = 0;
  if (rc == 0) rc = qf__ev_get_int(r, o, path, "retries_used", 0, 1000, &v);
  c->retries_used = (int)v;
  return rc;
}

static int read_calls(qf__ev_rd_t *r, const cJSON *arr, qf_evidence_t *ev) {
  if (!cJSON_IsArray(arr))
    return qf__ev_fail(r, "tool_calls", "must be an array");
  int n = cJSON_GetArraySize(arr), rc = QF_OK;
  if (n > 1000) return qf__ev_fail(r, "tool_calls", "more than 1000 entries");
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

static int read_artifact(qf__ev_rd_t *r, const cJSON *o, const char *path,
                         qf_artifact_t *a) {
  static const char *const keys[] = {"!type", "!path",  "size",
                                     "mime",  "sha256", NULL};
  char *sha = NULL;
  int rc = qf__ev_check_keys(r, o, path, keys);
  if (rc == 0) rc = qf__ev_get_str(r, o, path, "type", 0, 32, &a->type);
  if (rc == 0) rc = qf__ev_get_str(r, o, path, "path", 0, 4096, &a->path);
  if (rc == 0) rc = qf__ev_get_int(r, o, path, "size", 0, BIG, &a->size);
  if (rc == 0) rc = qf__ev_get_str(r, o, path, "mime", 1, 128, &a->mime);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, path, "sha256", 1, QF_SHA256_HEX_LEN, &sha);
  if (rc == 0 && sha) snprintf(a->sha256, sizeof a->sha256, "%s", sha);
  free(sha);
  return rc;
}

static int read_artifacts(qf__ev_rd_t *r, const cJSON *arr, qf_evidence_t *ev) {
  if (!cJSON_IsArray(arr))
    return qf__ev_fail(r, "artifacts", "must be an array");
  int n = cJSON_GetArraySize(arr), rc = QF_OK;
  if (n > 10000) return qf__ev_fail(r, "artifacts", "more than 10000 entries");
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

static int read_summary(qf__ev_rd_t *r, const cJSON *o, qf_junit_summary_t *s) {
  static const char *const keys[] = {
      "!tests", "!failures", "!errors", "!skipped", "passed", "!time", NULL};
  int rc = qf__ev_check_keys(r, o, "summary", keys);
  if (rc == 0) rc = qf__ev_get_int(r, o, "summary", "tests", 0, BIG, &s->tests);
  if (rc == 0)
    rc = qf__ev_get_int(r, o, "summary", "failures", 0, BIG, &s->failures);
  if (rc == 0)
    rc = qf__ev_get_int(r, o, "summary", "errors", 0, BIG, &s->errors);
  if (rc == 0)
    rc = qf__ev_get_int(r, o, "summary", "skipped", 0, BIG, &s->skipped);
  s->passed = s->tests - s->failures - s->errors - s->skipped;
  if (s->passed < 0) s->passed = 0;
  if (rc == 0)
    rc = qf__ev_get_int(r, o, "summary", "passed", 0, BIG, &s->passed);
  const cJSON *t = qf__ev_field(o, "time");
  if (rc == 0 &&
      !(cJSON_IsNumber(t) && isfinite(t->valuedouble) && t->valuedouble >= 0))
    rc = qf__ev_fail(r, "summary.time", "must be a number >= 0");
  if (rc == 0) s->time_s = t->valuedouble;
  return rc;
}

static int read_repro(qf__ev_rd_t *r, const cJSON *o, qf_evidence_t *ev) {
  static const char *const keys[] = {"!git_sha", "!git_branch", "!git_dirty",
                                     "version",  "platform",    NULL};
  if (o == NULL || cJSON_IsNull(o)) return QF_OK;
  qf_repro_t *p = &ev->repro;
  int rc = qf__ev_check_keys(r, o, "repro", keys);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, "repro", "git_sha", 1, 64, &p->git_sha);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, "repro", "git_branch", 1, 256, &p->git_branch);
  const cJSON *d = qf__ev_field(o, "git_dirty");
  p->git_dirty = -1;
  if (rc == 0 && d && !cJSON_IsNull(d))
    rc = qf__ev_get_bool(r, o, "repro", "git_dirty", &p->git_dirty);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, "repro", "version", 1, 64, &p->version);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, "repro", "platform", 1, 64, &p->platform);
  ev->has_repro = rc == 0;
  return rc;
}

static int read_governance(qf__ev_rd_t *r, const cJSON *o, qf_governance_t *g) {
  static const char *const keys[] = {"!budget",          "policy_limits",
                                     "!short_circuited", "short_circuit_reason",
                                     "decision_source",  "approver",
                                     "approval_comment", NULL};
  const char *p = "governance";
  int rc = qf__ev_check_keys(r, o, p, keys);
  if (rc == 0) rc = qf__ev_read_governance(r, o, 1, g);
  if (rc == 0) rc = qf__ev_get_str(r, o, p, "approver", 1, 256, &g->approver);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, p, "approval_comment", 1, QF_EVIDENCE_COMMENT_MAX,
                        &g->approval_comment);
  return rc;
}

static int read_policy(qf__ev_rd_t *r, const cJSON *o, qf_evidence_t *ev) {
  static const char *const keys[] = {"!version", "!hash", NULL};
  if (o == NULL || cJSON_IsNull(o)) return QF_OK;
  int rc = qf__ev_check_keys(r, o, "policy", keys);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, "policy", "version", 1, 64, &ev->policy_version);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, "policy", "hash", 0, 64, &ev->policy_hash);
  return rc;
}

/* One failing test case; strings are bounded by the limits junit.h cuts
 * them to, so whatever qf wrote reads back. */
static int read_failure(qf__ev_rd_t *r, const cJSON *o, const char *path,
                        qf_junit_failures_t *f) {
  static const char *const keys[] = {"!suite", "!name", "!kind", "!message",
                                     "!file",  "!line", NULL};
  qf_junit_failure_t it = {0};
  char p[QF__EV_PATH_MAX];
  long long line = 0;
  int rc = qf__ev_check_keys(r, o, path, keys);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, path, "suite", 1, QF_JUNIT_FAILURE_NAME_MAX,
                        &it.suite);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, path, "name", 0, QF_JUNIT_FAILURE_NAME_MAX,
                        &it.name);
  if (rc == 0) rc = qf__ev_get_str(r, o, path, "kind", 0, 16, &it.kind);
  if (rc == 0 && strcmp(it.kind, "failure") != 0 &&
      strcmp(it.kind, "error") != 0) {
    qf__ev_join(p, sizeof p, path, "kind");
    rc = qf__ev_fail(r, p, "must be failure or error");
  }
  if (rc == 0)
    rc = qf__ev_get_str(r, o, path, "message", 1, QF_JUNIT_FAILURE_TEXT_MAX,
                        &it.message);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, path, "file", 1, QF_JUNIT_FAILURE_NAME_MAX,
                        &it.file);
  /* 0 (unknown) is written as null, so a number must be a real line. */
  if (rc == 0 && !cJSON_IsNull(qf__ev_field(o, "line")))
    rc = qf__ev_get_int(r, o, path, "line", 1, 2147483647, &line);
  it.line = (long)line;
  if (rc == 0 && qf_junit_failures_add(f, &it) < 0)
    rc = qf_error_set(r->err, QF_ENOMEM, "out of memory");
  free(it.suite);
  free(it.name);
  free(it.kind);
  free(it.message);
  free(it.file);
  return rc;
}

/* failures and failures_total come together (documents older than them
 * have neither); total counts every failing case, listed or not. */
static int read_failures(qf__ev_rd_t *r, const cJSON *doc, qf_evidence_t *ev) {
  const cJSON *arr = qf__ev_field(doc, "failures");
  const cJSON *total = qf__ev_field(doc, "failures_total");
  if (arr == NULL && total == NULL) return QF_OK;
  if (arr == NULL) return qf__ev_fail(r, "failures", "missing");
  if (total == NULL) return qf__ev_fail(r, "failures_total", "missing");
  if (!cJSON_IsArray(arr))
    return qf__ev_fail(r, "failures", "must be an array");
  int n = cJSON_GetArraySize(arr), rc = QF_OK;
  if (n > QF_JUNIT_MAX_FAILURES) {
    char what[64];
    snprintf(what, sizeof what, "more than %d entries", QF_JUNIT_MAX_FAILURES);
    return qf__ev_fail(r, "failures", what);
  }
  for (int i = 0; i < n && rc == 0; i++) {
    char p[64];
    snprintf(p, sizeof p, "failures[%d]", i);
    rc = read_failure(r, cJSON_GetArrayItem(arr, i), p, &ev->failures);
  }
  long long t = 0;
  if (rc == 0)
    rc =
        qf__ev_get_int(r, doc, "", "failures_total", 0, QF_JUNIT_COUNT_MAX, &t);
  if (rc == 0 && t < n)
    rc = qf__ev_fail(r, "failures_total",
                     "must be at least the number of failures listed");
  ev->failures.total = t;
  return rc;
}

static int is_hex40(const char *s) {
  size_t i = 0;
  while (s[i] && strchr("0123456789abcdefABCDEF", s[i]))
    i++;
  return i == 40 && s[i] == '\0';
}

/* What was tested. A git source names its repository and the commit
 * actually checked out; any commit given is a full sha. */
static int read_source(qf__ev_rd_t *r, const cJSON *o, qf_evidence_t *ev) {
  static const char *const keys[] = {"!kind",   "!repo",      "!ref",
                                     "!commit", "!workspace", NULL};
  const char *p = "source";
  qf_evidence_source_t *s = &ev->source;
  if (o == NULL || cJSON_IsNull(o)) return QF_OK;
  ev->has_source = 1; /* so qf_evidence_free frees what was read */
  int rc = qf__ev_check_keys(r, o, p, keys);
  if (rc == 0) rc = qf__ev_get_str(r, o, p, "kind", 0, 16, &s->kind);
  int git = rc == 0 && strcmp(s->kind, "git") == 0;
  if (rc == 0 && !git && strcmp(s->kind, "workspace") != 0)
    rc = qf__ev_fail(r, "source.kind", "must be git or workspace");
  if (rc == 0) rc = qf__ev_get_str(r, o, p, "repo", 1, 4096, &s->repo);
  if (rc == 0) rc = qf__ev_get_str(r, o, p, "ref", 1, 4096, &s->ref);
  if (rc == 0) rc = qf__ev_get_str(r, o, p, "commit", 1, 64, &s->commit);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, p, "workspace", 1, 4096, &s->workspace);
  if (rc == 0 && git && s->repo == NULL)
    rc = qf__ev_fail(r, "source.repo", "must be a string when kind is git");
  if (rc == 0 && git && s->commit == NULL)
    rc = qf__ev_fail(r, "source.commit",
                     "must be 40 hex digits when kind is git");
  if (rc == 0 && s->commit != NULL && !is_hex40(s->commit))
    rc = qf__ev_fail(r, "source.commit", "must be 40 hex digits");
  return rc;
}

static int read_top(qf__ev_rd_t *r, const cJSON *doc, qf_evidence_t *ev) {
  static const char *const keys[] = {
      "!run_id",        "!input_nl",  "!environment", "dry_run",
      "!tool_calls",    "!artifacts", "!summary",     "failures",
      "failures_total", "source",     "!repro",       "!governance",
      "policy",         "decision",   "ai_review",    "!collected_at",
      "!$schema",       NULL};
  int rc = qf__ev_check_keys(r, doc, "", keys);
  char *tmp = NULL;
  if (rc == 0) rc = qf__ev_get_str(r, doc, "", "run_id", 0, 64, &ev->run_id);
  if (rc == 0)
    rc = qf__ev_get_str(r, doc, "", "input_nl", 0, 65536, &ev->input_nl);
  if (rc == 0 && ev->input_nl[0] == '\0')
    rc = qf__ev_fail(r, "input_nl", "must not be empty");
  const cJSON *env = qf__ev_field(doc, "environment");
  static const char *const env_keys[] = {"environment_id", "base_url",
                                         "headless", NULL};
  if (rc == 0) rc = qf__ev_check_keys(r, env, "environment", env_keys);
  if (rc == 0)
    rc = qf__ev_get_str(r, env, "environment", "environment_id", 1, 64,
                        &ev->environment_id);
  if (rc == 0) rc = qf__ev_get_bool(r, doc, "", "dry_run", &ev->dry_run);
  if (rc == 0) rc = read_calls(r, qf__ev_field(doc, "tool_calls"), ev);
  if (rc == 0) rc = read_artifacts(r, qf__ev_field(doc, "artifacts"), ev);
  if (rc == 0) rc = read_summary(r, qf__ev_field(doc, "summary"), &ev->summary);
  if (rc == 0) rc = read_failures(r, doc, ev);
  if (rc == 0) rc = read_source(r, qf__ev_field(doc, "source"), ev);
  if (rc == 0) rc = read_repro(r, qf__ev_field(doc, "repro"), ev);
  if (rc == 0)
    rc = read_governance(r, qf__ev_field(doc, "governance"), &ev->governance);
  if (rc == 0) rc = read_policy(r, qf__ev_field(doc, "policy"), ev);
  if (rc == 0) rc = qf__ev_get_str(r, doc, "", "collected_at", 0, 39, &tmp);
  if (rc == 0) snprintf(ev->collected_at, sizeof ev->collected_at, "%s", tmp);
  free(tmp);
  return rc;
}

/* The decision block is informational for readers (the gate recomputes
 * it); it is checked for shape only. */
static int read_decision(qf__ev_rd_t *r, const cJSON *o) {
  static const char *const keys[] = {"!decision", "!reason", "!triggered_rules",
                                     "!decided_by", NULL};
  if (o == NULL || cJSON_IsNull(o)) return QF_OK;
  return qf__ev_check_keys(r, o, "decision", keys);
}

int qf_evidence_from_json(const char *text, size_t len, const char *name,
                          qf_evidence_t **out, qf_error_t *err) {
  qf__ev_rd_t r = {name ? name : "evidence", err};
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
  if (rc == 0) rc = read_decision(&r, qf__ev_field(doc, "decision"));
  const cJSON *schema = qf__ev_field(doc, "$schema");
  if (rc == 0 && !(cJSON_IsString(schema) &&
                   strcmp(schema->valuestring, QF_EVIDENCE_SCHEMA_ID) == 0))
    rc = qf__ev_fail(&r, "$schema", "must be " QF_EVIDENCE_SCHEMA_ID);
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
