/* api_internal.h - what the api module's files share with each other (not used outside api/).
 *
 * api_router.c    path patterns with {params}, percent-decoding, query strings
 * api_conn.c      one client connection: timeouts, response writing, streams, back-pressure
 * api_parse.c     the request parser's callbacks (shares api_conn_int.h with api_conn.c)
 * api_handlers.c  the route table, auth and the endpoints
 * api_server.c    listeners (unix socket, TCP), start and close
 * api_tls.c       TLS for the TCP listener (OpenSSL over memory BIOs)
 */
#ifndef MK_API_INTERNAL_H
#define MK_API_INTERNAL_H

#include "api.h"

#include <http_parser.h>
#include <sys/types.h>

#define API_MAX_HEADER_BYTES (16 * 1024)       /* request line + headers; beyond: 431 */
#define API_MAX_BODY_BYTES   (1024 * 1024)     /* beyond: 413 */
#define API_MAX_WRITE_QUEUE  (4 * 1024 * 1024) /* unsent bytes per client; beyond: dropped */
#define API_STREAM_LOW_WATER (256 * 1024)      /* unsent bytes above which a stream pauses */
#define API_MAX_INPUT        (64 * 1024)       /* unparsed pipelined input buffered per client */
#define API_MAX_CONNS        4096
#define API_MAX_PARAMS       4

#define API_METHOD(m) (UINT64_C(1) << (m))

/* ---- router ---- */

typedef struct api_conn api_conn;

typedef struct api_request {
    enum http_method method;
    const char *url;           /* request target as sent */
    const char *query;         /* raw query string (after '?') or NULL */
    const char *authorization; /* header value or NULL */
    const char *accept;        /* header value or NULL */
    const char *body;
    size_t body_len;
    char *params[API_MAX_PARAMS]; /* decoded {path} parameters, in pattern order */
    int n_params;
} api_request;

typedef void (*api_handler_fn)(api_conn *c, api_request *req);

typedef struct api_route {
    const char *pattern; /* "/api/v1/namespaces/{ns}/pods/{name}" */
    uint64_t methods;    /* API_METHOD(HTTP_GET) | ... */
    api_handler_fn handler;
    bool needs_auth; /* executes or changes something: bearer token required on TCP */
} api_route;

typedef enum {
    API_ROUTE_OK = 0,
    API_ROUTE_NOT_FOUND,  /* 404 */
    API_ROUTE_BAD_METHOD, /* 405; *allow is filled */
    API_ROUTE_BAD_PATH,   /* 400: bad percent-encoding or NUL byte */
} api_route_result;

/* Match a raw (still percent-encoded) path. On API_ROUTE_OK, params[0..*n_params) are
 * allocated (free with api_params_free). */
api_route_result api_route_match(const api_route *routes, size_t n, const char *path,
                                 size_t path_len, enum http_method method, const api_route **out,
                                 char **params, int *n_params, uint64_t *allow);
void api_params_free(char **params, int n);
/* "GET, POST" for a method mask. Caller frees. */
char *api_allow_string(uint64_t methods);
/* Percent-decode s[0..len). plus_is_space for query strings. -EINVAL on a bad escape or a NUL. */
int api_percent_decode(const char *s, size_t len, bool plus_is_space, char **out);
/* Decoded value of the first `name` parameter in a raw query string. 0 found (a parameter
 * without '=' has the value ""), -ENOENT absent, -EINVAL bad encoding. */
int api_query_get(const char *query, const char *name, char **out);

/* ---- TLS (api_tls.c) ---- */

typedef struct api_tls_ctx api_tls_ctx; /* certificate, key and settings: one per server */
typedef struct api_tls api_tls;         /* one connection's TLS state */

/* Load a PEM certificate chain and its key: TLS 1.2 minimum, server cipher preference, no
 * compression, no renegotiation, ALPN http/1.1. Errors name the flag and the file. */
int api_tls_ctx_new(const char *cert_file, const char *key_file, api_tls_ctx **out, mk_err *err);
void api_tls_ctx_free(api_tls_ctx *t);

