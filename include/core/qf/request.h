/* request.h: the orchestration request message (DESIGN.md section 3):
 * parse, validate, normalize, and serialise back.
 *
 * Validation order (the FIRST problem is reported, always the same one for
 * the same body):
 *   1. body: size (at most QF_REQUEST_MAX_BODY_BYTES), then UTF-8 (checked
 *      on the raw bytes before any JSON parsing), then JSON syntax as cJSON
 *      parses it (nothing may follow the value), then a strict RFC 8259
 *      pass reporting the first offending byte: raw control characters,
 *      leading zeros, bare dots, a BOM, or a "\u0000" escape (a C string
 *      cannot carry U+0000); then the top level must be an object;
 *   2. the top-level keys in document order: unknown key, duplicate key,
 *      then the value's type and range; inside "options" the same, again
 *      in document order, and inside "options.args" duplicate keys and
 *      non-finite numbers anywhere in the tree (depth first, in order);
 *   3. "nl_input: missing" when no nl_input key was seen;
 *   4. the normalized request must serialise within the body limit.
 * A message is "<field>: <reason>", the field dotted ("options.timeout_s",
 * "options.args.x[2].y"); keys in messages have ASCII control characters
 * replaced by '?' and are cut at 64 bytes.
 *
 * Not thread-affine: a request is a plain value, free it from any thread.
 */
#ifndef QF_REQUEST_H
#define QF_REQUEST_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "qf/err.h"

#define QF_REQUEST_MAX_BODY_BYTES 65536 /* whole message body */
#define QF_REQUEST_MAX_NL_BYTES 8192
#define QF_REQUEST_MAX_TOOL_NAME_BYTES 64     /* [a-z0-9_] only */
#define QF_REQUEST_MAX_REQUESTED_BY_BYTES 256 /* a user or system name */
#define QF_REQUEST_MAX_WORKSPACE_BYTES 4096   /* PATH_MAX on Linux */
#define QF_REQUEST_MAX_REPO_BYTES 2048        /* a repository URL */
#define QF_REQUEST_MAX_TIMEOUT_S 3600         /* one hour */
#define QF_REQUEST_DEFAULT_TIMEOUT_S 120      /* pytest, and options */
#define QF_REQUEST_PLAYWRIGHT_TIMEOUT_S 300   /* heuristic browser runs */
#define QF_REQUEST_DEFAULT_TOOL "run_pytest"

typedef struct qf_request {
  char *nl_input;       /* 1..8192 bytes of valid UTF-8, no NUL */
  char *environment_id; /* canonical lowercase UUID, or NULL when absent/null */
  int has_options;      /* the request carried an options object (deterministic
                           mode); 0 means the heuristics chose the tool */
  char *tool_name;      /* after parse (normalized): always set */
  cJSON *args;   /* after parse: always a JSON object, owned by the request */
  int timeout_s; /* 1..3600 */
  int dry_run;   /* 0/1 */
  char *requested_by; /* NULL when absent or null */
  char *workspace;    /* NULL when absent or null; a relative path (inside
                         the checkout when source is set) */
  /* source (DESIGN 4a): the change under test, or all NULL. repo is set
   * with exactly one of commit (40 lowercase hex digits) and ref. */
  char *source_repo, *source_commit, *source_ref;
} qf_request_t;

/* Parses, validates and normalizes a request body. body[0..len) is borrowed
 * and need not be NUL-terminated. On success *out is owned by the caller
 * (qf_request_free); on failure *out is untouched.
 *
 * Normalization (reference 1.2, service pipeline B): when options is an
 * object, its tool_name (default "run_pytest"), args (default {}),
 * timeout_s (default 120) and dry_run (default false) win. Otherwise the
 * ASCII-lowercased nl_input is searched for the substrings "playwright",
 * "browser" or "e2e": a match gives run_playwright, {}, 300 s; anything else
 * gives run_pytest, {"test_path": "tests"}, 120 s; dry_run false.
 *
 * On failure err->message names the FIRST problem (order above) as
 * "<field>: <reason>", e.g. "nl_input: missing",
 * "options.timeout_s: must be an integer from 1 to 3600 (got 0)",
 * "color: unknown key", "body: invalid UTF-8 at byte 17",
 * "body: larger than 65536 bytes", "body: not valid JSON near byte 12".
 * Returns QF_EVALIDATE, QF_ETOOBIG (size), QF_EPARSE (JSON syntax, UTF-8),
 * QF_EINVAL (body NULL with len > 0, out NULL) or QF_ENOMEM. */
int qf_request_parse(const char *body, size_t len, qf_request_t **out,
                     qf_error_t *err) QF_MUSTCHECK;

/* Frees r and everything it owns. NULL allowed. */
void qf_request_free(qf_request_t *r);

/* Serialises the normalized request r (borrowed) as compact JSON text with
 * the keys nl_input, environment_id, options {tool_name, args, timeout_s,
 * dry_run}, requested_by, workspace, source ({repo, commit|ref}; null
 * where absent). Options are always
 * written out, so the text is deterministic: qf_request_parse accepts it
 * back with the same fields (has_options then becomes 1) and serialises it
 * to the same text. *out is malloc'd; the caller frees it with free().
 * Returns 0, QF_EINVAL (r incomplete, or a non-finite number in args),
 * QF_ETOOBIG (longer than QF_REQUEST_MAX_BODY_BYTES: never for a request
 * from qf_request_parse/new, which refuse those) or QF_ENOMEM. */
int qf_request_to_json(const qf_request_t *r, char **out,
                       qf_error_t *err) QF_MUSTCHECK;

/* Builds a request programmatically (for `qf run`/`qf submit` flags) and
 * validates it exactly like qf_request_parse (it builds the body and parses
 * it; messages name the same fields). nl_input, tool_name and args are
 * borrowed. With tool_name NULL, args NULL, timeout_s 0 and dry_run 0 the
 * heuristics choose (has_options 0). Otherwise an options object is built
 * from what is given; with tool_name NULL the heuristic choice for nl_input
 * fills tool_name and (when NULL/0) args and timeout_s, so `--timeout 30`
 * alone keeps the heuristic tool; with a tool_name, NULL args and 0
 * timeout_s take the options defaults ({} and 120). nl_input NULL
 * gives "nl_input: missing"; invalid UTF-8 in nl_input or tool_name is
 * reported with its offset in that string. *out as for qf_request_parse. */
int qf_request_new(const char *nl_input, const char *tool_name,
                   const cJSON *args, int timeout_s, int dry_run,
                   qf_request_t **out, qf_error_t *err) QF_MUSTCHECK;

#endif
