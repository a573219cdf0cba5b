/* evidence.h: the evidence document of one run (reference section 4, v1
 * fields), built from tool results, and read back for `qf gate`/`qf evals`.
 *
 * The JSON form is described by schemas/evidence.v1.schema.json; every
 * document the tests produce is validated against it. Differences from the
 * reference, on purpose: the governance block written to disk is the one
 * that was enforced (the reference saved a default one); artifacts carry
 * sha256; tool calls carry attempts, retries and decision_source; the
 * document records dry_run, the policy (version, hash) and, once gated, the
 * decision.
 *
 * A qf_evidence_t owns every string and array it points to.
 */
#ifndef QF_EVIDENCE_H
#define QF_EVIDENCE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "qf/err.h"
#include "qf/fsutil.h"
#include "qf/hash.h"
#include "qf/junit.h"

#define QF_EVIDENCE_SCHEMA_ID \
  "https://qualityfoundry.dev/schemas/qf-worker/evidence.v1.json"
/* The reference system's evidence v1 (its $schema), read by
 * qf_evidence_from_json_compat. */
#define QF_EVIDENCE_REF_SCHEMA_ID \
  "https://qualityfoundry.ai/schemas/evidence.v1.schema.json"
/* Tool error messages are cut to this many bytes (at a UTF-8 boundary). */
#define QF_EVIDENCE_ERROR_MAX 500
/* The most bytes of an approver's comment or reason the evidence keeps
 * (cut on a character boundary); the reader accepts exactly as much, so
 * qf reads back every document it writes. */
#define QF_EVIDENCE_COMMENT_MAX 4096
/* Largest evidence document read back (bytes). */
#define QF_EVIDENCE_MAX_BYTES (16u << 20)

typedef enum qf_tool_status {
  QF_TOOL_SUCCESS = 0,
  QF_TOOL_FAILED,
  QF_TOOL_TIMEOUT,
  QF_TOOL_SKIPPED,
  QF_TOOL_CANCELLED
} qf_tool_status_t;

const char *qf_tool_status_name(qf_tool_status_t s);
int qf_tool_status_parse(const char *s, qf_tool_status_t *out) QF_MUSTCHECK;

typedef struct qf_tool_call {
  char *tool_name;
  qf_tool_status_t status;
  long long duration_ms;
  int has_exit_code;
  int exit_code;
  long long steps_total, steps_passed, steps_failed;
  char *error_message;   /* NULL or at most QF_EVIDENCE_ERROR_MAX bytes */
  char *decision_source; /* "policy_block" when policy refused it, or NULL */
  int attempts;          /* >= 1 */
  int retries_used;      /* >= 0 */
} qf_tool_call_t;

typedef struct qf_artifact {
  char *type; /* junit_xml, screenshot, trace, log, video, har, stdout,
                 stderr, report, other */
  char *path; /* relative to the artifacts root */
  long long size;
  char *mime;
  char sha256[QF_SHA256_HEX_LEN + 1]; /* "" when not computed */
} qf_artifact_t;

typedef struct qf_repro {
  char *git_sha;    /* NULL when unknown */
  char *git_branch; /* NULL when unknown; "" on a detached HEAD */
  int git_dirty;    /* 1, 0, or -1 when unknown */
  char *version;    /* qf version */
  char *platform;   /* e.g. linux-x86_64 */
} qf_repro_t;

typedef struct qf_governance {
  long long elapsed_ms_total, attempts_total, retries_used_total;
  int has_policy_limits; /* timeout_s and max_retries are meaningful */
  int timeout_s, max_retries;
  int short_circuited;
  char *short_circuit_reason; /* "budget_elapsed_exceeded" or NULL */
  char *decision_source;      /* gate_evaluator, governance_short_circuit,
                                 approval, expiry, or NULL before gating */
  char *approver;             /* who approved or rejected, or NULL */
  char *approval_comment;     /* NULL when none */
  /* In memory only, never read from a document: the approval above was
   * checked by the database (a worker resuming a run approved before
   * execute). An approver named in an evidence file proves nothing, so
   * the gate counts only this. */
  int approval_verified;
} qf_governance_t;

/* What was tested (DESIGN 4a). kind "git": a commit of a repository,
 * checked out for the run; kind "workspace": the worker's own directory
 * under QF_WORKSPACE_ROOT (no commit was asked for). */
typedef struct qf_evidence_source {
  char *kind;      /* "git" or "workspace" */
  char *repo;      /* git: the repository URL as requested (never carries
                      credentials: requests with them are refused) */
  char *ref;       /* git: the ref asked for, or NULL when a commit was */
  char *commit;    /* git: the commit tested (40 hex digits) */
  char *workspace; /* the request's workspace, relative, or NULL */
} qf_evidence_source_t;

/* The decision once the gate (or budget, approval, expiry) decided. */
typedef struct qf_evidence_decision {
  char *decision; /* PASS, FAIL or NEED_HITL */
  char *reason;
  char **triggered_rules;
  size_t nrules;
  char *decided_by; /* gate, budget, approval, expiry */
} qf_evidence_decision_t;

