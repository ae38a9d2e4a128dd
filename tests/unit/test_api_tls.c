/* test_api_tls.c - the TCP listener with a certificate: HTTPS only (keep-alive, pipelining,
 * chunked follow, auth, timeouts, slow readers, cancel on close), the unix socket still plain,
 * and the start-up errors for missing, broken or mismatched certificate and key files. A
 * throwaway P-256 certificate for "localhost" is made with OpenSSL's API for every test. */
#include "api_test_util.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

typedef struct tls_env {
    char dir[64];
    char cert[128], key[128]; /* the server's pair */
    char other_key[128];      /* a key of another pair */
    char garbage[128];        /* not PEM at all */
    harness *h;
} tls_env;

/* ---- throwaway certificates ---- */

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    return k;
}

static void write_key(EVP_PKEY *k, const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(f), 0);
}

/* Self-signed, CN and subjectAltName "localhost", valid for a day. */
static void write_cert(EVP_PKEY *k, const char *path)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_int_equal(X509_set_pubkey(x, k), 1);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost");
    assert_non_null(san);
    assert_int_equal(X509_add_ext(x, san, -1), 1);
    X509_EXTENSION_free(san);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    assert_int_equal(fclose(f), 0);
    X509_free(x);
}

static tls_env *env_new(void)
{
    signal(SIGPIPE, SIG_IGN);
    tls_env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    strcpy(e->dir, "/tmp/mk-api-tls-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->cert, sizeof(e->cert), "%s/cert.pem", e->dir);
    snprintf(e->key, sizeof(e->key), "%s/key.pem", e->dir);
    snprintf(e->other_key, sizeof(e->other_key), "%s/other-key.pem", e->dir);
    snprintf(e->garbage, sizeof(e->garbage), "%s/garbage.pem", e->dir);
    EVP_PKEY *k = new_key(), *other = new_key();
    write_cert(k, e->cert);
    write_key(k, e->key);
    write_key(other, e->other_key);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
    FILE *f = fopen(e->garbage, "w");
    assert_non_null(f);
    fputs("this is not a certificate\n", f);
    assert_int_equal(fclose(f), 0);
    return e;
}

static void env_free(tls_env *e)
{
    if (e->h)
        harness_stop(e->h);
    unlink(e->cert);
    unlink(e->key);
    unlink(e->other_key);
    unlink(e->garbage);
    rmdir(e->dir);
    free(e);
}

static harness *start_tls(tls_env *e, uint64_t header_ms)
{
    api_config cfg = {.token = TEST_TOKEN,
                      .tls_cert_file = e->cert,
                      .tls_key_file = e->key,
                      .idle_timeout_ms = 5000,
                      .header_timeout_ms = header_ms};
    e->h = harness_start(&cfg);
    return e->h;
}

static int setup(void **state)
{
    tls_env *e = env_new();
    start_tls(e, 5000);
    *state = e;
    return 0;
}

static int setup_env_only(void **state)
{
    *state = env_new();
    return 0;
}

static int teardown(void **state)
{
    env_free(*state);
    return 0;
}

/* ---- an OpenSSL client on a blocking socket with a deadline ---- */

typedef struct tclient {
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
    http_parser p;
    char buf[65536];
    size_t len, off;
} tclient;

typedef struct client_opts {
    const char *alpn; /* wire format, NULL: none */
    size_t alpn_len;
    int max_version; /* 0: any */
} client_opts;

/* Connect and handshake, verifying the server's certificate against e->cert for "localhost".
 * Returns 0, or -1 when the handshake failed (c is then freed already). */
static int tls_connect_opts(tls_env *e, tclient *c, const client_opts *o)
{
    memset(c, 0, sizeof(*c));
    c->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(c->ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(c->ctx, e->cert, NULL), 1);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (o && o->max_version) {
        SSL_CTX_set_security_level(c->ctx, 0); /* let the client try what the server refuses */
        assert_int_equal(SSL_CTX_set_cipher_list(c->ctx, "DEFAULT:@SECLEVEL=0"), 1);
        SSL_CTX_set_min_proto_version(c->ctx, 0);
        SSL_CTX_set_max_proto_version(c->ctx, o->max_version);
    }
    if (o && o->alpn)
        assert_int_equal(
            SSL_CTX_set_alpn_protos(c->ctx, (const unsigned char *)o->alpn, (unsigned)o->alpn_len),
            0);
    c->ssl = SSL_new(c->ctx);
    assert_non_null(c->ssl);
    assert_int_equal(SSL_set1_host(c->ssl, "localhost"), 1);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    c->fd = tcp_connect(e->h->port);
    SSL_set_fd(c->ssl, c->fd);
    if (SSL_connect(c->ssl) != 1) {
        ERR_clear_error();
        SSL_free(c->ssl);
        SSL_CTX_free(c->ctx);
        close(c->fd);
        return -1;
    }
    return 0;
}

static void tls_connect(tls_env *e, tclient *c)
{
    if (tls_connect_opts(e, c, NULL) < 0)
        fail_msg("TLS handshake with the server failed");
}

/* Close the socket without a close_notify: like a client that goes away. */
static void tls_close(tclient *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    close(c->fd);
}

static void tls_send(tclient *c, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        int n = SSL_write(c->ssl, s, (int)len);
        assert_true(n > 0);
        s += n;
        len -= (size_t)n;
    }
}

