/* image.h - the local, content-addressed image store and image references.
 *
 * Layout under the store root (<root-dir>/var/lib/mini-kubelet/images):
 *   blobs/sha256/<hex>        manifests, configs, compressed layers (verified digests)
 *   layers/<chainid-hex>/     unpacked layer directories (overlay lower dirs; whiteouts as
 *                             overlayfs char-device 0/0 and trusted.overlay.opaque)
 *   refs.json                 name -> manifest digest (written atomically, under `lock`)
 *   lock                      flock()ed while an import commits (the CLI and the agent may
 *                             import at the same time)
 *   tmp/                      staging for imports in progress; an import that fails or
 *                             crashes leaves nothing else behind, and leftovers of dead
 *                             processes are removed by rt_image_store_open
 *   import/                   archives dropped here are imported once at start; they stay in
 *                             place and import/.imported.json remembers each file's name, size
 *                             and mtime and the images it gave (see rt_image_import_dir)
 * A docker-archive has no manifest: the store keeps a Docker schema 2 manifest made from its
 * config and layers (deterministic, so the repo digest is stable across imports).
 * All functions may block on disk: the agent calls them from its thread pool or at start.
 * A store handle is safe to use from one thread at a time.
 */
#ifndef MK_RT_IMAGE_H
#define MK_RT_IMAGE_H

#include "mk_base.h"
#include "podspec.h"

/* A normalized reference, the Docker way: "nginx" -> docker.io/library/nginx:latest.
 * The parser lives in podspec (one grammar for the whole project); these are its runtime names. */
typedef podspec_image_ref rt_image_ref;

static inline int rt_image_ref_parse(const char *s, rt_image_ref *out, mk_err *err)
{
    return podspec_image_ref_parse(s, out, err);
}

static inline void rt_image_ref_free(rt_image_ref *r)
{
    podspec_image_ref_free(r);
}

typedef struct rt_image {
    char *name;        /* normalized full reference it was looked up by */
    char *id;          /* "sha256:<config digest hex>" */
    char *repo_digest; /* "docker.io/library/nginx@sha256:<manifest digest hex>" */
    char *
        *layer_dirs; /* absolute unpacked layer dirs, bottom (base) layer first; NULL-terminated */
    size_t n_layers;
    /* image config (NULL-terminated arrays, NULL when absent) */
    char **entrypoint;
    char **cmd;
    char **env; /* "K=V" */
    char *working_dir;
    char *user; /* "", "101", "nginx", "101:101" ... */
    int64_t size_bytes;
} rt_image;

typedef struct rt_image_store rt_image_store;

int rt_image_store_open(const char *dir, rt_image_store **out, mk_err *err);
void rt_image_store_close(rt_image_store *s);

/* Import an OCI image layout archive (skopeo `oci-archive:`) or a docker-archive (`docker save`),
 * plain or compressed (gzip, zstd, xz, bzip2; layers: tar, tar+gzip, tar+zstd). Every image in
 * it is stored and tagged with its names (normalized). OCI names come from the annotations
 * io.containerd.image.name or org.opencontainers.image.ref.name; a bare ref.name like "v1" is a
 * tag of `default_name` when that is given. An image with no name gets `default_name` (NULL:
 * error). Digests and sizes of every blob and the diff id of every layer are verified; on any
 * error the store is unchanged. Importing the same archive again only re-reads it.
 * *names_out (optional) receives the NULL-terminated list of names imported. */
int rt_image_import(rt_image_store *s, const char *archive, const char *default_name,
                    char ***names_out, mk_err *err);

/* Import every regular file in `dir` not imported before (by name+size+mtime, recorded in
 * <dir>/.imported.json), once each; a file whose images have left the store is imported again.
 * Dotfiles and names ending in .tmp, .part or ~ are skipped. A missing dir imports nothing.
 * Returns the number imported; failures are logged per file and do not stop the others. */
int rt_image_import_dir(rt_image_store *s, const char *dir, mk_err *err);

/* Look up by any reference form ("nginx", "nginx:latest", "docker.io/library/nginx",
 * "...@sha256:<manifest>") or by image id ("sha256:<config>" or its 64 hex digits).
 * -ENOENT when the image (or one of its unpacked layers) is not in the store. */
int rt_image_lookup(rt_image_store *s, const char *ref, rt_image **out, mk_err *err);
void rt_image_free(rt_image *img);

/* All tagged images (for `mini-kubelet image ls`). */
int rt_image_list(rt_image_store *s, rt_image ***out, size_t *n, mk_err *err);
void rt_image_list_free(rt_image **imgs, size_t n);

/* The process of a container, the Kubernetes way: `command` replaces Entrypoint and drops Cmd,
 * `args` replaces Cmd; $(VAR) in command, args and env values is expanded from the container's
 * env as the kubelet does ($$ escapes, unknown references stay); env = image Env overlaid by
 * the container's env (later wins);
 * cwd = workingDir or image WorkingDir or "/". Outputs are NULL-terminated; free each with
 * rt_strv_free. EINVAL when the result has no argv[0] ("no command specified"). */
int rt_image_process(const rt_image *img, const podspec_container *c, char ***argv, char ***env,
                     char **cwd, mk_err *err);

void rt_strv_free(char **v);
size_t rt_strv_len(char *const *v);
char **rt_strv_dup(char *const *v);

#endif
