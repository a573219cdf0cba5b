/* exitcode.h: the qf program's exit codes (DESIGN.md section 2). Only the
 * main program and its subcommand functions use them. */
#ifndef QF_EXITCODE_H
#define QF_EXITCODE_H

enum qf_exit {
  QF_EXIT_PASS = 0,      /* success; for decisions: PASS */
  QF_EXIT_FAIL = 1,      /* decision FAIL, or the command's action failed */
  QF_EXIT_HITL = 2,      /* decision NEED_HITL still pending */
  QF_EXIT_INFRA = 3,     /* broker, database or timeout */
  QF_EXIT_USAGE = 64,    /* bad command line (sysexits EX_USAGE) */
  QF_EXIT_DATAERR = 65,  /* invalid input data (sysexits EX_DATAERR) */
  QF_EXIT_SOFTWARE = 70, /* internal error (sysexits EX_SOFTWARE) */
  QF_EXIT_CONFIG = 78    /* wrong configuration: a login the database or
                            the broker refused (sysexits EX_CONFIG) */
};

#endif
