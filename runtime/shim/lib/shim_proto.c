/* shim_proto.c - encode and decode shim messages (see shim_proto.h for the format).
 *
 * Every message type is described by a table of fields (tag, kind, offset into shim_msg), and
 * one encoder and one decoder walk those tables, so both directions agree by construction.
 */
#include "shim_proto.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum field_kind {
    K_STR,  /* const char * */
    K_STRV, /* char *const * (NULL-terminated), tag repeated per item */
    K_I32,  /* int32_t, 8 bytes on the wire */
    K_I64,  /* int64_t */
    K_U64,  /* uint64_t */
    K_BOOL, /* bool, 1 byte */
    K_NAME, /* char[SHIM_NAME_MAX + 1] */
    K_ID,   /* char[SHIM_ID_MAX + 1] */
    K_CTR,  /* shim_ctr_record, nested */
    K_CTRS, /* shim_ctr_list, tag repeated per record */
};

typedef struct field {
    uint16_t tag;
    uint8_t kind;
    uint16_t off;
} field;

#define F(tag, kind, member)                                                                       \
    {                                                                                              \
        tag, kind, (uint16_t)offsetof(shim_msg, u.member)                                          \
    }
#define R(tag, kind, member)                                                                       \
    {                                                                                              \
        tag, kind, (uint16_t)offsetof(shim_ctr_record, member)                                     \
    }

static const field start_fields[] = {
    F(1, K_STR, start.name),
    F(2, K_STR, start.id),
    F(3, K_I32, start.attempt),
    F(4, K_STRV, start.lower_dirs),
    F(5, K_STR, start.upper_dir),
    F(6, K_STR, start.work_dir),
    F(7, K_STR, start.rootfs_mnt),
    F(8, K_STRV, start.argv),
    F(9, K_STRV, start.env),
    F(10, K_STR, start.cwd),
    F(11, K_STR, start.user),
    F(12, K_U64, start.caps),
    F(13, K_BOOL, start.no_new_privs),
    F(14, K_STR, start.hosts_file),
    F(15, K_STR, start.hostname_file),
    F(16, K_STR, start.resolv_file),
    F(17, K_STR, start.termination_log),
    F(18, K_STR, start.termination_path),
    F(19, K_STR, start.log_path),
    F(20, K_STRV, start.cgroup_procs),
};

static const field signal_fields[] = {
    F(1, K_STR, signal.id),
    F(2, K_I32, signal.sig),
};

static const field remove_fields[] = {
    F(1, K_STR, remove.id),
};

static const field exec_fields[] = {
    F(1, K_STR, exec.id),       F(2, K_STRV, exec.argv), F(3, K_STRV, exec.env),
    F(4, K_BOOL, exec.env_set), F(5, K_STR, exec.cwd),   F(6, K_STR, exec.user),
    F(7, K_I32, exec.fd_mask),
};

static const field reply_fields[] = {
    F(1, K_I32, reply.code), F(2, K_STR, reply.msg),     F(3, K_I32, reply.exit_code),
    F(4, K_I32, reply.pid),  F(5, K_U64, reply.exec_id),
};

static const field status_fields[] = {
    F(1, K_I32, status.shim_pid),
    F(2, K_I32, status.init_pid),
    F(3, K_CTRS, status.ctrs),
};

static const field event_fields[] = {
    F(1, K_CTR, event.ctr),
    F(2, K_U64, event.exec_id),
    F(3, K_I32, event.exit_code),
};

static const field record_fields[] = {
    R(1, K_NAME, name),        R(2, K_ID, id),           R(3, K_I32, attempt),
    R(4, K_I32, state),        R(5, K_I32, pid),         R(6, K_I32, exit_code),
    R(7, K_I32, signal),       R(8, K_BOOL, oom_killed), R(9, K_I64, started_ns),
    R(10, K_I64, finished_ns),
};

typedef struct table {
    const field *f;
    size_t n;
} table;

#define T(a) ((table){a, sizeof(a) / sizeof((a)[0])})

