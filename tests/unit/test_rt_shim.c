/* test_rt_shim.c - the real mini-kubelet-shim driven through rt_shim_* (root only).
 *
 * The shim binary: $MK_SHIM_PATH, else mini-kubelet-shim next to this test or one directory
 * up (the build dir). Containers run from a busybox-static rootfs made in a temp dir.
 */
#include "shim_client.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define BUSYBOX    "/bin/busybox"
#define DEADLINE_S 20

typedef struct fixture {
    char tmp[64];
    char run_dir[128];
    char shim[PATH_MAX];
    pid_t shim_pid;
    uv_loop_t loop;
    rt_shim_watch *watch;
    rt_shim_event evs[64];
    size_t n_evs;
    bool gone;
} fixture;

static bool find_shim(char *out, size_t len)
{
    const char *env = getenv("MK_SHIM_PATH");
    if (env) {
        snprintf(out, len, "%s", env);
        return access(out, X_OK) == 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return false;
    self[n] = 0;
    *strrchr(self, '/') = 0;
    const char *rel[] = {"mini-kubelet-shim", "../mini-kubelet-shim"};
    for (size_t i = 0; i < 2; i++) {
        if ((size_t)snprintf(out, len, "%.*s/%s", (int)(len / 2), self, rel[i]) >= len)
            continue;
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

static void on_event(void *arg, const rt_shim_event *ev)
{
    fixture *f = arg;
    if (ev->type == RT_SHIM_EV_GONE)
        f->gone = true;
    if (f->n_evs < 64)
        f->evs[f->n_evs++] = *ev;
}

static const rt_shim_event *find_event(fixture *f, rt_shim_event_type t, const char *id,
                                       uint64_t exec_id)
{
    for (size_t i = 0; i < f->n_evs; i++) {
        const rt_shim_event *e = &f->evs[i];
        if (e->type == t && (!id || strcmp(e->ctr.id, id) == 0) &&
            (!exec_id || e->exec_id == exec_id))
            return e;
    }
    return NULL;
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Run the loop until the event arrives or the deadline passes. */
static const rt_shim_event *wait_event(fixture *f, rt_shim_event_type t, const char *id,
                                       uint64_t exec_id)
{
    bool late = false;
    uv_timer_t timer;
    uv_timer_init(&f->loop, &timer);
    timer.data = &late;
    uv_timer_start(&timer, on_deadline, DEADLINE_S * 1000, 0);
    const rt_shim_event *e;
    while (!(e = find_event(f, t, id, exec_id)) && !late)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return e;
}

static void write_file(const char *path, const char *s)
{
    mk_err err;
    assert_int_equal(mk_write_file_atomic(path, s, strlen(s), 0644, &err), 0);
}

static int setup(void **state)
{
    *state = NULL;
    if (geteuid() != 0) {
        print_message("skipped: needs root\n");
        return 0;
    }
    fixture *f = calloc(1, sizeof(*f));
    if (!find_shim(f->shim, sizeof(f->shim)) || access(BUSYBOX, X_OK) != 0) {
        print_message("error: no mini-kubelet-shim (set MK_SHIM_PATH) or no %s\n", BUSYBOX);
        free(f);
        return -1;
    }
    snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_rt_shim.XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    snprintf(f->run_dir, sizeof(f->run_dir), "%s/run", f->tmp);
    char p[PATH_MAX];
    mk_err err;
    snprintf(p, sizeof(p), "%s/lower/bin", f->tmp);
    assert_int_equal(mk_mkdir_p(p, 0755, &err), 0);
    snprintf(p, sizeof(p), "%s/lower/bin/busybox", f->tmp);
    char *data;
    size_t len;
    assert_int_equal(mk_read_file(BUSYBOX, 64 << 20, &data, &len, &err), 0);
    assert_int_equal(mk_write_file_atomic(p, data, len, 0755, &err), 0);
    free(data);
    const char *dirs[] = {"lower/etc", "lower/proc", "lower/dev", "lower/sys", "lower/tmp", "logs"};
    for (size_t i = 0; i < MK_ARRAY_LEN(dirs); i++) {
        snprintf(p, sizeof(p), "%s/%s", f->tmp, dirs[i]);
        assert_int_equal(mk_mkdir_p(p, 0755, &err), 0);
    }
    snprintf(p, sizeof(p), "%s/lower/etc/passwd", f->tmp);
    write_file(p, "root:x:0:0:root:/root:/bin/sh\n");
    snprintf(p, sizeof(p), "%s/lower/etc/group", f->tmp);
    write_file(p, "root:x:0:\n");
    uv_loop_init(&f->loop);
    *state = f;
    return 0;
}

static bool shim_gone(pid_t pid)
{
    char p[64], buf[512];
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = 0;
    char *rp = strrchr(buf, ')');
    return rp && (rp[2] == 'Z' || rp[2] == 'X');
}

static bool wait_gone(pid_t pid)
{
    int64_t end = mk_monotonic_ns() + (int64_t)DEADLINE_S * 1000000000;
    while (!shim_gone(pid)) {
        if (mk_monotonic_ns() > end)
            return false;
        usleep(10000);
    }
    return true;
}

/* The raw bytes of /proc/<pid>/<name> (up to len), or -1. */
static ssize_t proc_read(pid_t pid, const char *name, char *buf, size_t len)
{
    char p[128];
    snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len);
    close(fd);
    return n;
}

/* The pod's pid 1 re-executes itself as /pause after the shim forked it: wait for that. */
static uint64_t open_fds(pid_t pid);
static void fd_target(pid_t pid, int fd, char *buf, size_t len);

/* Wait until the pod's pid 1 is the paused reaper, settled: exec'ed as /pause, named, and its
 * fds down to stdio on /dev/null and the pipe (it sets these up after the exec; slower under
 * ASan, whose runtime starts again first). */
static bool wait_pause(pid_t pid)
{
    static const char want[] = "/pause"; /* with its NUL: one argument */
    int64_t end = mk_monotonic_ns() + (int64_t)DEADLINE_S * 1000000000;
    for (;;) {
        char buf[256], comm[32];
        ssize_t n = proc_read(pid, "cmdline", buf, sizeof(buf));
        ssize_t c = proc_read(pid, "comm", comm, sizeof(comm));
        bool ready = n == sizeof(want) && memcmp(buf, want, sizeof(want)) == 0 && c == 6 &&
                     memcmp(comm, "pause\n", 6) == 0;
        if (ready && open_fds(pid) == 0xf) {
            fd_target(pid, 2, buf, sizeof(buf));
            if (strcmp(buf, "/dev/null") == 0)
                return true;
        }
        if (mk_monotonic_ns() > end)
            return false;
        usleep(10000);
    }
}

/* The fds of a process: a bit per fd number below 64, and any higher one sets bit 63. */
static uint64_t open_fds(pid_t pid)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(p);
    assert_non_null(d);
    uint64_t set = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            int fd = atoi(de->d_name);
            set |= 1ull << (fd < 63 ? fd : 63);
        }
    closedir(d);
    return set;
}

static void fd_target(pid_t pid, int fd, char *out, size_t len)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t n = readlink(p, out, len - 1);
    assert_true(n > 0);
    out[n] = 0;
}

