/* container_fs.c - what a container sees in /proc, /sys and /dev, the pod's files bound into
 * it, and the /proc and /sys paths masked or made read-only (containerd's default lists).
 *
 * Before pivot_root every target is resolved inside the rootfs with ctr_resolve (no symlink
 * in the image can send a mount outside it) and mounted through /proc/self/fd/N.
 */
#include "container_int.h"
#include "ctr_resolve.h"
#include "shim_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FD_PATH_MAX 32

static const char *fd_path(int fd, char buf[FD_PATH_MAX])
{
    snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
    return buf;
}

/* Mounts fstype (or binds src when fstype is NULL) on dir, created inside the rootfs. */
static int mount_in_root(shim_step_ctx *c, const char *dir, const char *src, const char *fstype,
                         unsigned long flags, const char *data)
{
    int fd = shim_ctr_mkdir_in_root(c->rootfd, dir, 0755, (uid_t)-1, (gid_t)-1);
    if (fd < 0)
        return shim_step_fail(c, -fd, "create %s in the rootfs", dir);
    char p[FD_PATH_MAX];
    int r = mount(src, fd_path(fd, p), fstype, flags, data);
    int e = errno;
    close(fd);
    if (r < 0)
        return shim_step_fail(c, e, "mount %s on %s", fstype ? fstype : src, dir);
    return 0;
}

