/* ctr_resolve.h - open and create paths inside a container rootfs without ever leaving it.
 *
 * Every symlink and ".." is resolved as if rootfd were "/" (openat2 RESOLVE_IN_ROOT). When
 * openat2 is unavailable (ENOSYS, or EPERM from a seccomp filter) a userspace walk does the
 * same, one component at a time with O_NOFOLLOW. libc only. All fds returned are O_CLOEXEC.
 */
#ifndef MK_SHIM_CTR_RESOLVE_H
#define MK_SHIM_CTR_RESOLVE_H

#include <sys/types.h>

/* Like openat(rootfd, path, flags, mode) with path resolved inside rootfd. Returns an fd or a
 * negative errno. With O_CREAT a missing last component is created (a symlink as last
 * component is followed inside the root, as the kernel would). */
int shim_ctr_open_in_root(int rootfd, const char *path, int flags, mode_t mode);

/* The userspace walk alone (what shim_ctr_open_in_root falls back to). */
int shim_ctr_open_in_root_walk(int rootfd, const char *path, int flags, mode_t mode);

/* Creates every missing directory of path inside rootfd with mode; the directories it creates
 * are chowned to uid:gid unless uid is (uid_t)-1. Returns an O_PATH fd on the directory or a
 * negative errno. */
int shim_ctr_mkdir_in_root(int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid);

/* Makes sure a regular file exists at path inside rootfd (parents created 0755, the file
 * 0644 when created). Returns an O_PATH fd on it, -EISDIR/-EINVAL when something other than a
 * regular file is there, or another negative errno. */
int shim_ctr_mkfile_in_root(int rootfd, const char *path);

#endif
