/* api.h - the local HTTP API: kubelet-style endpoints on a unix socket and on TCP. */
#ifndef MK_API_H
#define MK_API_H

#include "agent_api.h"
#include "mk_base.h"

#include <uv.h>

typedef struct api_config {
    const char *socket_path;    /* unix socket, created 0600; full access. NULL: none */
    const char *listen_addr;    /* "127.0.0.1:10250" or "[::1]:10250"; NULL: no TCP */
    const char *token;          /* bearer token required on TCP for anything that executes */
    const char *tls_cert_file;  /* PEM chain; set: TCP speaks only HTTPS (any address) */
    const char *tls_key_file;   /* its PEM key; the two are given together or not at all */
    uint64_t idle_timeout_ms;   /* idle keep-alive connections are closed after this; 0: 90 s */
    uint64_t header_timeout_ms; /* a request's headers must arrive within this; 0: 10 s */
} api_config;

typedef struct api_server api_server;

/* Bind and listen. The process must ignore SIGPIPE (libuv writes with write(2): a client that
 * goes away mid-response would otherwise kill the process). Refuses a non-loopback TCP address
 * without tls_cert_file (EPERM, with a message naming the flag), one TLS file without the
 * other (EINVAL), and files that cannot be read or do not match (errors name the file). With
 * TLS, libssl is loaded and initialized here; without it, never. The unix socket is plain. */
int api_server_start(uv_loop_t *loop, const api_config *cfg, agent *a, api_server **out,
                     mk_err *err);
/* The bound TCP port (useful after listening on port 0), or < 0 when not listening on TCP. */
int api_server_tcp_port(api_server *s);
/* Stop listening, cancel streams, close connections; `done` runs when all handles closed. */
void api_server_close(api_server *s, void (*done)(void *arg), void *arg);

#endif
