/* qf approve / qf reject: decide one approval as the PostgreSQL session
 * user, then publish the resume message that restarts the run. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qf/approvals.h"
#include "qf/resume_msg.h"
#include "qf/worker.h"

#define USAGE_COMMON                                                         \
  "  --prefix P          publish the resume to P.requests (default\n"        \
  "                      $QF_TOPOLOGY_PREFIX, else qf)\n"                    \
  "  --database-url URL  libpq URI or conninfo (default $QF_DATABASE_URL)\n" \
  "\n"                                                                       \
  "Who decides is the PostgreSQL session user of the connection, and the\n"  \
  "database judges it by the rules stored with the approval when the run\n"  \
  "was parked (no policy file here can loosen them): it must be a member\n"  \
  "of qf_approver and not a superuser, be listed in the approval's\n"        \
  "hitl.approvers when it names any, and (hitl.prevent_self_approval)\n"     \
  "differ from the requester (compared case-insensitively). The decision\n"  \
  "is one compare-and-set update, recorded in run_events; then the resume\n" \
  "message goes to P.requests (routing key resume) with a publisher\n"       \
  "confirm. Environment: QF_DATABASE_URL, QF_AMQP_URL,\n"                    \
  "QF_TOPOLOGY_PREFIX, QF_PUBLISH_TIMEOUT_S (10).\n"                         \
  "\n"                                                                       \
  "Exit codes: 0 decided and resume published; 1 refused (no such\n"         \
  "approval, already decided, expired, not an approver, not in\n"            \
  "hitl.approvers, self-approval); 3 database unavailable, or the broker\n"  \
  "after the decision was committed (it stands; `qf approver` publishes\n"   \
  "the resume); 64 usage (ID is not a UUID"

static const char usage_approve[] =
    "usage: qf approve ID [--comment TEXT] [--prefix P]\n"
    "                  [--database-url URL]\n"
    "\n"
    "Approves a pending approval: the run resumes on any worker.\n"
    "\n"
    "  --comment TEXT      stored with the decision\n" USAGE_COMMON ").\n";

static const char usage_reject[] =
    "usage: qf reject ID --reason TEXT [--prefix P]\n"
    "                 [--database-url URL]\n"
    "\n"
    "Rejects a pending approval: the run ends FAIL on any worker.\n"
    "\n"
    "  --reason TEXT       why (required)\n" USAGE_COMMON ",\nno --reason).\n";

static int run_approve(int argc, char **argv);
static int run_reject(int argc, char **argv);

const qf_cmd_t qf_cmd_approve = {
    .name = "approve",
    .run = run_approve,
    .summary = "approve a pending approval (as the database user)",
    .usage = usage_approve,
};

const qf_cmd_t qf_cmd_reject = {
    .name = "reject",
    .run = run_reject,
    .summary = "reject a pending approval: reject ID --reason TEXT",
    .usage = usage_reject,
};

typedef struct decide_opts {
  const qf_cmd_t *cmd;
  int approve;
  const char *id, *text, *prefix, *db_url, *amqp_url;
  int publish_timeout_ms;
} decide_opts_t;

static int parse(int argc, char **argv, decide_opts_t *o) {
  static const struct option opts[] = {
      {"comment", 1, NULL, 'c'},      {"reason", 1, NULL, 'r'},
      {"policy", 1, NULL, 'p'},       {"prefix", 1, NULL, 'P'},
      {"database-url", 1, NULL, 'u'}, {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":c:r:p:P:u:", opts, NULL)) != -1) {
    if ((c == 'c' && o->approve) || (c == 'r' && !o->approve))
      o->text = optarg;
    else if (c == 'c' || c == 'r')
      return qf_cli_usage_error(o->cmd, "%s",
                                c == 'c' ? "--comment is for qf "
                                           "approve; a rejection "
                                           "takes --reason TEXT"
                                         : "--reason is for qf "
                                           "reject; an approval "
                                           "takes --comment TEXT");
    else if (c == 'p')
      return qf_cli_usage_error(o->cmd, "%s",
                                "--policy is gone: the approval's rules "
                                "were stored with it when the run was "
                                "parked, and the database enforces them");
    else if (c == 'P')
      o->prefix = optarg;
    else if (c == 'u')
      o->db_url = optarg;
    else
      return qf_cli_usage_error(o->cmd, "%s %s", argv[optind - 1],
                                c == ':' ? "needs a value" : "is unknown");
  }
  if (argc - optind != 1)
    return qf_cli_usage_error(o->cmd, argc == optind
                                          ? "which approval? give its ID"
                                          : "only one ID, please");
  o->id = argv[optind];
  if (!qf_uuid_is_valid(o->id))
    return qf_cli_usage_error(o->cmd, "'%s' is not an approval id (a UUID)",
                              o->id);
  if (!o->approve && (o->text == NULL || o->text[0] == '\0'))
    return qf_cli_usage_error(o->cmd, "a rejection needs --reason TEXT");
  if (o->db_url == NULL)
    return qf_cli_usage_error(o->cmd,
                              "no database: set QF_DATABASE_URL or pass "
                              "--database-url");
  return 0;
}

static int read_env(decide_opts_t *o) {
  o->db_url = qf_cli_env("QF_DATABASE_URL", NULL);
  o->amqp_url = qf_cli_amqp_url();
  o->prefix = qf_cli_env("QF_TOPOLOGY_PREFIX", "qf");
  const char *t = qf_cli_env("QF_PUBLISH_TIMEOUT_S", "10");
  char *end;
  long s = strtol(t, &end, 10);
  if (*end != '\0' || s < 1 || s > 600)
    return qf_cli_fail(o->cmd->name, QF_EXIT_USAGE,
                       "QF_PUBLISH_TIMEOUT_S must be an integer from 1 to "
                       "600");
  o->publish_timeout_ms = (int)s * 1000;
  return 0;
}

/* Exit code and message of a decision that did not happen. */
static int refused(const decide_opts_t *o, int rc, const qf_error_t *err) {
  return qf_cli_fail(o->cmd->name, qf_cli_exit_for(rc), "%s", err->message);
}

