/* store.h: the worker's runs in PostgreSQL (tables of migrations/001 and
 * 002). Every statement is parameterised; every state change is a
 * compare-and-set on the run's status, so two workers holding the same
 * request (a redelivery racing a slow ack) cannot both finish it.
 *
 * Errors are the db module's codes: QF_EDBCONN when the connection is
 * lost (the caller reconnects with qf_store_reconnect and requeues its
 * delivery), QF_ECONFLICT when the run is no longer in the expected state.
 * One qf_store_t per thread.
 */
#ifndef QF_STORE_H
#define QF_STORE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "qf/db.h"
#include "qf/err.h"
#include "qf/uuid.h"

typedef struct qf_store qf_store_t;

/* Connects (application_name "qf-worker" unless app says otherwise). On
 * success *out is owned by the caller (qf_store_close). */
int qf_store_open(const char *conninfo, const char *app, qf_store_t **out,
                  qf_error_t *err) QF_MUSTCHECK;
void qf_store_close(qf_store_t *st);

/* Whether the connection is usable; reconnects when it is not (one try;
 * the caller owns the backoff). */
int qf_store_reconnect(qf_store_t *st, qf_error_t *err) QF_MUSTCHECK;

/* The lease this store's claims take: owner (the worker's id, e.g.
 * "host:pid") and how long it lasts unless renewed. A claim then takes the
 * run only when no other owner holds a live lease on it, and every later
 * change of the run (checkpoint, finish, renewal) is made only while the
 * lease is still ours. lease_s 0 (the default): no leases (tests of the
 * store alone). owner is copied. */
int qf_store_set_lease(qf_store_t *st, const char *owner, int lease_s);

/* The database session itself, for tests and the approver (borrowed;
 * qf_store_reconnect replaces it when it reconnects). */
qf_db_t *qf_store_db(qf_store_t *st);

typedef enum qf_run_status {
  QF_RUN_RECEIVED = 0,
  QF_RUN_RUNNING,
  QF_RUN_AWAITING_APPROVAL,
  QF_RUN_DECIDED
} qf_run_status_t;

/* Where a run's tool runs, so that whoever takes the run over can kill
 * what its previous owner left running. */
typedef struct qf_tool_trace {
  int pgid;          /* the tool's process group; 0: none recorded */
  char host[256];    /* the machine it runs on (qf_exec_host_id) */
  long long started; /* the group leader's start time, so that a reused
                        PID is never mistaken for it */
  char cgroup[1024]; /* its cgroup v2 directory, "" when none */
} qf_tool_trace_t;

/* A run as the worker needs it; every pointer is owned by the row. */
typedef struct qf_run_row {
  char run_id[QF_UUID_STR_LEN + 1];
  qf_run_status_t status;
  int attempts;            /* deliveries that claimed it, this one included */
  cJSON *checkpoint;       /* NULL before the first node completed */
  cJSON *decision_message; /* NULL until decided or parked */
  cJSON *evidence;         /* NULL until decided or parked */
  char *evidence_path;     /* where its file is; NULL when none */
  char *reply_to;          /* NULL when none */
  char *correlation_id;    /* NULL when none */
  cJSON *waiters;          /* [{reply_to, correlation_id}]: the run's own
                              reply_to first, then every other delivery's of the
                              same request; NULL when none */
  char *lease_owner;       /* who holds the run, NULL when nobody */
  int lease_live;          /* that lease has not expired */
  /* Set by qf_store_claim: */
  int leased_elsewhere;     /* another owner holds a live lease: not claimed
                               (this delivery's reply_to became a waiter) */
  int taken_over;           /* the lease of another owner had expired */
  qf_tool_trace_t previous; /* the tool the previous owner recorded */
} qf_run_row_t;

void qf_run_row_fini(qf_run_row_t *row);

