/* api_test_util.h - run an api_server with the fake agent on a loop thread, and talk to it
 * with plain blocking sockets. Every read has a deadline (SO_RCVTIMEO); nothing sleeps. */
#ifndef API_TEST_UTIL_H
#define API_TEST_UTIL_H

#include "api.h"
#include "fake_agent_api.h"

#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define TEST_TOKEN "s3cret-token"

typedef struct harness {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t stop;
    api_server *srv;
    agent *a;
    int port;
    char dir[64];
    char sock[128];
} harness;

static void harness_run(void *arg)
{
    harness *h = arg;
    uv_run(&h->loop, UV_RUN_DEFAULT);
}

static void harness_on_stop(uv_async_t *as)
{
    harness *h = as->data;
    api_server_close(h->srv, NULL, NULL);
    uv_close((uv_handle_t *)as, NULL);
}

/* cfg may be NULL for defaults; its socket_path/listen_addr are filled in when NULL. */
static harness *harness_start(const api_config *cfg_in)
{
    signal(SIGPIPE, SIG_IGN); /* as the agent's main() does */
    harness *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    strcpy(h->dir, "/tmp/mk-api-test-XXXXXX");
    assert_non_null(mkdtemp(h->dir));
    snprintf(h->sock, sizeof(h->sock), "%s/api.sock", h->dir);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    h->a = fake_agent_new(&h->loop);
    api_config cfg = {.token = TEST_TOKEN, .idle_timeout_ms = 5000, .header_timeout_ms = 5000};
    if (cfg_in)
        cfg = *cfg_in;
    if (!cfg.socket_path)
        cfg.socket_path = h->sock;
    if (!cfg.listen_addr)
        cfg.listen_addr = "127.0.0.1:0";
    mk_err err = {0};
    int r = api_server_start(&h->loop, &cfg, h->a, &h->srv, &err);
    if (r < 0)
        fail_msg("api_server_start: %s", err.msg);
    h->port = api_server_tcp_port(h->srv);
    assert_true(h->port > 0);
    uv_async_init(&h->loop, &h->stop, harness_on_stop);
    h->stop.data = h;
    assert_int_equal(uv_thread_create(&h->thread, harness_run, h), 0);
    return h;
}

static void harness_stop(harness *h)
{
    uv_async_send(&h->stop);
    uv_thread_join(&h->thread);
    assert_int_equal(fake_agent_live_streams(h->a), 0);
    assert_int_equal(uv_loop_close(&h->loop), 0); /* every handle was closed */
    fake_agent_free(h->a);
    unlink(h->sock);
    rmdir(h->dir);
    free(h);
}

/* ---- client ---- */

static void set_deadline(int fd, int seconds)
{
    struct timeval tv = {.tv_sec = seconds};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    set_deadline(fd, 10);
    return fd;
}

static int unix_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    set_deadline(fd, 10);
    return fd;
}

static void send_raw(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        assert_true(w > 0);
        p += w;
        len -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_raw(fd, s, strlen(s));
}

typedef struct response {
    int status;
    char headers[4096]; /* "name: value\n", names lower-cased */
    char *body;
    size_t body_len;
    int chunks; /* on_body calls: > 1 for a stream that came in pieces */
    bool chunked;
    bool complete;
    char field[256];
    bool in_value;
} response;

typedef struct client {
    int fd;
    http_parser p;
    char buf[65536];
    size_t len, off;
} client;

static void client_init(client *cl, int fd)
{
    memset(cl, 0, sizeof(*cl));
    cl->fd = fd;
}

static int r_on_header_field(http_parser *p, const char *at, size_t len)
{
    response *r = p->data;
    if (r->in_value) {
        strncat(r->headers, "\n", sizeof(r->headers) - strlen(r->headers) - 1);
        r->in_value = false;
    }
    for (size_t i = 0; i < len; i++) {
        char ch[2] = {(char)(at[i] >= 'A' && at[i] <= 'Z' ? at[i] + 32 : at[i]), 0};
        strncat(r->headers, ch, sizeof(r->headers) - strlen(r->headers) - 1);
    }
    return 0;
}

