/* api_server.c - listeners: a unix socket (0600, full access, plain HTTP) and TCP (plain HTTP
 * on loopback only; with a certificate, HTTPS only on any address). */
#include "api_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include "mk_sha256.h"
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static void server_free(api_server *s)
{
    free(s->socket_path);
    free(s->listen_addr);
    api_tls_ctx_free(s->tls);
    OPENSSL_cleanse(s->token_hash, sizeof(s->token_hash));
    free(s);
}

static void maybe_done(api_server *s)
{
    if (!s->closing || s->open_handles > 0)
        return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    server_free(s);
    if (done)
        done(arg);
}

void api_server_conn_gone(api_server *s)
{
    s->open_handles--;
    maybe_done(s);
}

static void on_listener_closed(uv_handle_t *h)
{
    api_server_conn_gone(h->data);
}

static void on_tcp_connection(uv_stream_t *l, int status)
{
    api_server *s = l->data;
    if (status < 0) {
        mk_warn("api: tcp accept: %s", uv_strerror(status));
        return;
    }
    api_conn_accept(s, l, false);
}

static void on_unix_connection(uv_stream_t *l, int status)
{
    api_server *s = l->data;
    if (status < 0) {
        mk_warn("api: unix socket accept: %s", uv_strerror(status));
        return;
    }
    api_conn_accept(s, l, true);
}

/* ---- TCP ---- */

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
        return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
}

/* "host:port", "[v6]:port", "localhost:port", ":port" (every interface). */
static int parse_listen_addr(const char *addr, struct sockaddr_storage *ss, mk_err *err)
{
    const char *colon = NULL;
    char host[INET6_ADDRSTRLEN + 1];
    size_t hl;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return mk_errf(err, EINVAL, "listen address %s: expected [IPv6]:port", addr);
        colon = close + 1;
        hl = (size_t)(close - addr - 1);
        addr++;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return mk_errf(err, EINVAL, "listen address %s: expected host:port", addr);
        hl = (size_t)(colon - addr);
        if (memchr(addr, ':', hl))
            return mk_errf(err, EINVAL, "listen address %s: write IPv6 as [addr]:port", addr);
    }
    if (hl >= sizeof(host))
        return mk_errf(err, EINVAL, "listen address %s: host too long", addr);
    memcpy(host, addr, hl);
    host[hl] = '\0';
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port < 0 || port > 65535)
        return mk_errf(err, EINVAL, "listen address %s: port must be 0..65535", addr);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (host[0] == '\0')
        strcpy(host, "0.0.0.0");
    memset(ss, 0, sizeof(*ss));
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return mk_errf(err, EINVAL, "listen address %s: %s is not an IP address", addr, host);
}

/* Like the kubelet's --tls-cert-file and --tls-private-key-file, the two come as a pair. */
static int check_tcp_policy(const api_config *cfg, const struct sockaddr_storage *ss, mk_err *err)
{
    if (cfg->tls_cert_file && !cfg->tls_key_file)
        return mk_errf(err, EINVAL, "--tls-cert-file %s: needs --tls-key-file (its private key)",
                       cfg->tls_cert_file);
    if (cfg->tls_key_file && !cfg->tls_cert_file)
        return mk_errf(err, EINVAL, "--tls-key-file %s: needs --tls-cert-file (its certificate)",
                       cfg->tls_key_file);
    if (!cfg->tls_cert_file && !is_loopback(ss))
        return mk_errf(err, EPERM,
                       "refusing to serve %s without TLS: a non-loopback listen address needs "
                       "--tls-cert-file and --tls-key-file (or listen on 127.0.0.1)",
                       cfg->listen_addr);
    return 0;
}

static int start_tcp(api_server *s, const struct sockaddr_storage *ss, mk_err *err)
{
    int r = uv_tcp_init(s->loop, &s->tcp);
    if (r < 0)
        return mk_errf(err, -r, "listen on %s: %s", s->listen_addr, uv_strerror(r));
    s->tcp.data = s;
    s->tcp_on = true;
    s->open_handles++;
    unsigned flags = ss->ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
    r = uv_tcp_bind(&s->tcp, (const struct sockaddr *)ss, flags);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->tcp, 511, on_tcp_connection);
    if (r < 0)
        return mk_errf(err, -r, "listen on %s: %s", s->listen_addr, uv_strerror(r));
    return 0;
}

/* ---- unix socket ---- */

