/* api_tls.c - TLS for the TCP listener with OpenSSL, driven through memory BIOs so that the
 * loop never blocks: api_conn.c feeds the ciphertext it reads and sends the ciphertext this
 * file produces.
 *
 * libssl is opened with dlopen() when a certificate is configured, and only then: an agent
 * without TLS neither maps it (about 250 KB resident) nor initializes it (about 2 MB). The
 * memory BIOs, errors and certificates are libcrypto's, which the agent links anyway. */
#include "api_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TLS 1.2 suites: forward secret AEAD only. TLS 1.3 keeps OpenSSL's defaults (all AEAD). */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

static const unsigned char alpn_http11[] = "\x08http/1.1";

#define LIBSSL_SONAME "libssl.so." OPENSSL_MSTR(OPENSSL_SHLIB_VERSION)

/* The libssl functions used here, called through pointers looked up at run time. */
#define SSL_FUNCS(X)                                                                               \
    X(TLS_server_method)                                                                           \
    X(SSL_CTX_new)                                                                                 \
    X(SSL_CTX_free)                                                                                \
    X(SSL_CTX_ctrl)                                                                                \
    X(SSL_CTX_set_options)                                                                         \
    X(SSL_CTX_set_cipher_list)                                                                     \
    X(SSL_CTX_set_alpn_select_cb)                                                                  \
    X(SSL_CTX_use_certificate)                                                                     \
    X(SSL_CTX_use_PrivateKey)                                                                      \
    X(SSL_CTX_check_private_key)                                                                   \
    X(SSL_CTX_get0_certificate)                                                                    \
    X(SSL_select_next_proto)                                                                       \
    X(SSL_new)                                                                                     \
    X(SSL_free)                                                                                    \
    X(SSL_set_bio)                                                                                 \
    X(SSL_set_accept_state)                                                                        \
    X(SSL_read)                                                                                    \
    X(SSL_write)                                                                                   \
    X(SSL_get_error)                                                                               \
    X(SSL_is_init_finished)                                                                        \
    X(SSL_shutdown)

typedef struct ssl_lib {
    void *handle;
#define SSL_FUNC_PTR(f) __typeof__(f) *f;
    SSL_FUNCS(SSL_FUNC_PTR)
#undef SSL_FUNC_PTR
} ssl_lib;

struct api_tls_ctx {
    ssl_lib lib;
    SSL_CTX *ctx;
};

struct api_tls {
    const ssl_lib *lib;
    SSL *ssl;
    BIO *in;  /* ciphertext from the client, read by OpenSSL */
    BIO *out; /* ciphertext for the client, written by OpenSSL */
    bool failed;
};

static int ssl_lib_open(ssl_lib *l, mk_err *err)
{
    l->handle = dlopen(LIBSSL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!l->handle)
        return mk_errf(err, ENOENT, "TLS: cannot load %s (%s); install Debian's libssl3",
                       LIBSSL_SONAME, dlerror());
#define SSL_FUNC_LOAD(f)                                                                           \
    if (!(*(void **)&l->f = dlsym(l->handle, #f)))                                                 \
        return mk_errf(err, ENOENT, "TLS: %s has no %s", LIBSSL_SONAME, #f);
    SSL_FUNCS(SSL_FUNC_LOAD)
#undef SSL_FUNC_LOAD
    return 0;
}

static void ssl_lib_close(ssl_lib *l)
{
    if (l->handle)
        dlclose(l->handle);
    l->handle = NULL;
}

/* The reason of the oldest queued OpenSSL error, and the queue cleared. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_error();
    if (e == 0) {
        snprintf(buf, len, "unknown error");
    } else {
        const char *r = ERR_reason_error_string(e);
        if (r)
            snprintf(buf, len, "%s", r);
        else
            ERR_error_string_n(e, buf, len);
    }
    ERR_clear_error();
    return buf;
}

#define TLS_FILE_MAX (1024 * 1024)

/* Read a certificate or key file whole (no FIFO or device can hang the start). */
static BIO *read_pem(const char *flag, const char *path, mk_err *err)
{
    char *data = NULL;
    size_t len = 0;
    int r = mk_read_file(path, TLS_FILE_MAX, &data, &len, err);
    if (r == -ENOENT)
        mk_errf(err, ENOENT, "%s %s: no such file", flag, path);
    else if (r < 0)
        mk_err_wrap(err, "%s", flag);
    if (r < 0)
        return NULL;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b || BIO_write(b, data, (int)len) != (int)len) {
        BIO_free(b);
        b = NULL;
        mk_errf(err, ENOMEM, "%s %s: out of memory", flag, path);
    }
    OPENSSL_cleanse(data, len); /* a private key, maybe */
    free(data);
    ERR_clear_error();
    return b;
}

/* RFC 7301: offer http/1.1 or end the handshake with no_application_protocol. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    const ssl_lib *l = arg;
    unsigned char *sel = NULL;
    if (l->SSL_select_next_proto(&sel, outlen, alpn_http11, sizeof(alpn_http11) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* An encrypted key would make OpenSSL prompt on the terminal: refuse it instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)arg;
    return 0;
}

static int configure(const ssl_lib *l, SSL_CTX *ctx, mk_err *err)
{
    char why[256];
    /* SSL_CTX_set_min_proto_version, _set_mode and _set_session_cache_mode are macros over
     * SSL_CTX_ctrl. */
    if (!l->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL) ||
        !l->SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS))
        return mk_errf(err, EINVAL, "TLS setup: %s", ssl_reason(why, sizeof(why)));
    /* NO_RENEGOTIATION refuses renegotiation both ways (TLS 1.2; 1.3 has none). */
    l->SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
                                    SSL_OP_NO_RENEGOTIATION);
    /* Idle connections give their record buffers back. */
    l->SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, SSL_MODE_RELEASE_BUFFERS, NULL);
    /* Resumption through stateless tickets only: no per-session memory on the server. */
    l->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF, NULL);
    l->SSL_CTX_set_alpn_select_cb(ctx, select_alpn, (void *)l);
    return 0;
}

