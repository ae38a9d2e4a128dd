/* ctr_caps.h - Linux capability names and the container default set (libc only).
 *
 * A capability set is a uint64_t with bit N standing for capability number N (CAP_CHOWN = 0).
 */
#ifndef MK_SHIM_CTR_CAPS_H
#define MK_SHIM_CTR_CAPS_H

#include <stddef.h>
#include <stdint.h>

/* Highest capability number this table knows (CAP_CHECKPOINT_RESTORE). */
#define SHIM_CTR_CAP_LAST 40

/* "CAP_CHOWN" for 0; NULL for a number the table does not know. */
const char *shim_ctr_cap_name(unsigned cap);

/* The number of a capability named "CAP_NET_ADMIN", "NET_ADMIN" or "net_admin" (Kubernetes
 * securityContext spelling); -EINVAL if unknown. */
int shim_ctr_cap_from_name(const char *name);

/* The container default set: CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID,
 * SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE. */
uint64_t shim_ctr_caps_default(void);

/* "CAP_CHOWN,CAP_KILL" into buf (always NUL-terminated). Returns the length it needed
 * (like snprintf), so a result >= size means it was cut short. */
size_t shim_ctr_caps_format(uint64_t caps, char *buf, size_t size);

/* Parses the text of /proc/sys/kernel/cap_last_cap ("40\n"); -EINVAL if malformed. */
int shim_ctr_cap_last_parse(const char *text);

#endif
