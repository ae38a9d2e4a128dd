/* test_agent_api.c - the agent's API glue over a hand-built pod table: snapshots, logs
 * (including follow and cancel), and exec/top/inspect validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crilog.h"
#include "pod.h"
#include "sources.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define T0 1700000000000000000LL

typedef struct fx {
    uv_loop_t loop;
    agent a;
    char tmp[64];
    podspec_pod *spec;
    agent_pod *pod;
} fx;

/* ---- fixture: one pod "default/web" with containers "app" and "side" ---- */

static podspec_pod *make_spec(void)
{
    podspec_pod *p = xcalloc(1, sizeof(*p));
    p->api_version = xstrdup("v1");
    p->kind = xstrdup("Pod");
    p->name = xstrdup("web");
    p->namespace_ = xstrdup("default");
    p->restart_policy = xstrdup("Always");
    p->dns_policy = xstrdup("ClusterFirst");
    p->scheduler_name = xstrdup("default-scheduler");
    p->termination_grace_period_seconds = 30;
    p->n_containers = 2;
    p->containers = xcalloc(2, sizeof(podspec_container));
    const char *names[] = {"app", "side"};
    for (int i = 0; i < 2; i++) {
        podspec_container *c = &p->containers[i];
        c->name = xstrdup(names[i]);
        c->image = xstrdup("busybox");
        c->image_pull_policy = xstrdup("Always");
        c->termination_message_path = xstrdup("/dev/termination-log");
        c->termination_message_policy = xstrdup("File");
    }
    return p;
}

static int fx_setup(void **state)
{
    fx *f = xcalloc(1, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->a.loop = &f->loop;
    f->a.host_ip = "192.0.2.7";
    f->a.cfg.node_name = "node1";
    snprintf(f->tmp, sizeof(f->tmp), "/tmp/mk-agentapi-XXXXXX");
    assert_non_null(mkdtemp(f->tmp));

    agent_pod *pod = xcalloc(1, sizeof(*pod));
    pod->a = &f->a;
    pod->spec = make_spec();
    snprintf(pod->uid, sizeof(pod->uid), "0123456789abcdef0123456789abcdef");
    pod->log_dir = xasprintf("%s/default_web_%s", f->tmp, pod->uid);
    pod->run_dir = xasprintf("%s/run", f->tmp);
    pod->cgroup_rel = xasprintf("pod-%s", pod->uid);
    pod->phase = AGENT_POD_ACTIVE;
    pod->sandbox_ready = true;
    pod->created_ns = pod->seen_ns = pod->start_ns = T0;
    pod->n_ctrs = 2;
    pod->ctrs = xcalloc(2, sizeof(agent_ctr));
    for (int i = 0; i < 2; i++)
        pod->ctrs[i].spec = &pod->spec->containers[i];
    f->a.pods = pod;
    f->pod = pod;
    *state = f;
    return 0;
}

static void rm_tree(const char *dir)
{
    mk_err err = {0};
    assert_int_equal(mk_rm_rf(dir, &err), 0);
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    agent_pod *pod = f->pod;
    /* let every closed handle and finished work item run its callbacks */
    for (int i = 0; i < 1000 && uv_run(&f->loop, UV_RUN_NOWAIT); i++)
        ;
    int closed = uv_loop_close(&f->loop);
    rm_tree(f->tmp); /* first, so a failing test leaves nothing behind */
    podspec_status_free(&pod->status);
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        free(pod->ctrs[i].waiting_reason);
        free(pod->ctrs[i].waiting_message);
        free(pod->ctrs[i].cur.reason);
        free(pod->ctrs[i].cur.message);
    }
    free(pod->ctrs);
    podspec_pod_free(pod->spec);
    free(pod->log_dir);
    free(pod->run_dir);
    free(pod->cgroup_rel);
    free(pod->terminal_phase);
    free(pod);
    free(f);
    assert_int_equal(closed, 0);
    return 0;
}

