/* policy.h: the YAML policy (DESIGN.md section 6): loading and validating
 * it, the high-risk check on the user's natural-language input, the tool
 * allowlist, and the policy's canonical JSON form and hash.
 *
 * Loading fails closed. A missing or unreadable file, a YAML syntax error,
 * a wrong type, a bad enum value, a number out of range, an unknown or
 * duplicate key at any level, a YAML anchor, alias or explicit tag, more
 * than one document, or an invalid regex is an error whose message names
 * the file, the 1-based line and the key path, e.g.
 *   policy/x.yaml:12: cost_governance.timeout_s: must be an integer
 *   between 1 and 3600 (got -5)
 * There is never a silent fallback to defaults for a broken file. The file
 * is read as a stream, so the FIRST problem in file order is reported (a
 * bad value on line 3 wins over a syntax error on line 9).
 *
 * Accepted keys (every other key is an error; ai_review.* and
 * sandbox.container.* of the reference are deliberately NOT accepted):
 *   version                                string          "1.0"
 *   high_risk_keywords                     list of words   []
 *   high_risk_patterns                     list of regexes []
 *   junit_pass_rule.max_failures           int 0..1000000  0
 *   junit_pass_rule.max_errors             int 0..1000000  0
 *   fallback_rule.require_all_tools_success bool           true
 *   cost_governance.timeout_s              int 1..3600     300
 *   cost_governance.max_retries            int 0..10       3
 *   sources.allow                          list of globs   [] (= fetch none)
 *   tools.allowlist                        list of names   [] (= allow all)
 *   tools.playwright.network               deny|allowlist|all  deny
 *   tools.playwright.allowlist             list of hosts   []
 *   sandbox.enabled                        bool            true
 *   sandbox.mode                           subprocess      subprocess
 *   sandbox.timeout_s                      int 1..3600     300
 *   sandbox.memory_limit_mb                int 64..1048576 512
 *   sandbox.allowed_paths                  list            tests/ test/
 * artifacts/ sandbox.env_whitelist                  list of globs   the
 * reference's 35 artifact_limits.max_count              int 1..100000   50
 *   artifact_limits.max_size_mb            int 1..102400   10
 *   hitl.stage                   after_execute|before_execute  after_execute
 *   hitl.expires_after_s                   int 1..31536000 86400
 *   hitl.approvers                         list of names   [] (= any approver)
 *   hitl.prevent_self_approval             bool            true
 *
 * Value syntax:
 *   - A section (junit_pass_rule, tools, ...) must be a mapping; a partial
 *     section keeps the defaults of the keys it does not name. A list given
 *     in the file replaces the default list (no merging). A key whose value
 *     is null (`key:` with nothing after it) is a type error.
 *   - An empty file, or one whose only document is null (`~`, `null`) or
 *     `{}`, gives ALL DEFAULTS: no high-risk keywords, no patterns and an
 *     empty tools.allowlist (allow all tools). Use policy/default.yaml for
 *     the shipped, protective policy.
 *   - Integers are plain (unquoted) base-10 scalars with an optional '-':
 *     "2.0", "1e3", "0x10", "010", "1_000", "+5" and quoted numbers are
 *     rejected, as is anything outside the key's range.
 *   - Booleans are plain scalars true/false/yes/no/on/off in any case (the
 *     YAML 1.1 words, minus y/n); quoted booleans are rejected.
 *   - Strings are any non-null scalar, taken verbatim whatever the quoting
 *     (`version: 1.0` is the string "1.0"). List items must be non-empty
 *     strings of at most QF_POLICY_MAX_ITEM_BYTES bytes; a list has at most
 *     QF_POLICY_MAX_ITEMS items.
 *   - Keywords must be single words (letters, digits, underscore, any
 *     script), since only whole words can match; they are lowercased at
 *     load (Unicode simple lowercase mapping).
 *   - Patterns are PCRE2 regexes (compatible with the Python `re` syntax of
 *     the reference for the usual constructs: \b, \s, \d, classes, groups,
 *     (?P<name>...)); an invalid one is an error with PCRE2's message and
 *     offset. sandbox.mode "container" is refused: not supported here.
 *
 * Thread safety: a loaded policy is immutable; every function taking a
 * const qf_policy_t * may run concurrently from several threads.
 */
