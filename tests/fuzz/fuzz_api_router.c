/* fuzz_api_router.c - libFuzzer target: the HTTP API's path router, percent-decoding and query
 * parsing (api/api_router.c) on arbitrary request targets.
 *
 * Input: byte 0 picks the method, the rest is "<path>[?<query>]". The routes are the API's
 * patterns (as api_handlers.c lists them). Checks: matched parameters are non-empty C strings
 * of at most their segment's length; a decoded string never holds a NUL and is never longer
 * than its encoding. */
#include "api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h_none(api_conn *c, api_request *req)
{
}

#define GET  API_METHOD(HTTP_GET)
#define POST API_METHOD(HTTP_POST)

static const api_route routes[] = {
    {"/healthz", GET, h_none, false},
    {"/pods", GET, h_none, false},
    {"/api/v1/pods", GET, h_none, false},
    {"/api/v1/namespaces/{ns}/pods", GET, h_none, false},
    {"/api/v1/namespaces/{ns}/pods/{name}", GET, h_none, false},
    {"/containerLogs/{ns}/{pod}/{container}", GET, h_none, false},
    {"/run/{ns}/{pod}/{container}", POST, h_none, true},
    {"/run/{ns}/{pod}/{uid}/{container}", POST, h_none, true},
    {"/top/{ns}/{pod}/{container}", GET, h_none, false},
    {"/inspect/{ns}/{pod}", GET, h_none, false},
    {"/manifests", GET, h_none, false},
    {"/{a}/{b}/{c}/{d}", API_METHOD(HTTP_PUT) | API_METHOD(HTTP_DELETE), h_none, false},
};

static const char *const query_names[] = {
    "follow",    "previous", "timestamps", "tailLines", "sinceSeconds", "limitBytes",
    "sinceTime", "stream",   "cmd",        "",          "a b",          "x&y",
};

static void check_decoded(const char *s, size_t enc_len)
{
    size_t n = strlen(s);
    if (n > enc_len)
        abort();
}

static void fuzz_route(const char *path, size_t len, enum http_method m)
{
    const api_route *rt = NULL;
    char *params[API_MAX_PARAMS] = {0};
    int n = -1;
    uint64_t allow = 0;
    api_route_result r =
        api_route_match(routes, MK_ARRAY_LEN(routes), path, len, m, &rt, params, &n, &allow);
    if (r == API_ROUTE_OK) {
        if (!rt || n < 0 || n > API_MAX_PARAMS)
            abort();
        for (int i = 0; i < n; i++) {
            if (!params[i] || !params[i][0])
                abort();
            check_decoded(params[i], len);
        }
        api_params_free(params, n);
    } else if (r == API_ROUTE_BAD_METHOD) {
        if (!allow)
            abort();
        free(api_allow_string(allow));
    } else if (r != API_ROUTE_NOT_FOUND && r != API_ROUTE_BAD_PATH) {
        abort();
    }
}

static void fuzz_query(const char *query, size_t len)
{
    for (size_t i = 0; i < MK_ARRAY_LEN(query_names); i++) {
        char *v = NULL;
        int r = api_query_get(query, query_names[i], &v);
        if (r == 0) {
            check_decoded(v, len);
            free(v);
        } else if (r != -ENOENT && r != -EINVAL) {
            abort();
        }
    }
    for (int plus = 0; plus < 2; plus++) {
        char *d = NULL;
        if (api_percent_decode(query, len, plus, &d) == 0) {
            check_decoded(d, len);
            free(d);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum http_method m = (enum http_method)(data[0] % 34);
    /* the connection hands the router C strings: the target is cut at a NUL */
    char *target = xstrndup((const char *)data + 1, size - 1);
    size_t tlen = strlen(target);
    char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : tlen;
    char *path = xmalloc(plen ? plen : 1); /* exactly the path: reads past it are caught */
    memcpy(path, target, plen);
    fuzz_route(path, plen, m);
    free(path);
    if (q)
        fuzz_query(q + 1, strlen(q + 1));
    else
        fuzz_query(target, tlen);
    free(target);
    return 0;
}
