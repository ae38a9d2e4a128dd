/* test_podspec_validate.c - the API server's validation messages, with positions. */
#include "test_podspec_helpers.h"

#include "ps_internal.h"

#define META(extra) "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n" extra "spec:\n"
#define ONE_CTR     "  containers: [{name: c, image: nginx}]\n"

static const char label_msg[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

static void test_names(void **state)
{
    assert_true(podspec_is_dns1123_label("my-name"));
    assert_true(podspec_is_dns1123_label("123-abc"));
    assert_false(podspec_is_dns1123_label("My-name"));
    assert_false(podspec_is_dns1123_label("-a"));
    assert_false(podspec_is_dns1123_label("a.b"));
    assert_false(podspec_is_dns1123_label(""));
    assert_false(podspec_is_dns1123_label(NULL));
    char long_label[65];
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    assert_false(podspec_is_dns1123_label(long_label));
    long_label[63] = '\0';
    assert_true(podspec_is_dns1123_label(long_label));
    assert_true(podspec_is_dns1123_subdomain("example.com"));
    assert_true(podspec_is_dns1123_subdomain("a"));
    assert_false(podspec_is_dns1123_subdomain("a..b"));
    assert_false(podspec_is_dns1123_subdomain("a."));
    assert_false(podspec_is_dns1123_subdomain("A.b"));
    assert_false(podspec_is_dns1123_subdomain(""));
}

static void test_pod_name(void **state)
{
    expect_error("apiVersion: v1\nkind: Pod\nmetadata:\n  name: My_Pod\nspec:\n" ONE_CTR, EINVAL,
                 "t.yaml:4:9: metadata.name: Invalid value: \"My_Pod\": a lowercase RFC 1123 "
                 "subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex "
                 "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-"
                 "z0-9])?)*')");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {a: b}\nspec:\n" ONE_CTR, EINVAL,
                 "t.yaml:4:3: metadata.name: Required value: name or generateName is required");
    expect_error("apiVersion: v1\nkind: Pod\nspec:\n" ONE_CTR, EINVAL,
                 "t.yaml:1:1: metadata.name: Required value: name or generateName is required");
}

static void test_namespace(void **state)
{
    char want[1024];
    snprintf(want, sizeof(want), "t.yaml:5:14: metadata.namespace: Invalid value: \"Team_A\": %s",
             label_msg);
    expect_error(META("  namespace: Team_A\n") ONE_CTR, EINVAL, want);
}

static void test_labels_and_annotations(void **state)
{
    expect_error(META("  labels: {\"bad key\": x}\n") ONE_CTR, EINVAL,
                 "t.yaml:5:23: metadata.labels: Invalid value: \"bad key\": name part must "
                 "consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                 "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                 "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    expect_error(META("  labels: {app: \"a b\"}\n") ONE_CTR, EINVAL,
                 "t.yaml:5:17: metadata.labels: Invalid value: \"a b\": a valid label must be an "
                 "empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
                 "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
                 "or '12345', regex used for validation is "
                 "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
    expect_error(META("  labels: {\"Example.com/app\": x}\n") ONE_CTR, EINVAL,
                 "t.yaml:5:31: metadata.labels: Invalid value: \"Example.com/app\": prefix part a "
                 "lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    expect_error(META("  annotations: {\"/x\": z}\n") ONE_CTR, EINVAL,
                 "t.yaml:5:23: metadata.annotations: Invalid value: \"/x\": prefix part must be "
                 "non-empty");
    podspec_result res;
    podspec_pod *p = parse_one(META("  labels: {app.kubernetes.io/name: web, empty: \"\"}\n"
                                    "  annotations: {note: \"any text: at all\", "
                                    "Example.com/Key: v}\n") ONE_CTR,
                               &res);
    assert_string_equal(podspec_kv_get(p->labels, p->n_labels, "app.kubernetes.io/name"), "web");
    podspec_result_free(&res);
}

static void test_annotations_too_long(void **state)
{
    size_t n = 300 * 1024;
    char *text = malloc(n + 256);
    int off = snprintf(text, n + 256,
                       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
                       "  annotations:\n    big: \"");
    memset(text + off, 'x', n);
    snprintf(text + off + n, 200, "\"\nspec:\n" ONE_CTR);
    expect_error(text, EINVAL,
                 "t.yaml:6:5: metadata.annotations: Too long: must have at most "
                 "262144 bytes");
    free(text);
}

static void test_containers_required(void **state)
{
    expect_error(META("") "  restartPolicy: Never\n", EINVAL,
                 "t.yaml:6:3: spec.containers: Required value");
    expect_error(META("") "  containers: []\n", EINVAL,
                 "t.yaml:6:15: spec.containers: Required value");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", EINVAL,
                 "t.yaml:1:1: spec.containers: Required value");
}

