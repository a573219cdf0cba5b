/* evidence_parse_ref.c: reads the reference system's evidence v1 (its
 * pydantic model Evidence, reference section 4) for `qf gate`, as strictly
 * as our own documents: every problem names the field path.
 *
 * What is accepted is what the reference model accepts, key by key:
 * run_id and input_nl are required (strings; an empty input_nl passes, as
 * the model lets it); everything else may be missing. summary, repro,
 * governance and ai_review may be null; environment, tool_calls,
 * artifacts, collected_at and $schema may not (the model has no null for
 * them). A tool call needs tool_name and status only; exit_code and
 * error_message may be null. A summary's counts default to 0; a repro
 * needs python_version and platform_info. $schema, when given, is the
 * reference's URL; so is schema_ref (the name its API responses give it).
 *
 * Where the model is looser than any document the reference writes, we
 * stay strict: unknown keys are refused everywhere but in environment (an
 * open object in the reference's model and schema alike); values keep the
 * types the model declares, without pydantic's coercions ("5" is not 5);
 * status is one of the reference's ToolStatus values; counts are >= 0;
 * collected_at is an ISO-8601 date-time string; environment_id and
 * base_url are strings or null, headless a boolean (the reference
 * schema's types); strings are bounded as in our own documents.
 *
 * Mapping into qf_evidence_t, chosen to decide as the reference does:
 *   summary null or missing  all zeros: the reference gate then skips its
 *                            JUnit rule and decides on the tool calls;
 *                            a summary is never made up from the calls
 *   passed missing           max(0, tests - failures - errors - skipped)
 *   governance null/missing  budget from the tool calls as the reference
 *   (or budget keys missing) collector writes it: elapsed = sum of
 *                            duration_ms, one attempt per call, 0 retries;
 *                            no policy limits; not short-circuited
 *   repro                    python_version -> version, platform_info ->
 *                            platform; the deps_* keys are checked, dropped
 *   tool calls               attempts 1, retries 0, no decision_source
 *   error_message            up to 500 characters (the reference schema),
 *                            kept to QF_EVIDENCE_ERROR_MAX bytes
 *   artifacts                type, path, size, mime, sha256 kept;
 *                            metadata and rel_path checked, dropped
 *   environment              environment_id kept; other keys ignored
 *   dry_run, policy, decision, failures, source: absent (ours only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence_internal.h"
#include "qf/evidence.h"
#include "qf/fsutil.h"
#include "qf/utf8.h"

#define BIG QF__EV_BIG
/* The reference schema's maxLength of error_message, in characters. */
#define REF_ERROR_CHARS 500

static int read_status(qf__ev_rd_t *r, const cJSON *o, const char *path,
                       qf_tool_status_t *out) {
  char *status = NULL, p[QF__EV_PATH_MAX];
  int rc = qf__ev_get_str(r, o, path, "status", 0, 16, &status);
  if (rc == 0 && qf_tool_status_parse(status, out) < 0) {
    qf__ev_join(p, sizeof p, path, "status");
    rc = qf__ev_fail(r, p,
                     "must be one of success, failed, timeout, skipped, "
                     "cancelled");
  }
  free(status);
  return rc;
}

/* The reference cuts error_message to 200 characters and its schema
 * allows 500 (characters, not bytes). Kept cut to QF_EVIDENCE_ERROR_MAX
 * bytes on a character boundary, as our own tool calls are. */
static int read_error_message(qf__ev_rd_t *r, const cJSON *o, const char *path,
                              char **out) {
  char p[QF__EV_PATH_MAX];
  int rc =
      qf__ev_get_str(r, o, path, "error_message", 1, 4 * REF_ERROR_CHARS, out);
  size_t chars = 0;
  for (const char *c = rc == 0 && *out ? *out : ""; *c; c++)
    chars += ((unsigned char)*c & 0xC0) != 0x80; /* not a continuation */
  if (chars > REF_ERROR_CHARS) {
    char what[64];
    snprintf(what, sizeof what, "too long (more than %d characters)",
             REF_ERROR_CHARS);
    qf__ev_join(p, sizeof p, path, "error_message");
    return qf__ev_fail(r, p, what);
  }
  if (rc == 0 && *out) qf_utf8_cut(*out, QF_EVIDENCE_ERROR_MAX);
  return rc;
}

