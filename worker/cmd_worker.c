/* qf worker: the service. Configuration comes from flags, then the
 * environment, then defaults (DESIGN.md section 2). */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "qf/log.h"
#include "qf/worker.h"

static const char usage[] =
    "usage: qf worker [--prefix P] [--policy FILE]\n"
    "\n"
    "Consumes requests from RabbitMQ, runs each through the pipeline,\n"
    "persists it in PostgreSQL, publishes evidence and decision with\n"
    "publisher confirms, then acks. Reconnects to both with backoff; never\n"
    "exits on a broker or database outage. SIGTERM/SIGINT: stop consuming,\n"
    "let the current run finish within QF_SHUTDOWN_GRACE_S, exit 0; a second\n"
    "signal requeues the current request and exits at once.\n"
    "\n"
    "  --prefix P     topology names P.requests, P.orchestrations, ...\n"
    "                 (default $QF_TOPOLOGY_PREFIX, else qf)\n"
    "  --policy FILE  default $QF_POLICY, else policy/default.yaml\n"
    "\n"
    "Environment: QF_AMQP_URL, QF_DATABASE_URL (required), QF_POLICY,\n"
    "QF_ARTIFACTS_ROOT (./artifacts), QF_WORKSPACE_ROOT (.), QF_PREFETCH\n"
    "(1), QF_CONCURRENCY (1: tools run one at a time), QF_HEARTBEAT_S (15), "
    "QF_SHUTDOWN_GRACE_S (30), QF_DELIVERY_LIMIT\n"
    "(3), QF_PUBLISH_TIMEOUT_S (10), QF_MAX_BACKOFF_S (30),\n"
    "QF_LEASE_S (30), QF_STUCK_AFTER_S (3600), QF_SWEEP_INTERVAL_S (30),\n"
    "QF_CGROUP (auto: a cgroup per tool run below our own, where allowed;\n"
    "off; or a cgroup v2 directory),\n"
    "QF_EVIDENCE_BASE_URL, QF_TOPOLOGY_PREFIX, QF_LOG_LEVEL;\n"
    "sources: QF_SOURCE_CACHE ($QF_ARTIFACTS_ROOT/.sources), QF_GIT_TOKEN\n"
    "or QF_GIT_TOKEN_FILE, QF_GIT_USERNAME, QF_GIT_SSH_KEY, "
    "QF_GIT_SSH_PUBKEY,\n"
    "QF_GIT_SSH_PASSPHRASE, QF_GIT_TIMEOUT_S (600);\n"
    "operations: QF_METRICS_ADDR (host:port of /metrics, /healthz, /readyz;\n"
    "none by default), QF_HEALTH_STALL_S (60: /healthz fails after that long\n"
    "without a beat of the loop).\n"
    "\n"
    "Exit codes: 0 stopped by a signal, 64 usage or configuration, 65 the\n"
    "policy is invalid, 78 a login the database or the broker refused three\n"
    "times in a row (a wrong password, user, database or vhost).\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_worker = {
    .name = "worker",
    .run = run,
    .summary = "consume requests, run, persist, publish (the service)",
    .usage = usage,
};

