/* A real ADD/DEL round trip through Debian's bridge, host-local and portmap plugins.
 *
 * The whole test process first moves into a network namespace of its own, which plays the
 * host: the bridge, the host ends of the veths and the iptables rules are made there, so the
 * machine's own interfaces and firewall are never touched and nothing can outlive the test.
 * Each "pod" is a child process in another new network namespace, reached as
 * /proc/<pid>/ns/net exactly as the agent reaches a shim's. Needs root and
 * /usr/lib/cni/{bridge,host-local,portmap}; skipped otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_rt_cni_util.h"

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#define PLUGIN_DIR "/usr/lib/cni"

typedef struct fx {
    char *dir, *cache, *ipam, *pin;
    char bridge[16], subnet[32], prefix[16]; /* prefix: "10.213.N." */
    rt_cni_opts opts;
    rt_cni_net *net;
    bool usable;
} fx;

typedef struct podns {
    pid_t pid;
    int hold; /* closing it ends the process */
    char path[64];
} podns;

static char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    assert_true(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0;
    char *out = xmalloc(cap);
    size_t r;
    while ((r = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (n + 1 >= cap)
            out = xrealloc(out, cap *= 2);
    }
    out[n] = '\0';
    pclose(p);
    free(cmd);
    return out;
}

static void podns_start(podns *p)
{
    int ready[2], hold[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        /* a failed assertion skips podns_stop: never outlive the test */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        while (read(hold[0], &c, 1) > 0)
            ;
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    assert_int_equal(c, 'y');
    p->hold = hold[1];
    snprintf(p->path, sizeof(p->path), "/proc/%d/ns/net", (int)p->pid);
}

static void podns_stop(podns *p)
{
    if (p->pid <= 0)
        return;
    /* later children inherited the write end too: closing ours is not enough */
    kill(p->pid, SIGKILL);
    close(p->hold);
    int st;
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
        ;
    p->pid = 0;
}

static const int usable = 1;

/* The group state is &usable when the tests can run (they skip otherwise). */
static int group_setup(void **state)
{
    *state = NULL;
    if (getuid() != 0 || access(PLUGIN_DIR "/bridge", X_OK) != 0 ||
        access(PLUGIN_DIR "/host-local", X_OK) != 0 || access(PLUGIN_DIR "/portmap", X_OK) != 0 ||
        system("iptables-save >/dev/null 2>&1 && command -v nsenter >/dev/null") != 0) {
        fprintf(stderr,
                "skipping: needs root, iptables, nsenter and the CNI plugins in " PLUGIN_DIR "\n");
        return 0;
    }
    /* a mount namespace too, so a netns pin cannot outlive the test either */
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        fprintf(stderr, "unshare(CLONE_NEWNET|CLONE_NEWNS): %s\n", strerror(errno));
        return -1;
    }
    if (system("ip link set lo up") != 0)
        return -1;
    *state = (void *)&usable;
    return 0;
}

static int setup(void **state)
{
    fx *f = xcalloc(1, sizeof(*f));
    f->usable = *state == &usable;
    f->dir = cni_tmpdir();
    f->cache = xasprintf("%s/var/lib/cni", f->dir);
    f->ipam = xasprintf("%s/var/lib/cni/networks", f->dir);
    f->pin = xasprintf("%s/netns-pin", f->dir);
    unsigned n = (unsigned)(getpid() ^ time(NULL)) & 0xff;
    snprintf(f->bridge, sizeof(f->bridge), "mkt%02x%04x", n, (unsigned)getpid() & 0xffff);
    snprintf(f->subnet, sizeof(f->subnet), "10.213.%u.0/24", n);
    snprintf(f->prefix, sizeof(f->prefix), "10.213.%u.", n);
    f->opts = (rt_cni_opts){.bin_path = "/nonexistent/cni:" PLUGIN_DIR, .cache_dir = f->cache};
    char *json = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cni_default_conflist(f->bridge, f->subnet, f->ipam, &json, &err), 0);
    assert_int_equal(rt_cni_load_bytes(json, "default.conflist", &f->net, &err), 0);
    free(json);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char *cmd = xasprintf("ip link del %s 2>/dev/null", f->bridge);
    if (f->usable && system(cmd) < 0)
        perror("ip link del");
    free(cmd);
    rt_cni_net_free(f->net);
    mk_err err = {0};
    if (f->usable && rt_cni_netns_unpin(f->pin, &err) < 0)
        fprintf(stderr, "%s\n", err.msg);
    free(f->pin);
    cni_rmdir(f->dir);
    free(f->cache);
    free(f->ipam);
    free(f);
    return 0;
}

