/* runs.c: the runs as an operator looks at them (see
 * include/store/qf/runs.h). PostgreSQL builds the JSON, so each call is
 * one statement and one round trip. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "qf/runs.h"
#include "qf/uuid.h"

/* The fields of a run in the list (and in show). */
#define RUN_FIELDS                                                           \
  "'run_id', r.run_id, 'status', r.status, 'current_node', r.current_node, " \
  "'decision', r.decision, 'decided_by', r.decided_by, 'attempts', "         \
  "r.attempts, 'lease_owner', r.lease_owner, 'lease_live', "                 \
  "coalesce(r.lease_expires_at > now(), false), 'worker', r.worker, "        \
  "'requested_by', r.requested_by, 'nl_input', r.request->>'nl_input', "     \
  "'tool', r.request->'options'->>'tool_name', 'created_at', r.created_at, " \
  "'updated_at', r.updated_at"

static int one_json(qf_db_t *db, const char *sql, int n, const char *const *p,
                    cJSON **out, qf_error_t *err) {
  PGresult *res = NULL;
  int rc = qf_db_exec(db, sql, n, p, &res, err);
  if (rc < 0) return rc;
  if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
    rc = qf_error_set(err, QF_ENOENT, "no such run %s", n ? p[0] : "");
  } else if ((*out = cJSON_Parse(PQgetvalue(res, 0, 0))) == NULL) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  PQclear(res);
  return rc;
}

/* "30m", "2h", "7d", "90s" as a PostgreSQL interval; 0 when it is not
 * one. */
static int relative(const char *s, char *out, size_t n) {
  size_t i = 0;
  while (isdigit((unsigned char)s[i]))
    i++;
  if (i == 0 || i > 6 || s[i] == '\0' || s[i + 1] != '\0') return 0;
  const char *unit = s[i] == 's'   ? "seconds"
                     : s[i] == 'm' ? "minutes"
                     : s[i] == 'h' ? "hours"
                     : s[i] == 'd' ? "days"
                                   : NULL;
  if (unit == NULL) return 0;
  snprintf(out, n, "%.*s %s", (int)i, s, unit);
  return 1;
}

/* An ISO 8601 time, loosely: the characters one may hold. */
static int iso_time(const char *s) {
  size_t n = strlen(s);
  return n >= 10 && n <= 40 && isdigit((unsigned char)s[0]) &&
         strspn(s, "0123456789-:.TZ+ ") == n;
}

static int check_filter(const qf_runs_filter_t *f, char *ago, size_t n,
                        qf_error_t *err) {
  static const char *const ok[] = {"received", "running", "awaiting_approval",
                                   "decided"};
  int known = f->status == NULL;
  for (size_t i = 0; !known && i < sizeof ok / sizeof ok[0]; i++)
    known = strcmp(f->status, ok[i]) == 0;
  if (!known)
    return qf_error_set(err, QF_EINVAL,
                        "--status must be received, running, "
                        "awaiting_approval, decided or all, not '%s'",
                        f->status);
  ago[0] = '\0';
  if (f->since && !relative(f->since, ago, n) && !iso_time(f->since))
    return qf_error_set(err, QF_EINVAL,
                        "--since '%s' is neither a duration (30m, 2h, 7d) "
                        "nor an ISO 8601 time",
                        f->since);
  if (f->limit < 1 || f->limit > QF_RUNS_LIST_MAX)
    return qf_error_set(err, QF_EINVAL, "--limit must be from 1 to %d",
                        QF_RUNS_LIST_MAX);
  return QF_OK;
}

int qf_runs_list(qf_db_t *db, const qf_runs_filter_t *f, cJSON **out,
                 qf_error_t *err) {
  char ago[64], limit[16];
  int rc = check_filter(f, ago, sizeof ago, err);
  if (rc < 0) return rc;
  snprintf(limit, sizeof limit, "%d", f->limit);
  const char *p[] = {f->status, ago[0] ? ago : NULL, ago[0] ? NULL : f->since,
                     limit};
  return one_json(
      db,
      "SELECT coalesce(jsonb_agg(x.o ORDER BY x.updated_at DESC), '[]') FROM "
      "(SELECT jsonb_build_object(" RUN_FIELDS
      ") AS o, r.updated_at FROM runs r WHERE ($1::text IS NULL OR r.status "
      "= $1) AND ($2::interval IS NULL OR r.updated_at >= now() - "
      "$2::interval) AND ($3::timestamptz IS NULL OR r.updated_at >= "
      "$3::timestamptz) ORDER BY r.updated_at DESC LIMIT $4::integer) x",
      4, p, out, err);
}

int qf_runs_get(qf_db_t *db, const char *run_id, int with_evidence, cJSON **out,
                qf_error_t *err) {
  if (!qf_uuid_is_valid(run_id))
    return qf_error_set(err, QF_EINVAL, "'%s' is not a run id (a UUID)",
                        run_id);
  const char *p[] = {run_id, with_evidence ? "true" : "false"};
  return one_json(
      db,
      "SELECT jsonb_build_object(" RUN_FIELDS
      ", 'reason', r.reason, 'triggered_rules', r.triggered_rules, 'final', "
      "r.final, 'reply_to', r.reply_to, 'correlation_id', r.correlation_id, "
      "'evidence_path', r.evidence_path, 'policy_version', r.policy_version, "
      "'deliveries', r.deliveries, 'decided_at', r.decided_at, 'request', "
      "r.request, 'waiters', (SELECT coalesce(jsonb_agg(jsonb_build_object("
      "'reply_to', w.reply_to, 'added_at', w.added_at) ORDER BY w.added_at), "
      "'[]') FROM run_waiters w WHERE w.run_id = r.run_id), 'approvals', "
      "(SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id, 'status', "
      "a.status, 'stage', a.stage, 'decided_by', a.decided_by, 'created_at', "
      "a.created_at, 'expires_at', a.expires_at) ORDER BY a.created_at), "
      "'[]') FROM approvals a WHERE a.run_id = r.run_id), 'events', (SELECT "
      "coalesce(jsonb_agg(jsonb_build_object('at', e.at, 'event', e.event, "
      "'actor', e.actor, 'data', e.data) ORDER BY e.at, e.id), '[]') FROM "
      "run_events e WHERE e.run_id = r.run_id)) || CASE WHEN $2::boolean "
      "THEN jsonb_build_object('evidence', r.evidence) ELSE '{}'::jsonb END "
      "FROM runs r WHERE r.run_id = $1::uuid",
      2, p, out, err);
}
