/* test_api_stream.c - logs (chunked, follow, parameters, cancel), /run with auth, timeouts,
 * slow readers, and the listen-address policy of api_server_start. */
#include "api_test_util.h"

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

static void assert_reason(const response *r, int code, const char *reason)
{
    assert_int_equal(r->status, code);
    char want[64];
    snprintf(want, sizeof(want), "\"reason\":\"%s\"", reason);
    if (!r->body || !strstr(r->body, want))
        fail_msg("want %s in %s", want, r->body ? r->body : "(empty)");
}

/* ---- logs ---- */

static void test_logs(void **state)
{
    harness *h = *state;
    response r;
    tcp_request(h, "GET /containerLogs/default/mypod/mycontainer HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_true(r.chunked);
    assert_string_equal(header(&r, "transfer-encoding"), "chunked");
    assert_string_equal(r.body, "opts follow=0 previous=0 timestamps=0 tail=-1 since=0 limit=-1\n"
                                "line 1\nline 2\nline 3\n");
    response_free(&r);

    tcp_request(h,
                "GET /containerLogs/default/mypod/mycontainer?tailLines=2&timestamps=true"
                "&limitBytes=100&sinceSeconds=30&previous=1 HTTP/1.1\r\n\r\n",
                &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "opts follow=0 previous=1 timestamps=1 tail=2 since=30 "
                                   "limit=100\n"));
    response_free(&r);
}

static void test_logs_follow(void **state)
{
    harness *h = *state;
    int fd = tcp_connect(h->port);
    client cl;
    client_init(&cl, fd);
    send_str(fd, "GET /containerLogs/default/mypod/mycontainer?follow=true HTTP/1.1\r\n\r\n");
    response r;
    assert_int_equal(read_response(&cl, &r), 0);
    assert_int_equal(r.status, 200);
    assert_true(r.chunks >= 2);
    assert_non_null(strstr(r.body, "opts follow=1"));
    assert_non_null(strstr(r.body, "line 3\nfollow 1\nfollow 2\nfollow 3\n"));
    response_free(&r);
    /* the connection stays usable after the stream ended */
    send_str(fd, "GET /healthz HTTP/1.1\r\n\r\n");
    assert_int_equal(read_response(&cl, &r), 0);
    assert_string_equal(r.body, "ok");
    response_free(&r);
    close(fd);
}

