/* qf approver: notify, expire, and re-publish resumes. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qf/approver.h"
#include "qf/log.h"

static const char usage[] =
    "usage: qf approver [--prefix P]\n"
    "\n"
    "The approver process. It consumes <prefix>.hitl and, for each NEED_HITL\n"
    "decision, logs it and, when QF_APPROVER_WEBHOOK is set, queues the\n"
    "webhook events in the outbox (approval.needed, approval.decided,\n"
    "approval.expired, run.decided): each body has a `text` line a chat\n"
    "webhook shows as it is, and is posted signed, each try bounded by\n"
    "QF_WEBHOOK_TIMEOUT_S, retried with a doubling delay for\n"
    "QF_WEBHOOK_TRIES tries before it is kept as failed. Every\n"
    "QF_APPROVER_SWEEP_S it expires pending approvals past their deadline\n"
    "(the run then ends FAIL, decided_by expiry) and publishes the resume of\n"
    "every decided approval whose resume was never published. Several\n"
    "approvers may run at once. Connect as a role in qf_approver.\n"
    "\n"
    "  --prefix P  topology prefix (default $QF_TOPOLOGY_PREFIX, else qf)\n"
    "\n"
    "Environment: QF_AMQP_URL, QF_DATABASE_URL (required),\n"
    "QF_APPROVER_WEBHOOK, QF_APPROVER_SWEEP_S (5), QF_WEBHOOK_TIMEOUT_S (5),\n"
    "QF_WEBHOOK_TRIES (8), QF_WEBHOOK_RETRY_S (5: doubling, at most 900),\n"
    "QF_WEBHOOK_SECRET (signs each body: X-QF-Signature-256), "
    "QF_WEBHOOK_EVENTS\n"
    "(approval.needed,approval.decided,approval.expired; run.decided too if\n"
    "named), QF_HEARTBEAT_S (15), QF_DELIVERY_LIMIT (3),\n"
    "QF_MAX_BACKOFF_S (30), QF_LOG_LEVEL, QF_METRICS_ADDR (host:port of\n"
    "/metrics, /healthz, /readyz; none by default), QF_HEALTH_STALL_S (60).\n"
    "\n"
    "Exit codes: 0 stopped by a signal, 64 usage or configuration, 78 a login\n"
    "the database or the broker refused three times in a row.\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_approver = {
    .name = "approver",
    .run = run,
    .summary = "notify humans, expire approvals, re-publish resumes",
    .usage = usage,
};

/* QF_WEBHOOK_EVENTS, or the default set. */
static int events(const char *list, int *out) {
  qf_error_t err;
  if (qf_webhook_events_parse(list, out, &err) >= 0) return 0;
  return qf_cli_fail("approver", QF_EXIT_USAGE, "QF_WEBHOOK_EVENTS: %s",
                     err.message);
}

static int configure(qf_approver_cfg_t *c) {
  int sweep_s, timeout_s, publish_s = 10;
  c->amqp_url = qf_cli_amqp_url();
  c->database_url = qf_cli_env("QF_DATABASE_URL", NULL);
  c->webhook_url = qf_cli_env("QF_APPROVER_WEBHOOK", NULL);
  c->metrics_addr = qf_cli_env("QF_METRICS_ADDR", NULL);
  c->webhook_secret = qf_cli_env("QF_WEBHOOK_SECRET", NULL);
  if (events(qf_cli_env("QF_WEBHOOK_EVENTS", NULL), &c->webhook_events) < 0)
    return -1;
  if (c->prefix == NULL) c->prefix = qf_cli_env("QF_TOPOLOGY_PREFIX", "qf");
  if (qf_cli_env_int("approver", "QF_APPROVER_SWEEP_S", 5, 1, 3600, &sweep_s) <
          0 ||
      qf_cli_env_int("approver", "QF_WEBHOOK_TIMEOUT_S", 5, 1, 120,
                     &timeout_s) < 0 ||
      qf_cli_env_int("approver", "QF_WEBHOOK_TRIES", 8, 1, 50,
                     &c->webhook_tries) < 0 ||
      qf_cli_env_int("approver", "QF_WEBHOOK_RETRY_S", 5, 1, 900,
                     &c->webhook_retry_s) < 0 ||
      qf_cli_env_int("approver", "QF_HEARTBEAT_S", 15, 1, 600,
                     &c->heartbeat_s) < 0 ||
      qf_cli_env_int("approver", "QF_DELIVERY_LIMIT", 3, 1, 1000,
                     &c->delivery_limit) < 0 ||
      qf_cli_env_int("approver", "QF_MAX_BACKOFF_S", 30, 1, 3600,
                     &c->max_backoff_s) < 0 ||
      qf_cli_env_int("approver", "QF_HEALTH_STALL_S", 60, 1, 3600,
                     &c->health_stall_s) < 0)
    return -1;
  c->sweep_ms = sweep_s * 1000;
  c->webhook_timeout_ms = timeout_s * 1000;
  c->publish_timeout_ms = publish_s * 1000;
  return 0;
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {{"prefix", 1, NULL, 'P'},
                                       {NULL, 0, NULL, 0}};
  qf_approver_cfg_t c = {0};
  int opt;
  qf_cli_log_errors("qf-approver");
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":P:", opts, NULL)) != -1) {
    if (opt != 'P')
      return qf_cli_usage_error(&qf_cmd_approver, "%s %s", argv[optind - 1],
                                opt == ':' ? "needs a value" : "is unknown");
    c.prefix = optarg;
  }
  if (optind < argc)
    return qf_cli_usage_error(&qf_cmd_approver, "unexpected argument '%s'",
                              argv[optind]);
  if (configure(&c) < 0) return QF_EXIT_USAGE;
  if (c.database_url == NULL)
    return qf_cli_usage_error(&qf_cmd_approver, "QF_DATABASE_URL is not set");
  volatile sig_atomic_t *signals = qf_cli_catch_signals();
  qf_error_t err;
  int rc = qf_approver_run(&c, signals, &err);
  if (rc == QF_EINVAL)
    return qf_cli_usage_error(&qf_cmd_approver, "%s", err.message);
  if (rc < 0)
    return qf_cli_fail("approver", qf_cli_exit_for(rc), "%s", err.message);
  return QF_EXIT_PASS;
}
