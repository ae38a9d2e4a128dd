/* fuzz_rt_image_import.c - libFuzzer target: rt_image_import of a fuzzed archive into a fresh
 * store (tar and compression handling, OCI index/manifest/config and docker manifest.json
 * parsing, digest checks, layer unpacking with whiteouts and links), then lookups.
 *
 * Input is either a raw archive (anything that does not start with "=== "), or a list of
 * entries the harness packs into a tar, so that digests and tar checksums come out right and
 * the fuzzer can reach the JSON and the layers:
 *
 *   === blob                 a file at blobs/sha256/<its digest>
 *   === blob layer [gz]      a layer tar (gzip-compressed with gz) at blobs/sha256/<digest>
 *   === layer PATH [gz]      a layer tar at PATH
 *   === link PATH TARGET     a symlink in the archive
 *   === PATH                 a file at PATH
 *   <content lines>
 *
 * In content, $N is replaced by "sha256:<hex>" of entry N (as stored), %N by the digest of its
 * uncompressed layer tar (a diff id) and #N by its size; N is one digit and names an earlier
 * entry. A layer's content is one line per member:
 *   f PATH DATA | d PATH | l PATH TARGET | h PATH TARGET | c PATH (0/0 device) | p PATH (fifo)
 *   x PATH NAME=VALUE (a file with an extended attribute)
 *
 * Checks: a refusal says why; nothing is written outside the store; the store's tmp/ is empty
 * after every import; every imported name can be looked up and its layers exist.
 * MK_FUZZ_VERBOSE=1 in the environment prints each import's outcome (to check seeds). */
#include "image.h"
#include "mk_sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ENTRIES    10
#define FUZZ_MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct bytes {
    char *p;
    size_t len, cap;
} bytes;

typedef struct entry {
    bytes data;
    char digest[72]; /* "sha256:<hex>" of data */
    char diff[72];   /* of the uncompressed layer tar, or of data */
} entry;

static char root[64];
static char store_dir[128];
static char archive_path[128];

static void remove_root(void)
{
    mk_err err = {0};
    if (root[0])
        mk_rm_rf(root, &err);
}

static void setup(void)
{
    if (root[0])
        return;
    mk_log_set_level(MK_LOG_ERROR);
    /* tmpfs when there is one: imports sync the filesystem */
    strcpy(root, access("/dev/shm", W_OK) == 0 ? "/dev/shm/mk-fuzz-img-XXXXXX"
                                               : "/tmp/mk-fuzz-img-XXXXXX");
    if (!mkdtemp(root))
        abort();
    snprintf(store_dir, sizeof(store_dir), "%s/store", root);
    snprintf(archive_path, sizeof(archive_path), "%s/in.tar", root);
    atexit(remove_root);
}

static void bytes_add(bytes *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void digest_of(const void *p, size_t n, char *out)
{
    unsigned char h[MK_SHA256_LEN];
    mk_sha256(p, n, h);
    memcpy(out, "sha256:", 7);
    mk_hex(h, sizeof(h), out + 7);
}

/* ---- writing tars into memory ---- */

static la_ssize_t mem_write(struct archive *a, void *ud, const void *buf, size_t n)
{
    bytes_add(ud, buf, n);
    return (la_ssize_t)n;
}

static struct archive *tar_open(bytes *out, bool gz)
{
    struct archive *w = archive_write_new();
    archive_write_set_format_pax_restricted(w);
    if (gz)
        archive_write_add_filter_gzip(w);
    archive_write_set_bytes_per_block(w, 512);
    if (archive_write_open(w, out, NULL, mem_write, NULL) != ARCHIVE_OK)
        abort();
    return w;
}

static void tar_add(struct archive *w, const char *path, mode_t type, const char *data, size_t len,
                    const char *link, const char *xattr)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    if (type == AE_IFREG)
        archive_entry_set_size(e, (la_int64_t)len);
    if (link && type == AE_IFLNK)
        archive_entry_set_symlink(e, link);
    else if (link)
        archive_entry_set_hardlink(e, link);
    if (xattr) {
        const char *eq = strchr(xattr, '=');
        char *name = xstrndup(xattr, eq ? (size_t)(eq - xattr) : strlen(xattr));
        const char *val = eq ? eq + 1 : "";
        archive_entry_xattr_add_entry(e, name, val, strlen(val));
        free(name);
    }
    archive_write_header(w, e);
    if (type == AE_IFREG && len)
        archive_write_data(w, data, len);
    archive_entry_free(e);
}

