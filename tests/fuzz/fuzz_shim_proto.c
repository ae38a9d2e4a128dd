/* fuzz_shim_proto.c - libFuzzer target: shim_msg_decode on arbitrary packets (the agent decodes
 * what a pod's shim sends, and the shim what arrives on its socket).
 *
 * What decodes must encode again, and that encoding must be stable: encode(decode(e)) == e for
 * e = encode(decode(input)). Encoding may legitimately not fit (absent fields are written out,
 * so the message can grow): -EMSGSIZE is accepted, nothing else. */
#include "shim_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy, exactly as long as the packet, so reads past it are caught */
    uint8_t *pkt = malloc(size ? size : 1);
    if (!pkt)
        return 0;
    memcpy(pkt, data, size);
    shim_msg m;
    int r = shim_msg_decode(pkt, size, &m);
    if (r < 0) {
        if (r != -EBADMSG && r != -EPROTONOSUPPORT)
            abort();
        free(pkt);
        return 0;
    }
    (void)shim_msg_type_name(m.type);
    uint8_t *e1 = malloc(SHIM_MSG_MAX), *e2 = malloc(SHIM_MSG_MAX);
    size_t n1 = 0, n2 = 0;
    r = shim_msg_encode(&m, e1, SHIM_MSG_MAX, &n1);
    if (r < 0 && r != -EMSGSIZE)
        abort();
    if (r == 0) {
        shim_msg again;
        if (shim_msg_decode(e1, n1, &again) < 0)
            abort();
        if (shim_msg_encode(&again, e2, SHIM_MSG_MAX, &n2) < 0)
            abort();
        if (n1 != n2 || memcmp(e1, e2, n1) != 0)
            abort();
        shim_msg_release(&again);
    }
    free(e1);
    free(e2);
    shim_msg_release(&m);
    free(pkt);
    return 0;
}
