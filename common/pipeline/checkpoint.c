/* checkpoint.c: the run state as JSON after a node, and back, so that a
 * run resumes after its last completed node on any worker. */
#include <stdlib.h>
#include <string.h>

#include "qf/json.h"
#include "qf/pipeline.h"

#define CHECKPOINT_VERSION 1

static cJSON *request_json(const qf_request_t *r) {
  char *text = NULL;
  if (r == NULL || qf_request_to_json(r, &text, NULL) < 0) return NULL;
  cJSON *o = cJSON_Parse(text);
  free(text);
  return o;
}

static cJSON *evidence_json(const qf_evidence_t *ev) {
  cJSON *o = NULL;
  if (ev == NULL) return cJSON_CreateNull();
  return qf_evidence_to_json(ev, &o, NULL) < 0 ? NULL : o;
}

static cJSON *junit_json(const qf_junit_summary_t *j) {
  double v[] = {(double)j->tests,   (double)j->failures, (double)j->errors,
                (double)j->skipped, (double)j->passed,   j->time_s};
  return cJSON_CreateDoubleArray(v, 6);
}

static cJSON *result_json(const qf_gate_result_t *r) {
  cJSON *rules = cJSON_CreateArray();
  for (size_t i = 0; rules && i < r->nrules; i++) {
    if (!cJSON_AddItemToArray(rules, cJSON_CreateString(r->rules[i]))) {
      cJSON_Delete(rules);
      return NULL;
    }
  }
  cJSON *o = cJSON_CreateObject();
  if (o == NULL) cJSON_Delete(rules);
  int ok = o && qf_json_add(o, "triggered_rules", rules) &&
           qf_json_add(o, "decision",
                       cJSON_CreateString(qf_decision_name(r->decision))) &&
           qf_json_add(o, "reason", cJSON_CreateString(r->reason)) &&
           qf_json_add(o, "decided_by", cJSON_CreateString(r->decided_by));
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

int qf_pipeline_checkpoint(const qf_run_state_t *s, cJSON **out,
                           qf_error_t *err) {
  cJSON *o = cJSON_CreateObject();
  const qf_node_t *n = qf_pipeline_node_at(s->next);
  const char *next = n ? n->name : "done";
  int ok =
      o && qf_json_add(o, "version", cJSON_CreateNumber(CHECKPOINT_VERSION)) &&
      qf_json_add(o, "run_id", cJSON_CreateString(s->run_id)) &&
      qf_json_add(o, "next", cJSON_CreateString(next)) &&
      qf_json_add(o, "request", request_json(s->request)) &&
      qf_json_add(o, "workspace", qf_json_str_or_null(s->workspace)) &&
      qf_json_add(o, "source_commit",
                  s->source_commit[0] ? cJSON_CreateString(s->source_commit)
                                      : cJSON_CreateNull()) &&
      qf_json_add(o, "policy_hash", qf_json_str_or_null(s->policy_hash)) &&
      qf_json_add(o, "timeout_s", cJSON_CreateNumber(s->timeout_s)) &&
      qf_json_add(o, "max_retries", cJSON_CreateNumber(s->max_retries)) &&
      qf_json_add(o, "blocked", qf_json_str_or_null(s->blocked)) &&
      qf_json_add(o, "blocked_source",
                  qf_json_str_or_null(s->blocked_source)) &&
      qf_json_add(o, "junit",
                  s->has_junit ? junit_json(&s->junit) : cJSON_CreateNull()) &&
      qf_json_add(o, "evidence", evidence_json(s->evidence)) &&
      qf_json_add(o, "evidence_path", qf_json_str_or_null(s->evidence_path)) &&
      qf_json_add(o, "result",
                  s->decided ? result_json(&s->result) : cJSON_CreateNull()) &&
      qf_json_add(o, "parked", cJSON_CreateBool(s->parked)) &&
      /* The checkpoint lives in PostgreSQL, written by the worker: an
       * approval it checked there stays checked on resume. */
      qf_json_add(o, "approval_verified",
                  cJSON_CreateBool(s->evidence &&
                                   s->evidence->governance.approval_verified));
  if (!ok) {
    cJSON_Delete(o);
    return qf_error_set(err, QF_ENOMEM, "out of memory building checkpoint");
  }
  *out = o;
  return QF_OK;
}

static int bad(qf_error_t *err, const char *what) {
  return qf_error_set(err, QF_EPARSE, "checkpoint: %s", what);
}

static const cJSON *get(const cJSON *o, const char *k) {
  return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int opt_str(const cJSON *o, const char *k, char **out) {
  const cJSON *v = get(o, k);
  *out = NULL;
  if (v == NULL || cJSON_IsNull(v)) return QF_OK;
  if (!cJSON_IsString(v)) return QF_EPARSE;
  *out = strdup(v->valuestring);
  return *out ? QF_OK : QF_ENOMEM;
}

static int restore_request(qf_run_state_t *s, const cJSON *cp,
                           qf_error_t *err) {
  char *text = cJSON_PrintUnformatted(get(cp, "request"));
  if (text == NULL) return bad(err, "request missing");
  int rc = qf_request_parse(text, strlen(text), &s->request, err);
  cJSON_free(text);
  return rc < 0 ? qf_error_prefix(err, "checkpoint: request") : QF_OK;
}

static int restore_next(qf_run_state_t *s, const cJSON *cp, qf_error_t *err) {
  const cJSON *next = get(cp, "next");
  if (!cJSON_IsString(next)) return bad(err, "next missing");
  if (strcmp(next->valuestring, "done") == 0) {
    s->next = qf_pipeline_nnodes();
    return QF_OK;
  }
  int i = qf_pipeline_node_index(next->valuestring);
  if (i < 0) return bad(err, "unknown node in next");
  s->next = (size_t)i;
  return QF_OK;
}

static int restore_results(qf_run_state_t *s, const cJSON *cp,
                           qf_error_t *err) {
  const cJSON *j = get(cp, "junit"), *ev = get(cp, "evidence");
  const cJSON *r = get(cp, "result");
  if (cJSON_IsArray(j) && cJSON_GetArraySize(j) == 6) {
    long long *f[] = {&s->junit.tests, &s->junit.failures, &s->junit.errors,
                      &s->junit.skipped, &s->junit.passed};
    for (int i = 0; i < 5; i++)
      *f[i] = (long long)cJSON_GetArrayItem(j, i)->valuedouble;
    s->junit.time_s = cJSON_GetArrayItem(j, 5)->valuedouble;
    s->has_junit = 1;
  }
  if (cJSON_IsObject(ev)) {
    char *text = cJSON_PrintUnformatted(ev);
    int rc = text ? qf_evidence_from_json(text, strlen(text), "checkpoint",
                                          &s->evidence, err)
                  : QF_ENOMEM;
    cJSON_free(text);
    if (rc < 0) return rc;
  }
  if (cJSON_IsObject(r)) {
    const cJSON *d = get(r, "decision"), *why = get(r, "reason");
    const cJSON *rules = get(r, "triggered_rules"), *by = get(r, "decided_by");
    if (!cJSON_IsString(d) ||
        qf_decision_parse(d->valuestring, &s->result.decision) < 0 ||
        !cJSON_IsString(why) || !cJSON_IsArray(rules) || !cJSON_IsString(by))
      return bad(err, "result is malformed");
    strncpy(s->result.reason, why->valuestring, sizeof s->result.reason - 1);
    for (const cJSON *x = rules->child;
         x && s->result.nrules < QF_GATE_RULES_MAX; x = x->next)
      strncpy(s->result.rules[s->result.nrules++],
              cJSON_IsString(x) ? x->valuestring : "", QF_GATE_RULE_MAX - 1);
    s->result.decided_by =
        strcmp(by->valuestring, "budget") == 0 ? "budget" : "gate";
    s->decided = 1;
  }
  return QF_OK;
}

/* The commit fixed when the run first checked its source out. The
 * checkout itself was on the worker that wrote the checkpoint: whoever
 * resumes makes its own when it needs one (execute). */
static int restore_source(qf_run_state_t *s, const cJSON *cp, qf_error_t *err) {
  const cJSON *c = get(cp, "source_commit");
  if (s->request->source_repo == NULL) return QF_OK;
  free(s->workspace);
  s->workspace = NULL;
  if (cJSON_IsNull(c) || c == NULL) return QF_OK;
  if (!cJSON_IsString(c) || strlen(c->valuestring) != 40)
    return bad(err, "source_commit is malformed");
  memcpy(s->source_commit, c->valuestring, 41);
  return QF_OK;
}

int qf_pipeline_restore(qf_run_state_t *s, const cJSON *cp, qf_error_t *err) {
  const cJSON *v = get(cp, "version"), *id = get(cp, "run_id");
  const cJSON *t = get(cp, "timeout_s"), *m = get(cp, "max_retries");
  if (!cJSON_IsNumber(v) || v->valueint != CHECKPOINT_VERSION)
    return bad(err, "unknown version");
  if (!cJSON_IsString(id) || strlen(id->valuestring) != QF_UUID_STR_LEN)
    return bad(err, "run_id missing");
  memcpy(s->run_id, id->valuestring, QF_UUID_STR_LEN + 1);
  int rc = restore_request(s, cp, err);
  if (rc == QF_OK) rc = restore_next(s, cp, err);
  if (rc == QF_OK && (opt_str(cp, "workspace", &s->workspace) < 0 ||
                      opt_str(cp, "policy_hash", &s->policy_hash) < 0 ||
                      opt_str(cp, "blocked", &s->blocked) < 0 ||
                      opt_str(cp, "blocked_source", &s->blocked_source) < 0 ||
                      opt_str(cp, "evidence_path", &s->evidence_path) < 0))
    rc = bad(err, "a string field is malformed");
  if (rc == QF_OK) rc = restore_source(s, cp, err);
  s->parked = cJSON_IsTrue(get(cp, "parked"));
  s->timeout_s = cJSON_IsNumber(t) ? t->valueint : 0;
  s->max_retries = cJSON_IsNumber(m) ? m->valueint : 0;
  if (rc == QF_OK) rc = restore_results(s, cp, err);
  if (rc == QF_OK && s->evidence)
    s->evidence->governance.approval_verified =
        cJSON_IsTrue(get(cp, "approval_verified"));
  return rc;
}