/* read_response_ex over TLS. 0 complete (or headers read), -1 on close or deadline first. */
static int tls_read_response_ex(tclient *c, response *r, bool headers_only)
{
    memset(r, 0, sizeof(*r));
    http_parser_init(&c->p, HTTP_RESPONSE);
    c->p.data = r;
    for (;;) {
        if (c->off < c->len) {
            size_t n = http_parser_execute(&c->p, &resp_settings, c->buf + c->off, c->len - c->off);
            c->off += n;
            if (HTTP_PARSER_ERRNO(&c->p) == HPE_PAUSED)
                return 0;
            if (HTTP_PARSER_ERRNO(&c->p) != HPE_OK)
                fail_msg("bad response: %s", http_errno_name(HTTP_PARSER_ERRNO(&c->p)));
            if (headers_only && r->status && r->chunks > 0)
                return 0;
        }
        if (c->off == c->len)
            c->off = c->len = 0;
        int n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
        if (n <= 0) {
            ERR_clear_error();
            http_parser_execute(&c->p, &resp_settings, NULL, 0);
            return r->complete ? 0 : -1;
        }
        c->len += (size_t)n;
    }
}

static int tls_read_response(tclient *c, response *r)
{
    return tls_read_response_ex(c, r, false);
}

/* One request on a fresh TLS connection. */
static void tls_request(tls_env *e, const char *req, response *r)
{
    tclient c;
    tls_connect(e, &c);
    tls_send(&c, req);
    if (tls_read_response(&c, r) < 0)
        fail_msg("no complete response to: %.60s", req);
    tls_close(&c);
}

/* True once the server ended the TLS session (close_notify, EOF or reset) before the
 * deadline. Data that still arrives is discarded. */
static bool tls_closed_by_server(tclient *c)
{
    char b[16384];
    for (;;) {
        int n = SSL_read(c->ssl, b, sizeof(b));
        if (n > 0)
            continue;
        int e = SSL_get_error(c->ssl, n);
        int sys = errno;
        ERR_clear_error();
        if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SSL)
            return true;
        if (e == SSL_ERROR_SYSCALL)
            return n == 0 || sys == ECONNRESET || sys == EPIPE;
        return false;
    }
}

/* ---- serving ---- */

