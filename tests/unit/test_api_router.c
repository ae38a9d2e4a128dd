/* test_api_router.c - path patterns, parameters, 405 method sets, percent-decoding, queries. */
#include "api_internal.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void h_dummy(api_conn *c, api_request *req)
{
}

static const api_route routes[] = {
    {"/pods", API_METHOD(HTTP_GET), h_dummy, false},
    {"/api/v1/namespaces/{ns}/pods", API_METHOD(HTTP_GET), h_dummy, false},
    {"/api/v1/namespaces/{ns}/pods/{name}", API_METHOD(HTTP_GET), h_dummy, false},
    {"/run/{ns}/{pod}/{container}", API_METHOD(HTTP_POST), h_dummy, true},
    {"/run/{ns}/{pod}/{uid}/{container}", API_METHOD(HTTP_POST), h_dummy, true},
    {"/x/{a}", API_METHOD(HTTP_GET), h_dummy, false},
    {"/x/{a}", API_METHOD(HTTP_PUT) | API_METHOD(HTTP_DELETE), h_dummy, false},
};

typedef struct match {
    api_route_result res;
    const api_route *route;
    char *params[API_MAX_PARAMS];
    int n;
    uint64_t allow;
} match;

static match do_match(const char *path, enum http_method m)
{
    match x = {0};
    x.res = api_route_match(routes, MK_ARRAY_LEN(routes), path, strlen(path), m, &x.route, x.params,
                            &x.n, &x.allow);
    return x;
}

static void test_static_and_params(void **state)
{
    match m = do_match("/pods", HTTP_GET);
    assert_int_equal(m.res, API_ROUTE_OK);
    assert_ptr_equal(m.route, &routes[0]);
    assert_int_equal(m.n, 0);

    m = do_match("/api/v1/namespaces/default/pods/mypod", HTTP_GET);
    assert_int_equal(m.res, API_ROUTE_OK);
    assert_ptr_equal(m.route, &routes[2]);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.params[0], "default");
    assert_string_equal(m.params[1], "mypod");
    api_params_free(m.params, m.n);

    m = do_match("/run/ns/p/uid-1/c", HTTP_POST);
    assert_int_equal(m.res, API_ROUTE_OK);
    assert_ptr_equal(m.route, &routes[4]);
    assert_int_equal(m.n, 4);
    assert_string_equal(m.params[3], "c");
    assert_true(m.route->needs_auth);
    api_params_free(m.params, m.n);
}

static void test_not_found(void **state)
{
    const char *paths[] = {"/",
                           "",
                           "/pods/",
                           "/podsx",
                           "/pod",
                           "/api/v1/namespaces//pods",
                           "/api/v1/namespaces/a/pods/b/c",
                           "/api/v1/namespaces/a/pods/",
                           "//pods",
                           "/run/a/b"};
    for (size_t i = 0; i < MK_ARRAY_LEN(paths); i++) {
        match m = do_match(paths[i], HTTP_GET);
        if (m.res != API_ROUTE_NOT_FOUND)
            fail_msg("%s: got %d", paths[i], m.res);
    }
}

static void test_method_not_allowed(void **state)
{
    match m = do_match("/pods", HTTP_POST);
    assert_int_equal(m.res, API_ROUTE_BAD_METHOD);
    assert_true(m.allow == API_METHOD(HTTP_GET));
    cleanup_free char *allow = api_allow_string(m.allow);
    assert_string_equal(allow, "GET");

    m = do_match("/x/1", HTTP_POST);
    assert_int_equal(m.res, API_ROUTE_BAD_METHOD);
    cleanup_free char *allow2 = api_allow_string(m.allow);
    assert_string_equal(allow2, "DELETE, GET, PUT");

    m = do_match("/x/1", HTTP_DELETE); /* the second route with the same pattern */
    assert_int_equal(m.res, API_ROUTE_OK);
    assert_ptr_equal(m.route, &routes[6]);
    api_params_free(m.params, m.n);
}

static void test_percent_decoding(void **state)
{
    match m = do_match("/x/a%2Fb%20c+d", HTTP_GET);
    assert_int_equal(m.res, API_ROUTE_OK);
    assert_string_equal(m.params[0], "a/b c+d"); /* '+' is literal in a path */
    api_params_free(m.params, m.n);

    assert_int_equal(do_match("/x/a%zz", HTTP_GET).res, API_ROUTE_BAD_PATH);
    assert_int_equal(do_match("/x/a%2", HTTP_GET).res, API_ROUTE_BAD_PATH);
    assert_int_equal(do_match("/x/a%00b", HTTP_GET).res, API_ROUTE_BAD_PATH);

    char *out = NULL;
    assert_int_equal(api_percent_decode("a+b%41", 6, true, &out), 0);
    assert_string_equal(out, "a bA");
    free(out);
    assert_int_equal(api_percent_decode("%", 1, false, &out), -EINVAL);
}

static void test_query(void **state)
{
    char *v = NULL;
    const char *q = "cmd=nginx+-v&follow&tailLines=10&x%79z=%41&empty=";
    assert_int_equal(api_query_get(q, "cmd", &v), 0);
    assert_string_equal(v, "nginx -v");
    free(v);
    assert_int_equal(api_query_get(q, "follow", &v), 0);
    assert_string_equal(v, "");
    free(v);
    assert_int_equal(api_query_get(q, "tailLines", &v), 0);
    assert_string_equal(v, "10");
    free(v);
    assert_int_equal(api_query_get(q, "xyz", &v), 0);
    assert_string_equal(v, "A");
    free(v);
    assert_int_equal(api_query_get(q, "empty", &v), 0);
    assert_string_equal(v, "");
    free(v);
    assert_int_equal(api_query_get(q, "tail", &v), -ENOENT);
    assert_int_equal(api_query_get(NULL, "cmd", &v), -ENOENT);
    assert_int_equal(api_query_get("a=1&a=2", "a", &v), 0); /* the first one wins */
    assert_string_equal(v, "1");
    free(v);
    assert_int_equal(api_query_get("cmd=%zz", "cmd", &v), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_and_params),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
