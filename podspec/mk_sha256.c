/* mk_sha256.c - see mk_sha256.h. */
#define OPENSSL_SUPPRESS_DEPRECATED /* the direct SHA-256 functions: see the header */
#include "mk_sha256.h"

void mk_sha256_init(mk_sha256_ctx *h)
{
    SHA256_Init(&h->ctx);
}

void mk_sha256_update(mk_sha256_ctx *h, const void *data, size_t len)
{
    if (len > 0)
        SHA256_Update(&h->ctx, data, len);
}

void mk_sha256_final(mk_sha256_ctx *h, unsigned char out[MK_SHA256_LEN])
{
    SHA256_Final(out, &h->ctx);
}

void mk_sha256(const void *data, size_t len, unsigned char out[MK_SHA256_LEN])
{
    mk_sha256_ctx h;
    mk_sha256_init(&h);
    mk_sha256_update(&h, data, len);
    mk_sha256_final(&h, out);
}

void mk_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}
