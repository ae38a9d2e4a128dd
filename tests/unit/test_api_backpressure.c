/* test_api_backpressure.c - a streamed log waits for a slow client instead of dropping it:
 * the whole log arrives byte for byte, the agent is paused and resumed once per pause, a
 * client that stops reading is still dropped, and a cancelled paused stream is never resumed.
 */
#include "api_test_util.h"

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

/* A TCP client with a small receive buffer (rcvbuf bytes), so that the server's queue fills
 * quickly when it does not read. */
static int slow_connect(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int small = rcvbuf;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    set_deadline(fd, 10);
    return fd;
}

/* Feed what one recv() of at most `cap` bytes brings into the response parser. false on EOF,
 * a reset or the deadline. */
static bool read_some(client *cl, response *r, size_t cap)
{
    char b[16384];
    ssize_t n;
    do
        n = recv(cl->fd, b, cap < sizeof(b) ? cap : sizeof(b), 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;
    http_parser_execute(&cl->p, &resp_settings, b, (size_t)n);
    enum http_errno e = HTTP_PARSER_ERRNO(&cl->p);
    if (e != HPE_OK && e != HPE_PAUSED)
        fail_msg("bad response: %s", http_errno_name(e));
    return true;
}

static void assert_big_log(const response *r)
{
    assert_int_equal(r->body_len, FAKE_BIG_LOG_BYTES);
    for (size_t i = 0; i < r->body_len; i++)
        if (r->body[i] != fake_big_log_byte(i))
            fail_msg("log differs at byte %zu", i);
}

/* The client reads only while the agent is paused: without back-pressure the server would
 * queue the whole log for it and drop it at API_MAX_WRITE_QUEUE. */
static void test_slow_reader_gets_everything(void **state)
{
    (void)state;
    /* the idle timeout starts when the response is queued: longer than the client's reading */
    api_config cfg = {.idle_timeout_ms = 60000, .header_timeout_ms = 5000};
    harness *h = harness_start(&cfg);
    int fd = slow_connect(h->port, 65536);
    client cl;
    client_init(&cl, fd);
    response r;
    memset(&r, 0, sizeof(r));
    http_parser_init(&cl.p, HTTP_RESPONSE);
    cl.p.data = &r;
    send_str(fd, "GET /containerLogs/default/mypod/big HTTP/1.1\r\n\r\n");
    while (!r.complete) {
        assert_true(
            POLL_UNTIL(fake_agent_paused(h->a) > 0 || fake_agent_live_streams(h->a) == 0, 10000));
        if (!read_some(&cl, &r, 16384))
            break;
    }
    assert_true(r.complete);
    assert_int_equal(r.status, 200);
    assert_true(r.chunked);
    assert_big_log(&r);
    assert_true(fake_agent_pauses(h->a) > 0);
    assert_int_equal(fake_agent_resumes(h->a), fake_agent_pauses(h->a));
    assert_int_equal(fake_agent_bad_resumes(h->a), 0);
    assert_true(POLL_UNTIL(fake_agent_live_streams(h->a) == 0, 10000));
    assert_int_equal(fake_agent_cancels(h->a), 0);
    response_free(&r);

    /* the connection is still usable: keep-alive after the stream */
    send_str(fd, "GET /healthz HTTP/1.1\r\n\r\n");
    client_init(&cl, fd);
    assert_int_equal(read_response(&cl, &r), 0);
    assert_int_equal(r.status, 200);
    response_free(&r);
    close(fd);
    harness_stop(h);
}

/* Fast readers (unix socket, TCP) and a slow HTTP/1.0 one (raw body until close): both complete. */
static void test_fast_and_http10_readers(void **state)
{
    harness *h = *state;
    response r;
    int ufd = unix_connect(h->sock);
    request_on(ufd, "GET /containerLogs/default/mypod/big HTTP/1.1\r\n\r\n", &r);
    close(ufd);
    assert_string_equal(header(&r, "transfer-encoding"), "chunked");
    assert_big_log(&r);
    response_free(&r);
    tcp_request(h, "GET /containerLogs/default/mypod/big HTTP/1.1\r\n\r\n", &r);
    assert_big_log(&r);
    response_free(&r);

    int fd = slow_connect(h->port, 65536);
    client cl;
    client_init(&cl, fd);
    send_str(fd, "GET /containerLogs/default/mypod/big HTTP/1.0\r\n\r\n");
    assert_int_equal(read_response(&cl, &r), 0);
    assert_false(r.chunked);
    assert_big_log(&r);
    response_free(&r);
    close(fd);
    assert_true(POLL_UNTIL(fake_agent_live_streams(h->a) == 0, 10000));
    assert_int_equal(fake_agent_resumes(h->a), fake_agent_pauses(h->a));
    assert_int_equal(fake_agent_bad_resumes(h->a), 0);
}

/* A paused stream whose client never reads again is dropped after the idle timeout. */
static void test_stalled_reader_dropped(void **state)
{
    (void)state;
    api_config cfg = {.idle_timeout_ms = 300, .header_timeout_ms = 5000};
    harness *h = harness_start(&cfg);
    int fd = slow_connect(h->port, 4096);
    send_str(fd, "GET /containerLogs/default/mypod/big HTTP/1.1\r\n\r\n");
    assert_true(POLL_UNTIL(fake_agent_paused(h->a) > 0, 10000));
    assert_true(POLL_UNTIL(fake_agent_live_streams(h->a) == 0, 20000));
    assert_int_equal(fake_agent_cancels(h->a), 1);
    assert_true(closed_by_server(fd));
    assert_int_equal(fake_agent_bad_resumes(h->a), 0);
    close(fd);
    harness_stop(h);
}

/* The client goes away while its stream is paused: the stream is cancelled, never resumed. */
static void test_cancelled_paused_stream_not_resumed(void **state)
{
    harness *h = *state;
    int fd = slow_connect(h->port, 4096);
    send_str(fd, "GET /containerLogs/default/mypod/big HTTP/1.1\r\n\r\n");
    assert_true(POLL_UNTIL(fake_agent_paused(h->a) > 0, 10000));
    int pauses = fake_agent_pauses(h->a);
    assert_int_equal(fake_agent_resumes(h->a), pauses - 1);
    close(fd);
    assert_true(POLL_UNTIL(fake_agent_live_streams(h->a) == 0, 10000));
    assert_int_equal(fake_agent_cancels(h->a), 1);
    assert_int_equal(fake_agent_pauses(h->a), pauses);
    assert_int_equal(fake_agent_resumes(h->a), pauses - 1);
    assert_int_equal(fake_agent_bad_resumes(h->a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_reader_gets_everything),
        cmocka_unit_test_setup_teardown(test_fast_and_http10_readers, setup, teardown),
        cmocka_unit_test(test_stalled_reader_dropped),
        cmocka_unit_test_setup_teardown(test_cancelled_paused_stream_not_resumed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
