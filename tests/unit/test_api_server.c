/* test_api_server.c - the HTTP API on a real loop with the fake agent: endpoints, errors,
 * keep-alive, pipelining, auth, limits and timeouts, driven over raw sockets. */
#include "api_test_util.h"

#include <cjson/cJSON.h>
#include <sys/resource.h>
#include <sys/stat.h>

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

static cJSON *body_json(const response *r)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    if (!j)
        fail_msg("body is not JSON: %s", r->body ? r->body : "(empty)");
    return j;
}

static void assert_status_json(const response *r, int code, const char *reason)
{
    assert_int_equal(r->status, code);
    assert_string_equal(header(r, "content-type"), "application/json");
    cJSON *j = body_json(r);
    assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring, "Status");
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "Failure");
    assert_string_equal(cJSON_GetObjectItem(j, "reason")->valuestring, reason);
    assert_int_equal(cJSON_GetObjectItem(j, "code")->valueint, code);
    cJSON_Delete(j);
}

static void test_healthz_tcp_and_unix(void **state)
{
    harness *h = *state;
    response r;
    tcp_request(h, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok");
    assert_string_equal(header(&r, "content-type"), "text/plain; charset=utf-8");
    response_free(&r);

    int fd = unix_connect(h->sock);
    request_on(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    close(fd);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok");
    response_free(&r);

    struct stat st;
    assert_int_equal(stat(h->sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static int count_items(const response *r)
{
    cJSON *j = body_json(r);
    assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring, "PodList");
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "items"));
    cJSON_Delete(j);
    return n;
}

static void test_pods(void **state)
{
    harness *h = *state;
    response r;
    tcp_request(h, "GET /pods HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "content-type"), "application/json");
    assert_int_equal(count_items(&r), 2);
    response_free(&r);

    tcp_request(h, "GET /api/v1/pods HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(count_items(&r), 2);
    response_free(&r);

    tcp_request(h, "GET /api/v1/namespaces/kube-system/pods HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(count_items(&r), 1);
    response_free(&r);

    tcp_request(h, "GET /api/v1/namespaces/default/pods/mypod HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    cJSON *j = body_json(&r);
    cJSON *meta = cJSON_GetObjectItem(j, "metadata");
    assert_string_equal(cJSON_GetObjectItem(meta, "name")->valuestring, "mypod");
    cJSON_Delete(j);
    response_free(&r);

    tcp_request(h, "GET /api/v1/namespaces/default/pods/nope HTTP/1.1\r\n\r\n", &r);
    assert_status_json(&r, 404, "NotFound");
    assert_non_null(strstr(r.body, "pods \\\"nope\\\" not found"));
    response_free(&r);

    /* percent-encoded path parameters are decoded */
    tcp_request(h, "GET /api/v1/namespaces/def%61ult/pods/my%70od HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
}

static void test_snapshots(void **state)
{
    harness *h = *state;
    response r;
    tcp_request(h, "GET /manifests HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"mypod.yaml\""));
    response_free(&r);

    tcp_request(h, "GET /inspect/default/mypod HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    cJSON *j = body_json(&r);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "sandbox"), "pid")->valueint, 4242);
    cJSON_Delete(j);
    response_free(&r);

    tcp_request(h, "GET /inspect/default/ghost HTTP/1.1\r\n\r\n", &r);
    assert_status_json(&r, 404, "NotFound");
    response_free(&r);
}

static void test_top(void **state)
{
    harness *h = *state;
    response r;
    tcp_request(h, "GET /top/default/mypod/mycontainer HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "PID                 USER                TIME                "
                                "COMMAND\n"
                                "5317                root                0:00                "
                                "nginx: master process nginx\n"
                                "5345                www-data            0:01                "
                                "nginx: worker process\n");
    response_free(&r);

    tcp_request(
        h, "GET /top/default/mypod/mycontainer HTTP/1.1\r\nAccept: application/json\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    cJSON *j = body_json(&r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "processes")), 2);
    cJSON_Delete(j);
    response_free(&r);

    tcp_request(h, "GET /top/default/mypod/nope HTTP/1.1\r\n\r\n", &r);
    assert_status_json(&r, 404, "NotFound");
    response_free(&r);
}

static void test_not_found_and_method(void **state)
{
    harness *h = *state;
    response r;
    tcp_request(h, "GET /nope HTTP/1.1\r\n\r\n", &r);
    assert_status_json(&r, 404, "NotFound");
    response_free(&r);

    tcp_request(h, "POST /pods HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
    assert_status_json(&r, 405, "MethodNotAllowed");
    assert_string_equal(header(&r, "allow"), "GET");
    response_free(&r);

    tcp_request(h, "GET /run/default/mypod/mycontainer?cmd=ls HTTP/1.1\r\n\r\n", &r);
    assert_status_json(&r, 405, "MethodNotAllowed");
    assert_string_equal(header(&r, "allow"), "POST");
    response_free(&r);

    tcp_request(h, "GET /api/v1/namespaces/a%zz/pods HTTP/1.1\r\n\r\n", &r);
    assert_status_json(&r, 400, "BadRequest");
    response_free(&r);
}

static void test_keep_alive(void **state)
{
    harness *h = *state;
    int fd = tcp_connect(h->port);
    client cl;
    client_init(&cl, fd);
    response r;
    for (int i = 0; i < 3; i++) {
        send_str(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_int_equal(read_response(&cl, &r), 0);
        assert_int_equal(r.status, 200);
        assert_null(header(&r, "connection"));
        response_free(&r);
    }
    /* Connection: close is honoured */
    send_str(fd, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(read_response(&cl, &r), 0);
    assert_string_equal(header(&r, "connection"), "close");
    response_free(&r);
    assert_true(closed_by_server(fd));
    close(fd);
}

static void test_pipelined(void **state)
{
    harness *h = *state;
    int fd = tcp_connect(h->port);
    client cl;
    client_init(&cl, fd);
    send_str(fd, "GET /healthz HTTP/1.1\r\n\r\n"
                 "GET /api/v1/namespaces/kube-system/pods HTTP/1.1\r\n\r\n"
                 "POST /run/default/mypod/mycontainer?cmd=echo+hi HTTP/1.1\r\n"
                 "Authorization: Bearer " TEST_TOKEN "\r\nContent-Length: 0\r\n\r\n"
                 "GET /nope HTTP/1.1\r\n\r\n");
    response r;
    assert_int_equal(read_response(&cl, &r), 0);
    assert_string_equal(r.body, "ok");
    response_free(&r);
    assert_int_equal(read_response(&cl, &r), 0);
    assert_int_equal(count_items(&r), 1);
    response_free(&r);
    assert_int_equal(read_response(&cl, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hi\n");
    response_free(&r);
    assert_int_equal(read_response(&cl, &r), 0);
    assert_int_equal(r.status, 404);
    response_free(&r);
    close(fd);
}

static void test_http10(void **state)
{
    harness *h = *state;
    int fd = tcp_connect(h->port);
    response r;
    request_on(fd, "GET /healthz HTTP/1.0\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "connection"), "close");
    response_free(&r);
    assert_true(closed_by_server(fd));
    close(fd);
}

static void test_body_too_large(void **state)
{
    harness *h = *state;
    int fd = tcp_connect(h->port);
    response r;
    request_on(fd,
               "POST /run/default/mypod/mycontainer?cmd=ls HTTP/1.1\r\n"
               "Content-Length: 2000000\r\n\r\nsome",
               &r);
    assert_status_json(&r, 413, "RequestEntityTooLarge");
    response_free(&r);
    assert_true(closed_by_server(fd));
    close(fd);

    /* a chunked body that grows past the limit */
    fd = tcp_connect(h->port);
    client cl;
    client_init(&cl, fd);
    send_str(fd, "POST /run/default/mypod/mycontainer?cmd=ls HTTP/1.1\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
    char *chunk = malloc(70000);
    int n = sprintf(chunk, "%x\r\n", 65536);
    memset(chunk + n, 'a', 65536);
    memcpy(chunk + n + 65536, "\r\n", 2);
    response_free(&r);
    int rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++) {
        ssize_t w = send(fd, chunk, (size_t)n + 65538, MSG_NOSIGNAL);
        rc = w < 0 ? -1 : 0;
    }
    free(chunk);
    assert_int_equal(read_response(&cl, &r), 0);
    assert_status_json(&r, 413, "RequestEntityTooLarge");
    response_free(&r);
    close(fd);
}

static void test_headers_too_large(void **state)
{
    harness *h = *state;
    int fd = tcp_connect(h->port);
    size_t big = 20000;
    char *req = malloc(big + 100);
    strcpy(req, "GET /healthz HTTP/1.1\r\nX-Big: ");
    size_t l = strlen(req);
    memset(req + l, 'b', big);
    strcpy(req + l + big, "\r\n\r\n");
    response r;
    request_on(fd, req, &r);
    free(req);
    assert_status_json(&r, 431, "RequestHeaderFieldsTooLarge");
    response_free(&r);
    assert_true(closed_by_server(fd));
    close(fd);
}

static void test_garbage(void **state)
{
    harness *h = *state;
    int fd = tcp_connect(h->port);
    response r;
    request_on(fd, "\x01\x02garbage \xff\r\n\r\n", &r);
    assert_status_json(&r, 400, "BadRequest");
    response_free(&r);
    assert_true(closed_by_server(fd));
    close(fd);

    fd = tcp_connect(h->port);
    request_on(fd, "GET /healthz HTTP/1.1\r\nContent-Length: nope\r\n\r\n", &r);
    assert_int_equal(r.status, 400);
    response_free(&r);
    close(fd);
}

static void test_many_connections(void **state)
{
    harness *h = *state;
    enum { N = 200 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = i % 2 ? tcp_connect(h->port) : unix_connect(h->sock);
        send_str(fds[i], "GET /healthz HTTP/1.1\r\n\r\n");
    }
    for (int i = 0; i < N; i++) {
        client cl;
        client_init(&cl, fds[i]);
        response r;
        assert_int_equal(read_response(&cl, &r), 0);
        assert_string_equal(r.body, "ok");
        response_free(&r);
        close(fds[i]);
    }
}

/* Under a low RLIMIT_NOFILE, clients may take only a share of the descriptors: the agent needs
 * the rest for its pods. The refused ones are closed; the others are served. */
static struct rlimit saved_nofile;

static int setup_low_nofile(void **state)
{
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
    struct rlimit low = {256, saved_nofile.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    return setup(state);
}

static int teardown_low_nofile(void **state)
{
    teardown(state);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
    return 0;
}

static void test_connections_limited_by_nofile(void **state)
{
    harness *h = *state;
    enum { N = 100 };
    int fds[N], answered = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = tcp_connect(h->port);
        send_str(fds[i], "GET /healthz HTTP/1.1\r\n\r\n");
    }
    for (int i = 0; i < N; i++) {
        client cl;
        client_init(&cl, fds[i]);
        response r;
        if (read_response(&cl, &r) == 0) {
            answered += strcmp(r.body, "ok") == 0;
            response_free(&r);
        } else {
            refused++;
        }
    }
    for (int i = 0; i < N; i++)
        close(fds[i]);
    assert_true(answered >= 1 && answered <= 256 / 4);
    assert_int_equal(answered + refused, N);
    /* with the clients gone, the server answers again (once it has seen them close) */
    bool ok = false;
    for (int k = 0; k < 200 && !ok; k++) {
        int fd = tcp_connect(h->port);
        send_str(fd, "GET /healthz HTTP/1.1\r\n\r\n");
        client cl;
        client_init(&cl, fd);
        response r;
        if (read_response(&cl, &r) == 0) {
            ok = strcmp(r.body, "ok") == 0;
            response_free(&r);
        }
        close(fd);
        if (!ok)
            usleep(25000);
    }
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz_tcp_and_unix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connections_limited_by_nofile, setup_low_nofile,
                                        teardown_low_nofile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
