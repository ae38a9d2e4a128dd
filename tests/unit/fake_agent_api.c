/* fake_agent_api.c - canned pods, a table-driven exec and timer-driven logs for api tests. */
#include "fake_agent_api.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct agent {
    uv_loop_t *loop;
    atomic_int cancels;
    atomic_int live;
    atomic_int pauses, resumes, paused, bad_resumes;
};

typedef enum { S_LOGS, S_EXEC } stream_kind;

struct agent_api_stream {
    uv_timer_t timer;
    agent *a;
    stream_kind kind;
    char container[64];
    bool follow;
    int ticks;
    char *opts;
    agent_api_write_fn write;
    agent_api_done_fn done;
    agent_api_exec_done_fn exec_done;
    void *arg;
    char *out;
    size_t out_len;
    int exit_code, status;
    size_t sent;      /* big: bytes written */
    bool paused, end; /* end: cancelled or done, no callback may come */
};

agent *fake_agent_new(uv_loop_t *loop)
{
    agent *a = xcalloc(1, sizeof(*a));
    a->loop = loop;
    return a;
}

void fake_agent_free(agent *a)
{
    free(a);
}

int fake_agent_cancels(agent *a)
{
    return atomic_load(&a->cancels);
}

int fake_agent_live_streams(agent *a)
{
    return atomic_load(&a->live);
}

int fake_agent_pauses(agent *a)
{
    return atomic_load(&a->pauses);
}

int fake_agent_resumes(agent *a)
{
    return atomic_load(&a->resumes);
}

int fake_agent_paused(agent *a)
{
    return atomic_load(&a->paused);
}

int fake_agent_bad_resumes(agent *a)
{
    return atomic_load(&a->bad_resumes);
}

char fake_big_log_byte(size_t i)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t line = i / 100, col = i % 100;
    return col == 99 ? '\n' : alnum[(line * 7 + col) % (sizeof(alnum) - 1)];
}

/* ---- snapshots ---- */

typedef struct fake_pod {
    const char *ns, *name, *uid;
    const char *containers[6];
} fake_pod;

static const fake_pod pods[] = {
    {"default",
     "mypod",
     "uid-mypod",
     {"mycontainer", "forever", "flood", "broken", "waiting", "big"}},
    {"kube-system", "dns", "uid-dns", {"dns"}},
};

static cJSON *pod_json(const fake_pod *p)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", "Pod");
    cJSON_AddStringToObject(j, "apiVersion", "v1");
    cJSON *m = cJSON_AddObjectToObject(j, "metadata");
    cJSON_AddStringToObject(m, "name", p->name);
    cJSON_AddStringToObject(m, "namespace", p->ns);
    cJSON_AddStringToObject(m, "uid", p->uid);
    cJSON *st = cJSON_AddObjectToObject(j, "status");
    cJSON_AddStringToObject(st, "phase", "Running");
    return j;
}

static const fake_pod *find_pod(const char *ns, const char *name)
{
    for (size_t i = 0; i < MK_ARRAY_LEN(pods); i++)
        if (strcmp(pods[i].ns, ns) == 0 && strcmp(pods[i].name, name) == 0)
            return &pods[i];
    return NULL;
}

static int find_container(const char *ns, const char *pod, const char *ctr, mk_err *err)
{
    const fake_pod *p = find_pod(ns, pod);
    if (!p)
        return mk_errf(err, ENOENT, "pods \"%s\" not found", pod);
    for (size_t i = 0; i < MK_ARRAY_LEN(p->containers) && p->containers[i]; i++)
        if (strcmp(p->containers[i], ctr) == 0)
            return 0;
    return mk_errf(err, ENOENT, "container \"%s\" not found in pod \"%s\"", ctr, pod);
}

cJSON *agent_api_pod_list(agent *a, const char *ns)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", "PodList");
    cJSON_AddStringToObject(j, "apiVersion", "v1");
    cJSON_AddObjectToObject(j, "metadata");
    cJSON *items = cJSON_AddArrayToObject(j, "items");
    for (size_t i = 0; i < MK_ARRAY_LEN(pods); i++)
        if (!ns || strcmp(ns, pods[i].ns) == 0)
            cJSON_AddItemToArray(items, pod_json(&pods[i]));
    return j;
}

cJSON *agent_api_pod_get(agent *a, const char *ns, const char *name, mk_err *err)
{
    const fake_pod *p = find_pod(ns, name);
    if (!p) {
        mk_errf(err, ENOENT, "pods \"%s\" not found", name);
        return NULL;
    }
    return pod_json(p);
}

cJSON *agent_api_manifests(agent *a)
{
    return cJSON_Parse("{\"items\":[{\"file\":\"mypod.yaml\",\"state\":\"ok\","
                       "\"pods\":[\"default/mypod\"]}]}");
}

