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

/* X(name, class, message). Order is the ABI: append only. The class says
 * whose trouble a failure is, and so what every caller does about it (see
 * qf_err_class): retry, requeue, dead-letter, or which exit code. */
#define QF_ERR_MAP(X)                                              \
  X(ENOMEM, INTERNAL, "out of memory")                             \
  X(EINVAL, USAGE, "invalid argument")                             \
  X(EUSAGE, USAGE, "usage error")                                  \
  X(EPARSE, INPUT, "parse error")                                  \
  X(EVALIDATE, INPUT, "validation failed")                         \
  X(ETOOBIG, INPUT, "input too large")                             \
  X(EIO, REFUSED, "input/output error")                            \
  X(ENOENT, REFUSED, "not found")                                  \
  X(EEXIST, REFUSED, "already exists")                             \
  X(ETIMEDOUT, INFRA, "timed out")                                 \
  X(EAMQP, INFRA, "broker error")                                  \
  X(EAMQPCONN, INFRA, "broker connection lost")                    \
  X(ENACK, INFRA, "message not confirmed by the broker")           \
  X(EDB, INFRA, "database error")                                  \
  X(EDBCONN, INFRA, "database connection lost")                    \
  X(ECONFLICT, REFUSED, "state already changed")                   \
  X(ERETRY, INFRA, "transient failure, try again")                 \
  X(EPERM, REFUSED, "permission denied")                           \
  X(ECHILD, REFUSED, "child process failed")                       \
  X(ECANCELED, INFRA, "canceled")                                  \
  X(EINTERNAL, INTERNAL, "internal error")                         \
  X(ENOROUTE, REFUSED, "message returned: no queue bound for it")  \
  X(ESOURCE, INFRA, "the source could not be fetched")             \
  X(ENOSOURCE, REFUSED, "no such commit or ref in the repository") \
  X(EAUTH, CONFIG, "login refused: check the credentials")         \
  X(ESCHEMA, CONFIG, "the database schema is older than this qf")  \
  X(ENOLIB, CONFIG, "a library qf loads on first use is missing")

/* Whose trouble a failure is. */
typedef enum qf_err_class {
  QF_ERRC_OK = 0,   /* not a failure */
  QF_ERRC_USAGE,    /* the caller used us wrongly (flags, an argument):
                       exit 64 */
  QF_ERRC_INPUT,    /* the input is wrong (request, policy, report): never
                       retried; a message is dead-lettered; exit 65 */
  QF_ERRC_INFRA,    /* broker, database, a timeout or a stop: retried
                       later (reconnect, requeue); exit 3 */
  QF_ERRC_REFUSED,  /* refused or absent (permission, not found, state
                       already changed, a failed child): exit 1 */
  QF_ERRC_INTERNAL, /* ours: out of memory or a bug; requeued; exit 70 */
  QF_ERRC_CONFIG    /* the configuration is wrong (a password, a user, a
                       vhost or database that does not exist, a library
                       that cannot be loaded): retrying will not fix it;
                       exit 78 */
} qf_err_class_t;

typedef enum qf_err {
  QF_OK = 0,
#define QF__ERR_ENUM(name, cls, msg) QF_##name,
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

/* The class of code (QF_ERRC_OK for QF_OK, QF_ERRC_INTERNAL for a code
 * not in the list). The one place that says whose trouble a code is. */
qf_err_class_t qf_err_class(int code);

/* Whether retrying the same operation later may succeed (QF_ERRC_INFRA). */
int qf_err_retryable(int code);

/* Translates an errno value into a QF code. */
int qf_err_from_errno(int errnum);

#endif
