/* worker_support.h: helpers for the suites that run real `qf worker`
 * processes against the local RabbitMQ and PostgreSQL (test_worker*.c).
 *
 * Every test gets its own topology prefix (t<pid>_<n>), its own database
 * (migrated), and its own workspace root (a copy of examples/demo) and
 * artifacts root; qf_wt_fini stops the workers, deletes the queues and
 * exchanges and drops the database. */
#ifndef QF_TEST_WORKER_SUPPORT_H
#define QF_TEST_WORKER_SUPPORT_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <sys/types.h>

#include "qf/amqp.h"
#include "qf/uuid.h"
#include "qf/worker.h"

#define QF_WT_MAX_WORKERS 4

typedef struct qf_wt_worker {
  pid_t pid; /* 0 when not running */
  char log[256];
  char id[300]; /* "host:pid", as in runs.worker */
  int status;   /* exit code or 128 + signal, once stopped */
} qf_wt_worker_t;

typedef struct qf_wt {
  char prefix[64];
  qf_topology_t topo;
  char decisions_q[QF_WORKER_NAME_MAX]; /* <p>.test.decisions, decision.# */
  char dir[128];                        /* everything of the test */
  char root[192];                       /* workspace root, with demo/ */
  char arts[192];                       /* artifacts root */
  char db_url[512];          /* administrator, for the test's queries */
  char worker_db_url[512];   /* a login role in qf_worker, for the workers */
  char approver_db_url[512]; /* a login role in qf_approver (not a
                                superuser: superusers may not decide) */
  qf_amqp_t *pub;            /* confirm mode, for the test's requests */
  qf_amqp_t *con;            /* basic.get and declarations */
  qf_wt_worker_t workers[QF_WT_MAX_WORKERS];
} qf_wt_t;

/* Creates all of the above, declares the exchanges and a durable queue
 * bound to <p>.decisions with "decision.#" (the test's view of every
 * decision). */
void qf_wt_init(qf_wt_t *t);

/* Stops every worker (SIGTERM, then SIGKILL), kills tool processes left
 * behind (found by the artifacts root in their command line), deletes the
 * queues and exchanges, drops the database and removes the directory. */
void qf_wt_fini(qf_wt_t *t);

/* Writes a file (relative to the workspace root's demo/), e.g. a slow
 * test. */
void qf_wt_write_demo_file(qf_wt_t *t, const char *rel, const char *text);

/* Starts worker i with the test's environment plus extra ("K=V", NULL
 * terminated; may be NULL), stderr to workers[i].log. */
void qf_wt_start_worker(qf_wt_t *t, int i, const char *const *extra);

/* Waits until worker i's log holds at least n lines containing every one
 * of the NULL-terminated needles; fails the test (with the log's tail)
 * after timeout_s. */
void qf_wt_wait_log(qf_wt_t *t, int i, int n, int timeout_s, ...);

/* Lines of worker i's log that contain every needle (NULL-terminated). */
int qf_wt_count_log(qf_wt_t *t, int i, ...);

/* The last ~3000 bytes of worker i's log (static buffer). */
const char *qf_wt_log_tail(qf_wt_t *t, int i);

/* SIGTERM (or sig), waits up to timeout_s, then SIGKILL. Returns the exit
 * status (code, or 128 + signal). */
int qf_wt_stop_worker(qf_wt_t *t, int i, int sig, int timeout_s);

/* Waits up to timeout_s for worker i to exit by itself; -1 if it did
 * not. */
int qf_wt_wait_exit(qf_wt_t *t, int i, int timeout_s);

/* Publishes body to <p>.requests with routing key "run" (confirmed).
 * message_id, correlation_id and reply_to may be NULL. Reconnects when
 * the connection was lost (broker restarts). */
void qf_wt_publish(qf_wt_t *t, const void *body, size_t len,
                   const char *message_id, const char *correlation_id,
                   const char *reply_to);

/* A request body: nl, test_path (NULL: no options), dry_run, timeout_s.
 * Static buffer. */
const char *qf_wt_request(const char *nl, const char *test_path, int dry_run,
                          int timeout_s);

/* Gets up to n messages from queue (acked), waiting up to timeout_s in
 * all; returns how many arrived. out[i] owned by the caller
 * (qf_amqp_message_fini). Survives broker restarts (reconnects). */
int qf_wt_get(qf_wt_t *t, const char *queue, qf_amqp_message_t *out, int n,
              int timeout_s);

/* Gets up to n decision messages (parsed) from the test's decisions
 * queue; returns how many. */
int qf_wt_decisions(qf_wt_t *t, cJSON **out, int n, int timeout_s);

/* Declares the test's reply queue <prefix>.test.<name> into out. */
void qf_wt_reply_queue(qf_wt_t *t, char *out, size_t n, const char *name);

/* The first message on reply queue q within timeout_s, parsed (fails the
 * test, with worker 0's log, when none comes); caller cJSON_Deletes. */
cJSON *qf_wt_reply_from(qf_wt_t *t, const char *q, int timeout_s);

/* Messages ready in queue (passive queue.declare), or -1 if it does not
 * exist. */
long qf_wt_queue_count(qf_wt_t *t, const char *queue);

/* First value of the first row of sql on the test's database (static
 * buffer; "" when no row); fails the test on an error. Reconnects. */
const char *qf_wt_query(qf_wt_t *t, const char *sql);

/* All rows of sql (caller PQclear); fails the test on an error. */
PGresult *qf_wt_query_res(qf_wt_t *t, const char *sql);

/* Kills (SIGKILL, by PID) the processes whose command line mentions the
 * test's artifacts root: tools a killed worker left behind. */
void qf_wt_kill_leftover_tools(qf_wt_t *t);

/* PIDs (at most max) of the processes whose command line mentions the
 * test's artifacts root; returns how many. */
int qf_wt_tool_pids(qf_wt_t *t, pid_t *pids, int max);

/* The run id of a message id (UUIDv5), into out (37 bytes). */
void qf_wt_run_id(const char *message_id, char *out);

/* Runs a shell command (sh -c), failing the test unless it exits 0. */
void qf_wt_sh(const char *cmd, int timeout_s);

#endif
