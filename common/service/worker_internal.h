/* worker_internal.h: what the worker's files share. Not public. The
 * files call each other only downwards, in this order (no circle):
 *
 *   worker.c -> worker_delivery.c -> worker_resume.c -> worker_run.c
 *            -> worker_batch.c -> worker_settle.c -> worker_conn.c
 *   worker.c -> worker_sweep.c -> worker_settle.c
 *   worker.c -> worker_batch.c
 */
#ifndef QF_WORKER_INTERNAL_H
#define QF_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "qf/amqp.h"
#include "qf/log.h"
#include "qf/pipeline.h"
#include "qf/store.h"
#include "qf/worker.h"

/* The lease of the run being worked on, renewed by qf__worker_tick. */
typedef struct qf__lease {
  char run_id[QF_UUID_STR_LEN + 1]; /* "" when none */
  int64_t renew_at_ms;              /* next renewal */
  int64_t valid_until_ms; /* past this without a renewal, assume it lost */
  int lost;               /* another owner has the run (or may have) */
  int tool_dirty;         /* tool changed: record it with the renewal */
  qf_tool_trace_t tool;
} qf__lease_t;

struct qf__held;

/* Runs decided without a tool, waiting to be recorded together (one
 * transaction), published together (one wait for confirms) and acked
 * together (multiple). */
typedef struct qf__batch {
  struct qf__held *items[QF_STORE_RECORD_MAX];
  size_t n;
  size_t limit;          /* flushed when it holds this many (<= prefetch) */
  struct qf__held *redo; /* found an existing run: to be claimed, in order */
} qf__batch_t;

typedef struct qf__worker {
  const qf_worker_cfg_t *cfg;
  qf_topology_t topo;
  qf_amqp_t *con; /* consumer */
  qf_amqp_t *pub; /* publisher, confirm mode */
  qf_store_t *store;
  qf_policy_source_t *policies; /* the policy in force (reloaded on change) */
  volatile sig_atomic_t *signals;
  int64_t stop_deadline_ms; /* when a run must give up after SIGTERM */
  int failures;             /* consecutive connection failures (backoff) */
  char host_id[256];        /* qf_exec_host_id, for tool traces */
  char cgroup[1024];        /* tools' cgroups go below it; "" when none */
  /* The leases of the runs being worked on (each job's own), renewed by
   * qf__worker_tick. */
  qf__lease_t *leases[QF_WORKER_MAX_CONCURRENCY + 1];
  size_t nleases;
  /* QF_CONCURRENCY above 1: deliveries run on threads of their own, one
   * at a time in worker code (this lock), side by side only while they
   * wait for their tools, the main loop for deliveries, or a backoff. */
  int threaded;
  pthread_mutex_t gil;
  pthread_cond_t job_done;
  int running;  /* deliveries on threads */
  int lost_con; /* one of them found the consumer connection gone */
  uint64_t inflight[QF_WORKER_MAX_CONCURRENCY + 8]; /* their delivery tags */
  size_t ninflight;
  int64_t next_sweep_ms;
  qf_source_cfg_t source;       /* cfg->source, with our tick */
  qf_log_limit_t consumer_lost; /* said once, then every 30 s, while down */
  int draining;                 /* the stop was said */
  int connected_once;           /* later connects count as reconnects */
  char unrouted[8][160];        /* exchange/key pairs said unrouted once */
  qf__batch_t batch;
  long long db_trips_seen; /* qf_db_round_trips counted into the metrics */
} qf__worker_t;

/* What became of a delivery. */
typedef enum qf__settled {
  QF__ACKED,     /* done: decided, dead-lettered, or re-published */
  QF__REQUEUED,  /* nacked back to the queue (our trouble, not its) */
  QF__CONN_LOST, /* the consumer connection is gone: reconnect */
  QF__HELD,      /* decided, held in the batch: settled when it is flushed */
  QF__REDO       /* its run exists already: claim it (qf__worker_deliver
                    with fresh = 0) */
} qf__settled_t;

/* One delivery being processed. */
typedef struct job {
  qf__worker_t *w;
  const qf_amqp_message_t *m;
  qf_amqp_message_t *own; /* m, which a held job takes over (else NULL) */
  qf_log_ctx_t log;
  char run_id[QF_UUID_STR_LEN + 1];
  const char *reply_to;       /* where the decision also goes, or NULL */
  const char *correlation_id; /* echoed on every message about the run */
  const char *approver;       /* a resume approved before execute: who */
  const char *approval_comment;
  int claimed;        /* the run is ours (lease taken): it may be ended here */
  int deliveries;     /* the broker's x-delivery-count of this delivery */
  cJSON *node_ms;     /* {"node": ms} of the nodes run, for the final event */
  int progress_due;   /* the tool started: tell the submitter */
  int64_t started_ms; /* when the delivery arrived (run duration) */
  /* A first delivery is fresh: its run is not claimed until a tool is
   * about to run, and a run that needs none is recorded whole when it is
   * decided (qf_store_record_commit): DESIGN 4b's one transaction. */
  int fresh;
  char *request_json;       /* the request as claimed or recorded (owned) */
  const char *requested_by; /* the request's (borrowed, while it runs) */
  qf__lease_t lease;   /* of the run, while claimed (qf__worker_lease_begin) */
  qf_run_row_t *found; /* a fresh run's claim found it existing (owned) */
  int held_here;       /* ... or another job of this worker running it */
} job_t;

