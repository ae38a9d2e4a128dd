/* ctr_caps.c - capability name table and the container default capability set. */
#include "ctr_caps.h"

#include <errno.h>
#include <stdio.h>
#include <strings.h>

/* Indexed by capability number, as in <linux/capability.h>. */
static const char *const cap_names[SHIM_CTR_CAP_LAST + 1] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

const char *shim_ctr_cap_name(unsigned cap)
{
    return cap <= SHIM_CTR_CAP_LAST ? cap_names[cap] : NULL;
}

int shim_ctr_cap_from_name(const char *name)
{
    if (!name)
        return -EINVAL;
    if (strncasecmp(name, "CAP_", 4) == 0)
        name += 4;
    if (!*name)
        return -EINVAL;
    for (int i = 0; i <= SHIM_CTR_CAP_LAST; i++)
        if (strcasecmp(cap_names[i] + 4, name) == 0)
            return i;
    return -EINVAL;
}

uint64_t shim_ctr_caps_default(void)
{
    static const unsigned set[] = {0, 1, 4, 3, 27, 13, 6, 7, 31, 8, 10, 18, 5, 29};
    uint64_t m = 0;
    for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
        m |= 1ull << set[i];
    return m;
}

size_t shim_ctr_caps_format(uint64_t caps, char *buf, size_t size)
{
    size_t need = 0;
    if (size)
        buf[0] = 0;
    for (unsigned i = 0; i < 64; i++) {
        if (!(caps & (1ull << i)))
            continue;
        char num[16];
        const char *n = shim_ctr_cap_name(i);
        if (!n) {
            snprintf(num, sizeof(num), "CAP_%u", i);
            n = num;
        }
        int w = snprintf(buf ? buf + (need < size ? need : size) : NULL,
                         need < size ? size - need : 0, "%s%s", need ? "," : "", n);
        if (w > 0)
            need += (size_t)w;
    }
    return need;
}

int shim_ctr_cap_last_parse(const char *text)
{
    int v = 0, digits = 0;
    for (; text && *text >= '0' && *text <= '9' && digits < 3; text++, digits++)
        v = v * 10 + (*text - '0');
    if (!digits || !text || (*text && *text != '\n') || v > 63)
        return -EINVAL;
    return v;
}
