/* policy_match.c: the high-risk check (keywords as whole Unicode words,
 * then regex patterns) and the tool allowlist, with PCRE2. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <locale.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "policy_internal.h"
#include "qf/strbuf.h"

/* UTF + UCP: \w, \b, \s and \d follow Unicode properties (CJK ideographs
 * are letters); CASELESS stands in for the reference's lowercasing. */
#define RX_OPTS (PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS)

/* Cap on PCRE2's backtracking memory for one match (KiB). */
#define HEAP_LIMIT_KIB 20480

typedef struct compiled {
  pcre2_code *kw; /* all keywords as one alternation; NULL when none */
  pcre2_code **pat;
  size_t npat;
  pcre2_match_context *mctx; /* the match, depth and heap limits */
} compiled_t;

/* Decodes one UTF-8 sequence at s (n bytes left). Returns its length and
 * the code point in *cp, or 0 when the bytes are not valid UTF-8
 * (overlong forms, surrogates and values above U+10FFFF included). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
  size_t len;
  uint32_t c;
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if ((s[0] & 0xE0) == 0xC0) {
    len = 2, c = s[0] & 0x1F;
  } else if ((s[0] & 0xF0) == 0xE0) {
    len = 3, c = s[0] & 0x0F;
  } else if ((s[0] & 0xF8) == 0xF0) {
    len = 4, c = s[0] & 0x07;
  } else {
    return 0;
  }
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3F);
  }
  if (c < min_cp[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return len;
}

static int utf8_put(qf_strbuf_t *sb, uint32_t c) {
  char b[4];
  size_t n;
  if (c < 0x80) {
    b[0] = (char)c, n = 1;
  } else if (c < 0x800) {
    b[0] = (char)(0xC0 | (c >> 6)), b[1] = (char)(0x80 | (c & 0x3F)), n = 2;
  } else if (c < 0x10000) {
    b[0] = (char)(0xE0 | (c >> 12)), b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    b[2] = (char)(0x80 | (c & 0x3F)), n = 3;
  } else {
    b[0] = (char)(0xF0 | (c >> 18)), b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3F)), b[3] = (char)(0x80 | (c & 0x3F));
    n = 4;
  }
  return qf_strbuf_append(sb, b, n);
}

/* Copies s into sb, lowercasing each code point when lower is set and
 * replacing bytes that are not valid UTF-8 with U+FFFD. Lowercasing uses
 * glibc's built-in C.UTF-8 locale (the Unicode simple mapping) without
 * touching the process locale; without it, only ASCII is lowercased. */
static int utf8_copy(const char *s, int lower, qf_strbuf_t *sb) {
  locale_t loc =
      lower ? newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0) : (locale_t)0;
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s), i = 0;
  int rc = QF_OK;
  while (rc == QF_OK && i < n) {
    uint32_t c = 0xFFFD;
    size_t len = utf8_decode(u + i, n - i, &c);
    i += len ? len : 1;
    if (!len) c = 0xFFFD;
    if (lower && loc != (locale_t)0)
      c = (uint32_t)towlower_l((wint_t)c, loc);
    else if (lower && c >= 'A' && c <= 'Z')
      c += 'a' - 'A';
    rc = utf8_put(sb, c);
  }
  if (loc != (locale_t)0) freelocale(loc);
  return rc;
}

/* Compiles src; on failure writes "invalid regex at offset N: why" into
 * why (size n) unless why is NULL. */
static pcre2_code *compile(const char *src, uint32_t opts, char *why,
                           size_t n) {
  int ec = 0;
  PCRE2_SIZE off = 0;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, opts,
                                 &ec, &off, NULL);
  if (re == NULL && why != NULL) {
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
      snprintf((char *)msg, sizeof msg, "error %d", ec);
    snprintf(why, n, "invalid regex at offset %zu: %s", (size_t)off,
             (const char *)msg);
  }
  return re;
}