/* What a delivery says about its run. */
typedef struct qf_claim {
  const char *run_id;
  const char *message_id;     /* may be NULL */
  const char *request_json;   /* the normalized request (an object) */
  const char *requested_by;   /* may be NULL */
  const char *reply_to;       /* may be NULL */
  const char *correlation_id; /* may be NULL */
  const char *worker;         /* who claims it, e.g. "host:pid" */
  int deliveries;             /* the broker's count of failed deliveries of this
                                 message (x-delivery-count; 0 for the first) */
} qf_claim_t;

/* Creates the run (status received) or finds the existing one, counts the
 * delivery in attempts, records a run_events row ("claimed", with the
 * worker), and returns the row. *created is 1 for a new run. An existing
 * run whose stored request differs from c->request_json is not claimed:
 * QF_EEXIST (the message_id belongs to another request).
 *
 * With a lease (qf_store_set_lease): an unfinished run whose lease another
 * owner holds and has not let expire is not claimed: out->leased_elsewhere
 * is set, c->reply_to is added to its waiters and a "waiting" event is
 * recorded. Otherwise the claim takes the lease (out->taken_over when an
 * expired lease of another owner was replaced; out->previous says what
 * tool it had recorded). A run parked for a human also gets c->reply_to
 * as a waiter, so that the human's final decision reaches it. */
int qf_store_claim(qf_store_t *st, const qf_claim_t *c, qf_run_row_t *out,
                   int *created, qf_error_t *err) QF_MUSTCHECK;

/* Reads the run as it is now (no event, no attempt counted). QF_ENOENT
 * when there is no such run. */
int qf_store_load(qf_store_t *st, const char *run_id, qf_run_row_t *out,
                  qf_error_t *err) QF_MUSTCHECK;

/* After a node completed: saves the checkpoint (status running,
 * current_node = node) and appends a run_events row ("node.<node>", data
 * {"duration_ms": N}), in one transaction; the lease is renewed with it.
 * QF_ECONFLICT when the run is already decided or parked, or its lease is
 * no longer ours. */
int qf_store_checkpoint(qf_store_t *st, const char *run_id, const char *node,
                        const cJSON *checkpoint, long long duration_ms,
                        qf_error_t *err) QF_MUSTCHECK;

/* Renews our lease on run_id and, when tool is not NULL, records where its
 * tool runs (a pgid of 0 clears it). QF_ECONFLICT when the lease is no
 * longer ours (it expired and another owner took the run, or the run was
 * finished): whoever holds the run now must be left alone. */
int qf_store_renew_lease(qf_store_t *st, const char *run_id,
                         const qf_tool_trace_t *tool,
                         qf_error_t *err) QF_MUSTCHECK;

/* Gives our lease on run_id up (before its delivery is requeued or handed
 * on), so that the next delivery takes the run at once instead of
 * waiting on us. Releasing a lease that is not ours changes nothing. */
int qf_store_release_lease(qf_store_t *st, const char *run_id,
                           qf_error_t *err) QF_MUSTCHECK;

/* Adds reply_to (with its correlation_id, may be NULL) to the run's
 * waiters: they receive the run's final decision too. Adding one twice is
 * fine. */
int qf_store_add_waiter(qf_store_t *st, const char *run_id,
                        const char *reply_to, const char *correlation_id,
                        qf_error_t *err) QF_MUSTCHECK;

/* The outcome of a run, to commit. */
typedef struct qf_finish {
  const char *run_id;
  const char *decision; /* PASS, FAIL or NEED_HITL */
  const char *reason;
  const cJSON *triggered_rules; /* an array */
  const char *decided_by;       /* gate or budget */
  const cJSON *evidence;        /* the evidence document */
  const char *evidence_text;    /* or, for qf_store_record_prepare, the same
                                   as JSON text (then evidence may be NULL) */
  const char *evidence_path;
  const char *policy_version;
  const char *policy_hash;
  const cJSON *decision_message; /* what will be published (approval_id is
                                    filled in by qf_store_finish) */
  /* NEED_HITL only: */
  const char *stage;          /* after_execute or before_execute */
  const char *triggered_rule; /* the rule that asked for a human */
  const char *requested_by;
  int expires_after_s; /* from the policy's hitl block */
  /* The rules the approval is decided by, stored with it (hitl.approvers:
   * none means any member of qf_approver; hitl.prevent_self_approval). */
  const char *const *approvers;
  size_t napprovers;
  int prevent_self_approval;
  /* Optional: the pipeline's state, stored as the run's checkpoint with
   * the decision (a run parked before execute resumes from it), and how
   * long each node took ({"node": ms}, recorded in the event). */
  const cJSON *checkpoint;
  const cJSON *node_ms;
} qf_finish_t;

