/* Tests for reading plugin output: CNI results and the error JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_rt_cni_util.h"

/* What Debian's bridge plugin (1.1.1) printed for an ADD. */
static const char *bridge_result =
    "{ \"cniVersion\": \"1.0.0\",\n"
    "  \"interfaces\": [ {\"name\":\"mk0\",\"mac\":\"8e:ae:01:02:03:04\"},\n"
    "                  {\"name\":\"vethc2071248\",\"mac\":\"96:5b:01:02:03:04\"},\n"
    "                  {\"name\":\"eth0\",\"mac\":\"e2:4b:01:02:03:04\","
    "\"sandbox\":\"/run/netns/cnitest\"} ],\n"
    "  \"ips\": [ {\"interface\":2,\"address\":\"10.250.7.2/24\",\"gateway\":\"10.250.7.1\"} ],\n"
    "  \"routes\": [ {\"dst\":\"0.0.0.0/0\"} ],\n"
    "  \"dns\": { \"nameservers\": [\"10.250.7.1\"] } }";

static void test_bridge_result(void **state)
{
    rt_cni_result r;
    mk_err err = {0};
    assert_int_equal(rt_cni_result_parse(bridge_result, NULL, &r, &err), 0);
    assert_string_equal(r.cni_version, "1.0.0");
    assert_int_equal(r.n_ifaces, 3);
    assert_string_equal(r.ifaces[0].name, "mk0");
    assert_null(r.ifaces[0].sandbox);
    assert_string_equal(r.ifaces[2].name, "eth0");
    assert_string_equal(r.ifaces[2].mac, "e2:4b:01:02:03:04");
    assert_string_equal(r.ifaces[2].sandbox, "/run/netns/cnitest");
    assert_int_equal(r.n_ips, 1);
    assert_int_equal(r.ips[0].family, 4);
    assert_int_equal(r.ips[0].iface, 2);
    assert_string_equal(r.ips[0].address, "10.250.7.2/24");
    assert_string_equal(r.ips[0].ip, "10.250.7.2");
    assert_string_equal(r.ips[0].gateway, "10.250.7.1");
    assert_int_equal(r.n_routes, 1);
    assert_string_equal(r.routes[0].dst, "0.0.0.0/0");
    assert_null(r.routes[0].gw);
    assert_string_equal(r.dns_nameservers[0], "10.250.7.1");
    assert_null(r.dns_nameservers[1]);
    assert_null(r.dns_search);
    assert_null(r.dns_domain);
    assert_string_equal(r.pod_ipv4, "10.250.7.2");
    assert_string_equal(r.gateway4, "10.250.7.1");
    assert_null(r.pod_ipv6);
    assert_string_equal(r.json, bridge_result);
    rt_cni_result_free(&r);
}

/* Dual stack, a 0.4.0 result (ips carry "version"), a host-side address that is not the pod's,
 * full dns. */
static void test_dual_stack(void **state)
{
    const char *j =
        "{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"br0\"},{\"name\":\"eth0\","
        "\"sandbox\":\"/proc/42/ns/net\"}],"
        "\"ips\":[{\"version\":\"4\",\"interface\":0,\"address\":\"10.9.0.1/16\"},"
        "{\"version\":\"6\",\"interface\":1,\"address\":\"fd00:9::5/"
        "64\",\"gateway\":\"fd00:9::1\"},"
        "{\"version\":\"4\",\"interface\":1,\"address\":\"10.9.0.5/16\",\"gateway\":\"10.9.0.1\"},"
        "{\"version\":\"4\",\"interface\":1,\"address\":\"10.9.0.6/16\"}],"
        "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.9.0.1\"},{\"dst\":\"::/0\"}],"
        "\"dns\":{\"nameservers\":[\"1.1.1.1\",\"9.9.9.9\"],\"domain\":\"example.org\","
        "\"search\":[\"a.example.org\"],\"options\":[\"ndots:2\",\"edns0\"]}}";
    rt_cni_result r;
    mk_err err = {0};
    assert_int_equal(rt_cni_result_parse(j, "eth0", &r, &err), 0);
    assert_string_equal(r.pod_ipv4, "10.9.0.5");
    assert_string_equal(r.gateway4, "10.9.0.1");
    assert_string_equal(r.pod_ipv6, "fd00:9::5");
    assert_string_equal(r.gateway6, "fd00:9::1");
    assert_int_equal(r.ips[1].family, 6);
    assert_string_equal(r.routes[0].gw, "10.9.0.1");
    assert_string_equal(r.dns_nameservers[1], "9.9.9.9");
    assert_string_equal(r.dns_domain, "example.org");
    assert_string_equal(r.dns_search[0], "a.example.org");
    assert_string_equal(r.dns_options[0], "ndots:2");
    assert_string_equal(r.dns_options[1], "edns0");
    assert_null(r.dns_options[2]);
    rt_cni_result_free(&r);
}

/* An IPAM-style result (no interfaces, no interface index): every address is the pod's. An
 * empty result is valid and has no pod address. */
