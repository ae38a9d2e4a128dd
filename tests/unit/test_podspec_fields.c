/* test_podspec_fields.c - every supported field, the defaults, and how unknown, unsupported
 * and single-node-meaningless fields are treated. */
#include "test_podspec_helpers.h"

static const char full[] = "apiVersion: v1\n"
                           "kind: Pod\n"
                           "metadata:\n"
                           "  name: full\n"
                           "  namespace: team-a\n"
                           "  uid: 1234-abcd\n"
                           "  labels: {app: web, tier: front}\n"
                           "  annotations: {note: \"hello\"}\n"
                           "spec:\n"
                           "  restartPolicy: OnFailure\n"
                           "  terminationGracePeriodSeconds: 5\n"
                           "  hostname: box\n"
                           "  subdomain: sub\n"
                           "  hostNetwork: false\n"
                           "  hostPID: true\n"
                           "  hostIPC: true\n"
                           "  shareProcessNamespace: false\n"
                           "  dnsPolicy: Default\n"
                           "  schedulerName: default-scheduler\n"
                           "  nodeName: node-1\n"
                           "  enableServiceLinks: false\n"
                           "  os: {name: linux}\n"
                           "  containers:\n"
                           "  - name: web\n"
                           "    image: registry.example.com:5000/team/web:1.2\n"
                           "    imagePullPolicy: Never\n"
                           "    command: [/bin/web]\n"
                           "    args: [--port, \"8080\"]\n"
                           "    workingDir: /srv\n"
                           "    env:\n"
                           "    - {name: MODE, value: prod}\n"
                           "    - {name: EMPTY}\n"
                           "    ports:\n"
                           "    - {name: http, containerPort: 8080, hostPort: 80, protocol: UDP, "
                           "hostIP: 127.0.0.1}\n"
                           "    terminationMessagePath: /tmp/msg\n"
                           "    terminationMessagePolicy: FallbackToLogsOnError\n"
                           "    stdin: true\n"
                           "    tty: true\n";

static void test_every_field(void **state)
{
    podspec_result res;
    podspec_pod *p = parse_one(full, &res);
    assert_string_equal(p->api_version, "v1");
    assert_string_equal(p->kind, "Pod");
    assert_string_equal(p->name, "full");
    assert_string_equal(p->namespace_, "team-a");
    assert_string_equal(p->uid, "1234-abcd");
    assert_int_equal(p->n_labels, 2);
    assert_string_equal(p->labels[0].name, "app"); /* sorted by key */
    assert_string_equal(podspec_kv_get(p->labels, p->n_labels, "tier"), "front");
    assert_string_equal(podspec_kv_get(p->annotations, p->n_annotations, "note"), "hello");
    assert_null(podspec_kv_get(p->labels, p->n_labels, "nope"));
    assert_string_equal(p->restart_policy, "OnFailure");
    assert_int_equal(p->termination_grace_period_seconds, 5);
    assert_string_equal(p->hostname, "box");
    assert_string_equal(p->subdomain, "sub");
    assert_false(p->host_network);
    assert_true(p->host_pid);
    assert_true(p->host_ipc);
    assert_false(p->share_process_namespace);
    assert_string_equal(p->dns_policy, "Default");
    assert_string_equal(p->scheduler_name, "default-scheduler");
    assert_string_equal(p->node_name, "node-1");
    assert_false(p->enable_service_links);
    const podspec_container *c = &p->containers[0];
    assert_string_equal(c->name, "web");
    assert_string_equal(c->image, "registry.example.com:5000/team/web:1.2");
    assert_string_equal(c->image_pull_policy, "Never");
    assert_string_equal(c->command[0], "/bin/web");
    assert_null(c->command[1]);
    assert_string_equal(c->args[1], "8080");
    assert_string_equal(c->working_dir, "/srv");
    assert_int_equal(c->n_env, 2);
    assert_string_equal(c->env[0].name, "MODE");
    assert_string_equal(c->env[0].value, "prod");
    assert_null(c->env[1].value);
    assert_int_equal(c->n_ports, 1);
    assert_string_equal(c->ports[0].name, "http");
    assert_int_equal(c->ports[0].container_port, 8080);
    assert_int_equal(c->ports[0].host_port, 80);
    assert_string_equal(c->ports[0].protocol, "UDP");
    assert_string_equal(c->ports[0].host_ip, "127.0.0.1");
    assert_string_equal(c->termination_message_path, "/tmp/msg");
    assert_string_equal(c->termination_message_policy, "FallbackToLogsOnError");
    assert_true(c->stdin_open);
    assert_true(c->tty);
    assert_int_equal(res.n_warnings, 0);
    podspec_result_free(&res);
}

