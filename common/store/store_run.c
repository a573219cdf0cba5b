/* store_run.c: the transactions of a run's first pass (see
 * include/store/qf/store.h): claim a delivery, checkpoint after each node, and
 * finish with a decision or park for a human. State changes are
 * compare-and-set updates guarded by the run's status (see store.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/store.h"
#include "store_internal.h"

/* --------------------------------------------------------------- claim */

typedef struct claim_ctx {
  qf_store_t *st;
  const qf_claim_t *c;
  qf_run_row_t row;
  int created;
  char deliveries[16];
} claim_ctx_t;

/* What the claim found of an existing run (row 0 of its SELECT). */
typedef struct found {
  int same_request, live, deliveries;
  qf_run_status_t status;
  const char *status_name, *owner; /* borrowed from the result */
  qf_tool_trace_t tool;
} found_t;

static int insert_run(qf_db_t *db, claim_ctx_t *x, qf_error_t *err) {
  const qf_claim_t *c = x->c;
  PGresult *res = NULL;
  const char *p[] = {c->run_id,       c->message_id, c->request_json,
                     c->requested_by, c->reply_to,   c->correlation_id,
                     c->worker,       x->deliveries, x->st->lease_s_text};
  int rc = qf_db_exec(
      db,
      "INSERT INTO runs (run_id, message_id, request, requested_by, "
      "reply_to, correlation_id, worker, attempts, deliveries, lease_owner, "
      "lease_expires_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, 1, "
      "$8::integer, CASE WHEN $9::integer > 0 THEN $7 END, CASE WHEN "
      "$9::integer > 0 THEN now() + make_interval(secs => $9::integer) END) "
      "ON CONFLICT (run_id) DO NOTHING RETURNING " QF__STORE_RUN_COLS("runs."),
      9, p, &res, err);
  if (rc < 0) return rc;
  x->created = PQntuples(res) == 1;
  if (x->created) rc = qf__store_run_read(res, &x->row, err);
  PQclear(res);
  return rc;
}

cJSON *qf__store_claim_event(const qf_claim_t *c, int attempt,
                             const char *owner) {
  cJSON *data = cJSON_CreateObject();
  int ok = data != NULL && cJSON_AddStringToObject(data, "worker", c->worker) &&
           cJSON_AddNumberToObject(data, "attempt", attempt) &&
           cJSON_AddNumberToObject(data, "deliveries", c->deliveries) &&
           (owner == NULL || cJSON_AddStringToObject(data, "owner", owner));
  if (!ok) {
    cJSON_Delete(data);
    return NULL;
  }
  return data;
}

static int event(qf_db_t *db, claim_ctx_t *x, const char *name,
                 const char *owner, qf_error_t *err) {
  cJSON *data = qf__store_claim_event(x->c, x->row.attempts, owner);
  int rc = data ? qf__store_add_event(db, x->c->run_id, name, x->c->worker,
                                      data, err)
                : qf_error_set(err, QF_ENOMEM, "out of memory");
  cJSON_Delete(data);
  return rc;
}

/* Counts the delivery; taking the lease when take. */
static int count_claim(qf_db_t *db, claim_ctx_t *x, int take, qf_error_t *err) {
  const qf_claim_t *c = x->c;
  const char *p[] = {c->run_id, c->worker, take ? x->st->lease_s_text : "0",
                     x->deliveries};
  return qf__store_read_one(
      db,
      "UPDATE runs SET attempts = attempts + 1, updated_at = now(), "
      "worker = CASE WHEN $3::integer > 0 OR status IN ('received', "
      "'running') THEN $2 ELSE worker END, deliveries = CASE WHEN "
      "status IN ('received', 'running') THEN $4::integer ELSE deliveries "
      "END, lease_owner = CASE WHEN $3::integer > 0 THEN $2 END, "
      "lease_expires_at = CASE WHEN $3::integer > 0 THEN now() + "
      "make_interval(secs => $3::integer) END, tool_pgid = CASE WHEN "
      "$3::integer > 0 THEN NULL ELSE tool_pgid END, tool_cgroup = CASE WHEN "
      "$3::integer > 0 THEN NULL ELSE tool_cgroup END WHERE run_id = $1::uuid "
      "RETURNING " QF__STORE_RUN_COLS("runs."),
      4, p, &x->row, err);
}