static int read_call(qf__ev_rd_t *r, const cJSON *o, const char *path,
                     qf_tool_call_t *c) {
  static const char *const keys[] = {
      "!tool_name",   "!status",       "duration_ms",
      "exit_code",    "steps_total",   "steps_passed",
      "steps_failed", "error_message", NULL};
  long long v = 0;
  c->attempts = 1;
  int rc = qf__ev_check_keys(r, o, path, keys);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, path, "tool_name", 0, 64, &c->tool_name);
  if (rc == 0) rc = read_status(r, o, path, &c->status);
  if (rc == 0)
    rc = qf__ev_get_int(r, o, path, "duration_ms", 0, BIG, &c->duration_ms);
  const cJSON *ec = qf__ev_field(o, "exit_code");
  if (rc == 0 && ec && !cJSON_IsNull(ec)) {
    /* Any int: a Windows status such as 0xC0000005 is a valid one. */
    rc = qf__ev_get_int(r, o, path, "exit_code", -2147483648LL, 4294967295LL,
                        &v);
    c->has_exit_code = 1;
    c->exit_code = (int)(v > 2147483647LL ? v - 4294967296LL : v);
  }
  if (rc == 0)
    rc = qf__ev_get_int(r, o, path, "steps_total", 0, BIG, &c->steps_total);
  if (rc == 0)
    rc = qf__ev_get_int(r, o, path, "steps_passed", 0, BIG, &c->steps_passed);
  if (rc == 0)
    rc = qf__ev_get_int(r, o, path, "steps_failed", 0, BIG, &c->steps_failed);
  if (rc == 0) rc = read_error_message(r, o, path, &c->error_message);
  return rc;
}

/* An array of at most max objects under key (missing: none), each read by
 * fn into base[i] (elem bytes each, zeroed). */
static int read_list(qf__ev_rd_t *r, const cJSON *doc, const char *key, int max,
                     void **base, size_t *n, size_t elem,
                     int (*fn)(qf__ev_rd_t *, const cJSON *, const char *,
                               void *)) {
  const cJSON *arr = qf__ev_field(doc, key);
  if (arr == NULL) return QF_OK;
  if (!cJSON_IsArray(arr)) return qf__ev_fail(r, key, "must be an array");
  int count = cJSON_GetArraySize(arr), rc = QF_OK;
  if (count > max) {
    char what[64];
    snprintf(what, sizeof what, "more than %d entries", max);
    return qf__ev_fail(r, key, what);
  }
  *base = calloc((size_t)count + 1, elem);
  if (*base == NULL) return qf_error_set(r->err, QF_ENOMEM, "out of memory");
  int i = 0;
  for (const cJSON *it = arr->child; it && rc == 0; it = it->next, i++) {
    char p[64];
    snprintf(p, sizeof p, "%s[%d]", key, i);
    (*n)++; /* counted first: qf_evidence_free frees a half-read one */
    rc = fn(r, it, p, (char *)*base + (size_t)i * elem);
  }
  return rc;
}

static int call_any(qf__ev_rd_t *r, const cJSON *o, const char *path, void *c) {
  return read_call(r, o, path, c);
}

/* The reference's ArtifactRef as its collector dumps it, plus the
 * schema's rel_path. */
static int read_artifact(qf__ev_rd_t *r, const cJSON *o, const char *path,
                         void *out) {
  static const char *const keys[] = {"!type",  "!path",    "size",     "mime",
                                     "sha256", "metadata", "rel_path", NULL};
  static const char *const types[] = {
      "junit_xml", "screenshot", "trace",  "log",    "video",
      "har",       "stdout",     "stderr", "report", "other"};
  qf_artifact_t *a = out;
  char *tmp = NULL, p[QF__EV_PATH_MAX];
  int rc = qf__ev_check_keys(r, o, path, keys), known = 0;
  if (rc == 0) rc = qf__ev_get_str(r, o, path, "type", 0, 32, &a->type);
  for (size_t i = 0; rc == 0 && i < sizeof types / sizeof *types; i++)
    known |= strcmp(a->type, types[i]) == 0;
  if (rc == 0 && !known) {
    qf__ev_join(p, sizeof p, path, "type");
    rc = qf__ev_fail(r, p,
                     "must be one of junit_xml, screenshot, trace, log, "
                     "video, har, stdout, stderr, report, other");
  }
  if (rc == 0) rc = qf__ev_get_str(r, o, path, "path", 0, 4096, &a->path);
  const cJSON *size = qf__ev_field(o, "size");
  if (rc == 0 && !cJSON_IsNull(size))
    rc = qf__ev_get_int(r, o, path, "size", 0, BIG, &a->size);
  if (rc == 0) rc = qf__ev_get_str(r, o, path, "mime", 1, 128, &a->mime);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, path, "sha256", 1, QF_SHA256_HEX_LEN, &tmp);
  if (rc == 0 && tmp) snprintf(a->sha256, sizeof a->sha256, "%s", tmp);
  free(tmp);
  tmp = NULL;
  const cJSON *meta = qf__ev_field(o, "metadata");
  if (rc == 0 && meta && !cJSON_IsNull(meta) && !cJSON_IsObject(meta)) {
    qf__ev_join(p, sizeof p, path, "metadata");
    rc = qf__ev_fail(r, p, "must be an object or null");
  }
  if (rc == 0) rc = qf__ev_get_str(r, o, path, "rel_path", 1, 4096, &tmp);
  free(tmp);
  return rc;
}