static void set_run(agent_ctr_run *r, const char *id, int attempt, rt_ctr_state st)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->attempt = attempt;
    r->state = st;
    r->started_ns = T0;
    if (st == RT_CTR_EXITED) {
        r->exit_code = 1;
        r->finished_ns = T0 + 1000000000LL;
    }
}

/* Append CRI records to <log_dir>/<ctr>/<attempt>.log. */
static void log_append(fx *f, const char *ctr, int attempt, const char *records)
{
    char *dir = xasprintf("%s/%s", f->pod->log_dir, ctr);
    mk_err err = {0};
    assert_int_equal(mk_mkdir_p(dir, 0755, &err), 0);
    char *path = xasprintf("%s/%d.log", dir, attempt);
    FILE *fp = fopen(path, "ae");
    assert_non_null(fp);
    fputs(records, fp);
    assert_int_equal(fclose(fp), 0);
    free(path);
    free(dir);
}

static void refresh(fx *f)
{
    agent_status_update(f->pod, T0);
}

/* ---- a log client ---- */

typedef struct client {
    char *text;
    size_t len;
    int done_calls;
    int status;
    mk_err err;
    bool cancel_in_write;
    agent_api_stream *stream;
    int stop_after; /* write returns -1 once this many writes happened (0: never) */
    int writes;
    bool slow;         /* every write returns 1: the agent must wait for a resume */
    bool paused;       /* a write returned 1, no resume since */
    int paused_writes; /* writes that came while paused (must stay 0) */
    size_t max_write;  /* largest single write */
} client;

static int c_write(void *arg, const char *data, size_t len)
{
    client *c = arg;
    c->text = xrealloc(c->text, c->len + len + 1);
    memcpy(c->text + c->len, data, len);
    c->len += len;
    c->text[c->len] = '\0';
    c->writes++;
    c->paused_writes += c->paused;
    c->max_write = len > c->max_write ? len : c->max_write;
    if (c->cancel_in_write) {
        agent_api_stream_cancel(c->stream);
        c->stream = NULL;
    }
    if (c->stop_after && c->writes >= c->stop_after)
        return -1;
    c->paused = c->slow;
    return c->slow ? 1 : 0;
}

static void c_done(void *arg, int status, const mk_err *err)
{
    client *c = arg;
    c->done_calls++;
    c->status = status;
    if (err)
        c->err = *err;
    c->stream = NULL;
}

/* Run the loop until cond(arg) holds or 10 s pass (a missed event fails the test). */
static bool run_until(fx *f, bool (*cond)(void *), void *arg)
{
    int64_t deadline = mk_monotonic_ns() + 10 * 1000000000LL;
    while (!cond(arg)) {
        if (mk_monotonic_ns() > deadline)
            return false;
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    return true;
}

static bool client_done(void *arg)
{
    return ((client *)arg)->done_calls > 0;
}

static bool client_done_or_paused(void *arg)
{
    return ((client *)arg)->done_calls > 0 || ((client *)arg)->paused;
}

static int logs(fx *f, const char *ctr, bool follow, bool previous, client *c, mk_err *err)
{
    agent_api_log_req req = {.ns = "default",
                             .pod = "web",
                             .container = ctr,
                             .follow = follow,
                             .previous = previous,
                             .tail_lines = -1,
                             .limit_bytes = -1};
    return agent_api_logs(&f->a, &req, c_write, c_done, c, &c->stream, err);
}

#define REC(s) "2024-01-01T00:00:00.000000001Z stdout F " s "\n"

static void test_logs_current(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "aaa", 0, RT_CTR_RUNNING);
    refresh(f);
    log_append(f, "app", 0, REC("hello") REC("world"));
    client c = {0};
    mk_err err = {0};
    assert_int_equal(logs(f, "app", false, false, &c, &err), 0);
    assert_int_equal(c.done_calls, 0); /* never synchronously */
    assert_true(run_until(f, client_done, &c));
    assert_int_equal(c.status, 0);
    assert_string_equal(c.text, "hello\nworld\n");
    free(c.text);
}

