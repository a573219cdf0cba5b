/* submit.h: what `qf submit` is made of besides its flags (cmd_submit.c):
 * sending the request and waiting for its decision through broker
 * outages (submit_wait.c), and showing the decision where CI looks
 * (submit_report.c). */
#ifndef QF_SUBMIT_H
#define QF_SUBMIT_H

#include <cjson/cJSON.h>

/* One request to send and wait for. Strings borrowed. */
typedef struct qf_submit_job {
  const char *prefix;         /* topology prefix */
  const char *body;           /* the validated request */
  const char *message_id;     /* the idempotency key: the same on re-sends */
  const char *correlation_id; /* echoed on every message about the run */
  const char *run_id;         /* UUIDv5 of message_id */
  int wait_s;                 /* 0: publish only */
  int progress_s;             /* a progress line at most this often */
} qf_submit_job_t;

/* Publishes the request (retrying with backoff while the broker is
 * unreachable, within wait_s, or 60 s without a wait) and, with wait_s,
 * waits for the final decision on a reply queue of its own. A lost
 * connection is made again, with a new reply queue, and the same request
 * re-sent (same message id: the worker adds the new reply queue to the
 * run's waiters, or re-publishes a stored decision). *decision gets the
 * final decision, or the last NEED_HITL when the wait ended (caller
 * cJSON_Delete), or NULL. Returns 0, or the exit code of a failure whose
 * message was printed (3: no broker or no decision in time; 1 when the
 * publish was refused by routing). */
int qf_submit_send_and_wait(const qf_submit_job_t *job, cJSON **decision);

/* Where the decision goes besides stdout. Strings borrowed, NULL: not. */
typedef struct qf_submit_out {
  int json;                 /* print the decision message itself */
  const char *junit_out;    /* JUnit XML of the failures and counts */
  const char *evidence_out; /* the whole evidence document */
  int github;               /* GitHub Actions: ::error annotations */
  const char *step_summary; /* $GITHUB_STEP_SUMMARY: Markdown appended */
} qf_submit_out_t;

/* Prints the decision (and its failing tests, one per line), writes the
 * files and annotations o asks for. Returns 0, or -1 when a file could not
 * be written (said on stderr). */
int qf_submit_report(const cJSON *decision, const qf_submit_out_t *o);

/* The string member k of o, or NULL. */
const char *qf_submit_str(const cJSON *o, const char *k);

#endif
