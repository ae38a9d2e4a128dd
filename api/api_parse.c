/* api_parse.c - the request side of a connection: http-parser callbacks that collect the
 * request line, the headers the API uses (Authorization, Accept, Expect) and the body into the
 * connection, within API_MAX_HEADER_BYTES and API_MAX_BODY_BYTES, and arm the header and body
 * timeouts as the request comes in. */
#include "api_conn_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small buffers ---- */

void api_buf_add(api_buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void api_buf_free(api_buf *b)
{
    free(b->p);
    *b = (api_buf){0};
}

void api_request_reset(api_conn *c)
{
    api_buf_free(&c->url);
    api_buf_free(&c->field);
    api_buf_free(&c->value);
    api_buf_free(&c->body);
    free(c->authorization);
    free(c->accept);
    c->authorization = c->accept = NULL;
    c->last_was_value = c->expect_continue = false;
    c->header_bytes = 0;
    for (size_t i = 0; i < c->n_held; i++)
        free(c->held[i]);
    free(c->held);
    c->held = NULL;
    c->n_held = 0;
}

/* ---- parsing ---- */

static int count_header_bytes(api_conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes <= API_MAX_HEADER_BYTES)
        return 0;
    c->reject = 431;
    return -1;
}

static void finish_header(api_conn *c)
{
    if (!c->last_was_value)
        return;
    const char *name = c->field.p ? c->field.p : "";
    while (c->value.len > 0 &&
           (c->value.p[c->value.len - 1] == ' ' || c->value.p[c->value.len - 1] == '\t'))
        c->value.p[--c->value.len] = '\0';
    const char *val = c->value.p ? c->value.p : "";
    if (strcasecmp(name, "Authorization") == 0) {
        free(c->authorization);
        c->authorization = xstrdup(val);
    } else if (strcasecmp(name, "Accept") == 0) {
        free(c->accept);
        c->accept = xstrdup(val);
    } else if (strcasecmp(name, "Expect") == 0) {
        c->expect_continue = strcasecmp(val, "100-continue") == 0;
    }
    c->field.len = c->value.len = 0;
    if (c->field.p)
        c->field.p[0] = '\0';
    if (c->value.p)
        c->value.p[0] = '\0';
    c->last_was_value = false;
}

static int on_message_begin(http_parser *p)
{
    api_conn *c = p->data;
    api_request_reset(c);
    api_conn_set_timer(c, T_HEADER, c->srv->header_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    api_conn *c = p->data;
    if (count_header_bytes(c, len) < 0)
        return -1;
    api_buf_add(&c->url, at, len);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    api_conn *c = p->data;
    if (count_header_bytes(c, len) < 0)
        return -1;
    finish_header(c);
    api_buf_add(&c->field, at, len);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    api_conn *c = p->data;
    if (count_header_bytes(c, len) < 0)
        return -1;
    c->last_was_value = true;
    api_buf_add(&c->value, at, len);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    api_conn *c = p->data;
    finish_header(c);
    bool has_body =
        (p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX);
    if (p->content_length != ULLONG_MAX && p->content_length > API_MAX_BODY_BYTES) {
        c->reject = 413;
        return -1;
    }
    if (has_body) {
        api_conn_set_timer(c, T_BODY, c->srv->idle_ms);
        if (c->expect_continue) {
            uv_buf_t b = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
            api_conn_write(c, &b, 1);
        }
    } else {
        api_conn_set_timer(c, T_NONE, 0);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    api_conn *c = p->data;
    if (c->body.len + len > API_MAX_BODY_BYTES) {
        c->reject = 413;
        return -1;
    }
    api_buf_add(&c->body, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    http_parser_pause(p, 1); /* one request at a time; the rest waits in the input buffer */
    return 0;
}

const http_parser_settings api_parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};