/* ---- worker_settle.c: settling a delivery (calls only worker_conn.c) */

/* Acks (ack nonzero) or nacks (requeue or dead-letter) the delivery. */
qf__settled_t qf__job_settle(job_t *j, int ack, int requeue);

/* Dead-letters the delivery with x-qf-error = why, then acks it. */
qf__settled_t qf__job_dead_letter(job_t *j, const char *why);

/* Settles a delivery whose processing failed with rc, by rc's class
 * (qf_err_class): bad input is dead-lettered; infrastructure trouble
 * restores the database connection, then requeues; anything else is
 * requeued. A run canceled by a graceful stop is handed on (re-published
 * whole, then acked) so that drains never spend delivery attempts. The
 * one place that turns an error into a settlement. */
qf__settled_t qf__job_fail(job_t *j, int rc, const char *what);

/* What this delivery says about its run, to claim or record it. */
qf_claim_t qf__job_claim(const job_t *j, const char *request_json,
                         const char *requested_by);

/* Logs and counts a delivery acked elsewhere (an ack with multiple). */
void qf__job_note_settled(job_t *j, int ack, int requeue);

/* The messages of a decided run, gathered for one publish with one wait
 * for confirms (qf__job_announce's, for many runs). */
typedef struct qf__outbox {
  qf_amqp_out_t *out;
  size_t n, cap;
  char **owned; /* the bodies, freed by qf__outbox_fini */
  size_t nowned, capowned;
} qf__outbox_t;

/* Adds what qf__job_announce would publish for the run to o: from JSON
 * texts (borrowed until the publish; decision names the routing keys),
 * or from the documents. */
int qf__outbox_add_text(qf__outbox_t *o, job_t *j, const char *decision,
                        const char *msg, const char *ev, const char *reply_to,
                        const cJSON *waiters, int reply_only);
int qf__outbox_add(qf__outbox_t *o, job_t *j, const cJSON *message,
                   const cJSON *evidence, const char *reply_to,
                   const cJSON *waiters, int reply_only);
/* Publishes every message of o (confirms awaited together, retried);
 * QF_OK or QF_ENACK. */
int qf__outbox_publish(job_t *j, const qf__outbox_t *o);
void qf__outbox_fini(qf__outbox_t *o);

/* Re-publishes a finished run's stored messages and acks. */
qf__settled_t qf__job_republish(job_t *j, const qf_run_row_t *row);

/* Ends the claimed run FAIL with decided_by ("refused" or "error") and
 * why, publishes that to reply_to and the waiters (and, for an error, to
 * the decisions exchange like any decision); QF_OK or a negative code
 * (nothing settled). */
int qf__job_end(job_t *j, const char *decided_by, const char *why);

/* Publishes a stored decision to the decisions exchange (unless
 * reply_only), reply_to and every waiter. */
/* Counts a published decision and the run's duration (metrics). */
void qf__job_count_decision(job_t *j, const char *decision,
                            const char *decided_by);

/* Tells the delivery's reply_to that its run's tool is running here:
 * {run_id, progress: {state, node, worker}}. Best effort (a submitter
 * only prints it); returns the publish's code. */
int qf__job_progress(job_t *j, const char *node);

int qf__job_announce(job_t *j, const cJSON *message, const cJSON *evidence,
                     const char *reply_to, const cJSON *waiters,
                     int reply_only);

/* ---- worker_batch.c: runs decided without a tool, recorded, published
 * and acked together (calls worker_settle.c) */

/* Takes a fresh job's decided run into the batch (its message too, from
 * j->own), as f says, with the evidence file's owed fsyncs (paid while
 * the batch commits); QF__HELD, or what became of the delivery when it
 * could not be held. */
qf__settled_t qf__batch_hold(job_t *j, const qf_finish_t *f,
                             qf_fs_owed_t *owed);

/* Puts j's evidence file (path, may be NULL) in place and pays its owed
 * fsyncs, before its run is published; the temporaries a killed writer
 * left beside it go. A failure is logged on j: the run's evidence is
 * durable in PostgreSQL all the same, and a re-publish writes a missing
 * file again. */
void qf__pay_owed(job_t *j, qf_fs_owed_t *owed, const char *path);

/* Puts j's evidence file in place (qf_fs_owed_place); a failure is
 * logged on j. */
void qf__owed_place(job_t *j, qf_fs_owed_t *owed);

/* Logs on j why owed's fsync failed, if it did, once. */
void qf__owed_report(job_t *j, qf_fs_owed_t *owed);

/* Records, publishes and acks what the batch holds; a run that turned out
 * to exist already goes to the redo list. QF__CONN_LOST when the consumer
 * connection went meanwhile, else QF__ACKED. */
qf__settled_t qf__batch_flush(qf__worker_t *w);

/* Takes the next delivery of the redo list (NULL when none): the caller
 * delivers it again (not fresh) and finis and frees it. */
