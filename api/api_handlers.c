/* api_handlers.c - the route table, bearer-token auth and the kubelet-style endpoints. */
#include "api_internal.h"

#include <errno.h>
#include "mk_sha256.h"
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TEXT_PLAIN "text/plain; charset=utf-8"

/* ---- snapshots ---- */

static void h_healthz(api_conn *c, api_request *req)
{
    api_respond(c, 200, TEXT_PLAIN, NULL, "ok", 2);
}

static void h_pods(api_conn *c, api_request *req)
{
    api_respond_json(c, 200, agent_api_pod_list(api_conn_agent(c), NULL));
}

static void h_ns_pods(api_conn *c, api_request *req)
{
    api_respond_json(c, 200, agent_api_pod_list(api_conn_agent(c), req->params[0]));
}

static void h_pod(api_conn *c, api_request *req)
{
    mk_err err = {0};
    cJSON *j = agent_api_pod_get(api_conn_agent(c), req->params[0], req->params[1], &err);
    if (!j)
        api_respond_mkerr(c, &err);
    else
        api_respond_json(c, 200, j);
}

static void h_manifests(api_conn *c, api_request *req)
{
    api_respond_json(c, 200, agent_api_manifests(api_conn_agent(c)));
}

static void h_inspect(api_conn *c, api_request *req)
{
    mk_err err = {0};
    cJSON *j = agent_api_inspect(api_conn_agent(c), req->params[0], req->params[1], &err);
    if (!j)
        api_respond_mkerr(c, &err);
    else
        api_respond_json(c, 200, j);
}

/* ---- top ---- */

static const char *cell(const cJSON *row, int i)
{
    const cJSON *x = cJSON_GetArrayItem(row, i);
    return cJSON_IsString(x) ? x->valuestring : "";
}

static void print_row(FILE *f, const cJSON *row, const size_t *w, int ncol)
{
    for (int i = 0; i < ncol; i++) {
        int width = i + 1 < ncol ? (int)(w[i] + 3 > 20 ? w[i] + 3 : 20) : 0;
        fprintf(f, "%-*s", width, cell(row, i));
    }
    fputc('\n', f);
}

/* Columns as `docker top` prints them: each but the last padded to max(20, widest + 3). */
static char *top_table(const cJSON *j, size_t *len)
{
    const cJSON *titles = cJSON_GetObjectItemCaseSensitive(j, "titles");
    const cJSON *procs = cJSON_GetObjectItemCaseSensitive(j, "processes");
    int ncol = cJSON_IsArray(titles) ? cJSON_GetArraySize(titles) : 0;
    size_t *w = xcalloc((size_t)ncol + 1, sizeof(*w));
    for (int i = 0; i < ncol; i++)
        w[i] = strlen(cell(titles, i));
    const cJSON *row;
    cJSON_ArrayForEach(row, procs)
    {
        for (int i = 0; i < ncol; i++) {
            size_t l = strlen(cell(row, i));
            w[i] = l > w[i] ? l : w[i];
        }
    }
    char *out = NULL;
    FILE *f = open_memstream(&out, len);
    if (!f)
        abort(); /* only fails without memory */
    print_row(f, titles, w, ncol);
    cJSON_ArrayForEach(row, procs)
    {
        print_row(f, row, w, ncol);
    }
    fclose(f);
    free(w);
    return out;
}

static bool accepts_json(const char *accept)
{
    return accept && strcasestr(accept, "application/json") != NULL;
}

static void h_top(api_conn *c, api_request *req)
{
    mk_err err = {0};
    char **p = req->params;
    cJSON *j = agent_api_top(api_conn_agent(c), p[0], p[1], p[2], &err);
    if (!j) {
        api_respond_mkerr(c, &err);
        return;
    }
    if (accepts_json(req->accept)) {
        api_respond_json(c, 200, j);
        return;
    }
    size_t len = 0;
    char *text = top_table(j, &len);
    cJSON_Delete(j);
    api_respond(c, 200, TEXT_PLAIN, NULL, text, len);
    free(text);
}

/* ---- logs ---- */

/* strconv.ParseBool's spellings. */
static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < MK_ARRAY_LEN(yes); i++) {
        if (strcmp(v, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(v, no[i]) == 0)
            return *out = false, 0;
    }
    return -EINVAL;
}

static int parse_int(const char *v, int64_t *out)
{
    if (!*v)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *out = x;
    return 0;
}

/* RFC3339 ("2026-01-02T15:04:05Z", fraction and offset allowed) -> Unix seconds. */
static int parse_rfc3339(const char *v, int64_t *out)
{
    struct tm tm = {0};
    const char *p = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -EINVAL;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0, n = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5)
            return -EINVAL;
        off = (*p == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    *out = (int64_t)timegm(&tm) - off;
    return 0;
}

