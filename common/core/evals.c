#include "qf/evals.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qf/evidence.h"
#include "qf/fsutil.h"
#include "qf/gate.h"
#include "qf/policy.h"
#include "qf/strbuf.h"
#include "qf/uuid.h"
#include "qf/yamljson.h"

typedef struct run {
  const qf_evals_opts_t *opts;
  qf_policy_t *policy;
  char base_dir[PATH_MAX]; /* the dataset's directory */
  qf_error_t *err;
} run_t;

static const cJSON *get(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int bad(run_t *r, int i, const char *field, const char *why) {
  return qf_error_set(r->err, QF_EVALIDATE, "%s: cases[%d].%s: %s",
                      r->opts->dataset, i, field, why);
}

static int only_keys(run_t *r, const cJSON *o, int i, const char *where,
                     const char *const *keys) {
  for (const cJSON *c = o->child; c; c = c->next) {
    int known = 0;
    for (size_t k = 0; keys[k] && !known; k++)
      known = strcmp(keys[k], c->string) == 0;
    if (!known) {
      char f[128];
      snprintf(f, sizeof f, "%s%s", where, c->string);
      return bad(r, i, f, "unknown key");
    }
  }
  return QF_OK;
}

static int check_expected(run_t *r, const cJSON *e, int i) {
  static const char *const keys[] = {"decision", "rules", "summary", NULL};
  qf_decision_t d;
  if (!cJSON_IsObject(e)) return bad(r, i, "expected", "must be a mapping");
  int rc = only_keys(r, e, i, "expected.", keys);
  const cJSON *dec = get(e, "decision"), *rules = get(e, "rules");
  const cJSON *sum = get(e, "summary");
  if (rc == 0 &&
      (!cJSON_IsString(dec) || qf_decision_parse(dec->valuestring, &d) < 0))
    rc = bad(r, i, "expected.decision", "must be PASS, FAIL or NEED_HITL");
  if (rc == 0 && rules && !cJSON_IsArray(rules))
    rc = bad(r, i, "expected.rules", "must be a list of rule names");
  if (rc == 0 && sum && !cJSON_IsObject(sum))
    rc = bad(r, i, "expected.summary", "must be a mapping");
  return rc;
}

static int check_case(run_t *r, const cJSON *c, int i, const cJSON *cases) {
  static const char *const keys[] = {
      "id",          "input_nl",      "options",   "junit",
      "tool_status", "error_message", "exit_code", "duration_ms",
      "dry_run",     "evidence",      "expected",  NULL};
  if (!cJSON_IsObject(c)) return bad(r, i, "", "must be a mapping");
  int rc = only_keys(r, c, i, "", keys);
  const cJSON *id = get(c, "id"), *nl = get(c, "input_nl");
  qf_tool_status_t st;
  if (rc == 0 && !(cJSON_IsString(id) && id->valuestring[0]))
    rc = bad(r, i, "id", "must be a non-empty string");
  for (int j = 0; rc == 0 && j < i; j++)
    if (strcmp(get(cJSON_GetArrayItem(cases, j), "id")->valuestring,
               id->valuestring) == 0)
      rc = bad(r, i, "id", "duplicate case id");
  if (rc == 0 && !get(c, "evidence") &&
      !(cJSON_IsString(nl) && nl->valuestring[0]))
    rc = bad(r, i, "input_nl", "must be a non-empty string");
  const cJSON *ts = get(c, "tool_status");
  if (rc == 0 && ts &&
      !(cJSON_IsString(ts) &&
        (strcmp(ts->valuestring, "none") == 0 ||
         qf_tool_status_parse(ts->valuestring, &st) == 0)))
    rc = bad(r, i, "tool_status",
             "must be success, failed, timeout, skipped, cancelled or none");
  if (rc == 0) rc = check_expected(r, get(c, "expected"), i);
  return rc;
}

static int load_dataset(run_t *r, cJSON **out) {
  char *text = NULL;
  size_t len = 0;
  cJSON *doc = NULL;
  int rc = qf_fs_read(r->opts->dataset, QF_EVALS_MAX_DATASET_BYTES, &text, &len,
                      r->err);
  if (rc == 0) rc = qf_yaml_to_json(text, len, r->opts->dataset, &doc, r->err);
  free(text);
  const cJSON *cases = rc == 0 ? get(doc, "cases") : NULL;
  if (rc == 0 && !(cJSON_IsArray(cases) && cJSON_GetArraySize(cases) > 0))
    rc = qf_error_set(r->err, QF_EVALIDATE,
                      "%s: cases: must be a non-empty "
                      "list",
                      r->opts->dataset);
  for (int i = 0; rc == 0 && i < cJSON_GetArraySize(cases); i++)
    rc = check_case(r, cJSON_GetArrayItem(cases, i), i, cases);
  if (rc < 0) {
    cJSON_Delete(doc);
    return rc;
  }
  *out = doc;
  return QF_OK;
}

/* A case's path, relative to the dataset's directory. */
static int resolve(const run_t *r, const char *rel, char *out, size_t n,
                   qf_error_t *err) {
  int w = rel[0] == '/' ? snprintf(out, n, "%s", rel)
                        : snprintf(out, n, "%s/%s", r->base_dir, rel);
  if (w < 0 || (size_t)w >= n)
    return qf_error_set(err, QF_EINVAL, "%s: path too long", rel);
  return QF_OK;
}

/* Sums the case's JUnit files (a string or a list of strings). */
static int case_junit(run_t *r, const cJSON *junit, qf_junit_summary_t *sum,
                      qf_error_t *err) {
  memset(sum, 0, sizeof *sum);
  int n = cJSON_IsArray(junit) ? cJSON_GetArraySize(junit) : (junit ? 1 : 0);
  for (int i = 0; i < n; i++) {
    const cJSON *f =
        cJSON_IsArray(junit) ? cJSON_GetArrayItem(junit, i) : junit;
    char path[PATH_MAX];
    qf_junit_summary_t one;
    if (!cJSON_IsString(f))
      return qf_error_set(err, QF_EVALIDATE, "junit: must be a path or a list");
    int rc = resolve(r, f->valuestring, path, sizeof path, err);
    if (rc == QF_OK) rc = qf_junit_parse_file(path, &one, err);
    if (rc < 0) return rc;
    qf_junit_summary_add(sum, &one);
  }
  return QF_OK;
}

static const char *str_or(const cJSON *v, const char *def) {
  return cJSON_IsString(v) ? v->valuestring : def;
}

static int synth_evidence(run_t *r, const cJSON *c, const char *run_id,
                          qf_evidence_t **out, qf_error_t *err) {
  qf_junit_summary_t j;
  qf_evidence_t *ev = NULL;
  const cJSON *opt = get(c, "options");
  const char *status = str_or(get(c, "tool_status"), "success");
  int rc = case_junit(r, get(c, "junit"), &j, err);
  if (rc == 0)
    rc = qf_evidence_new(run_id, get(c, "input_nl")->valuestring, NULL, &ev,
                         err);
  if (rc == 0 && strcmp(status, "none") != 0) {
    qf_tool_call_t call = {
        .tool_name = (char *)str_or(get(opt, "tool_name"), "run_pytest"),
        .error_message = (char *)str_or(get(c, "error_message"), NULL),
        .steps_total = j.tests,
        .steps_failed = j.failures + j.errors,
        .steps_passed = j.tests - j.failures - j.errors - j.skipped,
        .attempts = 1};
    const cJSON *ms = get(c, "duration_ms"), *code = get(c, "exit_code");
    call.duration_ms = cJSON_IsNumber(ms) ? (long long)ms->valuedouble : 0;
    call.has_exit_code = cJSON_IsNumber(code);
    call.exit_code = call.has_exit_code ? code->valueint : 0;
    if (qf_tool_status_parse(status, &call.status) < 0) call.status = 0;
    rc = qf_evidence_add_tool_call(ev, &call, err);
  }
  if (rc == 0) {
    ev->dry_run = cJSON_IsTrue(get(c, "dry_run"));
    qf_evidence_summarize(ev, &j);
    *out = ev;
  } else {
    qf_evidence_free(ev);
  }
  return rc;
}

/* Builds, gates and saves one case's evidence. */
static int case_run(run_t *r, const cJSON *c, char *run_id, qf_gate_result_t *g,
                    char **path, qf_error_t *err) {
  qf_evidence_t *ev = NULL;
  char dir[PATH_MAX], file[PATH_MAX];
  int rc = qf_uuid_v4(run_id);
  const cJSON *evpath = get(c, "evidence");
  if (rc == 0 && cJSON_IsString(evpath)) {
    rc = resolve(r, evpath->valuestring, file, sizeof file, err);
    if (rc == QF_OK) rc = qf_evidence_load(file, &ev, err);
  } else if (rc == 0) {
    rc = synth_evidence(r, c, run_id, &ev, err);
  }
  if (rc < 0) return rc;
  qf_evidence_account(ev, r->policy->timeout_s, r->policy->max_retries);
  qf_gate_enforce_budget(ev, r->policy);
  qf_gate_eval(ev, r->policy, g);
  free(ev->policy_version);
  free(ev->policy_hash);
  ev->policy_version = strdup(r->policy->version);
  ev->policy_hash = strdup(r->policy->hash);
  rc = qf_gate_record(ev, g, err);
  qf_evidence_stamp(ev);
  snprintf(dir, sizeof dir, "%s/%s", r->opts->output_dir, ev->run_id);
  if (rc == 0) rc = qf_evidence_write(ev, dir, path, err);
  qf_evidence_free(ev);
  return rc;
}

/* Compares the outcome with the expectation; NULL when it matches, else a
 * static description of the first mismatch. */
static const char *mismatch(const cJSON *exp, const qf_gate_result_t *g,
                            const char *evidence_path, char *buf, size_t n) {
  const cJSON *rules = get(exp, "rules"), *sum = get(exp, "summary");
  if (strcmp(get(exp, "decision")->valuestring, qf_decision_name(g->decision)))
    return "decision";
  if (rules) {
    int same = cJSON_GetArraySize(rules) == (int)g->nrules;
    for (size_t i = 0; same && i < g->nrules; i++)
      same = strcmp(str_or(cJSON_GetArrayItem(rules, (int)i), ""),
                    g->rules[i]) == 0;
    if (!same) return "rules";
  }
  qf_evidence_t *ev = NULL;
  if (sum && qf_evidence_load(evidence_path, &ev, NULL) == 0) {
    const qf_junit_summary_t *s = &ev->summary;
    const char *bad_key = NULL;
    for (const cJSON *k = sum->child; k && !bad_key; k = k->next) {
      double have = strcmp(k->string, "tests") == 0      ? (double)s->tests
                    : strcmp(k->string, "failures") == 0 ? (double)s->failures
                    : strcmp(k->string, "errors") == 0   ? (double)s->errors
                    : strcmp(k->string, "skipped") == 0  ? (double)s->skipped
                    : strcmp(k->string, "passed") == 0   ? (double)s->passed
                                                         : -1;
      if (!cJSON_IsNumber(k) || have != k->valuedouble) bad_key = k->string;
    }
    qf_evidence_free(ev);
    if (bad_key) {
      snprintf(buf, n, "summary.%s", bad_key);
      return buf;
    }
  }
  return NULL;
}

static cJSON *case_result(run_t *r, const cJSON *c) {
  char run_id[QF_UUID_STR_LEN + 1] = "", why[128];
  char *path = NULL;
  qf_gate_result_t g;
  qf_error_t err;
  qf_error_clear(&err);
  const cJSON *exp = get(c, "expected");
  int rc = case_run(r, c, run_id, &g, &path, &err);
  const char *miss = rc == 0 ? mismatch(exp, &g, path, why, sizeof why) : NULL;
  cJSON *o = cJSON_CreateObject(), *rules = cJSON_CreateArray();
  cJSON_AddStringToObject(o, "case_id", get(c, "id")->valuestring);
  cJSON_AddStringToObject(o, "run_id", run_id);
  cJSON_AddStringToObject(o, "expected_decision",
                          get(exp, "decision")->valuestring);
  cJSON_AddStringToObject(o, "actual_decision",
                          rc == 0 ? qf_decision_name(g.decision) : "ERROR");
  for (size_t i = 0; rc == 0 && i < g.nrules; i++)
    cJSON_AddItemToArray(rules, cJSON_CreateString(g.rules[i]));
  cJSON_AddItemToObject(o, "triggered_rules", rules);
  cJSON_AddBoolToObject(o, "passed", rc == 0 && miss == NULL);
  if (rc < 0)
    cJSON_AddStringToObject(o, "error_message", err.message);
  else if (miss)
    cJSON_AddStringToObject(o, "mismatch", miss);
  if (path)
    cJSON_AddStringToObject(o, "evidence_path", path);
  else
    cJSON_AddNullToObject(o, "evidence_path");
  free(path);
  return o;
}

/* ------------------------------------------------------------ diffing */

static const cJSON *find_case(const cJSON *results, const char *id) {
  for (const cJSON *c = results ? results->child : NULL; c; c = c->next)
    if (strcmp(str_or(get(c, "case_id"), ""), id) == 0) return c;
  return NULL;
}

static void add_diff(cJSON *diffs, const char *id, const char *status,
                     const cJSON *base, const cJSON *cur) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "case_id", id);
  cJSON_AddStringToObject(d, "status", status);
  const cJSON *any = cur ? cur : base;
  cJSON_AddStringToObject(d, "expected",
                          str_or(get(any, "expected_decision"), "-"));
  cJSON_AddStringToObject(d, "baseline",
                          str_or(get(base, "actual_decision"), "-"));
  cJSON_AddStringToObject(d, "current",
                          str_or(get(cur, "actual_decision"), "-"));
  cJSON_AddItemToArray(diffs, d);
}

