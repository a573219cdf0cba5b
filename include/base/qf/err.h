/* err.h: the one list of qf status codes, and the error object that carries
 * a message with them.
 *
 * Every fallible qf function returns int: 0 on success or a negative QF_E*
 * code. Detail goes into an optional qf_error_t supplied by the caller (NULL
 * is allowed everywhere). Library codes (errno, AMQP status, SQLSTATE) are
 * translated into these codes once, at the module that calls the library.
 */
#ifndef QF_ERR_H
#define QF_ERR_H

#include <stddef.h>

#define QF_MUSTCHECK __attribute__((warn_unused_result))
#define QF_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* X(name, message). Order is the ABI: append only. */
#define QF_ERR_MAP(X)                             \
  X(ENOMEM, "out of memory")                      \
  X(EINVAL, "invalid argument")                   \
  X(EUSAGE, "usage error")                        \
  X(EPARSE, "parse error")                        \
  X(EVALIDATE, "validation failed")               \
  X(ETOOBIG, "input too large")                   \
  X(EIO, "input/output error")                    \
  X(ENOENT, "not found")                          \
  X(EEXIST, "already exists")                     \
  X(ETIMEDOUT, "timed out")                       \
  X(EAMQP, "broker error")                        \
  X(EAMQPCONN, "broker connection lost")          \
  X(ENACK, "message not confirmed by the broker") \
  X(EDB, "database error")                        \
  X(EDBCONN, "database connection lost")          \
  X(ECONFLICT, "state already changed")           \
  X(ERETRY, "transient failure, try again")       \
  X(EPERM, "permission denied")                   \
  X(ECHILD, "child process failed")               \
  X(ECANCELED, "canceled")                        \
  X(EINTERNAL, "internal error")                  \
  X(ENOROUTE, "message returned: no queue bound for it")

typedef enum qf_err {
  QF_OK = 0,
#define QF__ERR_ENUM(name, msg) QF_##name,
  QF__ERR_FIRST = -1000,
  QF_ERR_MAP(QF__ERR_ENUM) QF__ERR_END
#undef QF__ERR_ENUM
} qf_err_t;

/* Room for a message that names the file, line and field at fault. */
#define QF_ERROR_MSG_MAX 512

typedef struct qf_error {
  int code;                       /* QF_OK or a negative QF_E* code */
  char message[QF_ERROR_MSG_MAX]; /* human text, always NUL-terminated */
  char sqlstate[6];               /* SQLSTATE of a database error, or "" */
} qf_error_t;

/* Returns a static description of code ("unknown error" for others). */
const char *qf_strerror(int code);

/* Returns the code's name without the QF_ prefix, e.g. "ETIMEDOUT". */
const char *qf_err_name(int code);

/* Clears err (NULL allowed). */
void qf_error_clear(qf_error_t *err);

/* Sets err->code and formats err->message; returns code so callers can
 * write `return qf_error_set(err, QF_EPARSE, "...")`. err may be NULL. */
int qf_error_set(qf_error_t *err, int code, const char *fmt, ...)
    QF_PRINTF(3, 4);

/* Prepends "prefix: " to an error's message (for adding the file or field
 * at a higher layer) and returns err->code. err may be NULL (returns
 * QF_EINTERNAL then, as there is no code to return). */
int qf_error_prefix(qf_error_t *err, const char *fmt, ...) QF_PRINTF(2, 3);

/* Translates an errno value into a QF code. */
int qf_err_from_errno(int errnum);

#endif
