/* api_conn.c - one client connection: HTTP/1.1 over http-parser (api_parse.c), keep-alive and
 * pipelining (one request at a time, the rest waits in the input buffer), header/idle
 * timeouts, bounded input and output, complete and chunked responses; an agent stream pauses
 * while its client is behind and resumes as it catches up. With TLS (api_tls.c)
 * the bytes read are decrypted into the same input buffer and responses are encrypted before
 * they are queued, so everything above the socket is the same as for plain HTTP. */
#include "api_conn_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wreq {
    uv_write_t req;
    api_conn *c;
    size_t len;
    char data[];
} wreq;

static void process_input(api_conn *c);
static void update_reading(api_conn *c);
static void tls_flush(api_conn *c);

/* ---- timers and closing ---- */

static void on_timer(uv_timer_t *t);

void api_conn_set_timer(api_conn *c, timer_kind k, uint64_t ms)
{
    if (c->tkind == T_DROP)
        return; /* a drop is final */
    c->tkind = k;
    if (k == T_NONE)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void on_handle_closed(uv_handle_t *h)
{
    api_conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    api_server *s = c->srv;
    api_request_reset(c);
    api_buf_free(&c->in);
    api_tls_free(c->tls);
    free(c);
    api_server_conn_gone(s);
}

void api_conn_close(api_conn *c)
{
    if (c->state == C_CLOSED)
        return;
    c->state = C_CLOSED;
    c->paused = false;
    if (c->stream) {
        agent_api_stream_cancel(MK_STEAL(c->stream));
        mk_debug("api: client went away, stream cancelled");
    }
    c->async = false;
    api_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    /* A dropped TCP client gets a reset: what the kernel still buffers for it is freed now. */
    if (c->tkind == T_DROP && !c->trusted && uv_tcp_close_reset(&c->h.tcp, on_handle_closed) == 0)
        return;
    uv_close(&c->h.handle, on_handle_closed);
}

/* Close from inside a callback that must not see the connection vanish under it. */
static void drop_later(api_conn *c)
{
    if (c->state != C_CLOSED)
        api_conn_set_timer(c, T_DROP, 0);
}

static uint64_t linger_ms(const api_conn *c)
{
    return c->srv->idle_ms < 2000 ? c->srv->idle_ms : 2000;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    api_conn *c = req->data;
    if (c->state != C_LINGER)
        return;
    if (status < 0 || c->eof) {
        api_conn_close(c);
        return;
    }
    api_conn_set_timer(c, T_LINGER,
                       linger_ms(c)); /* all written: give the client a moment to close */
}

/* Flush what is queued, send FIN, keep reading (and discarding) until the client closes, so
 * unread input does not turn our last response into a reset. */
static void close_gracefully(api_conn *c)
{
    if (c->state != C_OPEN)
        return;
    if (c->tkind == T_DROP) { /* dropped for not reading: no point in flushing */
        api_conn_close(c);
        return;
    }
    if (c->tls) {
        api_tls_close_notify(c->tls);
        tls_flush(c);
    }
    c->state = C_LINGER;
    c->in.len = c->in_off = 0;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, &c->h.stream, on_shutdown) < 0) {
        api_conn_close(c);
        return;
    }
    api_conn_set_timer(c, T_LINGER, c->srv->idle_ms);
    update_reading(c);
}

static void on_timer(uv_timer_t *t)
{
    api_conn *c = t->data;
    switch (c->tkind) {
    case T_RESUME:
        c->tkind = T_NONE;
        process_input(c);
        return;
    case T_HEADER:
        mk_debug("api: closing a connection whose request headers did not arrive in time");
        break;
    case T_STALL:
        mk_warn("api: dropping a client that stopped reading a stream (%zu bytes unsent)",
                c->wq_bytes);
        c->tkind = T_DROP; /* a reset frees what the kernel holds for it */
        break;
    case T_BODY:
    case T_IDLE:
    case T_LINGER:
    case T_DROP:
    case T_NONE:
        break;
    }
    api_conn_close(c);
}

/* ---- writing ---- */

/* The client of a paused stream read something: below the low-water mark the stream goes on,
 * else the client has another idle period to read more. */
static void stream_progress(api_conn *c)
{
    if (c->wq_bytes >= API_STREAM_LOW_WATER) {
        api_conn_set_timer(c, T_STALL, c->srv->idle_ms);
        return;
    }
    c->paused = false;
    api_conn_set_timer(c, T_NONE, 0);
    if (c->stream)
        agent_api_stream_resume(c->stream);
}

