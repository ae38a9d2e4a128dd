/* backoff.c - crash-loop and image backoff entries. */
#include "backoff.h"

#include <stdio.h>
#include <string.h>

#define SEC INT64_C(1000000000)

static int64_t scaled(int64_t ns, double scale)
{
    double v = (double)ns * scale;
    if (v < 1e6)
        v = 1e6; /* never below 1 ms */
    return (int64_t)v;
}

agent_backoff_policy agent_backoff_policy_crashloop(double scale)
{
    agent_backoff_policy p = {scaled(10 * SEC, scale), scaled(300 * SEC, scale),
                              scaled(600 * SEC, scale)};
    return p;
}

agent_backoff_policy agent_backoff_policy_image(double scale)
{
    return agent_backoff_policy_crashloop(scale); /* same numbers: 10 s, 300 s */
}

static bool expired(const agent_backoff *b, const agent_backoff_policy *p, int64_t event_ns)
{
    return event_ns - b->last_update_ns > p->reset_ns;
}

bool agent_backoff_in_backoff(const agent_backoff *b, const agent_backoff_policy *p,
                              int64_t event_ns, int64_t now_ns, int64_t *until_ns)
{
    if (!b->active || expired(b, p, event_ns))
        return false;
    int64_t until = event_ns + b->period_ns;
    if (until_ns)
        *until_ns = until;
    return now_ns < until;
}

void agent_backoff_next(agent_backoff *b, const agent_backoff_policy *p, int64_t event_ns,
                        int64_t now_ns)
{
    if (!b->active || expired(b, p, event_ns)) {
        b->period_ns = p->initial_ns;
    } else {
        int64_t d = b->period_ns * 2;
        b->period_ns = d > p->max_ns ? p->max_ns : d;
    }
    b->active = true;
    b->last_update_ns = now_ns;
}

/* Fraction digits of v / unit without trailing zeros, e.g. 1500 ms -> "1.5". */
static int put_frac(char *buf, size_t len, int64_t v, int64_t unit, const char *suffix)
{
    int64_t whole = v / unit, frac = v % unit;
    if (!frac)
        return snprintf(buf, len, "%lld%s", (long long)whole, suffix);
    int digits = 0;
    for (int64_t u = unit; u > 1; u /= 10)
        digits++;
    char f[24];
    if (digits > 18)
        digits = 18;
    snprintf(f, sizeof(f), "%0*lld", digits, (long long)frac);
    size_t fl = strlen(f);
    while (fl > 0 && f[fl - 1] == '0')
        f[--fl] = '\0';
    return snprintf(buf, len, "%lld.%s%s", (long long)whole, f, suffix);
}

void agent_format_duration(int64_t ns, char *buf, size_t len)
{
    if (ns <= 0) {
        snprintf(buf, len, "0s");
        return;
    }
    if (ns < 1000) {
        snprintf(buf, len, "%lldns", (long long)ns);
        return;
    }
    if (ns < 1000000) {
        put_frac(buf, len, ns, 1000, "µs");
        return;
    }
    if (ns < SEC) {
        put_frac(buf, len, ns, 1000000, "ms");
        return;
    }
    int64_t h = ns / (3600 * SEC), m = (ns / (60 * SEC)) % 60;
    int64_t rest = ns % (60 * SEC);
    int n = 0;
    if (h)
        n = snprintf(buf, len, "%lldh%lldm", (long long)h, (long long)m);
    else if (m)
        n = snprintf(buf, len, "%lldm", (long long)m);
    if (n < 0 || (size_t)n >= len)
        return;
    put_frac(buf + n, len - (size_t)n, rest, SEC, "s");
}