static bool table_for(int type, table *t)
{
    switch (type) {
    case SHIM_REQ_START:
        *t = T(start_fields);
        return true;
    case SHIM_REQ_SIGNAL:
        *t = T(signal_fields);
        return true;
    case SHIM_REQ_REMOVE:
        *t = T(remove_fields);
        return true;
    case SHIM_REQ_EXEC:
        *t = T(exec_fields);
        return true;
    case SHIM_REQ_STATUS:
    case SHIM_REQ_SHUTDOWN:
    case SHIM_REQ_SUBSCRIBE:
        *t = (table){NULL, 0};
        return true;
    case SHIM_REP_OK:
    case SHIM_REP_ERR:
        *t = T(reply_fields);
        return true;
    case SHIM_REP_STATUS:
        *t = T(status_fields);
        return true;
    case SHIM_EV_STARTED:
    case SHIM_EV_EXITED:
    case SHIM_EV_EXEC_EXIT:
        *t = T(event_fields);
        return true;
    }
    return false;
}

const char *shim_msg_type_name(int type)
{
    switch (type) {
    case SHIM_REQ_START:
        return "START";
    case SHIM_REQ_SIGNAL:
        return "SIGNAL";
    case SHIM_REQ_STATUS:
        return "STATUS";
    case SHIM_REQ_REMOVE:
        return "REMOVE";
    case SHIM_REQ_EXEC:
        return "EXEC";
    case SHIM_REQ_SHUTDOWN:
        return "SHUTDOWN";
    case SHIM_REQ_SUBSCRIBE:
        return "SUBSCRIBE";
    case SHIM_REP_OK:
        return "OK";
    case SHIM_REP_ERR:
        return "ERR";
    case SHIM_REP_STATUS:
        return "STATUS-REPLY";
    case SHIM_EV_STARTED:
        return "STARTED";
    case SHIM_EV_EXITED:
        return "EXITED";
    case SHIM_EV_EXEC_EXIT:
        return "EXEC_EXIT";
    }
    return "?";
}

size_t shim_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* ---- little-endian helpers ---- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- encoder ---- */

typedef struct wbuf {
    uint8_t *p;
    size_t cap, len;
    bool overflow;
} wbuf;

static uint8_t *w_field(wbuf *w, uint16_t tag, size_t vlen)
{
    if (w->overflow || vlen > UINT32_MAX || w->cap - w->len < 8 || w->cap - w->len - 8 < vlen) {
        w->overflow = true;
        return NULL;
    }
    uint8_t *h = w->p + w->len;
    put_le(h, tag, 2);
    put_le(h + 2, 0, 2);
    put_le(h + 4, vlen, 4);
    w->len += 8 + vlen;
    return h + 8;
}

static void w_bytes(wbuf *w, uint16_t tag, const void *data, size_t n)
{
    uint8_t *v = w_field(w, tag, n);
    if (v && n)
        memcpy(v, data, n);
}

static void w_int(wbuf *w, uint16_t tag, uint64_t x)
{
    uint8_t *v = w_field(w, tag, 8);
    if (v)
        put_le(v, x, 8);
}

static int encode_fields(wbuf *w, const field *f, size_t n, const uint8_t *base);