/* In one transaction: the run becomes decided (final) or, for NEED_HITL,
 * awaiting_approval with a new pending approval (expires_at = now() +
 * expires_after_s); evidence, decision and the decision message (with its
 * approval_id set) are stored; a run_events row ("decided" or "parked")
 * is appended. Compare-and-set: only from received/running; otherwise
 * QF_ECONFLICT (someone else finished it, or took it over) and nothing
 * changes. The lease is released. On success *message_out (if not NULL)
 * is the stored decision message and *waiters_out (if not NULL) the run's
 * waiters as in qf_run_row_t (NULL when none); the caller frees both with
 * cJSON_Delete. */
int qf_store_finish(qf_store_t *st, const qf_finish_t *f, cJSON **message_out,
                    cJSON **waiters_out, qf_error_t *err) QF_MUSTCHECK;

/* ---- A run that ran no tool, recorded in one statement (DESIGN 4b) */

/* The most runs one qf_store_record_commit takes. */
#define QF_STORE_RECORD_MAX 64

/* A run decided, refused or parked for a human without running a tool,
 * made ready to be recorded: the statement's parameters (owned), and the
 * decision message to publish once it is committed (approval_id set for
 * a parked run). Made by qf_store_record_prepare, freed by
 * qf_store_record_fini. */
typedef struct qf_record {
  char approval_id[QF_UUID_STR_LEN + 1]; /* "" unless NEED_HITL */
  char *text[27]; /* the fields, owned (NULL for SQL NULL) */
  cJSON *message; /* owned: the decision message as stored */
  int inserted;   /* set by qf_store_record_commit */
} qf_record_t;

/* Prepares the record of the run that c claims and f finishes; c's and
 * f's strings are copied, so both may go after it returns. */
int qf_store_record_prepare(const qf_claim_t *c, const qf_finish_t *f,
                            qf_record_t *r, qf_error_t *err) QF_MUSTCHECK;

/* Records n (1 to QF_STORE_RECORD_MAX) prepared runs in one transaction
 * and one round trip: each run that did not exist yet is inserted in its
 * final state (decided, or awaiting_approval with a pending approval and
 * its checkpoint), with the events "claimed" and "decided" or "parked",
 * and gets r[i]->inserted = 1; a run that exists already (another delivery
 * created it) is left untouched with inserted = 0: claim it instead. On
 * failure nothing is recorded. meanwhile (may be NULL, ctx the caller's)
 * runs while the transaction is on the wire (qf_db_exec_meanwhile). */
int qf_store_record_commit(qf_store_t *st, qf_record_t *const *r, size_t n,
                           qf_db_meanwhile_fn meanwhile, void *ctx,
                           qf_error_t *err) QF_MUSTCHECK;

/* The decision message and the evidence as recorded (JSON text, owned by
 * r; the evidence NULL when the run has none): what to publish. */
const char *qf_store_record_message(const qf_record_t *r);
const char *qf_store_record_evidence(const qf_record_t *r);

void qf_store_record_fini(qf_record_t *r);

/* A run that ends without a gate: FAIL, decided_by "refused" (its request
 * cannot be run) or "error" (it cannot finish), with reason and the
 * decision message that announces it, a run_events row ("ended"). As the
 * lease owner (as_owner nonzero) the run must be ours; as a sweep
 * (as_owner 0) it must be unfinished with no live lease, or parked with
 * its approval decided. QF_ECONFLICT otherwise. On success *out (if not
 * NULL) is the run as stored (qf_run_row_fini). */
