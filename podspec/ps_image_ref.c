/* ps_image_ref.c - image references, normalized the way Docker does it.
 *
 * Grammar (distribution/reference):
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] component ( "/" component )*
 *   domain     := host [ ":" port ]   host := dns-name | "[" ipv6 "]"
 *   component  := alnum ( separator alnum )*   alnum := [a-z0-9]+   separator := [._] | "__" | "-"+
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest     := "sha256:" 64 lower-case hex digits (the only algorithm supported)
 * Normalization: the first component is a domain only when it is "localhost" or contains '.',
 * ':' or an upper-case letter; otherwise the domain is docker.io. index.docker.io becomes
 * docker.io, and single-component docker.io names get "library/". No tag and no digest means
 * ":latest".
 */
#include "podspec.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN  128

bool podspec_is_hex64(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 64;
}

bool podspec_is_sha256_digest(const char *s)
{
    return s && !strncmp(s, "sha256:", 7) && podspec_is_hex64(s + 7);
}

static int bad_ref(mk_err *err, const char *ref, const char *why)
{
    return mk_errf(err, EINVAL, "invalid reference format: \"%s\": %s", ref, why);
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* one path component: alnum+ (sep alnum+)* */
static bool component_valid(const char *s, size_t n)
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
        const char *sep = s + i;
        bool ok = (len == 1 && (*sep == '.' || *sep == '_' || *sep == '-')) ||
                  (len == 2 && sep[0] == '_' && sep[1] == '_');
        if (!ok && len > 0) {
            ok = true;
            for (size_t k = 0; k < len; k++)
                ok = ok && sep[k] == '-';
        }
        if (!ok)
            return false;
        i = j;
    }
    return true;
}

/* dns label: [A-Za-z0-9] ([A-Za-z0-9-]* [A-Za-z0-9])? */
static bool host_label_valid(const char *s, size_t n)
{
    if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool domain_valid(const char *s, size_t n)
{
    size_t hostlen = n;
    const char *colon = NULL;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || close == s + 1)
            return false;
        for (const char *p = s + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':')
                return false;
        hostlen = (size_t)(close - s) + 1;
        if (hostlen < n && s[hostlen] != ':')
            return false;
        colon = hostlen < n ? s + hostlen : NULL;
    } else {
        colon = memchr(s, ':', n);
        if (colon)
            hostlen = (size_t)(colon - s);
        size_t start = 0;
        for (size_t i = 0; i <= hostlen; i++) {
            if (i == hostlen || s[i] == '.') {
                if (!host_label_valid(s + start, i - start))
                    return false;
                start = i + 1;
            }
        }
    }
    if (colon) {
        size_t plen = n - (size_t)(colon - s) - 1;
        if (plen == 0)
            return false;
        for (size_t i = 1; i <= plen; i++)
            if (!isdigit((unsigned char)colon[i]))
                return false;
    }
    return true;
}

static bool tag_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TAG_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = isalnum((unsigned char)c) || c == '_' || (i > 0 && (c == '.' || c == '-'));
        if (!ok)
            return false;
    }
    return true;
}

static int check_digest(const char *ref, const char *d, mk_err *err)
{
    if (podspec_is_sha256_digest(d))
        return 0;
    const char *colon = strchr(d, ':');
    if (!colon || colon == d)
        return bad_ref(err, ref, "digest must look like sha256:<64 hex digits>");
    if (strncmp(d, "sha256:", 7) != 0)
        return mk_errf(err, EINVAL,
                       "invalid reference format: \"%s\": unsupported digest algorithm", ref);
    return bad_ref(err, ref, "sha256 digest must be 64 lower-case hex digits");
}