/* The first child of pid (an orphan the pod's init took over), or 0 by the deadline. */
static pid_t wait_child(pid_t pid)
{
    char name[64], buf[256];
    snprintf(name, sizeof(name), "task/%d/children", (int)pid);
    int64_t end = mk_monotonic_ns() + (int64_t)DEADLINE_S * 1000000000;
    for (;;) {
        ssize_t n = proc_read(pid, name, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = 0;
            return (pid_t)atoi(buf);
        }
        if (mk_monotonic_ns() > end)
            return 0;
        usleep(10000);
    }
}

/* Whether the process left no zombie behind by the deadline: someone waited for it. */
static bool wait_reaped(pid_t pid)
{
    char p[64];
    struct stat st;
    snprintf(p, sizeof(p), "/proc/%d", (int)pid);
    int64_t end = mk_monotonic_ns() + (int64_t)DEADLINE_S * 1000000000;
    while (stat(p, &st) == 0) {
        if (mk_monotonic_ns() > end)
            return false;
        usleep(10000);
    }
    return true;
}

static int teardown(void **state)
{
    fixture *f = *state;
    mk_err err;
    if (!f)
        return 0;
    if (f->watch)
        rt_shim_watch_close(f->watch);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    if (f->shim_pid > 0 && !shim_gone(f->shim_pid)) {
        if (rt_shim_shutdown(f->run_dir, &err) < 0)
            kill(f->shim_pid, SIGKILL);
        wait_gone(f->shim_pid);
    }
    uv_loop_close(&f->loop);
    mk_rm_rf(f->tmp, &err);
    free(f);
    return 0;
}

