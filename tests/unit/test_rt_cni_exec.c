/* Tests for running plugin chains, with fake plugins: small shell scripts that record their
 * stdin, environment and call order in a log dir and answer as a test needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_rt_cni_util.h"

#include <signal.h>

typedef struct fx {
    char *dir, *bin, *log, *cache, *netns, *bin_path;
    rt_cni_opts opts;
    rt_cni_portmap ports[1];
    rt_cni_pod pod;
} fx;

/* The common part of every fake plugin: record the call, then run `body`. */
static void write_plugin(fx *f, const char *type, const char *body)
{
    char *script = xasprintf("#!/bin/sh\n"
                             "L='%s'\n"
                             "seq=$(cat \"$L/seq\" 2>/dev/null || echo 0)\n"
                             "seq=$((seq + 1))\n"
                             "echo $seq > \"$L/seq\"\n"
                             "cat > \"$L/$seq.stdin\"\n"
                             "env | grep '^CNI_' | sort > \"$L/$seq.env\"\n"
                             "echo \"%s $CNI_COMMAND\" >> \"$L/order\"\n"
                             "%s\n",
                             f->log, type, body);
    cni_write(f->bin, type, script, 0755);
    free(script);
}

#define FAKE_RESULT                                                                                \
    "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"fkbr0\"},{\"name\":\"eth0\","           \
    "\"sandbox\":\"'\"$CNI_NETNS\"'\"}],\"ips\":[{\"interface\":1,\"address\":\"10.77.0.5/24\","   \
    "\"gateway\":\"10.77.0.1\"}]}"

static int setup(void **state)
{
    fx *f = xcalloc(1, sizeof(*f));
    f->dir = cni_tmpdir();
    f->bin = xasprintf("%s/bin", f->dir);
    f->log = xasprintf("%s/log", f->dir);
    f->cache = xasprintf("%s/var/lib/cni", f->dir);
    f->netns = xasprintf("%s/netns", f->dir);
    f->bin_path = xasprintf("%s/none:%s", f->dir, f->bin);
    assert_int_equal(mkdir(f->bin, 0755), 0);
    assert_int_equal(mkdir(f->log, 0755), 0);
    cni_write(f->dir, "netns", "", 0644); /* stands in for a pod's netns file */
    write_plugin(f, "fakebr", "[ \"$CNI_COMMAND\" = ADD ] && echo '" FAKE_RESULT "'\nexit 0");
    write_plugin(f, "fakepm",
                 "[ \"$CNI_COMMAND\" = ADD ] && jq -c .prevResult \"$L/$seq.stdin\"\n"
                 "exit 0");
    write_plugin(f, "fakefail",
                 "[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
                 "echo '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"bad config\","
                 "\"details\":\"field x\"}'\nexit 1");
    write_plugin(f, "fakeagain",
                 "[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
                 "echo '{\"code\":11,\"msg\":\"busy\"}'\nexit 1");
    write_plugin(f, "fakestderr",
                 "[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
                 "echo garbage\necho 'first line' >&2\necho 'boom happened' >&2\n"
                 "exit 3");
    write_plugin(f, "fakehang",
                 "[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
                 "sleep 1000 &\necho $! > \"$L/hang.pid\"\nwait");
    write_plugin(f, "fakedelfail",
                 "[ \"$CNI_COMMAND\" = ADD ] && { jq -c .prevResult \"$L/$seq.stdin\"; exit 0; }\n"
                 "[ -e \"$L/delfail\" ] || exit 0\n"
                 "echo '{\"code\":5,\"msg\":\"cannot delete\",\"details\":\"io\"}'\nexit 1");
    f->opts.bin_path = f->bin_path;
    f->opts.cache_dir = f->cache;
    f->opts.timeout_ms = 20000;
    f->ports[0] = (rt_cni_portmap){8080, 80, "TCP", NULL};
    f->pod = (rt_cni_pod){.container_id = "c0ffee01",
                          .netns = f->netns,
                          .pod_namespace = "default",
                          .pod_name = "mypod",
                          .pod_uid = "u-1",
                          .ports = f->ports,
                          .n_ports = 1};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    cni_rmdir(f->dir);
    free(f->bin);
    free(f->log);
    free(f->cache);
    free(f->netns);
    free(f->bin_path);
    free(f);
    return 0;
}

