#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "qf/utf8.h"

TestSuite(utf8, .timeout = 10);

struct utf8_case {
  const char *s;
  size_t n;
  int valid;
  size_t bad; /* offset of the first byte of the bad sequence */
};

#define C(lit, valid, bad) \
  { lit, sizeof lit - 1, valid, bad }

Test(utf8, table) {
  static const struct utf8_case cases[] = {
      C("", 1, 0),
      C("plain ascii", 1, 0),
      C("caf\xc3\xa9", 1, 0),
      C("\xe2\x82\xac euro", 1, 0),
      C("\xf0\x9f\x98\x80", 1, 0), /* U+1F600 */
      C("\xf4\x8f\xbf\xbf", 1, 0), /* U+10FFFF, the last */
      C("\xed\x9f\xbf", 1, 0),     /* U+D7FF, before surrogates */
      C("\xee\x80\x80", 1, 0),     /* U+E000, after them */
      C("a\0b", 1, 0),             /* NUL is a character */
      C("ab\x80", 0, 2),           /* lone continuation */
      C("\xbf", 0, 0),             /* lone continuation */
      C("x\xc0\xaf", 0, 1),        /* overlong '/' */
      C("\xc1\xbf", 0, 0),         /* overlong */
      C("xy\xe0\x80\xaf", 0, 2),   /* overlong 3-byte */
      C("\xf0\x80\x80\xaf", 0, 0), /* overlong 4-byte */
      C("abc\xed\xa0\x80", 0, 3),  /* surrogate U+D800 */
      C("\xed\xbf\xbf", 0, 0),     /* surrogate U+DFFF */
      C("\xf4\x90\x80\x80", 0, 0), /* U+110000 */
      C("\xf5\x80\x80\x80", 0, 0), /* lead F5 */
      C("\xff", 0, 0),
      C("ok\xc3", 0, 2),       /* truncated at the end */
      C("ok\xe2\x82", 0, 2),   /* truncated 3-byte */
      C("\xe2\x82x", 0, 0),    /* bad continuation */
      C("\xf0\x9f\x98", 0, 0), /* truncated 4-byte */
      C("\xc3\xa9\xc3", 0, 2),
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t bad = 9999;
    int rc = qf_utf8_validate(cases[i].s, cases[i].n, &bad);
    if (cases[i].valid) {
      cr_expect_eq(rc, 0, "case %zu should be valid", i);
    } else {
      cr_expect_eq(rc, QF_EPARSE, "case %zu should be invalid", i);
      cr_expect_eq(bad, cases[i].bad, "case %zu offset", i);
    }
  }
}

Test(utf8, respects_length_and_null) {
  /* The bad byte lies past n, so it is not looked at. */
  cr_expect_eq(qf_utf8_validate("ab\xff", 2, NULL), 0);
  cr_expect_eq(qf_utf8_validate("ab\xff", 3, NULL), QF_EPARSE);
  /* A sequence cut by n is truncated even if the byte after is fine. */
  cr_expect_eq(qf_utf8_validate("\xc3\xa9", 1, NULL), QF_EPARSE);
  cr_expect_eq(qf_utf8_validate(NULL, 0, NULL), 0);
  cr_expect_eq(qf_utf8_validate(NULL, 1, NULL), QF_EINVAL);
}

Test(utf8, every_code_point_encoded_by_hand_is_valid) {
  unsigned char buf[4];
  for (unsigned cp = 0; cp <= 0x10FFFF; cp += (cp < 0x3000 ? 1 : 97)) {
    size_t n;
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (cp < 0x80) {
      buf[0] = (unsigned char)cp, n = 1;
    } else if (cp < 0x800) {
      buf[0] = (unsigned char)(0xC0 | cp >> 6);
      buf[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
      buf[0] = (unsigned char)(0xE0 | cp >> 12);
      buf[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
      buf[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
      buf[0] = (unsigned char)(0xF0 | cp >> 18);
      buf[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
      buf[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
      buf[3] = (unsigned char)(0x80 | (cp & 0x3F)), n = 4;
    }
    cr_assert_eq(qf_utf8_validate((const char *)buf, n, NULL), 0, "U+%04X", cp);
  }
}

Test(utf8, controls_that_can_rewrite_a_screen_are_named) {
  cr_expect_eq(qf_utf8_control_len("\x1b[2A", 5), 1);
  cr_expect_eq(qf_utf8_control_len("\r", 1), 1);
  cr_expect_eq(qf_utf8_control_len("\x7f", 1), 1);
  cr_expect_eq(qf_utf8_control_len("\xc2\x85", 2), 2);     /* NEL */
  cr_expect_eq(qf_utf8_control_len("\xe2\x80\xae", 3), 3); /* RLO */
  cr_expect_eq(qf_utf8_control_len("\xe2\x81\xa6", 3), 3); /* LRI */
  cr_expect_eq(qf_utf8_control_len("a", 1), 0);
  cr_expect_eq(qf_utf8_control_len("\xc3\xa9", 2), 0);     /* e acute */
  cr_expect_eq(qf_utf8_control_len("\xe2\x80\x94", 3), 0); /* em dash */
}

Test(utf8, escape_shows_every_control_and_keeps_the_text) {
  char *e = qf_utf8_escape(
      "caf\xc3\xa9\nrequested by: alice\x1b[2K\t"
      "\xe2\x80\xaex\xc2\x9b\xff");
  cr_assert_not_null(e);
  cr_expect_str_eq(e,
                   "caf\xc3\xa9\\nrequested by: alice\\x1b[2K\\t"
                   "\\u202ex\\u009b\\xff");
  free(e);
  cr_expect_null(qf_utf8_escape(NULL));
}

Test(utf8, cuts_never_halve_a_character) {
  /* "é" is 2 bytes, "€" 3, "😀" 4. */
  const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  cr_expect_eq(qf_utf8_cut_len(s, 1), 1);
  cr_expect_eq(qf_utf8_cut_len(s, 2), 1, "inside the e acute");
  cr_expect_eq(qf_utf8_cut_len(s, 3), 3);
  cr_expect_eq(qf_utf8_cut_len(s, 5), 3, "inside the euro sign");
  cr_expect_eq(qf_utf8_cut_len(s, 9), 6, "inside the emoji");
  cr_expect_eq(qf_utf8_cut_len(s, 10), 10);
  cr_expect_eq(qf_utf8_cut_len(s, 99), 10);
  for (size_t n = 1; n <= 12; n++) {
    char buf[16];
    qf_utf8_snprintf(buf, n, "%s", s);
    cr_expect_eq(qf_utf8_validate(buf, strlen(buf), NULL), 0, "n=%zu", n);
    cr_expect_eq(strncmp(buf, s, strlen(buf)), 0);
  }
  char t[] = "ok\xe2\x82";
  qf_utf8_trim_tail(t);
  cr_expect_str_eq(t, "ok");
}