static int encode_one(wbuf *w, const field *f, const uint8_t *p)
{
    switch (f->kind) {
    case K_STR: {
        const char *s = *(const char *const *)p;
        if (s)
            w_bytes(w, f->tag, s, strlen(s) + 1);
        return 0;
    }
    case K_STRV: {
        char *const *v = *(char *const *const *)p;
        if (shim_strv_len(v) > SHIM_STRV_MAX)
            return -EMSGSIZE;
        for (size_t i = 0; v && v[i]; i++)
            w_bytes(w, f->tag, v[i], strlen(v[i]) + 1);
        return 0;
    }
    case K_I32:
        w_int(w, f->tag, (uint64_t)(int64_t) * (const int32_t *)p);
        return 0;
    case K_I64:
        w_int(w, f->tag, (uint64_t) * (const int64_t *)p);
        return 0;
    case K_U64:
        w_int(w, f->tag, *(const uint64_t *)p);
        return 0;
    case K_BOOL: {
        uint8_t b = *(const bool *)p ? 1 : 0;
        w_bytes(w, f->tag, &b, 1);
        return 0;
    }
    case K_NAME:
    case K_ID: {
        size_t max = f->kind == K_NAME ? SHIM_NAME_MAX : SHIM_ID_MAX;
        size_t l = strnlen((const char *)p, max + 1);
        if (l > max)
            return -EINVAL;
        w_bytes(w, f->tag, p, l + 1);
        return 0;
    }
    case K_CTR: {
        /* nested: reserve the header, encode into the rest, then fix the length */
        size_t at = w->len;
        if (!w_field(w, f->tag, 0))
            return 0;
        int r =
            encode_fields(w, record_fields, sizeof(record_fields) / sizeof(record_fields[0]), p);
        if (r < 0)
            return r;
        if (!w->overflow)
            put_le(w->p + at + 4, w->len - at - 8, 4);
        return 0;
    }
    case K_CTRS: {
        const shim_ctr_list *l = (const shim_ctr_list *)p;
        if (l->n > SHIM_CTRS_MAX)
            return -EMSGSIZE;
        field one = {f->tag, K_CTR, 0};
        for (size_t i = 0; i < l->n; i++) {
            int r = encode_one(w, &one, (const uint8_t *)&l->v[i]);
            if (r < 0)
                return r;
        }
        return 0;
    }
    }
    return -EINVAL;
}

static int encode_fields(wbuf *w, const field *f, size_t n, const uint8_t *base)
{
    for (size_t i = 0; i < n; i++) {
        int r = encode_one(w, &f[i], base + f[i].off);
        if (r < 0)
            return r;
    }
    return 0;
}

int shim_msg_encode(const shim_msg *m, void *buf, size_t cap, size_t *len)
{
    table t;
    if (!table_for(m->type, &t))
        return -EINVAL;
    if (cap > SHIM_MSG_MAX)
        cap = SHIM_MSG_MAX;
    if (cap < SHIM_HDR_LEN)
        return -EMSGSIZE;
    wbuf w = {buf, cap, SHIM_HDR_LEN, false};
    int r = encode_fields(&w, t.f, t.n, (const uint8_t *)m);
    if (r < 0)
        return r;
    if (w.overflow)
        return -EMSGSIZE;
    put_le(w.p, SHIM_PROTO_MAGIC, 4);
    put_le(w.p + 4, SHIM_PROTO_VERSION, 2);
    put_le(w.p + 6, m->type, 2);
    put_le(w.p + 8, w.len, 4);
    *len = w.len;
    return 0;
}

/* ---- decoder ---- */

static void release_fields(const field *f, size_t n, uint8_t *base)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = base + f[i].off;
        if (f[i].kind == K_STRV) {
            free(*(void **)p);
            *(void **)p = NULL;
        } else if (f[i].kind == K_CTRS) {
            shim_ctr_list *l = (shim_ctr_list *)p;
            free(l->v);
            l->v = NULL;
            l->n = 0;
        }
    }
}

void shim_msg_release(shim_msg *m)
{
    table t;
    if (m && table_for(m->type, &t))
        release_fields(t.f, t.n, (uint8_t *)m);
}

/* A string value: non-empty, NUL-terminated, no NUL inside. */
static bool valid_str(const uint8_t *v, size_t n)
{
    return n >= 1 && v[n - 1] == 0 && memchr(v, 0, n) == v + n - 1;
}

static int decode_fields(const field *f, size_t n, const uint8_t *p, size_t len, uint8_t *base);

