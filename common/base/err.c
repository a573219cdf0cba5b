#include "qf/err.h"
#include "qf/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define QF__ERR_CASE_MSG(name, cls, msg) \
  case QF_##name:                        \
    return msg;
#define QF__ERR_CASE_NAME(name, cls, msg) \
  case QF_##name:                         \
    return #name;
#define QF__ERR_CASE_CLASS(name, cls, msg) \
  case QF_##name:                          \
    return QF_ERRC_##cls;

const char *qf_strerror(int code) {
  if (code == QF_OK) return "success";
  switch (code) {
    QF_ERR_MAP(QF__ERR_CASE_MSG)
    default:
      return "unknown error";
  }
}

const char *qf_err_name(int code) {
  if (code == QF_OK) return "OK";
  switch (code) {
    QF_ERR_MAP(QF__ERR_CASE_NAME)
    default:
      return "EUNKNOWN";
  }
}

qf_err_class_t qf_err_class(int code) {
  if (code == QF_OK) return QF_ERRC_OK;
  switch (code) {
    QF_ERR_MAP(QF__ERR_CASE_CLASS)
    default:
      return QF_ERRC_INTERNAL;
  }
}

int qf_err_retryable(int code) {
  return qf_err_class(code) == QF_ERRC_INFRA;
}

void qf_error_clear(qf_error_t *err) {
  if (err == NULL) return;
  err->code = QF_OK;
  err->message[0] = '\0';
  err->sqlstate[0] = '\0';
}

int qf_error_set(qf_error_t *err, int code, const char *fmt, ...) {
  if (err == NULL) return code;
  err->code = code;
  err->sqlstate[0] = '\0';
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  qf_utf8_trim_tail(err->message); /* a cut message stays UTF-8 */
  return code;
}

/* Appends src to dst (size cap) as far as it fits; returns the new length. */
static size_t append(char *dst, size_t len, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n > cap - 1 - len) n = cap - 1 - len;
  memcpy(dst + len, src, n);
  dst[len + n] = '\0';
  return len + n;
}

int qf_error_prefix(qf_error_t *err, const char *fmt, ...) {
  if (err == NULL) return QF_EINTERNAL;
  char msg[QF_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Truncation is acceptable: the message keeps its most useful start. */
  size_t len = strlen(msg);
  if (err->message[0] != '\0') {
    len = append(msg, len, sizeof msg, ": ");
    len = append(msg, len, sizeof msg, err->message);
  }
  memcpy(err->message, msg, len + 1);
  qf_utf8_trim_tail(err->message);
  return err->code;
}

int qf_err_from_errno(int errnum) {
  switch (errnum) {
    case 0:
      return QF_OK;
    case ENOMEM:
      return QF_ENOMEM;
    case ENOENT:
    case ENOTDIR:
      return QF_ENOENT;
    case EEXIST:
      return QF_EEXIST;
    case EACCES:
    case EPERM:
      return QF_EPERM;
    case ETIMEDOUT:
      return QF_ETIMEDOUT;
    case EINVAL:
      return QF_EINVAL;
    case EFBIG:
    case E2BIG:
      return QF_ETOOBIG;
    case EINTR:
    case EAGAIN:
      return QF_ERETRY;
    default:
      return QF_EIO;
  }
}
