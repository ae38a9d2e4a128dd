/* test_podspec_yaml.c - YAML reading: documents, anchors, merge keys, flow style (KYAML), JSON,
 * quoting, block scalars, YAML 1.1 scalars as kubectl reads them, syntax errors. */
#include "test_podspec_helpers.h"

static const char seed[] = "apiVersion: v1\n"
                           "kind: Pod\n"
                           "metadata:\n"
                           "  name: mypod\n"
                           "spec:\n"
                           "  containers:\n"
                           "  - name: mycontainer\n"
                           "    image: nginx\n";

static void test_seed(void **state)
{
    podspec_result res;
    podspec_pod *p = parse_one(seed, &res);
    assert_string_equal(p->name, "mypod");
    assert_string_equal(p->namespace_, "default");
    assert_int_equal(p->n_containers, 1);
    assert_string_equal(p->containers[0].name, "mycontainer");
    assert_string_equal(p->containers[0].image, "nginx");
    assert_string_equal(p->source_file, "t.yaml");
    assert_int_equal(p->source_line, 1);
    assert_int_equal(strlen(p->hash), 64);
    assert_int_equal(res.n_warnings, 0);
    podspec_result_free(&res);
}

static void test_multi_document(void **state)
{
    const char *text = "---\n"
                       "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
                       "spec: {containers: [{name: c, image: nginx}]}\n"
                       "---\n"
                       "# only a comment\n"
                       "---\n"
                       "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n"
                       "spec: {containers: [{name: c, image: nginx}]}\n"
                       "...\n";
    podspec_result res;
    mk_err err = {0};
    assert_int_equal(parse_text(text, &res, &err), 0);
    assert_int_equal(res.n_pods, 2);
    assert_string_equal(res.pods[0]->name, "a");
    assert_string_equal(res.pods[1]->name, "b");
    assert_int_equal(res.pods[0]->source_line, 1);
    assert_int_equal(res.pods[1]->source_line, 8);
    podspec_result_free(&res);
}

static void test_empty_input(void **state)
{
    podspec_result res;
    mk_err err = {0};
    assert_int_equal(parse_text("", &res, &err), 0);
    assert_int_equal(res.n_pods, 0);
    assert_int_equal(parse_text("# nothing\n---\n---\n", &res, &err), 0);
    assert_int_equal(res.n_pods, 0);
    podspec_result_free(&res);
}

static void test_error_in_second_document(void **state)
{
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
                 "spec: {containers: [{name: c, image: nginx}]}\n"
                 "---\n"
                 "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n"
                 "spec: {containers: [{name: c}]}\n",
                 EINVAL, "t.yaml:9:21: spec.containers[0].image: Required value");
}

static void test_same_pod_twice(void **state)
{
    expect_error("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
                 "spec: {containers: [{name: c, image: nginx}]}\n"
                 "---\n"
                 "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
                 "spec: {containers: [{name: c, image: nginx}]}\n",
                 EINVAL,
                 "t.yaml:8:18: metadata.name: Duplicate value: \"a\": the document at line 1 "
                 "defines pod default/a too");
}

static void test_anchors_and_aliases(void **state)
{
    const char *text = POD_HDR "  containers:\n"
                               "  - name: one\n"
                               "    image: &img busybox:1.36\n"
                               "    command: &cmd [sh, -c, 'sleep 1']\n"
                               "  - name: two\n"
                               "    image: *img\n"
                               "    command: *cmd\n";
    podspec_result res;
    podspec_pod *p = parse_one(text, &res);
    assert_string_equal(p->containers[1].image, "busybox:1.36");
    assert_string_equal(p->containers[1].command[2], "sleep 1");
    assert_null(p->containers[1].command[3]);
    podspec_result_free(&res);
}