static void test_logs_bad_params(void **state)
{
    harness *h = *state;
    static const struct {
        const char *query;
        int code;
        const char *reason;
    } cases[] = {
        {"tailLines=abc", 400, "BadRequest"},
        {"follow=maybe", 400, "BadRequest"},
        {"sinceTime=yesterday", 400, "BadRequest"},
        {"tailLines=-1", 422, "Invalid"},
        {"limitBytes=0", 422, "Invalid"},
        {"sinceSeconds=0", 422, "Invalid"},
        {"stream=Stdout", 422, "Invalid"},
        {"sinceSeconds=5&sinceTime=2020-01-01T00:00:00Z", 422, "Invalid"},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(cases); i++) {
        char req[256];
        snprintf(req, sizeof(req),
                 "GET /containerLogs/default/mypod/mycontainer?%s HTTP/1.1\r\n\r\n",
                 cases[i].query);
        response r;
        tcp_request(h, req, &r);
        assert_reason(&r, cases[i].code, cases[i].reason);
        response_free(&r);
    }
    response r;
    tcp_request(h, "GET /containerLogs/default/mypod/nope HTTP/1.1\r\n\r\n", &r);
    assert_reason(&r, 404, "NotFound");
    response_free(&r);
    tcp_request(h, "GET /containerLogs/default/ghost/mycontainer HTTP/1.1\r\n\r\n", &r);
    assert_reason(&r, 404, "NotFound");
    response_free(&r);
    tcp_request(h, "GET /containerLogs/default/mypod/waiting HTTP/1.1\r\n\r\n", &r);
    assert_reason(&r, 400, "BadRequest");
    assert_non_null(strstr(r.body, "is waiting to start"));
    response_free(&r);
    /* sinceTime alone is accepted */
    tcp_request(h,
                "GET /containerLogs/default/mypod/mycontainer?sinceTime=2020-01-01T00:00:00Z "
                "HTTP/1.1\r\n\r\n",
                &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
}

static void test_logs_cancel_on_close(void **state)
{
    harness *h = *state;
    int fd = tcp_connect(h->port);
    client cl;
    client_init(&cl, fd);
    send_str(fd, "GET /containerLogs/default/mypod/forever?follow=1 HTTP/1.1\r\n\r\n");
    response r;
    assert_int_equal(read_response_ex(&cl, &r, true), 0);
    assert_int_equal(r.status, 200);
    response_free(&r);
    close(fd);
    assert_true(POLL_UNTIL(fake_agent_cancels(h->a) == 1, 10000));
    assert_true(POLL_UNTIL(fake_agent_live_streams(h->a) == 0, 10000));
}

static void test_logs_error_cuts_stream(void **state)
{
    harness *h = *state;
    int fd = tcp_connect(h->port);
    client cl;
    client_init(&cl, fd);
    send_str(fd, "GET /containerLogs/default/mypod/broken HTTP/1.1\r\n\r\n");
    response r;
    assert_int_equal(read_response(&cl, &r), -1); /* no final chunk: incomplete */
    assert_int_equal(r.status, 200);
    response_free(&r);
    close(fd);
}

static void test_slow_reader_dropped(void **state)
{
    harness *h = *state;
    int fd = tcp_connect(h->port);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    send_str(fd, "GET /containerLogs/default/mypod/flood?follow=1 HTTP/1.1\r\n\r\n");
    /* never read: the server must end the stream and drop us, not buffer without bound */
    assert_true(POLL_UNTIL(fake_agent_live_streams(h->a) == 0, 20000));
    assert_true(closed_by_server(fd));
    close(fd);
}

/* ---- run ---- */

static void test_run_auth(void **state)
{
    harness *h = *state;
    const char *path = "POST /run/default/mypod/mycontainer?cmd=echo+hello+world HTTP/1.1\r\n";
    char req[512];
    response r;

    snprintf(req, sizeof(req), "%sContent-Length: 0\r\n\r\n", path);
    tcp_request(h, req, &r);
    assert_reason(&r, 401, "Unauthorized");
    assert_non_null(header(&r, "www-authenticate"));
    response_free(&r);

    snprintf(req, sizeof(req), "%sAuthorization: Bearer wrong\r\n\r\n", path);
    tcp_request(h, req, &r);
    assert_reason(&r, 401, "Unauthorized");
    response_free(&r);

    snprintf(req, sizeof(req), "%sAuthorization: Basic %s\r\n\r\n", path, TEST_TOKEN);
    tcp_request(h, req, &r);
    assert_reason(&r, 401, "Unauthorized");
    response_free(&r);

    snprintf(req, sizeof(req), "%sAuthorization: Bearer %s\r\n\r\n", path, TEST_TOKEN);
    tcp_request(h, req, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "x-exit-code"), "0");
    assert_string_equal(r.body, "hello world\n");
    response_free(&r);

    /* the unix socket needs no token */
    int fd = unix_connect(h->sock);
    snprintf(req, sizeof(req), "%s\r\n", path);
    request_on(fd, req, &r);
    close(fd);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello world\n");
    response_free(&r);
}

static void unix_run(harness *h, const char *target, response *r)
{
    char req[512];
    snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\n\r\n", target);
    int fd = unix_connect(h->sock);
    request_on(fd, req, r);
    close(fd);
}

static void test_run_results(void **state)
{
    harness *h = *state;
    response r;
    unix_run(h, "/run/default/mypod/mycontainer?cmd=false", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "x-exit-code"), "1");
    assert_int_equal(r.body_len, 0);
    response_free(&r);

    unix_run(h, "/run/default/mypod/mycontainer?cmd=both", &r);
    assert_string_equal(header(&r, "x-exit-code"), "3");
    assert_string_equal(r.body, "out\nerr\n");
    response_free(&r);

    /* two spaces make an empty word, as with the kubelet */
    unix_run(h, "/run/default/mypod/mycontainer?cmd=args%20a++b%2Fc", &r);
    assert_string_equal(r.body, "args|a||b/c");
    response_free(&r);

    unix_run(h, "/run/default/mypod/mycontainer?cmd=cannot", &r);
    assert_reason(&r, 500, "InternalError");
    response_free(&r);

    unix_run(h, "/run/default/mypod/mycontainer", &r);
    assert_reason(&r, 400, "BadRequest");
    response_free(&r);

    unix_run(h, "/run/default/mypod/mycontainer?cmd=+", &r);
    assert_reason(&r, 400, "BadRequest");
    response_free(&r);

    unix_run(h, "/run/default/ghost/mycontainer?cmd=echo", &r);
    assert_reason(&r, 404, "NotFound");
    response_free(&r);

    unix_run(h, "/run/default/mypod/uid-mypod/mycontainer?cmd=echo+uid", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "uid\n");
    response_free(&r);

    unix_run(h, "/run/default/mypod/other-uid/mycontainer?cmd=echo", &r);
    assert_reason(&r, 404, "NotFound");
    response_free(&r);
}