static void spawn(fixture *f, bool share_pid)
{
    rt_sandbox_config cfg = {
        .shim_path = f->shim,
        .run_dir = f->run_dir,
        .pod_uid = "uid-1",
        .pod_ns = "default",
        .pod_name = "mypod",
        .hostname = "podhost",
        .share_pid = share_pid,
    };
    mk_err err;
    int r = rt_shim_spawn(&cfg, &f->shim_pid, &err);
    if (r < 0)
        fail_msg("rt_shim_spawn: %s", err.msg);
    assert_true(f->shim_pid > 0);
    assert_int_equal(rt_shim_watch_start(&f->loop, f->run_dir, on_event, f, &f->watch, &err), 0);
}

static uint64_t ns_inode(pid_t pid, const char *ns)
{
    char p[64];
    struct stat st;
    snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, ns);
    assert_int_equal(stat(p, &st), 0);
    return st.st_ino;
}

static void ctr_config(fixture *f, rt_container_config *c, const char *name, const char *id,
                       char *const *argv, char *paths[5])
{
    static char *env[] = {"PATH=/bin", "GREETING=hello", NULL};
    const char *sub[] = {"upper", "work", "rootfs"};
    mk_err err;
    for (int i = 0; i < 3; i++) {
        paths[i] = xasprintf("%s/%s/%s", f->tmp, id, sub[i]);
        assert_int_equal(mk_mkdir_p(paths[i], 0755, &err), 0);
    }
    paths[3] = xasprintf("%s/lower", f->tmp);
    paths[4] = xasprintf("%s/logs/%s.log", f->tmp, id);
    static char *lowers[2];
    lowers[0] = paths[3];
    lowers[1] = NULL;
    *c = (rt_container_config){
        .name = name,
        .id = id,
        .lower_dirs = lowers,
        .upper_dir = paths[0],
        .work_dir = paths[1],
        .rootfs_mnt = paths[2],
        .argv = argv,
        .env = env,
        .cwd = "/",
        .user = "",
        .cap_effective = ~0ull >> 23,
        .log_path = paths[4],
    };
}

static void free_paths(char *paths[5])
{
    for (int i = 0; i < 5; i++)
        free(paths[i]);
}

static pid_t start(fixture *f, const char *name, const char *id, char *const *argv, char **log_path)
{
    rt_container_config c;
    char *paths[5];
    ctr_config(f, &c, name, id, argv, paths);
    pid_t pid = 0;
    mk_err err;
    if (rt_shim_start_container(f->run_dir, &c, &pid, &err) < 0)
        fail_msg("start %s: %s", name, err.msg);
    if (log_path)
        *log_path = xstrdup(paths[4]);
    free_paths(paths);
    return pid;
}