static void test_merge_keys(void **state)
{
    const char *text = POD_HDR "  containers:\n"
                               "  - &base\n"
                               "    name: one\n"
                               "    image: busybox\n"
                               "    workingDir: /srv\n"
                               "  - <<: *base\n"
                               "    name: two\n"
                               "  - <<: [{name: x, tty: true}, *base]\n"
                               "    name: three\n";
    podspec_result res;
    podspec_pod *p = parse_one(text, &res);
    assert_int_equal(p->n_containers, 3);
    assert_string_equal(p->containers[1].name, "two");
    assert_string_equal(p->containers[1].working_dir, "/srv");
    assert_string_equal(p->containers[2].name, "three");
    assert_true(p->containers[2].tty);
    assert_string_equal(p->containers[2].image, "busybox");
    podspec_result_free(&res);
}

static void test_unknown_alias(void **state)
{
    expect_error(POD_HDR "  containers: *nope\n", EINVAL,
                 "t.yaml:6:15: invalid YAML: unknown anchor 'nope' referenced");
}

static void test_kyaml_flow_style(void **state)
{
    const char *text = "---\n"
                       "{\n"
                       "  apiVersion: \"v1\",\n"
                       "  kind: \"Pod\",\n"
                       "  metadata: {\n"
                       "    name: \"kyaml\", # a comment\n"
                       "    labels: {\"app\": \"web\",},\n"
                       "  },\n"
                       "  spec: {\n"
                       "    containers: [{\n"
                       "      name: \"c\",\n"
                       "      image: \"nginx\",\n"
                       "      args: [\"a \\\n"
                       "        b\", \"yes\",],\n"
                       "    }],\n"
                       "  },\n"
                       "}\n";
    podspec_result res;
    podspec_pod *p = parse_one(text, &res);
    assert_string_equal(p->name, "kyaml");
    assert_string_equal(podspec_kv_get(p->labels, p->n_labels, "app"), "web");
    assert_string_equal(p->containers[0].args[0], "a b");
    assert_string_equal(p->containers[0].args[1], "yes");
    podspec_result_free(&res);
}

static void test_json_input(void **state)
{
    const char *text =
        "{\n"
        "\t\"apiVersion\":\"v1\",\"kind\":\"Pod\",\n"
        "\t\"metadata\":{\"name\":\"j\",\"annotations\":{\"u\":\"http:\\/\\/x\\u00e9\"}},\n"
        "\t\"spec\":{\"hostNetwork\":false,\"containers\":[{\"name\":\"c\","
        "\"image\":\"nginx\",\"ports\":[{\"containerPort\":80}],"
        "\"command\":[\"a\"],\"stdin\":true}]}\n"
        "}\n";
    podspec_result res;
    podspec_pod *p = parse_one(text, &res);
    assert_string_equal(podspec_kv_get(p->annotations, p->n_annotations, "u"), "http://x\xc3\xa9");
    assert_int_equal(p->containers[0].ports[0].container_port, 80);
    assert_true(p->containers[0].stdin_open);
    podspec_result_free(&res);
}

static void test_quoting_and_block_scalars(void **state)
{
    const char *text = POD_CTR "    args:\n"
                               "    - 'single ''quoted'''\n"
                               "    - \"double\\t\\\"quoted\\\"\"\n"
                               "    - |\n"
                               "      line one\n"
                               "      line two\n"
                               "    - >-\n"
                               "      folded\n"
                               "      text\n"
                               "    - plain # comment\n"
                               "    - \"true\"\n"
                               "    - '8080'\n"
                               "    - !!str on\n";
    podspec_result res;
    podspec_pod *p = parse_one(text, &res);
    char **a = p->containers[0].args;
    assert_string_equal(a[0], "single 'quoted'");
    assert_string_equal(a[1], "double\t\"quoted\"");
    assert_string_equal(a[2], "line one\nline two\n");
    assert_string_equal(a[3], "folded text");
    assert_string_equal(a[4], "plain");
    assert_string_equal(a[5], "true");
    assert_string_equal(a[6], "8080");
    assert_string_equal(a[7], "on");
    assert_null(a[8]);
    podspec_result_free(&res);
}