static rt_cni_pod make_pod(const char *cid, const podns *ns, const rt_cni_portmap *pm, size_t n)
{
    return (rt_cni_pod){.container_id = cid,
                        .netns = ns ? ns->path : NULL,
                        .pod_namespace = "default",
                        .pod_name = cid,
                        .pod_uid = cid,
                        .ports = pm,
                        .n_ports = n};
}

static bool ipam_has(fx *f, const char *ip)
{
    char *p = xasprintf("%s/%s/%s", f->ipam, RT_CNI_DEFAULT_NET_NAME, ip);
    bool ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

/* No iptables line may mention the container or its address any more. */
static void assert_no_rules_for(const char *cid, const char *ip)
{
    char *rules = run("iptables-save");
    char *id = xasprintf("id: \\\"%s\\\"", cid);
    char *src = xasprintf("%s/32", ip);
    char *dst = xasprintf("%s:", ip);
    if (strstr(rules, id) || strstr(rules, src) || strstr(rules, dst) || strstr(rules, "CNI-DN-"))
        fail_msg("rules for %s (%s) left:\n%s", cid, ip, rules);
    free(id);
    free(src);
    free(dst);
    free(rules);
}

static void test_round_trip(void **state)
{
    fx *f = *state;
    if (!f->usable)
        skip();
    char *links_before = run("ip -o link | cut -d: -f2 | cut -d@ -f1 | sort");
    char *rules_before = run("iptables-save | grep -v '^#' | sed 's/\\[[0-9:]*\\]//'");
    podns pod = {0};
    podns_start(&pod);
    rt_cni_portmap pm[] = {{18080, 80, "TCP", NULL}};
    rt_cni_pod p = make_pod("rt0a", &pod, pm, 1);
    rt_cni_result res;
    mk_err err = {0};
    int r = rt_cni_add(&f->opts, f->net, &p, &res, &err);
    if (r < 0)
        fail_msg("ADD: %s", err.msg);
    char *ip = xstrdup(res.pod_ipv4);
    assert_non_null(ip);
    assert_memory_equal(ip, f->prefix, strlen(f->prefix));
    char *gw = xasprintf("%s1", f->prefix);
    assert_string_equal(res.gateway4, gw);
    free(gw);
    assert_string_equal(res.ifaces[res.ips[0].iface].name, "eth0");
    assert_string_equal(res.ifaces[res.ips[0].iface].sandbox, pod.path);
    rt_cni_result_free(&res);

    /* the kernel's view: the address on the pod's eth0, reachable from the "host" */
    char *addr = run("nsenter --net=%s ip -o -4 addr show eth0", pod.path);
    char *want = xasprintf("inet %s/24", ip);
    if (!strstr(addr, want))
        fail_msg("pod eth0: %s", addr);
    free(want);
    free(addr);
    char *ping = xasprintf("busybox ping -c 1 -W 5 %s >/dev/null 2>&1", ip);
    assert_int_equal(system(ping), 0);
    free(ping);
    assert_true(ipam_has(f, ip));
    char *rules = run("iptables-save -t nat");
    if (!strstr(rules, "id: \\\"rt0a\\\"") || !strstr(rules, "--dport 18080"))
        fail_msg("no DNAT for the pod:\n%s", rules);
    free(rules);

    r = rt_cni_del(&f->opts, &p, &err);
    if (r < 0)
        fail_msg("DEL: %s", err.msg);
    assert_false(cni_exists(f->cache, "results/mini-kubelet-rt0a-eth0"));
    assert_false(ipam_has(f, ip));
    assert_no_rules_for("rt0a", ip);
    char *eth0 = run("nsenter --net=%s ip -o link show eth0 2>&1", pod.path);
    assert_non_null(strstr(eth0, "does not exist"));
    free(eth0);
    /* the bridge stays (with its one gateway address) until we delete it; no veth is left */
    char *baddr = run("ip -o -4 addr show %s | wc -l", f->bridge);
    assert_string_equal(baddr, "1\n");
    free(baddr);
    char *cmd = xasprintf("ip link del %s", f->bridge);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    char *links_after = run("ip -o link | cut -d: -f2 | cut -d@ -f1 | sort");
    assert_string_equal(links_after, links_before);
    /* only portmap's shared entry chains (kept for every pod, as with containerd) are new */
    char *rules_after = run("iptables-save | grep -v '^#' | sed 's/\\[[0-9:]*\\]//' | "
                            "grep -v -e CNI-HOSTPORT-DNAT -e CNI-HOSTPORT-SETMARK "
                            "-e CNI-HOSTPORT-MASQ");
    char *before_f = run("printf '%%s' '%s' | grep -v -e CNI-HOSTPORT-", rules_before);
    if (strstr(rules_after, "CNI-"))
        fail_msg("iptables after DEL:\n%s\nbefore:\n%s", rules_after, before_f);
    free(before_f);
    free(rules_after);
    free(links_after);
    free(links_before);
    free(rules_before);
    free(ip);
    podns_stop(&pod);
}

/* The pod's namespace is gone before DEL (its shim died): DEL still succeeds and frees the
 * address and the port mappings. */
static void test_del_after_netns_gone(void **state)
{
    fx *f = *state;
    if (!f->usable)
        skip();
    podns pod = {0};
    podns_start(&pod);
    rt_cni_portmap pm[] = {{18081, 8080, "tcp", NULL}};
    rt_cni_pod p = make_pod("rt0b", &pod, pm, 1);
    rt_cni_result res;
    mk_err err = {0};
    int r = rt_cni_add(&f->opts, f->net, &p, &res, &err);
    if (r < 0)
        fail_msg("ADD: %s", err.msg);
    char *ip = xstrdup(res.pod_ipv4);
    rt_cni_result_free(&res);
    assert_true(ipam_has(f, ip));
    podns_stop(&pod);

    r = rt_cni_del(&f->opts, &p, &err);
    if (r < 0)
        fail_msg("DEL: %s", err.msg);
    assert_false(ipam_has(f, ip));
    char *nat = run("iptables-save -t nat | grep -c 'CNI-DN-' || true");
    assert_string_equal(nat, "0\n");
    free(nat);
    char *veths = run("ip -o link show master %s | wc -l", f->bridge);
    assert_string_equal(veths, "0\n");
    free(veths);
    assert_false(cni_exists(f->cache, "results/mini-kubelet-rt0b-eth0"));
    /* bridge 1.1.1 leaves its masquerading rule when the netns is gone (cni.h; pinning avoids
     * it, see test_del_pinned_netns): drop it so the later tests start clean */
    char *fix = run("c=$(iptables-save -t nat | sed -n 's/^-A POSTROUTING .*rt0b.* -j "
                    "\\(CNI-[0-9a-f]*\\)$/\\1/p'); [ -z \"$c\" ] || "
                    "iptables-save -t nat | grep -v -e rt0b -e \"^:$c \" | iptables-restore");
    free(fix);
    char *left = run("iptables-save -t nat | grep -c rt0b || true");
    assert_string_equal(left, "0\n");
    free(left);
    free(ip);
}

/* A real plugin error: an address range of one, a second pod. The message carries the
 * plugin's words, and the failed pod leaves nothing behind. */
static void test_plugin_error(void **state)
{
    fx *f = *state;
    if (!f->usable)
        skip();
    char *json = xasprintf(
        "{\"cniVersion\":\"1.0.0\",\"name\":\"mk-one\",\"plugins\":[{\"type\":\"bridge\","
        "\"bridge\":\"%s\",\"isGateway\":true,\"ipam\":{\"type\":\"host-local\",\"dataDir\":"
        "\"%s\",\"ranges\":[[{\"subnet\":\"%s\",\"rangeStart\":\"%s9\",\"rangeEnd\":\"%s9\"}]]}}]}",
        f->bridge, f->ipam, f->subnet, f->prefix, f->prefix);
    rt_cni_net *net = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cni_load_bytes(json, "one.conflist", &net, &err), 0);
    free(json);
    podns a = {0}, b = {0};
    podns_start(&a);
    podns_start(&b);
    rt_cni_pod pa = make_pod("rt0c", &a, NULL, 0), pb = make_pod("rt0d", &b, NULL, 0);
    rt_cni_result res;
    int r = rt_cni_add(&f->opts, net, &pa, &res, &err);
    if (r < 0)
        fail_msg("ADD: %s", err.msg);
    rt_cni_result_free(&res);
    r = rt_cni_add(&f->opts, net, &pb, &res, &err);
    assert_true(r < 0);
    assert_string_equal(res.error_plugin, "bridge");
    assert_true(res.error_code != 0);
    if (!strstr(err.msg, "CNI network mk-one: CNI plugin bridge ADD failed (code ") ||
        !strstr(err.msg, "no IP addresses available"))
        fail_msg("message: %s", err.msg);
    rt_cni_result_free(&res);
    assert_false(cni_exists(f->cache, "results/mk-one-rt0d-eth0"));
    char *eth0 = run("nsenter --net=%s ip -o link show eth0 2>&1", b.path);
    assert_non_null(strstr(eth0, "does not exist"));
    free(eth0);
    assert_int_equal(rt_cni_del(&f->opts, &pa, &err), 0);
    char *veths = run("ip -o link show master %s | wc -l", f->bridge);
    assert_string_equal(veths, "0\n");
    free(veths);
    podns_stop(&a);
    podns_stop(&b);
    rt_cni_net_free(net);
}