int shim_step_proc(shim_step_ctx *c)
{
    return mount_in_root(c, "proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* The host's /sys, recursively read-only (host network, or sysfs refused). */
static int bind_host_sys(shim_step_ctx *c, int target)
{
    int t =
        shim_sys_open_tree(AT_FDCWD, "/sys", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (t < 0)
        return shim_step_fail(c, errno, "clone the host's /sys");
    shim_mount_attr a = {
        .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
    };
    int r = 0;
    if (shim_sys_mount_setattr(t, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
        r = shim_step_fail(c, errno, "make /sys read-only");
    else if (shim_sys_move_mount(t, "", target, "",
                                 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        r = shim_step_fail(c, errno, "bind the host's /sys");
    close(t);
    return r;
}

int shim_step_sys(shim_step_ctx *c)
{
    const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    int fd = shim_ctr_mkdir_in_root(c->rootfd, "sys", 0755, (uid_t)-1, (gid_t)-1);
    if (fd < 0)
        return shim_step_fail(c, -fd, "create sys in the rootfs");
    char p[FD_PATH_MAX];
    int r = 0;
    if (c->ctr->host_network || mount("sysfs", fd_path(fd, p), "sysfs", ro, NULL) < 0)
        r = bind_host_sys(c, fd);
    close(fd);
    return r;
}

/* ---- /dev ---- */

typedef struct dev_node {
    const char *name;
    unsigned major, minor;
} dev_node;

static const dev_node dev_nodes[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const char *const dev_links[][2] = {
    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"},      {"ptmx", "pts/ptmx"},
};

/* A device node, or (where mknod is refused) the host's node bound on an empty file. */
static int make_node(shim_step_ctx *c, int dev, const dev_node *n)
{
    if (mknodat(dev, n->name, S_IFCHR | 0666, makedev(n->major, n->minor)) == 0) {
        if (fchmodat(dev, n->name, 0666, 0) < 0)
            return shim_step_fail(c, errno, "chmod /dev/%s", n->name);
        return 0;
    }
    if (errno != EPERM)
        return shim_step_fail(c, errno, "mknod /dev/%s", n->name);
    int f = openat(dev, n->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (f < 0)
        return shim_step_fail(c, errno, "create /dev/%s", n->name);
    char host[64], p[FD_PATH_MAX];
    snprintf(host, sizeof(host), "/dev/%s", n->name);
    int r = mount(host, fd_path(f, p), NULL, MS_BIND, NULL);
    int e = errno;
    close(f);
    if (r < 0)
        return shim_step_fail(c, e, "bind the host's %s", host);
    return 0;
}

static int dev_mount(shim_step_ctx *c, int dev, const char *name, mode_t mode, const char *src,
                     const char *fstype, unsigned long flags, const char *data)
{
    if (mkdirat(dev, name, mode) < 0 && errno != EEXIST)
        return shim_step_fail(c, errno, "mkdir /dev/%s", name);
    if (fchmodat(dev, name, mode, 0) < 0)
        return shim_step_fail(c, errno, "chmod /dev/%s", name);
    int fd = openat(dev, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return shim_step_fail(c, errno, "open /dev/%s", name);
    char p[FD_PATH_MAX];
    int r = mount(src, fd_path(fd, p), fstype, flags, data);
    int e = errno;
    close(fd);
    if (r < 0)
        return shim_step_fail(c, e, "mount %s on /dev/%s", fstype ? fstype : src, name);
    return 0;
}

static int dev_fill(shim_step_ctx *c, int dev)
{
    const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++)
        if (make_node(c, dev, &dev_nodes[i]) < 0)
            return -1;
    if (dev_mount(c, dev, "pts", 0755, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0)
        return -1;
    const char *shm = c->ctr->shm_dir;
    if (dev_mount(c, dev, "shm", 01777, shm ? shm : "shm", shm ? NULL : "tmpfs",
                  shm ? MS_BIND : nse, shm ? NULL : "mode=1777,size=65536k") < 0)
        return -1;
    /* mqueue is a nicety: a kernel without it still runs the container */
    if (dev_mount(c, dev, "mqueue", 0755, "mqueue", "mqueue", nse, NULL) < 0)
        unlinkat(dev, "mqueue", AT_REMOVEDIR);
    for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
        if (symlinkat(dev_links[i][1], dev, dev_links[i][0]) < 0)
            return shim_step_fail(c, errno, "symlink /dev/%s", dev_links[i][0]);
    return 0;
}

int shim_step_dev(shim_step_ctx *c)
{
    if (mount_in_root(c, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                      "mode=755,size=65536k") < 0)
        return -1;
    int dev = shim_ctr_open_in_root(c->rootfd, "dev", O_PATH | O_DIRECTORY, 0);
    if (dev < 0)
        return shim_step_fail(c, -dev, "open /dev in the rootfs");
    int r = dev_fill(c, dev);
    close(dev);
    return r;
}

/* ---- the pod's files ---- */

static int bind_file(shim_step_ctx *c, const char *src, const char *dst)
{
    if (!src)
        return 0;
    int s = open(src, O_PATH | O_CLOEXEC);
    if (s < 0)
        return shim_step_fail(c, errno, "open %s", src);
    int d = shim_ctr_mkfile_in_root(c->rootfd, dst);
    if (d < 0) {
        close(s);
        return shim_step_fail(c, -d, "create %s in the rootfs", dst);
    }
    char ps[FD_PATH_MAX], pd[FD_PATH_MAX];
    int r = mount(fd_path(s, ps), fd_path(d, pd), NULL, MS_BIND, NULL);
    int e = errno;
    close(s);
    close(d);
    if (r < 0)
        return shim_step_fail(c, e, "bind %s on %s", src, dst);
    return 0;
}

int shim_step_pod_files(shim_step_ctx *c)
{
    const shim_ctr_spec *s = c->ctr;
    const char *tpath = s->termination_path ? s->termination_path : "/dev/termination-log";
    if (bind_file(c, s->hosts_file, "/etc/hosts") < 0 ||
        bind_file(c, s->hostname_file, "/etc/hostname") < 0 ||
        bind_file(c, s->resolv_file, "/etc/resolv.conf") < 0 ||
        bind_file(c, s->termination_log, tpath) < 0)
        return -1;
    return 0;
}

/* ---- masked and read-only paths (after pivot_root) ---- */

static const char *const masked_paths[] = {
    "/proc/acpi",          "/proc/asound",
    "/proc/kcore",         "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats",   "/proc/sched_debug",
    "/sys/firmware",       "/sys/devices/virtual/powercap",
    "/proc/scsi",
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

int shim_step_masked(shim_step_ctx *c)
{
    for (size_t i = 0; i < sizeof(masked_paths) / sizeof(masked_paths[0]); i++) {
        const char *p = masked_paths[i];
        struct stat st;
        if (lstat(p, &st) < 0) {
            if (errno == ENOENT)
                continue;
            return shim_step_fail(c, errno, "stat %s", p);
        }
        int r = S_ISDIR(st.st_mode)
                    ? mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                            "mode=0555")
                    : mount("/dev/null", p, NULL, MS_BIND, NULL);
        if (r < 0)
            return shim_step_fail(c, errno, "mask %s", p);
    }
    return 0;
}

/* MS_* flags a read-only remount must keep (a bind remount may not clear locked ones). */
static unsigned long kept_flags(const char *p)
{
    struct statvfs sv;
    unsigned long f = 0;
    if (statvfs(p, &sv) < 0)
        return 0;
    if (sv.f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        f |= MS_RELATIME;
    return f;
}

int shim_step_readonly(shim_step_ctx *c)
{
    for (size_t i = 0; i < sizeof(readonly_paths) / sizeof(readonly_paths[0]); i++) {
        const char *p = readonly_paths[i];
        if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
            if (errno == ENOENT)
                continue;
            return shim_step_fail(c, errno, "bind %s", p);
        }
        if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(p), NULL) < 0)
            return shim_step_fail(c, errno, "remount %s read-only", p);
    }
    return 0;
}
