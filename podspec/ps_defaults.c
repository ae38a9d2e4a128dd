/* ps_defaults.c - the API server's v1 defaults for a pod, and the image reference syntax the
 * imagePullPolicy default depends on. */
#include "ps_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- image references (docker distribution grammar) -------------------------------------- */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    while (i < n) {
        if (is_lower_alnum(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !is_lower_alnum(s[j]))
            j++;
        size_t len = j - i;
        bool ok = (len == 1 && (s[i] == '.' || s[i] == '_')) ||
                  (len == 2 && s[i] == '_' && s[i + 1] == '_') || strspn(s + i, "-") >= len;
        if (!ok)
            return false;
        i = j;
    }
    return true;
}

/* host[:port], host = domain components or [IPv6] */
static bool domain_ok(const char *s, size_t n)
{
    size_t host_end = n;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        for (const char *p = s + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return false;
        host_end = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon)
            host_end = (size_t)(colon - s);
        for (size_t i = 0; i < host_end;) {
            size_t j = i;
            while (j < host_end && s[j] != '.')
                j++;
            if (j == i || !isalnum((unsigned char)s[i]) || !isalnum((unsigned char)s[j - 1]))
                return false;
            for (size_t k = i; k < j; k++)
                if (!isalnum((unsigned char)s[k]) && s[k] != '-')
                    return false;
            i = j + (j < host_end);
            if (j + 1 == host_end && s[j] == '.')
                return false;
        }
    }
    if (host_end == n)
        return host_end > 0;
    if (s[host_end] != ':' || host_end + 1 == n)
        return false;
    for (size_t i = host_end + 1; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool digest_ok(const char *d)
{
    const char *colon = strchr(d, ':');
    if (!colon || colon == d || !isalpha((unsigned char)d[0]))
        return false;
    for (const char *p = d; p < colon; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_+.", *p))
            return false;
    size_t hex = strlen(colon + 1);
    return hex >= 32 && strspn(colon + 1, "0123456789abcdefABCDEF") == hex;
}

static bool tag_ok(const char *t, size_t n)
{
    if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
            return false;
    return true;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    const char *slash = memchr(s, '/', n);
    const char *path = s;
    if (slash) {
        size_t dl = (size_t)(slash - s);
        bool upper = false;
        for (size_t i = 0; i < dl; i++)
            upper |= isupper((unsigned char)s[i]) != 0;
        if (memchr(s, '.', dl) || memchr(s, ':', dl) || (dl == 9 && !memcmp(s, "localhost", 9)) ||
            upper) {
            if (!domain_ok(s, dl))
                return false;
            path = slash + 1;
        }
    }
    const char *end = s + n;
    while (path <= end) {
        const char *next = memchr(path, '/', (size_t)(end - path));
        size_t len = next ? (size_t)(next - path) : (size_t)(end - path);
        if (!path_component_ok(path, len))
            return false;
        if (!next)
            break;
        path = next + 1;
    }
    return true;
}

bool ps_image_ref_parse(const char *s, const char **tag, size_t *tag_len, bool *has_digest)
{
    *tag = NULL;
    *tag_len = 0;
    *has_digest = false;
    size_t n = strlen(s);
    if (n == 64 && strspn(s, "0123456789abcdef") == 64)
        return false; /* "cannot specify 64-byte hexadecimal strings" */
    const char *at = strchr(s, '@');
    if (at) {
        if (!digest_ok(at + 1))
            return false;
        *has_digest = true;
        n = (size_t)(at - s);
    }
    const char *last_slash = NULL;
    for (const char *p = s; p < s + n; p++)
        if (*p == '/')
            last_slash = p;
    const char *colon =
        memchr(last_slash ? last_slash : s, ':', n - (size_t)((last_slash ? last_slash : s) - s));
    if (colon) {
        if (!tag_ok(colon + 1, (size_t)(s + n - colon - 1)))
            return false;
        *tag = colon + 1;
        *tag_len = (size_t)(s + n - colon - 1);
        n = (size_t)(colon - s);
    }
    return name_ok(s, n);
}

/* ---- defaults ---------------------------------------------------------------------------- */

static void set_default(char **field, const char *value)
{
    if (!*field || !**field) {
        free(*field);
        *field = xstrdup(value);
    }
}

static const char *pull_policy_for(const char *image)
{
    const char *tag;
    size_t tag_len;
    bool digest;
    if (!image || !ps_image_ref_parse(image, &tag, &tag_len, &digest))
        return "IfNotPresent";
    if (!tag && !digest)
        return "Always";
    if (tag && tag_len == 6 && !memcmp(tag, "latest", 6))
        return "Always";
    return "IfNotPresent";
}

static void default_container(podspec_container *ct, bool host_network)
{
    set_default(&ct->image_pull_policy, pull_policy_for(ct->image));
    set_default(&ct->termination_message_path, "/dev/termination-log");
    set_default(&ct->termination_message_policy, "File");
    for (size_t i = 0; i < ct->n_ports; i++) {
        podspec_port *pt = &ct->ports[i];
        set_default(&pt->protocol, "TCP");
        if (host_network && pt->host_port == 0)
            pt->host_port = pt->container_port;
    }
}

void ps_default_pod(podspec_pod *p)
{
    set_default(&p->namespace_, "default");
    set_default(&p->restart_policy, "Always");
    set_default(&p->dns_policy, "ClusterFirst");
    set_default(&p->scheduler_name, "default-scheduler");
    for (size_t i = 0; i < p->n_containers; i++)
        default_container(&p->containers[i], p->host_network);
}

void ps_default_containers(podspec_container *cts, size_t n, bool host_network)
{
    for (size_t i = 0; i < n; i++)
        default_container(&cts[i], host_network);
}
