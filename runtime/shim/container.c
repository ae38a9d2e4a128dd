/* container.c - container start inside the freshly cloned child: the ordered step table, and
 * the steps that shape the mount namespace (cgroup, propagation, overlay rootfs, pivot_root)
 * and the process limits. Filesystem contents are in container_fs.c, the process half
 * (user, caps, seccomp, exec) in container_proc.c.
 */
#include "container_int.h"
#include "ctr_overlay.h"
#include "shim_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- cgroup ---- */

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    size_t n = strlen(s);
    ssize_t w;
    do
        w = write(fd, s, n);
    while (w < 0 && errno == EINTR);
    int r = w < 0 ? -errno : ((size_t)w == n ? 0 : -EIO);
    close(fd);
    return r;
}

static int step_cgroup(shim_step_ctx *c)
{
    for (char *const *p = c->ctr->cgroup_procs; p && *p; p++) {
        int r = write_str(*p, "0");
        if (r < 0)
            return shim_step_fail(c, -r, "join %s", *p);
    }
    return 0;
}

/* ---- mount namespace ---- */

static int step_propagation(shim_step_ctx *c)
{
    /* host mounts may still reach us, but nothing we mount goes back to the host */
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return shim_step_fail(c, errno, "make / rslave");
    return 0;
}

/* The kernel's own words about a failed fsconfig (read from the fs context). */
static void fs_log(int fs, char *buf, size_t size)
{
    buf[0] = 0;
    for (;;) {
        char line[512];
        ssize_t n = read(fs, line, sizeof(line) - 1);
        if (n <= 0)
            return;
        line[n] = 0;
        size_t l = strlen(buf);
        snprintf(buf + l, size - l, "%s%s", l ? "; " : "", line);
    }
}

/* New mount API, one "lowerdir+" per layer: no page-size limit on the layer count. Returns 0,
 * 1 when the kernel lacks it (caller falls back), or -1 with c->err set. */
static int overlay_fsopen(shim_step_ctx *c)
{
    const shim_ctr_spec *s = c->ctr;
    int fs = shim_sys_fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs < 0)
        return errno == ENOSYS || errno == EPERM ? 1 : shim_step_fail(c, errno, "fsopen overlay");
    int r = 0;
    if (shim_sys_fsconfig(fs, FSCONFIG_SET_STRING, "source", "overlay", 0) < 0)
        r = 1;
    for (size_t i = 0; s->lower_dirs[i] && r == 0; i++) {
        if (shim_sys_fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", s->lower_dirs[i], 0) == 0)
            continue;
        if (errno == ENOENT || errno == ENOTDIR)
            r = shim_step_fail(c, errno, "layer %s", s->lower_dirs[i]);
        else
            r = 1; /* an older kernel (no lowerdir+) or a path over 255 bytes */
    }
    if (r == 0 && s->upper_dir &&
        (shim_sys_fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", s->upper_dir, 0) < 0 ||
         shim_sys_fsconfig(fs, FSCONFIG_SET_STRING, "workdir", s->work_dir, 0) < 0))
        r = 1;
    if (r == 0 && shim_sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        char log[600];
        int e = errno;
        fs_log(fs, log, sizeof(log));
        r = shim_step_fail(c, e, "mount overlay on %s%s%s", s->rootfs_mnt, log[0] ? ": " : "", log);
    }
    int m = r == 0 ? shim_sys_fsmount(fs, FSMOUNT_CLOEXEC, 0) : -1;
    if (r == 0 && m < 0)
        r = shim_step_fail(c, errno, "fsmount overlay");
    close(fs);
    if (m >= 0) {
        if (shim_sys_move_mount(m, "", AT_FDCWD, s->rootfs_mnt, MOVE_MOUNT_F_EMPTY_PATH) < 0)
            r = shim_step_fail(c, errno, "move overlay to %s", s->rootfs_mnt);
        close(m);
    }
    return r;
}

/* mount(2): the data string is limited to a page. When absolute paths do not fit, mount from
 * the directory they share with relative paths (overlayfs resolves them against our cwd). */
static int overlay_mount2(shim_step_ctx *c)
{
    const shim_ctr_spec *s = c->ctr;
    char data[SHIM_CTR_MOUNT_DATA_MAX], base[PATH_MAX] = "";
    int n =
        shim_ctr_overlay_data(s->lower_dirs, s->upper_dir, s->work_dir, NULL, data, sizeof(data));
    if (n == -ENAMETOOLONG) {
        if (shim_ctr_common_dir(s->lower_dirs, s->upper_dir, s->work_dir, base, sizeof(base)) <= 0)
            return shim_step_failx(c,
                                   "overlay options exceed %d bytes and the layers share no "
                                   "directory",
                                   SHIM_CTR_MOUNT_DATA_MAX);
        n = shim_ctr_overlay_data(s->lower_dirs, s->upper_dir, s->work_dir, base, data,
                                  sizeof(data));
        if (n < 0) {
            size_t layers = 0;
            while (s->lower_dirs[layers])
                layers++;
            return shim_step_failx(c,
                                   "overlay options for %zu layers exceed %d bytes even "
                                   "relative to %s",
                                   layers, SHIM_CTR_MOUNT_DATA_MAX, base);
        }
        if (chdir(base) < 0)
            return shim_step_fail(c, errno, "chdir %s", base);
    }
    if (n < 0)
        return shim_step_failx(c, "invalid layer paths");
    int r = 0;
    if (mount("overlay", s->rootfs_mnt, "overlay", 0, data) < 0)
        r = shim_step_fail(c, errno, "mount overlay on %s", s->rootfs_mnt);
    if (base[0] && chdir("/") < 0 && r == 0)
        r = shim_step_fail(c, errno, "chdir /");
    return r;
}

