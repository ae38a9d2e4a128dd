/* Tests for cgroup detection (sample texts) and placement (the real hierarchy, as root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- parsing ---- */

static const char *HYBRID_MI =
    "24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char *HYBRID_PC = "9:name=systemd:/\n8:pids:/\n5:devices:/\n"
                               "4:memory:/process_api/16ab\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n"
                               "0::/\n";

static void test_parse_hybrid(void **state)
{
    rt_cgroup_layout l;
    mk_err err = {0};
    assert_int_equal(rt_cgroup_parse_layout(HYBRID_MI, HYBRID_PC, &l, &err), 0);
    assert_int_equal(l.mode, RT_CGROUP_MODE_HYBRID);
    assert_string_equal(rt_cgroup_mode_name(l.mode), "hybrid");
    assert_int_equal(l.n, 4); /* pids, memory, cpuacct, cpu: no cpuset, devices, systemd */
    assert_string_equal(l.h[0].controllers, "pids");
    assert_string_equal(l.h[0].mount, "/sys/fs/cgroup/pids");
    assert_string_equal(l.h[1].controllers, "memory");
    assert_string_equal(l.h[1].own, "/process_api/16ab");
    assert_string_equal(l.h[1].mount_root, "/");
    assert_string_equal(l.h[2].mount, "/sys/fs/cgroup/cpuacct");
    assert_string_equal(l.h[3].mount, "/sys/fs/cgroup/cpu");
    rt_cgroup_layout_free(&l);
}

static void test_parse_v1_comounted(void **state)
{
    const char *mi = "25 20 0:21 / /cg/cpu\\040x rw - cgroup cgroup rw,nsdelegate,cpu,cpuacct\n"
                     "26 20 0:22 /lxc/c1 /cg/mem rw shared:3 master:1 - cgroup cgroup rw,memory\n"
                     "27 20 0:23 / /cg/pids rw - cgroup cgroup rw,pids,clone_children\n"
                     "28 20 0:24 / /cg/sd rw - cgroup cgroup rw,xattr,name=systemd\n";
    const char *pc = "4:name=systemd:/user.slice\n3:pids:/user.slice/x\n"
                     "2:memory:/lxc/c1/inner\n1:cpu,cpuacct:/a:b\n";
    rt_cgroup_layout l;
    mk_err err = {0};
    assert_int_equal(rt_cgroup_parse_layout(mi, pc, &l, &err), 0);
    assert_int_equal(l.mode, RT_CGROUP_MODE_V1);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.h[0].controllers, "pids");
    assert_string_equal(l.h[0].own, "/user.slice/x");
    assert_string_equal(l.h[1].mount, "/cg/mem");
    assert_string_equal(l.h[1].mount_root, "/lxc/c1");
    assert_string_equal(l.h[2].controllers, "cpu,cpuacct");
    assert_string_equal(l.h[2].mount, "/cg/cpu x"); /* \040 unescaped */
    assert_string_equal(l.h[2].own, "/a:b");
    rt_cgroup_layout_free(&l);
}

static void test_parse_v2(void **state)
{
    const char *mi = "22 1 0:20 / / rw - ext4 /dev/sda1 rw\n"
                     "30 22 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 "
                     "rw,nsdelegate,memory_recursiveprot\n";
    const char *pc = "0::/system.slice/mini-kubelet.service\n";
    rt_cgroup_layout l;
    mk_err err = {0};
    assert_int_equal(rt_cgroup_parse_layout(mi, pc, &l, &err), 0);
    assert_int_equal(l.mode, RT_CGROUP_MODE_V2);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.h[0].controllers, "");
    assert_string_equal(l.h[0].mount, "/sys/fs/cgroup");
    assert_string_equal(l.h[0].own, "/system.slice/mini-kubelet.service");
    rt_cgroup_layout_free(&l);
}