static void warn_if_expired(const ssl_lib *l, SSL_CTX *ctx, const char *cert_file)
{
    X509 *x = l->SSL_CTX_get0_certificate(ctx);
    if (x && X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        mk_warn("api: --tls-cert-file %s: the certificate has expired; clients will refuse it",
                cert_file);
    if (x && X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
        mk_warn("api: --tls-cert-file %s: the certificate is not valid yet (check the clock)",
                cert_file);
}

/* The server certificate, then the chain after it (other PEM blocks, such as the key of a
 * combined file, are skipped). */
static int load_chain(const ssl_lib *l, SSL_CTX *ctx, const char *path, mk_err *err)
{
    char why[256];
    BIO *b = read_pem("--tls-cert-file", path, err);
    if (!b)
        return -err->code;
    int r = 0;
    X509 *x = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL);
    if (!x || l->SSL_CTX_use_certificate(ctx, x) != 1)
        r = mk_errf(err, EINVAL, "--tls-cert-file %s: not a PEM certificate chain (%s)", path,
                    ssl_reason(why, sizeof(why)));
    X509_free(x);
    while (r == 0 && (x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL))) {
        /* SSL_CTX_add0_chain_cert is a macro over SSL_CTX_ctrl; the context takes x. */
        if (!l->SSL_CTX_ctrl(ctx, SSL_CTRL_CHAIN_CERT, 0, x)) {
            X509_free(x);
            r = mk_errf(err, EINVAL, "--tls-cert-file %s: bad chain certificate (%s)", path,
                        ssl_reason(why, sizeof(why)));
        }
    }
    ERR_clear_error(); /* the end of the file reads as "no start line" */
    BIO_free(b);
    return r;
}

static int load_key(const ssl_lib *l, SSL_CTX *ctx, const char *path, const char *cert_file,
                    mk_err *err)
{
    char why[256];
    BIO *b = read_pem("--tls-key-file", path, err);
    if (!b)
        return -err->code;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (!k)
        return mk_errf(err, EINVAL, "--tls-key-file %s: not an unencrypted PEM private key (%s)",
                       path, ssl_reason(why, sizeof(why)));
    int ok = l->SSL_CTX_use_PrivateKey(ctx, k) == 1 && l->SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(k);
    ERR_clear_error();
    if (!ok)
        return mk_errf(err, EINVAL, "--tls-key-file %s: key does not match certificate %s", path,
                       cert_file);
    return 0;
}

static int load_pair(const ssl_lib *l, SSL_CTX *ctx, const char *cert_file, const char *key_file,
                     mk_err *err)
{
    int r = load_chain(l, ctx, cert_file, err);
    if (r == 0)
        r = load_key(l, ctx, key_file, cert_file, err);
    if (r == 0)
        warn_if_expired(l, ctx, cert_file);
    return r;
}