static rt_cni_net *chain(const char *a, const char *b)
{
    char *j = xasprintf("{\"cniVersion\":\"1.0.0\",\"name\":\"fk\",\"plugins\":[{\"type\":\"%s\"}"
                        "%s%s%s]}",
                        a, b ? ",{\"type\":\"" : "", b ? b : "",
                        b ? "\",\"capabilities\":{\"portMappings\":true}}" : "");
    rt_cni_net *net = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cni_load_bytes(j, "fk.conflist", &net, &err), 0);
    free(j);
    return net;
}

static char *logfile(fx *f, int seq, const char *ext)
{
    char *name = xasprintf("%d.%s", seq, ext);
    char *s = cni_read(f->log, name);
    free(name);
    assert_non_null(s);
    return s;
}

static cJSON *stdin_of(fx *f, int seq)
{
    char *s = logfile(f, seq, "stdin");
    cJSON *o = cJSON_Parse(s);
    free(s);
    assert_non_null(o);
    return o;
}

static void assert_order(fx *f, const char *want)
{
    char *s = cni_read(f->log, "order");
    assert_string_equal(s ? s : "", want);
    free(s);
}

static void assert_env_has(fx *f, int seq, const char *line)
{
    char *s = logfile(f, seq, "env");
    char *want = xasprintf("%s\n", line);
    if (!strstr(s, want))
        fail_msg("call %d: no \"%s\" in:\n%s", seq, line, s);
    free(want);
    free(s);
}

static bool cached(fx *f)
{
    return cni_exists(f->cache, "results/fk-c0ffee01-eth0");
}

