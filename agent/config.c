/* config.c - flags, defaults and the paths derived from the root dir. */
#include "config.h"
#include "cni.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include "mk_sha256.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_ROOT = 256,
    OPT_MANIFEST,
    OPT_LISTEN,
    OPT_SOCKET,
    OPT_NODE,
    OPT_TOKEN,
    OPT_CERT,
    OPT_KEY,
    OPT_CGROUP,
    OPT_SHIM,
    OPT_LOG,
    OPT_BACKOFF,
    OPT_RESYNC,
    OPT_NETWORK,
    OPT_CNI_CONF,
    OPT_CNI_BIN,
    OPT_CNI_CACHE,
    OPT_POD_CIDR,
    OPT_CNI_BRIDGE,
};

static const struct option long_opts[] = {
    {"root-dir", required_argument, NULL, OPT_ROOT},
    {"manifest-dir", required_argument, NULL, OPT_MANIFEST},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"node-name", required_argument, NULL, OPT_NODE},
    {"token-file", required_argument, NULL, OPT_TOKEN},
    {"tls-cert-file", required_argument, NULL, OPT_CERT},
    {"tls-key-file", required_argument, NULL, OPT_KEY},
    {"cgroup-root", required_argument, NULL, OPT_CGROUP},
    {"shim", required_argument, NULL, OPT_SHIM},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"backoff-scale", required_argument, NULL, OPT_BACKOFF},
    {"resync-seconds", required_argument, NULL, OPT_RESYNC},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"cni-conf-dir", required_argument, NULL, OPT_CNI_CONF},
    {"cni-bin-dir", required_argument, NULL, OPT_CNI_BIN},
    {"cni-cache-dir", required_argument, NULL, OPT_CNI_CACHE},
    {"pod-cidr", required_argument, NULL, OPT_POD_CIDR},
    {"cni-bridge", required_argument, NULL, OPT_CNI_BRIDGE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void agent_usage(FILE *f, const char *prog)
{
    fprintf(
        f,
        "Usage: %s [FLAGS]                 run the node agent in the foreground\n"
        "       %s image import FILE      import an OCI or docker archive into the store\n"
        "       %s image ls               list the images in the store\n"
        "       %s down [--root-dir DIR]  stop every pod of this root cleanly\n"
        "\n"
        "Runs the Pod manifests found in a directory on this machine, each pod in its own\n"
        "sandbox, and serves their status, logs and exec over HTTP (kubelet-style URLs).\n"
        "\n"
        "Flags:\n"
        "  --root-dir DIR        prefix of every path below (default /)\n"
        "  --manifest-dir DIR    Pod manifests to run: *.yaml, *.yml, *.json, not recursive\n"
        "                        (default <root>/etc/mini-kubelet/manifests)\n"
        "  --listen ADDR:PORT    TCP address of the API; \"\" disables TCP\n"
        "                        (default 127.0.0.1:10250; a non-loopback address needs\n"
        "                        --tls-cert-file)\n"
        "  --socket PATH         unix socket of the API, mode 0600, full access\n"
        "                        (default <root>/run/mini-kubelet/api.sock)\n"
        "  --node-name NAME      node name used in pod identity (default: hostname, lowercased)\n"
        "  --token-file PATH     bearer token required on TCP for /run and exec; created with\n"
        "                        32 random bytes, mode 0600, on first start\n"
        "                        (default <root>/etc/mini-kubelet/token)\n"
        "  --tls-cert-file FILE  PEM certificate chain; with it, TCP speaks only HTTPS\n"
        "  --tls-key-file FILE   its PEM private key, unencrypted (required with the cert)\n"
        "  --cgroup-root PATH    parent cgroup of the pods (default: the agent's own cgroup)\n"
        "  --shim PATH           the mini-kubelet-shim executable (default: next to this one)\n"
        "  --log-level LEVEL     error, warn, info or debug (default info)\n"
        "  --backoff-scale F     multiply crash-loop and image backoff periods by F\n"
        "                        (default 1: 10 s doubling to 300 s; tests use less)\n"
        "  --resync-seconds N    full rescan period of the manifest directory (default 20)\n"
        "\n"
        "Pod network (pods with hostNetwork: true use the host's and skip all this):\n"
        "  --network MODE        cni: attach every pod through the CNI plugins (default);\n"
        "                        none: pods get a loopback interface only\n"
        "  --cni-conf-dir DIR    the network config: the lexically first *.conflist, *.conf\n"
        "                        or *.json in DIR (default <root>/etc/cni/net.d). When DIR\n"
        "                        holds none, a default bridge network is written there\n"
        "  --cni-bin-dir PATH    ':'-separated directories of the plugins\n"
        "                        (default /opt/cni/bin:/usr/lib/cni)\n"
        "  --cni-cache-dir DIR   what each attachment was made with, for its removal\n"
        "                        (default <root>/var/lib/cni)\n"
        "  --pod-cidr CIDR       subnet of the default network (default 10.88.0.0/16)\n"
        "  --cni-bridge NAME     bridge of the default network (default mk0)\n"
        "\n"
        "  --help                show this help\n"
        "  --version             show the version\n"
        "\n"
        "Stopping: SIGTERM or SIGINT stops the agent and leaves the pods running; a new agent\n"
        "re-attaches to them. `%s down` stops every pod (SIGTERM, the grace period, then\n"
        "SIGKILL), removes their cgroups and state, and first asks a running agent for the\n"
        "same root to exit so that it does not recreate them.\n",
        prog, prog, prog, prog, prog);
}

char *agent_path(const char *root, const char *rel)
{
    while (*rel == '/')
        rel++;
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    if (rl == 1 && root[0] == '/')
        return xasprintf("/%s", rel);
    return xasprintf("%.*s/%s", (int)rl, root, rel);
}

char *agent_cgroup_subtree(const char *root_dir)
{
    if (strcmp(root_dir, "/") == 0)
        return xstrdup("mini-kubelet");
    unsigned char md[MK_SHA256_LEN];
    mk_sha256(root_dir, strlen(root_dir), md);
    return xasprintf("mini-kubelet-%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

static int parse_double(const char *s, double *out, mk_err *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1000)
        return mk_errf(err, EINVAL,
                       "--backoff-scale %s: want a number greater than 0 and at most 1000", s);
    *out = v;
    return 0;
}

static int parse_int(const char *flag, const char *s, int lo, int hi, int *out, mk_err *err)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return mk_errf(err, EINVAL, "--%s %s: want an integer from %d to %d", flag, s, lo, hi);
    *out = (int)v;
    return 0;
}

/* A path flag may be relative to the current directory; the agent keeps it absolute, since
 * pod identities and the cgroup subtree are derived from these paths. */
static void set_path(char **dst, const char *arg)
{
    while (arg[0] == '.' && arg[1] == '/')
        arg += 2;
    if (arg[0] == '/' || arg[0] == '\0') {
        set_str(dst, arg);
        return;
    }
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd))) {
        set_str(dst, arg); /* left relative: later opens name it in their errors */
        return;
    }
    char *abs = xasprintf("%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", arg);
    set_str(dst, abs);
    free(abs);
}

