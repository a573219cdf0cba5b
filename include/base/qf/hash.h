/* hash.h: SHA-256 digests as lowercase hex (OpenSSL's libcrypto does the
 * hashing; it is the well-kept implementation every Debian machine has).
 * Used for migration checksums, policy hashes and artifact digests. */
#ifndef QF_HASH_H
#define QF_HASH_H

#include <stddef.h>

#include "qf/err.h"

#define QF_SHA256_HEX_LEN 64

/* Writes the digest of data[0..n) as 64 hex digits and a NUL into out. */
int qf_sha256_hex(const void *data, size_t n,
                  char out[QF_SHA256_HEX_LEN + 1]) QF_MUSTCHECK;

/* HMAC-SHA256 of data[0..n) under key (klen bytes), as 64 hex digits and
 * a NUL: how a webhook receiver checks who sent the body. */
int qf_hmac_sha256_hex(const void *key, size_t klen, const void *data, size_t n,
                       char out[QF_SHA256_HEX_LEN + 1]) QF_MUSTCHECK;

/* Digests a whole file in bounded memory; *size_out (if not NULL) gets its
 * length in bytes. Fails with QF_ENOENT/QF_EIO naming the path. */
int qf_sha256_file(const char *path, char out[QF_SHA256_HEX_LEN + 1],
                   unsigned long long *size_out, qf_error_t *err) QF_MUSTCHECK;

#endif
