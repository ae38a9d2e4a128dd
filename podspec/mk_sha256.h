/* mk_sha256.h - SHA-256 for content digests, identities and token comparison.
 *
 * One place for hashing so that the whole agent shares one implementation: OpenSSL's direct
 * SHA-256. Its EVP interface first initializes OpenSSL's provider machinery, which costs the
 * agent about 2 MB of resident memory on its own; the direct functions do not.
 */
#ifndef MK_SHA256_H
#define MK_SHA256_H

#include <openssl/sha.h>
#include <stddef.h>

#define MK_SHA256_LEN 32

typedef struct mk_sha256_ctx {
    SHA256_CTX ctx;
} mk_sha256_ctx;

void mk_sha256_init(mk_sha256_ctx *h);
void mk_sha256_update(mk_sha256_ctx *h, const void *data, size_t len);
void mk_sha256_final(mk_sha256_ctx *h, unsigned char out[MK_SHA256_LEN]);

/* One shot. */
void mk_sha256(const void *data, size_t len, unsigned char out[MK_SHA256_LEN]);
/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void mk_hex(const unsigned char *in, size_t n, char *out);

#endif
