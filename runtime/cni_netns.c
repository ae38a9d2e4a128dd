/* cni_netns.c - keeping a pod's network namespace alive in a file, so that CNI DEL can run in
 * it after every process of the pod (the shim included) is gone. */
#include "cni.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

int rt_cni_netns_pin(pid_t pid, const char *path, mk_err *err)
{
    char src[64];
    snprintf(src, sizeof(src), "/proc/%d/ns/net", (int)pid);
    int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0)
        return mk_errf_sys(err, errno, "netns pin %s", path);
    close(fd);
    if (mount(src, path, NULL, MS_BIND, NULL) < 0) {
        int e = errno;
        unlink(path);
        return mk_errf_sys(err, e, "bind %s to %s", src, path);
    }
    return 0;
}

int rt_cni_netns_unpin(const char *path, mk_err *err)
{
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return mk_errf_sys(err, errno, "unmount netns %s", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return mk_errf_sys(err, errno, "remove netns file %s", path);
    return 0;
}