int api_tls_ctx_new(const char *cert_file, const char *key_file, api_tls_ctx **out, mk_err *err)
{
    if (!cert_file || !key_file)
        return mk_errf(err, EINVAL, "TLS needs both --tls-cert-file and --tls-key-file");
    api_tls_ctx *t = xcalloc(1, sizeof(*t));
    int r = ssl_lib_open(&t->lib, err);
    if (r == 0 && !(t->ctx = t->lib.SSL_CTX_new(t->lib.TLS_server_method()))) {
        char why[256];
        r = mk_errf(err, ENOMEM, "TLS setup: %s", ssl_reason(why, sizeof(why)));
    }
    if (r == 0)
        r = configure(&t->lib, t->ctx, err);
    if (r == 0)
        r = load_pair(&t->lib, t->ctx, cert_file, key_file, err);
    if (r < 0) {
        api_tls_ctx_free(t);
        return r;
    }
    *out = t;
    return 0;
}

void api_tls_ctx_free(api_tls_ctx *t)
{
    if (!t)
        return;
    if (t->ctx)
        t->lib.SSL_CTX_free(t->ctx);
    ssl_lib_close(&t->lib);
    free(t);
}

/* ---- one connection ---- */

api_tls *api_tls_new(api_tls_ctx *tc)
{
    const ssl_lib *l = &tc->lib;
    SSL *ssl = l->SSL_new(tc->ctx);
    BIO *in = BIO_new(BIO_s_mem());
    BIO *out = BIO_new(BIO_s_mem());
    if (!ssl || !in || !out) {
        if (ssl)
            l->SSL_free(ssl);
        BIO_free(in);
        BIO_free(out);
        ERR_clear_error();
        return NULL;
    }
    /* An empty memory BIO means "no data yet", not end of file. */
    BIO_set_mem_eof_return(in, -1);
    BIO_set_mem_eof_return(out, -1);
    l->SSL_set_bio(ssl, in, out); /* ssl owns both now */
    l->SSL_set_accept_state(ssl);
    api_tls *t = xcalloc(1, sizeof(*t));
    t->lib = l;
    t->ssl = ssl;
    t->in = in;
    t->out = out;
    return t;
}

void api_tls_free(api_tls *t)
{
    if (!t)
        return;
    t->lib->SSL_free(t->ssl);
    free(t);
}

int api_tls_feed(api_tls *t, const void *data, size_t len)
{
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        int n = BIO_write(t->in, data, chunk);
        if (n <= 0) {
            ERR_clear_error();
            return -ENOMEM;
        }
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    return 0;
}

/* Why a connection failed, for the debug log. */
static int tls_failure(api_tls *t, int ret, const char *what)
{
    int e = t->lib->SSL_get_error(t->ssl, ret);
    char why[256];
    if (e == SSL_ERROR_SSL)
        ssl_reason(why, sizeof(why));
    else
        snprintf(why, sizeof(why), "error %d", e);
    ERR_clear_error();
    t->failed = true;
    mk_debug("api: TLS %s with a client failed: %s", what, why);
    return -EPROTO;
}

ssize_t api_tls_read(api_tls *t, void *buf, size_t cap)
{
    if (t->failed)
        return -EPROTO;
    if (cap == 0)
        return 0;
    int n = t->lib->SSL_read(t->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    if (n > 0)
        return n;
    switch (t->lib->SSL_get_error(t->ssl, n)) {
    case SSL_ERROR_WANT_READ:
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        return -EPIPE; /* close_notify: the client is done sending */
    default:
        return tls_failure(t, n, t->lib->SSL_is_init_finished(t->ssl) ? "read" : "handshake");
    }
}

int api_tls_write(api_tls *t, const void *data, size_t len)
{
    if (t->failed)
        return -EPROTO;
    /* Responses follow requests, so the handshake is done; a memory BIO takes everything. */
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        int n = t->lib->SSL_write(t->ssl, data, chunk);
        if (n <= 0)
            return tls_failure(t, n, "write");
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    return 0;
}

void api_tls_close_notify(api_tls *t)
{
    if (t->failed || !t->lib->SSL_is_init_finished(t->ssl))
        return;
    if (t->lib->SSL_shutdown(t->ssl) < 0)
        ERR_clear_error();
}

size_t api_tls_pending(const api_tls *t)
{
    return BIO_ctrl_pending(t->out);
}

size_t api_tls_take(api_tls *t, void *buf, size_t cap)
{
    int n = BIO_read(t->out, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    return n > 0 ? (size_t)n : 0;
}