static int check_keyword(char **value, char *why, size_t n) {
  qf_strbuf_t sb;
  qf_strbuf_init(&sb);
  int rc = utf8_copy(*value, 1, &sb);
  pcre2_code *word = NULL;
  pcre2_match_data *md = NULL;
  if (rc < 0) goto out;
  rc = QF_ENOMEM;
  word = compile("\\A\\w+\\z", PCRE2_UTF | PCRE2_UCP, NULL, 0);
  md = word ? pcre2_match_data_create_from_pattern(word, NULL) : NULL;
  if (md == NULL) goto out;
  if (pcre2_match(word, (PCRE2_SPTR)sb.data, sb.len, 0, 0, md, NULL) < 0) {
    snprintf(why, n,
             "\"%s\" is not a single word (letters, digits, underscore) and "
             "could never match; use high_risk_patterns",
             *value);
    rc = QF_EVALIDATE;
    goto out;
  }
  free(*value);
  *value = qf_strbuf_detach(&sb);
  rc = *value ? QF_OK : QF_ENOMEM;
out:
  pcre2_match_data_free(md);
  pcre2_code_free(word);
  qf_strbuf_fini(&sb);
  return rc;
}

int qf__policy_check_item(qf__pitem_kind_t kind, char **value, char *why,
                          size_t n) {
  pcre2_code *re;
  switch (kind) {
    case QF__PI_KEYWORD:
      return check_keyword(value, why, n);
    case QF__PI_REGEX:
      re = compile(*value, RX_OPTS, why, n);
      if (re == NULL) return QF_EVALIDATE;
      pcre2_code_free(re);
      return QF_OK;
    case QF__PI_ENVNAME:
      return qf__policy_check_env_name(*value, why, n);
    case QF__PI_ANY:
      break;
  }
  return QF_OK;
}

void qf__policy_compiled_free(void *internal) {
  compiled_t *c = internal;
  if (c == NULL) return;
  pcre2_code_free(c->kw);
  for (size_t i = 0; i < c->npat; i++)
    pcre2_code_free(c->pat[i]);
  free(c->pat);
  pcre2_match_context_free(c->mctx);
  free(c);
}

/* (?<!\w)(?:(k1)|(k2)|...)(?!\w): one capture group per keyword tells
 * which one matched; keywords are \w+ (checked at load), so they need no
 * escaping. */
static int compile_keywords(const qf_strlist_t *kw, compiled_t *c) {
  qf_strbuf_t sb;
  int rc = QF_OK;
  if (kw->n == 0) return QF_OK;
  qf_strbuf_init(&sb);
  rc = qf_strbuf_puts(&sb, "(?<!\\w)(?:");
  for (size_t i = 0; rc == QF_OK && i < kw->n; i++)
    rc = qf_strbuf_printf(&sb, "%s(%s)", i ? "|" : "", kw->items[i]);
  if (rc == QF_OK) rc = qf_strbuf_puts(&sb, ")(?!\\w)");
  if (rc == QF_OK) {
    /* The keywords are \w+ (checked at load), so this always compiles; a
     * failure is internal and reported without PCRE2's reason. */
    c->kw = compile(sb.data, RX_OPTS, NULL, 0);
    if (c->kw == NULL) rc = QF_EINTERNAL;
  }
  qf_strbuf_fini(&sb);
  return rc;
}

