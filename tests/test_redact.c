/* What a URL or connection string shows of itself in an error or a log
 * line: described from the library's own parser, never a password, and
 * nothing at all of what does not parse. Pure: no server. */
#include <criterion/criterion.h>
#include <string.h>

#include "qf/amqp.h"
#include "qf/approver.h"
#include "qf/db.h"

/* The shapes that leaked before: a '/' or a bad %-escape in the password,
 * an escaped blank in a keyword value, a password in the query. */
static const char *const db_cases[][3] = {
    {"postgresql://u:pa/ss@db.example/qf", "pa/ss", NULL},
    {"postgresql://u:pw%ZZ@db.example/qf", "pw%ZZ", NULL},
    {"postgresql://u:s3cr%40t@h:5432/qf?sslmode=disable", "s3cr%40t",
     "postgresql://u@h:5432/qf"},
    {"postgresql://u@h/qf?password=abc123&sslmode=require", "abc123",
     "postgresql://u@h/qf"},
    {"host=h password=a\\ b dbname=qf user=u", "a\\ b", "postgresql://u@h/qf"},
    {"host=h password='hunter two' user=u", "hunter two", "postgresql://u@h/"},
};

Test(redact, database_strings_show_no_password) {
  for (size_t i = 0; i < sizeof db_cases / sizeof db_cases[0]; i++) {
    char out[256];
    qf_db_describe(db_cases[i][0], out, sizeof out);
    cr_expect_null(strstr(out, db_cases[i][1]), "%s -> %s", db_cases[i][0],
                   out);
    if (db_cases[i][2])
      cr_expect_str_eq(out, db_cases[i][2], "%s", db_cases[i][0]);
    /* What libpq says about it passes through the scrubber too. */
    char msg[512];
    snprintf(msg, sizeof msg, "could not parse \"%s\": near %s", db_cases[i][0],
             db_cases[i][1]);
    qf_db_scrub(db_cases[i][0], msg, sizeof msg);
    cr_expect_null(strstr(msg, db_cases[i][1]), "%s -> %s", db_cases[i][0],
                   msg);
  }
  char out[64];
  qf_db_describe("host='unterminated", out, sizeof out);
  cr_expect_str_eq(out, "(a connection string that does not parse)");
}

Test(redact, amqp_urls_show_no_password) {
  char out[256];
  qf_amqp_describe_url("amqp://guest:pa/ss@127.0.0.1:5672/%2f", out,
                       sizeof out);
  cr_expect_null(strstr(out, "pa/ss"), "%s", out);
  cr_expect_null(strstr(out, "ss@"), "%s", out);
  qf_amqp_describe_url("amqps://qf:hunter2@mq.example:5671/prod", out,
                       sizeof out);
  cr_expect_str_eq(out, "amqps://qf@mq.example:5671/prod");
  qf_amqp_describe_url("amqp://guest:guest@localhost", out, sizeof out);
  cr_expect_str_eq(out, "amqp://guest@localhost:5672/%2f");
}

Test(redact, webhook_urls_show_scheme_and_host_only) {
  char out[256];
  qf_webhook_describe(
      "https://user:tok@hooks.example.com/services/T0/B0/"
      "s3cret?token=abc",
      out, sizeof out);
  cr_expect_str_eq(out, "https://hooks.example.com");
  qf_webhook_describe("not a url", out, sizeof out);
  cr_expect_str_eq(out, "(a webhook URL that does not parse)");
}
