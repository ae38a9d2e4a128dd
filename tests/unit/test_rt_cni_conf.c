/* Tests for CNI network configuration: choosing and parsing the conflist, its errors, the
 * default network, each plugin's stdin, CNI_ARGS and portMappings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_rt_cni_util.h"

static const char *two_plugins =
    "{\"cniVersion\":\"1.0.0\",\"name\":\"net1\",\"plugins\":["
    "{\"type\":\"bridge\",\"bridge\":\"mk0\",\"ipam\":{\"type\":\"host-local\"}},"
    "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true},\"snat\":true}]}";

static void test_load_picks_first(void **state)
{
    char *d = cni_tmpdir();
    cni_write(d, "20-b.conf",
              "{\"cniVersion\":\"0.4.0\",\"name\":\"single\",\"type\":\"ptp\",\"x\":1}", 0644);
    cni_write(d, "10-a.conflist", two_plugins, 0644);
    cni_write(d, ".05-hidden.conflist", "garbage", 0644);
    cni_write(d, "00-readme.txt", "not a config", 0644);
    char *sub = xasprintf("%s/01-dir.conf", d);
    assert_int_equal(mkdir(sub, 0755), 0);
    free(sub);

    rt_cni_net *net = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cni_load(d, &net, &err), 0);
    assert_string_equal(rt_cni_net_name(net), "net1");
    assert_string_equal(rt_cni_net_version(net), "1.0.0");
    assert_int_equal(rt_cni_net_n_plugins(net), 2);
    assert_string_equal(rt_cni_net_plugin_type(net, 0), "bridge");
    assert_string_equal(rt_cni_net_plugin_type(net, 1), "portmap");
    assert_null(rt_cni_net_plugin_type(net, 2));
    assert_non_null(strstr(rt_cni_net_file(net), "10-a.conflist"));
    rt_cni_net_free(net);

    /* without the conflist, the single .conf is wrapped into a chain of one */
    char *p = xasprintf("%s/10-a.conflist", d);
    assert_int_equal(unlink(p), 0);
    free(p);
    assert_int_equal(rt_cni_load(d, &net, &err), 0);
    assert_string_equal(rt_cni_net_name(net), "single");
    assert_string_equal(rt_cni_net_version(net), "0.4.0");
    assert_int_equal(rt_cni_net_n_plugins(net), 1);
    assert_string_equal(rt_cni_net_plugin_type(net, 0), "ptp");
    char *in = rt_cni_plugin_stdin(net, 0, NULL, NULL);
    assert_non_null(strstr(in, "\"x\":1"));
    free(in);
    rt_cni_net_free(net);
    cni_rmdir(d);
}

static void test_load_empty_or_missing(void **state)
{
    char *d = cni_tmpdir();
    rt_cni_net *net = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cni_load(d, &net, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "no CNI network config in"));
    assert_non_null(strstr(err.msg, d));
    char *missing = xasprintf("%s/nope", d);
    assert_int_equal(rt_cni_load(missing, &net, &err), -ENOENT);
    assert_non_null(strstr(err.msg, missing));
    free(missing);
    cni_rmdir(d);
}

/* Each bad config gives the expected error, and the message names the file and the field. */
static void test_load_errors(void **state)
{
    struct {
        const char *file, *json;
        int rc;
        const char *want;
    } cases[] = {
        {"x.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[}", -EINVAL,
         "x.conflist:1:"},
        {"x.conflist", "[1]", -EINVAL, "x.conflist: must be a JSON object"},
        {"x.conflist", "{\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"a\"}]}", -EINVAL,
         "x.conflist: name: required"},
        {"x.conflist",
         "{\"cniVersion\":\"1.0.0\",\"name\":\"-bad\",\"plugins\":[{\"type\":\"a\"}]}", -EINVAL,
         "x.conflist: name: must start"},
        {"x.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"a/b\",\"plugins\":[{\"type\":\"a\"}]}",
         -EINVAL, "name: must start"},
        {"x.conflist", "{\"name\":\"n\",\"plugins\":[{\"type\":\"a\"}]}", -EINVAL,
         "x.conflist: cniVersion: required"},
        {"x.conflist", "{\"cniVersion\":1,\"name\":\"n\",\"plugins\":[{\"type\":\"a\"}]}", -EINVAL,
         "cniVersion: must be a string"},
        {"x.conflist", "{\"cniVersion\":\"one\",\"name\":\"n\",\"plugins\":[{\"type\":\"a\"}]}",
         -EINVAL, "cniVersion: \"one\" is not a version"},
        {"x.conflist", "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"a\"}]}",
         -ENOTSUP, "CNI version 1.1.0 is newer than the installed plugins implement"},
        {"x.conflist", "{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"a\"}]}",
         -ENOTSUP, "CNI version 0.2.0 is too old"},
        {"x.conflist",
         "{\"cniVersions\":[\"1.1.0\",\"2.0.0\"],\"name\":\"n\",\"plugins\":[{\"type\":\"a\"}]}",
         -ENOTSUP, "cniVersions: none of them is supported"},
        {"x.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", -EINVAL,
         "x.conflist: plugins: required"},
        {"x.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[]}", -EINVAL,
         "plugins: must be a non-empty array"},
        {"x.conflist",
         "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"a\"},{\"x\":1}]}",
         -EINVAL, "x.conflist: plugins[1].type: required"},
        {"x.conflist",
         "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"../../bin/sh\"}]}",
         -EINVAL, "plugins[0].type: must be a plugin binary name"},
        {"x.conflist",
         "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"a\","
         "\"capabilities\":true}]}",
         -EINVAL, "plugins[0].capabilities: must be an object"},
        {"x.conf", "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", -EINVAL,
         "x.conf: plugins[0].type: required"},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(cases); i++) {
        rt_cni_net *net = NULL;
        mk_err err = {0};
        int r = rt_cni_load_bytes(cases[i].json, cases[i].file, &net, &err);
        if (r != cases[i].rc || !strstr(err.msg, cases[i].want))
            fail_msg("case %zu: rc %d msg \"%s\", want %d \"%s\"", i, r, err.msg, cases[i].rc,
                     cases[i].want);
        assert_null(net);
    }
}

