/* cli.h: what the qf subcommands share: the command table, and small
 * helpers for configuration lookup and error reporting. */
#ifndef QF_CLI_H
#define QF_CLI_H

#include <signal.h>
#include <stddef.h>

#include "qf/err.h"
#include "qf/exitcode.h"
#include "qf/source.h"

/* A subcommand: argv[0] is the subcommand's name. Returns an exit code. */
typedef int (*qf_cmd_fn)(int argc, char **argv);

typedef struct qf_cmd {
  const char *name;
  qf_cmd_fn run;
  const char *summary; /* one line for `qf help` */
  const char *usage;   /* full text for `qf CMD --help` */
} qf_cmd_t;

/* The subcommands, each defined in worker/cmd_<name>.c. */
extern const qf_cmd_t qf_cmd_migrate;
extern const qf_cmd_t qf_cmd_policy;
extern const qf_cmd_t qf_cmd_junit;
extern const qf_cmd_t qf_cmd_gate;
extern const qf_cmd_t qf_cmd_evals;
extern const qf_cmd_t qf_cmd_run;
extern const qf_cmd_t qf_cmd_worker;
extern const qf_cmd_t qf_cmd_approver;
extern const qf_cmd_t qf_cmd_submit;
extern const qf_cmd_t qf_cmd_approvals;
extern const qf_cmd_t qf_cmd_approval;
extern const qf_cmd_t qf_cmd_approve;
extern const qf_cmd_t qf_cmd_reject;
extern const qf_cmd_t qf_cmd_runs;
extern const qf_cmd_t qf_cmd_dead;

/* Returns the value of the environment variable, or def when unset or
 * empty (borrowed). */
const char *qf_cli_env(const char *name, const char *def);

/* $QF_AMQP_URL, else the local broker's guest login (deploy/local). */
const char *qf_cli_amqp_url(void);

/* Reads QF_SOURCE_CACHE (default <artifacts_root>/.sources) and the fetch
 * credentials QF_GIT_SSH_KEY, QF_GIT_SSH_PUBKEY, QF_GIT_SSH_PASSPHRASE,
 * QF_GIT_USERNAME, QF_GIT_TOKEN or QF_GIT_TOKEN_FILE, QF_GIT_TIMEOUT_S
 * into s; the secrets are wiped from the environment and the process made
 * non-dumpable (source_env.c). -1 after a message on stderr. */
int qf_cli_source_env(qf_source_cfg_t *s, const char *artifacts_root);

/* The policy file to use: flag when given, else $QF_POLICY, else
 * ./policy/default.yaml when it exists, else the installed copy. */
const char *qf_cli_policy_path(const char *flag);

/* An integer setting from the environment within [min, max] (def when
 * unset); prints "qf CMD: NAME must be ..." and returns -1 when invalid. */
int qf_cli_env_int(const char *cmd, const char *name, int def, int min, int max,
                   int *out);

/* Counts SIGTERM/SIGINT (up to 2) for a long-running command and ignores
 * SIGPIPE (a dead socket is an error return, not death). Returns the
 * counter the command's loop watches. */
volatile sig_atomic_t *qf_cli_catch_signals(void);

/* Prints "qf CMD: message" on stderr and returns code. */
int qf_cli_fail(const char *cmd, int code, const char *fmt, ...)
    QF_PRINTF(3, 4);

/* Where a data file of qf (rel: "migrations", "policy/default.yaml") is:
 * the current directory's when it has one (the source tree); the source
 * tree this qf was built from when it runs from its build directory;
 * <exe>/../share/qf when installed (also after the prefix moved); else
 * the configured install prefix's. Static storage (a few at once). */
const char *qf_cli_data_path(const char *rel);

/* Prints s escaped (qf_utf8_escape), cut to width characters and padded
 * to them, then a space: one cell of an aligned table. NULL prints "-". */
void qf_cli_cell(const char *s, size_t width);

/* For the services: from now on qf_cli_fail and qf_cli_usage_error also
 * log their message as a JSON line ("startup.error") for program. */
void qf_cli_log_errors(const char *program);

/* Prints a usage error and the command's usage, and returns 64. */
int qf_cli_usage_error(const qf_cmd_t *cmd, const char *fmt, ...)
    QF_PRINTF(2, 3);

/* The exit code of a failed command, from the code's class (qf_err_class):
 * usage 64, invalid input 65, broker/database/timeout 3, refused or absent
 * 1, out of memory or a bug 70. Every command decides its exit code here. */
int qf_cli_exit_for(int qf_code);

/* The same for a command whose operand is a file or folder the user named
 * (a report, a policy, the migrations): that it is missing, unreadable or
 * refused (a changed migration) is invalid input, 65, not 1. */
int qf_cli_exit_for_file(int qf_code);

/* Handles "-h"/"--help" anywhere in argv: prints the usage on stdout and
 * returns 1 (the caller exits 0); returns 0 otherwise. */
int qf_cli_wants_help(const qf_cmd_t *cmd, int argc, char **argv);

#endif
