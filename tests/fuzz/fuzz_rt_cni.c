/* fuzz_rt_cni.c - libFuzzer target: what the CNI module parses from outside the agent. A
 * network config comes from the conf dir (anyone's config, hand-written or from another
 * network's installer), results and errors come from plugin binaries.
 *
 * The first byte picks the parser; the rest is the text. Results that parse must be
 * consistent: every pod address is one of the listed ones, interface indices are in range. */
#include "cni.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(const rt_cni_result *r)
{
    for (size_t i = 0; i < r->n_ips; i++) {
        if (r->ips[i].iface >= 0 && (size_t)r->ips[i].iface >= r->n_ifaces)
            abort();
        if (!r->ips[i].ip || !r->ips[i].address || (r->ips[i].family != 4 && r->ips[i].family != 6))
            abort();
    }
    const char *pod[] = {r->pod_ipv4, r->pod_ipv6};
    for (size_t k = 0; k < 2; k++) {
        if (!pod[k])
            continue;
        bool found = false;
        for (size_t i = 0; i < r->n_ips && !found; i++)
            found = strcmp(r->ips[i].ip, pod[k]) == 0;
        if (!found)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = xmalloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    mk_err err = {0};
    switch (data[0] % 3) {
    case 0: {
        rt_cni_net *net = NULL;
        if (rt_cni_load_bytes(text, "fuzz.conflist", &net, &err) == 0) {
            if (!rt_cni_net_name(net) || rt_cni_net_n_plugins(net) == 0)
                abort();
            for (size_t i = 0; i < rt_cni_net_n_plugins(net); i++)
                if (!rt_cni_net_plugin_type(net, i))
                    abort();
            rt_cni_net_free(net);
        }
        break;
    }
    case 1: {
        rt_cni_result r;
        memset(&r, 0, sizeof(r));
        if (rt_cni_result_parse(text, NULL, &r, &err) == 0)
            check_result(&r);
        rt_cni_result_free(&r);
        break;
    }
    default: {
        int code = -1;
        int r = rt_cni_error_parse(text, "bridge", "ADD", "stderr text", &code, &err);
        if (r >= 0 || code < 0 || !err.msg[0])
            abort();
        break;
    }
    }
    free(text);
    return 0;
}
