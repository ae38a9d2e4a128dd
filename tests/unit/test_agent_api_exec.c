/* test_agent_api_exec.c - exec to completion against a stand-in shim: a thread that speaks the
 * shim protocol on <run_dir>/shim.sock, writes to the pipes it is handed and reports the exit
 * on the subscriber connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pod.h"
#include "shim_proto.h"
#include "shim_sock.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef enum {
    FAKE_NORMAL,     /* reply, then the exit event */
    FAKE_EXIT_FIRST, /* the exit event (and another exec's) before the reply */
    FAKE_FLOOD,      /* more than 16 MiB on stdout */
    FAKE_REFUSE,     /* ERR: executable not found */
    FAKE_HOLD,       /* wait for `release` before replying */
} fake_mode;

typedef struct fake_shim {
    char dir[64];
    int lfd;
    int sub_fd;
    fake_mode mode;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool release;
    char got_argv0[64];
    bool bad_request; /* checked on the main thread */
} fake_shim;

/* Runs on the fake shim's thread: no cmocka asserts here (a failure off the main thread
 * aborts the whole process); a peer that already hung up is normal when a test cancels. */
static void send_msg(int fd, const shim_msg *m)
{
    uint8_t buf[SHIM_MSG_MAX];
    size_t len = 0;
    if (shim_msg_encode(m, buf, sizeof(buf), &len) == 0)
        (void)shim_sock_send(fd, buf, len, NULL, 0, 0);
}

/* The subscriber may already have gone (the agent stops watching once it gave up on an exec),
 * so a failed send is not an error here; asserting in this thread would abort the process. */
static void send_exit(fake_shim *f, uint64_t id, int code)
{
    shim_msg ev = {.type = SHIM_EV_EXEC_EXIT};
    ev.u.event.exec_id = id;
    ev.u.event.exit_code = code;
    uint8_t buf[SHIM_MSG_MAX];
    size_t len = 0;
    if (shim_msg_encode(&ev, buf, sizeof(buf), &len) == 0)
        (void)shim_sock_send(f->sub_fd, buf, len, NULL, 0, 0);
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return; /* EPIPE: the reader stopped */
        s += w;
        n -= (size_t)w;
    }
}

