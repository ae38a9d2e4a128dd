/* test_podspec_dns.c - spec.dnsConfig and spec.hostAliases: decoded, validated with the API
 * server's messages and positions, written back to JSON (and so into the hash), copied. */
#include "test_podspec_helpers.h"

#define ONE_CTR POD_HDR "  containers: [{name: c, image: nginx}]\n"

static const char subdomain_msg[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char ip_msg[] = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

static const char full[] = ONE_CTR "  dnsPolicy: None\n"
                                   "  dnsConfig:\n"
                                   "    nameservers: [1.1.1.1, \"2001:db8::1\"]\n"
                                   "    searches: [a.example., b]\n"
                                   "    options:\n"
                                   "    - name: ndots\n"
                                   "      value: \"2\"\n"
                                   "    - name: edns0\n"
                                   "    - {name: x, value: \"\"}\n"
                                   "  hostAliases:\n"
                                   "  - ip: 10.0.0.1\n"
                                   "    hostnames: [foo.local, bar]\n"
                                   "  - ip: \"fd00::1\"\n";

static void check_full(const podspec_pod *p)
{
    const podspec_dns_config *d = &p->dns_config;
    assert_true(d->present);
    assert_string_equal(d->nameservers[0], "1.1.1.1");
    assert_string_equal(d->nameservers[1], "2001:db8::1");
    assert_null(d->nameservers[2]);
    assert_string_equal(d->searches[0], "a.example.");
    assert_string_equal(d->searches[1], "b");
    assert_null(d->searches[2]);
    assert_int_equal(d->n_options, 3);
    assert_string_equal(d->options[0].name, "ndots");
    assert_string_equal(d->options[0].value, "2");
    assert_string_equal(d->options[1].name, "edns0");
    assert_null(d->options[1].value); /* absent, not "" */
    assert_string_equal(d->options[2].value, "");
    assert_int_equal(p->n_host_aliases, 2);
    assert_string_equal(p->host_aliases[0].ip, "10.0.0.1");
    assert_string_equal(p->host_aliases[0].hostnames[0], "foo.local");
    assert_string_equal(p->host_aliases[0].hostnames[1], "bar");
    assert_null(p->host_aliases[0].hostnames[2]);
    assert_string_equal(p->host_aliases[1].ip, "fd00::1");
    assert_null(p->host_aliases[1].hostnames);
}

static void test_decode(void **state)
{
    podspec_result res;
    podspec_pod *p = parse_one(full, &res);
    check_full(p);
    podspec_pod *d = podspec_pod_dup(p);
    podspec_result_free(&res);
    check_full(d); /* the copy owns its strings */
    podspec_pod_free(d);

    p = parse_one(ONE_CTR, &res);
    assert_false(p->dns_config.present);
    assert_null(p->dns_config.nameservers);
    assert_int_equal(p->n_host_aliases, 0);
    podspec_result_free(&res);
    p = parse_one(ONE_CTR "  dnsConfig: {}\n  hostAliases: []\n", &res);
    assert_true(p->dns_config.present);
    assert_int_equal(p->n_host_aliases, 0);
    podspec_result_free(&res);
}

static char *spec_text(const podspec_pod *p)
{
    cJSON *j = podspec_pod_to_json(p, NULL, NULL, 0);
    char *t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "spec"));
    cJSON_Delete(j);
    return t;
}