static void test_run_cancel_on_close(void **state)
{
    harness *h = *state;
    int fd = unix_connect(h->sock);
    send_str(fd, "POST /run/default/mypod/mycontainer?cmd=hang HTTP/1.1\r\n\r\n");
    assert_true(POLL_UNTIL(fake_agent_live_streams(h->a) == 1, 10000));
    close(fd);
    assert_true(POLL_UNTIL(fake_agent_cancels(h->a) == 1, 10000));
}

/* ---- timeouts ---- */

static void test_header_timeout(void **state)
{
    api_config cfg = {.header_timeout_ms = 100, .idle_timeout_ms = 60000};
    harness *h = harness_start(&cfg);
    int fd = tcp_connect(h->port);
    send_str(fd, "GET /healthz HTTP/1.1\r\nHost: slow"); /* ...and nothing more */
    assert_true(closed_by_server(fd));
    close(fd);
    fd = tcp_connect(h->port); /* silent from the start */
    assert_true(closed_by_server(fd));
    close(fd);
    harness_stop(h);
}

static void test_idle_timeout(void **state)
{
    api_config cfg = {.header_timeout_ms = 60000, .idle_timeout_ms = 100};
    harness *h = harness_start(&cfg);
    int fd = tcp_connect(h->port);
    client cl;
    client_init(&cl, fd);
    send_str(fd, "GET /healthz HTTP/1.1\r\n\r\n");
    response r;
    assert_int_equal(read_response(&cl, &r), 0);
    response_free(&r);
    assert_true(closed_by_server(fd));
    close(fd);
    harness_stop(h);
}

/* ---- start policy ---- */

static int try_start(api_config *cfg, mk_err *err)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    agent *a = fake_agent_new(&loop);
    api_server *s = NULL;
    int r = api_server_start(&loop, cfg, a, &s, err);
    if (r == 0)
        api_server_close(s, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    fake_agent_free(a);
    return r;
}

static void test_start_policy(void **state)
{
    mk_err err = {0};
    api_config cfg = {.listen_addr = "0.0.0.0:0"};
    assert_int_equal(try_start(&cfg, &err), -EPERM);
    assert_non_null(strstr(err.msg, "--tls-cert-file"));

    cfg = (api_config){
        .listen_addr = "127.0.0.1:0", .tls_cert_file = "/x.crt", .tls_key_file = "/x.key"};
    assert_int_equal(try_start(&cfg, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "--tls-cert-file /x.crt: no such file"));

    const char *bad[] = {"127.0.0.1", "nohost:80", "127.0.0.1:99999", "::1:80", "[::1]80", ""};
    for (size_t i = 0; i < MK_ARRAY_LEN(bad); i++) {
        cfg = (api_config){.listen_addr = bad[i]};
        assert_int_equal(try_start(&cfg, &err), -EINVAL);
    }

    cfg = (api_config){.listen_addr = "localhost:0"};
    assert_int_equal(try_start(&cfg, &err), 0);
    cfg = (api_config){.listen_addr = "[::1]:0"};
    int r = try_start(&cfg, &err);
    assert_true(r == 0 || r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT);
}

static void test_unix_socket_path(void **state)
{
    char dir[] = "/tmp/mk-api-sock-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/sub/api.sock", dir);
    mk_err err = {0};
    api_config cfg = {.socket_path = path};

    /* a regular file is never removed */
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(try_start(&cfg, &err), -EEXIST);
    assert_int_equal(unlink(path), 0);

    /* a stale socket (nobody listening) is replaced */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    assert_int_equal(try_start(&cfg, &err), 0);
    struct stat st;
    assert_int_equal(lstat(path, &st), -1); /* removed again at close */

    /* a live socket is not stolen */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(try_start(&cfg, &err), -EADDRINUSE);
    close(fd);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_follow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_bad_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_cancel_on_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_error_cuts_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_cancel_on_close, setup, teardown),
        cmocka_unit_test(test_header_timeout),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_start_policy),
        cmocka_unit_test(test_unix_socket_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