static void test_ipam_style(void **state)
{
    rt_cni_result r;
    mk_err err = {0};
    assert_int_equal(
        rt_cni_result_parse("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"fd00::7/64\"},"
                            "{\"address\":\"192.168.3.7/24\",\"gateway\":\"192.168.3.1\"}]}",
                            NULL, &r, &err),
        0);
    assert_string_equal(r.pod_ipv4, "192.168.3.7");
    assert_string_equal(r.pod_ipv6, "fd00::7");
    assert_null(r.gateway6);
    rt_cni_result_free(&r);
    assert_int_equal(rt_cni_result_parse("{\"cniVersion\":\"1.0.0\"}", NULL, &r, &err), 0);
    assert_null(r.pod_ipv4);
    assert_int_equal(r.n_ips, 0);
    rt_cni_result_free(&r);
}

static void test_bad_results(void **state)
{
    struct {
        const char *json, *want;
    } cases[] = {
        {"not json", "not a JSON object"},
        {"[]", "not a JSON object"},
        {"{\"interfaces\":{}}", "interfaces: must be an array"},
        {"{\"interfaces\":[{\"mac\":\"x\"}]}", "interfaces[0].name: required"},
        {"{\"interfaces\":[{\"name\":\"a\",\"sandbox\":5}]}", "interfaces[0].sandbox: must be a"},
        {"{\"ips\":[{\"gateway\":\"1.2.3.4\"}]}", "ips[0].address: required"},
        {"{\"ips\":[{\"address\":\"1.2.3.4\"}]}", "ips[0].address: \"1.2.3.4\" is not a CIDR"},
        {"{\"ips\":[{\"address\":\"1.2.3.400/8\"}]}", "is not a CIDR"},
        {"{\"interfaces\":[{\"name\":\"a\"}],\"ips\":[{\"address\":\"1.2.3.4/"
         "8\",\"interface\":1}]}",
         "ips[0].interface: not an index"},
        {"{\"ips\":[{\"address\":\"1.2.3.4/8\",\"interface\":-1}]}", "ips[0].interface"},
        {"{\"routes\":[{\"gw\":\"1.2.3.4\"}]}", "routes[0].dst: required"},
        {"{\"dns\":[]}", "dns: must be an object"},
        {"{\"dns\":{\"nameservers\":[1]}}", "dns.nameservers: must be an array of strings"},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(cases); i++) {
        rt_cni_result r;
        mk_err err = {0};
        int rc = rt_cni_result_parse(cases[i].json, NULL, &r, &err);
        if (rc != -EINVAL || !strstr(err.msg, cases[i].want))
            fail_msg("case %zu: rc %d msg \"%s\", want \"%s\"", i, rc, err.msg, cases[i].want);
        assert_null(r.json);
        assert_null(r.ips);
    }
}

static void test_error_json(void **state)
{
    int code = -1;
    mk_err err = {0};
    int r = rt_cni_error_parse("{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"failed to "
                               "allocate for range 0\",\"details\":\"no IP addresses available\"}",
                               "bridge", "ADD", "exit status 1", &code, &err);
    assert_int_equal(r, -EAGAIN);
    assert_int_equal(err.code, EAGAIN);
    assert_int_equal(code, 11);
    assert_string_equal(err.msg, "CNI plugin bridge ADD failed (code 11): failed to allocate for "
                                 "range 0: no IP addresses available");

    r = rt_cni_error_parse("{\"cniVersion\":\"1.0.0\",\"code\":1,\"msg\":\"incompatible CNI "
                           "versions\",\"details\":\"config is \\\"1.1.0\\\"\"}",
                           "loopback", "ADD", NULL, &code, &err);
    assert_int_equal(r, -EPROTO);
    assert_int_equal(code, 1);
    assert_string_equal(err.msg, "CNI plugin loopback ADD failed (code 1): incompatible CNI "
                                 "versions: config is \"1.1.0\"");

    /* no details; a plugin-specific code */
    r = rt_cni_error_parse("{\"code\":999,\"msg\":\"failed to Statfs \\\"/nonexistent\\\"\"}",
                           "bridge", "ADD", NULL, &code, &err);
    assert_int_equal(code, 999);
    assert_string_equal(
        err.msg, "CNI plugin bridge ADD failed (code 999): failed to Statfs \"/nonexistent\"");

    /* not error JSON: the fallback text (e.g. stderr) is the message */
    r = rt_cni_error_parse("panic: runtime error", "foo", "DEL", "exit status 2: boom", &code,
                           &err);
    assert_int_equal(r, -EPROTO);
    assert_int_equal(code, 0);
    assert_string_equal(err.msg, "CNI plugin foo DEL failed: exit status 2: boom");
    r = rt_cni_error_parse(NULL, "foo", "DEL", NULL, &code, &err);
    assert_string_equal(err.msg, "CNI plugin foo DEL failed: no error output");
    r = rt_cni_error_parse("{\"code\":\"x\"}", "foo", "ADD", "exit status 1", &code, &err);
    assert_int_equal(code, 0);
    assert_string_equal(err.msg, "CNI plugin foo ADD failed: exit status 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bridge_result), cmocka_unit_test(test_dual_stack),
        cmocka_unit_test(test_ipam_style),    cmocka_unit_test(test_bad_results),
        cmocka_unit_test(test_error_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