static void diff_one(qf_evals_report_t *rep, cJSON *diffs, const cJSON *cur,
                     const cJSON *base) {
  const char *id = str_or(get(cur ? cur : base, "case_id"), "");
  if (base == NULL) {
    rep->added++;
    add_diff(diffs, id, "ADDED", NULL, cur);
    if (!cJSON_IsTrue(get(cur, "passed"))) {
      rep->regressions++; /* a new case must pass too */
      add_diff(diffs, id, "REGRESSION", NULL, cur);
    }
    return;
  }
  if (cur == NULL) {
    rep->removed++;
    add_diff(diffs, id, "REMOVED", base, NULL);
    return;
  }
  int was = cJSON_IsTrue(get(base, "passed")),
      is = cJSON_IsTrue(get(cur, "passed"));
  if (was && !is) {
    rep->regressions++;
    add_diff(diffs, id, "REGRESSION", base, cur);
  } else if (!was && is) {
    rep->improvements++;
    add_diff(diffs, id, "IMPROVED", base, cur);
  } else if (strcmp(str_or(get(base, "actual_decision"), ""),
                    str_or(get(cur, "actual_decision"), ""))) {
    rep->changed++;
    add_diff(diffs, id, "CHANGED", base, cur);
  }
}

/* Without a baseline the expectations are the baseline. */
static void diff_all(qf_evals_report_t *rep, cJSON *diffs, const cJSON *results,
                     const cJSON *baseline) {
  for (const cJSON *c = results->child; c; c = c->next) {
    if (baseline) {
      diff_one(rep, diffs, c,
               find_case(baseline, get(c, "case_id")->valuestring));
    } else if (!cJSON_IsTrue(get(c, "passed"))) {
      rep->regressions++;
      add_diff(diffs, get(c, "case_id")->valuestring, "REGRESSION", NULL, c);
    }
  }
  for (const cJSON *b = baseline ? baseline->child : NULL; b; b = b->next)
    if (!find_case(results, str_or(get(b, "case_id"), "")))
      diff_one(rep, diffs, NULL, b);
}

