/* test_rt_image_process.c - image config + container spec -> argv, env, cwd (Kubernetes rules). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

static char *EP[] = {"/docker-entrypoint.sh", NULL};
static char *CMD[] = {"nginx", "-g", "daemon off;", NULL};
static char *ENV[] = {"PATH=/usr/sbin:/usr/bin", "NGINX_VERSION=1.22", NULL};

static rt_image image(void)
{
    rt_image img = {.entrypoint = EP, .cmd = CMD, .env = ENV, .working_dir = "/srv"};
    return img;
}

static void assert_strv(char **got, const char *const *want)
{
    size_t i = 0;
    for (; want[i]; i++) {
        if (!got[i])
            fail_msg("element %zu missing, want \"%s\"", i, want[i]);
        assert_string_equal(got[i], want[i]);
    }
    if (got[i])
        fail_msg("unexpected extra element \"%s\"", got[i]);
}

typedef struct result {
    char **argv, **env;
    char *cwd;
} result;

static void run(const rt_image *img, const podspec_container *c, result *res)
{
    mk_err err = {0};
    int r = rt_image_process(img, c, &res->argv, &res->env, &res->cwd, &err);
    if (r != 0)
        fail_msg("rt_image_process: %s", err.msg);
}

static void done(result *res)
{
    rt_strv_free(res->argv);
    rt_strv_free(res->env);
    free(res->cwd);
}

static void test_image_defaults(void **state)
{
    rt_image img = image();
    podspec_container c = {.name = "web"};
    result res;
    run(&img, &c, &res);
    assert_strv(res.argv,
                (const char *[]){"/docker-entrypoint.sh", "nginx", "-g", "daemon off;", NULL});
    assert_strv(res.env, (const char *[]){"PATH=/usr/sbin:/usr/bin", "NGINX_VERSION=1.22", NULL});
    assert_string_equal(res.cwd, "/srv");
    done(&res);
}

static void test_command_drops_cmd(void **state)
{
    rt_image img = image();
    char *cmd[] = {"sleep", NULL};
    podspec_container c = {.name = "web", .command = cmd};
    result res;
    run(&img, &c, &res);
    assert_strv(res.argv, (const char *[]){"sleep", NULL});
    done(&res);
}

static void test_command_and_args(void **state)
{
    rt_image img = image();
    char *cmd[] = {"sleep", NULL}, *args[] = {"3600", NULL};
    podspec_container c = {.name = "web", .command = cmd, .args = args};
    result res;
    run(&img, &c, &res);
    assert_strv(res.argv, (const char *[]){"sleep", "3600", NULL});
    done(&res);
}

static void test_args_keep_entrypoint(void **state)
{
    rt_image img = image();
    char *args[] = {"nginx", "-v", NULL};
    podspec_container c = {.name = "web", .args = args};
    result res;
    run(&img, &c, &res);
    assert_strv(res.argv, (const char *[]){"/docker-entrypoint.sh", "nginx", "-v", NULL});
    done(&res);
}

static void test_empty_lists_are_unset(void **state)
{
    rt_image img = image();
    char *empty[] = {NULL};
    podspec_container c = {.name = "web", .command = empty, .args = empty};
    result res;
    run(&img, &c, &res);
    assert_strv(res.argv,
                (const char *[]){"/docker-entrypoint.sh", "nginx", "-g", "daemon off;", NULL});
    done(&res);
}

static void test_empty_entrypoint_string(void **state)
{
    char *ep[] = {"", NULL}, *cmd[] = {"sh", NULL};
    rt_image img = {.entrypoint = ep, .cmd = cmd};
    podspec_container c = {.name = "x"};
    result res;
    run(&img, &c, &res);
    assert_strv(res.argv, (const char *[]){"sh", NULL});
    assert_string_equal(res.cwd, "/");
    done(&res);
}

static void test_no_command(void **state)
{
    rt_image img = {0};
    podspec_container c = {.name = "x"};
    char **argv = (char **)1, **env = (char **)1, *cwd = (char *)1;
    mk_err err = {0};
    assert_int_equal(rt_image_process(&img, &c, &argv, &env, &cwd, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no command specified"));
    assert_non_null(strstr(err.msg, "container x"));
    assert_null(argv);
    assert_null(env);
    assert_null(cwd);
    /* args alone with no Entrypoint: args[0] is the program */
    char *args[] = {"echo", "hi", NULL};
    c.args = args;
    result res;
    run(&img, &c, &res);
    assert_strv(res.argv, (const char *[]){"echo", "hi", NULL});
    assert_strv(res.env, (const char *[]){NULL});
    done(&res);
}

static void test_env_merge_and_workdir(void **state)
{
    rt_image img = image();
    podspec_kv env[] = {{"NGINX_VERSION", "custom"}, {"EXTRA", "1"}, {"EXTRA", "2"}};
    podspec_container c = {.name = "web", .env = env, .n_env = 3, .working_dir = "/app"};
    result res;
    run(&img, &c, &res);
    assert_strv(res.env, (const char *[]){"PATH=/usr/sbin:/usr/bin", "NGINX_VERSION=custom",
                                          "EXTRA=2", NULL});
    assert_string_equal(res.cwd, "/app");
    done(&res);
}

static void test_expansion(void **state)
{
    rt_image img = image();
    podspec_kv env[] = {{"A", "x"}, {"B", "$(A)-y"}, {"C", "$(B)/$(NOPE)/$(C)"}};
    char *cmd[] = {"echo", "$(A)",   "$$(A)", "$(B)", "$(C)", "$(UNSET)",
                   "a$",   "$(open", "$x",    "$()",  NULL};
    podspec_container c = {.name = "web", .env = env, .n_env = 3, .command = cmd};
    result res;
    run(&img, &c, &res);
    assert_strv(res.argv, (const char *[]){"echo", "x", "$(A)", "x-y", "x-y/$(NOPE)/$(C)",
                                           "$(UNSET)", "a$", "$(open", "$x", "$()", NULL});
    /* the image's Env is not a source for expansion */
    char *cmd2[] = {"$(PATH)", NULL};
    podspec_container c2 = {.name = "web", .command = cmd2};
    result res2;
    run(&img, &c2, &res2);
    assert_strv(res2.argv, (const char *[]){"$(PATH)", NULL});
    assert_strv(res.env, (const char *[]){"PATH=/usr/sbin:/usr/bin", "NGINX_VERSION=1.22", "A=x",
                                          "B=x-y", "C=x-y/$(NOPE)/$(C)", NULL});
    done(&res);
    done(&res2);
}

static void test_strv_helpers(void **state)
{
    assert_int_equal(rt_strv_len(NULL), 0);
    assert_null(rt_strv_dup(NULL));
    char **d = rt_strv_dup(CMD);
    assert_int_equal(rt_strv_len(d), 3);
    assert_strv(d, (const char *[]){"nginx", "-g", "daemon off;", NULL});
    assert_ptr_not_equal(d[0], CMD[0]);
    rt_strv_free(d);
    rt_strv_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_defaults),
        cmocka_unit_test(test_command_drops_cmd),
        cmocka_unit_test(test_command_and_args),
        cmocka_unit_test(test_args_keep_entrypoint),
        cmocka_unit_test(test_empty_lists_are_unset),
        cmocka_unit_test(test_empty_entrypoint_string),
        cmocka_unit_test(test_no_command),
        cmocka_unit_test(test_env_merge_and_workdir),
        cmocka_unit_test(test_expansion),
        cmocka_unit_test(test_strv_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
