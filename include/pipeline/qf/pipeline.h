/* pipeline.h: one run, as a table of nodes over one state object.
 *
 *   normalize -> load_policy -> plan -> execute -> enforce_budget
 *             -> collect -> gate
 *
 * Every node has the signature qf_node_fn, reads and writes only the state,
 * and knows nothing of AMQP or SQL. Between nodes the state can be saved
 * (qf_pipeline_checkpoint) and a run resumed after its last completed node
 * (qf_pipeline_restore): a tool run that completed is never repeated. The
 * embedded mode (`qf run`) and the worker drive the same loop.
 */
#ifndef QF_PIPELINE_H
#define QF_PIPELINE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "qf/clock.h"
#include "qf/err.h"
#include "qf/evidence.h"
#include "qf/fsutil.h"
#include "qf/gate.h"
#include "qf/policy.h"
#include "qf/policy_source.h"
#include "qf/request.h"
#include "qf/source.h"
#include "qf/uuid.h"

/* The tools (qf/tools.h); the pipeline's callers need only the name. */
typedef struct qf_tool_registry qf_tool_registry_t;

/* What a run needs from its host; every pointer is borrowed for the run. */
typedef struct qf_run_cfg {
  const char *policy_path;    /* the policy file (loaded by load_policy) */
  const char *artifacts_root; /* evidence and tool output go below it */
  const char *workspace_root; /* request workspaces are relative to it */
  int (*tick)(void *);        /* called while a tool runs; may be NULL */
  void *tick_ctx;
  /* The tool started: its process group and cgroup (NULL: none); may be
   * NULL. */
  void (*on_tool_start)(int pgid, const char *cgroup, void *tick_ctx);
  /* Around each wait for a running tool (qf_exec_opts_t.waiting); may be
   * NULL. */
  void (*tool_waiting)(int begin, void *tick_ctx);
  const char *cgroup_parent;       /* tools get a cgroup below it; NULL: none */
  const qf_tool_registry_t *tools; /* the tools a request may name; NULL:
                                      qf_tools_builtin() */
  const qf_clock_t *clock; /* times the nodes; NULL: the monotonic clock */
  const qf_policy_source_t *policies; /* the policy in force (a long-running
                                         worker's); NULL: load policy_path */
  const qf_source_cfg_t *sources;     /* where requests' sources are checked
                                         out; NULL: a request with a source is
                                         refused */
  /* 1: the evidence file's fsyncs are left owed in the run state
   * (evidence_owed), for the caller to pay before it publishes; a worker
   * pays them while its commit is on the wire. 0: paid as written. */
  int owe_syncs;
  /* With owe_syncs: returns 1 while the run is not this caller's yet (a
   * worker's fresh delivery, recorded only once decided): the evidence
   * file is then put in its place only once the run is recorded, so that
   * a copy of a decided request never replaces the recorded run's file.
   * May be NULL (always the caller's); called with tick_ctx. */
  int (*unowned)(void *tick_ctx);
} qf_run_cfg_t;

typedef struct qf_run_state {
  char run_id[QF_UUID_STR_LEN + 1];
  qf_request_t *request; /* owned */
  size_t next;           /* index of the next node to run */
  /* normalize; with a source, plan (or execute, on resume) */
  char *workspace;        /* absolute, symlinks resolved */
  qf_source_tree_t *tree; /* the checkout of the request's source (owned;
                             removed with the state), or NULL */
  char source_commit[41]; /* the commit tested, fixed once resolved
                             (checkpointed: a ref is resolved once) */
  /* load_policy (not checkpointed: reloaded, and its hash must match) */
  qf_policy_t *policy;
  char *policy_hash; /* the hash the run started with */
  /* plan */
  int timeout_s;   /* the request's, clamped by cost_governance.timeout_s */
  int max_retries; /* cost_governance.max_retries */
  char *blocked;   /* why nothing may run (policy, arguments), or NULL */
  char *blocked_source; /* "policy_block" for the allowlist, or NULL */
  /* execute */
  int has_junit;
  qf_junit_summary_t junit;
  /* every node from plan on */
  qf_evidence_t *evidence; /* owned */
  /* collect */
  char *evidence_path;
  char *evidence_text;        /* the evidence as written (compact JSON; owned,
                                 cJSON_free), NULL until then */
  qf_fs_owed_t evidence_owed; /* its fsyncs, with qf_run_cfg_t.owe_syncs */
  /* gate */
  int decided;
  qf_gate_result_t result;
  /* hitl.stage before_execute: a high-risk request stops after plan, as
   * NEED_HITL, until a human approves; then it resumes at execute. */
  int parked;
} qf_run_state_t;

