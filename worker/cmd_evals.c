/* PLACEHOLDER: replaced by the real implementation before issue 3 lands. */
#include "cli.h"

static int run(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return qf_cli_fail("evals", QF_EXIT_SOFTWARE, "not implemented yet");
}

const qf_cmd_t qf_cmd_evals = {
    .name = "evals",
    .run = run,
    .summary = "(not implemented yet)",
    .usage = "usage: qf evals (not implemented yet)\n"};
