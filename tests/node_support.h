/* node_support.h: one pipeline node at a time, on a run state brought to
 * just before it, with a fake tool that can stand in for pytest. For the
 * tests/test_node_*.c suites (unit: no services, no real tool). */
#ifndef QF_TEST_NODE_SUPPORT_H
#define QF_TEST_NODE_SUPPORT_H

#include "qf/clock.h"
#include "qf/pipeline.h"
#include "qf/tools.h"

#define QF_NT_RUN_ID "0b6d1c2a-0f3e-4b7a-9c8d-aabbccddeeff"

/* The policy the suites use unless they pass their own: fake_tool and
 * run_pytest allowed, paths under tests/, 30 s budget, 2 retries,
 * "deploy" high-risk, approvals after execute. */
extern const char *const qf_nt_policy;

/* What the fake tool does and saw. */
typedef struct qf_fake_tool {
  int calls;                /* run() calls */
  int infra_failures;       /* the first N runs fail as infrastructure */
  int canceled;             /* run() reports canceled */
  qf_tool_status_t status;  /* after the infra failures */
  long long duration_ms;    /* per run */
  qf_junit_summary_t junit; /* reported when junit.tests > 0 */
  const char *refuse_arg;   /* validate refuses an args key of this name */
  char tool_dir[512];       /* the directory of the last run */
  char workspace[512];      /* the workspace it ran in */
  int timeout_s;            /* the timeout it was given */
} qf_fake_tool_t;

typedef struct qf_nt {
  char ws[64], arts[64], policy[128];
  int64_t now_ms; /* the fake clock: each read advances it by 7 ms */
  qf_clock_t clock;
  const qf_tool_t *toolv[2];
  qf_tool_registry_t tools; /* fake_tool and run_pytest */
  qf_run_cfg_t cfg;
  qf_run_state_t s;
} qf_nt_t;

/* The fake tool's state (one per test process). */
extern qf_fake_tool_t qf_fake;

/* A temporary workspace (with tests/), artifacts root and policy file
 * (policy_yaml, or qf_nt_policy when NULL); the fake tool reset. */
void qf_nt_setup(qf_nt_t *t, const char *policy_yaml);

/* Parses body as a request and starts the run state with it. */
void qf_nt_start(qf_nt_t *t, const char *body);

/* Runs every node before `node`, asserting each succeeds. */
void qf_nt_run_until(qf_nt_t *t, const char *node);

/* Runs the node named name alone; returns its code. */
int qf_nt_node(qf_nt_t *t, const char *name, qf_error_t *err);

void qf_nt_fini(qf_nt_t *t);

#endif