static int read_env(qf_worker_cfg_t *c) {
  c->amqp_url = qf_cli_amqp_url();
  c->database_url = qf_cli_env("QF_DATABASE_URL", NULL);
  c->artifacts_root = qf_cli_env("QF_ARTIFACTS_ROOT", "artifacts");
  c->workspace_root = qf_cli_env("QF_WORKSPACE_ROOT", ".");
  c->evidence_base_url = qf_cli_env("QF_EVIDENCE_BASE_URL", NULL);
  c->cgroup = qf_cli_env("QF_CGROUP", "auto");
  c->metrics_addr = qf_cli_env("QF_METRICS_ADDR", NULL);
  c->wedge_file = qf_cli_env("QF_TEST_WEDGE_FILE", NULL);
  if (c->prefix == NULL) c->prefix = qf_cli_env("QF_TOPOLOGY_PREFIX", "qf");
  int publish_s = 10;
  if (qf_cli_env_int("worker", "QF_PREFETCH", 1, 1, 1000, &c->prefetch) < 0 ||
      qf_cli_env_int("worker", "QF_CONCURRENCY", 1, 1,
                     qf_worker_max_concurrency(), &c->concurrency) < 0 ||
      qf_cli_env_int("worker", "QF_HEARTBEAT_S", 15, 1, 600, &c->heartbeat_s) <
          0 ||
      qf_cli_env_int("worker", "QF_SHUTDOWN_GRACE_S", 30, 0, 86400,
                     &c->shutdown_grace_s) < 0 ||
      qf_cli_env_int("worker", "QF_DELIVERY_LIMIT", 3, 1, 1000,
                     &c->delivery_limit) < 0 ||
      qf_cli_env_int("worker", "QF_PUBLISH_TIMEOUT_S", 10, 1, 600, &publish_s) <
          0 ||
      qf_cli_env_int("worker", "QF_MAX_BACKOFF_S", 30, 1, 3600,
                     &c->max_backoff_s) < 0 ||
      qf_cli_env_int("worker", "QF_LEASE_S", 30, 3, 3600, &c->lease_s) < 0 ||
      qf_cli_env_int("worker", "QF_STUCK_AFTER_S", 3600, 1, 30 * 86400,
                     &c->stuck_after_s) < 0 ||
      qf_cli_env_int("worker", "QF_SWEEP_INTERVAL_S", 30, 1, 3600,
                     &c->sweep_interval_s) < 0 ||
      qf_cli_env_int("worker", "QF_HEALTH_STALL_S", 60, 1, 3600,
                     &c->health_stall_s) < 0)
    return -1;
  c->publish_timeout_ms = publish_s * 1000;
  return qf_cli_source_env(&c->source, c->artifacts_root);
}

static int parse(int argc, char **argv, qf_worker_cfg_t *c) {
  static const struct option opts[] = {
      {"prefix", 1, NULL, 'P'}, {"policy", 1, NULL, 'p'}, {NULL, 0, NULL, 0}};
  int opt;
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":P:p:", opts, NULL)) != -1) {
    if (opt == 'P') {
      c->prefix = optarg;
    } else if (opt == 'p') {
      c->policy_path = optarg;
    } else {
      return qf_cli_usage_error(&qf_cmd_worker, "%s %s", argv[optind - 1],
                                opt == ':' ? "needs a value" : "is unknown");
    }
  }
  if (optind < argc)
    return qf_cli_usage_error(&qf_cmd_worker, "unexpected argument '%s'",
                              argv[optind]);
  return 0;
}

static int run(int argc, char **argv) {
  qf_worker_cfg_t c = {0};
  char id[HOST_NAME_MAX + 32], host[HOST_NAME_MAX + 1] = "localhost";
  qf_cli_log_errors("qf-worker");
  int code = parse(argc, argv, &c);
  if (code != 0) return code;
  if (read_env(&c) < 0) return QF_EXIT_USAGE;
  if (c.database_url == NULL)
    return qf_cli_usage_error(&qf_cmd_worker, "QF_DATABASE_URL is not set");
  c.policy_path = qf_cli_policy_path(c.policy_path);
  gethostname(host, sizeof host - 1);
  snprintf(id, sizeof id, "%s:%ld", host, (long)getpid());
  c.worker_id = id;
  volatile sig_atomic_t *signals = qf_cli_catch_signals();
  qf_error_t err;
  int rc = qf_worker_run(&c, signals, &err);
  if (rc == QF_EINVAL) /* the prefix */
    return qf_cli_usage_error(&qf_cmd_worker, "%s", err.message);
  /* The policy, which the worker loads once, fail closed. */
  if (rc < 0)
    return qf_cli_fail("worker", qf_cli_exit_for_file(rc), "%s", err.message);
  return QF_EXIT_PASS;
}