/* ------------------------------------------------------------ reports */

static int load_baseline(run_t *r, cJSON **out) {
  char *text = NULL;
  size_t len = 0;
  *out = NULL;
  int rc = qf_fs_read(r->opts->baseline, QF_EVALS_MAX_DATASET_BYTES, &text,
                      &len, r->err);
  if (rc == QF_ENOENT && r->opts->update_baseline) return QF_OK;
  if (rc < 0) return rc;
  cJSON *doc = cJSON_ParseWithLength(text, len);
  free(text);
  const cJSON *results = get(doc, "results");
  if (!cJSON_IsArray(results)) {
    cJSON_Delete(doc);
    return qf_error_set(r->err, QF_EPARSE,
                        "%s: not a baseline (no results "
                        "list)",
                        r->opts->baseline);
  }
  *out = doc;
  return QF_OK;
}

static int save_baseline(run_t *r, const cJSON *results) {
  char dir[PATH_MAX], name[PATH_MAX];
  const char *slash = strrchr(r->opts->baseline, '/');
  snprintf(dir, sizeof dir, "%.*s",
           slash ? (int)(slash - r->opts->baseline) : 1,
           slash ? r->opts->baseline : ".");
  snprintf(name, sizeof name, "%s", slash ? slash + 1 : r->opts->baseline);
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddNumberToObject(doc, "version", 1);
  cJSON_AddStringToObject(doc, "dataset", r->opts->dataset);
  cJSON_AddStringToObject(doc, "policy_hash", r->policy->hash);
  cJSON_AddItemToObject(doc, "results", cJSON_Duplicate(results, 1));
  char *text = cJSON_Print(doc);
  int rc = text ? qf_fs_write_atomic(dir, name, text, strlen(text), r->err)
                : qf_error_set(r->err, QF_ENOMEM, "out of memory");
  cJSON_free(text);
  cJSON_Delete(doc);
  return rc;
}

