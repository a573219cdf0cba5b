/* qf: one program, many subcommands (DESIGN.md section 2). This file only
 * dispatches; each subcommand lives in worker/cmd_<name>.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qf/log.h"
#include "qf/version.h"

static const qf_cmd_t *const commands[] = {
    &qf_cmd_worker,  &qf_cmd_approver,  &qf_cmd_submit,   &qf_cmd_run,
    &qf_cmd_gate,    &qf_cmd_junit,     &qf_cmd_policy,   &qf_cmd_evals,
    &qf_cmd_migrate, &qf_cmd_approvals, &qf_cmd_approval, &qf_cmd_approve,
    &qf_cmd_reject,  &qf_cmd_runs,      &qf_cmd_dead,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *out) {
  fprintf(out,
          "usage: qf [--version] [--help] COMMAND [ARGS]\n\n"
          "QualityFoundry worker %s: runs tests on request and decides\n"
          "whether a change may ship.\n\ncommands:\n",
          QF_VERSION);
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(out,
          "\n`qf help COMMAND` or `qf COMMAND --help` describes one command.\n"
          "Exit codes: 0 success/PASS, 1 FAIL, 2 NEED_HITL, 3 broker or\n"
          "database unavailable, 64 usage error, 65 invalid input.\n");
}

static const qf_cmd_t *find_command(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i]->name, name) == 0) return commands[i];
  return NULL;
}

static int help(int argc, char **argv) {
  if (argc < 3) {
    print_usage(stdout);
    return QF_EXIT_PASS;
  }
  const qf_cmd_t *cmd = find_command(argv[2]);
  if (cmd == NULL) {
    fprintf(stderr, "qf help: unknown command '%s'\n\n", argv[2]);
    print_usage(stderr);
    return QF_EXIT_USAGE;
  }
  fputs(cmd->usage, stdout);
  return QF_EXIT_PASS;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return QF_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    printf("qf %s\n", QF_VERSION);
    return QF_EXIT_PASS;
  }
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    print_usage(stdout);
    return QF_EXIT_PASS;
  }
  if (strcmp(name, "help") == 0) return help(argc, argv);
  const qf_cmd_t *cmd = find_command(name);
  if (cmd == NULL) {
    fprintf(stderr, "qf: unknown command '%s'\n\n", name);
    print_usage(stderr);
    return QF_EXIT_USAGE;
  }
  if (qf_log_init_from_env() < 0) {
    fprintf(stderr,
            "qf: QF_LOG_LEVEL must be debug, info, warn, error or off\n");
    return QF_EXIT_USAGE;
  }
  if (qf_cli_wants_help(cmd, argc - 1, argv + 1)) return QF_EXIT_PASS;
  return cmd->run(argc - 1, argv + 1);
}