typedef struct log_query {
    agent_api_log_req req;
    bool has_tail, has_since, has_limit, has_since_time;
    int64_t since_time;
    char *stream;
} log_query;

/* Decode the PodLogOptions query. -EINVAL with `why` for a value that does not decode. */
static int decode_log_query(api_conn *c, const char *query, log_query *q, char *why, size_t n)
{
    struct {
        const char *name;
        bool *b;
        int64_t *i;
        bool *set;
    } fields[] = {
        {"follow", &q->req.follow, NULL, NULL},
        {"previous", &q->req.previous, NULL, NULL},
        {"timestamps", &q->req.timestamps, NULL, NULL},
        {"tailLines", NULL, &q->req.tail_lines, &q->has_tail},
        {"sinceSeconds", NULL, &q->req.since_seconds, &q->has_since},
        {"limitBytes", NULL, &q->req.limit_bytes, &q->has_limit},
        {"sinceTime", NULL, &q->since_time, &q->has_since_time},
        {"stream", NULL, NULL, NULL},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(fields); i++) {
        char *v = NULL;
        int r = api_query_get(query, fields[i].name, &v);
        if (r == -ENOENT)
            continue;
        if (r < 0)
            return snprintf(why, n, "bad percent-encoding"), -EINVAL;
        api_conn_hold(c, v);
        if (!*v) /* "?follow" or "?tailLines=": unset */
            continue;
        if (fields[i].b)
            r = parse_bool(v, fields[i].b);
        else if (strcmp(fields[i].name, "sinceTime") == 0)
            r = parse_rfc3339(v, fields[i].i);
        else if (fields[i].i)
            r = parse_int(v, fields[i].i);
        else
            q->stream = v;
        if (r < 0)
            return snprintf(why, n, "%s: invalid value \"%.64s\"", fields[i].name, v), -EINVAL;
        if (fields[i].set)
            *fields[i].set = true;
    }
    return 0;
}

/* ValidatePodLogOptions. Returns a message or NULL. */
static const char *invalid_log_query(const log_query *q, char *buf, size_t n)
{
    if (q->has_tail && q->req.tail_lines < 0)
        snprintf(buf, n, "tailLines: Invalid value: %lld: must be greater than or equal to 0",
                 (long long)q->req.tail_lines);
    else if (q->has_limit && q->req.limit_bytes < 1)
        snprintf(buf, n, "limitBytes: Invalid value: %lld: must be greater than 0",
                 (long long)q->req.limit_bytes);
    else if (q->has_since && q->has_since_time)
        snprintf(buf, n, "at most one of `sinceTime` or `sinceSeconds` may be specified");
    else if (q->has_since && q->req.since_seconds < 1)
        snprintf(buf, n, "sinceSeconds: Invalid value: %lld: must be greater than 0",
                 (long long)q->req.since_seconds);
    else if (q->stream && strcmp(q->stream, "All") != 0)
        snprintf(buf, n, "stream: Unsupported value: \"%.32s\": supported values: \"All\"",
                 q->stream);
    else
        return NULL;
    return buf;
}

static int logs_write(void *arg, const char *data, size_t len)
{
    int r = api_stream_write(arg, data, len);
    if (r < 0)
        return r;
    return api_stream_behind(arg) ? 1 : 0; /* 1: wait for agent_api_stream_resume */
}

static void logs_done(void *arg, int status, const mk_err *err)
{
    api_conn *c = arg;
    api_conn_async_finished(c);
    if (status < 0)
        mk_warn("api: log stream ended early: %s", err ? err->msg : "unknown error");
    api_stream_end(c, status >= 0);
}

static void h_logs(api_conn *c, api_request *req)
{
    char **p = req->params;
    log_query q = {.req = {.ns = p[0], .pod = p[1], .container = p[2]}};
    char why[256];
    if (decode_log_query(c, req->query, &q, why, sizeof(why)) < 0) {
        api_respond_status(c, 400, NULL, "BadRequest", "Unable to decode query: %s", why);
        return;
    }
    if (invalid_log_query(&q, why, sizeof(why))) {
        api_respond_status(c, 422, NULL, "Invalid", "PodLogOptions \"%s\" is invalid: %s", p[1],
                           why);
        return;
    }
    if (!q.has_tail)
        q.req.tail_lines = -1;
    if (!q.has_limit)
        q.req.limit_bytes = -1;
    if (!q.has_since)
        q.req.since_seconds = 0;
    if (q.has_since_time) {
        int64_t ago = mk_now_ns() / 1000000000LL - q.since_time;
        q.req.since_seconds = ago < 1 ? 1 : ago;
    }
    mk_err err = {0};
    agent_api_stream *s = NULL;
    api_conn_async_begin(c);
    if (agent_api_logs(api_conn_agent(c), &q.req, logs_write, logs_done, c, &s, &err) < 0) {
        api_conn_async_abort(c);
        api_respond_mkerr(c, &err);
        return;
    }
    api_conn_async_started(c, s);
    api_stream_begin(c, 200, TEXT_PLAIN); /* headers go out now, as the kubelet flushes them */
}