/* sinceSeconds reaching back before 1970 (up to INT64_MAX) means the whole log; the window's
 * start must not overflow on the way. */
static void test_logs_since_huge(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "aaa", 0, RT_CTR_RUNNING);
    refresh(f);
    log_append(f, "app", 0, REC("hello"));
    const int64_t values[] = {INT64_MAX, 63931528169LL /* sinceTime=0001-01-01T00:00:00Z */};
    for (size_t i = 0; i < MK_ARRAY_LEN(values); i++) {
        client c = {0};
        mk_err err = {0};
        agent_api_log_req req = {.ns = "default",
                                 .pod = "web",
                                 .container = "app",
                                 .tail_lines = -1,
                                 .limit_bytes = -1,
                                 .since_seconds = values[i]};
        assert_int_equal(agent_api_logs(&f->a, &req, c_write, c_done, &c, &c.stream, &err), 0);
        assert_true(run_until(f, client_done, &c));
        assert_int_equal(c.status, 0);
        assert_string_equal(c.text, "hello\n");
        free(c.text);
    }
}

static void test_logs_previous(void **state)
{
    fx *f = *state;
    agent_ctr *app = &f->pod->ctrs[0];
    set_run(&app->prev, "old", 0, RT_CTR_EXITED);
    set_run(&app->cur, "new", 1, RT_CTR_RUNNING);
    app->restart_count = 1;
    refresh(f);
    log_append(f, "app", 0, REC("first life"));
    log_append(f, "app", 1, REC("second life"));
    client c = {0};
    mk_err err = {0};
    assert_int_equal(logs(f, "app", false, true, &c, &err), 0);
    assert_true(run_until(f, client_done, &c));
    assert_string_equal(c.text, "first life\n");
    free(c.text);

    client d = {0};
    assert_int_equal(logs(f, "app", false, false, &d, &err), 0);
    assert_true(run_until(f, client_done, &d));
    assert_string_equal(d.text, "second life\n");
    free(d.text);
}

static void test_logs_previous_in_crash_loop(void **state)
{
    fx *f = *state;
    agent_ctr *app = &f->pod->ctrs[0];
    set_run(&app->cur, "dead", 3, RT_CTR_EXITED);
    app->restart_count = 3;
    app->waiting_reason = xstrdup("CrashLoopBackOff");
    refresh(f);
    log_append(f, "app", 3, REC("crashed"));
    client c = {0};
    mk_err err = {0};
    assert_int_equal(logs(f, "app", false, true, &c, &err), 0);
    assert_true(run_until(f, client_done, &c));
    assert_string_equal(c.text, "crashed\n");
    free(c.text);
    /* without previous, the kubelet serves lastState's log too */
    client d = {0};
    assert_int_equal(logs(f, "app", false, false, &d, &err), 0);
    assert_true(run_until(f, client_done, &d));
    assert_string_equal(d.text, "crashed\n");
    free(d.text);
}

static void test_logs_errors(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "aaa", 0, RT_CTR_RUNNING);
    f->pod->ctrs[1].waiting_reason = xstrdup("ErrImagePull");
    refresh(f);
    client c = {0};
    mk_err err = {0};
    agent_api_log_req req = {.ns = "default", .pod = "nope", .container = "app"};
    assert_int_equal(agent_api_logs(&f->a, &req, c_write, c_done, &c, &c.stream, &err), -ENOENT);
    assert_string_equal(err.msg, "pods \"nope\" not found");
    assert_int_equal(logs(f, "zzz", false, false, &c, &err), -ENOENT);
    assert_string_equal(err.msg, "container \"zzz\" not found in pod \"web\"");
    assert_int_equal(logs(f, "app", false, true, &c, &err), -EINVAL);
    assert_string_equal(err.msg, "previous terminated container \"app\" in pod \"web\" not found");
    assert_int_equal(logs(f, "side", false, false, &c, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "container \"side\" in pod \"web\" is waiting to start: image can't be "
                        "pulled");
    free(f->pod->ctrs[1].waiting_reason);
    f->pod->ctrs[1].waiting_reason = NULL;
    refresh(f);
    assert_int_equal(logs(f, "side", false, false, &c, &err), -EINVAL);
    assert_string_equal(err.msg, "container \"side\" in pod \"web\" is waiting to start: "
                                 "ContainerCreating");
    assert_int_equal(c.done_calls, 0);
    assert_null(c.text);
}

