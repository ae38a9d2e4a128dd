/* procinfo.h - what /proc says about a host process: namespace inodes (for /inspect) and a
 * `docker top` style row (for /top). Users are named from the host's /etc/passwd, as docker
 * top shows them, not from the container's. */
#ifndef MK_RT_PROCINFO_H
#define MK_RT_PROCINFO_H

#include "mk_base.h"

#include <sys/types.h>

/* Inode of /proc/<pid>/ns/<ns>; ns is one of "net", "ipc", "uts", "mnt", "pid", "cgroup",
 * "user", "time". -ENOENT (with a message) when the process is gone. */
int rt_proc_ns_inode(pid_t pid, const char *ns, uint64_t *ino, mk_err *err);

typedef struct rt_proc_info {
    pid_t pid, ppid;
    uid_t uid;     /* effective uid */
    char user[64]; /* host user name, or the uid as a number */
    char time[16]; /* cumulative CPU time (user + system) as m:ss, "0:00" */
    char *cmd;     /* command line joined by spaces, or "[comm]" for kernel threads / zombies */
} rt_proc_info;

int rt_proc_info_get(pid_t pid, rt_proc_info *out, mk_err *err);
void rt_proc_info_free(rt_proc_info *p);

/* Look a uid up in a passwd-format file (normally "/etc/passwd"); the name is copied to buf.
 * 0, or -ENOENT when the file has no such uid. */
int rt_proc_user_name(const char *passwd_path, uid_t uid, char *buf, size_t len);

#endif