static void test_versions(void **state)
{
    const char *ok[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};
    for (size_t i = 0; i < MK_ARRAY_LEN(ok); i++) {
        char *j = xasprintf("{\"cniVersion\":\"%s\",\"name\":\"n\",\"type\":\"a\"}", ok[i]);
        rt_cni_net *net = NULL;
        mk_err err = {0};
        assert_int_equal(rt_cni_load_bytes(j, "x.json", &net, &err), 0);
        assert_string_equal(rt_cni_net_version(net), ok[i]);
        rt_cni_net_free(net);
        free(j);
    }
    /* cniVersions (spec 1.1) wins over cniVersion: the highest one supported */
    rt_cni_net *net = NULL;
    mk_err err = {0};
    assert_int_equal(
        rt_cni_load_bytes("{\"cniVersions\":[\"0.4.0\",\"1.1.0\",\"1.0.0\"],\"cniVersion\":"
                          "\"1.1.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"a\"}]}",
                          NULL, &net, &err),
        0);
    assert_string_equal(rt_cni_net_version(net), "1.0.0");
    char *in = rt_cni_plugin_stdin(net, 0, NULL, NULL);
    cJSON *o = cJSON_Parse(in);
    assert_string_equal(cJSON_GetObjectItem(o, "cniVersion")->valuestring, "1.0.0");
    cJSON_Delete(o);
    free(in);
    rt_cni_net_free(net);
}

static void test_plugin_stdin(void **state)
{
    rt_cni_net *net = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cni_load_bytes(two_plugins, "t.conflist", &net, &err), 0);
    cJSON *prev = cJSON_Parse("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.0.2/24\"}]}");
    rt_cni_portmap pm[] = {{8080, 80, "TCP", NULL}, {5353, 53, "UDP", "127.0.0.1"}};
    cJSON *maps = NULL;
    assert_int_equal(rt_cni_portmaps_json(pm, 2, &maps, &err), 0);

    /* the first plugin: no prevResult, no runtimeConfig (it did not ask for portMappings) */
    char *in = rt_cni_plugin_stdin(net, 0, NULL, maps);
    cJSON *o = cJSON_Parse(in);
    assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "net1");
    assert_string_equal(cJSON_GetObjectItem(o, "cniVersion")->valuestring, "1.0.0");
    assert_string_equal(cJSON_GetObjectItem(o, "bridge")->valuestring, "mk0");
    assert_null(cJSON_GetObjectItem(o, "prevResult"));
    assert_null(cJSON_GetObjectItem(o, "runtimeConfig"));
    cJSON_Delete(o);
    free(in);

    /* the second: prevResult as given, runtimeConfig.portMappings, capabilities removed, its
     * own keys passed through */
    in = rt_cni_plugin_stdin(net, 1, prev, maps);
    o = cJSON_Parse(in);
    assert_true(cJSON_Compare(cJSON_GetObjectItem(o, "prevResult"), prev, true));
    assert_null(cJSON_GetObjectItem(o, "capabilities"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "snat")));
    cJSON *rc = cJSON_GetObjectItem(o, "runtimeConfig");
    assert_true(cJSON_Compare(cJSON_GetObjectItem(rc, "portMappings"), maps, true));
    cJSON_Delete(o);
    free(in);

    /* no mappings: no runtimeConfig */
    cJSON *none = cJSON_CreateArray();
    in = rt_cni_plugin_stdin(net, 1, prev, none);
    assert_null(strstr(in, "runtimeConfig"));
    free(in);
    cJSON_Delete(none);
    cJSON_Delete(maps);
    cJSON_Delete(prev);
    rt_cni_net_free(net);
}