static void test_add_chain_and_del(void **state)
{
    fx *f = *state;
    rt_cni_net *net = chain("fakebr", "fakepm");
    rt_cni_result res;
    mk_err err = {0};
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), 0);
    assert_string_equal(res.pod_ipv4, "10.77.0.5");
    assert_string_equal(res.gateway4, "10.77.0.1");
    assert_string_equal(res.ifaces[1].sandbox, f->netns);
    assert_order(f, "fakebr ADD\nfakepm ADD\n");

    /* the environment */
    assert_env_has(f, 1, "CNI_COMMAND=ADD");
    assert_env_has(f, 1, "CNI_CONTAINERID=c0ffee01");
    char *line = xasprintf("CNI_NETNS=%s", f->netns);
    assert_env_has(f, 1, line);
    free(line);
    assert_env_has(f, 1, "CNI_IFNAME=eth0");
    assert_env_has(f, 1,
                   "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=mypod;"
                   "K8S_POD_INFRA_CONTAINER_ID=c0ffee01;K8S_POD_UID=u-1");
    line = xasprintf("CNI_PATH=%s", f->bin_path);
    assert_env_has(f, 2, line);
    free(line);

    /* stdin: no prevResult for the first; the first's result and the port mappings for the
     * second, which asked for them */
    cJSON *in1 = stdin_of(f, 1), *in2 = stdin_of(f, 2);
    assert_null(cJSON_GetObjectItem(in1, "prevResult"));
    assert_null(cJSON_GetObjectItem(in1, "runtimeConfig"));
    assert_string_equal(cJSON_GetObjectItem(in1, "name")->valuestring, "fk");
    cJSON *first = cJSON_Parse(res.json);
    assert_true(cJSON_Compare(cJSON_GetObjectItem(in2, "prevResult"), first, true));
    assert_null(cJSON_GetObjectItem(in2, "capabilities"));
    cJSON *pm = cJSON_GetObjectItem(cJSON_GetObjectItem(in2, "runtimeConfig"), "portMappings");
    char *pms = cJSON_PrintUnformatted(pm);
    assert_string_equal(pms, "[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}]");
    free(pms);
    cJSON_Delete(in1);
    cJSON_Delete(in2);

    /* the cache: libcni's format, private */
    struct stat st;
    char *p = xasprintf("%s/results/fk-c0ffee01-eth0", f->cache);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(p);
    char *c = cni_read(f->cache, "results/fk-c0ffee01-eth0");
    cJSON *co = cJSON_Parse(c);
    free(c);
    assert_string_equal(cJSON_GetObjectItem(co, "kind")->valuestring, "cniCacheV1");
    assert_string_equal(cJSON_GetObjectItem(co, "networkName")->valuestring, "fk");
    assert_string_equal(cJSON_GetObjectItem(co, "ifName")->valuestring, "eth0");
    assert_true(cJSON_Compare(cJSON_GetObjectItem(co, "result"), first, true));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(co, "capabilityArgs"), "portMappings"));
    cJSON_Delete(co);

    rt_cni_attachment *att = NULL;
    size_t n = 0;
    assert_int_equal(rt_cni_list_attachments(&f->opts, &att, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(att[0].container_id, "c0ffee01");
    assert_string_equal(att[0].network, "fk");
    assert_string_equal(att[0].netns, f->netns);
    assert_true(att[0].complete);
    rt_cni_attachments_free(att, n);

    /* DEL: reverse order, the final result as prevResult for each, the same mappings */
    assert_int_equal(rt_cni_del(&f->opts, &f->pod, &err), 0);
    assert_order(f, "fakebr ADD\nfakepm ADD\nfakepm DEL\nfakebr DEL\n");
    for (int seq = 3; seq <= 4; seq++) {
        cJSON *in = stdin_of(f, seq);
        assert_true(cJSON_Compare(cJSON_GetObjectItem(in, "prevResult"), first, true));
        assert_env_has(f, seq, "CNI_COMMAND=DEL");
        cJSON_Delete(in);
    }
    cJSON *in3 = stdin_of(f, 3);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(in3, "runtimeConfig"), "portMappings"));
    cJSON_Delete(in3);
    assert_false(cached(f));
    /* nothing left to undo: a second DEL runs nothing */
    assert_int_equal(rt_cni_del(&f->opts, &f->pod, &err), 0);
    assert_order(f, "fakebr ADD\nfakepm ADD\nfakepm DEL\nfakebr DEL\n");
    cJSON_Delete(first);
    rt_cni_result_free(&res);
    rt_cni_net_free(net);
}

/* After a restart the caller knows only the container id (and maybe the netns, gone by now):
 * DEL still runs the cached chain with the cached mappings and CNI_ARGS. */
static void test_del_from_cache_only(void **state)
{
    fx *f = *state;
    rt_cni_net *net = chain("fakebr", "fakepm");
    rt_cni_result res;
    mk_err err = {0};
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), 0);
    rt_cni_result_free(&res);
    rt_cni_net_free(net);
    assert_int_equal(unlink(f->netns), 0);

    rt_cni_pod bare = {.container_id = "c0ffee01", .netns = f->netns};
    assert_int_equal(rt_cni_del(&f->opts, &bare, &err), 0);
    assert_order(f, "fakebr ADD\nfakepm ADD\nfakepm DEL\nfakebr DEL\n");
    assert_env_has(f, 3, "CNI_NETNS=");
    assert_env_has(f, 4,
                   "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=mypod;"
                   "K8S_POD_INFRA_CONTAINER_ID=c0ffee01;K8S_POD_UID=u-1");
    cJSON *in = stdin_of(f, 3);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(in, "runtimeConfig"), "portMappings"));
    cJSON_Delete(in);
    assert_false(cached(f));
}