/* The next space-separated word of *s, NUL-terminated in place; *s moves past it. */
static char *word(char **s)
{
    char *w = *s;
    if (!w)
        return NULL;
    char *sp = strchr(w, ' ');
    *s = sp ? sp + 1 : NULL;
    if (sp)
        *sp = '\0';
    return w;
}

static void layer_line(struct archive *w, char *line)
{
    char *kind = word(&line);
    char *path = word(&line);
    if (!kind || !path || strlen(kind) != 1)
        return;
    switch (kind[0]) {
    case 'f':
        tar_add(w, path, AE_IFREG, line ? line : "", line ? strlen(line) : 0, NULL, NULL);
        break;
    case 'd':
        tar_add(w, path, AE_IFDIR, NULL, 0, NULL, NULL);
        break;
    case 'l':
        tar_add(w, path, AE_IFLNK, NULL, 0, line ? line : "", NULL);
        break;
    case 'h':
        tar_add(w, path, AE_IFREG, NULL, 0, line ? line : "", NULL);
        break;
    case 'c':
        tar_add(w, path, AE_IFCHR, NULL, 0, NULL, NULL);
        break;
    case 'p':
        tar_add(w, path, AE_IFIFO, NULL, 0, NULL, NULL);
        break;
    case 'x':
        tar_add(w, path, AE_IFREG, "x", 1, NULL, line ? line : "user.a=b");
        break;
    }
}

/* A layer tar from its description; e->diff gets the uncompressed tar's digest. */
static void make_layer(entry *e, const char *spec, bool gz)
{
    bytes plain = {0};
    struct archive *w = tar_open(&plain, false);
    char *copy = xstrdup(spec);
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        layer_line(w, l);
    free(copy);
    archive_write_close(w);
    archive_write_free(w);
    digest_of(plain.p, plain.len, e->diff);
    if (!gz) {
        e->data = plain;
        return;
    }
    /* gzip the plain tar as one raw stream */
    w = archive_write_new();
    archive_write_add_filter_gzip(w);
    archive_write_set_format_raw(w);
    if (archive_write_open(w, &e->data, NULL, mem_write, NULL) != ARCHIVE_OK)
        abort();
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_write_header(w, ae);
    archive_write_data(w, plain.p, plain.len);
    archive_entry_free(ae);
    archive_write_close(w);
    archive_write_free(w);
    free(plain.p);
}

/* Content with $N, %N and #N replaced from the entries before it. */
static char *substitute(const char *s, size_t n, const entry *ents, size_t k)
{
    bytes out = {0};
    bytes_add(&out, "", 0);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c == '$' || c == '%' || c == '#') && i + 1 < n && s[i + 1] >= '0' &&
            (size_t)(s[i + 1] - '0') < k) {
            const entry *e = &ents[s[i + 1] - '0'];
            char num[32];
            const char *rep = c == '$' ? e->digest : c == '%' ? e->diff : num;
            snprintf(num, sizeof(num), "%zu", e->data.len);
            bytes_add(&out, rep, strlen(rep));
            i++;
            continue;
        }
        bytes_add(&out, &c, 1);
    }
    return out.p;
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

/* Where the entry after the content starting at `body` begins (or `end`). */
static const char *next_entry(const char *body, const char *end)
{
    if (end - body >= 4 && !strncmp(body, "=== ", 4))
        return body;
    const char *hit = memmem(body, (size_t)(end - body), "\n=== ", 5);
    return hit ? hit + 1 : end;
}