static void test_parse_none(void **state)
{
    rt_cgroup_layout l;
    mk_err err = {0};
    assert_int_equal(
        rt_cgroup_parse_layout("22 1 0:20 / / rw - ext4 /dev/sda1 rw\n", "0::/\n", &l, &err),
        -ENOTSUP);
    assert_non_null(strstr(err.msg, "no usable cgroup hierarchy"));
    /* only a named hierarchy */
    assert_int_equal(
        rt_cgroup_parse_layout("28 20 0:24 / /cg/sd rw - cgroup cgroup rw,name=systemd\n",
                               "1:name=systemd:/\n", &l, &err),
        -ENOTSUP);
}

/* ---- the real hierarchy ---- */

static bool can_run(void)
{
    if (geteuid() != 0 || access("/proc/self/cgroup", R_OK) != 0) {
        fprintf(stderr, "skipping: needs root and cgroups\n");
        return false;
    }
    return true;
}

typedef struct child {
    pid_t pid;
    int go;   /* parent -> child: exit now */
    int done; /* child -> parent: joined (1 byte each) */
} child;

/* What a failed test leaves is removed by the teardown. */
typedef struct fixture {
    pid_t child;
    char dirs[8][700]; /* top directories to remove, deepest first beneath them */
    size_t ndirs;
} fixture;

static int rm_dir_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag == FTW_DP)
        rmdir(path);
    return 0;
}

