/* events.c - the Event ring: recording with the kubelet correlator's rules, field selectors,
 * and the v1 EventList the API serves.
 *
 * What happens to a recorded event, in order (as client-go's EventCorrelator does it):
 * 1. Similar events are combined. Events about one object with one type and reason but
 *    different messages count as similar. Once 10 different messages have been seen within
 *    10 minutes of each other, further ones are recorded as one event whose message is
 *    "(combined from similar events): <latest message>", so a flapping error cannot flood
 *    the ring.
 * 2. Identical events are counted. An event equal to one in the ring (same object, field
 *    path, type, reason and message; or the same combined event) does not take a new slot:
 *    its count goes up, lastTimestamp moves, and it becomes the newest.
 * 3. Otherwise it takes a new slot, dropping the oldest event when the ring is full.
 * The kubelet's spam filter (a token bucket per object) is not applied: a local ring bounded
 * in size is the better protection here, and dropping events would only hide what happened.
 */
#include "events.h"

#include "agent.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MESSAGE_MAX       1024                 /* bytes, as the API server keeps */
#define SIMILAR_MAX       10                   /* client-go defaultAggregateMaxEvents */
#define SIMILAR_WINDOW_NS (600 * 1000000000LL) /* defaultAggregateIntervalInSeconds */
#define SIMILAR_CACHE_MAX 4096                 /* client-go maxLruCacheEntries */
#define COMBINED_PREFIX   "(combined from similar events): "

typedef struct ev_entry {
    struct ev_entry *prev, *next; /* oldest .. newest */
    char *ns, *pod, *uid;
    char *field_path; /* NULL: about the pod itself */
    bool warning;
    bool combined; /* the combined event of its object/type/reason */
    char *reason, *message;
    char *name; /* metadata.name: "<pod>.<16 hex>" */
    char ev_uid[37];
    int64_t first_ns, last_ns;
    int count;
    uint64_t rv;
} ev_entry;

/* The messages recently seen for one object/type/reason. */
typedef struct similar {
    struct similar *prev, *next; /* most recently used first */
    char *key;
    char *msgs[SIMILAR_MAX];
    size_t n_msgs;
    int64_t last_ns;
} similar;

struct agent_events {
    size_t capacity, n;
    char *node;
    ev_entry *oldest, *newest;
    similar *sim_first, *sim_last;
    size_t n_sim;
    uint64_t rv;           /* bumped by every change; metadata.resourceVersion */
    int64_t last_stamp_ns; /* keeps event names unique */
    uint64_t rng;          /* splitmix64 state for event UIDs */
};

/* ---- small helpers ---- */