typedef struct follow_probe {
    client *c;
    const char *want;
} follow_probe;

static bool has_text(void *arg)
{
    follow_probe *p = arg;
    return p->c->text && strstr(p->c->text, p->want);
}

static void test_logs_follow(void **state)
{
    fx *f = *state;
    agent_ctr *app = &f->pod->ctrs[0];
    set_run(&app->cur, "run1", 0, RT_CTR_RUNNING);
    refresh(f);
    log_append(f, "app", 0, REC("one"));
    client c = {0};
    mk_err err = {0};
    assert_int_equal(logs(f, "app", true, false, &c, &err), 0);
    follow_probe p = {&c, "one\n"};
    assert_true(run_until(f, has_text, &p));

    /* a record written in two pieces, and a line split into a P and an F record */
    log_append(f, "app", 0, "2024-01-01T00:00:01.000000000Z stderr P t");
    log_append(f, "app", 0, "w\n2024-01-01T00:00:01.000000001Z stderr F o\n");
    p.want = "two\n";
    assert_true(run_until(f, has_text, &p));
    assert_int_equal(c.done_calls, 0);

    /* the instance stops after writing a last line: it is still delivered, then done */
    log_append(f, "app", 0, REC("three"));
    app->cur.state = RT_CTR_EXITED;
    assert_true(run_until(f, client_done, &c));
    assert_int_equal(c.status, 0);
    assert_string_equal(c.text, "one\ntwo\nthree\n");
    free(c.text);
}

static void test_logs_follow_limit(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "run1", 0, RT_CTR_RUNNING);
    refresh(f);
    log_append(f, "app", 0, REC("abc"));
    client c = {0};
    mk_err err = {0};
    agent_api_log_req req = {.ns = "default",
                             .pod = "web",
                             .container = "app",
                             .follow = true,
                             .tail_lines = -1,
                             .limit_bytes = 6};
    assert_int_equal(agent_api_logs(&f->a, &req, c_write, c_done, &c, &c.stream, &err), 0);
    follow_probe p = {&c, "abc\n"};
    assert_true(run_until(f, has_text, &p));
    log_append(f, "app", 0, REC("defgh"));
    assert_true(run_until(f, client_done, &c));
    assert_int_equal(c.status, 0);
    assert_string_equal(c.text, "abc\nde");
    free(c.text);
}

static void test_logs_cancel_in_flight(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "run1", 0, RT_CTR_RUNNING);
    refresh(f);
    log_append(f, "app", 0, REC("x"));
    client c = {0};
    mk_err err = {0};
    /* cancelled while the first read is in the thread pool */
    assert_int_equal(logs(f, "app", true, false, &c, &err), 0);
    agent_api_stream_cancel(c.stream);
    while (uv_run(&f->loop, UV_RUN_NOWAIT))
        ;
    assert_int_equal(c.done_calls, 0);
    assert_null(c.text);

    /* cancelled while following (timer and fs event open) */
    client d = {0};
    assert_int_equal(logs(f, "app", true, false, &d, &err), 0);
    follow_probe p = {&d, "x\n"};
    assert_true(run_until(f, has_text, &p));
    agent_api_stream_cancel(d.stream);
    while (uv_run(&f->loop, UV_RUN_NOWAIT))
        ;
    assert_int_equal(d.done_calls, 0);
    free(d.text);
}

