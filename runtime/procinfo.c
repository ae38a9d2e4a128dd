/* procinfo.c - namespace inodes and `docker top` rows from /proc (see procinfo.h). */
#include "procinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CMDLINE_MAX (128 * 1024)

static const char *const ns_names[] = {"net", "ipc", "uts", "mnt", "pid", "cgroup", "user", "time"};

int rt_proc_ns_inode(pid_t pid, const char *ns, uint64_t *ino, mk_err *err)
{
    bool known = false;
    for (size_t i = 0; ns && i < MK_ARRAY_LEN(ns_names); i++)
        known |= strcmp(ns, ns_names[i]) == 0;
    if (!known)
        return mk_errf(err, EINVAL, "unknown namespace type %s", ns ? ns : "(null)");
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
    struct stat st;
    if (stat(path, &st) < 0)
        return mk_errf_sys(err, errno, "namespace %s of process %d", ns, (int)pid);
    *ino = (uint64_t)st.st_ino;
    return 0;
}

int rt_proc_user_name(const char *passwd_path, uid_t uid, char *buf, size_t len)
{
    FILE *f = fopen(passwd_path, "re");
    if (!f)
        return -errno;
    char *line = NULL;
    size_t cap = 0;
    int r = -ENOENT;
    while (r < 0 && getline(&line, &cap, f) > 0) {
        /* name:password:uid:gid:gecos:home:shell */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        char *end;
        errno = 0;
        unsigned long v = strtoul(c2 + 1, &end, 10);
        if (errno || end == c2 + 1 || *end != ':' || v != (unsigned long)uid)
            continue;
        snprintf(buf, len, "%.*s", (int)(c1 - line), line);
        r = 0;
    }
    free(line);
    fclose(f);
    return r;
}

/* /proc/<pid>/stat: comm in parentheses (it may hold spaces and ')'), then the fields. */
static int read_stat(pid_t pid, rt_proc_info *out, char *comm, size_t comm_len, mk_err *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    cleanup_free char *text = NULL;
    int r = mk_read_file(path, 8192, &text, NULL, err);
    if (r < 0)
        return r;
    char *open = strchr(text, '(');
    char *close_p = strrchr(text, ')');
    if (!open || !close_p || close_p < open)
        return mk_errf(err, EINVAL, "%s: unexpected format", path);
    snprintf(comm, comm_len, "%.*s", (int)(close_p - open - 1), open + 1);
    char state;
    int ppid;
    unsigned long long utime, stime;
    /* fields 3..15: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    if (sscanf(close_p + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &ppid,
               &utime, &stime) != 4)
        return mk_errf(err, EINVAL, "%s: unexpected format", path);
    out->ppid = (pid_t)ppid;
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long long secs = (utime + stime) / (unsigned long long)(hz > 0 ? hz : 100);
    unsigned long long mins = secs / 60;
    snprintf(out->time, sizeof(out->time), "%u:%02u",
             (unsigned)(mins > UINT32_MAX ? UINT32_MAX : mins), (unsigned)(secs % 60));
    return 0;
}

static int read_euid(pid_t pid, uid_t *uid, mk_err *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    cleanup_free char *text = NULL;
    int r = mk_read_file(path, 65536, &text, NULL, err);
    if (r < 0)
        return r;
    char *u = strstr(text, "\nUid:");
    unsigned long real, eff;
    if (!u || sscanf(u + 5, " %lu %lu", &real, &eff) != 2)
        return mk_errf(err, EINVAL, "%s: no Uid line", path);
    *uid = (uid_t)eff;
    return 0;
}

static char *read_cmdline(pid_t pid, const char *comm)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    char *text = NULL;
    size_t n = 0;
    mk_err e;
    /* a command line longer than the maximum is shown without its end */
    if (mk_read_file(path, CMDLINE_MAX, &text, &n, &e) < 0 || n == 0) {
        free(text);
        return xasprintf("[%s]", comm);
    }
    while (n > 0 && text[n - 1] == '\0')
        n--;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\0')
            text[i] = ' ';
    }
    text[n] = '\0';
    return text;
}

int rt_proc_info_get(pid_t pid, rt_proc_info *out, mk_err *err)
{
    memset(out, 0, sizeof(*out));
    out->pid = pid;
    char comm[64];
    int r = read_stat(pid, out, comm, sizeof(comm), err);
    if (r >= 0)
        r = read_euid(pid, &out->uid, err);
    if (r < 0)
        return r == -ENOENT ? mk_errf(err, ESRCH, "process %d is gone", (int)pid) : r;
    if (rt_proc_user_name("/etc/passwd", out->uid, out->user, sizeof(out->user)) < 0)
        snprintf(out->user, sizeof(out->user), "%lu", (unsigned long)out->uid);
    out->cmd = read_cmdline(pid, comm);
    return 0;
}

void rt_proc_info_free(rt_proc_info *p)
{
    if (p) {
        free(p->cmd);
        p->cmd = NULL;
    }
}
