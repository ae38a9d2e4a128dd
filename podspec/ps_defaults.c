/* ps_defaults.c - the API server's v1 defaults for a pod, and the image reference syntax the
 * imagePullPolicy default depends on. */
#include "ps_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- defaults ---------------------------------------------------------------------------- */

static void set_default(char **field, const char *value)
{
    if (!*field || !**field) {
        free(*field);
        *field = xstrdup(value);
    }
}

/* The API server's rule: Always for ":latest" (which no tag and no digest means), else
 * IfNotPresent; a reference that does not parse is left to validation elsewhere. */
static const char *pull_policy_for(const char *image)
{
    podspec_image_ref ref;
    mk_err err;
    if (!image || podspec_image_ref_parse(image, &ref, &err) < 0)
        return "IfNotPresent";
    bool latest = ref.tag && !strcmp(ref.tag, "latest");
    podspec_image_ref_free(&ref);
    return latest ? "Always" : "IfNotPresent";
}

static void default_container(podspec_container *ct, bool host_network)
{
    set_default(&ct->image_pull_policy, pull_policy_for(ct->image));
    set_default(&ct->termination_message_path, "/dev/termination-log");
    set_default(&ct->termination_message_policy, "File");
    for (size_t i = 0; i < ct->n_ports; i++) {
        podspec_port *pt = &ct->ports[i];
        set_default(&pt->protocol, "TCP");
        if (host_network && pt->host_port == 0)
            pt->host_port = pt->container_port;
    }
}

void ps_default_pod(podspec_pod *p)
{
    set_default(&p->namespace_, "default");
    set_default(&p->restart_policy, "Always");
    set_default(&p->dns_policy, "ClusterFirst");
    set_default(&p->scheduler_name, "default-scheduler");
    for (size_t i = 0; i < p->n_containers; i++)
        default_container(&p->containers[i], p->host_network);
}

void ps_default_containers(podspec_container *cts, size_t n, bool host_network)
{
    for (size_t i = 0; i < n; i++)
        default_container(&cts[i], host_network);
}