static void test_defaults(void **state)
{
    podspec_result res;
    podspec_pod *p = parse_one(POD_CTR "    ports: [{containerPort: 80}]\n", &res);
    assert_string_equal(p->namespace_, "default");
    assert_string_equal(p->restart_policy, "Always");
    assert_int_equal(p->termination_grace_period_seconds, 30);
    assert_string_equal(p->dns_policy, "ClusterFirst");
    assert_string_equal(p->scheduler_name, "default-scheduler");
    assert_true(p->enable_service_links);
    assert_null(p->uid);
    assert_null(p->hostname);
    const podspec_container *c = &p->containers[0];
    assert_string_equal(c->image_pull_policy, "Always");
    assert_string_equal(c->termination_message_path, "/dev/termination-log");
    assert_string_equal(c->termination_message_policy, "File");
    assert_string_equal(c->ports[0].protocol, "TCP");
    assert_int_equal(c->ports[0].host_port, 0);
    assert_null(c->command);
    assert_null(c->args);
    podspec_result_free(&res);
}

static void test_host_port_defaults_with_host_network(void **state)
{
    podspec_result res;
    podspec_pod *p = parse_one(POD_HDR "  hostNetwork: true\n  containers:\n  - name: c\n"
                                       "    image: nginx\n    ports: [{containerPort: 8080}]\n",
                               &res);
    assert_int_equal(p->containers[0].ports[0].host_port, 8080);
    podspec_result_free(&res);
}

static void test_pull_policy_defaults(void **state)
{
    static const struct {
        const char *image, *policy;
    } cases[] = {
        {"nginx", "Always"},
        {"nginx:latest", "Always"},
        {"docker.io/library/nginx", "Always"},
        {"localhost:5000/app", "Always"},
        {"nginx:1.25", "IfNotPresent"},
        {"registry.k8s.io/pause:3.10", "IfNotPresent"},
        {"busybox@sha256:0123456789012345678901234567890123456789012345678901234567890123",
         "IfNotPresent"},
        {"busybox:latest@sha256:0123456789012345678901234567890123456789012345678901234567890123",
         "Always"},
        {"<your-private-image>", "IfNotPresent"}, /* not a reference: the tag is unknown */
        {"Nginx", "IfNotPresent"},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(cases); i++) {
        char text[512];
        snprintf(text, sizeof(text), POD_HDR "  containers:\n  - name: c\n    image: \"%s\"\n",
                 cases[i].image);
        podspec_result res;
        podspec_pod *p = parse_one(text, &res);
        if (strcmp(p->containers[0].image_pull_policy, cases[i].policy) != 0)
            fail_msg("%s: got %s, want %s", cases[i].image, p->containers[0].image_pull_policy,
                     cases[i].policy);
        podspec_result_free(&res);
    }
}

static void test_unknown_fields(void **state)
{
    expect_error(POD_CTR "    imagee: nginx\n", EINVAL,
                 "t.yaml:9:5: spec.containers[0].imagee: unknown field \"imagee\"");
    expect_error(POD_HDR "  containerz: []\n", EINVAL,
                 "t.yaml:6:3: spec.containerz: unknown field \"containerz\"");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: {name: p, lables: {}}\nspec: {}\n", EINVAL,
                 "t.yaml:3:21: metadata.lables: unknown field \"lables\"");
    expect_error("apiVersion: v1\nkind: Pod\nmetdata: {name: p}\n", EINVAL,
                 "t.yaml:3:1: metdata: unknown field \"metdata\"");
    expect_error(POD_CTR "    ports: [{containerPort: 80, hostport: 80}]\n", EINVAL,
                 "t.yaml:9:33: spec.containers[0].ports[0].hostport: unknown field \"hostport\"");
    expect_error(POD_CTR "    env: [{name: A, valu: b}]\n", EINVAL,
                 "t.yaml:9:21: spec.containers[0].env[0].valu: unknown field \"valu\"");
    /* field names are case-sensitive, as in the API server's strict decoding */
    expect_error(POD_CTR "    Image: nginx\n", EINVAL,
                 "t.yaml:9:5: spec.containers[0].Image: unknown field \"Image\"");
}