static void test_add_failure_rolls_back(void **state)
{
    fx *f = *state;
    rt_cni_net *net = chain("fakebr", "fakefail");
    rt_cni_result res;
    mk_err err = {0};
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), -EPROTO);
    assert_string_equal(err.msg,
                        "CNI network fk: CNI plugin fakefail ADD failed (code 7): bad config: "
                        "field x");
    assert_int_equal(res.error_code, 7);
    assert_string_equal(res.error_plugin, "fakefail");
    assert_null(res.pod_ipv4);
    assert_order(f, "fakebr ADD\nfakefail ADD\nfakefail DEL\nfakebr DEL\n");
    cJSON *in = stdin_of(f, 4);
    cJSON *prev = cJSON_GetObjectItem(in, "prevResult");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(prev, "ips"), 0), "address")
            ->valuestring,
        "10.77.0.5/24");
    cJSON_Delete(in);
    assert_false(cached(f));
    rt_cni_result_free(&res);
    rt_cni_net_free(net);

    net = chain("fakeagain", NULL);
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), -EAGAIN);
    assert_int_equal(res.error_code, 11);
    assert_non_null(strstr(err.msg, "fakeagain ADD failed (code 11): busy"));
    rt_cni_result_free(&res);
    rt_cni_net_free(net);

    net = chain("fakestderr", NULL);
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), -EPROTO);
    assert_int_equal(res.error_code, 0);
    assert_string_equal(err.msg,
                        "CNI network fk: CNI plugin fakestderr ADD failed: exit status 3: boom "
                        "happened");
    rt_cni_result_free(&res);
    rt_cni_net_free(net);
    assert_false(cached(f));
}

static void test_missing_plugin(void **state)
{
    fx *f = *state;
    rt_cni_net *net = chain("fakebr", "nosuch");
    rt_cni_result res;
    mk_err err = {0};
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), -ENOENT);
    char *want = xasprintf("CNI plugin \"nosuch\" not found in %s", f->bin_path);
    if (!strstr(err.msg, want))
        fail_msg("message: %s", err.msg);
    free(want);
    assert_string_equal(res.error_plugin, "nosuch");
    /* the plugin that did run is undone, and nothing is left to DEL */
    assert_order(f, "fakebr ADD\nfakebr DEL\n");
    assert_false(cached(f));
    rt_cni_result_free(&res);
    rt_cni_net_free(net);

    /* a file that is not executable is not a plugin */
    cni_write(f->bin, "noexec", "#!/bin/sh\nexit 0\n", 0644);
    net = chain("noexec", NULL);
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), -ENOENT);
    rt_cni_result_free(&res);
    rt_cni_net_free(net);
}

static bool process_gone(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *s = NULL;
    mk_err err = {0};
    if (mk_read_file(path, 4096, &s, NULL, &err) < 0)
        return true;
    const char *rp = strrchr(s, ')');
    bool zombie = rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
    free(s);
    return zombie;
}

static void test_timeout_kills_plugin(void **state)
{
    fx *f = *state;
    f->opts.timeout_ms = 1500;
    rt_cni_net *net = chain("fakehang", NULL);
    rt_cni_result res;
    mk_err err = {0};
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), -ETIMEDOUT);
    assert_non_null(
        strstr(err.msg, "CNI plugin fakehang ADD did not finish within 1500 ms; killed"));
    /* the plugin's own child went with it */
    char *pids = cni_read(f->log, "hang.pid");
    assert_non_null(pids);
    pid_t pid = (pid_t)atoi(pids);
    free(pids);
    assert_true(pid > 0);
    int64_t deadline = mk_monotonic_ns() + 10 * 1000000000LL;
    while (!process_gone(pid) && mk_monotonic_ns() < deadline)
        usleep(10000);
    assert_true(process_gone(pid));
    assert_order(f, "fakehang ADD\nfakehang DEL\n");
    assert_false(cached(f));
    rt_cni_result_free(&res);
    rt_cni_net_free(net);
}