static void test_healthz_alpn_and_version(void **state)
{
    tls_env *e = *state;
    tclient c;
    client_opts o = {.alpn = "\x02h2\x08http/1.1", .alpn_len = 12};
    assert_int_equal(tls_connect_opts(e, &c, &o), 0);
    const unsigned char *proto = NULL;
    unsigned plen = 0;
    SSL_get0_alpn_selected(c.ssl, &proto, &plen);
    assert_int_equal(plen, 8);
    assert_memory_equal(proto, "http/1.1", 8);
    assert_true(SSL_version(c.ssl) >= TLS1_2_VERSION);
    tls_send(&c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    response r;
    assert_int_equal(tls_read_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok");
    response_free(&r);
    tls_close(&c);

    /* a client that only speaks h2 is told so in the handshake */
    o = (client_opts){.alpn = "\x02h2", .alpn_len = 3};
    assert_int_equal(tls_connect_opts(e, &c, &o), -1);
    /* no ALPN at all is fine */
    tls_request(e, "GET /pods HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"PodList\""));
    response_free(&r);
}

static void test_old_versions_refused(void **state)
{
    tls_env *e = *state;
    tclient c;
    client_opts o = {.max_version = TLS1_1_VERSION};
    assert_int_equal(tls_connect_opts(e, &c, &o), -1);
    o.max_version = TLS1_2_VERSION; /* 1.2 is the minimum, and accepted */
    assert_int_equal(tls_connect_opts(e, &c, &o), 0);
    assert_int_equal(SSL_version(c.ssl), TLS1_2_VERSION);
    tls_send(&c, "GET /healthz HTTP/1.1\r\n\r\n");
    response r;
    assert_int_equal(tls_read_response(&c, &r), 0);
    assert_string_equal(r.body, "ok");
    response_free(&r);
    tls_close(&c);
}

static void test_renegotiation_refused(void **state)
{
    tls_env *e = *state;
    tclient c;
    client_opts o = {.max_version = TLS1_2_VERSION};
    assert_int_equal(tls_connect_opts(e, &c, &o), 0);
    assert_int_equal(SSL_renegotiate(c.ssl), 1);
    assert_int_not_equal(SSL_do_handshake(c.ssl), 1);
    ERR_clear_error();
    tls_close(&c);
    response r; /* the server goes on */
    tls_request(e, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_string_equal(r.body, "ok");
    response_free(&r);
}

static void test_keep_alive_and_pipelining(void **state)
{
    tls_env *e = *state;
    tclient c;
    tls_connect(e, &c);
    response r;
    for (int i = 0; i < 2; i++) {
        tls_send(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_int_equal(tls_read_response(&c, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "ok");
        assert_null(header(&r, "connection"));
        response_free(&r);
    }
    tls_send(&c, "GET /api/v1/namespaces/kube-system/pods HTTP/1.1\r\n\r\n"
                 "GET /nope HTTP/1.1\r\n\r\n"
                 "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(tls_read_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"dns\""));
    response_free(&r);
    assert_int_equal(tls_read_response(&c, &r), 0);
    assert_int_equal(r.status, 404);
    response_free(&r);
    assert_int_equal(tls_read_response(&c, &r), 0);
    assert_string_equal(header(&r, "connection"), "close");
    response_free(&r);
    assert_true(tls_closed_by_server(&c));
    tls_close(&c);
}

static void test_logs_follow(void **state)
{
    tls_env *e = *state;
    tclient c;
    tls_connect(e, &c);
    tls_send(&c, "GET /containerLogs/default/mypod/mycontainer?follow=true HTTP/1.1\r\n\r\n");
    response r;
    assert_int_equal(tls_read_response(&c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_true(r.chunked);
    assert_true(r.chunks >= 2);
    assert_non_null(strstr(r.body, "opts follow=1"));
    assert_non_null(strstr(r.body, "line 3\nfollow 1\nfollow 2\nfollow 3\n"));
    response_free(&r);
    tls_send(&c, "GET /healthz HTTP/1.1\r\n\r\n"); /* still usable after the stream */
    assert_int_equal(tls_read_response(&c, &r), 0);
    assert_string_equal(r.body, "ok");
    response_free(&r);
    tls_close(&c);
}

static void test_logs_cancel_on_close(void **state)
{
    tls_env *e = *state;
    tclient c;
    tls_connect(e, &c);
    tls_send(&c, "GET /containerLogs/default/mypod/forever?follow=1 HTTP/1.1\r\n\r\n");
    response r;
    assert_int_equal(tls_read_response_ex(&c, &r, true), 0);
    assert_int_equal(r.status, 200);
    response_free(&r);
    tls_close(&c);
    assert_true(POLL_UNTIL(fake_agent_cancels(e->h->a) == 1, 10000));
    assert_true(POLL_UNTIL(fake_agent_live_streams(e->h->a) == 0, 10000));
}

static void test_slow_reader_dropped(void **state)
{
    tls_env *e = *state;
    tclient c;
    tls_connect(e, &c);
    int small = 4096;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    tls_send(&c, "GET /containerLogs/default/mypod/flood?follow=1 HTTP/1.1\r\n\r\n");
    /* never read: the server must end the stream and drop us, not buffer without bound */
    assert_true(POLL_UNTIL(fake_agent_live_streams(e->h->a) == 0, 20000));
    assert_true(closed_by_server(c.fd));
    tls_close(&c);
}

static void test_run_auth(void **state)
{
    tls_env *e = *state;
    response r;
    tls_request(e,
                "POST /run/default/mypod/mycontainer?cmd=echo+hello HTTP/1.1\r\n"
                "Content-Length: 0\r\n\r\n",
                &r);
    assert_int_equal(r.status, 401);
    assert_non_null(header(&r, "www-authenticate"));
    response_free(&r);

    tls_request(e,
                "POST /run/default/mypod/mycontainer?cmd=echo+hello HTTP/1.1\r\n"
                "Authorization: Bearer " TEST_TOKEN "\r\nContent-Length: 0\r\n\r\n",
                &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "x-exit-code"), "0");
    assert_string_equal(r.body, "hello\n");
    response_free(&r);
}

static void test_unix_socket_stays_plain(void **state)
{
    tls_env *e = *state;
    int fd = unix_connect(e->h->sock);
    response r;
    request_on(fd, "POST /run/default/mypod/mycontainer?cmd=echo+plain HTTP/1.1\r\n\r\n", &r);
    close(fd);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "plain\n");
    response_free(&r);
}

/* A plain HTTP request on the TLS port gets no HTTP answer, the connection is closed, and the
 * server goes on serving. */
static void test_plain_http_refused(void **state)
{
    tls_env *e = *state;
    int fd = tcp_connect(e->h->port);
    send_str(fd, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    char got[4096];
    size_t len = 0;
    bool closed = false;
    for (;;) {
        ssize_t n = recv(fd, got + len, sizeof(got) - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            closed = true;
            break;
        }
        if (n < 0 || len + (size_t)n >= sizeof(got) - 1)
            break; /* deadline, or far more than an alert */
        len += (size_t)n;
    }
    close(fd);
    got[len] = '\0';
    assert_true(closed);
    assert_null(memmem(got, len, "HTTP/", 5));

    response r;
    tls_request(e, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_string_equal(r.body, "ok");
    response_free(&r);
}

static void test_stalled_handshake_timeout(void **state)
{
    tls_env *e = *state;
    start_tls(e, 150);
    int fd = tcp_connect(e->h->port); /* silent from the start */
    assert_true(closed_by_server(fd));
    close(fd);
    /* a record header announcing a ClientHello that never comes */
    fd = tcp_connect(e->h->port);
    send_raw(fd, "\x16\x03\x01\x02\x00\x01", 6);
    assert_true(closed_by_server(fd));
    close(fd);
    /* after the handshake, the request headers are still bound by the same timeout */
    tclient c;
    tls_connect(e, &c);
    tls_send(&c, "GET /healthz HTTP/1.1\r\nHost: slow");
    assert_true(tls_closed_by_server(&c));
    tls_close(&c);
}

/* Without a certificate, loopback TCP stays plain HTTP. */
static void test_loopback_without_cert_is_plain(void **state)
{
    harness *h = harness_start(NULL);
    response r;
    tcp_request(h, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok");
    response_free(&r);
    harness_stop(h);
}

/* ---- start-up ---- */

static int try_start(api_config *cfg, mk_err *err)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    agent *a = fake_agent_new(&loop);
    api_server *s = NULL;
    mk_err_clear(err);
    int r = api_server_start(&loop, cfg, a, &s, err);
    if (r == 0)
        api_server_close(s, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    fake_agent_free(a);
    return r;
}

static void assert_msg(const mk_err *err, const char *want)
{
    if (!strstr(err->msg, want))
        fail_msg("want \"%s\" in \"%s\"", want, err->msg);
}

static void test_start_errors(void **state)
{
    tls_env *e = *state;
    mk_err err = {0};
    api_config cfg = {.listen_addr = "127.0.0.1:0",
                      .tls_cert_file = "/nonexistent/cert.pem",
                      .tls_key_file = e->key};
    assert_int_equal(try_start(&cfg, &err), -ENOENT);
    assert_msg(&err, "--tls-cert-file /nonexistent/cert.pem: no such file");

    cfg.tls_cert_file = e->cert;
    cfg.tls_key_file = "/nonexistent/key.pem";
    assert_int_equal(try_start(&cfg, &err), -ENOENT);
    assert_msg(&err, "--tls-key-file /nonexistent/key.pem: no such file");

    cfg.tls_cert_file = e->garbage;
    cfg.tls_key_file = e->key;
    assert_int_equal(try_start(&cfg, &err), -EINVAL);
    assert_msg(&err, e->garbage);
    assert_msg(&err, "not a PEM certificate");

    cfg.tls_cert_file = e->cert;
    cfg.tls_key_file = e->garbage;
    assert_int_equal(try_start(&cfg, &err), -EINVAL);
    assert_msg(&err, "--tls-key-file");
    assert_msg(&err, "not an unencrypted PEM private key");

    cfg.tls_key_file = e->other_key;
    assert_int_equal(try_start(&cfg, &err), -EINVAL);
    assert_msg(&err, "key does not match certificate");

    cfg.tls_key_file = NULL; /* the two come as a pair */
    assert_int_equal(try_start(&cfg, &err), -EINVAL);
    assert_msg(&err, "needs --tls-key-file");
    cfg = (api_config){.listen_addr = "127.0.0.1:0", .tls_key_file = e->key};
    assert_int_equal(try_start(&cfg, &err), -EINVAL);
    assert_msg(&err, "needs --tls-cert-file");
}

static void test_start_policy(void **state)
{
    tls_env *e = *state;
    mk_err err = {0};
    /* without a certificate, only loopback */
    api_config cfg = {.listen_addr = "0.0.0.0:0"};
    assert_int_equal(try_start(&cfg, &err), -EPERM);
    assert_msg(&err, "--tls-cert-file");
    /* with one, any address */
    cfg.tls_cert_file = e->cert;
    cfg.tls_key_file = e->key;
    assert_int_equal(try_start(&cfg, &err), 0);
    /* the combined PEM (certificate and key in one file) given as both */
    char both[160];
    snprintf(both, sizeof(both), "%s/both.pem", e->dir);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cat %s %s > %s", e->cert, e->key, both);
    assert_int_equal(system(cmd), 0);
    cfg = (api_config){.listen_addr = "127.0.0.1:0", .tls_cert_file = both, .tls_key_file = both};
    assert_int_equal(try_start(&cfg, &err), 0);
    unlink(both);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz_alpn_and_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_versions_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renegotiation_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive_and_pipelining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_follow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_cancel_on_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_socket_stays_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_http_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_handshake_timeout, setup_env_only, teardown),
        cmocka_unit_test(test_loopback_without_cert_is_plain),
        cmocka_unit_test_setup_teardown(test_start_errors, setup_env_only, teardown),
        cmocka_unit_test_setup_teardown(test_start_policy, setup_env_only, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
