/* pipeline.c: the driver loop, the run state's lifecycle, checkpoints and
 * the decision message. The nodes are in pipeline_nodes.c. */
#include "qf/pipeline.h"

#include <stdlib.h>
#include <string.h>

#define CHECKPOINT_VERSION 1

void qf_run_state_init(qf_run_state_t *s, const char *run_id,
                       qf_request_t *request) {
  memset(s, 0, sizeof *s);
  if (run_id) {
    strncpy(s->run_id, run_id, sizeof s->run_id - 1);
    s->run_id[sizeof s->run_id - 1] = '\0';
  }
  s->request = request;
}

void qf_run_state_fini(qf_run_state_t *s) {
  if (s == NULL) return;
  qf_request_free(s->request);
  free(s->workspace);
  qf_policy_free(s->policy);
  free(s->policy_hash);
  free(s->blocked);
  free(s->blocked_source);
  qf_evidence_free(s->evidence);
  free(s->evidence_path);
  memset(s, 0, sizeof *s);
}

int qf_pipeline_run(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                    qf_node_done_fn done, void *done_ctx, qf_error_t *err) {
  /* A resumed run reloads the policy first: it is not checkpointed. */
  if (s->policy == NULL && s->next > 1) {
    int rc = qf_pipeline_nodes[1].run(s, cfg, err);
    if (rc < 0) return rc;
  }
  while (s->next < qf_pipeline_nnodes) {
    const qf_node_t *n = &qf_pipeline_nodes[s->next];
    int rc = n->run(s, cfg, err);
    if (rc < 0) return qf_error_prefix(err, "%s", n->name);
    s->next++;
    if (done && (rc = done(s, n->name, done_ctx)) < 0) return rc;
    if (s->parked) return QF_OK; /* waits for a human before execute */
  }
  return QF_OK;
}

int qf_pipeline_approve_parked(qf_run_state_t *s, const char *approver,
                               const char *comment, qf_error_t *err) {
  qf_governance_t *g = &s->evidence->governance;
  char *a = strdup(approver ? approver : "");
  char *c = comment ? strdup(comment) : NULL;
  if (a == NULL || (comment && c == NULL)) {
    free(a);
    free(c);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  free(g->approver);
  free(g->approval_comment);
  g->approver = a;
  g->approval_comment = c;
  s->parked = s->decided = 0;
  memset(&s->result, 0, sizeof s->result);
  return QF_OK;
}

/* ---------------------------------------------------------- checkpoint */

static int add(cJSON *o, const char *key, cJSON *item) {
  if (item == NULL) return 0;
  if (!cJSON_AddItemToObject(o, key, item)) {
    cJSON_Delete(item);
    return 0;
  }
  return 1;
}

static cJSON *str_or_null(const char *s) {
  return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

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
  int ok =
      o && add(o, "triggered_rules", rules) &&
      add(o, "decision", cJSON_CreateString(qf_decision_name(r->decision))) &&
      add(o, "reason", cJSON_CreateString(r->reason)) &&
      add(o, "decided_by", cJSON_CreateString(r->decided_by));
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

int qf_pipeline_checkpoint(const qf_run_state_t *s, cJSON **out,
                           qf_error_t *err) {
  cJSON *o = cJSON_CreateObject();
  const char *next =
      s->next < qf_pipeline_nnodes ? qf_pipeline_nodes[s->next].name : "done";
  int ok = o && add(o, "version", cJSON_CreateNumber(CHECKPOINT_VERSION)) &&
           add(o, "run_id", cJSON_CreateString(s->run_id)) &&
           add(o, "next", cJSON_CreateString(next)) &&
           add(o, "request", request_json(s->request)) &&
           add(o, "workspace", str_or_null(s->workspace)) &&
           add(o, "policy_hash", str_or_null(s->policy_hash)) &&
           add(o, "timeout_s", cJSON_CreateNumber(s->timeout_s)) &&
           add(o, "max_retries", cJSON_CreateNumber(s->max_retries)) &&
           add(o, "blocked", str_or_null(s->blocked)) &&
           add(o, "blocked_source", str_or_null(s->blocked_source)) &&
           add(o, "junit",
               s->has_junit ? junit_json(&s->junit) : cJSON_CreateNull()) &&
           add(o, "evidence", evidence_json(s->evidence)) &&
           add(o, "evidence_path", str_or_null(s->evidence_path)) &&
           add(o, "result",
               s->decided ? result_json(&s->result) : cJSON_CreateNull()) &&
           add(o, "parked", cJSON_CreateBool(s->parked));
  if (!ok) {
    cJSON_Delete(o);
    return qf_error_set(err, QF_ENOMEM, "out of memory building checkpoint");
  }
  *out = o;
  return QF_OK;
}

/* ------------------------------------------------------------ restore */

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
    s->next = qf_pipeline_nnodes;
    return QF_OK;
  }
  for (size_t i = 0; i < qf_pipeline_nnodes; i++) {
    if (strcmp(qf_pipeline_nodes[i].name, next->valuestring) == 0) {
      s->next = i;
      return QF_OK;
    }
  }
  return bad(err, "unknown node in next");
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
  s->parked = cJSON_IsTrue(get(cp, "parked"));
  s->timeout_s = cJSON_IsNumber(t) ? t->valueint : 0;
  s->max_retries = cJSON_IsNumber(m) ? m->valueint : 0;
  if (rc == QF_OK) rc = restore_results(s, cp, err);
  return rc;
}

/* ----------------------------------------------------- decision message */

static cJSON *summary_json(const qf_junit_summary_t *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "tests", (double)s->tests);
  cJSON_AddNumberToObject(o, "failures", (double)s->failures);
  cJSON_AddNumberToObject(o, "errors", (double)s->errors);
  cJSON_AddNumberToObject(o, "skipped", (double)s->skipped);
  cJSON_AddNumberToObject(o, "passed", (double)s->passed);
  cJSON_AddNumberToObject(o, "time", s->time_s);
  return o;
}

int qf_pipeline_decision_json(const qf_run_state_t *s,
                              const char *correlation_id, cJSON **out,
                              qf_error_t *err) {
  if (!s->decided || s->evidence == NULL)
    return qf_error_set(err, QF_EINVAL, "run %s is not decided", s->run_id);
  cJSON *o = NULL;
  int rc = qf_gate_result_to_json(&s->result, s->policy, &o, err);
  if (rc < 0) return rc;
  int ok = add(o, "run_id", cJSON_CreateString(s->run_id)) &&
           add(o, "final",
               cJSON_CreateBool(s->result.decision != QF_DECISION_NEED_HITL)) &&
           add(o, "approval_id", cJSON_CreateNull()) &&
           add(o, "summary", summary_json(&s->evidence->summary)) &&
           add(o, "evidence_path", str_or_null(s->evidence_path)) &&
           add(o, "correlation_id", str_or_null(correlation_id));
  if (ok && s->policy == NULL) { /* a restored run: the hash it ran under */
    cJSON_ReplaceItemInObject(o, "policy_hash", str_or_null(s->policy_hash));
  }
  if (!ok) {
    cJSON_Delete(o);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  *out = o;
  return QF_OK;
}