/* ---- run ---- */

static void run_done(void *arg, int status, int exit_code, const char *out, size_t out_len,
                     const mk_err *err)
{
    api_conn *c = arg;
    api_conn_async_finished(c);
    if (status < 0) {
        mk_err e = {.code = EIO};
        if (err)
            e = *err;
        else
            snprintf(e.msg, sizeof(e.msg), "the command could not run");
        api_respond_mkerr(c, &e);
        return;
    }
    char hdr[48];
    snprintf(hdr, sizeof(hdr), "X-Exit-Code: %d\r\n", exit_code);
    api_respond(c, 200, TEXT_PLAIN, hdr, out, out ? out_len : 0);
}

/* The kubelet splits `cmd` on every single space, so two spaces make an empty word, as they
 * do there. (An empty command is refused before this.) */
static char **split_cmd(char *cmd)
{
    size_t n = 0;
    char **argv = xcalloc(strlen(cmd) + 2, sizeof(*argv));
    argv[n++] = cmd;
    for (char *sp = strchr(cmd, ' '); sp; sp = strchr(sp + 1, ' ')) {
        *sp = '\0';
        argv[n++] = sp + 1;
    }
    argv[n] = NULL;
    return argv;
}

/* /run/{ns}/{pod}/{uid}/{container}: the pod must still have that uid. */
static bool uid_matches(api_conn *c, const char *ns, const char *pod, const char *uid)
{
    mk_err err = {0};
    cJSON *j = agent_api_pod_get(api_conn_agent(c), ns, pod, &err);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(meta, "uid");
    bool ok = cJSON_IsString(u) && strcmp(u->valuestring, uid) == 0;
    cJSON_Delete(j);
    return ok;
}

static void h_run(api_conn *c, api_request *req)
{
    char **p = req->params;
    const char *container = req->n_params == 4 ? p[3] : p[2];
    if (req->n_params == 4 && !uid_matches(c, p[0], p[1], p[2])) {
        api_respond_status(c, 404, NULL, "NotFound", "pod \"%s\" with uid %s not found", p[1],
                           p[2]);
        return;
    }
    char *cmd = NULL;
    int r = api_query_get(req->query, "cmd", &cmd);
    if (r == -EINVAL) {
        api_respond_status(c, 400, NULL, "BadRequest", "Unable to decode query: cmd");
        return;
    }
    if (cmd)
        api_conn_hold(c, cmd);
    char **argv = cmd ? split_cmd(cmd) : NULL;
    if (argv)
        api_conn_hold(c, argv);
    if (!argv || !argv[0][0]) {
        api_respond_status(c, 400, NULL, "BadRequest",
                           "missing command: pass ?cmd=<words separated by spaces>");
        return;
    }
    agent_api_exec_req er = {.ns = p[0], .pod = p[1], .container = container, .argv = argv};
    mk_err err = {0};
    agent_api_stream *s = NULL;
    api_conn_async_begin(c);
    if (agent_api_exec(api_conn_agent(c), &er, run_done, c, &s, &err) < 0) {
        api_conn_async_abort(c);
        api_respond_mkerr(c, &err);
        return;
    }
    api_conn_async_started(c, s);
}

/* ---- events ---- */

/* The API server's reading of a boolean list option: absent, "false" or "0" is false, any
 * other value (even "") is true. */
static bool query_flag(const char *v)
{
    return v && strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
}

static void h_events(api_conn *c, api_request *req)
{
    const char *ns = req->n_params == 1 ? req->params[0] : NULL;
    char *watch = NULL, *sel = NULL;
    int rw = api_query_get(req->query, "watch", &watch);
    int rs = api_query_get(req->query, "fieldSelector", &sel);
    if (watch)
        api_conn_hold(c, watch);
    if (sel)
        api_conn_hold(c, sel);
    if (rw == -EINVAL || rs == -EINVAL) {
        api_respond_status(c, 400, NULL, "BadRequest",
                           "Unable to decode query: bad percent-encoding in %s",
                           rw == -EINVAL ? "watch" : "fieldSelector");
        return;
    }
    if (query_flag(watch)) {
        api_respond_status(c, 400, NULL, "BadRequest",
                           "watching events is not supported by this node agent; list them "
                           "instead (GET without watch=true)");
        return;
    }
    mk_err err = {0};
    cJSON *j = agent_api_event_list(api_conn_agent(c), ns, sel, &err);
    if (!j)
        api_respond_mkerr(c, &err);
    else
        api_respond_json(c, 200, j);
}

