/* node_collect.c: artifacts, summary, repro facts, and the evidence
 * file. */
#include <limits.h>
#include <stdlib.h>

#include "qf/fsutil.h"
#include "qf/repro.h"

#include "nodes.h"

/* Writes <run dir>/evidence.json and remembers its path. */
int qf__write_evidence(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                       qf_error_t *err) {
  char dir[PATH_MAX];
  int rc = qf__run_dir(s, cfg, 0, dir, sizeof dir, err);
  free(s->evidence_path);
  s->evidence_path = NULL;
  cJSON_free(s->evidence_text);
  s->evidence_text = NULL;
  qf_fs_owed_drop(&s->evidence_owed); /* replaced: the new one is owed */
  int later = cfg->owe_syncs && cfg->unowned && cfg->unowned(cfg->tick_ctx);
  return rc < 0 ? rc
                : qf_evidence_write_text(
                      s->evidence, dir, &s->evidence_path, &s->evidence_text,
                      cfg->owe_syncs ? &s->evidence_owed : NULL, later, err);
}

/* collect: artifacts, summary, repro. The evidence file is written once,
 * by gate, which every run that is not parked reaches (a budget short-
 * circuit included). */
int qf__node_collect(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                     qf_error_t *err) {
  char dir[PATH_MAX], run[PATH_MAX];
  int dropped = 0;
  /* The run's folder (the evidence goes there) exists from here on, also
   * for a run whose tool never ran under a root made just now. */
  int rc = qf__run_dir(s, cfg, 0, run, sizeof run, err);
  if (rc == QF_OK) rc = qf_fs_mkdirs(run, err);
  if (rc == QF_OK) rc = qf__run_dir(s, cfg, 1, dir, sizeof dir, err);
  if (rc < 0) return rc;
  qf_evidence_t *ev = s->evidence;
  for (size_t i = 0; i < ev->nartifacts; i++) { /* a resumed collect */
    free(ev->artifacts[i].type);
    free(ev->artifacts[i].path);
    free(ev->artifacts[i].mime);
  }
  ev->nartifacts = 0;
  rc = qf_pipeline_collect_artifacts(ev, cfg->artifacts_root, dir, s->policy,
                                     &dropped, err);
  if (rc < 0) return rc;
  qf_evidence_summarize(ev, s->has_junit ? &s->junit : NULL);
  if (!ev->has_repro && (rc = qf__source_repro(s, err)) < 0) return rc;
  qf_evidence_stamp(ev);
  return QF_OK;
}
