/* evals.h: golden-dataset regression runs (reference section 8, with its
 * bugs fixed). A dataset is YAML:
 *
 *   version: "1.0"
 *   description: text
 *   cases:
 *     - id: pass_all            # unique, [A-Za-z0-9_.-]
 *       input_nl: "run the unit tests"
 *       options: {tool_name: run_pytest, test_path: tests}   # optional
 *       junit: golden/junit/pass3.xml     # or a list; relative to the dataset
 *       tool_status: success   # success|failed|timeout|skipped|cancelled|none
 *       error_message: "..."   # optional, for a failed tool
 *       exit_code: 0           # optional
 *       duration_ms: 120       # optional (exercises the budget)
 *       dry_run: false         # optional
 *       evidence: path.json    # instead of junit/tool_*: a whole document
 *       expected: {decision: PASS, rules: [junit_all_passed],
 *                  summary: {failures: 0}}
 *
 * Nothing is executed: each case's evidence is built from its files, gated
 * under the policy, and saved at <output>/<run_id>/evidence.json. A case
 * passes when the decision, the rules (when given) and every summary key
 * given match. Against a baseline, a case that passed there and fails now
 * is a regression, whatever its decision; without a baseline, every
 * failing case is a regression against its expectation. */
#ifndef QF_EVALS_H
#define QF_EVALS_H

#include <cjson/cJSON.h>

#include "qf/err.h"

#define QF_EVALS_MAX_DATASET_BYTES (4u << 20)

typedef struct qf_evals_opts {
  const char *dataset;     /* the YAML dataset */
  const char *policy_path; /* the policy the gate uses */
  const char *baseline;    /* NULL: compare with the expectations only */
  int update_baseline;     /* write the results as the new baseline */
  const char *output_dir;  /* evidence and reports go here */
} qf_evals_opts_t;

typedef struct qf_evals_report {
  int total, passed, regressions, improvements, changed, added, removed;
  cJSON *json;    /* the whole report (owned) */
  char *markdown; /* diff_report.md (owned) */
} qf_evals_report_t;

/* Runs the dataset. Invalid dataset, policy or baseline files are
 * QF_EPARSE/QF_EVALIDATE naming the file and case. The report is written
 * to <output_dir>/report.json and diff_report.md. Release with
 * qf_evals_report_fini. */
int qf_evals_run(const qf_evals_opts_t *opts, qf_evals_report_t *out,
                 qf_error_t *err) QF_MUSTCHECK;

void qf_evals_report_fini(qf_evals_report_t *r);

#endif