static int read_found(qf_db_t *db, const qf_claim_t *c, PGresult **res,
                      found_t *f, qf_error_t *err) {
  const char *p[] = {c->run_id, c->request_json};
  int rc = qf_db_exec(
      db,
      "SELECT request = $2::jsonb, status, lease_owner, lease_expires_at > "
      "now(), coalesce(tool_pgid, 0), coalesce(tool_host, ''), "
      "coalesce(tool_started, 0), deliveries, coalesce(tool_cgroup, '') FROM "
      "runs WHERE run_id = $1::uuid FOR UPDATE",
      2, p, res, err);
  if (rc < 0) return rc;
  if (PQntuples(*res) != 1)
    return qf_error_set(err, QF_ERETRY, "run %s vanished while claimed",
                        c->run_id);
  f->same_request = PQgetvalue(*res, 0, 0)[0] == 't';
  f->status_name = PQgetvalue(*res, 0, 1);
  f->status = strcmp(f->status_name, "decided") == 0 ? QF_RUN_DECIDED
              : strcmp(f->status_name, "awaiting_approval") == 0
                  ? QF_RUN_AWAITING_APPROVAL
                  : QF_RUN_RUNNING;
  f->owner = PQgetisnull(*res, 0, 2) ? NULL : PQgetvalue(*res, 0, 2);
  f->live = PQgetvalue(*res, 0, 3)[0] == 't';
  f->tool.pgid = atoi(PQgetvalue(*res, 0, 4));
  snprintf(f->tool.host, sizeof f->tool.host, "%s", PQgetvalue(*res, 0, 5));
  f->tool.started = atoll(PQgetvalue(*res, 0, 6));
  f->deliveries = atoi(PQgetvalue(*res, 0, 7));
  snprintf(f->tool.cgroup, sizeof f->tool.cgroup, "%s", PQgetvalue(*res, 0, 8));
  return QF_OK;
}

/* The run exists: refuse another request's id, join a live owner's
 * waiters, or take the run (over). */
static int claim_existing(qf_db_t *db, claim_ctx_t *x, qf_error_t *err) {
  const qf_claim_t *c = x->c;
  PGresult *res = NULL;
  found_t f;
  int rc = read_found(db, c, &res, &f, err);
  if (rc < 0) goto out;
  /* A message_id belongs to the request it was first sent with: the
   * same id with another request (jsonb equality of the normalized
   * requests, requested_by included) is refused, and never answered
   * with that run's decision. */
  if (!f.same_request) {
    rc = qf_error_set(err, QF_EEXIST,
                      "message_id %s is already used by a different "
                      "request (run %s); a message_id names one request",
                      c->message_id ? c->message_id : "(none)", c->run_id);
    goto out;
  }
  int finished = f.status == QF_RUN_DECIDED;
  int parked = f.status == QF_RUN_AWAITING_APPROVAL;
  /* A delivery the broker counts higher than the one the owner claimed
   * is the owner's own coming back (its channel closed, or it requeued):
   * the owner no longer works on it, whatever its lease says. */
  int elsewhere =
      !finished && !parked && x->st->lease_s > 0 && f.owner != NULL && f.live &&
      strcmp(f.owner, c->worker) != 0 && c->deliveries <= f.deliveries;
  if (parked || elsewhere)
    rc = qf__store_add_waiter(db, c->run_id, c->reply_to, c->correlation_id,
                              err);
  if (rc == QF_OK && elsewhere) {
    const char *p[] = {c->run_id};
    rc = qf__store_read_one(db,
                            "SELECT " QF__STORE_RUN_COLS(
                                "runs.") " FROM runs WHERE run_id = $1::uuid",
                            1, p, &x->row, err);
    x->row.leased_elsewhere = 1;
    if (rc == QF_OK) rc = event(db, x, "waiting", f.owner, err);
    goto out;
  }
  int take = !finished && !parked && x->st->lease_s > 0;
  if (rc == QF_OK) rc = count_claim(db, x, take, err);
  if (rc == QF_OK && take) {
    x->row.taken_over = f.owner != NULL && strcmp(f.owner, c->worker) != 0;
    x->row.previous = f.tool;
  }
  if (rc == QF_OK)
    rc = event(db, x, "claimed", x->row.taken_over ? f.owner : NULL, err);
out:
  PQclear(res);
  return rc;
}

static int claim_tx(qf_db_t *db, void *arg, qf_error_t *err) {
  claim_ctx_t *x = arg;
  qf_run_row_fini(&x->row); /* from an attempt that was retried */
  int rc = insert_run(db, x, err);
  if (rc < 0) return rc;
  if (x->created) return event(db, x, "claimed", NULL, err);
  return claim_existing(db, x, err);
}

