/* test_shim_proto.c - the shim wire format: round trips, truncation, garbage. */
#include "shim_proto.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint8_t buf[SHIM_MSG_MAX];

static size_t enc(const shim_msg *m)
{
    size_t len = 0;
    assert_int_equal(shim_msg_encode(m, buf, sizeof(buf), &len), 0);
    return len;
}

static void fill_start(shim_msg *m)
{
    static char *lowers[] = {"/l/top", "/l/base", NULL};
    static char *argv[] = {"/bin/sh", "-c", "echo 'hi there'", NULL};
    static char *env[] = {"PATH=/bin", "A=", NULL};
    static char *cg[] = {"/sys/fs/cgroup/x/cgroup.procs", NULL};
    memset(m, 0, sizeof(*m));
    m->type = SHIM_REQ_START;
    shim_start_req *s = &m->u.start;
    s->name = "web";
    s->id = "0123456789abcdef";
    s->attempt = 3;
    s->lower_dirs = lowers;
    s->upper_dir = "/u";
    s->work_dir = "/w";
    s->rootfs_mnt = "/r";
    s->argv = argv;
    s->env = env;
    s->cwd = "/srv";
    s->user = "1000:1000";
    s->caps = 0xa80425fbull;
    s->no_new_privs = true;
    s->hosts_file = "/h";
    s->log_path = "/var/log/pods/x/web/3.log";
    s->cgroup_procs = cg;
}

static void assert_strv_equal(char *const *a, char *const *b)
{
    assert_int_equal(shim_strv_len(a), shim_strv_len(b));
    for (size_t i = 0; a && a[i]; i++)
        assert_string_equal(a[i], b[i]);
}

static void test_start_round_trip(void **state)
{
    shim_msg m, d;
    fill_start(&m);
    size_t len = enc(&m);
    assert_int_equal(shim_msg_decode(buf, len, &d), 0);
    assert_int_equal(d.type, SHIM_REQ_START);
    const shim_start_req *a = &m.u.start, *b = &d.u.start;
    assert_string_equal(b->name, a->name);
    assert_string_equal(b->id, a->id);
    assert_int_equal(b->attempt, 3);
    assert_strv_equal(a->lower_dirs, b->lower_dirs);
    assert_strv_equal(a->argv, b->argv);
    assert_strv_equal(a->env, b->env);
    assert_strv_equal(a->cgroup_procs, b->cgroup_procs);
    assert_string_equal(b->upper_dir, "/u");
    assert_string_equal(b->user, "1000:1000");
    assert_true(b->caps == 0xa80425fbull);
    assert_true(b->no_new_privs);
    assert_string_equal(b->hosts_file, "/h");
    assert_null(b->resolv_file); /* absent stays absent */
    assert_null(b->termination_path);
    assert_string_equal(b->log_path, a->log_path);
    shim_msg_release(&d);
}

static void test_status_round_trip(void **state)
{
    shim_ctr_record recs[3];
    memset(recs, 0, sizeof(recs));
    for (int i = 0; i < 3; i++) {
        snprintf(recs[i].name, sizeof(recs[i].name), "c%d", i);
        memset(recs[i].id, 'a' + i, SHIM_ID_MAX);
        recs[i].attempt = i;
        recs[i].state = i ? SHIM_CTR_EXITED : SHIM_CTR_RUNNING;
        recs[i].pid = 1000 + i;
        recs[i].exit_code = i == 2 ? 137 : 0;
        recs[i].signal = i == 2 ? 9 : 0;
        recs[i].oom_killed = i == 2;
        recs[i].started_ns = INT64_C(1700000000000000000) + i;
        recs[i].finished_ns = i ? -1 : 0;
    }
    shim_msg m = {.type = SHIM_REP_STATUS}, d;
    m.u.status.shim_pid = 42;
    m.u.status.init_pid = 43;
    m.u.status.ctrs.v = recs;
    m.u.status.ctrs.n = 3;
    size_t len = enc(&m);
    assert_int_equal(shim_msg_decode(buf, len, &d), 0);
    assert_int_equal(d.u.status.shim_pid, 42);
    assert_int_equal(d.u.status.init_pid, 43);
    assert_int_equal(d.u.status.ctrs.n, 3);
    assert_memory_equal(d.u.status.ctrs.v, recs, sizeof(recs));
    shim_msg_release(&d);
    assert_null(d.u.status.ctrs.v);
}

