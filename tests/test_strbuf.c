#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "qf/strbuf.h"

Test(strbuf, starts_empty_and_grows) {
  qf_strbuf_t sb;
  qf_strbuf_init(&sb);
  cr_expect_str_eq(sb.data, "");
  for (int i = 0; i < 1000; i++)
    cr_assert_eq(qf_strbuf_puts(&sb, "ab"), 0);
  cr_expect_eq(sb.len, 2000);
  cr_expect_eq(strlen(sb.data), 2000);
  cr_expect_eq(qf_strbuf_printf(&sb, "%d-%s", 42, "x"), 0);
  cr_expect_str_eq(sb.data + 2000, "42-x");
  qf_strbuf_fini(&sb);
  cr_expect_eq(sb.len, 0);
  qf_strbuf_fini(&sb); /* idempotent */
}

Test(strbuf, cap_refuses_and_keeps_contents) {
  qf_strbuf_t sb;
  qf_strbuf_init(&sb);
  sb.max_len = 5;
  cr_assert_eq(qf_strbuf_puts(&sb, "abc"), 0);
  cr_expect_eq(qf_strbuf_puts(&sb, "def"), QF_ETOOBIG);
  cr_expect_str_eq(sb.data, "abc");
  cr_expect_eq(qf_strbuf_printf(&sb, "%s", "xyz"), QF_ETOOBIG);
  cr_expect_eq(qf_strbuf_puts(&sb, "de"), 0);
  cr_expect_str_eq(sb.data, "abcde");
  qf_strbuf_fini(&sb);
}

Test(strbuf, json_escape) {
  qf_strbuf_t sb;
  qf_strbuf_init(&sb);
  cr_assert_eq(qf_strbuf_json_escape(&sb, "a\"b\\c\nd\te\x01 \xe4\xb8\xad"), 0);
  cr_expect_str_eq(sb.data, "a\\\"b\\\\c\\nd\\te\\u0001 \xe4\xb8\xad");
  qf_strbuf_fini(&sb);
}

Test(strbuf, json_escape_is_all_or_nothing) {
  qf_strbuf_t sb;
  qf_strbuf_init(&sb);
  sb.max_len = 6;
  cr_assert_eq(qf_strbuf_puts(&sb, "ok"), 0);
  cr_expect_eq(qf_strbuf_json_escape(&sb, "\"\"\"\""), QF_ETOOBIG);
  cr_expect_str_eq(sb.data, "ok");
  qf_strbuf_fini(&sb);
}

Test(strbuf, detach_hands_over_storage) {
  qf_strbuf_t sb;
  qf_strbuf_init(&sb);
  char *empty = qf_strbuf_detach(&sb);
  cr_expect_str_eq(empty, "");
  free(empty);
  cr_assert_eq(qf_strbuf_puts(&sb, "hello"), 0);
  char *s = qf_strbuf_detach(&sb);
  cr_expect_str_eq(s, "hello");
  cr_expect_str_eq(sb.data, "");
  free(s);
}