/* Remove a socket file nobody serves on; refuse to touch anything else. */
static int clear_stale_socket(const char *path, mk_err *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : mk_errf_sys(err, errno, "api socket %s", path);
    if (!S_ISSOCK(st.st_mode))
        return mk_errf(err, EEXIST, "api socket %s: exists and is not a socket; remove it", path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return mk_errf_sys(err, errno, "api socket %s: socket", path);
    int r;
    do
        r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    while (r < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (r == 0 || e == EAGAIN)
        return mk_errf(err, EADDRINUSE, "api socket %s: another process is serving on it", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return mk_errf_sys(err, errno, "api socket %s: remove stale socket", path);
    mk_debug("api: removed stale socket %s", path);
    return 0;
}

static int bind_unix(const char *path, mk_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof(sa.sun_path))
        return mk_errf(err, ENAMETOOLONG, "api socket %s: path longer than %zu bytes", path,
                       sizeof(sa.sun_path) - 1);
    memcpy(sa.sun_path, path, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return mk_errf_sys(err, errno, "api socket %s: socket", path);
    /* On Linux the socket file takes the socket inode's mode at bind: 0600 from the start. */
    if (fchmod(fd, 0600) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(path, 0600) < 0) {
        int e = errno;
        close(fd);
        return mk_errf_sys(err, e, "api socket %s: bind", path);
    }
    return fd;
}

static int start_unix(api_server *s, mk_err *err)
{
    const char *path = s->socket_path;
    cleanup_free char *dir_copy = xstrdup(path);
    int r = mk_mkdir_p(dirname(dir_copy), 0755, err);
    if (r < 0)
        return mk_err_wrap(err, "api socket %s", path);
    r = clear_stale_socket(path, err);
    if (r < 0)
        return r;
    int fd = bind_unix(path, err);
    if (fd < 0)
        return fd;
    struct stat st;
    if (lstat(path, &st) == 0) {
        s->sock_dev = st.st_dev;
        s->sock_ino = st.st_ino;
    }
    r = uv_pipe_init(s->loop, &s->pipe, 0);
    if (r < 0) {
        close(fd);
        unlink(path);
        return mk_errf(err, -r, "api socket %s: %s", path, uv_strerror(r));
    }
    s->pipe.data = s;
    s->pipe_on = true;
    s->open_handles++;
    r = uv_pipe_open(&s->pipe, fd);
    if (r < 0)
        close(fd);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->pipe, 511, on_unix_connection);
    if (r < 0)
        return mk_errf(err, -r, "api socket %s: listen: %s", path, uv_strerror(r));
    return 0;
}

static void unlink_our_socket(api_server *s)
{
    struct stat st;
    if (s->socket_path && s->sock_ino && lstat(s->socket_path, &st) == 0 &&
        st.st_dev == s->sock_dev && st.st_ino == s->sock_ino)
        unlink(s->socket_path);
}

/* ---- start / close ---- */

static void close_listeners(api_server *s)
{
    if (s->tcp_on && !uv_is_closing((uv_handle_t *)&s->tcp))
        uv_close((uv_handle_t *)&s->tcp, on_listener_closed);
    if (s->pipe_on && !uv_is_closing((uv_handle_t *)&s->pipe)) {
        uv_close((uv_handle_t *)&s->pipe, on_listener_closed);
        unlink_our_socket(s);
    }
}

/* Clients may hold at most a quarter of the process's file descriptors: the rest is for the
 * pods (shim sockets, log files, cgroup files). With systemd's soft limit of 1024, 4096
 * clients would leave the agent unable to open anything. */
static size_t max_conns(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur / 4 >= API_MAX_CONNS)
        return API_MAX_CONNS;
    return rl.rlim_cur / 4 > 8 ? (size_t)(rl.rlim_cur / 4) : 8;
}

/* Parse and check the listen address, and load the certificate when there is one. */
static int prepare_tcp(const api_config *cfg, struct sockaddr_storage *ss, api_tls_ctx **tls,
                       mk_err *err)
{
    *tls = NULL;
    if (!cfg->listen_addr) {
        if (cfg->tls_cert_file || cfg->tls_key_file)
            mk_warn("api: TLS files ignored: the TCP listener is disabled");
        return 0;
    }
    int r = parse_listen_addr(cfg->listen_addr, ss, err);
    if (r < 0 || (r = check_tcp_policy(cfg, ss, err)) < 0)
        return r;
    if (!cfg->tls_cert_file)
        return 0;
    return api_tls_ctx_new(cfg->tls_cert_file, cfg->tls_key_file, tls, err);
}

int api_server_start(uv_loop_t *loop, const api_config *cfg, agent *a, api_server **out,
                     mk_err *err)
{
    struct sockaddr_storage ss;
    api_tls_ctx *tls = NULL;
    if (!cfg->socket_path && !cfg->listen_addr)
        return mk_errf(err, EINVAL, "api: neither a socket path nor a listen address is set");
    int r = prepare_tcp(cfg, &ss, &tls, err);
    if (r < 0)
        return r;
    api_server *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->agent = a;
    s->tls = tls;
    s->socket_path = xstrdup(cfg->socket_path);
    s->listen_addr = xstrdup(cfg->listen_addr);
    s->max_conns = max_conns();
    s->idle_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : 90000;
    s->header_ms = cfg->header_timeout_ms ? cfg->header_timeout_ms : 10000;
    if (cfg->token && cfg->token[0]) {
        mk_sha256(cfg->token, strlen(cfg->token), s->token_hash);
        s->has_token = true;
    }
    r = cfg->listen_addr ? start_tcp(s, &ss, err) : 0;
    if (r == 0 && cfg->socket_path)
        r = start_unix(s, err);
    if (r < 0) {
        s->closing = true;
        close_listeners(s);
        maybe_done(s); /* frees s now if no handle was opened, else from the close callbacks */
        return r;
    }
    if (cfg->listen_addr)
        mk_info("api: listening on %s (port %d, %s)", cfg->listen_addr, api_server_tcp_port(s),
                s->tls ? "HTTPS only" : "plain HTTP");
    if (cfg->socket_path)
        mk_info("api: listening on unix socket %s", cfg->socket_path);
    *out = s;
    return 0;
}

int api_server_tcp_port(api_server *s)
{
    if (!s || !s->tcp_on)
        return -ENOENT;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int r = uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len);
    if (r < 0)
        return r;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void api_server_close(api_server *s, void (*done)(void *arg), void *arg)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_arg = arg;
    close_listeners(s);
    while (s->conns)
        api_conn_close(s->conns); /* unlinks itself */
    maybe_done(s);
}