static void test_small_messages_round_trip(void **state)
{
    shim_msg m = {.type = SHIM_REQ_SIGNAL}, d;
    m.u.signal.id = "abc";
    m.u.signal.sig = 15;
    assert_int_equal(shim_msg_decode(buf, enc(&m), &d), 0);
    assert_string_equal(d.u.signal.id, "abc");
    assert_int_equal(d.u.signal.sig, 15);

    static char *argv[] = {"ls", "-l", NULL};
    m = (shim_msg){.type = SHIM_REQ_EXEC};
    m.u.exec.id = "abc";
    m.u.exec.argv = argv;
    m.u.exec.env_set = true; /* with an empty env */
    m.u.exec.fd_mask = 5;
    assert_int_equal(shim_msg_decode(buf, enc(&m), &d), 0);
    assert_strv_equal(d.u.exec.argv, argv);
    assert_null(d.u.exec.env);
    assert_true(d.u.exec.env_set);
    assert_int_equal(d.u.exec.fd_mask, 5);
    shim_msg_release(&d);

    m = (shim_msg){.type = SHIM_REP_ERR};
    m.u.reply.code = ENOENT;
    m.u.reply.exit_code = 127;
    m.u.reply.msg = "exec: execve /bin/nope: No such file or directory";
    assert_int_equal(shim_msg_decode(buf, enc(&m), &d), 0);
    assert_int_equal(d.type, SHIM_REP_ERR);
    assert_int_equal(d.u.reply.code, ENOENT);
    assert_int_equal(d.u.reply.exit_code, 127);
    assert_string_equal(d.u.reply.msg, m.u.reply.msg);

    m = (shim_msg){.type = SHIM_EV_EXEC_EXIT};
    m.u.event.exec_id = UINT64_MAX;
    m.u.event.exit_code = -1;
    assert_int_equal(shim_msg_decode(buf, enc(&m), &d), 0);
    assert_true(d.u.event.exec_id == UINT64_MAX);
    assert_int_equal(d.u.event.exit_code, -1);

    int empty[] = {SHIM_REQ_STATUS, SHIM_REQ_SHUTDOWN, SHIM_REQ_SUBSCRIBE};
    for (size_t i = 0; i < 3; i++) {
        m = (shim_msg){.type = (uint16_t)empty[i]};
        size_t len = enc(&m);
        assert_int_equal(len, SHIM_HDR_LEN);
        assert_int_equal(shim_msg_decode(buf, len, &d), 0);
        assert_int_equal(d.type, empty[i]);
    }
}

static void put32(uint8_t *p, uint32_t v);

