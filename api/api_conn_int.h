/* api_conn_int.h - a client connection's state, shared by api_conn.c (the connection: timers,
 * writing, responses, reading) and api_parse.c (the request parser's callbacks). Not used
 * outside these two files.
 */
#ifndef MK_API_CONN_INT_H
#define MK_API_CONN_INT_H

#include "api_internal.h"

typedef struct api_buf {
    char *p;
    size_t len, cap;
} api_buf;

typedef enum {
    T_NONE,
    T_HEADER, /* the request's headers must arrive */
    T_BODY,   /* the body must keep coming */
    T_IDLE,   /* keep-alive: waiting for the next request */
    T_RESUME, /* parse pipelined input on the next loop turn */
    T_LINGER, /* response sent, waiting for the client to close */
    T_DROP,   /* close on the next loop turn */
    T_STALL,  /* a paused stream: the client must read something */
} timer_kind;

typedef enum { C_OPEN, C_LINGER, C_CLOSED } conn_state;

typedef enum { R_NONE, R_FULL, R_CHUNKED, R_RAW } resp_kind;

struct api_conn {
    api_server *srv;
    api_conn *prev, *next;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    int handles_open;
    bool trusted;
    api_tls *tls; /* TLS on this connection, or NULL */
    conn_state state;
    timer_kind tkind;

    http_parser parser;
    api_buf in; /* received, in[in_off..in.len) not parsed yet */
    size_t in_off;
    bool reading, eof, in_process;

    /* the request being parsed */
    api_buf url, field, value, body;
    char *authorization, *accept;
    bool last_was_value, expect_continue;
    size_t header_bytes;
    int reject; /* 413/431 decided in a parser callback */

    /* the request being answered */
    bool busy, async, close_after, paused; /* paused: stream told to wait, to be resumed */
    agent_api_stream *stream;
    resp_kind resp;
    int resp_code;
    size_t resp_bytes;
    int64_t started_ns;
    void **held;
    size_t n_held;

    size_t wq_bytes; /* queued, not yet written */
};

/* ---- api_conn.c ---- */

/* Arm the connection's one timer (T_NONE: stop it). A pending drop is never replaced. */
void api_conn_set_timer(api_conn *c, timer_kind k, uint64_t ms);
/* Queue the buffers' bytes (encrypted with TLS) as one write. 0, or < 0 when the client is
 * gone or too slow (it is then dropped). */
int api_conn_write(api_conn *c, const uv_buf_t *bufs, size_t n);

/* ---- api_parse.c ---- */

void api_buf_add(api_buf *b, const char *p, size_t n);
void api_buf_free(api_buf *b);
/* Free the parsed request's fields and the memory held for its response. */
void api_request_reset(api_conn *c);
/* Fills the request fields of the api_conn in parser.data; pauses after each message. */
extern const http_parser_settings api_parser_settings;

#endif