/* NULL when OpenSSL cannot allocate the connection's state. */
api_tls *api_tls_new(api_tls_ctx *tc);
void api_tls_free(api_tls *t);
/* Hand over ciphertext received from the client. 0, or -ENOMEM. */
int api_tls_feed(api_tls *t, const void *data, size_t len);
/* Plaintext into buf (this also drives the handshake): > 0 bytes, 0 when more ciphertext is
 * needed, -EPIPE when the client sent close_notify, -EPROTO when the handshake or a record
 * failed (an alert may be waiting to be sent). */
ssize_t api_tls_read(api_tls *t, void *buf, size_t cap);
/* Encrypt all of data. 0, or -EPROTO. */
int api_tls_write(api_tls *t, const void *data, size_t len);
/* Queue a close_notify alert (only after a completed handshake, never after a failure). */
void api_tls_close_notify(api_tls *t);
/* Ciphertext waiting to be sent to the client, and taking it (returns the bytes copied). */
size_t api_tls_pending(const api_tls *t);
size_t api_tls_take(api_tls *t, void *buf, size_t cap);

/* ---- server (shared by api_server.c and api_conn.c) ---- */

struct api_server {
    uv_loop_t *loop;
    agent *agent;
    char *socket_path;
    char *listen_addr;
    bool has_token;
    unsigned char token_hash[32]; /* sha256 of the token: compared in constant time */
    uint64_t idle_ms, header_ms;
    api_tls_ctx *tls; /* set: the TCP listener speaks only TLS */
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    bool tcp_on, pipe_on;
    dev_t sock_dev; /* identity of the socket file we bound, to unlink only our own */
    ino_t sock_ino;
    api_conn *conns; /* doubly linked */
    size_t n_conns;
    size_t max_conns; /* API_MAX_CONNS, or fewer under a low RLIMIT_NOFILE (see api_server.c) */
    int open_handles; /* listeners + live connections */
    bool closing;
    void (*done)(void *arg);
    void *done_arg;
};

/* Accept one pending connection on `listener`. trusted: full access (unix socket). */
void api_conn_accept(api_server *s, uv_stream_t *listener, bool trusted);
/* Close a connection now, cancelling its stream. */
void api_conn_close(api_conn *c);
/* Called by api_conn.c when a connection's handles are closed and it is freed. */
void api_server_conn_gone(api_server *s);

/* ---- what handlers use ---- */

agent *api_conn_agent(api_conn *c);
bool api_conn_trusted(const api_conn *c);
const api_server *api_conn_server(const api_conn *c);

/* Complete responses. extra_headers is "Name: value\r\n..." or NULL. */
void api_respond(api_conn *c, int code, const char *ctype, const char *extra_headers,
                 const void *body, size_t len);
void api_respond_json(api_conn *c, int code, cJSON *j); /* takes ownership of j */
/* A Kubernetes Status object (kind: Status, status: Failure). */
void api_respond_status(api_conn *c, int code, const char *extra_headers, const char *reason,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Map err->code to HTTP as agent_api.h says (ENOENT 404, EINVAL 400, ...). */
void api_respond_mkerr(api_conn *c, const mk_err *err);

/* Memory freed when the current response is finished. */
void api_conn_hold(api_conn *c, void *p);

/* Asynchronous work: begin before calling the agent, then either abort (the agent refused)
 * or started (the agent accepted; s may be NULL). finished() is called from the agent's done
 * callback, before responding. While started, closing the connection cancels s. */
void api_conn_async_begin(api_conn *c);
void api_conn_async_abort(api_conn *c);
void api_conn_async_started(api_conn *c, agent_api_stream *s);
void api_conn_async_finished(api_conn *c);

/* Chunked streaming responses (raw until close for HTTP/1.0 clients). begin is idempotent;
 * write returns < 0 when the client is gone or too slow (it is then dropped); end(ok=false)
 * closes the connection without the final chunk so the client sees the stream as cut. */
void api_stream_begin(api_conn *c, int code, const char *ctype);
int api_stream_write(api_conn *c, const void *data, size_t len);
void api_stream_end(api_conn *c, bool ok);
/* After a successful write of an agent stream: true when the client is behind (unsent bytes
 * at or above API_STREAM_LOW_WATER). The connection then resumes the stream (once) when the
 * client has read enough, unless the stream ends or is cancelled first; a client that reads
 * nothing for the idle timeout is dropped. */
bool api_stream_behind(api_conn *c);

/* Route and run one parsed request (api_handlers.c). */
void api_dispatch(api_conn *c, api_request *req);

#endif
