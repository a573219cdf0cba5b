#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "qf/err.h"

Test(err, every_code_has_a_distinct_name_and_message) {
#define NAME_CHECK(name, cls, msg)                 \
  cr_expect_str_eq(qf_err_name(QF_##name), #name); \
  cr_expect_str_eq(qf_strerror(QF_##name), msg);   \
  cr_expect_lt(QF_##name, 0, #name " must be negative");
  QF_ERR_MAP(NAME_CHECK)
#undef NAME_CHECK
  cr_expect_str_eq(qf_err_name(QF_OK), "OK");
  cr_expect_str_eq(qf_strerror(12345), "unknown error");
  cr_expect_str_eq(qf_err_name(-1), "EUNKNOWN");
}

Test(err, every_code_has_the_class_of_its_row) {
#define CLASS_CHECK(name, cls, msg) \
  cr_expect_eq(qf_err_class(QF_##name), QF_ERRC_##cls, #name " class");
  QF_ERR_MAP(CLASS_CHECK)
#undef CLASS_CHECK
  cr_expect_eq(qf_err_class(QF_OK), QF_ERRC_OK);
  cr_expect_eq(qf_err_class(-1), QF_ERRC_INTERNAL, "an unknown code is ours");
}

Test(err, the_classes_decide_what_callers_do) {
  /* The worker reconnects and requeues these, never dead-letters them. */
  int infra[] = {QF_EDB,   QF_EDBCONN, QF_EAMQP,     QF_EAMQPCONN,
                 QF_ENACK, QF_ERETRY,  QF_ETIMEDOUT, QF_ECANCELED};
  for (size_t i = 0; i < sizeof infra / sizeof infra[0]; i++)
    cr_expect(qf_err_retryable(infra[i]), "%s", qf_err_name(infra[i]));
  /* A bad request is dead-lettered, never retried. */
  int input[] = {QF_EPARSE, QF_EVALIDATE, QF_ETOOBIG};
  for (size_t i = 0; i < sizeof input / sizeof input[0]; i++) {
    cr_expect_eq(qf_err_class(input[i]), QF_ERRC_INPUT);
    cr_expect_not(qf_err_retryable(input[i]));
  }
  cr_expect_eq(qf_err_class(QF_EUSAGE), QF_ERRC_USAGE);
  cr_expect_eq(qf_err_class(QF_ECONFLICT), QF_ERRC_REFUSED);
  cr_expect_eq(qf_err_class(QF_ENOMEM), QF_ERRC_INTERNAL);
  cr_expect_not(qf_err_retryable(QF_OK));
}

Test(err, set_formats_and_returns_the_code) {
  qf_error_t e;
  qf_error_clear(&e);
  int rc = qf_error_set(&e, QF_EPARSE, "line %d: bad %s", 7, "key");
  cr_expect_eq(rc, QF_EPARSE);
  cr_expect_eq(e.code, QF_EPARSE);
  cr_expect_str_eq(e.message, "line 7: bad key");
}

Test(err, null_error_object_is_allowed) {
  cr_expect_eq(qf_error_set(NULL, QF_EIO, "x"), QF_EIO);
  cr_expect_eq(qf_error_prefix(NULL, "y"), QF_EINTERNAL);
  qf_error_clear(NULL);
}

Test(err, prefix_adds_context_and_truncates_safely) {
  qf_error_t e;
  qf_error_set(&e, QF_EVALIDATE, "must be a string");
  qf_error_prefix(&e, "%s:%d", "policy.yaml", 3);
  cr_expect_str_eq(e.message, "policy.yaml:3: must be a string");
  char big[2 * QF_ERROR_MSG_MAX];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  qf_error_prefix(&e, "%s", big);
  cr_expect_eq(strlen(e.message), QF_ERROR_MSG_MAX - 1);
}

Test(err, errno_translation) {
  cr_expect_eq(qf_err_from_errno(ENOENT), QF_ENOENT);
  cr_expect_eq(qf_err_from_errno(EACCES), QF_EPERM);
  cr_expect_eq(qf_err_from_errno(ENOMEM), QF_ENOMEM);
  cr_expect_eq(qf_err_from_errno(ETIMEDOUT), QF_ETIMEDOUT);
  cr_expect_eq(qf_err_from_errno(EBADF), QF_EIO);
  cr_expect_eq(qf_err_from_errno(0), QF_OK);
}
