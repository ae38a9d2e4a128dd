/* events.h - Kubernetes Events about pods, kept in a bounded in-memory ring.
 *
 * The agent records what the kubelet records (Pulled, Created, Started, Killing, BackOff,
 * Failed, FailedCreatePodSandBox, ...) and serves them as a v1 EventList at
 * GET /api/v1/events and /api/v1/namespaces/{ns}/events, oldest first (newest last).
 *
 * Like the kubelet's event correlator, an event equal to one already in the ring (same object,
 * field path, type, reason and message) does not take a new slot: its count goes up and its
 * lastTimestamp moves, and it becomes the newest. When the ring is full the oldest event is
 * dropped. Everything here runs on the agent's loop thread.
 */
#ifndef MK_AGENT_EVENTS_H
#define MK_AGENT_EVENTS_H

#include "mk_base.h"

#include <cjson/cJSON.h>

#define AGENT_EVENTS_DEFAULT_CAPACITY 1000

typedef struct agent_events agent_events;

/* `node` is the source host (source.host, reportingInstance). capacity >= 1. */
agent_events *agent_events_new(size_t capacity, const char *node);
void agent_events_free(agent_events *ev);

/* The object an event is about. */
typedef struct agent_event_obj {
    const char *ns, *name, *uid; /* the pod */
    const char *field_path;      /* "spec.containers{nginx}", or NULL for the pod itself */
} agent_event_obj;

/* Record one event. `warning` selects type Warning (else Normal). The message is printf-style
 * and truncated to 1024 bytes, as the API server does. `now_ns` is the wall clock time. */
void agent_events_add(agent_events *ev, const agent_event_obj *obj, bool warning,
                      const char *reason, int64_t now_ns, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* A v1 EventList of the events in namespace `ns` (NULL: all), oldest first, filtered by a
 * Kubernetes field selector (NULL or "": none). Selectors support the fields
 * involvedObject.{kind,namespace,name,uid,fieldPath}, reason, type, source and
 * metadata.{name,namespace}, with =, == and !=, comma-separated (all must hold).
 * An unknown field or malformed selector: NULL with err (EINVAL, message naming it). */
cJSON *agent_events_list(const agent_events *ev, const char *ns, const char *field_selector,
                         mk_err *err);

/* Number of events held (tests). */
size_t agent_events_count(const agent_events *ev);

#endif