#ifndef QF_POLICY_H
#define QF_POLICY_H

#include <stddef.h>

#include "qf/err.h"
#include "qf/hash.h"

/* Largest policy file qf_policy_load reads (and text qf_policy_parse
 * accepts): a policy is a few kilobytes; 1 MiB bounds memory. */
#define QF_POLICY_MAX_BYTES (1024 * 1024)
/* Most items in one list, and most bytes in one list item. */
#define QF_POLICY_MAX_ITEMS 1000
#define QF_POLICY_MAX_ITEM_BYTES 1024
/* PCRE2 match limit (backtracking steps) and depth limit for one pattern
 * on one input: a pathological pattern stops here instead of hanging. */
#define QF_POLICY_MATCH_LIMIT 1000000
#define QF_POLICY_DEPTH_LIMIT 10000

typedef enum qf_hitl_stage {
  QF_HITL_AFTER_EXECUTE = 0, /* run the tool, then park for approval */
  QF_HITL_BEFORE_EXECUTE = 1 /* park first; run the tool once approved */
} qf_hitl_stage_t;

/* A list of NUL-terminated UTF-8 strings; items and the array are owned by
 * the policy (freed by qf_policy_free). */
typedef struct qf_strlist {
  char **items;
  size_t n;
} qf_strlist_t;

/* A loaded policy. Every pointer inside is owned by the policy and valid
 * until qf_policy_free; callers treat the whole struct as read-only. */
typedef struct qf_policy {
  char *path;    /* file it came from, or the name given to qf_policy_parse */
  char *version; /* "1.0" by default */
  qf_strlist_t high_risk_keywords; /* LOWERCASED, file order */
  qf_strlist_t high_risk_patterns; /* regex sources, file order */
  int max_failures, max_errors;    /* junit_pass_rule, default 0, 0 */
  int require_all_tools_success;   /* fallback_rule, default 1 */
  int timeout_s, max_retries;      /* cost_governance, default 300, 3 */
  qf_strlist_t sources_allow;      /* repository URL globs; empty = none */
  qf_strlist_t tools_allowlist;    /* empty = allow all */
  struct {
    char *network; /* "deny" (default), "allowlist" or "all" */
    qf_strlist_t allowlist;
  } playwright; /* tools.playwright.* */
  struct {
    int enabled;         /* default 1 */
    char *mode;          /* always "subprocess" */
    int timeout_s;       /* default 300 */
    int memory_limit_mb; /* default 512 */
    qf_strlist_t allowed_paths, env_whitelist;
  } sandbox;
  struct {
    int max_count;   /* default 50 */
    int max_size_mb; /* default 10 */
  } artifact_limits;
  struct {
    qf_hitl_stage_t stage;     /* default QF_HITL_AFTER_EXECUTE */
    int expires_after_s;       /* default 86400 */
    qf_strlist_t approvers;    /* empty = any member of the approver role */
    int prevent_self_approval; /* default 1 */
  } hitl;
  char hash[QF_SHA256_HEX_LEN + 1]; /* sha256 hex of qf_policy_to_json */
  void *internal;                   /* compiled regexes; private */
  int refs; /* holders besides the first (qf_policy_ref); private */
} qf_policy_t;

/* Another holder of p (a policy is never changed once parsed, so runs
 * share the one in force): each holder calls qf_policy_free once. Not
 * thread-safe: holders share a thread. Returns p. */
qf_policy_t *qf_policy_ref(qf_policy_t *p);

/* Whether the policy lets a worker fetch the repository at url: some
 * sources.allow pattern matches the whole URL as a glob (fnmatch, '*'
 * also matching '/'). Fail closed: an empty list allows nothing. */