static int r_on_header_value(http_parser *p, const char *at, size_t len)
{
    response *r = p->data;
    if (!r->in_value)
        strncat(r->headers, ": ", sizeof(r->headers) - strlen(r->headers) - 1);
    r->in_value = true;
    size_t room = sizeof(r->headers) - strlen(r->headers) - 1;
    strncat(r->headers, at, len < room ? len : room);
    return 0;
}

static int r_on_headers_complete(http_parser *p)
{
    response *r = p->data;
    strncat(r->headers, "\n", sizeof(r->headers) - strlen(r->headers) - 1);
    r->status = (int)p->status_code;
    r->chunked = (p->flags & F_CHUNKED) != 0;
    return 0;
}

static int r_on_body(http_parser *p, const char *at, size_t len)
{
    response *r = p->data;
    r->body = realloc(r->body, r->body_len + len + 1);
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    r->chunks++;
    return 0;
}

static int r_on_message_complete(http_parser *p)
{
    response *r = p->data;
    r->complete = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings resp_settings = {
    .on_header_field = r_on_header_field,
    .on_header_value = r_on_header_value,
    .on_headers_complete = r_on_headers_complete,
    .on_body = r_on_body,
    .on_message_complete = r_on_message_complete,
};

static void response_free(response *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Read one response. headers_only: stop once the headers (and any first body bytes) are in.
 * Returns 0 complete (or headers read), -1 on EOF/reset/timeout first. */
static int read_response_ex(client *cl, response *r, bool headers_only)
{
    memset(r, 0, sizeof(*r));
    http_parser_init(&cl->p, HTTP_RESPONSE);
    cl->p.data = r;
    for (;;) {
        if (cl->off < cl->len) {
            size_t n =
                http_parser_execute(&cl->p, &resp_settings, cl->buf + cl->off, cl->len - cl->off);
            cl->off += n;
            if (HTTP_PARSER_ERRNO(&cl->p) == HPE_PAUSED)
                return 0;
            if (HTTP_PARSER_ERRNO(&cl->p) != HPE_OK)
                fail_msg("bad response: %s", http_errno_name(HTTP_PARSER_ERRNO(&cl->p)));
            if (headers_only && r->status && r->chunks > 0)
                return 0;
        }
        if (cl->off == cl->len)
            cl->off = cl->len = 0;
        ssize_t n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            http_parser_execute(&cl->p, &resp_settings, NULL, 0);
            return r->complete ? 0 : -1;
        }
        cl->len += (size_t)n;
    }
}

static int read_response(client *cl, response *r)
{
    return read_response_ex(cl, r, false);
}

/* Value of a response header (name lower-case) or NULL; points into a static buffer. */
static const char *header(const response *r, const char *name)
{
    static char val[512];
    char key[128];
    snprintf(key, sizeof(key), "%s: ", name);
    for (const char *p = r->headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, strlen(key)) == 0) {
            const char *v = p + strlen(key);
            size_t l = strcspn(v, "\n");
            snprintf(val, sizeof(val), "%.*s", (int)l, v);
            return val;
        }
    }
    return NULL;
}

/* One request on a fresh connection; returns the response (caller frees). */
static void request_on(int fd, const char *req, response *r)
{
    client cl;
    client_init(&cl, fd);
    send_str(fd, req);
    if (read_response(&cl, r) < 0)
        fail_msg("no complete response to: %.60s", req);
}

static void tcp_request(harness *h, const char *req, response *r)
{
    int fd = tcp_connect(h->port);
    request_on(fd, req, r);
    close(fd);
}

/* True once the server closed the connection (EOF or reset) before the deadline. */
static bool closed_by_server(int fd)
{
    char b[65536];
    for (;;) {
        ssize_t n = recv(fd, b, sizeof(b), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false; /* deadline */
    }
}

/* Poll a condition with a deadline (ms), in small steps. */
#define POLL_UNTIL(cond, ms)                                                                       \
    ({                                                                                             \
        bool ok_ = false;                                                                          \
        for (int i_ = 0; i_ < (ms) / 5; i_++) {                                                    \
            if ((cond)) {                                                                          \
                ok_ = true;                                                                        \
                break;                                                                             \
            }                                                                                      \
            struct timespec ts_ = {0, 5000000};                                                    \
            nanosleep(&ts_, NULL);                                                                 \
        }                                                                                          \
        ok_ || (cond);                                                                             \
    })

#endif