/* With the netns pinned, DEL after the pod's processes are gone removes everything, the
 * bridge's masquerading rule included. */
static void test_del_pinned_netns(void **state)
{
    fx *f = *state;
    if (!f->usable)
        skip();
    podns pod = {0};
    podns_start(&pod);
    mk_err err = {0};
    assert_int_equal(rt_cni_netns_pin(pod.pid, f->pin, &err), 0);
    podns_stop(&pod);
    rt_cni_portmap pm[] = {{18082, 80, "TCP", NULL}};
    rt_cni_pod p = make_pod("rt0e", NULL, pm, 1);
    p.netns = f->pin;
    rt_cni_result res;
    int r = rt_cni_add(&f->opts, f->net, &p, &res, &err);
    if (r < 0)
        fail_msg("ADD: %s", err.msg);
    char *ip = xstrdup(res.pod_ipv4);
    rt_cni_result_free(&res);
    char *addr = run("nsenter --net=%s ip -o -4 addr show eth0", f->pin);
    assert_non_null(strstr(addr, ip));
    free(addr);
    r = rt_cni_del(&f->opts, &p, &err);
    if (r < 0)
        fail_msg("DEL: %s", err.msg);
    assert_no_rules_for("rt0e", ip);
    assert_false(ipam_has(f, ip));
    assert_int_equal(rt_cni_netns_unpin(f->pin, &err), 0);
    assert_int_equal(access(f->pin, F_OK), -1);
    char *mounts = run("grep -c ' %s ' /proc/self/mountinfo || true", f->pin);
    assert_string_equal(mounts, "0\n");
    free(mounts);
    assert_int_equal(rt_cni_netns_unpin(f->pin, &err), 0);
    free(ip);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_del_after_netns_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_del_pinned_netns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