static int apply_opt(agent_config *cfg, int c, const char *arg, agent_cmd *cmd, mk_err *err)
{
    switch (c) {
    case OPT_ROOT:
        if (!arg[0])
            return mk_errf(err, EINVAL, "--root-dir: want a directory");
        set_path(&cfg->root_dir, arg);
        return 0;
    case OPT_MANIFEST:
        set_path(&cfg->manifest_dir, arg);
        return 0;
    case OPT_LISTEN:
        set_str(&cfg->listen_addr, arg);
        return 0;
    case OPT_SOCKET:
        set_path(&cfg->socket_path, arg);
        return 0;
    case OPT_NODE:
        if (!podspec_is_dns1123_subdomain(arg))
            return mk_errf(err, EINVAL,
                           "--node-name %s: want a lowercase DNS-1123 name (a-z, 0-9, '-', '.')",
                           arg);
        set_str(&cfg->node_name, arg);
        return 0;
    case OPT_TOKEN:
        set_path(&cfg->token_file, arg);
        return 0;
    case OPT_CERT:
        set_path(&cfg->tls_cert_file, arg);
        return 0;
    case OPT_KEY:
        set_path(&cfg->tls_key_file, arg);
        return 0;
    case OPT_CGROUP:
        if (arg[0] != '/')
            return mk_errf(err, EINVAL, "--cgroup-root %s: want an absolute cgroup path", arg);
        set_str(&cfg->cgroup_root, arg);
        return 0;
    case OPT_SHIM:
        set_path(&cfg->shim_path, arg);
        return 0;
    case OPT_LOG:
        if (mk_log_parse_level(arg, &cfg->log_level) < 0)
            return mk_errf(err, EINVAL, "--log-level %s: want error, warn, info or debug", arg);
        return 0;
    case OPT_BACKOFF:
        return parse_double(arg, &cfg->backoff_scale, err);
    case OPT_RESYNC:
        return parse_int("resync-seconds", arg, 1, 86400, &cfg->resync_seconds, err);
    case OPT_NETWORK:
        if (strcmp(arg, "cni") != 0 && strcmp(arg, "none") != 0)
            return mk_errf(err, EINVAL, "--network %s: want cni or none", arg);
        cfg->network_none = strcmp(arg, "none") == 0;
        return 0;
    case OPT_CNI_CONF:
        set_path(&cfg->cni_conf_dir, arg);
        return 0;
    case OPT_CNI_BIN:
        if (!arg[0])
            return mk_errf(err, EINVAL, "--cni-bin-dir: want one or more directories");
        set_str(&cfg->cni_bin_dir, arg);
        return 0;
    case OPT_CNI_CACHE:
        set_path(&cfg->cni_cache_dir, arg);
        return 0;
    case OPT_POD_CIDR:
        set_str(&cfg->pod_cidr, arg);
        return 0;
    case OPT_CNI_BRIDGE:
        set_str(&cfg->cni_bridge, arg);
        return 0;
    case 'h':
        *cmd = AGENT_CMD_HELP;
        return 0;
    case 'V':
        *cmd = AGENT_CMD_VERSION;
        return 0;
    default:
        return mk_errf(err, EINVAL, "unknown flag (see --help)");
    }
}

