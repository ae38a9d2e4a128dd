/* ctr_user.h - resolve a container "user" string against the image's own /etc/passwd and
 * /etc/group text, without NSS (libc only, no file access: callers pass file contents).
 *
 * Accepted forms (as in the OCI image config and docker): "" (root), "uid", "name",
 * "uid:gid", "name:group", "uid:group", "name:gid". Without a group, the primary gid comes from
 * the passwd entry (0 when a numeric uid has none) and the supplementary groups are every
 * /etc/group entry that lists the user's name. With a group, supplementary groups are not
 * added (image-spec config.md).
 */
#ifndef MK_SHIM_CTR_USER_H
#define MK_SHIM_CTR_USER_H

#include <stddef.h>
#include <stdint.h>

#define SHIM_CTR_MAX_GROUPS 64
#define SHIM_CTR_ID_MAX     2147483647u /* uid/gid range accepted: 0..2^31-1 */

typedef struct shim_ctr_user {
    uint32_t uid;
    uint32_t gid;
    uint32_t groups[SHIM_CTR_MAX_GROUPS]; /* supplementary, primary gid first when known */
    size_t n_groups;
    char home[256]; /* from passwd; "/" when unknown */
} shim_ctr_user;

/* passwd / group: the files' contents (NUL-terminated), or NULL when the file is missing.
 * Returns 0, or -ENOENT (unknown name) / -EINVAL (malformed) with a message in err such as
 * "unable to find user nginx: no matching entries in passwd file". */
int shim_ctr_user_resolve(const char *spec, const char *passwd, const char *group,
                          shim_ctr_user *out, char *err, size_t errlen);

/* Fills uid, gid and groups from the text of /proc/<pid>/status (real ids; "Groups:" line).
 * home is left "/". Returns 0 or -EINVAL when the Uid/Gid lines are missing. */
int shim_ctr_user_from_status(const char *status, shim_ctr_user *out);

/* Parses a decimal id in 0..SHIM_CTR_ID_MAX filling *id; -EINVAL otherwise. */
int shim_ctr_parse_id(const char *s, size_t len, uint32_t *id);

#endif