static void on_write(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    api_conn *c = w->c;
    c->wq_bytes -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED && c->state != C_CLOSED) {
        mk_debug("api: write failed: %s", uv_strerror(status));
        api_conn_close(c);
    } else if (c->paused && c->state == C_OPEN) {
        stream_progress(c);
    }
}

static void queue_write(api_conn *c, wreq *w)
{
    w->c = c;
    uv_buf_t one = uv_buf_init(w->data, (unsigned)w->len);
    if (uv_write(&w->req, &c->h.stream, &one, 1, on_write) < 0) {
        free(w);
        drop_later(c);
        return;
    }
    c->wq_bytes += w->len;
}

/* Send the ciphertext TLS has produced: handshake messages, alerts, encrypted responses. */
static void tls_flush(api_conn *c)
{
    size_t n = api_tls_pending(c->tls);
    if (n == 0 || c->state == C_CLOSED)
        return;
    wreq *w = xmalloc(sizeof(*w) + n);
    w->len = api_tls_take(c->tls, w->data, n);
    queue_write(c, w);
}

int api_conn_write(api_conn *c, const uv_buf_t *bufs, size_t n)
{
    if (c->state != C_OPEN || c->tkind == T_DROP)
        return -EPIPE;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += bufs[i].len;
    if (total == 0)
        return 0;
    if (c->wq_bytes > 0 && c->wq_bytes + total > API_MAX_WRITE_QUEUE) {
        mk_warn("api: dropping a client that does not read (%zu bytes unsent)", c->wq_bytes);
        drop_later(c);
        return -ENOBUFS;
    }
    wreq *w = xmalloc(sizeof(*w) + total);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(w->data + off, bufs[i].base, bufs[i].len);
        off += bufs[i].len;
    }
    w->len = total;
    c->resp_bytes += total;
    if (!c->tls) {
        queue_write(c, w);
        return c->tkind == T_DROP ? -EPIPE : 0;
    }
    int r = api_tls_write(c->tls, w->data, total); /* the pieces together: fewer records */
    free(w);
    if (r < 0) {
        drop_later(c);
        return -EPIPE;
    }
    tls_flush(c);
    return c->tkind == T_DROP ? -EPIPE : 0;
}

static const char *reason_phrase(int code)
{
    const char *s = http_status_str((enum http_status)code);
    return s && *s ? s : "Unknown";
}

static void write_head(api_conn *c, int code, const char *ctype, const char *framing,
                       const char *extra, const void *body, size_t len)
{
    bool http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    const char *conn_hdr = c->close_after ? "Connection: close\r\n"
                           : http10       ? "Connection: keep-alive\r\n"
                                          : "";
    cleanup_free char *head =
        xasprintf("HTTP/1.1 %d %s\r\n%s%s%s%s%s%s\r\n", code, reason_phrase(code),
                  ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", framing,
                  conn_hdr, extra ? extra : "");
    uv_buf_t b[2] = {uv_buf_init(head, (unsigned)strlen(head)),
                     uv_buf_init((char *)body, (unsigned)len)};
    c->resp_code = code;
    api_conn_write(c, b, body ? 2 : 1);
}

/* The response is complete: log it, then go on with the next request or close. */
static void response_done(api_conn *c)
{
    if (!c->busy)
        return;
    double ms = (double)(mk_monotonic_ns() - c->started_ns) / 1e6;
    mk_debug("api: %s %s %s -> %d (%zu bytes, %.2f ms)",
             c->trusted ? "unix"
             : c->tls   ? "tls"
                        : "tcp",
             http_method_str((enum http_method)c->parser.method), c->url.p ? c->url.p : "",
             c->resp_code, c->resp_bytes, ms);
    c->busy = false;
    c->async = false;
    c->resp = R_NONE;
    api_request_reset(c);
    if (c->state != C_OPEN)
        return;
    if (c->close_after) {
        close_gracefully(c);
        return;
    }
    update_reading(c);
    if (c->in_off < c->in.len)
        api_conn_set_timer(c, T_RESUME, 0);
    else
        api_conn_set_timer(c, T_IDLE, c->srv->idle_ms);
}

void api_respond(api_conn *c, int code, const char *ctype, const char *extra_headers,
                 const void *body, size_t len)
{
    if (!c->busy || c->resp != R_NONE)
        return;
    char framing[64];
    snprintf(framing, sizeof(framing), "Content-Length: %zu\r\n", len);
    c->resp = R_FULL;
    write_head(c, code, ctype, framing, extra_headers, body, len);
    response_done(c);
}

void api_stream_begin(api_conn *c, int code, const char *ctype)
{
    if (!c->busy || c->resp != R_NONE)
        return;
    bool http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    if (http10)
        c->close_after = true; /* no chunked encoding: the body ends when we close */
    c->resp = http10 ? R_RAW : R_CHUNKED;
    write_head(c, code, ctype, http10 ? "" : "Transfer-Encoding: chunked\r\n", NULL, NULL, 0);
}