/* kubectl reads YAML 1.1: these are booleans, so a bool field takes them all. */
static void test_yaml11_booleans_in_bool_fields(void **state)
{
    static const char *truthy[] = {"yes", "Yes", "YES", "on", "On", "ON", "y", "Y", "true", "True"};
    static const char *falsy[] = {"no",  "No", "NO", "off",   "Off",
                                  "OFF", "n",  "N",  "false", "FALSE"};
    for (size_t i = 0; i < MK_ARRAY_LEN(truthy); i++) {
        char text[512];
        snprintf(text, sizeof(text), POD_CTR "    tty: %s\n    stdin: %s\n", truthy[i], falsy[i]);
        podspec_result res;
        podspec_pod *p = parse_one(text, &res);
        assert_true(p->containers[0].tty);
        assert_false(p->containers[0].stdin_open);
        podspec_result_free(&res);
    }
}

static void test_yaml11_booleans_in_string_fields(void **state)
{
    expect_error(
        POD_CTR "    env:\n    - name: A\n      value: yes\n", EINVAL,
        "t.yaml:11:14: spec.containers[0].env[0].value: cannot unmarshal bool into a "
        "string field (unquoted yes is a YAML boolean; write \"yes\" to keep it a string)");
    expect_error(POD_CTR "    workingDir: off\n", EINVAL,
                 "t.yaml:9:17: spec.containers[0].workingDir: cannot unmarshal bool into a string "
                 "field (unquoted off is a YAML boolean; write \"off\" to keep it a string)");
    expect_error("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    tier: 1.0\n"
                 "spec: {containers: [{name: c, image: nginx}]}\n",
                 EINVAL,
                 "t.yaml:6:11: metadata.labels[tier]: cannot unmarshal number into a string "
                 "field (write \"1.0\" in quotes to keep it a string)");
}

static void test_yaml11_numbers(void **state)
{
    const char *text = POD_CTR "    ports:\n"
                               "    - containerPort: 0x50\n"
                               "    - containerPort: 0o17\n"
                               "    - containerPort: 017\n"
                               "    - containerPort: 1_000\n"
                               "    - containerPort: +443\n"
                               "    - containerPort: 8080.0\n";
    podspec_result res;
    podspec_pod *p = parse_one(text, &res);
    const podspec_port *pt = p->containers[0].ports;
    assert_int_equal(pt[0].container_port, 80);
    assert_int_equal(pt[1].container_port, 15);
    assert_int_equal(pt[2].container_port, 15);
    assert_int_equal(pt[3].container_port, 1000);
    assert_int_equal(pt[4].container_port, 443);
    assert_int_equal(pt[5].container_port, 8080);
    podspec_result_free(&res);
    expect_error(POD_CTR "    ports:\n    - containerPort: \"80\"\n", EINVAL,
                 "t.yaml:10:22: spec.containers[0].ports[0].containerPort: cannot unmarshal "
                 "string into a field of type int32");
    expect_error(POD_CTR "    ports:\n    - containerPort: 80.5\n", EINVAL,
                 "t.yaml:10:22: spec.containers[0].ports[0].containerPort: cannot unmarshal "
                 "number 80.5 into a field of type int32");
    expect_error(POD_CTR "    ports:\n    - containerPort: 4294967296\n", EINVAL,
                 "t.yaml:10:22: spec.containers[0].ports[0].containerPort: cannot unmarshal "
                 "number 4294967296 into a field of type int32");
}

static void test_nulls_mean_absent(void **state)
{
    const char *text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n"
                       "  annotations: ~\nspec:\n  restartPolicy: null\n  hostname:\n"
                       "  containers:\n  - name: c\n    image: nginx\n    command: []\n"
                       "    args: [a, null]\n";
    podspec_result res;
    podspec_pod *p = parse_one(text, &res);
    assert_int_equal(p->n_labels, 0);
    assert_string_equal(p->restart_policy, "Always");
    assert_null(p->hostname);
    assert_null(p->containers[0].command);
    assert_string_equal(p->containers[0].args[1], "");
    podspec_result_free(&res);
}