int qf_store_claim(qf_store_t *st, const qf_claim_t *c, qf_run_row_t *out,
                   int *created, qf_error_t *err) {
  if (st == NULL || c == NULL || out == NULL || c->request_json == NULL ||
      c->worker == NULL || !qf_uuid_is_valid(c->run_id) || c->deliveries < 0)
    return qf_error_set(err, QF_EINVAL,
                        "claim needs a run id, a request and a worker");
  claim_ctx_t x = {.st = st, .c = c};
  snprintf(x.deliveries, sizeof x.deliveries, "%d", c->deliveries);
  int rc = qf_db_tx(st->db, claim_tx, &x, err);
  if (rc < 0) {
    qf_run_row_fini(&x.row);
    return rc;
  }
  *out = x.row;
  if (created) *created = x.created;
  return QF_OK;
}

/* ---------------------------------------------------------- checkpoint */

typedef struct checkpoint_ctx {
  qf_store_t *st;
  const char *run_id;
  const char *node;
  const char *state; /* the checkpoint as JSON text */
  long long duration_ms;
} checkpoint_ctx_t;

static int checkpoint_tx(qf_db_t *db, void *arg, qf_error_t *err) {
  checkpoint_ctx_t *x = arg;
  PGresult *res = NULL;
  cJSON *data = NULL;
  char event[128];
  const char *p[] = {x->run_id, x->state, x->node, x->st->owner,
                     x->st->lease_s_text};
  /* The checkpoint renews the lease; a lease that is no longer ours
   * (another owner took the run over) saves nothing. */
  int rc = qf_db_exec(
      db,
      "UPDATE runs SET checkpoint = $2::jsonb, current_node = $3, status = "
      "'running', updated_at = now(), lease_expires_at = CASE WHEN $4::text "
      "IS NULL THEN lease_expires_at ELSE now() + make_interval(secs => "
      "$5::integer) END WHERE run_id = $1 AND status IN ('received', "
      "'running') AND ($4::text IS NULL OR lease_owner = $4) RETURNING worker",
      5, p, &res, err);
  if (rc < 0) goto out;
  if (PQntuples(res) == 0) {
    rc = qf__store_conflict(db, x->run_id, err);
    goto out;
  }
  snprintf(event, sizeof event, "node.%s", x->node);
  data = cJSON_CreateObject();
  if (data == NULL ||
      !cJSON_AddNumberToObject(data, "duration_ms", (double)x->duration_ms)) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  rc = qf__store_add_event(
      db, x->run_id, event,
      PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0), data, err);
out:
  cJSON_Delete(data);
  PQclear(res);
  return rc;
}

int qf_store_checkpoint(qf_store_t *st, const char *run_id, const char *node,
                        const cJSON *checkpoint, long long duration_ms,
                        qf_error_t *err) {
  if (st == NULL || !qf_uuid_is_valid(run_id) || node == NULL ||
      strlen(node) > 64 || checkpoint == NULL)
    return qf_error_set(err, QF_EINVAL,
                        "checkpoint needs a run id, a node and a state");
  checkpoint_ctx_t x = {
      .st = st, .run_id = run_id, .node = node, .duration_ms = duration_ms};
  char *state = NULL;
  int rc = qf__store_doc_text(checkpoint, "the checkpoint", &state, err);
  if (rc < 0) return rc;
  x.state = state;
  rc = qf_db_tx(st->db, checkpoint_tx, &x, err);
  cJSON_free(state);
  return rc;
}

/* -------------------------------------------------------------- finish */

typedef struct finish_ctx {
  qf_store_t *st;
  const qf_finish_t *f;
  int hitl;
  char expires_s[16];
  const char *rules;      /* triggered_rules as JSON text */
  const char *evidence;   /* NULL when there is none */
  const char *checkpoint; /* NULL: keep the stored one */
  char approval_id[QF_UUID_STR_LEN + 1];
  cJSON *message; /* our copy, with approval_id set */
  cJSON *waiters; /* the run's waiters, read with the update */
} finish_ctx_t;

/* Opens the pending approval; the unique partial index turns a second
 * one for the run into QF_ECONFLICT. */
/* hitl.approvers as a JSON array of strings (cJSON_free), NULL on OOM. */
char *qf__store_approvers_json(const qf_finish_t *f) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < f->napprovers; i++)
    if (!cJSON_AddItemToArray(a, cJSON_CreateString(f->approvers[i]))) {
      cJSON_Delete(a);
      return NULL;
    }
  char *text = a ? cJSON_PrintUnformatted(a) : NULL;
  cJSON_Delete(a);
  return text;
}

