/* test_rt_image_ref.c - image reference parsing and Docker normalization. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct valid_case {
    const char *in, *domain, *path, *tag, *digest, *full;
} valid_case;

static void check_valid(const valid_case *c)
{
    rt_image_ref r;
    mk_err err = {0};
    int rc = rt_image_ref_parse(c->in, &r, &err);
    if (rc != 0)
        fail_msg("%s: unexpected error: %s", c->in, err.msg);
    assert_string_equal(r.domain, c->domain);
    assert_string_equal(r.path, c->path);
    if (c->tag)
        assert_string_equal(r.tag, c->tag);
    else
        assert_null(r.tag);
    if (c->digest)
        assert_string_equal(r.digest, c->digest);
    else
        assert_null(r.digest);
    assert_string_equal(r.full, c->full);
    rt_image_ref_free(&r);
}

static void test_docker_hub_names(void **state)
{
    static const valid_case cases[] = {
        {"nginx", "docker.io", "library/nginx", "latest", NULL, "docker.io/library/nginx:latest"},
        {"nginx:1.25", "docker.io", "library/nginx", "1.25", NULL, "docker.io/library/nginx:1.25"},
        {"library/nginx", "docker.io", "library/nginx", "latest", NULL,
         "docker.io/library/nginx:latest"},
        {"docker.io/nginx", "docker.io", "library/nginx", "latest", NULL,
         "docker.io/library/nginx:latest"},
        {"index.docker.io/nginx", "docker.io", "library/nginx", "latest", NULL,
         "docker.io/library/nginx:latest"},
        {"index.docker.io/foo/bar:v1", "docker.io", "foo/bar", "v1", NULL, "docker.io/foo/bar:v1"},
        {"foo/bar", "docker.io", "foo/bar", "latest", NULL, "docker.io/foo/bar:latest"},
        {"foo/bar/baz", "docker.io", "foo/bar/baz", "latest", NULL, "docker.io/foo/bar/baz:latest"},
        {"docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", NULL,
         "docker.io/library/busybox:latest"},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(cases); i++)
        check_valid(&cases[i]);
}

static void test_registries(void **state)
{
    static const valid_case cases[] = {
        {"localhost/x", "localhost", "x", "latest", NULL, "localhost/x:latest"},
        {"localhost:5000/x", "localhost:5000", "x", "latest", NULL, "localhost:5000/x:latest"},
        {"localhost:5000/x:1", "localhost:5000", "x", "1", NULL, "localhost:5000/x:1"},
        {"registry.example.com/a/b/c:v1.2-rc_3", "registry.example.com", "a/b/c", "v1.2-rc_3", NULL,
         "registry.example.com/a/b/c:v1.2-rc_3"},
        {"127.0.0.1:5000/busybox", "127.0.0.1:5000", "busybox", "latest", NULL,
         "127.0.0.1:5000/busybox:latest"},
        {"[::1]:5000/x", "[::1]:5000", "x", "latest", NULL, "[::1]:5000/x:latest"},
        /* an upper-case first component is a registry host, not a repository */
        {"Foo/bar", "Foo", "bar", "latest", NULL, "Foo/bar:latest"},
        {"my-host.example/a.b-c/d__e.f-g--h:T_ag", "my-host.example", "a.b-c/d__e.f-g--h", "T_ag",
         NULL, "my-host.example/a.b-c/d__e.f-g--h:T_ag"},
        /* no '/': the colon is a tag, as Docker reads it */
        {"localhost:5000", "docker.io", "library/localhost", "5000", NULL,
         "docker.io/library/localhost:5000"},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(cases); i++)
        check_valid(&cases[i]);
}

static void test_digests(void **state)
{
    static const valid_case cases[] = {
        {"quay.io/coreos/etcd@sha256:" HEX64, "quay.io", "coreos/etcd", NULL, "sha256:" HEX64,
         "quay.io/coreos/etcd@sha256:" HEX64},
        {"nginx@sha256:" HEX64, "docker.io", "library/nginx", NULL, "sha256:" HEX64,
         "docker.io/library/nginx@sha256:" HEX64},
        {"nginx:1.25@sha256:" HEX64, "docker.io", "library/nginx", "1.25", "sha256:" HEX64,
         "docker.io/library/nginx:1.25@sha256:" HEX64},
        {"localhost:5000/x@sha256:" HEX64, "localhost:5000", "x", NULL, "sha256:" HEX64,
         "localhost:5000/x@sha256:" HEX64},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(cases); i++)
        check_valid(&cases[i]);
}

static void check_invalid(const char *in, const char *want)
{
    rt_image_ref r;
    mk_err err = {0};
    int rc = rt_image_ref_parse(in, &r, &err);
    if (rc == 0)
        fail_msg("\"%s\" was accepted as %s", in, r.full);
    assert_int_equal(rc, -EINVAL);
    assert_int_equal(err.code, EINVAL);
    if (!strstr(err.msg, "invalid reference format") || !strstr(err.msg, want))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", in, err.msg, want);
    assert_null(r.full);
}

static void test_invalid(void **state)
{
    char long_name[300], long_tag[200];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    snprintf(long_tag, sizeof(long_tag), "nginx:%0129d", 1);
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", "at least one component"},
        {"Nginx", "must be lowercase"},
        {"docker.io/Foo", "must be lowercase"},
        {"nginx:", "tag must be"},
        {"nginx:-x", "tag must be"},
        {"nginx:.x", "tag must be"},
        {":tag", "path component"},
        {"nginx@sha256:abc", "64 lower-case hex"},
        {"nginx@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
         "64 lower-case hex"},
        {"nginx@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm"},
        {"nginx@", "digest must look like"},
        {HEX64, "64-byte hexadecimal"},
        {"a//b", "empty path component"},
        {"foo/", "at least one component"},
        {"/foo", "at least one component"},
        {"-foo", "path component \"-foo\""},
        {"foo_", "path component"},
        {"foo..bar", "path component"},
        {"foo___bar", "path component"},
        {"foo-_bar", "path component"},
        {"nginx latest", "whitespace"},
        {"nginx\tx", "whitespace"},
        {"foo:bar/baz", "invalid registry"},
        {"localhost:/x", "invalid registry"},
        {"my-.host/x", "invalid registry"},
        {"[zz]:5000/x", "invalid registry"},
        {"example.com/a:b:c", "path component"},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(cases); i++)
        check_invalid(cases[i].in, cases[i].want);
    check_invalid(long_name, "not be more than 255");
    check_invalid(long_tag, "tag must be");
}

static void test_limits_ok(void **state)
{
    char name[300], tag[200];
    /* 255 characters in total: "docker.io/" + "library/" + 237 */
    memset(name, 'a', 237);
    name[237] = '\0';
    rt_image_ref r;
    mk_err err = {0};
    assert_int_equal(rt_image_ref_parse(name, &r, &err), 0);
    assert_int_equal(strlen(r.domain) + 1 + strlen(r.path), 255);
    rt_image_ref_free(&r);
    name[237] = 'a';
    name[238] = '\0';
    assert_int_equal(rt_image_ref_parse(name, &r, &err), -EINVAL);

    snprintf(tag, sizeof(tag), "x:%0128d", 7);
    assert_int_equal(rt_image_ref_parse(tag, &r, &err), 0);
    assert_int_equal(strlen(r.tag), 128);
    rt_image_ref_free(&r);
    rt_image_ref_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker_hub_names), cmocka_unit_test(test_registries),
        cmocka_unit_test(test_digests),          cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_limits_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
