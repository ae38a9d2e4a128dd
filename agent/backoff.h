/* backoff.h - the kubelet's crash-loop and image-pull backoff (client-go flowcontrol.Backoff
 * with the kubelet's 10-minute reset), as pure functions over one entry, plus Go-style
 * duration text for messages ("10s", "1m20s", "5m0s", "500ms").
 *
 * How it is used for a container: when the newest instance exited at `finished`, ask
 * agent_backoff_in_backoff(b, p, finished, now). If true, wait (CrashLoopBackOff) until the
 * returned time; else call agent_backoff_next(b, p, finished, now) and start the container.
 * So the first restart happens at once, then 10 s, 20 s, 40 s ... 300 s after each exit; an
 * instance that ran longer than the reset period (10 min) starts the sequence again.
 */
#ifndef MK_AGENT_BACKOFF_H
#define MK_AGENT_BACKOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct agent_backoff_policy {
    int64_t initial_ns; /* 10 s */
    int64_t max_ns;     /* 300 s */
    int64_t reset_ns;   /* 600 s: an entry older than this (event - last update) starts over */
} agent_backoff_policy;

typedef struct agent_backoff {
    bool active;            /* false: no entry (never backed off) */
    int64_t period_ns;      /* the current period */
    int64_t last_update_ns; /* when agent_backoff_next last ran (wall clock) */
} agent_backoff;

/* The kubelet's numbers multiplied by scale (> 0). */
agent_backoff_policy agent_backoff_policy_crashloop(double scale);
agent_backoff_policy agent_backoff_policy_image(double scale);

/* True while a start must wait; *until_ns (optional) receives the wall-clock end. */
bool agent_backoff_in_backoff(const agent_backoff *b, const agent_backoff_policy *p,
                              int64_t event_ns, int64_t now_ns, int64_t *until_ns);
/* Record an attempt: the first (or after a reset) sets the initial period, later ones double it
 * up to the maximum. */
void agent_backoff_next(agent_backoff *b, const agent_backoff_policy *p, int64_t event_ns,
                        int64_t now_ns);

/* Go's time.Duration.String() for a non-negative duration. buf >= 32 bytes. */
void agent_format_duration(int64_t ns, char *buf, size_t len);

#endif