static int fixture_setup(void **state)
{
    *state = calloc(1, sizeof(fixture));
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *fx = *state;
    if (fx->child > 0) {
        kill(fx->child, SIGKILL);
        waitpid(fx->child, NULL, 0);
    }
    for (size_t i = 0; i < fx->ndirs; i++)
        nftw(fx->dirs[i], rm_dir_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static void fixture_dir(fixture *fx, const char *dir)
{
    assert_true(fx->ndirs < 8);
    snprintf(fx->dirs[fx->ndirs++], sizeof(fx->dirs[0]), "%s", dir);
}

/* A child that joins `rel` by writing "0" to the procs files, reports, and waits. */
static void child_start(fixture *fx, child *c, rt_cgroups *cg, const char *rel)
{
    int p1[2], p2[2];
    assert_int_equal(pipe2(p1, O_CLOEXEC), 0);
    assert_int_equal(pipe2(p2, O_CLOEXEC), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        alarm(60); /* never outlive a broken test */
        close(p1[1]);
        close(p2[0]);
        char **files = rt_cgroup_procs_files(cg, rel);
        char ok = 1;
        for (char **f = files; *f; f++) {
            int fd = open(*f, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, "0", 1) != 1)
                ok = 0;
            if (fd >= 0)
                close(fd);
        }
        if (write(p2[1], &ok, 1) != 1)
            _exit(2);
        char b;
        while (read(p1[0], &b, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    fx->child = c->pid;
    close(p1[0]);
    close(p2[1]);
    c->go = p1[1];
    c->done = p2[0];
    char ok = 0;
    assert_int_equal(read(c->done, &ok, 1), 1);
    assert_int_equal(ok, 1);
}

static void child_stop(fixture *fx, child *c)
{
    close(c->go); /* EOF wakes it */
    int st;
    assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
    fx->child = 0;
    assert_true(WIFEXITED(st));
    close(c->done);
}

static bool proc_cgroup_has(pid_t pid, const char *needle)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void remove_subtree(rt_cgroups *cg)
{
    for (size_t i = 0; i < rt_cgroup_count(cg); i++) {
        char *d = rt_cgroup_dir(cg, i, NULL);
        assert_int_equal(rmdir(d), 0);
        free(d);
    }
}

static void run_lifecycle(fixture *fx, rt_cgroups *cg)
{
    mk_err err = {0};
    assert_int_equal(rt_cgroup_create(cg, "pod-abc/c1", &err), 0);
    assert_int_equal(rt_cgroup_create(cg, "pod-abc/c1", &err), 0); /* idempotent */
    assert_int_equal(rt_cgroup_create(cg, "pod-xyz", &err), 0);
    assert_int_equal(rt_cgroup_create(cg, "../escape", &err), -EINVAL);
    for (size_t i = 0; i < rt_cgroup_count(cg); i++) {
        char *d = rt_cgroup_dir(cg, i, "pod-abc/c1");
        struct stat st;
        assert_int_equal(stat(d, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        free(d);
    }
    char **pods = NULL;
    assert_int_equal(rt_cgroup_list_pods(cg, &pods, &err), 0);
    assert_non_null(pods[0]);
    assert_string_equal(pods[0], "pod-abc");
    assert_string_equal(pods[1], "pod-xyz");
    assert_null(pods[2]);
    for (char **p = pods; *p; p++)
        free(*p);
    free(pods);

    child c;
    child_start(fx, &c, cg, "pod-abc/c1");
    pid_t *pids = NULL;
    size_t n = 0;
    assert_int_equal(rt_cgroup_pids(cg, "pod-abc", &pids, &n, &err), 0);
    assert_int_equal(n, 1); /* once, although it sits in several v1 hierarchies */
    assert_int_equal(pids[0], c.pid);
    free(pids);
    char *disp = rt_cgroup_display_path(cg, "pod-abc/c1");
    char *needle = NULL;
    assert_true(asprintf(&needle, ":%s\n", disp) > 0);
    assert_true(proc_cgroup_has(c.pid, needle));
    free(needle);
    free(disp);

    assert_int_equal(rt_cgroup_remove(cg, "pod-abc", &err), -EBUSY);
    assert_non_null(strstr(err.msg, "still running"));
    assert_int_equal(kill(c.pid, 0), 0); /* nothing was killed */
    child_stop(fx, &c);
    /* the kernel may take a moment to let go of an exited task's cgroup: poll with a deadline */
    int r = -EBUSY;
    for (int64_t end = mk_monotonic_ns() + 5000000000LL; r == -EBUSY && mk_monotonic_ns() < end;)
        r = rt_cgroup_remove(cg, "pod-abc", &err);
    assert_int_equal(r, 0);
    assert_int_equal(rt_cgroup_remove(cg, "pod-abc", &err), 0); /* ENOENT is success */
    assert_int_equal(rt_cgroup_remove(cg, "pod-xyz", &err), 0);
    assert_int_equal(rt_cgroup_list_pods(cg, &pods, &err), 0);
    assert_null(pods[0]);
    free(pods);
}

static void test_real_default_parent(void **state)
{
    if (!can_run())
        skip();
    char subtree[64];
    snprintf(subtree, sizeof(subtree), "mk-test-%d", (int)getpid());
    rt_cgroups *cg = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cgroup_init(NULL, subtree, &cg, &err), 0);
    for (size_t i = 0; i < rt_cgroup_count(cg); i++) {
        char *d = rt_cgroup_dir(cg, i, NULL);
        fixture_dir(*state, d);
        free(d);
    }
    run_lifecycle(*state, cg);
    remove_subtree(cg);
    rt_cgroup_free(cg);
}

static void test_real_cgroup_root(void **state)
{
    if (!can_run())
        skip();
    char root[64];
    snprintf(root, sizeof(root), "/mk-test-root-%d", (int)getpid());
    rt_cgroups *cg = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cgroup_init("relative", "x", &cg, &err), -EINVAL);
    assert_int_equal(rt_cgroup_init(root, "a/b", &cg, &err), -EINVAL);
    assert_int_equal(rt_cgroup_init(root, "sub", &cg, &err), 0);
    char *disp = rt_cgroup_display_path(cg, "pod-1");
    char *want = NULL;
    assert_true(asprintf(&want, "%s/sub/pod-1", root) > 0);
    assert_string_equal(disp, want);
    free(want);
    free(disp);
    for (size_t i = 0; i < rt_cgroup_count(cg); i++) {
        char *d = rt_cgroup_dir(cg, i, NULL);
        *strrchr(d, '/') = '\0';
        fixture_dir(*state, d);
        free(d);
    }
    run_lifecycle(*state, cg);
    for (size_t i = 0; i < rt_cgroup_count(cg); i++) {
        char *d = rt_cgroup_dir(cg, i, NULL);
        assert_int_equal(rmdir(d), 0);
        *strrchr(d, '/') = '\0'; /* the root we created */
        assert_int_equal(rmdir(d), 0);
        free(d);
    }
    rt_cgroup_free(cg);
}

/* The v2 code on a real cgroup2 mount: this host's only cgroup2 mount may hold no controllers
 * (hybrid), which is enough for placement. The test forks so that only a child moves itself
 * into <own>/agent. */
static const char *find_cgroup2(char *buf, size_t len)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024];
    const char *found = NULL;
    while (f && !found && fgets(line, sizeof(line), f)) {
        char point[512], fstype[64];
        char *sep = strstr(line, " - ");
        if (sep && sscanf(line, "%*s %*s %*s %*s %511s", point) == 1 &&
            sscanf(sep + 3, "%63s", fstype) == 1 && strcmp(fstype, "cgroup2") == 0) {
            snprintf(buf, len, "%s", point);
            found = buf;
        }
    }
    if (f)
        fclose(f);
    return found;
}

static void test_real_v2_move_self(void **state)
{
    char mnt[512];
    if (!can_run() || !find_cgroup2(mnt, sizeof(mnt)))
        skip();
    char own[64], own_dir[600];
    snprintf(own, sizeof(own), "/mk-test-v2-%d", (int)getpid());
    snprintf(own_dir, sizeof(own_dir), "%s%s", mnt, own);
    if (mkdir(own_dir, 0755) < 0) {
        fprintf(stderr, "skipping: cannot create %s: %s\n", own_dir, strerror(errno));
        skip();
    }
    fixture_dir(*state, own_dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(60);
        /* pretend this process was started in `own` */
        char procs[700];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", own_dir);
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
            _exit(10);
        close(fd);
        rt_cgroup_hier h = {.controllers = "", .mount = mnt, .mount_root = "/", .own = own};
        rt_cgroup_layout l = {.mode = RT_CGROUP_MODE_V2, .h = &h, .n = 1};
        rt_cgroups *cg = NULL;
        mk_err err = {0};
        if (rt_cgroup_init_layout(&l, NULL, "mk", &cg, &err) < 0)
            _exit(11);
        char want[128];
        snprintf(want, sizeof(want), "0::%s/agent\n", own);
        if (!proc_cgroup_has(getpid(), want))
            _exit(12);
        char *disp = rt_cgroup_display_path(cg, "pod-1");
        snprintf(want, sizeof(want), "%s/mk/pod-1", own);
        if (strcmp(disp, want) != 0)
            _exit(13);
        free(disp);
        if (rt_cgroup_create(cg, "pod-1/c", &err) < 0 || rt_cgroup_remove(cg, "pod-1", &err) < 0)
            _exit(14);
        char *d = rt_cgroup_dir(cg, 0, NULL);
        if (rmdir(d) < 0)
            _exit(15);
        free(d);
        rt_cgroup_free(cg);
        /* back to the root so the test cgroups can go */
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", mnt);
        fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
            _exit(16);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    char leaf[700];
    snprintf(leaf, sizeof(leaf), "%s/agent", own_dir);
    int r1 = rmdir(leaf), r2 = rmdir(own_dir);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(r1, 0);
    assert_int_equal(r2, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_hybrid),
        cmocka_unit_test(test_parse_v1_comounted),
        cmocka_unit_test(test_parse_v2),
        cmocka_unit_test(test_parse_none),
        cmocka_unit_test_setup_teardown(test_real_default_parent, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_real_cgroup_root, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_real_v2_move_self, fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