static void test_json_and_hash(void **state)
{
    podspec_result res, again, plain;
    podspec_pod *p = parse_one(full, &res);
    char *t = spec_text(p);
    /* the API server's key order: ..., schedulerName, hostAliases, dnsConfig, enableServiceLinks */
    assert_non_null(strstr(
        t, "\"schedulerName\":\"default-scheduler\",\"hostAliases\":[{\"ip\":\"10.0.0.1\","
           "\"hostnames\":[\"foo.local\",\"bar\"]},{\"ip\":\"fd00::1\"}],\"dnsConfig\":{"
           "\"nameservers\":[\"1.1.1.1\",\"2001:db8::1\"],\"searches\":[\"a.example.\",\"b\"],"
           "\"options\":[{\"name\":\"ndots\",\"value\":\"2\"},{\"name\":\"edns0\"},{\"name\":"
           "\"x\",\"value\":\"\"}]},\"enableServiceLinks\":true}"));
    /* the JSON reads back to the same pod (the checkpoint depends on it) */
    cJSON *j = podspec_pod_to_json(p, NULL, NULL, 0);
    char *whole = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    podspec_pod *q = parse_one(whole, &again);
    free(whole);
    check_full(q);
    assert_string_equal(q->hash, p->hash);
    /* the fields are part of the hash; a pod without them hashes as before */
    podspec_pod *r =
        parse_one(ONE_CTR "  dnsPolicy: None\n  dnsConfig: {nameservers: [1.1.1.1]}\n", &plain);
    assert_string_not_equal(r->hash, p->hash);
    char *rt = spec_text(r);
    assert_non_null(strstr(rt, "\"dnsConfig\":{\"nameservers\":[\"1.1.1.1\"]}"));
    free(rt);
    podspec_result_free(&plain);
    r = parse_one(ONE_CTR "  dnsConfig: {}\n", &plain);
    rt = spec_text(r);
    assert_non_null(strstr(rt, "\"dnsConfig\":{}")); /* present, so written */
    free(rt);
    podspec_result_free(&plain);
    r = parse_one(ONE_CTR "  dnsConfig: null\n  hostAliases: null\n", &plain);
    rt = spec_text(r);
    assert_null(strstr(rt, "dnsConfig"));
    assert_null(strstr(rt, "hostAliases"));
    free(rt);
    podspec_result_free(&plain);
    free(t);
    podspec_result_free(&again);
    podspec_result_free(&res);
}

static void test_policy_none(void **state)
{
    expect_error(ONE_CTR "  dnsPolicy: None\n", EINVAL,
                 "t.yaml:6:3: spec.dnsConfig: Required value: must provide `dnsConfig` when "
                 "`dnsPolicy` is None");
    expect_error(ONE_CTR "  dnsPolicy: None\n  dnsConfig: null\n", EINVAL,
                 "t.yaml:8:14: spec.dnsConfig: Required value: must provide `dnsConfig` when "
                 "`dnsPolicy` is None");
    /* an empty object is there, but names no nameserver */
    expect_error(ONE_CTR "  dnsPolicy: None\n  dnsConfig: {}\n", EINVAL,
                 "t.yaml:8:14: spec.dnsConfig.nameservers: Required value: must provide at least "
                 "one DNS nameserver when `dnsPolicy` is None");
    expect_error(ONE_CTR "  dnsPolicy: None\n  dnsConfig: {searches: [a]}\n", EINVAL,
                 "t.yaml:8:14: spec.dnsConfig.nameservers: Required value: must provide at least "
                 "one DNS nameserver when `dnsPolicy` is None");
    /* other policies take any dnsConfig, empty too */
    podspec_result res;
    podspec_pod *p =
        parse_one(ONE_CTR "  dnsPolicy: Default\n  dnsConfig: {searches: [a]}\n", &res);
    assert_string_equal(p->dns_policy, "Default");
    podspec_result_free(&res);
    p = parse_one(ONE_CTR "  dnsConfig: {}\n", &res);
    assert_string_equal(p->dns_policy, "ClusterFirst");
    podspec_result_free(&res);
}

static void test_nameservers(void **state)
{
    expect_error(ONE_CTR "  dnsConfig:\n    nameservers: [1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4]\n",
                 EINVAL,
                 "t.yaml:8:18: spec.dnsConfig.nameservers: Invalid value: []string{\"1.1.1.1\", "
                 "\"2.2.2.2\", \"3.3.3.3\", \"4.4.4.4\"}: must not have more than 3 nameservers");
    char want[512];
    snprintf(want, sizeof(want),
             "t.yaml:8:28: spec.dnsConfig.nameservers[1]: Invalid value: \"dns.google\": %s",
             ip_msg);
    expect_error(ONE_CTR "  dnsConfig:\n    nameservers: [8.8.8.8, dns.google]\n", EINVAL, want);
    snprintf(want, sizeof(want),
             "t.yaml:8:19: spec.dnsConfig.nameservers[0]: Invalid value: \"\": %s", ip_msg);
    expect_error(ONE_CTR "  dnsConfig:\n    nameservers: [\"\"]\n", EINVAL, want);
    podspec_result res;
    podspec_pod *p = parse_one(
        ONE_CTR "  dnsConfig:\n    nameservers: [\"::1\", 10.0.0.10, \"fe80::1\"]\n", &res);
    assert_string_equal(p->dns_config.nameservers[2], "fe80::1");
    podspec_result_free(&res);
}