int api_stream_write(api_conn *c, const void *data, size_t len)
{
    if (c->state != C_OPEN || !c->busy)
        return -EPIPE;
    if (c->resp == R_NONE)
        api_stream_begin(c, 200, "text/plain; charset=utf-8");
    if (len == 0)
        return 0;
    if (c->resp == R_RAW) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        return api_conn_write(c, &b, 1);
    }
    if (c->resp != R_CHUNKED)
        return -EINVAL;
    char size[32];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    uv_buf_t b[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                     uv_buf_init("\r\n", 2)};
    return api_conn_write(c, b, 3);
}

bool api_stream_behind(api_conn *c)
{
    if (c->state != C_OPEN || !c->busy || !c->stream || c->wq_bytes < API_STREAM_LOW_WATER)
        return false;
    if (!c->paused)
        api_conn_set_timer(c, T_STALL, c->srv->idle_ms);
    c->paused = true;
    return true;
}

void api_stream_end(api_conn *c, bool ok)
{
    if (!c->busy)
        return;
    if (c->resp == R_NONE)
        api_stream_begin(c, 200, "text/plain; charset=utf-8");
    if (!ok) {
        c->close_after = true;
        c->resp_code = c->resp_code ? c->resp_code : 500;
        response_done(c); /* closes without the final chunk: the client sees a cut stream */
        return;
    }
    if (c->resp == R_CHUNKED) {
        uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);
        api_conn_write(c, &b, 1);
    }
    response_done(c);
}

/* ---- what handlers see ---- */

agent *api_conn_agent(api_conn *c)
{
    return c->srv->agent;
}

bool api_conn_trusted(const api_conn *c)
{
    return c->trusted;
}

const api_server *api_conn_server(const api_conn *c)
{
    return c->srv;
}

void api_conn_hold(api_conn *c, void *p)
{
    c->held = xrealloc(c->held, (c->n_held + 1) * sizeof(*c->held));
    c->held[c->n_held++] = p;
}

void api_conn_async_begin(api_conn *c)
{
    c->async = true;
    c->paused = false;
    c->stream = NULL;
}

void api_conn_async_abort(api_conn *c)
{
    api_conn_async_finished(c);
}

void api_conn_async_started(api_conn *c, agent_api_stream *s)
{
    if (c->async && c->busy)
        c->stream = s; /* else it already finished */
}

void api_conn_async_finished(api_conn *c)
{
    c->async = false;
    c->paused = false; /* the stream has ended: nothing to resume */
    c->stream = NULL;
}

static void begin_response(api_conn *c)
{
    c->busy = true;
    c->started_ns = mk_monotonic_ns();
    c->resp = R_NONE;
    c->resp_code = 0;
    c->resp_bytes = 0;
    api_conn_set_timer(c, T_NONE, 0);
}

static void reject_request(api_conn *c, enum http_errno e)
{
    int code = c->reject ? c->reject : 400;
    c->reject = 0;
    begin_response(c);
    c->close_after = true;
    if (code == 431)
        api_respond_status(c, 431, NULL, "RequestHeaderFieldsTooLarge",
                           "request line and headers exceed %d bytes", API_MAX_HEADER_BYTES);
    else if (code == 413)
        api_respond_status(c, 413, NULL, "RequestEntityTooLarge", "request body exceeds %d bytes",
                           API_MAX_BODY_BYTES);
    else
        api_respond_status(c, 400, NULL, "BadRequest", "malformed HTTP request: %s",
                           http_errno_description(e));
}

static void dispatch_request(api_conn *c)
{
    begin_response(c);
    c->close_after = !http_should_keep_alive(&c->parser) || c->parser.upgrade || c->eof;
    api_request req = {
        .method = (enum http_method)c->parser.method,
        .url = c->url.p ? c->url.p : "",
        .authorization = c->authorization,
        .accept = c->accept,
        .body = c->body.p ? c->body.p : "",
        .body_len = c->body.len,
    };
    api_dispatch(c, &req);
}