static void test_unsupported_fields(void **state)
{
    /* an AppArmor profile would silently not be applied */
    expect_error("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
                 "    container.apparmor.security.beta.kubernetes.io/c: localhost/x\n"
                 "spec:\n  containers: [{name: c, image: busybox}]\n",
                 ENOTSUP,
                 "t.yaml:6:5: metadata.annotations[container.apparmor.security.beta.kubernetes.io/"
                 "c]: not supported: AppArmor profiles are not applied yet");
    expect_error(POD_CTR "  volumes: [{name: v, emptyDir: {}}]\n", ENOTSUP,
                 "t.yaml:9:3: spec.volumes: not supported");
    expect_error(POD_CTR "    volumeMounts: [{name: v, mountPath: /v}]\n", ENOTSUP,
                 "t.yaml:9:5: spec.containers[0].volumeMounts: not supported");
    expect_error(POD_CTR "    livenessProbe: {exec: {command: [true]}}\n", ENOTSUP,
                 "t.yaml:9:5: spec.containers[0].livenessProbe: not supported");
    expect_error(POD_CTR "    securityContext: {runAsUser: 1000}\n", ENOTSUP,
                 "t.yaml:9:5: spec.containers[0].securityContext: not supported");
    expect_error(POD_CTR "    env: [{name: A, valueFrom: {fieldRef: {fieldPath: x}}}]\n", ENOTSUP,
                 "t.yaml:9:21: spec.containers[0].env[0].valueFrom: not supported");
    expect_error(POD_CTR "    envFrom: [{configMapRef: {name: x}}]\n", ENOTSUP,
                 "t.yaml:9:5: spec.containers[0].envFrom: not supported");
    expect_error(POD_CTR "    resources: {limits: {memory: 1Gi}}\n", ENOTSUP,
                 "t.yaml:9:5: spec.containers[0].resources: not supported");
    expect_error(POD_CTR "  initContainers: [{name: i, image: busybox}]\n", ENOTSUP,
                 "t.yaml:9:3: spec.initContainers: not supported");
    expect_error(POD_CTR "  runtimeClassName: gvisor\n", ENOTSUP,
                 "t.yaml:9:3: spec.runtimeClassName: not supported");
    expect_error(POD_CTR "  hostUsers: false\n", ENOTSUP,
                 "t.yaml:9:3: spec.hostUsers: not supported");
    expect_error(POD_CTR "  os: {name: windows}\n", ENOTSUP,
                 "t.yaml:9:8: spec.os.name: not supported: this node runs Linux");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: {generateName: p-}\n"
                 "spec: {containers: [{name: c, image: x}]}\n",
                 ENOTSUP, "t.yaml:3:12: metadata.generateName: not supported");
}

static void test_empty_unsupported_fields_are_accepted(void **state)
{
    /* what `kubectl run --dry-run=client -o yaml` writes, and values equal to the default */
    const char *text = "apiVersion: v1\nkind: Pod\nmetadata:\n  creationTimestamp: null\n"
                       "  name: p\nspec:\n  volumes: []\n  securityContext: {}\n"
                       "  automountServiceAccountToken: false\n  hostUsers: true\n"
                       "  containers:\n  - name: c\n    image: nginx\n    resources: {}\n"
                       "    stdinOnce: false\n    volumeMounts:\nstatus: {}\n";
    podspec_result res;
    parse_one(text, &res);
    assert_int_equal(res.n_warnings, 0);
    podspec_result_free(&res);
}

