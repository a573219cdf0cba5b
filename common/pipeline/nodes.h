/* nodes.h: what the node files of the pipeline share. Not public: a
 * caller reaches a node through qf_pipeline_node() (qf/pipeline.h). */
#ifndef QF_PIPELINE_NODES_H
#define QF_PIPELINE_NODES_H

#include <stddef.h>

#include "qf/pipeline.h"
#include "qf/tools.h"

/* The nodes (one file each). */
int qf__node_normalize(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                       qf_error_t *err);
int qf__node_load_policy(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                         qf_error_t *err);
int qf__node_plan(qf_run_state_t *s, const qf_run_cfg_t *cfg, qf_error_t *err);
int qf__node_execute(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                     qf_error_t *err);
int qf__node_enforce_budget(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                            qf_error_t *err);
int qf__node_collect(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                     qf_error_t *err);
int qf__node_gate(qf_run_state_t *s, const qf_run_cfg_t *cfg, qf_error_t *err);

/* With a source in the request and no checkout yet: checks the policy
 * allows the repository, checks the commit out (the one fixed in
 * s->source_commit, else the request's commit or ref), and points
 * s->workspace at the request's workspace inside it; records the source
 * in the evidence (node_source.c). Without a source: nothing. */
int qf__source_prepare(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                       qf_error_t *err);

/* The repro facts: the commit tested for a source, else the workspace's
 * own repository (node_source.c). */
int qf__source_repro(qf_run_state_t *s, qf_error_t *err);

/* A copy of s (NULL for NULL); clears *ok when out of memory. */
char *qf__dup_or_oom(const char *s, int *ok);

/* Sets err to out of memory and returns QF_ENOMEM. */
int qf__oom(qf_error_t *err);

/* <artifacts root>/<run_id>, with depth 1 /tools, with depth 2
 * /tools/<tool>. */
int qf__run_dir(const qf_run_state_t *s, const qf_run_cfg_t *cfg, int depth,
                char *out, size_t n, qf_error_t *err);

/* Writes <run dir>/evidence.json and sets s->evidence_path (node_collect.c;
 * the gate writes it again with the decision). */
int qf__write_evidence(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                       qf_error_t *err);

#endif