/* Builds the archive from the entry list in `in`. */
static void build_archive(const char *in, size_t len)
{
    entry ents[MAX_ENTRIES] = {0};
    size_t k = 0;
    bytes tar = {0};
    struct archive *w = tar_open(&tar, false);
    const char *p = in, *end = in + len;
    while (p < end && k < MAX_ENTRIES && !strncmp(p, "=== ", 4)) {
        const char *hl_end = memchr(p, '\n', (size_t)(end - p));
        char *head = xstrndup(p + 4, (size_t)((hl_end ? hl_end : end) - p - 4));
        const char *body = hl_end ? hl_end + 1 : end;
        const char *next = next_entry(body, end);
        size_t blen = (size_t)(next - body);
        if (blen && body[blen - 1] == '\n')
            blen--;
        entry *e = &ents[k];
        char *content = substitute(body, blen, ents, k);
        char *h = head, *w1 = word(&h), *w2 = word(&h), *w3 = word(&h);
        bool layer = (w1 && !strcmp(w1, "layer")) || (w2 && !strcmp(w2, "layer"));
        bool gz = (w3 && !strcmp(w3, "gz")) || (w2 && !strcmp(w2, "gz"));
        if (layer)
            make_layer(e, content, gz);
        else
            bytes_add(&e->data, content, strlen(content));
        free(content);
        digest_of(e->data.p ? e->data.p : "", e->data.len, e->digest);
        if (!layer)
            memcpy(e->diff, e->digest, sizeof(e->diff));
        char path[128];
        const char *where = NULL;
        if (w1 && !strcmp(w1, "blob")) {
            snprintf(path, sizeof(path), "blobs/sha256/%s", e->digest + 7);
            where = path;
        } else if (w1 && !strcmp(w1, "layer"))
            where = w2;
        else if (w1 && !strcmp(w1, "link"))
            tar_add(w, w2 ? w2 : "", AE_IFLNK, NULL, 0, w3 ? w3 : "", NULL);
        else
            where = w1;
        if (where)
            tar_add(w, where, AE_IFREG, e->data.p, e->data.len, NULL, NULL);
        free(head);
        k++;
        p = next;
    }
    archive_write_close(w);
    archive_write_free(w);
    write_file(archive_path, tar.p, tar.len);
    free(tar.p);
    for (size_t i = 0; i < k; i++)
        free(ents[i].data.p);
}

/* ---- checks ---- */

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void check_lookups(rt_image_store *s, char **names)
{
    for (size_t i = 0; names && names[i]; i++) {
        rt_image *img = NULL;
        mk_err err = {0};
        if (rt_image_lookup(s, names[i], &img, &err) < 0) {
            fprintf(stderr, "imported %s cannot be looked up: %s\n", names[i], err.msg);
            abort();
        }
        for (size_t j = 0; j < img->n_layers; j++) {
            struct stat st;
            if (stat(img->layer_dirs[j], &st) < 0 || !S_ISDIR(st.st_mode))
                abort();
        }
        rt_image_free(img);
    }
    rt_image **all = NULL;
    size_t n = 0;
    mk_err err = {0};
    if (rt_image_list(s, &all, &n, &err) == 0)
        rt_image_list_free(all, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    setup();
    mk_err err = {0};
    if (mk_rm_rf(store_dir, &err) < 0)
        abort();
    if (size >= 4 && !memcmp(data, "=== ", 4))
        build_archive((const char *)data, size);
    else
        write_file(archive_path, data, size);
    rt_image_store *s = NULL;
    if (rt_image_store_open(store_dir, &s, &err) < 0) {
        fprintf(stderr, "store: %s\n", err.msg);
        abort();
    }
    char **names = NULL;
    int r = rt_image_import(s, archive_path, "fuzz/default:latest", &names, &err);
    if (r < 0 && !err.msg[0])
        abort();                   /* every refusal says why */
    if (getenv("MK_FUZZ_VERBOSE")) /* to see what seeds reach */
        fprintf(stderr, "import: %s\n", r < 0 ? err.msg : names && names[0] ? names[0] : "");
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s/tmp", store_dir);
    if (count_entries(tmp) != 0) {
        fprintf(stderr, "the import left files in %s\n", tmp);
        abort();
    }
    if (count_entries(root) != 2) { /* store/ and in.tar: nothing may land beside them */
        fprintf(stderr, "the import wrote outside the store, in %s\n", root);
        abort();
    }
    if (r == 0)
        check_lookups(s, names);
    rt_strv_free(names);
    rt_image_store_close(s);
    return 0;
}