static void test_container_names(void **state)
{
    char want[1024];
    snprintf(want, sizeof(want), "t.yaml:6:23: spec.containers[0].name: Invalid value: \"Web\": %s",
             label_msg);
    expect_error(META("") "  containers: [{name: Web, image: nginx}]\n", EINVAL, want);
    expect_error(META("") "  containers: [{image: nginx}]\n", EINVAL,
                 "t.yaml:6:16: spec.containers[0].name: Required value");
    expect_error(META("") "  containers: [{name: c, image: a}, {name: c, image: b}]\n", EINVAL,
                 "t.yaml:6:44: spec.containers[1].name: Duplicate value: \"c\"");
    expect_error(META("") "  containers: [~]\n", EINVAL,
                 "t.yaml:6:16: spec.containers[0].name: Required value");
}

static void test_image(void **state)
{
    expect_error(META("") "  containers: [{name: c}]\n", EINVAL,
                 "t.yaml:6:16: spec.containers[0].image: Required value");
    expect_error(META("") "  containers: [{name: c, image: \"\"}]\n", EINVAL,
                 "t.yaml:6:33: spec.containers[0].image: Required value");
    expect_error(META("") "  containers: [{name: c, image: \" nginx\"}]\n", EINVAL,
                 "t.yaml:6:33: spec.containers[0].image: Invalid value: \" nginx\": must not have "
                 "leading or trailing whitespace");
    /* the API server takes any other string; the runtime reports InvalidImageName later */
    podspec_result res;
    podspec_pod *p =
        parse_one(META("") "  containers: [{name: c, image: <your-private-image>}]\n", &res);
    assert_string_equal(p->containers[0].image, "<your-private-image>");
    podspec_result_free(&res);
}