static void test_logs_cancel_from_write(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "run1", 0, RT_CTR_RUNNING);
    refresh(f);
    log_append(f, "app", 0, REC("x"));
    client c = {.cancel_in_write = true};
    mk_err err = {0};
    assert_int_equal(logs(f, "app", true, false, &c, &err), 0);
    follow_probe p = {&c, "x\n"};
    assert_true(run_until(f, has_text, &p));
    while (uv_run(&f->loop, UV_RUN_NOWAIT))
        ;
    assert_int_equal(c.done_calls, 0);
    free(c.text);
}

static void test_logs_client_gone(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "run1", 0, RT_CTR_RUNNING);
    refresh(f);
    log_append(f, "app", 0, REC("x"));
    client c = {.stop_after = 1};
    mk_err err = {0};
    assert_int_equal(logs(f, "app", true, false, &c, &err), 0);
    assert_true(run_until(f, client_done, &c));
    assert_int_equal(c.done_calls, 1);
    assert_int_equal(c.status, -EPIPE);
    free(c.text);
}

/* Run the loop, resuming the client's stream each time it pauses, until cond holds. */
static bool drain_until(fx *f, client *c, bool (*cond)(void *), void *arg)
{
    int64_t deadline = mk_monotonic_ns() + 20 * 1000000000LL;
    while (!cond(arg)) {
        if (mk_monotonic_ns() > deadline)
            return false;
        if (c->paused && c->stream) {
            c->paused = false;
            agent_api_stream_resume(c->stream);
        }
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    return true;
}

/* Append n 250-byte lines starting at number `first`; returns their text as logs show it. */
static char *log_lines(fx *f, int first, int n)
{
    size_t cap = (size_t)n * 300 + 1, len = 0, tlen = 0;
    char *records = xmalloc(cap), *text = xmalloc(cap);
    for (int i = first; i < first + n; i++) {
        char line[251];
        int k = snprintf(line, sizeof(line), "%07d ", i);
        memset(line + k, 'a' + i % 26, sizeof(line) - 1 - (size_t)k);
        line[sizeof(line) - 1] = '\0';
        len += (size_t)snprintf(records + len, cap - len, REC("%s"), line);
        tlen += (size_t)snprintf(text + tlen, cap - tlen, "%s\n", line);
    }
    log_append(f, "app", 0, records);
    free(records);
    return text;
}

static void test_logs_backpressure(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "run1", 0, RT_CTR_EXITED);
    refresh(f);
    char *want = log_lines(f, 0, 8000); /* 2 MB: many chunks */
    client c = {.slow = true};
    mk_err err = {0};
    assert_int_equal(logs(f, "app", false, false, &c, &err), 0);
    /* paused after the first chunk: nothing more happens until resumed */
    assert_true(run_until(f, client_done_or_paused, &c));
    while (uv_run(&f->loop, UV_RUN_NOWAIT))
        ;
    assert_int_equal(c.writes, 1);
    assert_true(drain_until(f, &c, client_done, &c));
    assert_int_equal(c.status, 0);
    assert_true(c.writes > 8000 * 251 / RT_CRILOG_CHUNK);
    assert_true(c.max_write < RT_CRILOG_CHUNK + 251); /* a chunk ends after a line */
    assert_int_equal(c.paused_writes, 0);
    assert_int_equal(c.len, strlen(want));
    assert_memory_equal(c.text, want, c.len);
    free(want);
    free(c.text);

    /* cancelled while paused: no callback, nothing left behind */
    client d = {.slow = true};
    assert_int_equal(logs(f, "app", false, false, &d, &err), 0);
    assert_true(run_until(f, client_done_or_paused, &d));
    agent_api_stream_cancel(d.stream);
    while (uv_run(&f->loop, UV_RUN_NOWAIT))
        ;
    assert_int_equal(d.writes, 1);
    assert_int_equal(d.done_calls, 0);
    free(d.text);
}