static char *markdown(const qf_evals_report_t *rep, const cJSON *diffs,
                      const char *baseline) {
  qf_strbuf_t sb;
  qf_strbuf_init(&sb);
  int rc = qf_strbuf_printf(
      &sb,
      "# Regression Report\n\n## Summary\n\n- Baseline: %s\n"
      "- Total Cases: %d\n- Passed: %d\n- Regressions: %d\n"
      "- Improvements: %d\n- Changed: %d\n- Added: %d\n- Removed: %d\n\n",
      baseline ? baseline : "(the expectations)", rep->total, rep->passed,
      rep->regressions, rep->improvements, rep->changed, rep->added,
      rep->removed);
  if (rc == 0 && cJSON_GetArraySize(diffs) == 0)
    rc = qf_strbuf_puts(&sb, "## No Changes\n\nAll cases match.\n");
  else if (rc == 0)
    rc = qf_strbuf_puts(&sb,
                        "## Changes\n\n| Case ID | Status | Expected | "
                        "Baseline | Current |\n|---|---|---|---|---|\n");
  for (const cJSON *d = diffs->child; rc == 0 && d; d = d->next)
    rc = qf_strbuf_printf(
        &sb, "| %s | %s | %s | %s | %s |\n", get(d, "case_id")->valuestring,
        get(d, "status")->valuestring, get(d, "expected")->valuestring,
        get(d, "baseline")->valuestring, get(d, "current")->valuestring);
  if (rc < 0) {
    qf_strbuf_fini(&sb);
    return NULL;
  }
  return qf_strbuf_detach(&sb);
}