qf_amqp_message_t *qf__batch_next_redo(qf__worker_t *w);

/* Forgets what the batch holds without settling it (the consumer
 * connection is gone: the broker delivers it again). */
void qf__batch_drop(qf__worker_t *w);

/* ---- worker_sweep.c: runs nobody will finish (calls worker_settle.c) */

/* Every sweep_interval_s (when called idle): ends the runs the store says
 * nobody will finish, FAIL by error, and announces them. */
void qf__worker_sweep(qf__worker_t *w);

/* ---- worker_run.c: the pipeline for a delivery (calls worker_settle.c) */

/* Runs (or resumes) the pipeline for the job and settles it. */
qf__settled_t qf__job_run(job_t *j, qf_request_t **req,
                          const qf_run_row_t *row);

/* Another job of this worker runs j's run: j's reply_to joins its
 * waiters and the delivery is acked (a run finished meanwhile is
 * re-published instead). */
qf__settled_t qf__job_wait_in_process(job_t *j);

/* Commits and publishes a decided (or parked) run, then settles. */
qf__settled_t qf__job_finish(job_t *j, qf_run_state_t *s);

/* Checkpoints the run after a node (the pipeline's done callback). */
int qf__job_on_node(const qf_run_state_t *s, const char *node, long long ms,
                    void *job, qf_error_t *err);

/* ---- worker_resume.c: a resume message finishes a run parked for a
 * human (calls worker_run.c and worker_settle.c). */
qf__settled_t qf__worker_resume(job_t *j);

/* ---- worker_delivery.c: one delivery to its settlement (calls the
 * three above). */
/* m stays the caller's unless the delivery is held in the batch (then m
 * is emptied: the batch owns its contents). fresh: a first delivery may
 * be recorded without a claim (job_t.fresh). */
qf__settled_t qf__worker_deliver(qf__worker_t *w, qf_amqp_message_t *m,
                                 int fresh);

/* ---- worker_conn.c: the connections (calls nothing above it) */

/* The consumer connection is down (said at most every 30 s). */
void qf__worker_consumer_lost(qf__worker_t *w, const char *why);

/* Says once that a stop (SIGTERM) began the drain. */
void qf__worker_note_drain(qf__worker_t *w);

/* Serves both AMQP connections and renews every lease due while the
 * worker is busy; nonzero means "stop what you are doing" (a second
 * signal, or the shutdown grace ran out). A run's own lost lease is in
 * its lease (lost). */
int qf__worker_tick(void *worker);

/* Reconnects the database with backoff until it works or the worker must
 * stop; serves the AMQP connections meanwhile. */
int qf__worker_restore_db(qf__worker_t *w);

/* Opens an AMQP connection named name (confirm mode when confirm). */
int qf__worker_connect_amqp(qf__worker_t *w, qf_amqp_t **c, const char *name,
                            int confirm, qf_error_t *err);

/* Connects the database (when needed), both AMQP connections, declares
 * the topology and starts consuming; on failure nothing stays open but
 * the database. */
int qf__worker_connect_all(qf__worker_t *w, qf_error_t *err);

/* Starts renewing our lease l on run_id while the run is worked on;
 * ends (l is the caller's, registered with the worker in between). */
void qf__worker_lease_begin(qf__worker_t *w, qf__lease_t *l,
                            const char *run_id);
void qf__worker_lease_end(qf__worker_t *w, qf__lease_t *l);
/* Whether another run of this worker (another delivery of the same
 * request, QF_CONCURRENCY above 1) holds the lease on run_id: the
 * database cannot tell, the lease owner being the worker. */
int qf__worker_lease_held(const qf__worker_t *w, const char *run_id);
/* Gives the lease up (before a requeue or a hand-on); QF_OK or a code. */
int qf__worker_lease_release(qf__worker_t *w, const char *run_id);
/* The tool of the run of lease l started: recorded with the next renewal. */
void qf__worker_on_tool_start(qf__worker_t *w, qf__lease_t *l, int pgid,
                              const char *cgroup);

/* The worker's lock (QF_CONCURRENCY above 1; nothing otherwise): held by
 * whoever runs worker code. */
void qf__worker_lock(qf__worker_t *w);
void qf__worker_unlock(qf__worker_t *w);

/* Deliveries being worked on, by tag: a batch acks with multiple only
 * below the lowest of them. */
void qf__worker_inflight_add(qf__worker_t *w, uint64_t tag);
void qf__worker_inflight_remove(qf__worker_t *w, uint64_t tag);
/* The lowest tag being worked on, or UINT64_MAX when none. */
uint64_t qf__worker_inflight_min(const qf__worker_t *w);
/* Kills what a previous owner of the run left running (logged). */
void qf__worker_kill_previous(const qf_log_ctx_t *log,
                              const qf_tool_trace_t *t);

/* Closes both AMQP connections. */
void qf__worker_disconnect(qf__worker_t *w);

/* Sleeps for the backoff of the current failure count (and counts one
 * more), in slices so that signals are noticed and the connections stay
 * served. */
void qf__worker_backoff(qf__worker_t *w);

#endif