static void test_logs_backpressure_follow(void **state)
{
    fx *f = *state;
    agent_ctr *app = &f->pod->ctrs[0];
    set_run(&app->cur, "run1", 0, RT_CTR_RUNNING);
    refresh(f);
    char *want[3] = {log_lines(f, 0, 10)};
    client c = {0};
    mk_err err = {0};
    assert_int_equal(logs(f, "app", true, false, &c, &err), 0);
    follow_probe p = {&c, "0000009 "};
    assert_true(run_until(f, has_text, &p)); /* now following */
    c.slow = true;
    want[1] = log_lines(f, 10, 1000); /* several chunks: the stream pauses after the first */
    assert_true(run_until(f, client_done_or_paused, &c));
    int writes = c.writes;
    want[2] = log_lines(f, 1010, 1000); /* seen (fs event, timer) while paused: not read yet */
    for (int i = 0; i < 3; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(c.writes, writes);
    p.want = "0002009 ";
    assert_true(drain_until(f, &c, has_text, &p));
    app->cur.state = RT_CTR_EXITED;
    assert_true(drain_until(f, &c, client_done, &c));
    assert_int_equal(c.status, 0);
    assert_int_equal(c.paused_writes, 0);
    assert_true(c.max_write < RT_CRILOG_CHUNK + 251); /* a chunk ends after a line */
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(c.text + off, want[i], strlen(want[i]));
        off += strlen(want[i]);
        free(want[i]);
    }
    assert_int_equal(c.len, off);
    free(c.text);
}

static void test_logs_pod_removed_while_following(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "run1", 0, RT_CTR_RUNNING);
    refresh(f);
    log_append(f, "app", 0, REC("x"));
    client c = {0};
    mk_err err = {0};
    assert_int_equal(logs(f, "app", true, false, &c, &err), 0);
    follow_probe p = {&c, "x\n"};
    assert_true(run_until(f, has_text, &p));
    f->a.pods = NULL; /* the pod went away (the record itself is freed by the fixture) */
    assert_true(run_until(f, client_done, &c));
    assert_int_equal(c.status, 0);
    f->a.pods = f->pod;
    free(c.text);
}

/* ---- snapshots ---- */

static const char *jstr(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, k);
    return cJSON_IsString(cur) ? cur->valuestring : NULL;
}

static void test_pod_list(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "aaa", 0, RT_CTR_RUNNING);
    set_run(&f->pod->ctrs[1].cur, "bbb", 0, RT_CTR_RUNNING);
    agent_status_update(f->pod, T0);
    cJSON *list = agent_api_pod_list(&f->a, NULL);
    assert_string_equal(jstr(list, "kind"), "PodList");
    assert_string_equal(jstr(list, "apiVersion"), "v1");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
    assert_int_equal(cJSON_GetArraySize(items), 1);
    const cJSON *pod = cJSON_GetArrayItem(items, 0);
    assert_string_equal(jstr(pod, "metadata.name"), "web");
    assert_string_equal(jstr(pod, "metadata.namespace"), "default");
    assert_string_equal(jstr(pod, "metadata.uid"), f->pod->uid);
    const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(pod, "metadata"), "annotations");
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(ann, "kubernetes.io/config.source")->valuestring, "file");
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(ann, "kubernetes.io/config.hash")->valuestring,
        f->pod->uid);
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ann, "kubernetes.io/config.seen")));
    assert_string_equal(jstr(pod, "metadata.creationTimestamp"), "2023-11-14T22:13:20Z");
    assert_string_equal(jstr(pod, "status.phase"), "Running");
    assert_string_equal(jstr(pod, "status.hostIP"), "192.0.2.7");
    assert_string_equal(jstr(pod, "spec.nodeName"), "node1");
    cJSON_Delete(list);

    list = agent_api_pod_list(&f->a, "other");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "items")), 0);
    cJSON_Delete(list);
    list = agent_api_pod_list(&f->a, "default");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "items")), 1);
    cJSON_Delete(list);

    f->pod->phase = AGENT_POD_STOPPED;
    list = agent_api_pod_list(&f->a, NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "items")), 0);
    cJSON_Delete(list);
}

