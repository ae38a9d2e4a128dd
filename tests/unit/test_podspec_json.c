/* test_podspec_json.c - Kubernetes JSON for Pod and PodStatus, the spec hash, round trips,
 * dup and free. */
#include "test_podspec_helpers.h"

static const char block[] = "apiVersion: v1\n"
                            "kind: Pod\n"
                            "metadata:\n"
                            "  name: web\n"
                            "  labels:\n"
                            "    tier: front\n"
                            "    app: web\n"
                            "spec:\n"
                            "  containers:\n"
                            "  - name: nginx\n"
                            "    image: nginx:1.25\n"
                            "    ports:\n"
                            "    - containerPort: 80\n"
                            "      name: http\n"
                            "    env:\n"
                            "    - name: A\n"
                            "      value: \"1\"\n"
                            "    command: [nginx, -g, daemon off;]\n";

/* The same pod: other key order, flow style, explicit defaults. */
static const char flow[] =
    "{kind: Pod, apiVersion: v1,\n"
    " spec: {restartPolicy: Always, terminationGracePeriodSeconds: 30, containers: [\n"
    "   {command: [\"nginx\", \"-g\", \"daemon off;\"], env: [{value: \"1\", name: A}],\n"
    "    ports: [{name: http, protocol: TCP, containerPort: 80}], image: \"nginx:1.25\",\n"
    "    imagePullPolicy: IfNotPresent, name: nginx}]},\n"
    " metadata: {namespace: default, labels: {app: web, tier: front}, name: web}}\n";

static char *to_json_text(const podspec_pod *p)
{
    cJSON *j = podspec_pod_to_json(p, NULL, NULL, 0);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static void test_hash_ignores_formatting(void **state)
{
    podspec_result a, b;
    podspec_pod *pa = parse_one(block, &a);
    podspec_pod *pb = parse_one(flow, &b);
    assert_string_equal(pa->hash, pb->hash);
    podspec_result_free(&a);
    podspec_result_free(&b);
}

static void test_hash_changes_with_content(void **state)
{
    podspec_result a, b;
    podspec_pod *pa = parse_one(block, &a);
    char *changed = strdup(block);
    *strstr(changed, "1.25") = '2';
    podspec_pod *pb = parse_one(changed, &b);
    assert_string_not_equal(pa->hash, pb->hash);
    podspec_result_free(&b);
    strcpy(changed, block);
    strcpy(strstr(changed, "app: web"),
           "app: wex\nspec:\n  containers: [{name: nginx, image: x}]\n");
    pb = parse_one(changed, &b);
    assert_string_not_equal(pa->hash, pb->hash);
    free(changed);
    podspec_result_free(&a);
    podspec_result_free(&b);
}

static void test_round_trip(void **state)
{
    podspec_result a, b;
    podspec_pod *pa = parse_one(block, &a);
    pa->creation_ns = 1795927654LL * 1000000000LL;
    char *json = to_json_text(pa);
    podspec_pod *pb = parse_one(json, &b);
    assert_string_equal(pa->hash, pb->hash);
    assert_int_equal(b.n_warnings, 0);
    char *json2 = to_json_text(pb);
    pb->creation_ns = pa->creation_ns;
    free(json2);
    json2 = to_json_text(pb);
    assert_string_equal(json, json2);
    free(json);
    free(json2);
    podspec_result_free(&a);
    podspec_result_free(&b);
}

static void test_pod_json_shape(void **state)
{
    podspec_result res;
    podspec_pod *p = parse_one(block, &res);
    p->uid = strdup("0123abcd");
    p->creation_ns = 1795927654LL * 1000000000LL;
    podspec_kv extra[] = {{"kubernetes.io/config.source", "file"}};
    cJSON *j = podspec_pod_to_json(p, NULL, extra, 1);
    char *s = cJSON_PrintUnformatted(j);
    assert_string_equal(
        s, "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web\",\"namespace\":"
           "\"default\",\"uid\":\"0123abcd\",\"creationTimestamp\":\"2026-11-29T04:47:34Z\","
           "\"labels\":{\"app\":\"web\",\"tier\":\"front\"},\"annotations\":{"
           "\"kubernetes.io/config.source\":\"file\"}},\"spec\":{\"containers\":[{\"name\":"
           "\"nginx\",\"image\":\"nginx:1.25\",\"command\":[\"nginx\",\"-g\",\"daemon off;\"],"
           "\"ports\":[{\"name\":\"http\",\"containerPort\":80,\"protocol\":\"TCP\"}],\"env\":[{"
           "\"name\":\"A\",\"value\":\"1\"}],\"resources\":{},\"terminationMessagePath\":\"/dev/"
           "termination-log\",\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":"
           "\"IfNotPresent\"}],\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,"
           "\"dnsPolicy\":\"ClusterFirst\",\"securityContext\":{},\"schedulerName\":\"default-"
           "scheduler\",\"enableServiceLinks\":true}}");
    free(s);
    cJSON_Delete(j);
    podspec_result_free(&res);
}

static void test_dup(void **state)
{
    podspec_result res;
    podspec_pod *p = parse_one(block, &res);
    podspec_pod *d = podspec_pod_dup(p);
    podspec_result_free(&res); /* the copy owns everything it points to */
    assert_string_equal(d->name, "web");
    assert_string_equal(d->containers[0].command[2], "daemon off;");
    assert_string_equal(d->containers[0].ports[0].name, "http");
    assert_string_equal(d->labels[1].value, "front");
    char *json = to_json_text(d);
    assert_non_null(strstr(json, "\"name\":\"nginx\""));
    free(json);
    podspec_pod_free(d);
    assert_null(podspec_pod_dup(NULL));
    podspec_pod_free(NULL);
    podspec_result_free(NULL);
}

static void test_status_json(void **state)
{
    const int64_t t = 1795927654LL * 1000000000LL;
    podspec_pod_status st = {0};
    st.phase = strdup("Running");
    st.host_ip = strdup("10.0.0.1");
    st.pod_ip = strdup("10.88.0.2");
    st.start_time_ns = t;
    st.qos_class = strdup("BestEffort");
    st.n_conditions = 1;
    st.conditions = calloc(1, sizeof(*st.conditions));
    st.conditions[0].type = strdup("Ready");
    st.conditions[0].status = false;
    st.conditions[0].reason = strdup("ContainersNotReady");
    st.conditions[0].message = strdup("containers with unready status: [c]");
    st.conditions[0].last_transition_ns = t;
    st.n_container_statuses = 1;
    st.container_statuses = calloc(1, sizeof(*st.container_statuses));
    podspec_container_status *cs = &st.container_statuses[0];
    cs->name = strdup("c");
    cs->image = strdup("docker.io/library/nginx:latest");
    cs->container_id = strdup("mini-kubelet://abc");
    cs->restart_count = 2;
    cs->state.kind = PODSPEC_STATE_WAITING;
    cs->state.reason = strdup("CrashLoopBackOff");
    cs->last_state.kind = PODSPEC_STATE_TERMINATED;
    cs->last_state.exit_code = 137;
    cs->last_state.signal = 9;
    cs->last_state.reason = strdup("Error");
    cs->last_state.started_at_ns = t;
    cs->last_state.finished_at_ns = t + 5000000000LL;
    cs->last_state.container_id = strdup("mini-kubelet://abc");
    cJSON *j = podspec_status_to_json(&st);
    char *s = cJSON_PrintUnformatted(j);
    assert_string_equal(
        s, "{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
           "\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-11-29T04:47:34Z\",\"reason\":"
           "\"ContainersNotReady\",\"message\":\"containers with unready status: [c]\"}],"
           "\"hostIP\":\"10.0.0.1\",\"hostIPs\":[{\"ip\":\"10.0.0.1\"}],\"podIP\":\"10.88.0.2\","
           "\"podIPs\":[{\"ip\":\"10.88.0.2\"}],\"startTime\":\"2026-11-29T04:47:34Z\","
           "\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":"
           "\"CrashLoopBackOff\"}},\"lastState\":{\"terminated\":{\"exitCode\":137,\"signal\":9,"
           "\"reason\":\"Error\",\"startedAt\":\"2026-11-29T04:47:34Z\",\"finishedAt\":"
           "\"2026-11-29T04:47:39Z\",\"containerID\":\"mini-kubelet://abc\"}},\"ready\":false,"
           "\"restartCount\":2,\"image\":\"docker.io/library/nginx:latest\",\"imageID\":\"\","
           "\"containerID\":\"mini-kubelet://abc\",\"started\":false}],\"qosClass\":"
           "\"BestEffort\"}");
    free(s);
    cJSON_Delete(j);

    /* a pod with a status: the status is embedded */
    podspec_result res;
    podspec_pod *p = parse_one(block, &res);
    j = podspec_pod_to_json(p, &st, NULL, 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "status"), "phase")->valuestring,
                        "Running");
    cJSON_Delete(j);
    podspec_result_free(&res);
    podspec_status_free(&st);
    assert_null(st.phase);
}