static uint64_t next_random(agent_events *ev)
{
    uint64_t z = (ev->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* A version 4 UUID, as the API server assigns to objects. */
static void make_uid(agent_events *ev, char out[37])
{
    uint64_t hi = next_random(ev), lo = next_random(ev);
    hi = (hi & ~UINT64_C(0xf000)) | UINT64_C(0x4000);
    lo = (lo & ~(UINT64_C(0xc) << 60)) | (UINT64_C(0x8) << 60);
    snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
             hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48, lo & UINT64_C(0xffffffffffff));
}

/* Cut s to at most max bytes without splitting a UTF-8 sequence. */
static void truncate_utf8(char *s, size_t max)
{
    if (strlen(s) <= max)
        return;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    s[cut] = '\0';
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* ---- the ring ---- */

agent_events *agent_events_new(size_t capacity, const char *node)
{
    agent_events *ev = xcalloc(1, sizeof(*ev));
    ev->capacity = capacity ? capacity : 1;
    ev->node = xstrdup(node ? node : "");
    ev->rv = 1;
    if (getrandom(&ev->rng, sizeof(ev->rng), GRND_NONBLOCK) != (ssize_t)sizeof(ev->rng))
        ev->rng = (uint64_t)mk_now_ns() ^ ((uint64_t)getpid() << 32);
    return ev;
}

static void entry_free(ev_entry *e)
{
    free(e->ns);
    free(e->pod);
    free(e->uid);
    free(e->field_path);
    free(e->reason);
    free(e->message);
    free(e->name);
    free(e);
}

static void similar_free(similar *s)
{
    for (size_t i = 0; i < s->n_msgs; i++)
        free(s->msgs[i]);
    free(s->key);
    free(s);
}

void agent_events_free(agent_events *ev)
{
    if (!ev)
        return;
    for (ev_entry *e = ev->oldest, *next; e; e = next) {
        next = e->next;
        entry_free(e);
    }
    for (similar *s = ev->sim_first, *next; s; s = next) {
        next = s->next;
        similar_free(s);
    }
    free(ev->node);
    free(ev);
}

size_t agent_events_count(const agent_events *ev)
{
    return ev ? ev->n : 0;
}

static void unlink_entry(agent_events *ev, ev_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        ev->oldest = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        ev->newest = e->prev;
    e->prev = e->next = NULL;
    ev->n--;
}

static void append_entry(agent_events *ev, ev_entry *e)
{
    e->prev = ev->newest;
    e->next = NULL;
    if (ev->newest)
        ev->newest->next = e;
    else
        ev->oldest = e;
    ev->newest = e;
    ev->n++;
}

/* ---- similar events ---- */

static char *similar_key(const agent_event_obj *obj, bool warning, const char *reason)
{
    const char *fp = obj->field_path ? obj->field_path : "";
    return xasprintf("%zu:%s|%zu:%s|%zu:%s|%zu:%s|%d|%s", strlen(obj->ns), obj->ns,
                     strlen(obj->name), obj->name, strlen(obj->uid), obj->uid, strlen(fp), fp,
                     (int)warning, reason);
}

static similar *similar_find(agent_events *ev, const char *key)
{
    for (similar *s = ev->sim_first; s; s = s->next) {
        if (strcmp(s->key, key) != 0)
            continue;
        if (s != ev->sim_first) { /* most recently used first */
            s->prev->next = s->next;
            if (s->next)
                s->next->prev = s->prev;
            else
                ev->sim_last = s->prev;
            s->prev = NULL;
            s->next = ev->sim_first;
            ev->sim_first->prev = s;
            ev->sim_first = s;
        }
        return s;
    }
    return NULL;
}

static similar *similar_add(agent_events *ev, char *key)
{
    similar *s = xcalloc(1, sizeof(*s));
    s->key = key;
    s->next = ev->sim_first;
    if (ev->sim_first)
        ev->sim_first->prev = s;
    else
        ev->sim_last = s;
    ev->sim_first = s;
    if (++ev->n_sim > SIMILAR_CACHE_MAX) {
        similar *old = ev->sim_last;
        ev->sim_last = old->prev;
        ev->sim_last->next = NULL;
        ev->n_sim--;
        similar_free(old);
    }
    return s;
}

/* Note `message` among the similar events; true when the event is to be combined. */
static bool note_similar(agent_events *ev, const agent_event_obj *obj, bool warning,
                         const char *reason, const char *message, int64_t now)
{
    char *key = similar_key(obj, warning, reason);
    similar *s = similar_find(ev, key);
    if (s)
        free(key);
    else
        s = similar_add(ev, key);
    if (now - s->last_ns > SIMILAR_WINDOW_NS) { /* a quiet spell: start over */
        for (size_t i = 0; i < s->n_msgs; i++)
            free(s->msgs[i]);
        s->n_msgs = 0;
    }
    s->last_ns = now;
    bool known = false;
    for (size_t i = 0; i < s->n_msgs && !known; i++)
        known = strcmp(s->msgs[i], message) == 0;
    if (!known)
        s->msgs[s->n_msgs++] = xstrdup(message);
    if (s->n_msgs < SIMILAR_MAX)
        return false;
    free(s->msgs[0]); /* keep the set below the limit, as the kubelet's PopAny does */
    memmove(s->msgs, s->msgs + 1, (s->n_msgs - 1) * sizeof(s->msgs[0]));
    s->n_msgs--;
    return true;
}

/* ---- recording ---- */

static ev_entry *find_same(agent_events *ev, const agent_event_obj *obj, bool warning,
                           const char *reason, const char *message, bool combined)
{
    for (ev_entry *e = ev->newest; e; e = e->prev) {
        if (e->warning != warning || e->combined != combined || strcmp(e->reason, reason) != 0 ||
            strcmp(e->ns, obj->ns) != 0 || strcmp(e->pod, obj->name) != 0 ||
            strcmp(e->uid, obj->uid) != 0 || !str_eq(e->field_path, obj->field_path))
            continue;
        if (combined || strcmp(e->message, message) == 0)
            return e;
    }
    return NULL;
}

static ev_entry *new_entry(agent_events *ev, const agent_event_obj *obj, bool warning,
                           const char *reason, int64_t now)
{
    ev_entry *e = xcalloc(1, sizeof(*e));
    e->ns = xstrdup(obj->ns);
    e->pod = xstrdup(obj->name);
    e->uid = xstrdup(obj->uid);
    e->field_path = xstrdup(obj->field_path);
    e->warning = warning;
    e->reason = xstrdup(reason);
    /* the recorder names events after the object and the time in ns; keep names unique */
    int64_t stamp = now > ev->last_stamp_ns ? now : ev->last_stamp_ns + 1;
    ev->last_stamp_ns = stamp;
    e->name = xasprintf("%s.%016" PRIx64, obj->name, (uint64_t)stamp);
    make_uid(ev, e->ev_uid);
    e->first_ns = now;
    return e;
}

void agent_events_add(agent_events *ev, const agent_event_obj *obj, bool warning,
                      const char *reason, int64_t now_ns, const char *fmt, ...)
{
    if (!ev || !obj || !obj->ns || !obj->name || !reason)
        return;
    agent_event_obj o = *obj;
    if (!o.uid)
        o.uid = "";
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (len < 0)
        abort(); /* only fails without memory */
    truncate_utf8(msg, MESSAGE_MAX);
    bool combined = note_similar(ev, &o, warning, reason, msg, now_ns);
    if (combined) {
        char *c = xasprintf(COMBINED_PREFIX "%s", msg);
        free(msg);
        msg = c;
        truncate_utf8(msg, MESSAGE_MAX);
    }
    ev_entry *e = find_same(ev, &o, warning, reason, msg, combined);
    if (e) {
        unlink_entry(ev, e);
        e->count++;
        free(e->message);
    } else {
        e = new_entry(ev, &o, warning, reason, now_ns);
        e->combined = combined;
        e->count = 1;
        while (ev->n >= ev->capacity) {
            ev_entry *old = ev->oldest;
            unlink_entry(ev, old);
            entry_free(old);
        }
    }
    e->message = msg;
    e->last_ns = now_ns;
    e->rv = ++ev->rv;
    append_entry(ev, e);
}

/* ---- field selectors ---- */

typedef struct sel_term {
    char *field;
    bool negate;
    char *value;
} sel_term;

typedef struct selector {
    sel_term *terms;
    size_t n;
} selector;

static void selector_free(selector *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->terms[i].field);
        free(s->terms[i].value);
    }
    free(s->terms);
    s->terms = NULL;
    s->n = 0;
}