static void test_pod_get(void **state)
{
    fx *f = *state;
    mk_err err = {0};
    cJSON *pod = agent_api_pod_get(&f->a, "default", "web", &err);
    assert_non_null(pod);
    assert_string_equal(jstr(pod, "status.phase"), "Pending"); /* computed on demand */
    cJSON_Delete(pod);
    assert_null(agent_api_pod_get(&f->a, "default", "nope", &err));
    assert_int_equal(err.code, ENOENT);
    assert_string_equal(err.msg, "pods \"nope\" not found");
    assert_null(agent_api_pod_get(&f->a, "kube-system", "web", &err));
    assert_int_equal(err.code, ENOENT);
}

static void test_manifests(void **state)
{
    fx *f = *state;
    char *pods_ok[] = {"default/web", NULL};
    agent_manifest_file files[2] = {
        {.file = "/m/a.yaml", .state = AGENT_MANIFEST_OK, .pods = pods_ok, .n_pods = 1},
        {.file = "/m/b.yaml",
         .state = AGENT_MANIFEST_ERROR,
         .error = "/m/b.yaml:3:1: spec.containers: required"},
    };
    struct agent_manifests m = {.dir = "/m", .files = files, .n_files = 2};
    f->a.manifests = &m;
    cJSON *j = agent_api_manifests(&f->a);
    f->a.manifests = NULL;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
    assert_int_equal(cJSON_GetArraySize(items), 2);
    const cJSON *a = cJSON_GetArrayItem(items, 0), *b = cJSON_GetArrayItem(items, 1);
    assert_string_equal(jstr(a, "file"), "/m/a.yaml");
    assert_string_equal(jstr(a, "state"), "ok");
    assert_string_equal(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a, "pods"), 0)->valuestring,
        "default/web");
    assert_null(jstr(a, "error"));
    assert_string_equal(jstr(b, "state"), "error");
    assert_string_equal(jstr(b, "error"), "/m/b.yaml:3:1: spec.containers: required");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "pods")), 0);
    cJSON_Delete(j);
}

/* ---- exec, top, inspect: validation ---- */

static void exec_done(void *arg, int status, int exit_code, const char *out, size_t len,
                      const mk_err *err)
{
    (*(int *)arg)++;
}

static void test_exec_validation(void **state)
{
    fx *f = *state;
    int calls = 0;
    mk_err err = {0};
    agent_api_stream *s = NULL;
    char *argv[] = {"true", NULL};
    agent_api_exec_req req = {.ns = "default", .pod = "nope", .container = "app", .argv = argv};
    assert_int_equal(agent_api_exec(&f->a, &req, exec_done, &calls, &s, &err), -ENOENT);
    assert_string_equal(err.msg, "pods \"nope\" not found");
    req.pod = "web";
    req.container = "zzz";
    assert_int_equal(agent_api_exec(&f->a, &req, exec_done, &calls, &s, &err), -ENOENT);
    req.container = "app";
    assert_int_equal(agent_api_exec(&f->a, &req, exec_done, &calls, &s, &err), -EINVAL);
    assert_string_equal(err.msg, "container app is not running");
    set_run(&f->pod->ctrs[0].cur, "aaa", 0, RT_CTR_EXITED);
    assert_int_equal(agent_api_exec(&f->a, &req, exec_done, &calls, &s, &err), -EINVAL);
    char *empty[] = {NULL};
    req.argv = empty;
    assert_int_equal(agent_api_exec(&f->a, &req, exec_done, &calls, &s, &err), -EINVAL);
    assert_null(s);
    assert_int_equal(calls, 0);
}

