#include <criterion/criterion.h>
#include <string.h>

#include "qf/uuid.h"

TestSuite(uuid, .timeout = 10);

struct v5_case {
  const char *ns, *name;
  size_t name_len;
  const char *want;
};

/* Expected values from Python: uuid.uuid5(namespace, name). */
Test(uuid, v5_matches_known_vectors) {
  static const struct v5_case cases[] = {
      {"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", 10,
       "886313e1-3b8a-5372-9b90-0c9aee199e5d"},
      {"6ba7b811-9dad-11d1-80b4-00c04fd430c8", "https://example.com/a", 21,
       "6639460f-3425-5329-8097-a58f06127860"},
      {"6ba7b812-9dad-11d1-80b4-00c04fd430c8", "", 0,
       "0a68eb57-c88a-5f34-9e9d-27f85e68af4f"},
      {"6ba7b812-9dad-11d1-80b4-00c04fd430c8", NULL, 0,
       "0a68eb57-c88a-5f34-9e9d-27f85e68af4f"},
      {QF_UUID_NS_RUN, "msg-1", 5, "fb336306-5fa9-58e6-8844-5b3f4ce98416"},
      {"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "caf\xc3\xa9", 5,
       "5e2e2331-a683-5e18-b56d-666e31574b41"},
      /* An embedded NUL counts: the length, not strlen, is used. */
      {"6ba7b814-9dad-11d1-80b4-00c04fd430c8", "a\0b", 3,
       "ecb68dec-0597-5fed-b8af-fbaa8cfef2f7"},
      /* The namespace may be written in upper case. */
      {"6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "python.org", 10,
       "886313e1-3b8a-5372-9b90-0c9aee199e5d"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[QF_UUID_STR_LEN + 1];
    cr_assert_eq(qf_uuid_v5(cases[i].ns, cases[i].name, cases[i].name_len, out),
                 0);
    cr_expect_str_eq(out, cases[i].want, "case %zu", i);
  }
}

Test(uuid, v5_is_deterministic_and_name_sensitive) {
  char a[QF_UUID_STR_LEN + 1], b[QF_UUID_STR_LEN + 1], c[QF_UUID_STR_LEN + 1];
  cr_assert_eq(qf_uuid_v5(QF_UUID_NS_RUN, "m-1", 3, a), 0);
  cr_assert_eq(qf_uuid_v5(QF_UUID_NS_RUN, "m-1", 3, b), 0);
  cr_assert_eq(qf_uuid_v5(QF_UUID_NS_RUN, "m-2", 3, c), 0);
  cr_expect_str_eq(a, b);
  cr_expect_str_neq(a, c);
  cr_expect_eq(a[14], '5', "version 5: %s", a);
}

Test(uuid, v5_rejects_bad_arguments) {
  char out[QF_UUID_STR_LEN + 1];
  cr_expect_eq(qf_uuid_v5("not-a-uuid", "x", 1, out), QF_EINVAL);
  cr_expect_eq(qf_uuid_v5(NULL, "x", 1, out), QF_EINVAL);
  cr_expect_eq(qf_uuid_v5(QF_UUID_NS_RUN, NULL, 1, out), QF_EINVAL);
}

Test(uuid, ns_run_is_a_fixed_valid_uuid) {
  cr_expect(qf_uuid_is_valid(QF_UUID_NS_RUN));
  cr_expect_str_eq(QF_UUID_NS_RUN, "082110d7-170d-4240-8acb-dcd0d5e17ce5",
                   "never change the run namespace");
}

static int is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

#define V4_COUNT 10000

static int cmp_str(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

Test(uuid, v4_has_version_variant_and_is_unique) {
  static char ids[V4_COUNT][QF_UUID_STR_LEN + 1];
  for (size_t i = 0; i < V4_COUNT; i++) {
    char *s = ids[i];
    cr_assert_eq(qf_uuid_v4(s), 0);
    cr_assert_eq(strlen(s), QF_UUID_STR_LEN);
    cr_assert(qf_uuid_is_valid(s), "%s", s);
    for (size_t k = 0; k < QF_UUID_STR_LEN; k++)
      if (s[k] != '-') cr_assert(is_lower_hex(s[k]), "lowercase: %s", s);
    cr_assert_eq(s[14], '4', "version: %s", s);
    cr_assert(strchr("89ab", s[19]) != NULL, "variant: %s", s);
  }
  qsort(ids, V4_COUNT, sizeof ids[0], cmp_str);
  for (size_t i = 1; i < V4_COUNT; i++)
    cr_assert_str_neq(ids[i - 1], ids[i], "duplicate v4");
}

Test(uuid, v4_random_bits_vary) {
  /* Every non-fixed hex position takes several values over 200 ids; a
   * generator stuck at zero, or formatting one byte twice, fails this. */
  char s[QF_UUID_STR_LEN + 1];
  unsigned seen[QF_UUID_STR_LEN] = {0};
  for (int i = 0; i < 200; i++) {
    cr_assert_eq(qf_uuid_v4(s), 0);
    for (size_t k = 0; k < QF_UUID_STR_LEN; k++)
      if (s[k] != '-')
        seen[k] |= 1u << (s[k] <= '9' ? s[k] - '0' : s[k] - 'a' + 10);
  }
  for (size_t k = 0; k < QF_UUID_STR_LEN; k++) {
    if (k == 8 || k == 13 || k == 18 || k == 23 || k == 14) continue;
    cr_expect_geq(__builtin_popcount(seen[k]), k == 19 ? 4 : 8, "position %zu",
                  k);
  }
}

Test(uuid, parse_accepts_only_8_4_4_4_12) {
  unsigned char b[16];
  cr_expect_eq(qf_uuid_parse("00112233-4455-6677-8899-aabbccddeeff", b), 0);
  for (int i = 0; i < 16; i++)
    cr_expect_eq(b[i], i * 0x11, "byte %d", i);
  cr_expect_eq(qf_uuid_parse("00112233-4455-6677-8899-AABBCCDDEEFF", b), 0);
  cr_expect_eq(b[15], 0xFF);
  static const char *bad[] = {
      NULL,
      "",
      "00112233-4455-6677-8899-aabbccddeef",   /* short */
      "00112233-4455-6677-8899-aabbccddeeff0", /* long */
      "00112233445566778899aabbccddeeff",      /* no hyphens */
      "{00112233-4455-6677-8899-aabbccddeeff}",
      "00112233-4455-6677-8899-aabbccddeefg",
      "0011223-34455-6677-8899-aabbccddeeff", /* hyphen moved */
      "00112233-4455-6677-8899_aabbccddeeff",
      " 00112233-4455-6677-8899-aabbccddeef",
      "urn:uuid:00112233-4455-6677-8899-aabbccddeeff",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_expect_eq(qf_uuid_parse(bad[i], b), QF_EINVAL, "%s", bad[i]);
    cr_expect_eq(qf_uuid_is_valid(bad[i]), 0, "%s", bad[i]);
  }
}

Test(uuid, format_round_trips_in_lowercase) {
  unsigned char b[16];
  char s[QF_UUID_STR_LEN + 1];
  cr_assert_eq(qf_uuid_parse("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", b), 0);
  qf_uuid_format(b, s);
  cr_expect_str_eq(s, "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
}