/* The lists go to ev even when reading fails half-way, for
 * qf_evidence_free. */
static int read_calls(qf__ev_rd_t *r, const cJSON *doc, qf_evidence_t *ev) {
  void *items = NULL;
  int rc = read_list(r, doc, "tool_calls", 1000, &items, &ev->ntool_calls,
                     sizeof *ev->tool_calls, call_any);
  ev->tool_calls = items;
  return rc;
}

static int read_artifacts(qf__ev_rd_t *r, const cJSON *doc, qf_evidence_t *ev) {
  void *items = NULL;
  int rc = read_list(r, doc, "artifacts", 10000, &items, &ev->nartifacts,
                     sizeof *ev->artifacts, read_artifact);
  ev->artifacts = items;
  return rc;
}

/* The reference's EvidenceSummary: every count defaults to 0. */
static int read_summary(qf__ev_rd_t *r, const cJSON *o, qf_junit_summary_t *s) {
  static const char *const keys[] = {"tests",  "failures", "errors", "skipped",
                                     "passed", "time",     NULL};
  const char *p = "summary";
  if (o == NULL || cJSON_IsNull(o)) return QF_OK;
  int rc = qf__ev_check_keys(r, o, p, keys);
  if (rc == 0) rc = qf__ev_get_int(r, o, p, "tests", 0, BIG, &s->tests);
  if (rc == 0) rc = qf__ev_get_int(r, o, p, "failures", 0, BIG, &s->failures);
  if (rc == 0) rc = qf__ev_get_int(r, o, p, "errors", 0, BIG, &s->errors);
  if (rc == 0) rc = qf__ev_get_int(r, o, p, "skipped", 0, BIG, &s->skipped);
  s->passed = s->tests - s->failures - s->errors - s->skipped;
  if (s->passed < 0) s->passed = 0;
  if (rc == 0) rc = qf__ev_get_int(r, o, p, "passed", 0, BIG, &s->passed);
  if (rc == 0) rc = qf__ev_get_time(r, o, p, "time", &s->time_s);
  return rc;
}

/* The reference's ReproMeta, in our names. */
static int read_repro(qf__ev_rd_t *r, const cJSON *o, qf_evidence_t *ev) {
  static const char *const keys[] = {"git_sha",
                                     "git_branch",
                                     "git_dirty",
                                     "!python_version",
                                     "!platform_info",
                                     "deps_fingerprint",
                                     "deps_fingerprint_algo",
                                     "deps_source",
                                     NULL};
  const char *p = "repro";
  qf_repro_t *rp = &ev->repro;
  char *tmp = NULL;
  rp->git_dirty = -1;
  if (o == NULL || cJSON_IsNull(o)) return QF_OK;
  ev->has_repro = 1; /* so qf_evidence_free frees what was read */
  int rc = qf__ev_check_keys(r, o, p, keys);
  if (rc == 0) rc = qf__ev_get_str(r, o, p, "git_sha", 1, 64, &rp->git_sha);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, p, "git_branch", 1, 256, &rp->git_branch);
  if (rc == 0 && !cJSON_IsNull(qf__ev_field(o, "git_dirty")))
    rc = qf__ev_get_bool(r, o, p, "git_dirty", &rp->git_dirty);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, p, "python_version", 0, 64, &rp->version);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, p, "platform_info", 0, 64, &rp->platform);
  if (rc == 0) rc = qf__ev_get_str(r, o, p, "deps_fingerprint", 1, 128, &tmp);
  free(tmp);
  tmp = NULL;
  if (rc == 0)
    rc = qf__ev_get_str(r, o, p, "deps_fingerprint_algo", 0, 32, &tmp);
  free(tmp);
  tmp = NULL;
  if (rc == 0) rc = qf__ev_get_str(r, o, p, "deps_source", 1, 256, &tmp);
  free(tmp);
  return rc;
}