static void test_portmaps_json(void **state)
{
    rt_cni_portmap pm[] = {{8080, 80, "TCP", NULL},
                           {5353, 53, "udp", "192.168.1.5"},
                           {9000, 9000, NULL, ""},
                           {3868, 3868, "Sctp", NULL}};
    cJSON *maps = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cni_portmaps_json(pm, MK_ARRAY_LEN(pm), &maps, &err), 0);
    char *s = cJSON_PrintUnformatted(maps);
    assert_string_equal(
        s,
        "[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"},"
        "{\"hostPort\":5353,\"containerPort\":53,\"protocol\":\"udp\",\"hostIP\":\"192.168.1.5\"},"
        "{\"hostPort\":9000,\"containerPort\":9000,\"protocol\":\"tcp\"},"
        "{\"hostPort\":3868,\"containerPort\":3868,\"protocol\":\"sctp\"}]");
    free(s);
    cJSON_Delete(maps);

    rt_cni_portmap bad1 = {0, 80, "TCP", NULL};
    assert_int_equal(rt_cni_portmaps_json(&bad1, 1, &maps, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "1..65535"));
    rt_cni_portmap bad2 = {80, 80, "ICMP", NULL};
    assert_int_equal(rt_cni_portmaps_json(&bad2, 1, &maps, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "protocol \"ICMP\""));
}

static void test_portmaps_from_pod(void **state)
{
    const char *yaml = "apiVersion: v1\n"
                       "kind: Pod\n"
                       "metadata: {name: p}\n"
                       "spec:\n"
                       "  containers:\n"
                       "  - name: a\n"
                       "    image: nginx\n"
                       "    ports:\n"
                       "    - containerPort: 80\n"
                       "      hostPort: 8080\n"
                       "    - containerPort: 443\n"
                       "  - name: b\n"
                       "    image: nginx\n"
                       "    ports:\n"
                       "    - {containerPort: 53, hostPort: 5353, protocol: UDP, hostIP: "
                       "127.0.0.1}\n";
    podspec_result pr = {0};
    mk_err err = {0};
    assert_int_equal(podspec_parse("p.yaml", yaml, strlen(yaml), &pr, &err), 0);
    rt_cni_portmap *m = NULL;
    size_t n = rt_cni_portmaps_from_pod(pr.pods[0], &m);
    assert_int_equal(n, 2);
    assert_int_equal(m[0].host_port, 8080);
    assert_int_equal(m[0].container_port, 80);
    assert_int_equal(m[1].host_port, 5353);
    assert_string_equal(m[1].protocol, "UDP");
    assert_string_equal(m[1].host_ip, "127.0.0.1");
    cJSON *maps = NULL;
    assert_int_equal(rt_cni_portmaps_json(m, n, &maps, &err), 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(maps, 1), "protocol")->valuestring,
                        "udp");
    cJSON_Delete(maps);
    free(m);
    podspec_result_free(&pr);
}

static void test_cni_args(void **state)
{
    rt_cni_pod pod = {.container_id = "4f3c2a10-uid",
                      .pod_namespace = "default",
                      .pod_name = "mypod",
                      .pod_uid = "4f3c2a10-uid"};
    cJSON *pairs = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cni_args_pairs(&pod, &pairs, &err), 0);
    char *s = rt_cni_args_join(pairs);
    assert_string_equal(s, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=mypod;"
                           "K8S_POD_INFRA_CONTAINER_ID=4f3c2a10-uid;K8S_POD_UID=4f3c2a10-uid");
    free(s);
    cJSON_Delete(pairs);

    pod.pod_uid = NULL;
    assert_int_equal(rt_cni_args_pairs(&pod, &pairs, &err), 0);
    s = rt_cni_args_join(pairs);
    assert_null(strstr(s, "K8S_POD_UID"));
    free(s);
    cJSON_Delete(pairs);

    pod.pod_name = "a;b=c";
    assert_int_equal(rt_cni_args_pairs(&pod, &pairs, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "K8S_POD_NAME"));
    pod.pod_name = NULL;
    assert_int_equal(rt_cni_args_pairs(&pod, &pairs, &err), -EINVAL);
}