int qf_policy_source_allowed(const qf_policy_t *p, const char *url);

/* Reads and validates the policy file at path (borrowed). Files larger
 * than QF_POLICY_MAX_BYTES fail with QF_ETOOBIG. On success *out gets a
 * new policy the caller frees with qf_policy_free; on failure *out is left
 * unchanged. Returns 0, QF_ENOENT (missing), QF_EIO (unreadable, a
 * directory), QF_ETOOBIG, QF_EPARSE (YAML syntax), QF_EVALIDATE (content)
 * or QF_ENOMEM. err (may be NULL) gets "FILE:LINE: KEY: problem". */
int qf_policy_load(const char *path, qf_policy_t **out,
                   qf_error_t *err) QF_MUSTCHECK;

/* As qf_policy_load, on text[0..len) (borrowed; need not be
 * NUL-terminated). name (borrowed, may be NULL for "<policy>") is copied
 * into p->path and used in messages. */
int qf_policy_parse(const char *text, size_t len, const char *name,
                    qf_policy_t **out, qf_error_t *err) QF_MUSTCHECK;

/* Lets go of a policy: the last holder frees it and everything it owns.
 * NULL allowed. */
void qf_policy_free(qf_policy_t *p);

/* The gate's high-risk check (reference 2.3, with our fixes). Returns 1 and
 * writes the hit into out (size n, truncated, always NUL-terminated when
 * n > 0; out may be NULL when n is 0) when nl_input is high-risk, else 0.
 *
 * Keywords match whole words of the text, case-insensitively (PCRE2
 * caseless matching with Unicode properties, equivalent to lowercasing
 * both sides): a word is a maximal run of Unicode letters, digits and
 * underscore, so "pre-prod" contains "prod" but "prod_db" and "mainline"
 * do not contain "prod"/"main". When several keywords occur, the one that
 * occurs FIRST in the text is reported. The hit is the keyword as stored
 * (lowercased).
 *
 * Only when no keyword occurs, the patterns are searched in file order
 * (match anywhere, case-insensitive, Unicode \w \b \s \d); the first that
 * matches gives "pattern:<regex source>".
 *
 * Bytes of nl_input that are not valid UTF-8 are read as U+FFFD (a
 * non-word character), so the valid parts are still checked. A pattern
 * that hits the match or depth limit, or any other matching error, counts
 * as a hit of that pattern (fail closed: the gate asks a human). A failure
 * of the keyword search itself (only out of memory) reports "match_error".
 * nl_input NULL or p NULL gives 0. */
int qf_policy_high_risk(const qf_policy_t *p, const char *nl_input, char *out,
                        size_t n);

/* 1 when tools.allowlist is empty or lists tool_name exactly (case
 * sensitive), else 0 (also for NULL arguments). */
int qf_policy_tool_allowed(const qf_policy_t *p, const char *tool_name);

/* The normalised policy (every key, defaults filled in) as canonical JSON:
 * object keys sorted bytewise at every level, compact, UTF-8 (non-ASCII
 * passes through unescaped), integers in base 10, booleans true/false;
 * the nesting follows the YAML keys ("hitl": {"stage": "after_execute",
 * ...}). p->path and p->hash are not part of it. On success *out is a new
 * NUL-terminated string the caller frees with free(). p->hash is the
 * sha256 of exactly these bytes, so it is stable across key order,
 * comments, formatting and quoting in the YAML, and changes when any value
 * does. Returns 0, QF_EINVAL or QF_ENOMEM. */
int qf_policy_to_json(const qf_policy_t *p, char **out,
                      qf_error_t *err) QF_MUSTCHECK;

/* Whether the environment variable name is one no tool may ever get,
 * whatever sandbox.env_whitelist says: the worker's own settings (QF_*,
 * libpq's PG*) and names of credentials (*PASSWORD*, *TOKEN*, *SECRET*,
 * *_KEY, ...; case-insensitive). The runner strips them; a policy that
 * lists one is refused. */
int qf_policy_env_is_secret(const char *name);

#endif
