/* fuzz_agent_events.c - libFuzzer target: the events list with a field selector, which any
 * client reaching the API may send (GET /api/v1/events?fieldSelector=...).
 *
 * A selector either fails with EINVAL and a message, or gives an EventList whose items are a
 * subset of the ring. */
#include "events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sel = xmalloc(size + 1);
    memcpy(sel, data, size);
    sel[size] = '\0';
    agent_events *ev = agent_events_new(4, "node1");
    agent_event_obj a = {.ns = "default", .name = "web", .uid = "u1", .field_path = NULL};
    agent_event_obj b = {
        .ns = "kube", .name = "db", .uid = "u2", .field_path = "spec.containers{x}"};
    agent_events_add(ev, &a, false, "Started", 1000000000, "Started container %s", "web");
    agent_events_add(ev, &b, true, "BackOff", 2000000000, "Back-off %s", "db");
    agent_events_add(ev, &b, true, "BackOff", 3000000000, "Back-off %s", "db");
    mk_err err = {0};
    for (int ns = 0; ns < 2; ns++) {
        cJSON *list = agent_events_list(ev, ns ? "default" : NULL, sel, &err);
        if (!list) {
            if (err.code != EINVAL || !err.msg[0])
                abort();
            continue;
        }
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
        if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) > 2)
            abort();
        cJSON_Delete(list);
    }
    agent_events_free(ev);
    free(sel);
    return 0;
}