static void test_default_conflist(void **state)
{
    char *json = NULL;
    mk_err err = {0};
    assert_int_equal(
        rt_cni_default_conflist(NULL, NULL, "/srv/root/var/lib/cni/networks", &json, &err), 0);
    rt_cni_net *net = NULL;
    assert_int_equal(rt_cni_load_bytes(json, "default.conflist", &net, &err), 0);
    assert_string_equal(rt_cni_net_name(net), RT_CNI_DEFAULT_NET_NAME);
    assert_string_equal(rt_cni_net_version(net), "1.0.0");
    assert_int_equal(rt_cni_net_n_plugins(net), 2);
    assert_string_equal(rt_cni_net_plugin_type(net, 0), "bridge");
    assert_string_equal(rt_cni_net_plugin_type(net, 1), "portmap");
    rt_cni_net_free(net);

    cJSON *o = cJSON_Parse(json);
    cJSON *br = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "plugins"), 0);
    assert_string_equal(cJSON_GetObjectItem(br, "bridge")->valuestring, "mk0");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(br, "isGateway")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(br, "ipMasq")));
    cJSON *ipam = cJSON_GetObjectItem(br, "ipam");
    assert_string_equal(cJSON_GetObjectItem(ipam, "type")->valuestring, "host-local");
    assert_string_equal(cJSON_GetObjectItem(ipam, "dataDir")->valuestring,
                        "/srv/root/var/lib/cni/networks");
    cJSON *range =
        cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ipam, "ranges"), 0), 0);
    assert_string_equal(cJSON_GetObjectItem(range, "subnet")->valuestring, "10.88.0.0/16");
    cJSON *route = cJSON_GetArrayItem(cJSON_GetObjectItem(ipam, "routes"), 0);
    assert_string_equal(cJSON_GetObjectItem(route, "dst")->valuestring, "0.0.0.0/0");
    cJSON *pm = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "plugins"), 1);
    assert_true(
        cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(pm, "capabilities"), "portMappings")));
    cJSON_Delete(o);
    free(json);

    assert_int_equal(rt_cni_default_conflist("br-test", "fd00:10::/64", NULL, &json, &err), 0);
    assert_non_null(strstr(json, "\"::/0\""));
    assert_null(strstr(json, "dataDir"));
    free(json);

    const char *bad_subnets[] = {"10.88.0.0",  "10.88.0.1/16",  "10.88.0.0/33", "300.1.1.0/24",
                                 "10.88.0.0/", "10.88.0.0/16x", "fd00::1/64"};
    for (size_t i = 0; i < MK_ARRAY_LEN(bad_subnets); i++) {
        json = NULL;
        assert_int_equal(rt_cni_default_conflist("mk0", bad_subnets[i], NULL, &json, &err),
                         -EINVAL);
        assert_non_null(strstr(err.msg, bad_subnets[i]));
        assert_null(json);
    }
    assert_int_equal(rt_cni_default_conflist("a-very-long-bridge-name", NULL, NULL, &json, &err),
                     -EINVAL);
    assert_int_equal(rt_cni_default_conflist("a/b", NULL, NULL, &json, &err), -EINVAL);
}

static void test_write_default(void **state)
{
    char *d = cni_tmpdir();
    char *conf = xasprintf("%s/etc/cni/net.d", d);
    char *path = NULL;
    mk_err err = {0};
    assert_int_equal(rt_cni_write_default(conf, "mk9", "10.213.9.0/24", NULL, &path, &err), 1);
    assert_non_null(strstr(path, RT_CNI_DEFAULT_CONF_FILE));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    free(path);
    rt_cni_net *net = NULL;
    assert_int_equal(rt_cni_load(conf, &net, &err), 0);
    rt_cni_net_free(net);
    /* a config is there now (any config): nothing is written */
    path = NULL;
    assert_int_equal(rt_cni_write_default(conf, "mk9", "10.213.9.0/24", NULL, &path, &err), 0);
    assert_null(path);
    char *p = xasprintf("%s/%s", conf, RT_CNI_DEFAULT_CONF_FILE);
    unlink(p);
    free(p);
    cni_write(conf, "50-user.conf", "{}", 0644);
    assert_int_equal(rt_cni_write_default(conf, NULL, NULL, NULL, NULL, &err), 0);
    assert_false(cni_exists(conf, RT_CNI_DEFAULT_CONF_FILE));
    free(conf);
    cni_rmdir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_picks_first),  cmocka_unit_test(test_load_empty_or_missing),
        cmocka_unit_test(test_load_errors),       cmocka_unit_test(test_versions),
        cmocka_unit_test(test_plugin_stdin),      cmocka_unit_test(test_portmaps_json),
        cmocka_unit_test(test_portmaps_from_pod), cmocka_unit_test(test_cni_args),
        cmocka_unit_test(test_default_conflist),  cmocka_unit_test(test_write_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