cJSON *agent_api_top(agent *a, const char *ns, const char *pod, const char *container, mk_err *err)
{
    if (find_container(ns, pod, container, err) < 0)
        return NULL;
    return cJSON_Parse("{\"titles\":[\"PID\",\"USER\",\"TIME\",\"COMMAND\"],\"processes\":["
                       "[\"5317\",\"root\",\"0:00\",\"nginx: master process nginx\"],"
                       "[\"5345\",\"www-data\",\"0:01\",\"nginx: worker process\"]]}");
}

cJSON *agent_api_inspect(agent *a, const char *ns, const char *pod, mk_err *err)
{
    if (!find_pod(ns, pod)) {
        mk_errf(err, ENOENT, "pods \"%s\" not found", pod);
        return NULL;
    }
    return cJSON_Parse("{\"sandbox\":{\"pid\":4242,\"namespaces\":[{\"type\":\"net\","
                       "\"inode\":4026532000,\"shared\":true}]},\"containers\":[]}");
}

/* ---- events ---- */

/* One event per pod ("Started" about its first container). The selector understands only
 * "involvedObject.name=<name>"; anything else is refused as the agent refuses unknown fields. */
cJSON *agent_api_event_list(agent *a, const char *ns, const char *field_selector, mk_err *err)
{
    const char *want = NULL;
    if (field_selector && *field_selector) {
        static const char prefix[] = "involvedObject.name=";
        if (strncmp(field_selector, prefix, sizeof(prefix) - 1) != 0) {
            mk_errf(err, EINVAL, "field label not supported: %s", field_selector);
            return NULL;
        }
        want = field_selector + sizeof(prefix) - 1;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "apiVersion", "v1");
    cJSON_AddStringToObject(j, "kind", "EventList");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(j, "metadata"), "resourceVersion", "7");
    cJSON *items = cJSON_AddArrayToObject(j, "items");
    for (size_t i = 0; i < MK_ARRAY_LEN(pods); i++) {
        const fake_pod *p = &pods[i];
        if ((ns && strcmp(ns, p->ns) != 0) || (want && strcmp(want, p->name) != 0))
            continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "kind", "Event");
        cJSON_AddStringToObject(e, "apiVersion", "v1");
        cJSON *m = cJSON_AddObjectToObject(e, "metadata");
        cJSON_AddStringToObject(m, "name", p->name);
        cJSON_AddStringToObject(m, "namespace", p->ns);
        cJSON *io = cJSON_AddObjectToObject(e, "involvedObject");
        cJSON_AddStringToObject(io, "kind", "Pod");
        cJSON_AddStringToObject(io, "namespace", p->ns);
        cJSON_AddStringToObject(io, "name", p->name);
        cJSON_AddStringToObject(io, "uid", p->uid);
        cJSON_AddStringToObject(e, "reason", "Started");
        cJSON_AddStringToObject(e, "type", "Normal");
        cJSON_AddItemToArray(items, e);
    }
    return j;
}

/* ---- streams ---- */

static agent_api_stream *stream_new(agent *a, stream_kind kind, void *arg)
{
    agent_api_stream *s = xcalloc(1, sizeof(*s));
    s->a = a;
    s->kind = kind;
    s->arg = arg;
    uv_timer_init(a->loop, &s->timer);
    s->timer.data = s;
    atomic_fetch_add(&a->live, 1);
    return s;
}

static void stream_closed(uv_handle_t *h)
{
    agent_api_stream *s = h->data;
    atomic_fetch_sub(&s->a->live, 1);
    free(s->opts);
    free(s->out);
    free(s);
}

static void stream_finish(agent_api_stream *s)
{
    s->end = true;
    if (s->paused)
        atomic_fetch_sub(&s->a->paused, 1);
    s->paused = false;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, stream_closed);
}

void agent_api_stream_cancel(agent_api_stream *s)
{
    if (!s)
        return;
    atomic_fetch_add(&s->a->cancels, 1);
    stream_finish(s);
}

static void big_tick(uv_timer_t *t);

void agent_api_stream_resume(agent_api_stream *s)
{
    if (!s || s->kind != S_LOGS || s->end || !s->paused) {
        if (s)
            atomic_fetch_add(&s->a->bad_resumes, 1);
        return;
    }
    s->paused = false;
    atomic_fetch_sub(&s->a->paused, 1);
    atomic_fetch_add(&s->a->resumes, 1);
    uv_timer_start(&s->timer, big_tick, 0, 1);
}

/* One chunk of the big log per tick; a write's > 0 stops the ticks until resumed. */
static void big_tick(uv_timer_t *t)
{
    agent_api_stream *s = t->data;
    if (s->sent == FAKE_BIG_LOG_BYTES) {
        s->done(s->arg, 0, NULL);
        stream_finish(s);
        return;
    }
    char chunk[FAKE_BIG_CHUNK];
    size_t n =
        FAKE_BIG_LOG_BYTES - s->sent < sizeof(chunk) ? FAKE_BIG_LOG_BYTES - s->sent : sizeof(chunk);
    for (size_t i = 0; i < n; i++)
        chunk[i] = fake_big_log_byte(s->sent + i);
    s->sent += n;
    int r = s->write(s->arg, chunk, n);
    if (r < 0) {
        mk_err err;
        mk_errf(&err, EPIPE, "client went away");
        s->done(s->arg, -EPIPE, &err);
        stream_finish(s);
    } else if (r > 0) {
        s->paused = true;
        atomic_fetch_add(&s->a->pauses, 1);
        atomic_fetch_add(&s->a->paused, 1);
        uv_timer_stop(&s->timer);
    }
}

