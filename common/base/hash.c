#include "qf/hash.h"

#include "qf/fsutil.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static void to_hex(const unsigned char *md, unsigned n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (unsigned i = 0; i < n; i++) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 15];
  }
  out[2 * n] = '\0';
}

int qf_sha256_hex(const void *data, size_t n, char out[QF_SHA256_HEX_LEN + 1]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!EVP_Digest(data, n, md, &len, EVP_sha256(), NULL)) return QF_EINTERNAL;
  to_hex(md, len, out);
  return QF_OK;
}

int qf_sha256_file(const char *path, char out[QF_SHA256_HEX_LEN + 1],
                   unsigned long long *size_out, qf_error_t *err) {
  int rc = QF_OK;
  unsigned long long total = 0;
  unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_MD_CTX *ctx = NULL;
  /* Never blocks on a FIFO or device left where a file was expected. */
  qf_error_t local, *e = err ? err : &local;
  FILE *f = qf_fs_fopen_regular(path, ~0ULL, 0, e);
  if (f == NULL) {
    rc = e->code;
    goto out;
  }
  ctx = EVP_MD_CTX_new();
  if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
    rc = qf_error_set(err, QF_ENOMEM, "%s: cannot start digest", path);
    goto out;
  }
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    EVP_DigestUpdate(ctx, buf, n);
    total += n;
  }
  if (ferror(f)) {
    rc = qf_error_set(err, QF_EIO, "%s: read error", path);
    goto out;
  }
  EVP_DigestFinal_ex(ctx, md, &len);
  to_hex(md, len, out);
  if (size_out) *size_out = total;
out:
  EVP_MD_CTX_free(ctx);
  if (f) fclose(f);
  return rc;
}

int qf_hmac_sha256_hex(const void *key, size_t klen, const void *data, size_t n,
                       char out[QF_SHA256_HEX_LEN + 1]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key, (int)klen, data, n, md, &len) == NULL ||
      len != 32)
    return QF_EINTERNAL;
  to_hex(md, len, out);
  return QF_OK;
}