/* A YAML flow list of n search domains, each `len` characters long. */
static char *searches_yaml(size_t n, size_t len)
{
    char *s = xstrdup(ONE_CTR "  dnsConfig:\n    searches: [");
    for (size_t i = 0; i < n; i++) {
        char *d = xcalloc(len + 1, 1);
        memset(d, 'a', len);
        d[0] = (char)('a' + i % 26);
        char *t = xasprintf("%s%s\"%s\"", s, i ? ", " : "", d); /* "n", "y": not booleans */
        free(d);
        free(s);
        s = t;
    }
    char *t = xasprintf("%s]\n", s);
    free(s);
    return t;
}

static void test_searches(void **state)
{
    podspec_result res;
    /* 32 domains and 2048 characters with the spaces are the most the API server takes */
    char *y = searches_yaml(32, 63); /* 32 * 63 + 31 = 2047 */
    podspec_pod *p = parse_one(y, &res);
    assert_non_null(p->dns_config.searches[31]);
    podspec_result_free(&res);
    free(y);
    y = searches_yaml(33, 1);
    expect_error_part(y, EINVAL,
                      "t.yaml:8:15: spec.dnsConfig.searches: Invalid value: []string{\"a\", \"b\", "
                      "\"c\", ");
    expect_error_part(y, EINVAL, "\"g\"}: must not have more than 32 search paths");
    free(y);
    y = searches_yaml(20, 200); /* 4019 characters: the list shown is cut short */
    expect_error_part(y, EINVAL,
                      "t.yaml:8:15: spec.dnsConfig.searches: Invalid value: []string{\"a");
    expect_error_part(y, EINVAL,
                      "\", ...}: must not have more than 2048 characters (including spaces) in "
                      "the search list");
    free(y);
    /* one trailing dot is fine; the value in a message is the name without it */
    p = parse_one(ONE_CTR "  dnsConfig: {searches: [example.com., svc.cluster.local]}\n", &res);
    assert_string_equal(p->dns_config.searches[0], "example.com."); /* kept as written */
    podspec_result_free(&res);
    char want[1024];
    snprintf(want, sizeof(want),
             "t.yaml:7:30: spec.dnsConfig.searches[1]: Invalid value: \"Bad_Domain\": %s",
             subdomain_msg);
    expect_error(ONE_CTR "  dnsConfig: {searches: [ok, Bad_Domain.]}\n", EINVAL, want);
    snprintf(want, sizeof(want),
             "t.yaml:7:26: spec.dnsConfig.searches[0]: Invalid value: \"a.\": %s", subdomain_msg);
    expect_error(ONE_CTR "  dnsConfig: {searches: [a..]}\n", EINVAL, want);
    snprintf(want, sizeof(want), "t.yaml:7:26: spec.dnsConfig.searches[0]: Invalid value: \"\": %s",
             subdomain_msg);
    expect_error(ONE_CTR "  dnsConfig: {searches: [.]}\n", EINVAL, want);
}

static void test_options(void **state)
{
    expect_error(ONE_CTR "  dnsConfig:\n    options: [{name: ndots, value: \"1\"}, {value: x}]\n",
                 EINVAL,
                 "t.yaml:8:42: spec.dnsConfig.options[1]: Required value: must not be empty");
    expect_error(ONE_CTR "  dnsConfig:\n    options: [null]\n", EINVAL,
                 "t.yaml:8:15: spec.dnsConfig.options[0]: Required value: must not be empty");
    expect_error(ONE_CTR "  dnsConfig:\n    options: [{name: \"\"}]\n", EINVAL,
                 "t.yaml:8:15: spec.dnsConfig.options[0]: Required value: must not be empty");
    expect_error(ONE_CTR "  dnsConfig:\n    options: [{name: a, values: b}]\n", EINVAL,
                 "t.yaml:8:25: spec.dnsConfig.options[0].values: unknown field \"values\"");
    expect_error(ONE_CTR "  dnsConfig:\n    options: [{name: ndots, value: 2}]\n", EINVAL,
                 "t.yaml:8:36: spec.dnsConfig.options[0].value: cannot unmarshal number into a "
                 "string field (write \"2\" in quotes to keep it a string)");
}