static int open_approval(qf_db_t *db, finish_ctx_t *x, qf_error_t *err) {
  PGresult *res = NULL;
  const qf_finish_t *f = x->f;
  /* The rules in force go with the approval: the database judges every
   * decision by them (migration 003), not by a client's policy file. */
  char *approvers = qf__store_approvers_json(f);
  if (approvers == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  const char *p[] = {f->run_id,
                     f->stage ? f->stage : "after_execute",
                     f->triggered_rule,
                     f->requested_by,
                     x->expires_s,
                     approvers,
                     f->prevent_self_approval ? "true" : "false"};
  int rc = qf_db_exec(
      db,
      "INSERT INTO approvals (run_id, stage, triggered_rule, requested_by, "
      "expires_at, approvers, prevent_self_approval) VALUES ($1, $2, $3, $4, "
      "now() + make_interval(secs => $5::integer), ARRAY(SELECT "
      "jsonb_array_elements_text($6::jsonb)), $7::boolean) RETURNING id",
      7, p, &res, err);
  cJSON_free(approvers);
  if (rc == QF_ECONFLICT)
    return qf_error_prefix(err, "run %s already has a pending approval",
                           f->run_id);
  if (rc < 0) return rc;
  snprintf(x->approval_id, sizeof x->approval_id, "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  cJSON *id = cJSON_CreateString(x->approval_id);
  if (id == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  cJSON_DeleteItemFromObjectCaseSensitive(x->message, "approval_id");
  if (!cJSON_AddItemToObject(x->message, "approval_id", id)) {
    cJSON_Delete(id);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  return QF_OK;
}

/* The compare-and-set that decides or parks the run (and releases our
 * lease); *worker receives the run's worker (for the event's actor) or
 * NULL, x->waiters its waiters. */
static int update_run(qf_db_t *db, finish_ctx_t *x, const char *message,
                      char **worker, qf_error_t *err) {
  PGresult *res = NULL;
  const qf_finish_t *f = x->f;
  const char *p[] = {f->run_id,
                     f->decision,
                     f->reason,
                     x->rules,
                     f->decided_by,
                     x->evidence,
                     f->evidence_path,
                     f->policy_version,
                     f->policy_hash,
                     message,
                     x->hitl ? x->approval_id : NULL,
                     x->st->owner,
                     x->checkpoint};
  int rc = qf_db_exec(
      db,
      "UPDATE runs SET status = CASE WHEN $2::text = 'NEED_HITL' THEN "
      "'awaiting_approval' ELSE 'decided' END, decision = $2::text, reason = "
      "$3, triggered_rules = $4::jsonb, decided_by = $5, final = ($2::text <> "
      "'NEED_HITL'), evidence = $6::jsonb, evidence_path = $7, policy_version "
      "= $8, policy_hash = $9, decision_message = $10::jsonb, approval_id = "
      "$11::uuid, decided_at = CASE WHEN $2::text <> 'NEED_HITL' THEN now() "
      "END, updated_at = now(), lease_owner = NULL, lease_expires_at = NULL, "
      "checkpoint = coalesce($13::jsonb, checkpoint) "
      "WHERE run_id = $1 AND status IN ('received', 'running') AND ($12::text "
      "IS NULL OR lease_owner = $12) RETURNING worker",
      13, p, &res, err);
  if (rc < 0) return rc;
  cJSON_Delete(x->waiters);
  x->waiters = NULL;
  if (PQntuples(res) == 0)
    rc = qf__store_conflict(db, f->run_id, err);
  else if (!PQgetisnull(res, 0, 0) &&
           (*worker = strdup(PQgetvalue(res, 0, 0))) == NULL)
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  /* After the UPDATE, in a statement of its own: a waiter that joined
   * while we waited for the row lock is seen. */
  if (rc == QF_OK) rc = qf__store_waiters(db, f->run_id, &x->waiters, err);
  PQclear(res);
  return rc;
}

cJSON *qf__store_final_event(const qf_finish_t *f, const char *approval_id) {
  cJSON *data = cJSON_CreateObject();
  int ok =
      data != NULL && cJSON_AddStringToObject(data, "decision", f->decision) &&
      (approval_id && approval_id[0]
           ? cJSON_AddStringToObject(data, "approval_id", approval_id) != NULL
           : cJSON_AddNullToObject(data, "approval_id") != NULL) &&
      (f->node_ms == NULL ||
       cJSON_AddItemToObject(data, "node_ms", cJSON_Duplicate(f->node_ms, 1)));
  if (!ok) {
    cJSON_Delete(data);
    return NULL;
  }
  return data;
}

static int finish_event(qf_db_t *db, finish_ctx_t *x, const char *worker,
                        qf_error_t *err) {
  cJSON *data = qf__store_final_event(x->f, x->hitl ? x->approval_id : NULL);
  int rc = data ? qf__store_add_event(db, x->f->run_id,
                                      x->hitl ? "parked" : "decided", worker,
                                      data, err)
                : qf_error_set(err, QF_ENOMEM, "out of memory");
  cJSON_Delete(data);
  return rc;
}

static int finish_tx(qf_db_t *db, void *arg, qf_error_t *err) {
  finish_ctx_t *x = arg;
  char *message = NULL, *worker = NULL;
  int rc = QF_ENOMEM;
  /* A fresh copy per attempt: a retried body must not see the approval
   * id of a rolled-back attempt. */
  cJSON_Delete(x->message);
  x->approval_id[0] = '\0';
  x->message = cJSON_Duplicate(x->f->decision_message, 1);
  if (x->message == NULL) goto nomem;
  if (x->hitl && (rc = open_approval(db, x, err)) < 0) goto out;
  if ((message = cJSON_PrintUnformatted(x->message)) == NULL) goto nomem;
  rc = update_run(db, x, message, &worker, err);
  if (rc == QF_OK) rc = finish_event(db, x, worker, err);
  goto out;
nomem:
  rc = qf_error_set(err, QF_ENOMEM, "out of memory");
out:
  cJSON_free(message);
  free(worker);
  return rc;
}

int qf__store_finish_check(const qf_finish_t *f, qf_error_t *err) {
  if (f == NULL || !qf_uuid_is_valid(f->run_id) || f->decision == NULL ||
      f->decided_by == NULL || !cJSON_IsObject(f->decision_message))
    return qf_error_set(err, QF_EINVAL,
                        "finish needs a run id, a decision, decided_by and a "
                        "decision message (an object)");
  if (strcmp(f->decision, "PASS") != 0 && strcmp(f->decision, "FAIL") != 0 &&
      strcmp(f->decision, "NEED_HITL") != 0)
    return qf_error_set(err, QF_EINVAL, "unknown decision %s", f->decision);
  if (f->triggered_rules != NULL && !cJSON_IsArray(f->triggered_rules))
    return qf_error_set(err, QF_EINVAL, "triggered_rules must be an array");
  /* An approval must expire after it was created (a CHECK says so). */
  if (strcmp(f->decision, "NEED_HITL") == 0 && f->expires_after_s <= 0)
    return qf_error_set(err, QF_EINVAL,
                        "an approval needs expires_after_s > 0");
  return QF_OK;
}

int qf_store_finish(qf_store_t *st, const qf_finish_t *f, cJSON **message_out,
                    cJSON **waiters_out, qf_error_t *err) {
  if (st == NULL) return qf_error_set(err, QF_EINVAL, "store: NULL");
  int rc = qf__store_finish_check(f, err);
  if (rc < 0) return rc;
  finish_ctx_t x = {
      .st = st, .f = f, .hitl = strcmp(f->decision, "NEED_HITL") == 0};
  snprintf(x.expires_s, sizeof x.expires_s, "%d", f->expires_after_s);
  char *evidence = NULL, *rules = NULL;
  char *checkpoint = NULL;
  rc = qf__store_doc_text(f->evidence, "the evidence document", &evidence, err);
  if (rc == QF_OK)
    rc = qf__store_doc_text(f->triggered_rules, "triggered_rules", &rules, err);
  if (rc == QF_OK)
    rc = qf__store_doc_text(f->checkpoint, "the checkpoint", &checkpoint, err);
  if (rc < 0) goto out;
  x.evidence = evidence;
  x.checkpoint = checkpoint;
  x.rules = rules ? rules : "[]";
  rc = qf_db_tx(st->db, finish_tx, &x, err);
  if (rc == QF_OK && message_out != NULL) {
    *message_out = x.message;
    x.message = NULL;
  }
  if (rc == QF_OK && waiters_out != NULL) {
    *waiters_out = x.waiters;
    x.waiters = NULL;
  }
out:
  cJSON_Delete(x.waiters);
  cJSON_Delete(x.message);
  cJSON_free(checkpoint);
  cJSON_free(evidence);
  cJSON_free(rules);
  return rc;
}