static void logs_tick(uv_timer_t *t)
{
    agent_api_stream *s = t->data;
    char line[64];
    int n = s->ticks++;
    if (n == 0) {
        if (s->write(s->arg, s->opts, strlen(s->opts)) < 0)
            goto stopped;
        return;
    }
    if (strcmp(s->container, "flood") == 0) {
        static const char block[65536] = {[0 ... 65534] = 'x', [65535] = '\n'};
        if (s->write(s->arg, block, sizeof(block)) < 0)
            goto stopped;
        return;
    }
    if (strcmp(s->container, "forever") == 0) {
        snprintf(line, sizeof(line), "tick %d\n", n);
    } else if (strcmp(s->container, "broken") == 0) {
        mk_err err;
        mk_errf(&err, EIO, "log file vanished");
        s->done(s->arg, -EIO, &err);
        stream_finish(s);
        return;
    } else if (n <= 3 || (s->follow && n <= 6)) {
        snprintf(line, sizeof(line), "%s %d\n", n <= 3 ? "line" : "follow", n <= 3 ? n : n - 3);
    } else {
        s->done(s->arg, 0, NULL);
        stream_finish(s);
        return;
    }
    if (s->write(s->arg, line, strlen(line)) >= 0)
        return;
stopped : /* the client went away: report the end as the agent does */
{
    mk_err err;
    mk_errf(&err, EPIPE, "client went away");
    s->done(s->arg, -EPIPE, &err);
    stream_finish(s);
}
}

int agent_api_logs(agent *a, const agent_api_log_req *req, agent_api_write_fn write,
                   agent_api_done_fn done, void *arg, agent_api_stream **out, mk_err *err)
{
    int r = find_container(req->ns, req->pod, req->container, err);
    if (r < 0)
        return r;
    if (strcmp(req->container, "waiting") == 0)
        return mk_errf(err, EINVAL,
                       "container \"waiting\" in pod \"%s\" is waiting to start: "
                       "ContainerCreating",
                       req->pod);
    agent_api_stream *s = stream_new(a, S_LOGS, arg);
    snprintf(s->container, sizeof(s->container), "%s", req->container);
    s->follow = req->follow;
    s->write = write;
    s->done = done;
    s->opts = xasprintf("opts follow=%d previous=%d timestamps=%d tail=%lld since=%lld "
                        "limit=%lld\n",
                        req->follow, req->previous, req->timestamps, (long long)req->tail_lines,
                        (long long)req->since_seconds, (long long)req->limit_bytes);
    uv_timer_start(&s->timer, strcmp(req->container, "big") == 0 ? big_tick : logs_tick, 0, 1);
    *out = s;
    return 0;
}

/* ---- exec ---- */

static void exec_tick(uv_timer_t *t)
{
    agent_api_stream *s = t->data;
    mk_err err;
    mk_errf(&err, EIO, "exec: executable not found in the container");
    s->exec_done(s->arg, s->status, s->exit_code, s->out, s->out_len, s->status < 0 ? &err : NULL);
    stream_finish(s);
}

static char *join(char *const *argv, const char *sep)
{
    size_t n = 1;
    for (char *const *p = argv; *p; p++)
        n += strlen(*p) + strlen(sep);
    char *s = xcalloc(1, n);
    for (char *const *p = argv; *p; p++) {
        if (p != argv)
            strcat(s, sep);
        strcat(s, *p);
    }
    return s;
}

int agent_api_exec(agent *a, const agent_api_exec_req *req, agent_api_exec_done_fn done, void *arg,
                   agent_api_stream **out, mk_err *err)
{
    int r = find_container(req->ns, req->pod, req->container, err);
    if (r < 0)
        return r;
    agent_api_stream *s = stream_new(a, S_EXEC, arg);
    s->exec_done = done;
    const char *cmd = req->argv[0];
    if (strcmp(cmd, "echo") == 0) {
        char *j = join(req->argv + 1, " ");
        s->out = xasprintf("%s\n", j);
        free(j);
    } else if (strcmp(cmd, "false") == 0) {
        s->exit_code = 1;
    } else if (strcmp(cmd, "both") == 0) {
        s->out = xstrdup("out\nerr\n");
        s->exit_code = 3;
    } else if (strcmp(cmd, "args") == 0) {
        s->out = join(req->argv, "|");
    } else if (strcmp(cmd, "hang") != 0) {
        s->status = -EIO;
    }
    s->out_len = s->out ? strlen(s->out) : 0;
    if (strcmp(cmd, "hang") != 0)
        uv_timer_start(&s->timer, exec_tick, 0, 0);
    *out = s;
    return 0;
}