static void test_running_state(void **state)
{
    podspec_pod_status st = {0};
    st.n_container_statuses = 1;
    st.container_statuses = calloc(1, sizeof(*st.container_statuses));
    st.container_statuses[0].name = strdup("c");
    st.container_statuses[0].state.kind = PODSPEC_STATE_RUNNING;
    st.container_statuses[0].state.started_at_ns = 1795927654LL * 1000000000LL;
    st.container_statuses[0].ready = true;
    st.container_statuses[0].started = true;
    cJSON *j = podspec_status_to_json(&st);
    char *s = cJSON_PrintUnformatted(j);
    assert_string_equal(s, "{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"c\","
                           "\"state\":{\"running\":{\"startedAt\":\"2026-11-29T04:47:34Z\"}},"
                           "\"lastState\":{},\"ready\":true,\"restartCount\":0,\"image\":\"\","
                           "\"imageID\":\"\",\"started\":true}]}");
    free(s);
    cJSON_Delete(j);
    podspec_status_free(&st);
}

static void test_status_error_json(void **state)
{
    cJSON *j = podspec_status_error_json(404, "NotFound", "pods \"x\" not found");
    char *s = cJSON_PrintUnformatted(j);
    assert_string_equal(s, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                           "\"Failure\",\"message\":\"pods \\\"x\\\" not found\",\"reason\":"
                           "\"NotFound\",\"code\":404}");
    free(s);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_ignores_formatting),
        cmocka_unit_test(test_hash_changes_with_content),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_pod_json_shape),
        cmocka_unit_test(test_dup),
        cmocka_unit_test(test_status_json),
        cmocka_unit_test(test_running_state),
        cmocka_unit_test(test_status_error_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
