/* evidence.c: the evidence model: building a document from tool results
 * and freeing it. Its JSON form is in evidence_json.c, reading a document
 * back in evidence_parse.c, and writing the file in evidence_io.c. */
#include "qf/evidence.h"
#include "qf/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *const status_names[] = {"success", "failed", "timeout",
                                           "skipped", "cancelled"};

const char *qf_tool_status_name(qf_tool_status_t s) {
  return (unsigned)s < 5 ? status_names[s] : "failed";
}

int qf_tool_status_parse(const char *s, qf_tool_status_t *out) {
  for (int i = 0; s != NULL && i < 5; i++) {
    if (strcmp(s, status_names[i]) == 0) {
      *out = (qf_tool_status_t)i;
      return QF_OK;
    }
  }
  return QF_EINVAL;
}

/* strdup that keeps NULL as NULL; *ok is cleared on allocation failure. */
static char *dup_or_null(const char *s, int *ok) {
  if (s == NULL) return NULL;
  char *d = strdup(s);
  if (d == NULL) *ok = 0;
  return d;
}

/* Copies at most max bytes of s, not splitting a UTF-8 sequence. */
static char *dup_cut(const char *s, size_t max, int *ok) {
  if (s == NULL) return NULL;
  size_t n = qf_utf8_cut_len(s, max);
  char *d = malloc(n + 1);
  if (d == NULL) {
    *ok = 0;
    return NULL;
  }
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

int qf_evidence_new(const char *run_id, const char *input_nl,
                    const char *environment_id, qf_evidence_t **out,
                    qf_error_t *err) {
  int ok = 1;
  qf_evidence_t *ev = calloc(1, sizeof *ev);
  if (ev == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  ev->run_id = dup_or_null(run_id, &ok);
  ev->input_nl = dup_or_null(input_nl, &ok);
  ev->environment_id = dup_or_null(environment_id, &ok);
  ev->repro.git_dirty = -1;
  if (!ok) {
    qf_evidence_free(ev);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  *out = ev;
  return QF_OK;
}

static void tool_call_fini(qf_tool_call_t *c) {
  free(c->tool_name);
  free(c->error_message);
  free(c->decision_source);
}

static void decision_fini(qf_evidence_decision_t *d) {
  free(d->decision);
  free(d->reason);
  for (size_t i = 0; i < d->nrules; i++)
    free(d->triggered_rules[i]);
  free(d->triggered_rules);
  free(d->decided_by);
  memset(d, 0, sizeof *d);
}

static void source_fini(qf_evidence_source_t *s) {
  free(s->kind);
  free(s->repo);
  free(s->ref);
  free(s->commit);
  free(s->workspace);
  memset(s, 0, sizeof *s);
}

void qf_evidence_free(qf_evidence_t *ev) {
  if (ev == NULL) return;
  free(ev->run_id);
  free(ev->input_nl);
  free(ev->environment_id);
  for (size_t i = 0; i < ev->ntool_calls; i++)
    tool_call_fini(&ev->tool_calls[i]);
  free(ev->tool_calls);
  for (size_t i = 0; i < ev->nartifacts; i++) {
    free(ev->artifacts[i].type);
    free(ev->artifacts[i].path);
    free(ev->artifacts[i].mime);
  }
  free(ev->artifacts);
  qf_junit_failures_fini(&ev->failures);
  source_fini(&ev->source);
  free(ev->repro.git_sha);
  free(ev->repro.git_branch);
  free(ev->repro.version);
  free(ev->repro.platform);
  free(ev->governance.short_circuit_reason);
  free(ev->governance.decision_source);
  free(ev->governance.approver);
  free(ev->governance.approval_comment);
  free(ev->policy_version);
  free(ev->policy_hash);
  decision_fini(&ev->decision);
  free(ev);
}

int qf_evidence_add_tool_call(qf_evidence_t *ev, const qf_tool_call_t *call,
                              qf_error_t *err) {
  qf_tool_call_t *grown =
      realloc(ev->tool_calls, (ev->ntool_calls + 1) * sizeof *grown);
  if (grown == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  ev->tool_calls = grown;
  int ok = 1;
  qf_tool_call_t c = *call;
  c.tool_name = dup_or_null(call->tool_name ? call->tool_name : "", &ok);
  c.error_message = dup_cut(call->error_message, QF_EVIDENCE_ERROR_MAX, &ok);
  c.decision_source = dup_or_null(call->decision_source, &ok);
  if (c.attempts < 1) c.attempts = 1;
  if (c.retries_used < 0) c.retries_used = 0;
  if (!ok) {
    tool_call_fini(&c);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  ev->tool_calls[ev->ntool_calls++] = c;
  return QF_OK;
}

int qf_evidence_add_artifact(qf_evidence_t *ev, const char *type,
                             const char *path, long long size, const char *mime,
                             const char *sha256, qf_error_t *err) {
  qf_artifact_t *grown =
      realloc(ev->artifacts, (ev->nartifacts + 1) * sizeof *grown);
  if (grown == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  ev->artifacts = grown;
  int ok = 1;
  qf_artifact_t a = {0};
  a.type = dup_or_null(type, &ok);
  a.path = dup_or_null(path, &ok);
  a.mime = dup_or_null(mime ? mime : "application/octet-stream", &ok);
  a.size = size;
  snprintf(a.sha256, sizeof a.sha256, "%s", sha256 ? sha256 : "");
  if (!ok) {
    free(a.type);
    free(a.path);
    free(a.mime);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  ev->artifacts[ev->nartifacts++] = a;
  return QF_OK;
}

void qf_evidence_summarize(qf_evidence_t *ev, const qf_junit_summary_t *j) {
  qf_junit_summary_t s = {0};
  if (j != NULL && j->tests > 0) {
    s = *j;
  } else {
    long long ms = 0;
    for (size_t i = 0; i < ev->ntool_calls; i++) {
      s.tests += ev->tool_calls[i].steps_total;
      s.failures += ev->tool_calls[i].steps_failed;
      s.passed += ev->tool_calls[i].steps_passed;
      ms += ev->tool_calls[i].duration_ms;
    }
    s.time_s = (double)ms / 1000.0;
  }
  ev->summary = s;
}

void qf_evidence_account(qf_evidence_t *ev, int timeout_s, int max_retries) {
  qf_governance_t *g = &ev->governance;
  g->elapsed_ms_total = g->attempts_total = g->retries_used_total = 0;
  for (size_t i = 0; i < ev->ntool_calls; i++) {
    g->elapsed_ms_total += ev->tool_calls[i].duration_ms;
    g->attempts_total += ev->tool_calls[i].attempts;
    g->retries_used_total += ev->tool_calls[i].retries_used;
  }
  g->has_policy_limits = 1;
  g->timeout_s = timeout_s;
  g->max_retries = max_retries;
}

int qf_evidence_set_decision(qf_evidence_t *ev, const char *decision,
                             const char *reason, const char *const *rules,
                             size_t nrules, const char *decided_by,
                             qf_error_t *err) {
  int ok = 1;
  qf_evidence_decision_t d = {0};
  d.decision = dup_or_null(decision, &ok);
  d.reason = dup_or_null(reason ? reason : "", &ok);
  d.decided_by = dup_or_null(decided_by, &ok);
  d.triggered_rules = calloc(nrules ? nrules : 1, sizeof *d.triggered_rules);
  if (d.triggered_rules == NULL) ok = 0;
  for (size_t i = 0; ok && i < nrules; i++, d.nrules++)
    d.triggered_rules[i] = dup_or_null(rules[i], &ok);
  if (!ok) {
    decision_fini(&d);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  decision_fini(&ev->decision);
  ev->decision = d;
  ev->has_decision = 1;
  return QF_OK;
}

int qf_evidence_set_source(qf_evidence_t *ev, const qf_evidence_source_t *src,
                           qf_error_t *err) {
  /* The reader refuses any other kind: never write what cannot be read. */
  if (src->kind == NULL ||
      (strcmp(src->kind, "git") != 0 && strcmp(src->kind, "workspace") != 0))
    return qf_error_set(err, QF_EINVAL, "source kind must be git or workspace");
  int ok = 1;
  qf_evidence_source_t s = {0};
  s.kind = dup_or_null(src->kind, &ok);
  s.repo = dup_or_null(src->repo, &ok);
  s.ref = dup_or_null(src->ref, &ok);
  s.commit = dup_or_null(src->commit, &ok);
  s.workspace = dup_or_null(src->workspace, &ok);
  if (!ok) {
    source_fini(&s);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  source_fini(&ev->source);
  ev->source = s;
  ev->has_source = 1;
  return QF_OK;
}

void qf_evidence_stamp(qf_evidence_t *ev) {
  struct timeval tv;
  struct tm tm;
  char buf[32];
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ev->collected_at, sizeof ev->collected_at, "%s.%06ldZ", buf,
           (long)tv.tv_usec);
}