static void test_every_truncation_fails(void **state)
{
    shim_msg m, d;
    fill_start(&m);
    size_t len = enc(&m);
    /* cut packets: the header's length no longer matches */
    for (size_t n = 0; n < len; n++)
        assert_int_equal(shim_msg_decode(buf, n, &d), -EBADMSG);
    /* cut packets whose header was fixed up: only cuts between whole fields decode */
    bool boundary[4096] = {false};
    assert_true(len < sizeof(boundary));
    for (size_t at = SHIM_HDR_LEN; at < len;) {
        boundary[at] = true;
        at += 8 + (size_t)(buf[at + 4] | buf[at + 5] << 8 | buf[at + 6] << 16);
    }
    for (size_t n = SHIM_HDR_LEN; n < len; n++) {
        uint8_t copy[4096];
        memcpy(copy, buf, n);
        put32(copy + 8, (uint32_t)n);
        int r = shim_msg_decode(copy, n, &d);
        assert_int_equal(r, boundary[n] ? 0 : -EBADMSG);
        if (r == 0)
            shim_msg_release(&d);
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_header_checks(void **state)
{
    shim_msg m = {.type = SHIM_REQ_REMOVE}, d;
    m.u.remove.id = "abc";
    size_t len = enc(&m);
    uint8_t copy[256];
    memcpy(copy, buf, len);

    copy[0] ^= 1; /* magic */
    assert_int_equal(shim_msg_decode(copy, len, &d), -EBADMSG);
    copy[0] ^= 1;
    copy[4] = 2; /* version */
    assert_int_equal(shim_msg_decode(copy, len, &d), -EPROTONOSUPPORT);
    copy[4] = 1;
    copy[6] = 99; /* type */
    assert_int_equal(shim_msg_decode(copy, len, &d), -EBADMSG);
    copy[6] = SHIM_REQ_REMOVE;
    put32(copy + 8, (uint32_t)len + 1); /* length disagrees with the packet */
    assert_int_equal(shim_msg_decode(copy, len, &d), -EBADMSG);
    put32(copy + 8, (uint32_t)len);
    assert_int_equal(shim_msg_decode(copy, len, &d), 0);
    assert_string_equal(d.u.remove.id, "abc");
}

/* A message built by hand from (tag, bytes) fields. */
static size_t build(uint8_t *out, uint16_t type, int nf, ...)
{
    size_t at = SHIM_HDR_LEN;
    va_list ap;
    va_start(ap, nf);
    for (int i = 0; i < nf; i++) {
        int tag = va_arg(ap, int);
        const char *v = va_arg(ap, const char *);
        size_t vl = va_arg(ap, size_t);
        out[at] = (uint8_t)tag;
        out[at + 1] = 0;
        out[at + 2] = out[at + 3] = 0;
        put32(out + at + 4, (uint32_t)vl);
        memcpy(out + at + 8, v, vl);
        at += 8 + vl;
    }
    va_end(ap);
    put32(out, SHIM_PROTO_MAGIC);
    out[4] = SHIM_PROTO_VERSION;
    out[5] = 0;
    out[6] = (uint8_t)type;
    out[7] = 0;
    put32(out + 8, (uint32_t)at);
    return at;
}

static void test_field_checks(void **state)
{
    uint8_t b[512];
    shim_msg d;
    /* unknown tags are skipped */
    size_t n = build(b, SHIM_REQ_REMOVE, 2, 77, "zz", (size_t)2, 1, "id1", (size_t)4);
    assert_int_equal(shim_msg_decode(b, n, &d), 0);
    assert_string_equal(d.u.remove.id, "id1");
    /* a string without its NUL, with a NUL inside, or empty */
    n = build(b, SHIM_REQ_REMOVE, 1, 1, "id1", (size_t)3);
    assert_int_equal(shim_msg_decode(b, n, &d), -EBADMSG);
    n = build(b, SHIM_REQ_REMOVE, 1, 1, "i\0d", (size_t)4);
    assert_int_equal(shim_msg_decode(b, n, &d), -EBADMSG);
    n = build(b, SHIM_REQ_REMOVE, 1, 1, "", (size_t)0);
    assert_int_equal(shim_msg_decode(b, n, &d), -EBADMSG);
    /* a scalar twice */
    n = build(b, SHIM_REQ_REMOVE, 2, 1, "a", (size_t)2, 1, "b", (size_t)2);
    assert_int_equal(shim_msg_decode(b, n, &d), -EBADMSG);
    /* integers are 8 bytes and must fit */
    n = build(b, SHIM_REQ_SIGNAL, 1, 2, "\x0f\0\0\0", (size_t)4);
    assert_int_equal(shim_msg_decode(b, n, &d), -EBADMSG);
    n = build(b, SHIM_REQ_SIGNAL, 1, 2, "\0\0\0\0\x01\0\0\0", (size_t)8);
    assert_int_equal(shim_msg_decode(b, n, &d), -EBADMSG);
    /* a bool is 0 or 1 */
    n = build(b, SHIM_REQ_EXEC, 1, 4, "\x02", (size_t)1);
    assert_int_equal(shim_msg_decode(b, n, &d), -EBADMSG);
    /* a field longer than what is left */
    n = build(b, SHIM_REQ_REMOVE, 1, 1, "abc", (size_t)4);
    put32(b + SHIM_HDR_LEN + 4, 5);
    assert_int_equal(shim_msg_decode(b, n, &d), -EBADMSG);
    /* a list item that is bad releases the items before it */
    n = build(b, SHIM_REQ_EXEC, 3, 2, "a", (size_t)2, 2, "b", (size_t)2, 2, "c", (size_t)1);
    assert_int_equal(shim_msg_decode(b, n, &d), -EBADMSG);
}

static void test_encode_limits(void **state)
{
    static char big[SHIM_MSG_MAX];
    memset(big, 'x', sizeof(big) - 1);
    char *argv[] = {big, NULL};
    shim_msg m = {.type = SHIM_REQ_EXEC};
    m.u.exec.id = "a";
    m.u.exec.argv = argv;
    size_t len;
    assert_int_equal(shim_msg_encode(&m, buf, sizeof(buf), &len), -EMSGSIZE);
    m = (shim_msg){.type = SHIM_REQ_REMOVE};
    m.u.remove.id = "abc";
    assert_int_equal(shim_msg_encode(&m, buf, 16, &len), -EMSGSIZE);
    m = (shim_msg){.type = 999};
    assert_int_equal(shim_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
    /* a record name longer than the record holds */
    m = (shim_msg){.type = SHIM_EV_EXITED};
    memset(m.u.event.ctr.name, 'n', sizeof(m.u.event.ctr.name));
    assert_int_equal(shim_msg_encode(&m, buf, sizeof(buf), &len), -EINVAL);
}

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Random corruption of valid messages, and random bytes: never a crash or a leak (ASan). */
static void test_garbage(void **state)
{
    uint32_t seed = 12345;
    shim_msg m, d;
    fill_start(&m);
    size_t len = enc(&m);
    uint8_t orig[4096];
    assert_true(len <= sizeof(orig));
    memcpy(orig, buf, len);
    int ok = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, orig, len);
        int flips = 1 + (int)(rnd(&seed) % 4);
        for (int f = 0; f < flips; f++)
            buf[SHIM_HDR_LEN + rnd(&seed) % (len - SHIM_HDR_LEN)] ^=
                (uint8_t)(1u << (rnd(&seed) % 8));
        if (shim_msg_decode(buf, len, &d) == 0) {
            ok++;
            shim_msg_release(&d);
        }
    }
    for (int it = 0; it < 20000; it++) {
        size_t n = SHIM_HDR_LEN + rnd(&seed) % 200;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rnd(&seed);
        put32(buf, SHIM_PROTO_MAGIC);
        buf[4] = SHIM_PROTO_VERSION;
        buf[5] = 0;
        buf[6] = (uint8_t)(rnd(&seed) % 3 ? rnd(&seed) % 8 : 128 + rnd(&seed) % 3);
        buf[7] = 0;
        put32(buf + 8, (uint32_t)n);
        if (shim_msg_decode(buf, n, &d) == 0)
            shim_msg_release(&d);
    }
    (void)ok;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_round_trip),
        cmocka_unit_test(test_status_round_trip),
        cmocka_unit_test(test_small_messages_round_trip),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_header_checks),
        cmocka_unit_test(test_field_checks),
        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
