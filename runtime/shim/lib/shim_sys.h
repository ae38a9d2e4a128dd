/* shim_sys.h - the kernel interfaces the shim uses that a C library may not declare.
 *
 * The shim builds against glibc and against musl (static, for a small resident size). musl
 * ships no <linux/...> headers and no wrappers for the new mount API or close_range(), so
 * these are the kernel ABI itself: raw syscalls with numbers from <sys/syscall.h>, uapi
 * constants under their kernel names (guarded: a libc header that has them wins), and the
 * uapi structs under shim_ names (their layout is fixed by the kernel). Nothing here has
 * state; every wrapper returns what syscall() returns (-1 with errno on failure).
 */
#ifndef SHIM_SYS_H
#define SHIM_SYS_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Numbers from 424 on are the same on every architecture (one table since Linux 5.1). */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

/* ---- new mount API (Linux 5.2; mount_setattr 5.12) ---- */

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_STRING 1
#endif
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#endif
#ifndef MOUNT_ATTR_NODEV
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef MOUNT_ATTR_NOEXEC
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif

/* struct mount_attr, first published size */
typedef struct shim_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
} shim_mount_attr;

static inline int shim_sys_fsopen(const char *fstype, unsigned int flags)
{
    return (int)syscall(SYS_fsopen, fstype, flags);
}

static inline int shim_sys_fsconfig(int fs, unsigned int cmd, const char *key, const void *value,
                                    int aux)
{
    return (int)syscall(SYS_fsconfig, fs, cmd, key, value, aux);
}

static inline int shim_sys_fsmount(int fs, unsigned int flags, unsigned int attr_flags)
{
    return (int)syscall(SYS_fsmount, fs, flags, attr_flags);
}

static inline int shim_sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to,
                                      unsigned int flags)
{
    return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

static inline int shim_sys_open_tree(int dfd, const char *path, unsigned int flags)
{
    return (int)syscall(SYS_open_tree, dfd, path, flags);
}

static inline int shim_sys_mount_setattr(int dfd, const char *path, unsigned int flags,
                                         shim_mount_attr *attr, size_t size)
{
    return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, size);
}

/* ---- close_range (Linux 5.9; CLOSE_RANGE_CLOEXEC 5.11) ---- */

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static inline int shim_sys_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
    return (int)syscall(SYS_close_range, first, last, flags);
}

/* ---- openat2 (Linux 5.6) ---- */

#define SHIM_RESOLVE_NO_MAGICLINKS 0x02
#define SHIM_RESOLVE_IN_ROOT       0x10

/* struct open_how */
typedef struct shim_open_how {
    uint64_t flags, mode, resolve;
} shim_open_how;

static inline int shim_sys_openat2(int dfd, const char *path, shim_open_how *how)
{
    return (int)syscall(SYS_openat2, dfd, path, how, sizeof(*how));
}

/* ---- seccomp ---- */

#ifndef SECCOMP_SET_MODE_FILTER
#define SECCOMP_SET_MODE_FILTER 1
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#define SHIM_BPF_MAXINSNS 4096

/* struct sock_filter: one classic BPF instruction */
typedef struct shim_sock_filter {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
} shim_sock_filter;

/* struct sock_fprog */
typedef struct shim_sock_fprog {
    unsigned short len;
    shim_sock_filter *filter;
} shim_sock_fprog;

/* ---- capabilities (capget/capset, 64-bit sets as two 32-bit halves) ---- */

#define SHIM_CAP_VERSION_3 0x20080522

typedef struct shim_cap_header {
    uint32_t version;
    int pid;
} shim_cap_header;

typedef struct shim_cap_data {
    uint32_t effective, permitted, inheritable;
} shim_cap_data;

#endif