static void test_ignored_fields_warn(void **state)
{
    const char *text = POD_CTR "  nodeSelector: {disk: ssd}\n"
                               "  tolerations: [{operator: Exists}]\n"
                               "  affinity: {nodeAffinity: {}}\n"
                               "  priorityClassName: high\n"
                               "  schedulerName: my-scheduler\n"
                               "status: {phase: Running}\n";
    podspec_result res;
    parse_one(text, &res);
    assert_int_equal(res.n_warnings, 6);
    assert_string_equal(res.warnings[0].msg,
                        "t.yaml:9:3: spec.nodeSelector: ignored on a single node");
    assert_string_equal(res.warnings[1].msg,
                        "t.yaml:10:3: spec.tolerations: ignored on a single node");
    assert_string_equal(res.warnings[2].msg,
                        "t.yaml:11:3: spec.affinity: ignored on a single node");
    assert_string_equal(res.warnings[3].msg,
                        "t.yaml:12:3: spec.priorityClassName: ignored on a single node");
    assert_string_equal(res.warnings[4].msg,
                        "t.yaml:13:18: spec.schedulerName: ignored on a single node");
    assert_string_equal(res.warnings[5].msg,
                        "t.yaml:14:1: status: ignored (set by the server, not by a manifest)");
    assert_string_equal(res.pods[0]->scheduler_name, "my-scheduler");
    podspec_result_free(&res);
}

static void test_duplicate_keys(void **state)
{
    expect_error(POD_CTR "    image: busybox\n", EINVAL,
                 "t.yaml:9:5: spec.containers[0]: duplicate field \"image\" (first set at line 8)");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {a: x, a: y}\n"
                 "spec: {}\n",
                 EINVAL,
                 "t.yaml:5:18: metadata.labels: duplicate field \"a\" (first set at line 5)");
}

static void test_kind_and_api_version(void **state)
{
    expect_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n", ENOTSUP,
                 "t.yaml:2:7: kind: ConfigMap is not supported yet (only Pod)");
    expect_error("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", ENOTSUP,
                 "t.yaml:2:7: kind: Secret is not supported yet (only Pod)");
    expect_error("apiVersion: apps/v1\nkind: Deployment\n", ENOTSUP,
                 "t.yaml:2:7: kind: Deployment is not supported yet (only Pod)");
    expect_error("apiVersion: v1\nmetadata: {name: p}\n", EINVAL,
                 "t.yaml:1:1: kind: Required value: every manifest needs `kind: Pod`");
    expect_error("kind: Pod\nmetadata: {name: p}\n", EINVAL,
                 "t.yaml:1:1: apiVersion: Required value: a Pod needs `apiVersion: v1`");
    expect_error("apiVersion: v2\nkind: Pod\n", EINVAL,
                 "t.yaml:1:13: apiVersion: Unsupported value: \"v2\": supported values: \"v1\"");
    expect_error("apiVersion: v1\nkind: [Pod]\n", EINVAL,
                 "t.yaml:2:7: kind: cannot unmarshal array into a field of type string");
}

static void test_wrong_shapes(void **state)
{
    expect_error(POD_HDR "  containers: {name: c}\n", EINVAL,
                 "t.yaml:6:15: spec.containers: cannot unmarshal object into an array");
    expect_error(POD_HDR "  containers: [c]\n", EINVAL,
                 "t.yaml:6:16: spec.containers[0]: cannot unmarshal string into an object");
    expect_error(POD_CTR "    command: /bin/sh\n", EINVAL,
                 "t.yaml:9:14: spec.containers[0].command: cannot unmarshal string into an array");
    expect_error(POD_CTR "    tty: \"true\"\n", EINVAL,
                 "t.yaml:9:10: spec.containers[0].tty: cannot unmarshal string into a field of "
                 "type bool");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: [a]\n", EINVAL,
                 "t.yaml:3:11: metadata: cannot unmarshal array into an object");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_host_port_defaults_with_host_network),
        cmocka_unit_test(test_pull_policy_defaults),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_unsupported_fields),
        cmocka_unit_test(test_empty_unsupported_fields_are_accepted),
        cmocka_unit_test(test_ignored_fields_warn),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_kind_and_api_version),
        cmocka_unit_test(test_wrong_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