typedef struct qf_evidence {
  char *run_id;
  char *input_nl;
  char *environment_id; /* NULL when none */
  int dry_run;
  qf_tool_call_t *tool_calls;
  size_t ntool_calls;
  qf_artifact_t *artifacts;
  size_t nartifacts;
  qf_junit_summary_t summary;
  qf_junit_failures_t failures; /* the first failing/erroring test cases */
  int has_source;
  qf_evidence_source_t source;
  int has_repro;
  qf_repro_t repro;
  qf_governance_t governance;
  char *policy_version; /* NULL when no policy was loaded */
  char *policy_hash;
  int has_decision;
  qf_evidence_decision_t decision;
  char collected_at[40]; /* ISO-8601 UTC with microseconds, or "" */
} qf_evidence_t;

/* Creates an empty document for run_id (borrowed strings are copied).
 * Caller frees with qf_evidence_free. */
int qf_evidence_new(const char *run_id, const char *input_nl,
                    const char *environment_id, qf_evidence_t **out,
                    qf_error_t *err) QF_MUSTCHECK;
void qf_evidence_free(qf_evidence_t *ev);

/* Appends a copy of call (its strings are copied; error_message is cut to
 * QF_EVIDENCE_ERROR_MAX bytes). */
int qf_evidence_add_tool_call(qf_evidence_t *ev, const qf_tool_call_t *call,
                              qf_error_t *err) QF_MUSTCHECK;

/* Appends an artifact record (strings copied; sha256 may be NULL). */
int qf_evidence_add_artifact(qf_evidence_t *ev, const char *type,
                             const char *path, long long size, const char *mime,
                             const char *sha256, qf_error_t *err) QF_MUSTCHECK;

/* Sets the summary: from junit when it is not NULL and has tests > 0 (the
 * JUnit reports of the run, summed), else aggregated over the tool calls
 * (tests = sum of steps_total, failures = sum of steps_failed, passed = sum
 * of steps_passed, time = sum of durations). */
void qf_evidence_summarize(qf_evidence_t *ev, const qf_junit_summary_t *junit);

/* Fills the governance block's budget from the tool calls (elapsed,
 * attempts, retries) and the policy limits. */
void qf_evidence_account(qf_evidence_t *ev, int timeout_s, int max_retries);

/* Records the decision (copied). rules may be NULL when nrules is 0. */
int qf_evidence_set_decision(qf_evidence_t *ev, const char *decision,
                             const char *reason, const char *const *rules,
                             size_t nrules, const char *decided_by,
                             qf_error_t *err) QF_MUSTCHECK;

/* Sets the source block (strings copied; NULL allowed where the struct
 * says). */
int qf_evidence_set_source(qf_evidence_t *ev, const qf_evidence_source_t *src,
                           qf_error_t *err) QF_MUSTCHECK;

/* Sets collected_at to now. */
void qf_evidence_stamp(qf_evidence_t *ev);

/* Builds the JSON document; caller frees with cJSON_Delete. */
int qf_evidence_to_json(const qf_evidence_t *ev, cJSON **out,
                        qf_error_t *err) QF_MUSTCHECK;

/* Parses and validates a document (name is used in messages, e.g. the
 * file). Unknown keys, wrong types and out-of-range values are
 * QF_EVALIDATE naming the field path, e.g. "tool_calls[0].status: must be
 * one of success, failed, timeout, skipped, cancelled". */
int qf_evidence_from_json(const char *text, size_t len, const char *name,
                          qf_evidence_t **out, qf_error_t *err) QF_MUSTCHECK;

/* Reads and parses a file (bounded by QF_EVIDENCE_MAX_BYTES). */
int qf_evidence_load(const char *path, qf_evidence_t **out,
                     qf_error_t *err) QF_MUSTCHECK;

/* For `qf gate`: our documents as qf_evidence_from_json reads them, and
 * also the reference system's evidence v1 ($schema
 * QF_EVIDENCE_REF_SCHEMA_ID, or no $schema), read as strictly (the
 * accepted shape and how it maps into qf_evidence_t: evidence_parse_ref.c).
 * Any other $schema is QF_EVALIDATE. Only the gate reads with it: a
 * worker reads back its own documents only. */
int qf_evidence_from_json_compat(const char *text, size_t len, const char *name,
                                 qf_evidence_t **out,
                                 qf_error_t *err) QF_MUSTCHECK;
int qf_evidence_load_compat(const char *path, qf_evidence_t **out,
                            qf_error_t *err) QF_MUSTCHECK;

/* Writes <dir>/evidence.json atomically (a temporary file in dir, fsync,
 * rename, fsync of dir), creating dir (and parents) when missing. On
 * success *path_out (if not NULL) is a malloc'ed path. */
int qf_evidence_write(const qf_evidence_t *ev, const char *dir, char **path_out,
                      qf_error_t *err) QF_MUSTCHECK;

/* As qf_evidence_write; on success *text_out (cJSON_free) is the document
 * as written: compact JSON, the text a worker stores and publishes. With
 * owed (not NULL, owing nothing) the fsyncs are left owed in it, and with
 * later the file's rename too (qf_fs_write_atomic_owed): a worker pays
 * them while it commits. */
int qf_evidence_write_text(const qf_evidence_t *ev, const char *dir,
                           char **path_out, char **text_out, qf_fs_owed_t *owed,
                           int later, qf_error_t *err) QF_MUSTCHECK;

#endif