static bool log_has(const char *path, const char *needle)
{
    int64_t end = mk_monotonic_ns() + (int64_t)DEADLINE_S * 1000000000;
    for (;;) {
        char *data = NULL;
        size_t len;
        mk_err err;
        bool found = mk_read_file(path, 1 << 20, &data, &len, &err) == 0 && strstr(data, needle);
        free(data);
        if (found)
            return true;
        if (mk_monotonic_ns() > end)
            return false;
        usleep(10000);
    }
}

static void test_sandbox_namespaces(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    spawn(f, false);
    pid_t me = getpid();
    const char *own[] = {"net", "ipc", "uts", "mnt"};
    for (size_t i = 0; i < MK_ARRAY_LEN(own); i++)
        assert_true(ns_inode(f->shim_pid, own[i]) != ns_inode(me, own[i]));
    assert_true(ns_inode(f->shim_pid, "pid") == ns_inode(me, "pid"));
    /* not our child: it survives us and is never our zombie */
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)f->shim_pid);
    char *txt = NULL;
    size_t len;
    mk_err err;
    assert_int_equal(mk_read_file(p, 4096, &txt, &len, &err), 0);
    int ppid = 0;
    sscanf(strrchr(txt, ')') + 2, "%*c %d", &ppid);
    free(txt);
    assert_true(ppid != me);
    /* files */
    char pidf[PATH_MAX];
    snprintf(pidf, sizeof(pidf), "%s/shim.pid", f->run_dir);
    assert_int_equal(mk_read_file(pidf, 64, &txt, &len, &err), 0);
    assert_int_equal(atoi(txt), f->shim_pid);
    free(txt);
    char sock[PATH_MAX];
    snprintf(sock, sizeof(sock), "%s/shim.sock", f->run_dir);
    struct stat st;
    assert_int_equal(stat(sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    rt_shim_status s;
    assert_int_equal(rt_shim_status_get(f->run_dir, &s, &err), 0);
    assert_int_equal(s.shim_pid, f->shim_pid);
    assert_int_equal(s.pod_init_pid, 0);
    assert_int_equal(s.n_ctrs, 0);
    rt_shim_status_free(&s);

    assert_int_equal(rt_shim_shutdown(f->run_dir, &err), 0);
    assert_true(wait_gone(f->shim_pid));
    assert_int_not_equal(access(sock, F_OK), 0);
    assert_int_not_equal(access(pidf, F_OK), 0);
    assert_non_null(wait_event(f, RT_SHIM_EV_GONE, NULL, 0));
}

static void test_container_lifecycle(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    spawn(f, false);
    mk_err err;
    char *argv[] = {"/bin/busybox", "sh", "-c",
                    "echo $GREETING; echo oops >&2; hostname; exec busybox sleep 1000", NULL};
    char *log;
    pid_t pid = start(f, "main", "c0ffee01", argv, &log);
    assert_true(pid > 0);
    const rt_shim_event *e = wait_event(f, RT_SHIM_EV_STARTED, "c0ffee01", 0);
    assert_non_null(e);
    assert_int_equal(e->ctr.pid, pid);
    assert_string_equal(e->ctr.name, "main");
    /* the container shares the pod's net/ipc/uts and has its own mnt and pid */
    const char *shared[] = {"net", "ipc", "uts"};
    for (size_t i = 0; i < 3; i++)
        assert_true(ns_inode(pid, shared[i]) == ns_inode(f->shim_pid, shared[i]));
    assert_true(ns_inode(pid, "mnt") != ns_inode(f->shim_pid, "mnt"));
    assert_true(ns_inode(pid, "pid") != ns_inode(f->shim_pid, "pid"));
    assert_true(log_has(log, " stdout F hello\n"));
    assert_true(log_has(log, " stderr F oops\n"));
    assert_true(log_has(log, " stdout F podhost\n"));

    rt_shim_status s;
    assert_int_equal(rt_shim_status_get(f->run_dir, &s, &err), 0);
    assert_int_equal(s.n_ctrs, 1);
    assert_int_equal(s.ctrs[0].state, RT_CTR_RUNNING);
    assert_int_equal(s.ctrs[0].pid, pid);
    assert_true(s.ctrs[0].started_ns > 0);
    rt_shim_status_free(&s);

    /* removing a running container is refused */
    assert_int_equal(rt_shim_remove(f->run_dir, "c0ffee01", &err), -EBUSY);

    assert_int_equal(rt_shim_signal(f->run_dir, "c0ffee01", SIGKILL, &err), 0);
    e = wait_event(f, RT_SHIM_EV_EXITED, "c0ffee01", 0);
    assert_non_null(e);
    assert_int_equal(e->ctr.signal, SIGKILL);
    assert_int_equal(e->ctr.exit_code, 128 + SIGKILL);
    assert_true(e->ctr.finished_ns >= e->ctr.started_ns);
    assert_int_equal(rt_shim_signal(f->run_dir, "c0ffee01", SIGTERM, &err), -ESRCH);

    char rec[PATH_MAX];
    snprintf(rec, sizeof(rec), "%s/exits/c0ffee01", f->run_dir);
    char *data;
    size_t len;
    assert_int_equal(mk_read_file(rec, 4096, &data, &len, &err), 0);
    assert_non_null(strstr(data, "exit_code=137\n"));
    free(data);

    assert_int_equal(rt_shim_status_get(f->run_dir, &s, &err), 0);
    assert_int_equal(s.n_ctrs, 1);
    assert_int_equal(s.ctrs[0].state, RT_CTR_EXITED);
    rt_shim_status_free(&s);
    assert_int_equal(rt_shim_remove(f->run_dir, "c0ffee01", &err), 0);
    assert_int_equal(rt_shim_remove(f->run_dir, "c0ffee01", &err), -ENOENT);
    assert_int_not_equal(access(rec, F_OK), 0);
    free(log);
}

static void test_exit_code_failure_and_replay(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    spawn(f, false);
    mk_err err;
    /* a start that fails before execve reports the step */
    char *bad[] = {"/bin/nope", NULL};
    rt_container_config c;
    char *paths[5];
    ctr_config(f, &c, "bad", "bad1", bad, paths);
    pid_t pid;
    assert_int_equal(rt_shim_start_container(f->run_dir, &c, &pid, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/bin/nope"));
    free_paths(paths);
    /* ids are checked */
    ctr_config(f, &c, "bad", "../x", bad, paths);
    assert_int_equal(rt_shim_start_container(f->run_dir, &c, &pid, &err), -EINVAL);
    free_paths(paths);

    /* an exit nobody watched is replayed to the next subscriber */
    rt_shim_watch_close(f->watch);
    f->watch = NULL;
    char *three[] = {"/bin/busybox", "sh", "-c", "exit 3", NULL};
    start(f, "three", "e3", three, NULL);
    int64_t end = mk_monotonic_ns() + (int64_t)DEADLINE_S * 1000000000;
    for (;;) { /* poll status until it exited */
        rt_shim_status s;
        assert_int_equal(rt_shim_status_get(f->run_dir, &s, &err), 0);
        bool done = s.n_ctrs == 1 && s.ctrs[0].state == RT_CTR_EXITED;
        if (done)
            assert_int_equal(s.ctrs[0].exit_code, 3);
        rt_shim_status_free(&s);
        if (done)
            break;
        assert_true(mk_monotonic_ns() < end);
        usleep(10000);
    }
    f->n_evs = 0;
    assert_int_equal(rt_shim_watch_start(&f->loop, f->run_dir, on_event, f, &f->watch, &err), 0);
    const rt_shim_event *e = wait_event(f, RT_SHIM_EV_EXITED, "e3", 0);
    assert_non_null(e);
    assert_int_equal(e->ctr.exit_code, 3);
    assert_int_equal(e->ctr.signal, 0);
}

static void test_exec(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    spawn(f, false);
    mk_err err;
    char *argv[] = {"/bin/busybox", "sleep", "1000", NULL};
    pid_t pid = start(f, "main", "ex1", argv, NULL);
    assert_non_null(wait_event(f, RT_SHIM_EV_STARTED, "ex1", 0));

    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    char *cmd[] = {"/bin/busybox", "sh", "-c", "echo in-$GREETING; hostname; exit 7", NULL};
    int fds[3] = {-1, out[1], out[1]};
    uint64_t exec_id = 0;
    pid_t xpid = 0;
    int r = rt_shim_exec(f->run_dir, "ex1", cmd, NULL, fds, &exec_id, &xpid, NULL, &err);
    if (r < 0)
        fail_msg("exec: %s", err.msg);
    close(out[1]);
    assert_true(exec_id > 0 && xpid > 0);
    char buf[256];
    size_t got = 0;
    ssize_t n;
    while ((n = read(out[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    close(out[0]);
    buf[got] = 0;
    assert_string_equal(buf, "in-hello\npodhost\n");
    const rt_shim_event *e = wait_event(f, RT_SHIM_EV_EXEC_EXIT, NULL, exec_id);
    assert_non_null(e);
    assert_int_equal(e->exit_code, 7);

    /* explicit env replaces the container's */
    char *env[] = {"GREETING=bye", NULL};
    char *cmd2[] = {"/bin/busybox", "true", NULL};
    assert_int_equal(rt_shim_exec(f->run_dir, "ex1", cmd2, env, NULL, &exec_id, &xpid, NULL, &err),
                     0);
    e = wait_event(f, RT_SHIM_EV_EXEC_EXIT, NULL, exec_id);
    assert_non_null(e);
    assert_int_equal(e->exit_code, 0);

    /* a command that cannot start: 127, as a shell says; an unknown container: no exit hint */
    char *missing[] = {"/bin/missing", NULL};
    int cmd_exit = -1;
    assert_int_equal(
        rt_shim_exec(f->run_dir, "ex1", missing, NULL, NULL, &exec_id, &xpid, &cmd_exit, &err),
        -ENOENT);
    assert_int_equal(cmd_exit, 127);
    assert_int_equal(
        rt_shim_exec(f->run_dir, "nope", cmd2, NULL, NULL, &exec_id, &xpid, &cmd_exit, &err),
        -ENOENT);
    assert_int_equal(cmd_exit, 0);
    (void)pid;
}

static void test_shared_pid_and_shutdown(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    spawn(f, true);
    mk_err err;
    rt_shim_status s;
    assert_int_equal(rt_shim_status_get(f->run_dir, &s, &err), 0);
    pid_t init = s.pod_init_pid;
    rt_shim_status_free(&s);
    assert_true(init > 0);
    assert_true(ns_inode(init, "pid") != ns_inode(getpid(), "pid"));
    char *argv[] = {"/bin/busybox", "sleep", "1000", NULL};
    pid_t a = start(f, "a", "sa", argv, NULL);
    pid_t b = start(f, "b", "sb", argv, NULL);
    assert_true(ns_inode(a, "pid") == ns_inode(init, "pid"));
    assert_true(ns_inode(b, "pid") == ns_inode(init, "pid"));
    assert_true(ns_inode(a, "mnt") != ns_inode(b, "mnt"));
    assert_true(ns_inode(a, "net") == ns_inode(b, "net"));

    assert_int_equal(rt_shim_shutdown(f->run_dir, &err), 0);
    assert_true(wait_gone(f->shim_pid));
    assert_true(wait_gone(a));
    assert_true(wait_gone(b));
    assert_true(wait_gone(init));
    assert_non_null(wait_event(f, RT_SHIM_EV_GONE, NULL, 0));
    assert_int_equal(rt_shim_status_get(f->run_dir, &s, &err), -ENOENT);
}

/* What a container of a shared pid namespace sees as pid 1: /pause, nothing of the host. */
static void test_pod_init_is_pause(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    spawn(f, true);
    mk_err err;
    rt_shim_status s;
    assert_int_equal(rt_shim_status_get(f->run_dir, &s, &err), 0);
    pid_t init = s.pod_init_pid;
    rt_shim_status_free(&s);
    assert_true(init > 0);
    assert_true(wait_pause(init));
    char buf[PATH_MAX], real[PATH_MAX];
    assert_int_equal(proc_read(init, "comm", buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "pause\n", 6);
    assert_int_equal(proc_read(init, "environ", buf, sizeof(buf)), 0);
    /* pid 1 of its namespace, and still the shim's executable (no pause binary on disk) */
    assert_true(proc_read(init, "status", buf, sizeof(buf) - 1) > 0);
    buf[sizeof(buf) - 1] = 0;
    char *nspid = strstr(buf, "NSpid:");
    assert_non_null(nspid);
    assert_int_equal(atoi(strrchr(strtok(nspid, "\n"), '\t') + 1), 1);
    snprintf(buf, sizeof(buf), "/proc/%d/exe", (int)init);
    ssize_t n = readlink(buf, real, sizeof(real) - 1);
    assert_true(n > 0);
    real[n] = 0;
    assert_non_null(realpath(f->shim, buf));
    assert_string_equal(real, buf);
    /* stdio on /dev/null and the shim's pipe: no log file, socket or directory of the host */
    assert_int_equal(open_fds(init), 0xf);
    for (int fd = 0; fd < 3; fd++) {
        fd_target(init, fd, buf, sizeof(buf));
        assert_string_equal(buf, "/dev/null");
    }
    fd_target(init, 3, buf, sizeof(buf));
    assert_memory_equal(buf, "pipe:", 5);

    /* it reaps an orphan of the pod, and dies with the shim even when that gets no chance to
       stop it */
    char *argv[] = {"/bin/busybox", "sh", "-c", "/bin/busybox sleep 1000 & exit 0", NULL};
    start(f, "a", "orph", argv, NULL);
    assert_non_null(wait_event(f, RT_SHIM_EV_EXITED, "orph", 0));
    pid_t orphan = wait_child(init);
    assert_true(orphan > 0);
    assert_int_equal(kill(orphan, SIGKILL), 0);
    assert_true(wait_reaped(orphan));
    assert_int_equal(kill(f->shim_pid, SIGKILL), 0);
    assert_true(wait_gone(f->shim_pid));
    assert_true(wait_gone(init));
}

static void test_sigterm_stops_and_spawn_errors(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    spawn(f, false);
    char *argv[] = {"/bin/busybox", "sleep", "1000", NULL};
    pid_t a = start(f, "a", "t1", argv, NULL);
    assert_int_equal(kill(f->shim_pid, SIGTERM), 0);
    assert_true(wait_gone(f->shim_pid));
    assert_true(wait_gone(a));
    assert_non_null(wait_event(f, RT_SHIM_EV_GONE, NULL, 0));

    /* a run dir the shim cannot use: the reason comes back */
    rt_sandbox_config cfg = {.shim_path = f->shim,
                             .run_dir = f->run_dir,
                             .pod_uid = "u",
                             .pod_ns = "default",
                             .pod_name = "p",
                             .cgroup_procs = (char *[]){"/nonexistent/cgroup.procs", NULL}};
    mk_err err;
    pid_t pid;
    assert_true(rt_shim_spawn(&cfg, &pid, &err) < 0);
    assert_non_null(strstr(err.msg, "/nonexistent/cgroup.procs"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sandbox_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_code_failure_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_pid_and_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pod_init_is_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_stops_and_spawn_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
