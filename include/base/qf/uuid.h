/* uuid.h: UUIDs as 36-character lowercase hyphenated strings (RFC 9562).
 *
 * Version 4 (random) ids come from getrandom(2); version 5 (name-based,
 * SHA-1) ids use OpenSSL's libcrypto EVP interface. Output buffers are
 * caller-owned and always receive 36 characters and a NUL on success. All
 * functions are thread-safe and never log.
 */
#ifndef QF_UUID_H
#define QF_UUID_H

#include <stddef.h>

#include "qf/err.h"

#define QF_UUID_STR_LEN 36 /* 8-4-4-4-12 hex digits, without the NUL */

/* The namespace of run ids: run_id = qf_uuid_v5(QF_UUID_NS_RUN, message_id).
 * A fixed random UUID: never change it, or redelivered messages would get
 * new run ids and run twice. */
#define QF_UUID_NS_RUN "082110d7-170d-4240-8acb-dcd0d5e17ce5"

/* Writes a random (version 4, RFC variant) UUID into out. Returns 0, or
 * QF_EIO (or another errno translation) when getrandom(2) fails. */
int qf_uuid_v4(char out[QF_UUID_STR_LEN + 1]) QF_MUSTCHECK;

/* Writes the name-based (version 5) UUID of name[0..name_len) in namespace
 * ns (a UUID string, any case) into out. name is borrowed and need not be
 * NUL-terminated; it may be NULL only when name_len is 0. Returns 0,
 * QF_EINVAL when ns is not a UUID or name is NULL with name_len > 0, or
 * QF_EINTERNAL when libcrypto fails. */
int qf_uuid_v5(const char *ns, const char *name, size_t name_len,
               char out[QF_UUID_STR_LEN + 1]) QF_MUSTCHECK;

/* Parses s (NUL-terminated, exactly 8-4-4-4-12 hex digits in upper or
 * lower case, nothing before or after) into 16 bytes. Returns 0, or
 * QF_EINVAL (s NULL or not in that form; bytes is then unspecified). */
int qf_uuid_parse(const char *s, unsigned char bytes[16]) QF_MUSTCHECK;

/* 1 when qf_uuid_parse would accept s, else 0 (also for NULL). */
int qf_uuid_is_valid(const char *s);

/* Formats 16 bytes as the lowercase hyphenated string. */
void qf_uuid_format(const unsigned char bytes[16],
                    char out[QF_UUID_STR_LEN + 1]);

#endif