/* Publishes the resume with a confirm and marks it published. The
 * decision is committed already: any failure here leaves it for the
 * approver process's sweep (qf_approvals_claim_unpublished). */
static int resume(const decide_opts_t *o, qf_db_t *db, const qf_approval_t *a) {
  qf_topology_t topo;
  qf_error_t err;
  qf_amqp_t *pub = NULL;
  qf_amqp_opts_t ao = {.url = o->amqp_url,
                       .connection_name = "qf-approve",
                       .connect_timeout_s = 5,
                       .confirm = 1};
  int rc = qf_topology_init(&topo, o->prefix);
  if (rc < 0) qf_error_set(&err, rc, "invalid --prefix '%s'", o->prefix);
  if (rc == QF_OK) rc = qf_amqp_connect(&ao, &pub, &err);
  if (rc == QF_OK)
    rc = qf_resume_msg_publish(pub, topo.requests, a, o->publish_timeout_ms,
                               &err);
  qf_amqp_free(pub);
  if (rc < 0)
    return qf_cli_fail(o->cmd->name, QF_EXIT_INFRA,
                       "the decision stands (%s by %s at %s), but the resume "
                       "message was not published: %s; `qf approver` will "
                       "publish it",
                       a->status, a->decided_by, a->decided_at, err.message);
  int marked = 0;
  if (qf_approvals_mark_published(db, a->id, &marked, &err) < 0)
    fprintf(stderr,
            "qf %s: warning: resume published, but not recorded (%s); "
            "`qf approver` may publish it again, which is harmless\n",
            o->cmd->name, err.message);
  return 0;
}

static int decide(int argc, char **argv, const qf_cmd_t *cmd, int approve) {
  decide_opts_t o = {.cmd = cmd, .approve = approve};
  int code = read_env(&o);
  if (code == 0) code = parse(argc, argv, &o);
  if (code != 0) return code;
  signal(SIGPIPE, SIG_IGN); /* a dead socket is an error return, not death */
  qf_db_t *db = NULL;
  qf_approval_t a = {0};
  qf_error_t err;
  if (qf_db_connect(o.db_url, "qf-approve", &db, &err) < 0) {
    code = qf_cli_fail(cmd->name, QF_EXIT_INFRA, "%s", err.message);
    goto out;
  }
  /* Bounded: a session holding the row lock cannot hang a human. */
  int rc = qf_db_exec(db, "SET statement_timeout = '30s'", 0, NULL, NULL, &err);
  if (rc == QF_OK)
    rc = qf_approvals_decide(db, o.id, approve, o.text, &a, &err);
  if (rc < 0) {
    code = refused(&o, rc, &err);
    goto out;
  }
  printf("approval %s %s by %s at %s (run %s)\n", a.id, a.status, a.decided_by,
         a.decided_at, a.run_id);
  fflush(stdout);
  code = resume(&o, db, &a);
  if (code == 0) printf("resume published to %s.requests\n", o.prefix);
out:
  qf_approval_fini(&a);
  qf_db_free(db);
  return code;
}

static int run_approve(int argc, char **argv) {
  return decide(argc, argv, &qf_cmd_approve, 1);
}

static int run_reject(int argc, char **argv) {
  return decide(argc, argv, &qf_cmd_reject, 0);
}