static void process_input(api_conn *c)
{
    if (c->in_process)
        return;
    c->in_process = true;
    while (c->state == C_OPEN && !c->busy && c->in_off < c->in.len) {
        size_t avail = c->in.len - c->in_off;
        size_t n =
            http_parser_execute(&c->parser, &api_parser_settings, c->in.p + c->in_off, avail);
        c->in_off += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            dispatch_request(c);
            continue;
        }
        if (e != HPE_OK) {
            reject_request(c, e);
            break;
        }
        if (n < avail) { /* a protocol switch we do not speak */
            reject_request(c, HPE_INVALID_METHOD);
            break;
        }
    }
    if (c->in_off == c->in.len)
        c->in_off = c->in.len = 0;
    c->in_process = false;
    if (c->state == C_OPEN && !c->busy && c->tkind == T_NONE)
        api_conn_set_timer(c, T_IDLE, c->srv->idle_ms);
    update_reading(c);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    api_conn *c = h->data;
    if (c->in_off > 0) {
        memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    size_t want = c->in.len + 16384 + 1;
    if (c->in.cap < want) {
        c->in.p = xrealloc(c->in.p, want);
        c->in.cap = want;
    }
    *b = uv_buf_init(c->in.p + c->in.len, (unsigned)(c->in.cap - c->in.len - 1));
}

/* The client will send nothing more: answer what is complete, then close. */
static void on_eof(api_conn *c)
{
    c->eof = true;
    update_reading(c);
    if (c->busy) { /* the client went away: stop its stream */
        api_conn_close(c);
        return;
    }
    process_input(c); /* answer complete requests still buffered */
    if (c->state == C_OPEN && !c->busy)
        close_gracefully(c);
}

/* Decrypt the n bytes just read at the end of the input buffer into that same place (they are
 * copied into OpenSSL first). A record completed by a short read may decrypt to more than n
 * bytes: the buffer grows for it. Returns 0, or api_tls_read's -EPIPE / -EPROTO. */
static int tls_input(api_conn *c, size_t n)
{
    if (api_tls_feed(c->tls, c->in.p + c->in.len, n) < 0)
        return -EPROTO;
    for (;;) {
        if (c->in.cap - c->in.len < 4096 + 1) {
            c->in.cap = c->in.len + 16384 + 1;
            c->in.p = xrealloc(c->in.p, c->in.cap);
        }
        ssize_t got = api_tls_read(c->tls, c->in.p + c->in.len, c->in.cap - c->in.len - 1);
        if (got <= 0) {
            tls_flush(c); /* handshake replies, session tickets, a failure's alert */
            return (int)got;
        }
        c->in.len += (size_t)got;
    }
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    api_conn *c = st->data;
    if (c->state == C_CLOSED || n == 0)
        return;
    if (n < 0) {
        if (n != UV_EOF || c->state == C_LINGER)
            api_conn_close(c);
        else
            on_eof(c);
        return;
    }
    if (c->state == C_LINGER) {
        c->in.len = c->in_off = 0; /* discard */
        return;
    }
    if (c->tls) {
        int r = tls_input(c, (size_t)n);
        if (r == -EPIPE) { /* close_notify */
            on_eof(c);
            return;
        }
        if (r < 0) { /* not TLS, or a broken record: the alert is queued, then we close */
            if (c->busy)
                api_conn_close(c);
            else
                close_gracefully(c);
            return;
        }
    } else {
        c->in.len += (size_t)n;
    }
    if (!c->busy)
        process_input(c);
    else
        update_reading(c);
}

static void update_reading(api_conn *c)
{
    bool want = c->state != C_CLOSED && !c->eof &&
                (c->state == C_LINGER || c->in.len - c->in_off < API_MAX_INPUT);
    if (want && !c->reading) {
        if (uv_read_start(&c->h.stream, on_alloc, on_read) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop(&c->h.stream);
        c->reading = false;
    }
}

/* ---- accepting ---- */

void api_conn_accept(api_server *s, uv_stream_t *listener, bool trusted)
{
    api_conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    c->trusted = trusted;
    int r = trusted ? uv_pipe_init(s->loop, &c->h.pipe, 0) : uv_tcp_init(s->loop, &c->h.tcp);
    if (r < 0) {
        mk_warn("api: cannot accept a connection: %s", uv_strerror(r));
        free(c);
        return;
    }
    c->h.handle.data = c;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->handles_open = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    s->open_handles++;
    r = uv_accept(listener, &c->h.stream);
    if (r < 0 || s->n_conns > s->max_conns || s->closing) {
        if (r < 0)
            mk_warn("api: accept: %s", uv_strerror(r));
        else if (!s->closing)
            mk_warn("api: refusing a connection: %zu connections open", s->max_conns);
        api_conn_close(c);
        return;
    }
    if (!trusted && s->tls && !(c->tls = api_tls_new(s->tls))) {
        mk_warn("api: refusing a connection: cannot set up its TLS state");
        api_conn_close(c);
        return;
    }
    if (!trusted)
        uv_tcp_nodelay(&c->h.tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    api_conn_set_timer(c, T_HEADER, s->header_ms);
    update_reading(c);
}
