/* test_api_events.c - GET /api/v1/events and /api/v1/namespaces/{ns}/events with the fake
 * agent: routes, namespaces, the fieldSelector parameter, refused selectors and watches. */
#include "api_test_util.h"

#include <cjson/cJSON.h>

static int setup(void **state)
{
    *state = harness_start(NULL);
    return 0;
}

static int teardown(void **state)
{
    harness_stop(*state);
    return 0;
}

/* GET `target` over TCP without a token (events need none); the status code. */
static int get(harness *h, const char *target, response *r)
{
    char req[512];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    tcp_request(h, req, r);
    return r->status;
}

/* The involvedObject names of an EventList response, joined by ','. */
static char *names(const response *r)
{
    assert_string_equal(header(r, "content-type"), "application/json");
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    if (!j)
        fail_msg("body is not JSON: %s", r->body ? r->body : "(empty)");
    assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring, "EventList");
    assert_string_equal(cJSON_GetObjectItem(j, "apiVersion")->valuestring, "v1");
    char *out = xstrdup("");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "items"))
    {
        const char *n =
            cJSON_GetObjectItem(cJSON_GetObjectItem(e, "involvedObject"), "name")->valuestring;
        char *next = xasprintf("%s%s%s", out, *out ? "," : "", n);
        free(out);
        out = next;
    }
    cJSON_Delete(j);
    return out;
}

static void assert_list(harness *h, const char *target, const char *want)
{
    response r;
    if (get(h, target, &r) != 200)
        fail_msg("GET %s: %d %s", target, r.status, r.body ? r.body : "");
    char *got = names(&r);
    if (strcmp(got, want) != 0)
        fail_msg("GET %s: events about \"%s\", want \"%s\"", target, got, want);
    free(got);
    response_free(&r);
}

static void assert_bad_request(harness *h, const char *target, const char *want_msg)
{
    response r;
    assert_int_equal(get(h, target, &r), 400);
    cJSON *j = cJSON_Parse(r.body);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring, "Status");
    assert_string_equal(cJSON_GetObjectItem(j, "reason")->valuestring, "BadRequest");
    const char *msg = cJSON_GetObjectItem(j, "message")->valuestring;
    if (!strstr(msg, want_msg))
        fail_msg("GET %s: message \"%s\" lacks \"%s\"", target, msg, want_msg);
    cJSON_Delete(j);
    response_free(&r);
}

static void test_routes_and_namespaces(void **state)
{
    harness *h = *state;
    assert_list(h, "/api/v1/events", "mypod,dns");
    assert_list(h, "/api/v1/namespaces/default/events", "mypod");
    assert_list(h, "/api/v1/namespaces/kube-system/events", "dns");
    assert_list(h, "/api/v1/namespaces/nowhere/events", "");
    /* list options the agent does not use are accepted and ignored */
    assert_list(h, "/api/v1/namespaces/default/events?limit=500&resourceVersion=0", "mypod");

    response r;
    assert_int_equal(get(h, "/api/v1/namespaces/default/events/x", &r), 404);
    response_free(&r);
    tcp_request(h, "DELETE /api/v1/events HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(header(&r, "allow"), "GET");
    response_free(&r);
}

static void test_field_selector(void **state)
{
    harness *h = *state;
    assert_list(h, "/api/v1/events?fieldSelector=involvedObject.name%3Ddns", "dns");
    assert_list(h, "/api/v1/events?fieldSelector=involvedObject.name=mypod", "mypod");
    assert_list(h, "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Ddns", "");
    assert_list(h, "/api/v1/events?fieldSelector=", "mypod,dns");
    assert_list(h, "/api/v1/events?limit=1&fieldSelector=involvedObject.name%3Dmypod&watch=false",
                "mypod");
}

static void test_refused(void **state)
{
    harness *h = *state;
    assert_bad_request(h, "/api/v1/events?fieldSelector=spec.nodeName%3Dx",
                       "field label not supported: spec.nodeName=x");
    assert_bad_request(h, "/api/v1/namespaces/default/events?fieldSelector=%zz",
                       "bad percent-encoding in fieldSelector");
    /* a watch is refused rather than answered with a list */
    assert_bad_request(h, "/api/v1/events?watch=true", "watching events is not supported");
    assert_bad_request(h, "/api/v1/namespaces/default/events?watch=1&fieldSelector=",
                       "watching events is not supported");
    assert_bad_request(h, "/api/v1/events?watch", "watching events is not supported");
    assert_list(h, "/api/v1/events?watch=0", "mypod,dns");
}

static void test_no_token_needed(void **state)
{
    harness *h = *state;
    /* reading events is like reading pods: no token on TCP (the other tests), and the socket */
    int fd = unix_connect(h->sock);
    response r;
    request_on(fd, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    close(fd);
    assert_int_equal(r.status, 200);
    response_free(&r);
}

static void test_connection_close(void **state)
{
    harness *h = *state;
    /* a list is a complete response: the connection ends after it when the client asks so */
    int fd = tcp_connect(h->port);
    response r;
    request_on(fd, "GET /api/v1/events HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_true(closed_by_server(fd));
    close(fd);
    response_free(&r);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_routes_and_namespaces), T(test_field_selector),   T(test_refused),
        T(test_no_token_needed),       T(test_connection_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