/* What the reference collector writes when it has no enriched block: the
 * budget summed over the tool calls. */
static void default_budget(qf_evidence_t *ev) {
  qf_governance_t *g = &ev->governance;
  for (size_t i = 0; i < ev->ntool_calls; i++) {
    g->elapsed_ms_total += ev->tool_calls[i].duration_ms;
    g->attempts_total += ev->tool_calls[i].attempts;
  }
}

static int read_governance(qf__ev_rd_t *r, const cJSON *o, qf_evidence_t *ev) {
  static const char *const keys[] = {"budget",          "policy_limits",
                                     "short_circuited", "short_circuit_reason",
                                     "decision_source", NULL};
  const char *p = "governance";
  qf_governance_t *g = &ev->governance;
  default_budget(ev);
  if (o == NULL || cJSON_IsNull(o)) return QF_OK;
  int rc = qf__ev_check_keys(r, o, p, keys);
  return rc == 0 ? qf__ev_read_governance(r, o, 0, g) : rc;
}

/* An open object (the reference model's dict), of which only
 * environment_id is used; base_url and headless keep the types the
 * reference schema gives them. */
static int read_environment(qf__ev_rd_t *r, const cJSON *o, qf_evidence_t *ev) {
  const char *p = "environment";
  char *url = NULL;
  int headless = 0;
  if (o == NULL) return QF_OK;
  int rc = qf__ev_check_dups(r, o, p);
  if (rc == 0)
    rc = qf__ev_get_str(r, o, p, "environment_id", 1, 64, &ev->environment_id);
  if (rc == 0) rc = qf__ev_get_str(r, o, p, "base_url", 1, 4096, &url);
  free(url);
  if (rc == 0) rc = qf__ev_get_bool(r, o, p, "headless", &headless);
  return rc;
}

/* n digits at s, as a number in [lo, hi]; -1 when not. */
static int digits(const char *s, int n, int lo, int hi) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v >= lo && v <= hi ? v : -1;
}

/* ISO 8601 as the reference writes collected_at (and pydantic reads it):
 * YYYY-MM-DD, T (or t, or a space), HH:MM:SS, an optional fraction of 1
 * to 9 digits, an optional zone Z or +HH:MM (or +HHMM). */
static int is_datetime(const char *s) {
  if (digits(s, 4, 0, 9999) < 0 || s[4] != '-' || digits(s + 5, 2, 1, 12) < 0 ||
      s[7] != '-' || digits(s + 8, 2, 1, 31) < 0 || !strchr("Tt ", s[10]) ||
      s[10] == '\0' || digits(s + 11, 2, 0, 23) < 0 || s[13] != ':' ||
      digits(s + 14, 2, 0, 59) < 0 || s[16] != ':' ||
      digits(s + 17, 2, 0, 60) < 0)
    return 0;
  s += 19;
  if (*s == '.') {
    int n = 0;
    while (s[1 + n] >= '0' && s[1 + n] <= '9')
      n++;
    if (n < 1 || n > 9) return 0;
    s += 1 + n;
  }
  if (*s == 'Z' || *s == 'z') return s[1] == '\0';
  if (*s == '\0') return 1;
  if (*s != '+' && *s != '-') return 0;
  if (digits(s + 1, 2, 0, 23) < 0) return 0;
  s += 3;
  if (*s == ':') s++;
  return digits(s, 2, 0, 59) >= 0 && s[2] == '\0';
}

static int read_collected_at(qf__ev_rd_t *r, const cJSON *doc,
                             qf_evidence_t *ev) {
  char *at = NULL;
  int rc = qf__ev_get_str(r, doc, "", "collected_at", 0,
                          sizeof ev->collected_at - 1, &at);
  if (rc == 0 && at && !is_datetime(at))
    rc = qf__ev_fail(r, "collected_at", "must be an ISO-8601 date-time");
  if (rc == 0 && at)
    snprintf(ev->collected_at, sizeof ev->collected_at, "%s", at);
  free(at);
  return rc;
}

/* $schema, or schema_ref (the key the reference's API responses use for
 * it), is the reference's own URL when given. */
