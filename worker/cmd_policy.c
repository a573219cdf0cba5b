/* PLACEHOLDER: replaced by the real implementation before issue 3 lands. */
#include "cli.h"

static int run(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return qf_cli_fail("policy", QF_EXIT_SOFTWARE, "not implemented yet");
}

const qf_cmd_t qf_cmd_policy = {
    .name = "policy",
    .run = run,
    .summary = "(not implemented yet)",
    .usage = "usage: qf policy (not implemented yet)\n"};