/* A failing DEL runs every plugin anyway and keeps the cache, so a retry repeats it all. */
static void test_del_failure_keeps_cache(void **state)
{
    fx *f = *state;
    rt_cni_net *net = chain("fakebr", "fakedelfail");
    rt_cni_result res;
    mk_err err = {0};
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), 0);
    rt_cni_result_free(&res);
    cni_write(f->log, "delfail", "", 0644);
    assert_int_equal(rt_cni_del(&f->opts, &f->pod, &err), -EPROTO);
    assert_non_null(
        strstr(err.msg, "CNI plugin fakedelfail DEL failed (code 5): cannot delete: io"));
    assert_order(f, "fakebr ADD\nfakedelfail ADD\nfakedelfail DEL\nfakebr DEL\n");
    assert_true(cached(f));
    char *p = xasprintf("%s/delfail", f->log);
    assert_int_equal(unlink(p), 0);
    free(p);
    assert_int_equal(rt_cni_del(&f->opts, &f->pod, &err), 0);
    assert_order(f, "fakebr ADD\nfakedelfail ADD\nfakedelfail DEL\nfakebr DEL\nfakedelfail DEL\n"
                    "fakebr DEL\n");
    assert_false(cached(f));
    rt_cni_net_free(net);
}

/* An ADD that finds an attachment of an earlier sandbox DELs it first (without a netns). */
static void test_add_replaces_stale(void **state)
{
    fx *f = *state;
    rt_cni_net *net = chain("fakebr", "fakepm");
    rt_cni_result res;
    mk_err err = {0};
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), 0);
    rt_cni_result_free(&res);
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), 0);
    rt_cni_result_free(&res);
    assert_order(f, "fakebr ADD\nfakepm ADD\nfakepm DEL\nfakebr DEL\nfakebr ADD\nfakepm ADD\n");
    assert_env_has(f, 3, "CNI_NETNS=");
    assert_true(cached(f));
    assert_int_equal(rt_cni_del(&f->opts, &f->pod, &err), 0);
    rt_cni_net_free(net);
}

static void test_host_netns_refused(void **state)
{
    fx *f = *state;
    rt_cni_net *net = chain("fakebr", NULL);
    rt_cni_result res;
    mk_err err = {0};
    char *own = xasprintf("/proc/%d/ns/net", (int)getpid());
    const char *bad[] = {"/proc/self/ns/net", own};
    for (size_t i = 0; i < MK_ARRAY_LEN(bad); i++) {
        rt_cni_pod p = f->pod;
        p.netns = bad[i];
        assert_int_equal(rt_cni_add(&f->opts, net, &p, &res, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "this host's network namespace"));
    }
    rt_cni_pod p = f->pod;
    p.netns = NULL;
    assert_int_equal(rt_cni_add(&f->opts, net, &p, &res, &err), -EINVAL);
    p.netns = "/nonexistent/netns";
    assert_int_equal(rt_cni_add(&f->opts, net, &p, &res, &err), -ENOENT);
    assert_order(f, "");

    /* DEL never hands the host's namespace to a plugin */
    assert_int_equal(rt_cni_add(&f->opts, net, &f->pod, &res, &err), 0);
    rt_cni_result_free(&res);
    p.netns = own;
    assert_int_equal(rt_cni_del(&f->opts, &p, &err), 0);
    assert_env_has(f, 2, "CNI_NETNS=");
    free(own);
    rt_cni_net_free(net);
}

static void test_bad_pod(void **state)
{
    fx *f = *state;
    rt_cni_net *net = chain("fakebr", NULL);
    rt_cni_result res;
    mk_err err = {0};
    rt_cni_pod p = f->pod;
    p.container_id = "../etc";
    assert_int_equal(rt_cni_add(&f->opts, net, &p, &res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "container id \"../etc\""));
    assert_int_equal(rt_cni_del(&f->opts, &p, &err), -EINVAL);
    p = f->pod;
    p.ifname = "a-very-long-ifname";
    assert_int_equal(rt_cni_add(&f->opts, net, &p, &res, &err), -EINVAL);
    p = f->pod;
    p.pod_name = "x;y";
    assert_int_equal(rt_cni_add(&f->opts, net, &p, &res, &err), -EINVAL);
    rt_cni_opts o = f->opts;
    o.cache_dir = NULL;
    assert_int_equal(rt_cni_add(&o, net, &f->pod, &res, &err), -EINVAL);
    assert_order(f, "");
    assert_false(cached(f));
    rt_cni_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_chain_and_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_del_from_cache_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_del_failure_keeps_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_replaces_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_netns_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_pod, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