static int read_schema(qf__ev_rd_t *r, const cJSON *doc, const char *key) {
  const cJSON *v = qf__ev_field(doc, key);
  if (v == NULL || (cJSON_IsString(v) &&
                    strcmp(v->valuestring, QF_EVIDENCE_REF_SCHEMA_ID) == 0))
    return QF_OK;
  return qf__ev_fail(r, key, "must be " QF_EVIDENCE_REF_SCHEMA_ID);
}

static int read_top(qf__ev_rd_t *r, const cJSON *doc, qf_evidence_t *ev) {
  static const char *const keys[] = {
      "!run_id", "!input_nl",  "environment", "tool_calls", "artifacts",
      "summary", "repro",      "governance",  "ai_review",  "collected_at",
      "$schema", "schema_ref", NULL};
  int rc = qf__ev_check_keys(r, doc, "", keys);
  if (rc == 0) rc = read_schema(r, doc, "$schema");
  if (rc == 0) rc = read_schema(r, doc, "schema_ref");
  if (rc == 0) rc = qf__ev_get_str(r, doc, "", "run_id", 0, 64, &ev->run_id);
  if (rc == 0)
    rc = qf__ev_get_str(r, doc, "", "input_nl", 0, 65536, &ev->input_nl);
  if (rc == 0) rc = read_environment(r, qf__ev_field(doc, "environment"), ev);
  if (rc == 0) rc = read_calls(r, doc, ev);
  if (rc == 0) rc = read_artifacts(r, doc, ev);
  if (rc == 0) rc = read_summary(r, qf__ev_field(doc, "summary"), &ev->summary);
  if (rc == 0) rc = read_repro(r, qf__ev_field(doc, "repro"), ev);
  if (rc == 0) rc = read_governance(r, qf__ev_field(doc, "governance"), ev);
  const cJSON *ai = qf__ev_field(doc, "ai_review");
  if (rc == 0 && ai && !cJSON_IsNull(ai) && !cJSON_IsObject(ai))
    rc = qf__ev_fail(r, "ai_review", "must be an object or null");
  if (rc == 0) rc = read_collected_at(r, doc, ev);
  return rc;
}

/* Which format a document is in: ours says so in $schema; the reference's
 * says so, or says nothing (its model has a default for $schema). */
static int is_reference(const cJSON *doc) {
  const cJSON *s = qf__ev_field(doc, "$schema");
  if (s == NULL) return 1;
  return cJSON_IsString(s) &&
         strcmp(s->valuestring, QF_EVIDENCE_REF_SCHEMA_ID) == 0;
}

int qf_evidence_from_json_compat(const char *text, size_t len, const char *name,
                                 qf_evidence_t **out, qf_error_t *err) {
  qf__ev_rd_t r = {name ? name : "evidence", err};
  cJSON *doc = cJSON_ParseWithLengthOpts(text, len, NULL, 0);
  const cJSON *schema = qf__ev_field(doc, "$schema");
  /* Our own documents, and anything that is not a JSON object, are for the
   * strict reader of our format (it names the problem). */
  if (doc == NULL || !cJSON_IsObject(doc) ||
      (cJSON_IsString(schema) &&
       strcmp(schema->valuestring, QF_EVIDENCE_SCHEMA_ID) == 0)) {
    cJSON_Delete(doc);
    return qf_evidence_from_json(text, len, name, out, err);
  }
  int rc = QF_OK;
  if (!is_reference(doc))
    rc = qf__ev_fail(&r, "$schema",
                     "must be " QF_EVIDENCE_SCHEMA_ID
                     " or " QF_EVIDENCE_REF_SCHEMA_ID);
  qf_evidence_t *ev = rc == 0 ? calloc(1, sizeof *ev) : NULL;
  if (rc == 0 && ev == NULL) rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  if (rc == 0) rc = read_top(&r, doc, ev);
  cJSON_Delete(doc);
  if (rc < 0) {
    qf_evidence_free(ev);
    return rc;
  }
  *out = ev;
  return QF_OK;
}

int qf_evidence_load_compat(const char *path, qf_evidence_t **out,
                            qf_error_t *err) {
  char *buf = NULL;
  size_t len = 0;
  int rc = qf_fs_read(path, QF_EVIDENCE_MAX_BYTES, &buf, &len, err);
  if (rc == QF_OK) rc = qf_evidence_from_json_compat(buf, len, path, out, err);
  free(buf);
  return rc;
}
