/* image_internal.h - what the image store's source files share among themselves.
 *
 * Not part of the runtime's interface: only runtime/image_*.c include it.
 */
#ifndef MK_RT_IMAGE_INTERNAL_H
#define MK_RT_IMAGE_INTERNAL_H

#include "image.h"

#include <cjson/cJSON.h>
#include "mk_sha256.h"

#include <stdlib.h>

#define RT_IMG_JSON_MAX   (8u << 20) /* manifests, configs, indexes, refs.json */
#define RT_IMG_DIGEST_LEN 71         /* "sha256:" + 64 hex */

struct rt_image_store {
    char *dir;        /* store root */
    char *blobs_dir;  /* <dir>/blobs/sha256 */
    char *layers_dir; /* <dir>/layers */
    char *tmp_dir;    /* <dir>/tmp: staging for imports, same filesystem */
    char *refs_path;  /* <dir>/refs.json */
    char *lock_path;  /* <dir>/lock: flock()ed while refs.json is read-modified-written */
};

/* ---- sha256 (image_digest.c) ---------------------------------------------------------------- */

typedef struct rt_img_hash {
    mk_sha256_ctx sha;
} rt_img_hash;

void rt_img_hash_init(rt_img_hash *h);
void rt_img_hash_update(rt_img_hash *h, const void *p, size_t n);
/* Writes "sha256:<64 hex>" into out (>= RT_IMG_DIGEST_LEN + 1 bytes) and frees the context. */
void rt_img_hash_final(rt_img_hash *h, char *out);
void rt_img_hash_abort(rt_img_hash *h);
void rt_img_sha256(const void *p, size_t n, char *out);
/* true when s is "sha256:" followed by exactly 64 lower-case hex digits */
bool rt_img_digest_valid(const char *s);
bool rt_img_is_hex64(const char *s);
/* chain id of layer i from its parent's chain id (NULL for the base layer) and its diff id */
void rt_img_chain_id(const char *parent_chain, const char *diff_id, char *out);

/* "./a//b/./c" -> "a/b/c"; "." or "./" -> "". Refuses absolute names and "..". */
int rt_img_clean_path(const char *in, char *out, size_t outlen, mk_err *err);

/* ---- store (image_store.c) ------------------------------------------------------------------ */

/* <blobs_dir>/<hex> for "sha256:<hex>" (caller frees) */
char *rt_img_blob_path(const rt_image_store *s, const char *digest);
/* <layers_dir>/<hex> for chain id "sha256:<hex>" (caller frees) */
char *rt_img_layer_path(const rt_image_store *s, const char *chain_id);
int rt_img_read_json(const char *path, cJSON **out, mk_err *err);
/* Exclusive lock on the store (blocking). Returns the lock fd; close it to unlock. */
int rt_img_lock(const rt_image_store *s, mk_err *err);
/* refs.json as an object name -> manifest digest; an absent file gives an empty object. */
int rt_img_refs_load(const rt_image_store *s, cJSON **out, mk_err *err);
int rt_img_refs_save(const rt_image_store *s, const cJSON *refs, mk_err *err);

/* ---- archives being imported (image_archive.c) ------------------------------------------ */

typedef struct rt_img_entry {
    char *path;    /* clean path inside the archive */
    char *file;    /* where its bytes are: a staged copy, or the store's own blob; NULL for links */
    char *link;    /* symlink or hard link: clean target path inside the archive */
    bool in_store; /* `file` is the store's blob (already verified, never moved) */
    char digest[RT_IMG_DIGEST_LEN + 1]; /* sha256 of the bytes read */
    int64_t size;
} rt_img_entry;

typedef struct rt_img_archive {
    const char *name; /* the archive's path, for messages */
    char *stage;      /* staging directory inside the store's tmp dir */
    rt_img_entry *e;
    size_t n, cap;
} rt_img_archive;

/* Reads the (plain or compressed) tar `archive` once, copying each regular file into a new
 * staging directory while hashing it. Files at blobs/sha256/<hex> that the store already holds
 * are not copied again. */
int rt_img_archive_stage(const rt_image_store *s, const char *archive, rt_img_archive *out,
                         mk_err *err);
/* The regular file at `path`, following links inside the archive; NULL when absent. */
const rt_img_entry *rt_img_archive_find(const rt_img_archive *a, const char *path);
/* Moves a staged file into the store's blobs under its digest (no-op when already there). */
int rt_img_archive_commit_blob(const rt_image_store *s, const rt_img_entry *e, mk_err *err);
/* Removes the staging directory and frees everything. */
void rt_img_archive_free(rt_img_archive *a);

/* ---- layers (image_unpack.c) ---------------------------------------------------------------- */

/* Unpack the (plain, gzip or zstd) tar `blob` into the new directory `dest` (which must not
 * exist), converting OCI whiteouts to overlayfs ones. The uncompressed stream must hash to
 * `diff_id`. On failure nothing is left at `dest`. */
int rt_img_unpack_layer(const char *blob, const char *diff_id, const char *dest, mk_err *err);

/* ---- strings ------------------------------------------------------------------------------ */

/* NULL-terminated copy of a JSON array of strings; NULL when `arr` is not an array.
 * -EINVAL when an element is not a string. */
int rt_img_json_strv(const cJSON *arr, const char *what, char ***out, mk_err *err);

#endif