static int strv_append(uint8_t *p, const char *s)
{
    char **v = *(char ***)p;
    size_t cnt = shim_strv_len(v);
    if (cnt >= SHIM_STRV_MAX)
        return -EBADMSG;
    char **nv = realloc(v, (cnt + 2) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    nv[cnt] = (char *)s;
    nv[cnt + 1] = NULL;
    *(char ***)p = nv;
    return 0;
}

static int ctrs_append(uint8_t *p, const uint8_t *v, size_t n)
{
    shim_ctr_list *l = (shim_ctr_list *)p;
    if (l->n >= SHIM_CTRS_MAX)
        return -EBADMSG;
    shim_ctr_record *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    l->v = nv;
    shim_ctr_record *rec = &l->v[l->n];
    memset(rec, 0, sizeof(*rec));
    int r = decode_fields(record_fields, sizeof(record_fields) / sizeof(record_fields[0]), v, n,
                          (uint8_t *)rec);
    if (r < 0)
        return r;
    l->n++;
    return 0;
}

static int decode_one(const field *f, const uint8_t *v, size_t n, uint8_t *p)
{
    switch (f->kind) {
    case K_STR:
        if (!valid_str(v, n))
            return -EBADMSG;
        *(const char **)p = (const char *)v;
        return 0;
    case K_STRV:
        return valid_str(v, n) ? strv_append(p, (const char *)v) : -EBADMSG;
    case K_I32: {
        if (n != 8)
            return -EBADMSG;
        int64_t x = (int64_t)get_le(v, 8);
        if (x < INT32_MIN || x > INT32_MAX)
            return -EBADMSG;
        *(int32_t *)p = (int32_t)x;
        return 0;
    }
    case K_I64:
    case K_U64:
        if (n != 8)
            return -EBADMSG;
        *(uint64_t *)p = get_le(v, 8);
        return 0;
    case K_BOOL:
        if (n != 1 || v[0] > 1)
            return -EBADMSG;
        *(bool *)p = v[0] == 1;
        return 0;
    case K_NAME:
    case K_ID: {
        size_t max = f->kind == K_NAME ? SHIM_NAME_MAX : SHIM_ID_MAX;
        if (!valid_str(v, n) || n - 1 > max)
            return -EBADMSG;
        memcpy(p, v, n);
        return 0;
    }
    case K_CTR:
        return decode_fields(record_fields, sizeof(record_fields) / sizeof(record_fields[0]), v, n,
                             p);
    case K_CTRS:
        return ctrs_append(p, v, n);
    }
    return -EBADMSG;
}

/* Walk a field sequence filling base. Scalars and strings may appear once; lists repeat. */
static int decode_fields(const field *f, size_t n, const uint8_t *p, size_t len, uint8_t *base)
{
    uint64_t seen = 0;
    size_t at = 0;
    while (at < len) {
        if (len - at < 8)
            return -EBADMSG;
        uint16_t tag = (uint16_t)get_le(p + at, 2);
        uint16_t zero = (uint16_t)get_le(p + at + 2, 2);
        uint32_t vlen = (uint32_t)get_le(p + at + 4, 4);
        at += 8;
        if (zero != 0 || vlen > len - at)
            return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
            if (f[i].tag != tag)
                continue;
            bool repeats = f[i].kind == K_STRV || f[i].kind == K_CTRS;
            if (!repeats && (seen & (1ull << i)))
                return -EBADMSG;
            seen |= 1ull << i;
            int r = decode_one(&f[i], p + at, vlen, base + f[i].off);
            if (r < 0)
                return r;
            break;
        }
        at += vlen;
    }
    return 0;
}

int shim_msg_decode(const void *buf, size_t len, shim_msg *m)
{
    const uint8_t *p = buf;
    memset(m, 0, sizeof(*m));
    if (len < SHIM_HDR_LEN || len > SHIM_MSG_MAX)
        return -EBADMSG;
    if (get_le(p, 4) != SHIM_PROTO_MAGIC)
        return -EBADMSG;
    if (get_le(p + 4, 2) != SHIM_PROTO_VERSION)
        return -EPROTONOSUPPORT;
    if (get_le(p + 8, 4) != len)
        return -EBADMSG;
    uint16_t type = (uint16_t)get_le(p + 6, 2);
    table t;
    if (!table_for(type, &t))
        return -EBADMSG;
    m->type = type;
    int r = decode_fields(t.f, t.n, p + SHIM_HDR_LEN, len - SHIM_HDR_LEN, (uint8_t *)m);
    if (r < 0) {
        shim_msg_release(m);
        memset(m, 0, sizeof(*m));
    }
    return r;
}
