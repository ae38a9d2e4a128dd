/* fuzz_api_conn.c - libFuzzer target: whole HTTP requests through the API's connection parser,
 * router and handlers (api/api_conn.c, api_handlers.c), served by a real api_server on this
 * thread's loop, with the fake agent of the unit tests behind it.
 *
 * Input: byte 0 picks the transport (bit 0: TCP, where the bearer token matters; else the
 * unix socket) and how the bytes are sent (bits 1-3: in pieces of 1, 2, 4 ... 128 bytes, or all
 * at once); the rest is sent as is, then the client closes its sending side and reads until
 * the server closes. Checks: the server closes every connection after the client's end of
 * input, well before any timeout, and nothing stays behind (connections, agent streams).
 * MK_FUZZ_VERBOSE=1 in the environment turns the API's debug log on. */
#include "api_internal.h"
#include "fake_agent_api.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FUZZ_TOKEN     "fuzz-token"
#define DEADLINE_MS    5000 /* the server's own timeouts are far longer */
#define FUZZ_MAX_INPUT (32 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_env {
    uv_loop_t loop;
    agent *a;
    api_server *srv;
    int port;
    char dir[64];
    char sock[96];
} fuzz_env;

typedef struct client {
    uv_poll_t poll;
    int fd;
    const uint8_t *data;
    size_t len, off, piece;
    bool sent, done, closed;
} client;

static fuzz_env *env;

static void on_poll(uv_poll_t *p, int status, int events);

static void remove_dir(void)
{
    if (!env)
        return;
    unlink(env->sock);
    rmdir(env->dir);
}

static void setup(void)
{
    if (env)
        return;
    signal(SIGPIPE, SIG_IGN); /* as the agent's main() does */
    mk_log_set_level(getenv("MK_FUZZ_VERBOSE") ? MK_LOG_DEBUG : MK_LOG_ERROR);
    env = xcalloc(1, sizeof(*env));
    strcpy(env->dir, "/tmp/mk-fuzz-api-XXXXXX");
    if (!mkdtemp(env->dir))
        abort();
    snprintf(env->sock, sizeof(env->sock), "%s/api.sock", env->dir);
    atexit(remove_dir);
    if (uv_loop_init(&env->loop) < 0)
        abort();
    env->a = fake_agent_new(&env->loop);
    api_config cfg = {.socket_path = env->sock,
                      .listen_addr = "127.0.0.1:0",
                      .token = FUZZ_TOKEN,
                      .idle_timeout_ms = 60000,
                      .header_timeout_ms = 60000};
    mk_err err = {0};
    if (api_server_start(&env->loop, &cfg, env->a, &env->srv, &err) < 0) {
        fprintf(stderr, "api_server_start: %s\n", err.msg);
        abort();
    }
    env->port = api_server_tcp_port(env->srv);
}

static int connect_to_server(bool tcp)
{
    int fd = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        abort();
    int r;
    if (tcp) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)env->port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        /* close with a reset: no TIME_WAIT piles up over millions of runs */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    } else {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", env->sock);
        r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    }
    if (r < 0) {
        perror("connect");
        abort();
    }
    return fd;
}

static void client_send(client *cl)
{
    while (cl->off < cl->len) {
        size_t n = cl->len - cl->off;
        if (cl->piece && n > cl->piece)
            n = cl->piece;
        ssize_t w = send(cl->fd, cl->data + cl->off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w < 0) { /* the server closed on us: nothing more to send */
            cl->off = cl->len;
            break;
        }
        cl->off += (size_t)w;
        if (cl->piece)
            return; /* one piece per loop turn, so the server reads them apart */
    }
    shutdown(cl->fd, SHUT_WR);
    cl->sent = true;
    uv_poll_start(&cl->poll, UV_READABLE | UV_DISCONNECT, on_poll);
}

static void client_recv(client *cl)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        cl->done = true; /* end of stream or reset: the server has closed */
        return;
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    client *cl = p->data;
    if (status < 0 || (events & (UV_READABLE | UV_DISCONNECT)))
        client_recv(cl);
    if (status < 0)
        cl->done = true;
    if (!cl->done && !cl->sent && (events & UV_WRITABLE))
        client_send(cl);
    if (cl->done) { /* the server closed first: end our side too, as a client would */
        if (!cl->sent)
            shutdown(cl->fd, SHUT_WR);
        uv_poll_stop(p);
    }
}

static void on_poll_closed(uv_handle_t *h)
{
    client *cl = h->data;
    cl->closed = true;
}

static void on_deadline(uv_timer_t *t)
{
    fprintf(stderr,
            "fuzz_api_conn: the server did not close the connection or free its "
            "resources within %d ms of the client's end of input\n",
            DEADLINE_MS);
    abort();
}

static void on_timer_closed(uv_handle_t *h)
{
    *(bool *)h->data = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    setup();
    bool tcp = data[0] & 1;
    unsigned shift = (data[0] >> 1) & 7;
    client cl = {.fd = connect_to_server(tcp),
                 .data = data + 1,
                 .len = size - 1,
                 .piece = shift == 7 ? 0 : (size_t)1 << shift};
    uv_poll_init(&env->loop, &cl.poll, cl.fd);
    cl.poll.data = &cl;
    uv_poll_start(&cl.poll, UV_READABLE | UV_WRITABLE | UV_DISCONNECT, on_poll);
    uv_timer_t deadline;
    bool deadline_closed = false;
    uv_timer_init(&env->loop, &deadline);
    deadline.data = &deadline_closed;
    uv_timer_start(&deadline, on_deadline, DEADLINE_MS, 0);

    while (!cl.done)
        uv_run(&env->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&cl.poll, on_poll_closed);
    /* the connection and every stream it started must be gone: listeners are all that stay */
    while (!cl.closed || env->srv->n_conns > 0 || env->srv->open_handles > 2 ||
           fake_agent_live_streams(env->a) > 0)
        uv_run(&env->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&deadline, on_timer_closed);
    while (!deadline_closed)
        uv_run(&env->loop, UV_RUN_ONCE);
    close(cl.fd);
    return 0;
}