static void test_exec_no_shim(void **state)
{
    fx *f = *state;
    set_run(&f->pod->ctrs[0].cur, "aaa", 0, RT_CTR_RUNNING);
    int calls = 0;
    mk_err err = {0};
    agent_api_stream *s = NULL;
    char *argv[] = {"true", NULL};
    agent_api_exec_req req = {.ns = "default", .pod = "web", .container = "app", .argv = argv};
    /* no shim listens in run_dir: a clear error, synchronously, and nothing left open */
    int r = agent_api_exec(&f->a, &req, exec_done, &calls, &s, &err);
    assert_true(r < 0);
    assert_non_null(strstr(err.msg, "app"));
    assert_null(s);
    assert_int_equal(calls, 0);
}

static void test_top_validation(void **state)
{
    fx *f = *state;
    mk_err err = {0};
    assert_null(agent_api_top(&f->a, "default", "nope", "app", &err));
    assert_int_equal(err.code, ENOENT);
    assert_null(agent_api_top(&f->a, "default", "web", "zzz", &err));
    assert_int_equal(err.code, ENOENT);
    assert_string_equal(err.msg, "container \"zzz\" not found in pod \"web\"");
    assert_null(agent_api_top(&f->a, "default", "web", "app", &err));
    assert_int_equal(err.code, EINVAL);
    assert_string_equal(err.msg, "container app is not running");
}

static const cJSON *ns_entry(const cJSON *obj, const char *type)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(obj, "namespaces"))
    {
        if (strcmp(jstr(e, "type"), type) == 0)
            return e;
    }
    return NULL;
}

static void test_inspect(void **state)
{
    fx *f = *state;
    mk_err err = {0};
    assert_null(agent_api_inspect(&f->a, "default", "nope", &err));
    assert_int_equal(err.code, ENOENT);

    /* this process stands in for the sandbox and for the running container */
    f->pod->shim_pid = getpid();
    set_run(&f->pod->ctrs[0].cur, "aaa", 0, RT_CTR_RUNNING);
    f->pod->ctrs[0].cur.pid = getpid();
    cJSON *j = agent_api_inspect(&f->a, "default", "web", &err);
    assert_non_null(j);
    assert_string_equal(jstr(j, "uid"), f->pod->uid);
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(j, "sandbox");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(sb, "pid")->valueint, getpid());
    const char *types[] = {"net", "ipc", "uts", "pid", "mnt", "cgroup", "user"};
    for (size_t i = 0; i < MK_ARRAY_LEN(types); i++) {
        const cJSON *e = ns_entry(sb, types[i]);
        assert_non_null(e);
        assert_true(cJSON_GetObjectItemCaseSensitive(e, "inode")->valuedouble > 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "shared")));
    }
    const cJSON *ctrs = cJSON_GetObjectItemCaseSensitive(j, "containers");
    assert_int_equal(cJSON_GetArraySize(ctrs), 2);
    const cJSON *app = cJSON_GetArrayItem(ctrs, 0), *side = cJSON_GetArrayItem(ctrs, 1);
    assert_string_equal(jstr(app, "name"), "app");
    assert_string_equal(jstr(app, "id"), "aaa");
    assert_string_equal(jstr(app, "state"), "running");
    assert_string_equal(jstr(app, "image"), "busybox");
    const cJSON *net = ns_entry(app, "net");
    assert_non_null(net);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(net, "shared")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(net, "host")));
    assert_string_equal(jstr(side, "state"), "waiting");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(side, "pid")->valueint, 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(side, "namespaces")), 0);
    cJSON_Delete(j);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_logs_current),
        T(test_logs_since_huge),
        T(test_logs_previous),
        T(test_logs_previous_in_crash_loop),
        T(test_logs_errors),
        T(test_logs_follow),
        T(test_logs_follow_limit),
        T(test_logs_cancel_in_flight),
        T(test_logs_cancel_from_write),
        T(test_logs_client_gone),
        T(test_logs_backpressure),
        T(test_logs_backpressure_follow),
        T(test_logs_pod_removed_while_following),
        T(test_pod_list),
        T(test_pod_get),
        T(test_manifests),
        T(test_exec_validation),
        T(test_exec_no_shim),
        T(test_top_validation),
        T(test_inspect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