int qf__policy_compile(qf_policy_t *p, qf_error_t *err) {
  compiled_t *c = calloc(1, sizeof *c);
  int rc = QF_ENOMEM;
  if (c == NULL) goto out;
  c->mctx = pcre2_match_context_create(NULL);
  if (c->mctx == NULL) goto out;
  pcre2_set_match_limit(c->mctx, QF_POLICY_MATCH_LIMIT);
  pcre2_set_depth_limit(c->mctx, QF_POLICY_DEPTH_LIMIT);
  pcre2_set_heap_limit(c->mctx, HEAP_LIMIT_KIB);
  rc = compile_keywords(&p->high_risk_keywords, c);
  if (rc < 0) goto out;
  if (p->high_risk_patterns.n > 0) {
    c->pat = calloc(p->high_risk_patterns.n, sizeof *c->pat);
    rc = QF_ENOMEM;
    if (c->pat == NULL) goto out;
  }
  for (; c->npat < p->high_risk_patterns.n; c->npat++) {
    /* Checked at load (qf__policy_check_item) with its reason; a failure
     * now is internal, reported without one. */
    c->pat[c->npat] =
        compile(p->high_risk_patterns.items[c->npat], RX_OPTS, NULL, 0);
    rc = QF_EINTERNAL;
    if (c->pat[c->npat] == NULL) goto out;
  }
  rc = QF_OK;
out:
  if (rc < 0) {
    qf__policy_compiled_free(c);
    return qf_error_set(err, rc, "%s: cannot compile the high-risk rules",
                        p->path);
  }
  p->internal = c;
  return QF_OK;
}

static void put_hit(char *out, size_t n, const char *prefix, const char *s) {
  if (out != NULL && n > 0) snprintf(out, n, "%s%s", prefix, s);
}

/* Searches the keyword alternation: 1 and the keyword's index in *which,
 * 0 for no keyword, -1 on a matching error. */
static int find_keyword(const compiled_t *c, const qf_strbuf_t *text,
                        size_t *which) {
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(c->kw, NULL);
  if (md == NULL) return -1;
  int rc = pcre2_match(c->kw, (PCRE2_SPTR)text->data, text->len, 0,
                       PCRE2_NO_UTF_CHECK, md, c->mctx);
  int found = rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
  if (rc > 1) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t pairs = pcre2_get_ovector_count(md);
    for (uint32_t g = 1; g < pairs && found != 1; g++) {
      if (ov[2 * g] == PCRE2_UNSET) continue;
      *which = g - 1;
      found = 1;
    }
  }
  pcre2_match_data_free(md);
  return found;
}

/* 1 when pattern i matches (or cannot be run to the end), else 0. */
static int pattern_hits(const compiled_t *c, size_t i,
                        const qf_strbuf_t *text) {
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(c->pat[i], NULL);
  if (md == NULL) return 1;
  int rc = pcre2_match(c->pat[i], (PCRE2_SPTR)text->data, text->len, 0,
                       PCRE2_NO_UTF_CHECK, md, c->mctx);
  pcre2_match_data_free(md);
  return rc != PCRE2_ERROR_NOMATCH;
}

int qf_policy_high_risk(const qf_policy_t *p, const char *nl_input, char *out,
                        size_t n) {
  const compiled_t *c = p ? p->internal : NULL;
  qf_strbuf_t text;
  size_t which = 0;
  int hit = 0, found;
  if (out != NULL && n > 0) out[0] = '\0';
  if (c == NULL || nl_input == NULL) return 0;
  qf_strbuf_init(&text);
  if (utf8_copy(nl_input, 0, &text) < 0) {
    put_hit(out, n, "", "match_error");
    hit = 1;
    goto out;
  }
  found = c->kw ? find_keyword(c, &text, &which) : 0;
  if (found != 0) {
    put_hit(out, n, "",
            found > 0 ? p->high_risk_keywords.items[which] : "match_error");
    hit = 1;
    goto out;
  }
  for (size_t i = 0; i < c->npat && !hit; i++) {
    hit = pattern_hits(c, i, &text);
    if (hit) put_hit(out, n, "pattern:", p->high_risk_patterns.items[i]);
  }
out:
  qf_strbuf_fini(&text);
  return hit;
}

int qf_policy_tool_allowed(const qf_policy_t *p, const char *tool_name) {
  if (p == NULL || tool_name == NULL) return 0;
  if (p->tools_allowlist.n == 0) return 1;
  for (size_t i = 0; i < p->tools_allowlist.n; i++)
    if (strcmp(p->tools_allowlist.items[i], tool_name) == 0) return 1;
  return 0;
}