/* Docker's splitDockerDomain: decides the domain and the remainder (path[:tag]). */
static void split_domain(const char *name, char **domain, char **remainder)
{
    const char *slash = strchr(name, '/');
    bool explicit_domain = false;
    if (slash) {
        size_t n = (size_t)(slash - name);
        explicit_domain = memchr(name, '.', n) || memchr(name, ':', n) ||
                          (n == 9 && !strncmp(name, "localhost", 9));
        for (size_t i = 0; i < n && !explicit_domain; i++)
            explicit_domain = isupper((unsigned char)name[i]);
    }
    if (explicit_domain) {
        *domain = xstrndup(name, (size_t)(slash - name));
        *remainder = xstrdup(slash + 1);
    } else {
        *domain = xstrdup("docker.io");
        *remainder = xstrdup(name);
    }
    if (!strcmp(*domain, "index.docker.io")) {
        free(*domain);
        *domain = xstrdup("docker.io");
    }
    if (!strcmp(*domain, "docker.io") && !strchr(*remainder, '/')) {
        char *r = xasprintf("library/%s", *remainder);
        free(*remainder);
        *remainder = r;
    }
}

static int check_path(const char *ref, const char *path, mk_err *err)
{
    for (const char *p = path; *p; p++)
        if (isupper((unsigned char)*p))
            return bad_ref(err, ref, "repository name must be lowercase");
    const char *start = path;
    for (;;) {
        const char *end = strchr(start, '/');
        size_t n = end ? (size_t)(end - start) : strlen(start);
        if (n == 0)
            return bad_ref(err, ref, "empty path component");
        if (!component_valid(start, n))
            return mk_errf(err, EINVAL,
                           "invalid reference format: \"%s\": path component \"%.*s\" must be "
                           "lower-case letters and digits separated by '.', '_', '__' or '-'",
                           ref, (int)n, start);
        if (!end)
            return 0;
        start = end + 1;
    }
}

static int parse_name(const char *ref, char *name, podspec_image_ref *out, mk_err *err)
{
    char *domain = NULL, *rest = NULL;
    split_domain(name, &domain, &rest);
    /* a ':' after the last '/' separates the tag */
    char *colon = strrchr(rest, ':');
    char *tag = NULL;
    if (colon && !strchr(colon, '/')) {
        *colon = '\0';
        tag = colon + 1;
        if (!tag_valid(tag)) {
            free(domain);
            free(rest);
            return bad_ref(err, ref,
                           "tag must be 1-128 of [A-Za-z0-9_.-] and not start with '.' or '-'");
        }
    }
    int r = 0;
    if (!domain_valid(domain, strlen(domain)))
        r = mk_errf(err, EINVAL, "invalid reference format: \"%s\": invalid registry \"%s\"", ref,
                    domain);
    if (r == 0)
        r = check_path(ref, rest, err);
    if (r == 0 && strlen(domain) + 1 + strlen(rest) > NAME_MAX_LEN)
        r = bad_ref(err, ref, "repository name must not be more than 255 characters");
    if (r == 0) {
        out->domain = MK_STEAL(domain);
        out->path = xstrdup(rest);
        out->tag = xstrdup(tag);
    }
    free(domain);
    free(rest);
    return r;
}

int podspec_image_ref_parse(const char *s, podspec_image_ref *out, mk_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return mk_errf(err, EINVAL,
                       "invalid reference format: repository name must have at least one "
                       "component");
    if (podspec_is_hex64(s))
        return bad_ref(err, s, "cannot specify 64-byte hexadecimal strings as a name");
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return bad_ref(err, s, "contains whitespace or a control character");
    cleanup_free char *name = xstrdup(s);
    char *at = strchr(name, '@');
    const char *digest = NULL;
    if (at) {
        *at = '\0';
        digest = at + 1;
        int r = check_digest(s, digest, err);
        if (r < 0)
            return r;
    }
    if (!*name || name[0] == '/' || name[strlen(name) - 1] == '/')
        return bad_ref(err, s, "repository name must have at least one component");
    int r = parse_name(s, name, out, err);
    if (r < 0)
        return r;
    out->digest = xstrdup(digest);
    if (!out->tag && !out->digest)
        out->tag = xstrdup("latest");
    if (out->tag && out->digest)
        out->full = xasprintf("%s/%s:%s@%s", out->domain, out->path, out->tag, out->digest);
    else if (out->tag)
        out->full = xasprintf("%s/%s:%s", out->domain, out->path, out->tag);
    else
        out->full = xasprintf("%s/%s@%s", out->domain, out->path, out->digest);
    return 0;
}

void podspec_image_ref_free(podspec_image_ref *r)
{
    if (!r)
        return;
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    free(r->full);
    memset(r, 0, sizeof(*r));
}
