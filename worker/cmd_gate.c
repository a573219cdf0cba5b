/* PLACEHOLDER: replaced by the real implementation before issue 3 lands. */
#include "cli.h"

static int run(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return qf_cli_fail("gate", QF_EXIT_SOFTWARE, "not implemented yet");
}

const qf_cmd_t qf_cmd_gate = {
    .name = "gate",
    .run = run,
    .summary = "(not implemented yet)",
    .usage = "usage: qf gate (not implemented yet)\n"};