static void test_explicit_tags(void **state)
{
    podspec_result res;
    podspec_pod *p =
        parse_one(POD_CTR "    tty: !!bool \"true\"\n    workingDir: !!str 123\n", &res);
    assert_true(p->containers[0].tty);
    assert_string_equal(p->containers[0].working_dir, "123");
    podspec_result_free(&res);
    expect_error(POD_CTR "    tty: !!bool maybe\n", EINVAL,
                 "t.yaml:9:10: invalid YAML: cannot decode !!bool `maybe`");
}

static void test_syntax_errors(void **state)
{
    expect_error("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n   bad: indent\n", EINVAL,
                 "t.yaml:5:7: invalid YAML: mapping values are not allowed in this context");
    expect_error("{apiVersion: v1, kind: Pod\n", EINVAL,
                 "t.yaml:2:1: invalid YAML: did not find expected ',' or '}' (while parsing a "
                 "flow mapping that starts at line 1, column 1)");
    expect_error("a: \"unterminated\n", EINVAL,
                 "t.yaml:2:1: invalid YAML: found unexpected end of stream (while scanning a "
                 "quoted scalar that starts at line 1, column 4)");
    expect_error("a: \"x\\'y\"\n", EINVAL,
                 "t.yaml:1:6: invalid YAML: found unknown escape character (while parsing a "
                 "quoted scalar that starts at line 1, column 4); \\' is not an escape in a "
                 "double-quoted string, write ' alone");
    expect_error("a: \t\x01\n", EINVAL,
                 "t.yaml:1:5: invalid YAML: control characters are not allowed");
    expect_error("a: [b\n", EINVAL,
                 "t.yaml:2:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow "
                 "sequence that starts at line 1, column 4)");
}

static void test_root_not_a_mapping(void **state)
{
    expect_error("- a\n- b\n", EINVAL,
                 "t.yaml:1:1: cannot unmarshal array into a Kubernetes object (expected a "
                 "mapping with apiVersion, kind, metadata and spec)");
    expect_error("just text\n", EINVAL,
                 "t.yaml:1:1: cannot unmarshal string into a Kubernetes object (expected a "
                 "mapping with apiVersion, kind, metadata and spec)");
}

static void test_complex_keys(void **state)
{
    expect_error("? [a, b]\n: c\n", EINVAL,
                 "t.yaml:1:3: invalid YAML: mapping keys must be scalars");
    /* an unquoted `on:` key is the boolean true, so the field is named "true" */
    expect_error(POD_CTR "    on: x\n", EINVAL,
                 "t.yaml:9:5: spec.containers[0].true: unknown field \"true\"");
}

static void test_deep_nesting(void **state)
{
    size_t depth = 5000;
    char *text = malloc(depth * 2 + 1);
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    text[2 * depth] = '\0';
    expect_error_part(text, EINVAL, "invalid YAML: nested deeper than 256 levels");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_multi_document),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_error_in_second_document),
        cmocka_unit_test(test_same_pod_twice),
        cmocka_unit_test(test_anchors_and_aliases),
        cmocka_unit_test(test_merge_keys),
        cmocka_unit_test(test_unknown_alias),
        cmocka_unit_test(test_kyaml_flow_style),
        cmocka_unit_test(test_json_input),
        cmocka_unit_test(test_quoting_and_block_scalars),
        cmocka_unit_test(test_yaml11_booleans_in_bool_fields),
        cmocka_unit_test(test_yaml11_booleans_in_string_fields),
        cmocka_unit_test(test_yaml11_numbers),
        cmocka_unit_test(test_nulls_mean_absent),
        cmocka_unit_test(test_explicit_tags),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_root_not_a_mapping),
        cmocka_unit_test(test_complex_keys),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