/* The fields the API server lets a selector use on events. */
static const char *const selectable[] = {
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
};

static const char *field_value(const ev_entry *e, const char *field)
{
    if (strcmp(field, "metadata.name") == 0)
        return e->name;
    if (strcmp(field, "metadata.namespace") == 0 || strcmp(field, "involvedObject.namespace") == 0)
        return e->ns;
    if (strcmp(field, "involvedObject.kind") == 0)
        return "Pod";
    if (strcmp(field, "involvedObject.name") == 0)
        return e->pod;
    if (strcmp(field, "involvedObject.uid") == 0)
        return e->uid;
    if (strcmp(field, "involvedObject.apiVersion") == 0)
        return "v1";
    if (strcmp(field, "involvedObject.fieldPath") == 0)
        return e->field_path ? e->field_path : "";
    if (strcmp(field, "reason") == 0)
        return e->reason;
    if (strcmp(field, "type") == 0)
        return e->warning ? "Warning" : "Normal";
    if (strcmp(field, "source") == 0 || strcmp(field, "reportingComponent") == 0)
        return "kubelet";
    return ""; /* involvedObject.resourceVersion: static pods have none */
}

/* A value with its escapes (\\ \, \=) resolved; a bare ',' or '=' is refused. */
static int unescape_value(const char *s, size_t len, char **out, mk_err *err)
{
    char *v = xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ',' || c == '=') {
            free(v);
            return mk_errf(err, EINVAL, "invalid field selector: unescaped character in value: %c",
                           c);
        }
        if (c == '\\') {
            if (i + 1 >= len || (s[i + 1] != '\\' && s[i + 1] != ',' && s[i + 1] != '=')) {
                free(v);
                return mk_errf(err, EINVAL,
                               "invalid field selector: invalid escape sequence: \\%.1s",
                               i + 1 < len ? s + i + 1 : "");
            }
            c = s[++i];
        }
        v[n++] = c;
    }
    v[n] = '\0';
    *out = v;
    return 0;
}

static int parse_term(const char *all, const char *part, size_t len, sel_term *t, mk_err *err)
{
    size_t i = 0, oplen = 0;
    for (; i < len && !oplen; i++) {
        if (part[i] == '!' && i + 1 < len && part[i + 1] == '=')
            oplen = 2, t->negate = true;
        else if (part[i] == '=')
            oplen = i + 1 < len && part[i + 1] == '=' ? 2 : 1;
    }
    if (!oplen)
        return mk_errf(err, EINVAL, "invalid selector: '%s'; can't understand '%.*s'", all,
                       (int)len, part);
    i--; /* the operator starts here */
    t->field = xstrndup(part, i);
    bool known = false;
    for (size_t k = 0; k < MK_ARRAY_LEN(selectable) && !known; k++)
        known = strcmp(selectable[k], t->field) == 0;
    if (!known)
        return mk_errf(err, EINVAL, "field label not supported: %s", t->field);
    return unescape_value(part + i + oplen, len - i - oplen, &t->value, err);
}