static int step_rootfs(shim_step_ctx *c)
{
    const shim_ctr_spec *s = c->ctr;
    if (!s->rootfs_mnt || !s->lower_dirs || !s->lower_dirs[0])
        return shim_step_failx(c, "no rootfs layers");
    if ((!s->upper_dir) != (!s->work_dir))
        return shim_step_failx(c, "upper and work directories go together");
    int r = overlay_fsopen(c);
    if (r == 1)
        r = overlay_mount2(c);
    if (r < 0)
        return -1;
    c->rootfd = open(s->rootfs_mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->rootfd < 0)
        return shim_step_fail(c, errno, "open %s", s->rootfs_mnt);
    return 0;
}

static int step_pivot(shim_step_ctx *c)
{
    if (fchdir(c->rootfd) < 0)
        return shim_step_fail(c, errno, "chdir %s", c->ctr->rootfs_mnt);
    /* the new root stacks over the old one at "."; detach the old one from under us */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return shim_step_fail(c, errno, "pivot_root %s", c->ctr->rootfs_mnt);
    if (mount(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return shim_step_fail(c, errno, "make the old root rslave");
    if (umount2(".", MNT_DETACH) < 0)
        return shim_step_fail(c, errno, "detach the old root");
    if (chdir("/") < 0)
        return shim_step_fail(c, errno, "chdir /");
    close(c->rootfd);
    c->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->rootfd < 0)
        return shim_step_fail(c, errno, "open /");
    return 0;
}

static int step_root_private(shim_step_ctx *c)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return shim_step_fail(c, errno, "make / rprivate");
    return 0;
}

/* ---- limits ---- */

static int step_rlimits(shim_step_ctx *c)
{
    for (size_t i = 0; i < c->ctr->n_rlimits; i++) {
        const shim_rlimit *l = &c->ctr->rlimits[i];
        struct rlimit cur, want = {.rlim_cur = l->soft, .rlim_max = l->hard};
        if (want.rlim_cur > want.rlim_max)
            want.rlim_cur = want.rlim_max;
        if (setrlimit(l->resource, &want) == 0)
            continue;
        if (errno != EPERM || getrlimit(l->resource, &cur) < 0)
            return shim_step_fail(c, errno, "setrlimit %d", l->resource);
        /* no CAP_SYS_RESOURCE: keep the hard limit we have and fit the soft one under it */
        if (want.rlim_max > cur.rlim_max)
            want.rlim_max = cur.rlim_max;
        if (want.rlim_cur > want.rlim_max)
            want.rlim_cur = want.rlim_max;
        if (setrlimit(l->resource, &want) < 0)
            return shim_step_fail(c, errno, "setrlimit %d", l->resource);
    }
    return 0;
}

static int step_oom(shim_step_ctx *c)
{
    if (!c->ctr->set_oom_score_adj)
        return 0;
    char v[16];
    snprintf(v, sizeof(v), "%d", c->ctr->oom_score_adj);
    int r = write_str("/proc/self/oom_score_adj", v);
    /* lowering it needs CAP_SYS_RESOURCE: keep the inherited value rather than fail */
    if (r < 0 && r != -EACCES && r != -EPERM)
        return shim_step_fail(c, -r, "write %s to /proc/self/oom_score_adj", v);
    return 0;
}

static const shim_step container_steps[] = {
    {"signals", shim_step_signals},
    {"cgroup", step_cgroup},
    {"propagation", step_propagation},
    {"rootfs", step_rootfs},
    {"proc", shim_step_proc},
    {"sys", shim_step_sys},
    {"dev", shim_step_dev},
    {"mounts", shim_step_pod_files},
    {"pivot_root", step_pivot},
    {"masked paths", shim_step_masked},
    {"readonly paths", shim_step_readonly},
    {"propagation", step_root_private},
    {"user", shim_step_user},
    {"cwd", shim_step_cwd},
    {"rlimits", step_rlimits},
    {"oom_score_adj", step_oom},
    {"seccomp", shim_step_seccomp_early},
    {"capabilities", shim_step_caps},
    {"no_new_privs", shim_step_nnp},
    {"seccomp", shim_step_seccomp_late},
    {"exec", shim_step_exec},
};

void shim_container_run(const shim_ctr_spec *spec, int report_fd)
{
    shim_step_ctx c = {
        .report_fd = report_fd,
        .ctr = spec,
        .rootfd = -1,
        .argv = spec->argv,
        .cwd = spec->cwd,
        .cwd_fd = -1,
        .user = spec->user,
        .caps = spec->caps,
        .no_new_privs = spec->no_new_privs,
        .bpf = spec->seccomp_bpf,
        .bpf_len = spec->seccomp_bpf_len,
    };
    if (shim_env_init(&c, spec->env) < 0)
        shim_step_die(report_fd, "env", strerror(ENOMEM));
    shim_steps_run(&c, container_steps, sizeof(container_steps) / sizeof(container_steps[0]));
    /* the exec step only comes back on failure, and then it has already reported */
    _exit(SHIM_EXIT_SETUP);
}
