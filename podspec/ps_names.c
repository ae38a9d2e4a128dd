/* ps_names.c - Kubernetes name syntax (DNS-1123 labels and subdomains, qualified names, label
 * values, port names, environment variable names) and the API server's messages for them. */
#include "ps_internal.h"

#include <stdio.h>
#include <string.h>

const char ps_msg_dns1123_label[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

const char ps_msg_dns1123_subdomain[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

static const char msg_qualified_name[] =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n) */
static bool label_syntax(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool podspec_is_dns1123_label(const char *s)
{
    return s && strlen(s) <= 63 && label_syntax(s, strlen(s));
}

bool podspec_is_dns1123_subdomain(const char *s)
{
    if (!s || strlen(s) > 253 || !*s)
        return false;
    for (const char *p = s;;) {
        size_t n = strcspn(p, ".");
        if (!label_syntax(p, n))
            return false;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n) */
static bool name_part_syntax(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

const char *ps_qualified_name_error(const char *s, char *buf, size_t len)
{
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash) {
        if (strchr(slash + 1, '/'))
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                   "'my.name',  or '123-abc', regex used for validation is "
                   "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
                   "prefix and '/' (e.g. 'example.com/MyName')";
        if (slash == s)
            return "prefix part must be non-empty";
        char prefix[512];
        snprintf(prefix, sizeof(prefix), "%.*s", (int)(slash - s), s);
        if (strlen(prefix) > 253) {
            snprintf(buf, len, "prefix part must be no more than 253 characters");
            return buf;
        }
        if (!podspec_is_dns1123_subdomain(prefix)) {
            snprintf(buf, len, "prefix part %s", ps_msg_dns1123_subdomain);
            return buf;
        }
        name = slash + 1;
    }
    if (!*name)
        return "name part must be non-empty";
    if (strlen(name) > 63)
        return "name part must be no more than 63 characters";
    if (!name_part_syntax(name, strlen(name)))
        return msg_qualified_name;
    return NULL;
}

const char *ps_label_value_error(const char *v)
{
    size_t n = strlen(v);
    if (n > 63)
        return "must be no more than 63 characters";
    if (n > 0 && !name_part_syntax(v, n))
        return "a valid label must be an empty string or consist of alphanumeric characters, '-', "
               "'_' or '.', and must start and end with an alphanumeric character (e.g. "
               "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
               "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    return NULL;
}

/* IANA service names, as container port names. */
const char *ps_port_name_error(const char *s)
{
    size_t n = strlen(s);
    if (n > 15)
        return "must be no more than 15 characters";
    bool letter = false;
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
        letter |= s[i] >= 'a' && s[i] <= 'z';
    }
    if (!letter)
        return "must contain at least one letter (a-z)";
    if (strstr(s, "--"))
        return "must not contain consecutive hyphens";
    if (s[0] == '-' || s[n - 1] == '-')
        return "must not begin or end with a hyphen";
    return NULL;
}

const char *ps_env_name_error(const char *s)
{
    if (!*s)
        return "a valid environment variable name must consist only of printable ASCII "
               "characters other than '='";
    for (const char *p = s; *p; p++)
        if (*p < 32 || *p > 126 || *p == '=')
            return "a valid environment variable name must consist only of printable ASCII "
                   "characters other than '='";
    return NULL;
}
