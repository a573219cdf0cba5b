#include "qf/uuid.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>

/* Value of a hex digit, or -1. */
static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int is_hyphen_pos(size_t i) {
  return i == 8 || i == 13 || i == 18 || i == 23;
}

int qf_uuid_parse(const char *s, unsigned char bytes[16]) {
  size_t i, b = 0;
  if (s == NULL) return QF_EINVAL;
  /* Stops at the first wrong character, so a short s is never overread. */
  for (i = 0; i < QF_UUID_STR_LEN; i++) {
    if (is_hyphen_pos(i)) {
      if (s[i] != '-') return QF_EINVAL;
      continue;
    }
    int hi = hexval(s[i]);
    if (hi < 0) return QF_EINVAL;
    int lo = hexval(s[++i]);
    if (lo < 0) return QF_EINVAL;
    bytes[b++] = (unsigned char)(hi << 4 | lo);
  }
  return s[QF_UUID_STR_LEN] == '\0' ? QF_OK : QF_EINVAL;
}

int qf_uuid_is_valid(const char *s) {
  unsigned char bytes[16];
  return qf_uuid_parse(s, bytes) == QF_OK;
}

void qf_uuid_format(const unsigned char bytes[16],
                    char out[QF_UUID_STR_LEN + 1]) {
  static const char digits[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t b = 0; b < 16; b++) {
    if (b == 4 || b == 6 || b == 8 || b == 10) out[o++] = '-';
    out[o++] = digits[bytes[b] >> 4];
    out[o++] = digits[bytes[b] & 15];
  }
  out[o] = '\0';
}

/* Sets the version nibble and the RFC 4122/9562 variant bits (10xx). */
static void stamp(unsigned char bytes[16], unsigned version) {
  bytes[6] = (unsigned char)((bytes[6] & 0x0F) | (version << 4));
  bytes[8] = (unsigned char)((bytes[8] & 0x3F) | 0x80);
}

int qf_uuid_v4(char out[QF_UUID_STR_LEN + 1]) {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return qf_err_from_errno(errno);
    }
    got += (size_t)n;
  }
  stamp(bytes, 4);
  qf_uuid_format(bytes, out);
  return QF_OK;
}

int qf_uuid_v5(const char *ns, const char *name, size_t name_len,
               char out[QF_UUID_STR_LEN + 1]) {
  unsigned char nsb[16], md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  int rc = QF_OK;
  EVP_MD_CTX *ctx = NULL;
  if (qf_uuid_parse(ns, nsb) < 0 || (name == NULL && name_len > 0))
    return QF_EINVAL;
  ctx = EVP_MD_CTX_new();
  if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
      !EVP_DigestUpdate(ctx, nsb, sizeof nsb) ||
      (name_len > 0 && !EVP_DigestUpdate(ctx, name, name_len)) ||
      !EVP_DigestFinal_ex(ctx, md, &md_len) || md_len < 16) {
    rc = QF_EINTERNAL;
    goto out;
  }
  stamp(md, 5);
  qf_uuid_format(md, out);
out:
  EVP_MD_CTX_free(ctx);
  return rc;
}