int agent_config_parse(int argc, char **argv, agent_config *cfg, agent_cmd *cmd, mk_err *err)
{
    *cmd = AGENT_CMD_RUN;
    optind = 0; /* GNU: re-initialize, so this can run more than once */
    opterr = 0;
    for (;;) {
        int idx = -1;
        int c = getopt_long(argc, argv, "+hV", long_opts, &idx);
        if (c == -1)
            break;
        if (c == '?' || c == ':') {
            const char *bad = argv[optind - 1];
            if (optopt && optopt < 256)
                return mk_errf(err, EINVAL, "unknown flag -%c (see --help)", optopt);
            for (const struct option *o = long_opts; o->name; o++)
                if (optopt == o->val)
                    return mk_errf(err, EINVAL, "--%s needs a value (see --help)", o->name);
            return mk_errf(err, EINVAL, "unknown flag %s (see --help)", bad);
        }
        int r = apply_opt(cfg, c, optarg, cmd, err);
        if (r < 0)
            return r;
    }
    return optind;
}

void agent_config_init(agent_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = MK_LOG_INFO;
    cfg->backoff_scale = 1.0;
    cfg->resync_seconds = 20;
}

static char *default_node_name(void)
{
    char host[HOST_NAME_MAX + 1] = "";
    if (gethostname(host, sizeof(host)) < 0 || !host[0])
        return xstrdup("localhost");
    host[HOST_NAME_MAX] = '\0';
    for (char *p = host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return xstrdup(host);
}

static char *default_shim(const char *self_exe)
{
    if (!self_exe)
        return xstrdup("mini-kubelet-shim");
    const char *slash = strrchr(self_exe, '/');
    if (!slash)
        return xstrdup("mini-kubelet-shim");
    return xasprintf("%.*s/mini-kubelet-shim", (int)(slash - self_exe), self_exe);
}

void agent_config_finish(agent_config *cfg, const char *self_exe)
{
    if (!cfg->root_dir)
        cfg->root_dir = xstrdup("/");
    const char *r = cfg->root_dir;
    if (!cfg->manifest_dir)
        cfg->manifest_dir = agent_path(r, "etc/mini-kubelet/manifests");
    if (!cfg->listen_addr)
        cfg->listen_addr = xstrdup("127.0.0.1:10250");
    if (!cfg->socket_path)
        cfg->socket_path = agent_path(r, "run/mini-kubelet/api.sock");
    if (!cfg->node_name)
        cfg->node_name = default_node_name();
    if (!cfg->token_file)
        cfg->token_file = agent_path(r, "etc/mini-kubelet/token");
    if (!cfg->shim_path)
        cfg->shim_path = default_shim(self_exe);
    if (!cfg->cni_conf_dir)
        cfg->cni_conf_dir = agent_path(r, "etc/cni/net.d");
    if (!cfg->cni_bin_dir)
        cfg->cni_bin_dir = xstrdup(RT_CNI_DEFAULT_BIN_PATH);
    if (!cfg->cni_cache_dir)
        cfg->cni_cache_dir = agent_path(r, "var/lib/cni");
    if (!cfg->pod_cidr)
        cfg->pod_cidr = xstrdup(RT_CNI_DEFAULT_SUBNET);
    if (!cfg->cni_bridge)
        cfg->cni_bridge = xstrdup(RT_CNI_DEFAULT_BRIDGE);
    if (cfg->backoff_scale == 0)
        cfg->backoff_scale = 1.0;
    if (cfg->resync_seconds == 0)
        cfg->resync_seconds = 20;
    free(cfg->images_dir);
    free(cfg->pods_state_dir);
    free(cfg->pods_run_dir);
    free(cfg->pods_log_dir);
    free(cfg->netns_dir);
    free(cfg->ipam_dir);
    cfg->netns_dir = agent_path(r, "run/mini-kubelet/netns");
    cfg->ipam_dir = agent_path(r, "var/lib/cni/networks");
    cfg->images_dir = agent_path(r, "var/lib/mini-kubelet/images");
    cfg->pods_state_dir = agent_path(r, "var/lib/mini-kubelet/pods");
    cfg->pods_run_dir = agent_path(r, "run/mini-kubelet/pods");
    cfg->pods_log_dir = agent_path(r, "var/log/pods");
}

void agent_config_free(agent_config *cfg)
{
    char **fields[] = {&cfg->root_dir,      &cfg->manifest_dir,  &cfg->listen_addr,
                       &cfg->socket_path,   &cfg->node_name,     &cfg->token_file,
                       &cfg->tls_cert_file, &cfg->tls_key_file,  &cfg->cgroup_root,
                       &cfg->shim_path,     &cfg->images_dir,    &cfg->pods_state_dir,
                       &cfg->pods_run_dir,  &cfg->pods_log_dir,  &cfg->cni_conf_dir,
                       &cfg->cni_bin_dir,   &cfg->cni_cache_dir, &cfg->pod_cidr,
                       &cfg->cni_bridge,    &cfg->netns_dir,     &cfg->ipam_dir};
    for (size_t i = 0; i < MK_ARRAY_LEN(fields); i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}
