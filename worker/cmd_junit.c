/* PLACEHOLDER: replaced by the real implementation before issue 3 lands. */
#include "cli.h"

static int run(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return qf_cli_fail("junit", QF_EXIT_SOFTWARE, "not implemented yet");
}

const qf_cmd_t qf_cmd_junit = {
    .name = "junit",
    .run = run,
    .summary = "(not implemented yet)",
    .usage = "usage: qf junit (not implemented yet)\n"};