/* Parse a field selector: terms separated by unescaped commas, all of which must hold. */
static int parse_selector(const char *s, selector *out, mk_err *err)
{
    *out = (selector){0};
    if (!s || !*s)
        return 0;
    size_t start = 0, len = strlen(s);
    bool escaped = false;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && escaped) {
            escaped = false;
            continue;
        }
        if (i < len && s[i] == '\\') {
            escaped = true;
            continue;
        }
        if (i < len && s[i] != ',')
            continue;
        if (i > start) {
            out->terms = xrealloc(out->terms, (out->n + 1) * sizeof(*out->terms));
            sel_term *t = &out->terms[out->n++];
            *t = (sel_term){0};
            if (parse_term(s, s + start, i - start, t, err) < 0) {
                selector_free(out);
                return -EINVAL;
            }
        }
        start = i + 1;
    }
    return 0;
}

static bool selector_matches(const selector *sel, const ev_entry *e)
{
    for (size_t i = 0; i < sel->n; i++) {
        bool eq = strcmp(field_value(e, sel->terms[i].field), sel->terms[i].value) == 0;
        if (eq == sel->terms[i].negate)
            return false;
    }
    return true;
}

/* ---- JSON ---- */

static void add_time(cJSON *o, const char *key, int64_t ns)
{
    char buf[40];
    mk_format_rfc3339(ns, buf, sizeof(buf));
    cJSON_AddStringToObject(o, key, buf);
}

static cJSON *event_json(const agent_events *ev, const ev_entry *e)
{
    char rv[24];
    snprintf(rv, sizeof(rv), "%" PRIu64, e->rv);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", "Event");
    cJSON_AddStringToObject(j, "apiVersion", "v1");
    cJSON *m = cJSON_AddObjectToObject(j, "metadata");
    cJSON_AddStringToObject(m, "name", e->name);
    cJSON_AddStringToObject(m, "namespace", e->ns);
    cJSON_AddStringToObject(m, "uid", e->ev_uid);
    cJSON_AddStringToObject(m, "resourceVersion", rv);
    add_time(m, "creationTimestamp", e->first_ns);
    cJSON *io = cJSON_AddObjectToObject(j, "involvedObject");
    cJSON_AddStringToObject(io, "kind", "Pod");
    cJSON_AddStringToObject(io, "namespace", e->ns);
    cJSON_AddStringToObject(io, "name", e->pod);
    cJSON_AddStringToObject(io, "uid", e->uid);
    cJSON_AddStringToObject(io, "apiVersion", "v1");
    if (e->field_path)
        cJSON_AddStringToObject(io, "fieldPath", e->field_path);
    cJSON_AddStringToObject(j, "reason", e->reason);
    cJSON_AddStringToObject(j, "message", e->message);
    cJSON *src = cJSON_AddObjectToObject(j, "source");
    cJSON_AddStringToObject(src, "component", "kubelet");
    cJSON_AddStringToObject(src, "host", ev->node);
    add_time(j, "firstTimestamp", e->first_ns);
    add_time(j, "lastTimestamp", e->last_ns);
    cJSON_AddNumberToObject(j, "count", e->count);
    cJSON_AddStringToObject(j, "type", e->warning ? "Warning" : "Normal");
    cJSON_AddNullToObject(j, "eventTime");
    cJSON_AddStringToObject(j, "reportingComponent", "kubelet");
    cJSON_AddStringToObject(j, "reportingInstance", ev->node);
    return j;
}

/* The list; ev may be NULL (no ring yet: an empty list, the selector still checked). */
static cJSON *event_list(const agent_events *ev, const char *ns, const char *field_selector,
                         mk_err *err)
{
    selector sel;
    if (parse_selector(field_selector, &sel, err) < 0)
        return NULL;
    char rv[24];
    snprintf(rv, sizeof(rv), "%" PRIu64, ev ? ev->rv : 1);
    cJSON *list = cJSON_CreateObject();
    cJSON_AddStringToObject(list, "apiVersion", "v1");
    cJSON_AddStringToObject(list, "kind", "EventList");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(list, "metadata"), "resourceVersion", rv);
    cJSON *items = cJSON_AddArrayToObject(list, "items");
    for (const ev_entry *e = ev ? ev->oldest : NULL; e; e = e->next) {
        if (ns && strcmp(ns, e->ns) != 0)
            continue;
        if (selector_matches(&sel, e))
            cJSON_AddItemToArray(items, event_json(ev, e));
    }
    selector_free(&sel);
    return list;
}

cJSON *agent_events_list(const agent_events *ev, const char *ns, const char *field_selector,
                         mk_err *err)
{
    return event_list(ev, ns, field_selector, err);
}

/* ---- the API's door (agent_api.h) ---- */

cJSON *agent_api_event_list(agent *a, const char *ns, const char *field_selector, mk_err *err)
{
    return event_list(a ? a->events : NULL, ns, field_selector, err);
}
