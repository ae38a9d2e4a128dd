/* events.c - placeholder until the event ring lands. */
#include "events.h"

#include <stdlib.h>

agent_events *agent_events_new(size_t capacity, const char *node)
{
    (void)capacity;
    (void)node;
    return NULL;
}

void agent_events_free(agent_events *ev)
{
    (void)ev;
}

void agent_events_add(agent_events *ev, const agent_event_obj *obj, bool warning,
                      const char *reason, int64_t now_ns, const char *fmt, ...)
{
    (void)ev;
    (void)obj;
    (void)warning;
    (void)reason;
    (void)now_ns;
    (void)fmt;
}