/* ---- routing and auth ---- */

#define GET  API_METHOD(HTTP_GET)
#define POST API_METHOD(HTTP_POST)

static const api_route routes[] = {
    {"/healthz", GET, h_healthz, false},
    {"/pods", GET, h_pods, false},
    {"/api/v1/pods", GET, h_pods, false},
    {"/api/v1/namespaces/{ns}/pods", GET, h_ns_pods, false},
    {"/api/v1/namespaces/{ns}/pods/{name}", GET, h_pod, false},
    {"/api/v1/events", GET, h_events, false},
    {"/api/v1/namespaces/{ns}/events", GET, h_events, false},
    {"/containerLogs/{ns}/{pod}/{container}", GET, h_logs, false},
    {"/run/{ns}/{pod}/{container}", POST, h_run, true},
    {"/run/{ns}/{pod}/{uid}/{container}", POST, h_run, true},
    {"/top/{ns}/{pod}/{container}", GET, h_top, false},
    {"/inspect/{ns}/{pod}", GET, h_inspect, false},
    {"/manifests", GET, h_manifests, false},
};

static bool token_ok(const api_server *s, const char *authz)
{
    if (!s->has_token || !authz || strncasecmp(authz, "Bearer ", 7) != 0)
        return false;
    const char *t = authz + 7;
    while (*t == ' ')
        t++;
    unsigned char h[MK_SHA256_LEN];
    _Static_assert(sizeof(s->token_hash) == MK_SHA256_LEN, "token hash is a sha256");
    mk_sha256(t, strlen(t), h);
    return CRYPTO_memcmp(h, s->token_hash, sizeof(s->token_hash)) == 0;
}

static void respond_unauthorized(api_conn *c, const char *authz)
{
    const char *hdr = "WWW-Authenticate: Bearer realm=\"mini-kubelet\"\r\n";
    if (authz)
        api_respond_status(c, 401, hdr, "Unauthorized", "invalid bearer token");
    else
        api_respond_status(c, 401, hdr, "Unauthorized",
                           "this endpoint needs \"Authorization: Bearer <token>\" on TCP (the "
                           "token is in the --token-file), or use the unix socket");
}

void api_dispatch(api_conn *c, api_request *req)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    size_t ulen = strlen(req->url);
    if (ulen == 0 || http_parser_parse_url(req->url, ulen, req->method == HTTP_CONNECT, &u) != 0 ||
        !(u.field_set & (1 << UF_PATH))) {
        api_respond_status(c, 400, NULL, "BadRequest", "malformed request target");
        return;
    }
    if (u.field_set & (1 << UF_QUERY)) {
        char *q = xstrndup(req->url + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
        api_conn_hold(c, q);
        req->query = q;
    }
    const char *path = req->url + u.field_data[UF_PATH].off;
    const api_route *rt = NULL;
    uint64_t allow = 0;
    switch (api_route_match(routes, MK_ARRAY_LEN(routes), path, u.field_data[UF_PATH].len,
                            req->method, &rt, req->params, &req->n_params, &allow)) {
    case API_ROUTE_NOT_FOUND:
        api_respond_status(c, 404, NULL, "NotFound",
                           "the server could not find the requested resource");
        return;
    case API_ROUTE_BAD_PATH:
        api_respond_status(c, 400, NULL, "BadRequest", "malformed path: bad percent-encoding");
        return;
    case API_ROUTE_BAD_METHOD: {
        cleanup_free char *methods = api_allow_string(allow);
        cleanup_free char *hdr = xasprintf("Allow: %s\r\n", methods);
        api_respond_status(c, 405, hdr, "MethodNotAllowed", "method %s is not allowed here; use %s",
                           http_method_str(req->method), methods);
        return;
    }
    case API_ROUTE_OK:
        break;
    }
    for (int i = 0; i < req->n_params; i++)
        api_conn_hold(c, req->params[i]);
    if (rt->needs_auth && !api_conn_trusted(c) &&
        !token_ok(api_conn_server(c), req->authorization)) {
        respond_unauthorized(c, req->authorization);
        return;
    }
    rt->handler(c, req);
}