static void test_enums(void **state)
{
    expect_error(META("") "  restartPolicy: Sometimes\n" ONE_CTR, EINVAL,
                 "t.yaml:6:18: spec.restartPolicy: Unsupported value: \"Sometimes\": supported "
                 "values: \"Always\", \"OnFailure\", \"Never\"");
    expect_error(META("") "  dnsPolicy: Google\n" ONE_CTR, EINVAL,
                 "t.yaml:6:14: spec.dnsPolicy: Unsupported value: \"Google\": supported values: "
                 "\"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"");
    expect_error(META("") "  dnsPolicy: None\n" ONE_CTR, EINVAL,
                 "t.yaml:6:3: spec.dnsConfig: Required value: must provide `dnsConfig` when "
                 "`dnsPolicy` is None");
    expect_error(META("") "  containers: [{name: c, image: x, imagePullPolicy: Sometimes}]\n",
                 EINVAL,
                 "t.yaml:6:53: spec.containers[0].imagePullPolicy: Unsupported value: "
                 "\"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"");
    expect_error(META("") "  containers: [{name: c, image: x, terminationMessagePolicy: X}]\n",
                 EINVAL,
                 "t.yaml:6:62: spec.containers[0].terminationMessagePolicy: Unsupported value: "
                 "\"X\": supported values: \"File\", \"FallbackToLogsOnError\"");
}

static void test_ports(void **state)
{
#define PORTS(p) META("") "  containers:\n  - name: c\n    image: x\n    ports: [" p "]\n"
    expect_error(PORTS("{name: http}"), EINVAL,
                 "t.yaml:9:13: spec.containers[0].ports[0].containerPort: Required value");
    expect_error(PORTS("{containerPort: 70000}"), EINVAL,
                 "t.yaml:9:29: spec.containers[0].ports[0].containerPort: Invalid value: 70000: "
                 "must be between 1 and 65535, inclusive");
    expect_error(PORTS("{containerPort: 80, hostPort: -1}"), EINVAL,
                 "t.yaml:9:43: spec.containers[0].ports[0].hostPort: Invalid value: -1: must be "
                 "between 1 and 65535, inclusive");
    expect_error(PORTS("{containerPort: 80, protocol: ICMP}"), EINVAL,
                 "t.yaml:9:43: spec.containers[0].ports[0].protocol: Unsupported value: \"ICMP\": "
                 "supported values: \"SCTP\", \"TCP\", \"UDP\"");
    expect_error(PORTS("{containerPort: 80, name: HTTP}"), EINVAL,
                 "t.yaml:9:39: spec.containers[0].ports[0].name: Invalid value: \"HTTP\": must "
                 "contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    expect_error(PORTS("{containerPort: 80, name: a-very-long-port-name}"), EINVAL,
                 "t.yaml:9:39: spec.containers[0].ports[0].name: Invalid value: "
                 "\"a-very-long-port-name\": must be no more than 15 characters");
    expect_error(PORTS("{containerPort: 80, name: \"8080\"}"), EINVAL,
                 "t.yaml:9:39: spec.containers[0].ports[0].name: Invalid value: \"8080\": must "
                 "contain at least one letter (a-z)");
    expect_error(PORTS("{containerPort: 80, name: a--b}"), EINVAL,
                 "t.yaml:9:39: spec.containers[0].ports[0].name: Invalid value: \"a--b\": must "
                 "not contain consecutive hyphens");
    expect_error(PORTS("{containerPort: 80, name: web}, {containerPort: 81, name: web}"), EINVAL,
                 "t.yaml:9:71: spec.containers[0].ports[1].name: Duplicate value: \"web\"");
    expect_error(PORTS("{containerPort: 80, hostIP: 1.2.3}"), EINVAL,
                 "t.yaml:9:41: spec.containers[0].ports[0].hostIP: Invalid value: \"1.2.3\": must "
                 "be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
    expect_error(META("") "  containers:\n  - {name: a, image: x, ports: [{containerPort: 80, "
                          "hostPort: 8080}]}\n  - {name: b, image: x, ports: [{containerPort: 81, "
                          "hostPort: 8080}]}\n",
                 EINVAL,
                 "t.yaml:8:63: spec.containers[1].ports[0].hostPort: Duplicate value: "
                 "\"TCP//8080\"");
    podspec_result res;
    parse_one(PORTS("{containerPort: 80, hostPort: 8080}, {containerPort: 80, hostPort: 8080, "
                    "protocol: UDP}"),
              &res);
    podspec_result_free(&res);
#undef PORTS
}

static void test_host_network_ports(void **state)
{
    expect_error(META("") "  hostNetwork: true\n  containers:\n  - name: c\n    image: x\n"
                          "    ports: [{containerPort: 80, hostPort: 8080}]\n",
                 EINVAL,
                 "t.yaml:10:29: spec.containers[0].ports[0].containerPort: Invalid value: 80: "
                 "must match `hostPort` when `hostNetwork` is true");
}

static void test_env_names(void **state)
{
    expect_error(META("") "  containers: [{name: c, image: x, env: [{value: v}]}]\n", EINVAL,
                 "t.yaml:6:42: spec.containers[0].env[0].name: Required value");
    expect_error(META("") "  containers: [{name: c, image: x, env: [{name: \"A=B\"}]}]\n", EINVAL,
                 "t.yaml:6:49: spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid "
                 "environment variable name must consist only of printable ASCII characters other "
                 "than '='");
}

static void test_spec_values(void **state)
{
    expect_error(META("") "  terminationGracePeriodSeconds: -1\n" ONE_CTR, EINVAL,
                 "t.yaml:6:34: spec.terminationGracePeriodSeconds: Invalid value: -1: must be "
                 "greater than or equal to 0");
    char want[1024];
    snprintf(want, sizeof(want), "t.yaml:6:13: spec.hostname: Invalid value: \"Box\": %s",
             label_msg);
    expect_error(META("") "  hostname: Box\n" ONE_CTR, EINVAL, want);
    snprintf(want, sizeof(want), "t.yaml:6:14: spec.subdomain: Invalid value: \"a.b\": %s",
             label_msg);
    expect_error(META("") "  subdomain: a.b\n" ONE_CTR, EINVAL, want);
    expect_error(META("") "  nodeName: Node_1\n" ONE_CTR, EINVAL,
                 "t.yaml:6:13: spec.nodeName: Invalid value: \"Node_1\": a lowercase RFC 1123 "
                 "subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex "
                 "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-"
                 "z0-9])?)*')");
    expect_error(META("") "  shareProcessNamespace: true\n  hostPID: true\n" ONE_CTR, EINVAL,
                 "t.yaml:6:26: spec.shareProcessNamespace: Invalid value: true: "
                 "ShareProcessNamespace and HostPID cannot both be enabled");
}

static void test_ephemeral_containers(void **state)
{
    expect_error(META("") ONE_CTR "  ephemeralContainers: [{name: e, image: busybox}]\n"
                                  "  volumes: [{name: v}]\n",
                 EINVAL,
                 "t.yaml:7:24: spec.ephemeralContainers: Forbidden: cannot be set on create");
}

static void test_validation_before_not_supported(void **state)
{
    /* the API server would refuse these, so they are invalid, not merely unsupported */
    expect_error(META("") "  volumes: [{name: v, emptyDir: {}}]\n"
                          "  containers: [{name: Bad, image: x}]\n",
                 EINVAL,
                 "t.yaml:7:23: spec.containers[0].name: Invalid value: \"Bad\": a "
                 "lowercase RFC 1123 label must consist of lower case alphanumeric "
                 "characters or '-', and must start and end with an alphanumeric "
                 "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
    expect_error(META("") ONE_CTR "  initContainers: [{name: c, image: x}]\n", EINVAL,
                 "t.yaml:7:27: spec.initContainers[0].name: Duplicate value: \"c\"");
}

static void test_resources(void **state)
{
#define RES(r) META("") "  containers:\n  - name: c\n    image: x\n    resources: " r "\n"
    expect_error(RES("{requests: {memory: 900Mi}, limits: {memory: 800Mi}}"), EINVAL,
                 "t.yaml:9:36: spec.containers[0].resources.requests: Invalid value: \"900Mi\": "
                 "must be less than or equal to memory limit of 800Mi");
    expect_error(RES("{requests: {cpu: \"1.5\"}, limits: {cpu: 1}}"), EINVAL,
                 "t.yaml:9:33: spec.containers[0].resources.requests: Invalid value: \"1500m\": "
                 "must be less than or equal to cpu limit of 1");
    expect_error(RES("{requests: {example.com/dongle: 2}, limits: {example.com/dongle: 3}}"),
                 EINVAL,
                 "t.yaml:9:48: spec.containers[0].resources.requests: Invalid value: \"2\": must "
                 "be equal to example.com/dongle limit of 3");
    expect_error(RES("{requests: {example.com/dongle: 2}}"), EINVAL,
                 "t.yaml:9:48: spec.containers[0].resources.limits: Required value: Limit must "
                 "be set for non overcommitable resources");
    expect_error(RES("{limits: {cpus: 1}}"), EINVAL,
                 "t.yaml:9:32: spec.containers[0].resources.limits[cpus]: Invalid value: "
                 "\"cpus\": must be a standard resource for containers");
    expect_error(RES("{limits: {memory: -1Gi}}"), EINVAL,
                 "t.yaml:9:34: spec.containers[0].resources.limits[memory]: Invalid value: "
                 "\"-1Gi\": must be greater than or equal to 0");
    expect_error(RES("{limits: {example.com/gpu: 500m}}"), EINVAL,
                 "t.yaml:9:43: spec.containers[0].resources.limits[example.com/gpu]: Invalid "
                 "value: \"500m\": must be an integer");
    expect_error(RES("{limits: {memory: 1GB}}"), EINVAL,
                 "t.yaml:9:34: spec.containers[0].resources.limits[memory]: quantities must match "
                 "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    expect_error(RES("{limits: {memory: 1Gi}, requests: {memory: 512Mi}, claims: []}"), ENOTSUP,
                 "t.yaml:9:5: spec.containers[0].resources: not supported");
#undef RES
}

static void test_quantities(void **state)
{
    static const struct {
        const char *in, *canonical;
    } cases[] = {
        {"900Mi", "900Mi"}, {"1024Mi", "1Gi"},    {"1536Mi", "1536Mi"}, {"0.5", "500m"},
        {"1.5", "1500m"},   {"100m", "100m"},     {"1000M", "1G"},      {"1500", "1500"},
        {"1e3", "1e3"},     {"12e3", "12e3"},     {"0.5Gi", "512Mi"},   {"100", "100"},
        {"512Ki", "512Ki"}, {"1000Ki", "1000Ki"}, {"0", "0"},           {"-1", "-1"},
        {"1n", "1n"},       {"0.1n", "1n"},       {"1k", "1k"},         {"+5", "5"},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(cases); i++) {
        ps_quantity q;
        char buf[64];
        if (ps_quantity_parse(cases[i].in, &q) < 0)
            fail_msg("%s: does not parse", cases[i].in);
        ps_quantity_format(&q, buf, sizeof(buf));
        if (strcmp(buf, cases[i].canonical) != 0)
            fail_msg("%s: got %s, want %s", cases[i].in, buf, cases[i].canonical);
    }
    static const char *bad[] = {"", "1GB", "abc", "1..2", ".", "1e", "Mi", "1 Gi"};
    for (size_t i = 0; i < MK_ARRAY_LEN(bad); i++) {
        ps_quantity q;
        if (ps_quantity_parse(bad[i], &q) == 0)
            fail_msg("\"%s\" parsed", bad[i]);
    }
    ps_quantity a, b;
    assert_int_equal(ps_quantity_parse("1Gi", &a), 0);
    assert_int_equal(ps_quantity_parse("1073741824", &b), 0);
    assert_true(a.nanos == b.nanos);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_pod_name),
        cmocka_unit_test(test_namespace),
        cmocka_unit_test(test_labels_and_annotations),
        cmocka_unit_test(test_annotations_too_long),
        cmocka_unit_test(test_containers_required),
        cmocka_unit_test(test_container_names),
        cmocka_unit_test(test_image),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_host_network_ports),
        cmocka_unit_test(test_env_names),
        cmocka_unit_test(test_spec_values),
        cmocka_unit_test(test_ephemeral_containers),
        cmocka_unit_test(test_validation_before_not_supported),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_quantities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
