/* ctr_overlay.h - overlayfs mount options for a container rootfs (pure string work).
 *
 * The legacy mount(2) data string is limited to one page (4096 bytes including the NUL). When
 * the absolute paths do not fit, the caller can chdir into the directory the paths share and
 * pass them relative to it (overlayfs resolves them against the mounting process's cwd).
 */
#ifndef MK_SHIM_CTR_OVERLAY_H
#define MK_SHIM_CTR_OVERLAY_H

#include <stddef.h>

#define SHIM_CTR_MOUNT_DATA_MAX 4096 /* one page, including the NUL */

/* Writes "lowerdir=L1:L2,upperdir=U,workdir=W" into buf, with ',', ':' and '\' in paths
 * escaped by '\'. When strip is non-empty, it is removed from the front of every path
 * (each path must start with strip + '/'). upper and work may be NULL (read-only overlay).
 * Returns the string length, -ENAMETOOLONG when it does not fit in size, -EINVAL when lower
 * is empty or a path does not start with strip. */
int shim_ctr_overlay_data(char *const *lower, const char *upper, const char *work,
                          const char *strip, char *buf, size_t size);

/* The longest directory every path lies beneath ("/a/b" for "/a/b/c" and "/a/b/d"), written to
 * out without a trailing slash ("" when they share only "/"). Returns its length or
 * -ENAMETOOLONG. upper/work may be NULL. */
int shim_ctr_common_dir(char *const *lower, const char *upper, const char *work, char *out,
                        size_t size);

#endif