static int write_reports(run_t *r, qf_evals_report_t *rep) {
  char *text = cJSON_Print(rep->json);
  int rc = text ? qf_fs_write_atomic(r->opts->output_dir, "report.json", text,
                                     strlen(text), r->err)
                : qf_error_set(r->err, QF_ENOMEM, "out of memory");
  cJSON_free(text);
  if (rc == 0)
    rc = qf_fs_write_atomic(r->opts->output_dir, "diff_report.md",
                            rep->markdown, strlen(rep->markdown), r->err);
  return rc;
}

static void add_counts(cJSON *o, const qf_evals_report_t *rep) {
  cJSON_AddNumberToObject(o, "total_cases", rep->total);
  cJSON_AddNumberToObject(o, "passed", rep->passed);
  cJSON_AddNumberToObject(o, "regressions", rep->regressions);
  cJSON_AddNumberToObject(o, "improvements", rep->improvements);
  cJSON_AddNumberToObject(o, "changed", rep->changed);
  cJSON_AddNumberToObject(o, "added", rep->added);
  cJSON_AddNumberToObject(o, "removed", rep->removed);
}

static int evaluate(run_t *r, const cJSON *dataset, qf_evals_report_t *rep) {
  cJSON *baseline = NULL, *results = cJSON_CreateArray();
  cJSON *diffs = cJSON_CreateArray();
  int rc = r->opts->baseline ? load_baseline(r, &baseline) : QF_OK;
  for (const cJSON *c = get(dataset, "cases")->child; rc == 0 && c;
       c = c->next) {
    cJSON *res = case_result(r, c);
    rep->total++;
    rep->passed += cJSON_IsTrue(get(res, "passed"));
    cJSON_AddItemToArray(results, res);
  }
  if (rc == 0 && !(r->opts->update_baseline))
    diff_all(rep, diffs, results, baseline ? get(baseline, "results") : NULL);
  rep->json = cJSON_CreateObject();
  cJSON_AddStringToObject(rep->json, "dataset", r->opts->dataset);
  cJSON_AddStringToObject(rep->json, "policy_hash", r->policy->hash);
  add_counts(rep->json, rep);
  if (rc == 0 && r->opts->update_baseline) rc = save_baseline(r, results);
  cJSON_AddItemToObject(rep->json, "results", results);
  cJSON_AddItemToObject(rep->json, "diffs", diffs);
  rep->markdown = markdown(rep, diffs, r->opts->baseline);
  if (rc == 0 && rep->markdown == NULL)
    rc = qf_error_set(r->err, QF_ENOMEM, "out of memory");
  if (rc == 0) rc = write_reports(r, rep);
  cJSON_Delete(baseline);
  return rc;
}

int qf_evals_run(const qf_evals_opts_t *opts, qf_evals_report_t *out,
                 qf_error_t *err) {
  run_t r = {.opts = opts, .err = err};
  cJSON *dataset = NULL;
  memset(out, 0, sizeof *out);
  const char *slash = strrchr(opts->dataset, '/');
  snprintf(r.base_dir, sizeof r.base_dir, "%.*s",
           slash ? (int)(slash - opts->dataset) : 1,
           slash ? opts->dataset : ".");
  if (opts->update_baseline && opts->baseline == NULL)
    return qf_error_set(err, QF_EUSAGE, "--update-baseline needs --baseline");
  int rc = qf_policy_load(opts->policy_path, &r.policy, err);
  if (rc == 0) rc = load_dataset(&r, &dataset);
  if (rc == 0) rc = evaluate(&r, dataset, out);
  cJSON_Delete(dataset);
  qf_policy_free(r.policy);
  if (rc < 0) qf_evals_report_fini(out);
  return rc;
}

void qf_evals_report_fini(qf_evals_report_t *r) {
  if (r == NULL) return;
  cJSON_Delete(r->json);
  free(r->markdown);
  memset(r, 0, sizeof *r);
}