typedef struct qf_end {
  const char *run_id;
  const char *decided_by; /* refused or error */
  const char *reason;
  const cJSON *decision_message;
  int as_owner;
} qf_end_t;

int qf_store_end_run(qf_store_t *st, const qf_end_t *e, qf_run_row_t *out,
                     qf_error_t *err) QF_MUSTCHECK;

/* Runs nobody will finish, oldest first, at most max (ids into out, each
 * QF_UUID_STR_LEN + 1 bytes): unfinished runs whose lease expired more
 * than grace_s ago and whose request the broker will not deliver again
 * (its last delivery was at the queue's delivery_limit), or whose lease
 * expired more than stuck_s ago whatever the count; and parked runs whose
 * approval was decided more than stuck_s ago without the run moving.
 * Returns how many (>= 0) or a negative code. */
typedef struct qf_sweep {
  int grace_s;
  int stuck_s;
  int delivery_limit;
  int max;
} qf_sweep_t;

int qf_store_stuck_runs(qf_store_t *st, const qf_sweep_t *s,
                        char (*out)[QF_UUID_STR_LEN + 1],
                        qf_error_t *err) QF_MUSTCHECK;

/* ------------------------------------------------------------ resuming */

/* A run parked for a human, with the approval a resume message names. */
typedef struct qf_resume_row {
  qf_run_row_t run;
  char *approval_status; /* pending, approved, rejected, expired */
  char *stage;           /* after_execute or before_execute */
  char *decided_by;      /* the approver's role name, or "expiry" */
  char *reason;          /* the rejection's reason, or NULL */
  char *comment;         /* the approval's comment, or NULL */
  char *expires_at;      /* ISO-8601 */
} qf_resume_row_t;

void qf_resume_row_fini(qf_resume_row_t *r);

/* Loads run_id and its approval approval_id. QF_ENOENT when there is no
 * such approval for that run. */
int qf_store_load_resume(qf_store_t *st, const char *run_id,
                         const char *approval_id, qf_resume_row_t *out,
                         qf_error_t *err) QF_MUSTCHECK;

/* An approved run parked before execute goes back to running (so the
 * pipeline can checkpoint again), with a run_events row ("resumed"), and
 * our lease. A run already running (a resume redelivered) is fine too
 * unless another owner holds a live lease on it and this resume is not
 * that owner's own delivery coming back (deliveries, its x-delivery-count,
 * above the one recorded); QF_ECONFLICT then, or when it is decided.
 * *previous (if not NULL) is the tool an earlier owner recorded. */
int qf_store_resume_parked(qf_store_t *st, const char *run_id,
                           const char *approval_id, int deliveries,
                           qf_tool_trace_t *previous,
                           qf_error_t *err) QF_MUSTCHECK;

/* The final decision of a parked run, taken by a human (or by expiry):
 * status decided, final, with the updated evidence and decision message,
 * and a run_events row ("resolved"); a compare-and-set from
 * awaiting_approval or running, else QF_ECONFLICT. The lease is
 * released. */
typedef struct qf_resolve {
  const char *run_id;
  const char *approval_id;
  const char *decision; /* PASS or FAIL */
  const char *reason;
  const cJSON *triggered_rules; /* an array */
  const char *decided_by;       /* approval or expiry */
  const cJSON *evidence;
  const char *evidence_path;
  const cJSON *decision_message;
} qf_resolve_t;

/* *waiters_out (may be NULL): the run's waiters as in qf_run_row_t, read
 * after the change (caller cJSON_Delete). */
int qf_store_resolve(qf_store_t *st, const qf_resolve_t *r, cJSON **waiters_out,
                     qf_error_t *err) QF_MUSTCHECK;

#endif