static void test_shape(void **state)
{
    expect_error(ONE_CTR "  dnsConfig:\n    nameserver: [1.1.1.1]\n", EINVAL,
                 "t.yaml:8:5: spec.dnsConfig.nameserver: unknown field \"nameserver\"");
    expect_error(ONE_CTR "  dnsConfig:\n    nameservers: 1.1.1.1\n", EINVAL,
                 "t.yaml:8:18: spec.dnsConfig.nameservers: cannot unmarshal string into an array");
    expect_error(ONE_CTR "  dnsConfig: [1.1.1.1]\n", EINVAL,
                 "t.yaml:7:14: spec.dnsConfig: cannot unmarshal array into an object");
    expect_error(ONE_CTR "  hostAliases: {ip: 1.2.3.4}\n", EINVAL,
                 "t.yaml:7:16: spec.hostAliases: cannot unmarshal object into an array");
    expect_error(ONE_CTR "  hostAliases: [{ip: 1.2.3.4, hostname: [a]}]\n", EINVAL,
                 "t.yaml:7:31: spec.hostAliases[0].hostname: unknown field \"hostname\"");
}

static void test_host_aliases(void **state)
{
    char want[1024];
    snprintf(want, sizeof(want), "t.yaml:8:5: spec.hostAliases[0].ip: Invalid value: \"\": %s",
             ip_msg);
    expect_error(ONE_CTR "  hostAliases:\n  - hostnames: [ok]\n", EINVAL, want);
    snprintf(want, sizeof(want), "t.yaml:7:17: spec.hostAliases[0].ip: Invalid value: \"\": %s",
             ip_msg);
    expect_error(ONE_CTR "  hostAliases: [null]\n", EINVAL, want);
    snprintf(want, sizeof(want),
             "t.yaml:7:37: spec.hostAliases[1].ip: Invalid value: \"host.local\": %s", ip_msg);
    expect_error(ONE_CTR "  hostAliases: [{ip: 1.2.3.4}, {ip: host.local}]\n", EINVAL, want);
    /* hostnames are DNS-1123 subdomains; unlike searches, a trailing dot is refused */
    snprintf(want, sizeof(want),
             "t.yaml:9:21: spec.hostAliases[0].hostnames[1]: Invalid value: \"foo.\": %s",
             subdomain_msg);
    expect_error(ONE_CTR "  hostAliases:\n  - ip: 10.0.0.1\n    hostnames: [ok, \"foo.\"]\n",
                 EINVAL, want);
    snprintf(want, sizeof(want),
             "t.yaml:9:17: spec.hostAliases[0].hostnames[0]: Invalid value: \"Foo\": %s",
             subdomain_msg);
    expect_error(ONE_CTR "  hostAliases:\n  - ip: 10.0.0.1\n    hostnames: [Foo]\n", EINVAL, want);
    /* allowed with hostNetwork (appended to the host's file) */
    podspec_result res;
    podspec_pod *p = parse_one(
        ONE_CTR "  hostNetwork: true\n  hostAliases: [{ip: 127.0.0.1, hostnames: [me]}]\n", &res);
    assert_int_equal(p->n_host_aliases, 1);
    podspec_result_free(&res);
}

/* The API server's order: dnsPolicy, dnsConfig, ..., hostname, subdomain, hostAliases. */
static void test_order(void **state)
{
    expect_error_part(ONE_CTR "  dnsPolicy: Google\n  dnsConfig: {nameservers: [x]}\n", EINVAL,
                      "spec.dnsPolicy: Unsupported value");
    expect_error_part(ONE_CTR "  hostname: A\n  dnsConfig: {nameservers: [x]}\n", EINVAL,
                      "spec.dnsConfig.nameservers[0]: Invalid value");
    expect_error_part(ONE_CTR "  subdomain: A\n  hostAliases: [{ip: x}]\n", EINVAL,
                      "spec.subdomain: Invalid value");
    /* an invalid field wins over a field not supported yet */
    expect_error_part(ONE_CTR "  volumes: [{name: v}]\n  hostAliases: [{ip: x}]\n", EINVAL,
                      "spec.hostAliases[0].ip: Invalid value");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),      cmocka_unit_test(test_json_and_hash),
        cmocka_unit_test(test_policy_none), cmocka_unit_test(test_nameservers),
        cmocka_unit_test(test_searches),    cmocka_unit_test(test_options),
        cmocka_unit_test(test_shape),       cmocka_unit_test(test_host_aliases),
        cmocka_unit_test(test_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