static void fake_exec(fake_shim *f, int c, const shim_msg *m, int *fds, int nfds)
{
    snprintf(f->got_argv0, sizeof(f->got_argv0), "%s", m->u.exec.argv[0]);
    if (m->u.exec.fd_mask != 6 || nfds != 2) /* stdout and stderr, no stdin */
        f->bad_request = true;
    shim_msg ok = {.type = SHIM_REP_OK};
    ok.u.reply.pid = 4321;
    ok.u.reply.exec_id = 7;
    if (f->mode == FAKE_REFUSE) {
        shim_msg err = {.type = SHIM_REP_ERR};
        err.u.reply.code = ENOENT;
        err.u.reply.exit_code = 127;
        err.u.reply.msg = "exec nosuch: No such file or directory";
        send_msg(c, &err);
    } else if (f->mode == FAKE_HOLD) {
        pthread_mutex_lock(&f->mu);
        while (!f->release)
            pthread_cond_wait(&f->cv, &f->mu);
        pthread_mutex_unlock(&f->mu);
        send_msg(c, &ok);
    } else if (f->mode == FAKE_EXIT_FIRST) {
        write_all(fds[0], "early\n", 6);
        send_exit(f, 5, 9); /* someone else's exec */
        send_exit(f, 7, 0);
        send_msg(c, &ok);
    } else if (f->mode == FAKE_FLOOD) {
        send_msg(c, &ok);
        char *big = xcalloc(1, 1 << 20);
        memset(big, 'x', 1 << 20);
        for (int i = 0; i < 20; i++)
            write_all(fds[0], big, 1 << 20);
        free(big);
        send_exit(f, 7, 0);
    } else {
        send_msg(c, &ok);
        write_all(fds[0], "hello\n", 6);
        write_all(fds[1], "oops\n", 5);
        write_all(fds[0], "world\n", 6);
        send_exit(f, 7, 3);
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

/* Two connections: SUBSCRIBE (kept open), then EXEC. */
static void *fake_main(void *arg)
{
    fake_shim *f = arg;
    uint8_t buf[SHIM_MSG_MAX];
    for (int k = 0; k < 2; k++) {
        int c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            return NULL;
        int fds[SHIM_EXEC_FDS], nfds = 0;
        ssize_t n = shim_sock_recv(c, buf, sizeof(buf), fds, SHIM_EXEC_FDS, &nfds, 0);
        shim_msg m;
        if (n <= 0 || shim_msg_decode(buf, (size_t)n, &m) < 0) {
            close(c);
            return NULL;
        }
        if (m.type == SHIM_REQ_SUBSCRIBE) {
            shim_msg ok = {.type = SHIM_REP_OK};
            send_msg(c, &ok);
            f->sub_fd = c;
        } else if (m.type == SHIM_REQ_EXEC) {
            fake_exec(f, c, &m, fds, nfds);
            close(c);
        }
        shim_msg_release(&m);
    }
    return NULL;
}

static void fake_start(fake_shim *f, fake_mode mode)
{
    memset(f, 0, sizeof(*f));
    f->mode = mode;
    f->sub_fd = -1;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    snprintf(f->dir, sizeof(f->dir), "/tmp/mk-execfake-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", f->dir, SHIM_SOCK_NAME);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(fake_shim *f)
{
    pthread_mutex_lock(&f->mu);
    f->release = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    shutdown(f->lfd, SHUT_RDWR); /* wakes accept if the agent never connected */
    pthread_join(f->th, NULL);
    assert_false(f->bad_request);
    close(f->lfd);
    if (f->sub_fd >= 0)
        close(f->sub_fd);
    mk_err err = {0};
    assert_int_equal(mk_rm_rf(f->dir, &err), 0);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

/* ---- a pod whose only container runs, with its run dir at the fake shim ---- */

typedef struct fx {
    uv_loop_t loop;
    agent a;
    podspec_pod spec;
    podspec_container ctr;
    agent_pod pod;
    agent_ctr actr;
    fake_shim shim;
} fx;

static fx *fx_new(fake_mode mode)
{
    fx *f = xcalloc(1, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->a.loop = &f->loop;
    fake_start(&f->shim, mode);
    f->spec.name = "web";
    f->spec.namespace_ = "default";
    f->spec.containers = &f->ctr;
    f->spec.n_containers = 1;
    f->ctr.name = "app";
    f->ctr.image = "busybox";
    f->pod.a = &f->a;
    f->pod.spec = &f->spec;
    snprintf(f->pod.uid, sizeof(f->pod.uid), "0123456789abcdef0123456789abcdef");
    f->pod.run_dir = f->shim.dir;
    f->pod.phase = AGENT_POD_ACTIVE;
    f->pod.ctrs = &f->actr;
    f->pod.n_ctrs = 1;
    f->actr.spec = &f->ctr;
    snprintf(f->actr.cur.id, sizeof(f->actr.cur.id), "abc");
    f->actr.cur.state = RT_CTR_RUNNING;
    f->a.pods = &f->pod;
    return f;
}

static void fx_free(fx *f)
{
    fake_stop(&f->shim);
    /* a cancelled step may still run on the thread pool: wait for it (up to 10 s), not for a
     * fixed number of loop turns */
    int64_t deadline = mk_monotonic_ns() + INT64_C(10000000000);
    while (uv_run(&f->loop, UV_RUN_NOWAIT) && mk_monotonic_ns() < deadline)
        usleep(1000);
    int closed = uv_loop_close(&f->loop);
    podspec_status_free(&f->pod.status);
    free(f);
    assert_int_equal(closed, 0);
}

typedef struct result {
    int calls;
    int status;
    int exit_code;
    char *out;
    size_t len;
    mk_err err;
} result;

static void on_done(void *arg, int status, int exit_code, const char *out, size_t len,
                    const mk_err *err)
{
    result *r = arg;
    r->calls++;
    r->status = status;
    r->exit_code = exit_code;
    r->out = out ? xstrndup(out, len) : NULL;
    r->len = len;
    if (err)
        r->err = *err;
}

static bool wait_done(fx *f, result *r)
{
    int64_t deadline = mk_monotonic_ns() + 20 * 1000000000LL;
    while (r->calls == 0) {
        if (mk_monotonic_ns() > deadline)
            return false;
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    return true;
}

static int start(fx *f, result *r, agent_api_stream **s, mk_err *err)
{
    char *argv[] = {"echo", "hi", NULL};
    agent_api_exec_req req = {.ns = "default", .pod = "web", .container = "app", .argv = argv};
    return agent_api_exec(&f->a, &req, on_done, r, s, err);
}

static void test_exec_output_and_code(void **state)
{
    fx *f = fx_new(FAKE_NORMAL);
    result r = {0};
    mk_err err = {0};
    agent_api_stream *s = NULL;
    assert_int_equal(start(f, &r, &s, &err), 0);
    assert_non_null(s);
    assert_int_equal(r.calls, 0);
    assert_true(wait_done(f, &r));
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.exit_code, 3);
    /* stdout first, then stderr: not interleaved */
    assert_string_equal(r.out, "hello\nworld\noops\n");
    assert_string_equal(f->shim.got_argv0, "echo");
    free(r.out);
    fx_free(f);
}

static void test_exec_exit_before_reply(void **state)
{
    fx *f = fx_new(FAKE_EXIT_FIRST);
    result r = {0};
    mk_err err = {0};
    agent_api_stream *s = NULL;
    assert_int_equal(start(f, &r, &s, &err), 0);
    assert_true(wait_done(f, &r));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(r.out, "early\n");
    free(r.out);
    fx_free(f);
}

static void test_exec_output_cap(void **state)
{
    fx *f = fx_new(FAKE_FLOOD);
    result r = {0};
    mk_err err = {0};
    agent_api_stream *s = NULL;
    assert_int_equal(start(f, &r, &s, &err), 0);
    assert_true(wait_done(f, &r));
    assert_int_equal(r.status, -EFBIG);
    assert_non_null(strstr(r.err.msg, "exceeds 16 MiB"));
    assert_null(r.out);
    fx_free(f);
}

/* A command that cannot start is answered like a shell: its reason on stderr, exit 127. */
static void test_exec_refused(void **state)
{
    fx *f = fx_new(FAKE_REFUSE);
    result r = {0};
    mk_err err = {0};
    agent_api_stream *s = NULL;
    assert_int_equal(start(f, &r, &s, &err), 0);
    assert_true(wait_done(f, &r));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.exit_code, 127);
    assert_non_null(r.out);
    assert_non_null(strstr(r.out, "No such file or directory"));
    free(r.out);
    fx_free(f);
}

static void test_exec_cancel_in_flight(void **state)
{
    fx *f = fx_new(FAKE_HOLD);
    result r = {0};
    mk_err err = {0};
    agent_api_stream *s = NULL;
    assert_int_equal(start(f, &r, &s, &err), 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    agent_api_stream_cancel(s); /* the request is still with the shim */
    fx_free(f);                 /* releases the shim, runs the loop dry */
    assert_int_equal(r.calls, 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_output_and_code),  cmocka_unit_test(test_exec_exit_before_reply),
        cmocka_unit_test(test_exec_output_cap),       cmocka_unit_test(test_exec_refused),
        cmocka_unit_test(test_exec_cancel_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
