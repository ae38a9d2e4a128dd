/* api_router.c - match request paths against patterns with {params}; query strings. */
#include "api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int api_percent_decode(const char *s, size_t len, bool plus_is_space, char **out)
{
    char *d = xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(d);
                return -EINVAL;
            }
            ch = (char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+' && plus_is_space) {
            ch = ' ';
        }
        if (ch == '\0') {
            free(d);
            return -EINVAL;
        }
        d[n++] = ch;
    }
    d[n] = '\0';
    *out = d;
    return 0;
}

void api_params_free(char **params, int n)
{
    for (int i = 0; i < n; i++) {
        free(params[i]);
        params[i] = NULL;
    }
}

/* Length of the next segment of p[0..len) up to '/'. */
static size_t seg_len(const char *p, size_t len)
{
    const char *slash = memchr(p, '/', len);
    return slash ? (size_t)(slash - p) : len;
}

/* Does `path` fit `pattern`, segment by segment? Fills params when it does. 1 match, 0 no,
 * -EINVAL bad encoding in a parameter. */
static int match_one(const char *pattern, const char *path, size_t path_len, char **params,
                     int *n_params)
{
    const char *pp = pattern, *up = path, *uend = path + path_len;
    int np = 0;
    while (*pp && up < uend) {
        if (*pp != '/' || *up != '/')
            goto no;
        pp++;
        up++;
        size_t pl = strcspn(pp, "/");
        size_t ul = seg_len(up, (size_t)(uend - up));
        if (pl >= 2 && pp[0] == '{' && pp[pl - 1] == '}') {
            if (ul == 0 || np >= API_MAX_PARAMS)
                goto no;
            if (api_percent_decode(up, ul, false, &params[np]) < 0) {
                api_params_free(params, np);
                return -EINVAL;
            }
            if (params[np][0] == '\0') {
                free(params[np]);
                goto no;
            }
            np++;
        } else if (pl != ul || memcmp(pp, up, pl) != 0) {
            goto no;
        }
        pp += pl;
        up += ul;
    }
    if (*pp == '\0' && up == uend) {
        *n_params = np;
        return 1;
    }
no:
    api_params_free(params, np);
    return 0;
}

api_route_result api_route_match(const api_route *routes, size_t n, const char *path,
                                 size_t path_len, enum http_method method, const api_route **out,
                                 char **params, int *n_params, uint64_t *allow)
{
    uint64_t allowed = 0;
    *n_params = 0;
    for (size_t i = 0; i < n; i++) {
        char *tmp[API_MAX_PARAMS] = {0};
        int nt = 0;
        int r = match_one(routes[i].pattern, path, path_len, tmp, &nt);
        if (r < 0)
            return API_ROUTE_BAD_PATH;
        if (r == 0)
            continue;
        if (routes[i].methods & API_METHOD(method)) {
            memcpy(params, tmp, sizeof(tmp));
            *n_params = nt;
            *out = &routes[i];
            return API_ROUTE_OK;
        }
        allowed |= routes[i].methods;
        api_params_free(tmp, nt);
    }
    if (allowed) {
        *allow = allowed;
        return API_ROUTE_BAD_METHOD;
    }
    return API_ROUTE_NOT_FOUND;
}

char *api_allow_string(uint64_t methods)
{
    char buf[512];
    size_t off = 0;
    buf[0] = '\0';
    for (int m = 0; m < 64; m++) {
        if (!(methods & API_METHOD(m)))
            continue;
        const char *name = http_method_str((enum http_method)m);
        int w = snprintf(buf + off, sizeof(buf) - off, "%s%s", off ? ", " : "", name);
        if (w < 0 || (size_t)w >= sizeof(buf) - off)
            break;
        off += (size_t)w;
    }
    return xstrdup(buf);
}

int api_query_get(const char *query, const char *name, char **out)
{
    if (!query)
        return -ENOENT;
    size_t nlen = strlen(name);
    const char *p = query;
    while (*p) {
        size_t plen = strcspn(p, "&");
        size_t klen = strcspn(p, "=&");
        char *key = NULL;
        if (api_percent_decode(p, klen, true, &key) < 0)
            return -EINVAL;
        bool hit = strlen(key) == nlen && memcmp(key, name, nlen) == 0;
        free(key);
        if (hit) {
            if (klen == plen)
                return api_percent_decode("", 0, true, out);
            return api_percent_decode(p + klen + 1, plen - klen - 1, true, out);
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    return -ENOENT;
}