typedef int (*qf_node_fn)(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                          qf_error_t *err);

typedef struct qf_node {
  const char *name;
  qf_node_fn run;
} qf_node_t;

/* The nodes, in order: how many, the i-th (NULL past the end), and by
 * name (NULL, or -1 for the index, when there is no such node). A test
 * runs one node alone by looking it up; the driver and the checkpoints
 * name nodes, never number them. */
size_t qf_pipeline_nnodes(void);
const qf_node_t *qf_pipeline_node_at(size_t i);
const qf_node_t *qf_pipeline_node(const char *name);
int qf_pipeline_node_index(const char *name);

/* Starts a run of request (ownership moves to the state, even on
 * failure). */
void qf_run_state_init(qf_run_state_t *s, const char *run_id,
                       qf_request_t *request);
void qf_run_state_fini(qf_run_state_t *s);

/* Called after each node completes, with how long it took by cfg->clock
 * (the worker checkpoints there); a negative return stops the run with
 * that code, and err says why. */
typedef int (*qf_node_done_fn)(const qf_run_state_t *s, const char *node,
                               long long duration_ms, void *ctx,
                               qf_error_t *err);

/* Runs the nodes from s->next to the end (or until the run parks for an
 * approval before execute: s->parked and s->decided set, NEED_HITL, next
 * is execute). A node's failure stops the run
 * with its code: QF_EVALIDATE/QF_EPARSE for a request or policy that
 * cannot be run (bad workspace, invalid policy), others for trouble on
 * our side. A refused tool or argument is not a failure: it becomes a
 * failed tool call in the evidence, and the gate decides. */
int qf_pipeline_run(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                    qf_node_done_fn done, void *done_ctx,
                    qf_error_t *err) QF_MUSTCHECK;

/* The state as JSON (caller frees with cJSON_Delete), and back. restore
 * expects an initialised state with no request; the policy is reloaded by
 * load_policy when the run goes on. */
int qf_pipeline_checkpoint(const qf_run_state_t *s, cJSON **out,
                           qf_error_t *err) QF_MUSTCHECK;
int qf_pipeline_restore(qf_run_state_t *s, const cJSON *checkpoint,
                        qf_error_t *err) QF_MUSTCHECK;

/* Resumes a run parked before execute once a human approved it: the
 * approver is recorded in the evidence (the gate then treats the
 * high-risk rule as satisfied) and the run goes on at execute. */
int qf_pipeline_approve_parked(qf_run_state_t *s, const char *approver,
                               const char *comment,
                               qf_error_t *err) QF_MUSTCHECK;

/* The decision message of DESIGN.md section 3 for a decided run, built
 * by qf_decision_gate_message (correlation_id and evidence_url may be
 * NULL). Caller frees with cJSON_Delete. */
int qf_pipeline_decision_json(const qf_run_state_t *s,
                              const char *correlation_id,
                              const char *evidence_url, cJSON **out,
                              qf_error_t *err) QF_MUSTCHECK;

/* Collects the files below dir (a run's tools directory) as artifacts of
 * ev: regular files only, paths relative to root, at most
 * artifact_limits.max_count, each at most max_size_mb, with size, mime,
 * type and sha256. A symlink whose target leaves root is refused. Returns
 * in *dropped the number of files left out (limits, escapes). */
int qf_pipeline_collect_artifacts(qf_evidence_t *ev, const char *root,
                                  const char *dir, const qf_policy_t *policy,
                                  int *dropped, qf_error_t *err) QF_MUSTCHECK;

#endif
