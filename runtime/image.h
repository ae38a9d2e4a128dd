/* image.h - the local, content-addressed image store and image references.
 *
 * Layout under the store root (<root-dir>/var/lib/mini-kubelet/images):
 *   blobs/sha256/<hex>        manifests, configs, compressed layers (verified digests)
 *   layers/<chainid-hex>/     unpacked layer directories (overlay lower dirs; whiteouts as
 *                             overlayfs char-device 0/0 and trusted.overlay.opaque)
 *   refs.json                 name -> manifest digest (written atomically)
 *   import/                   archives dropped here are imported once at start
 *   import/.done/             ... and moved here afterwards (or a marker is written)
 * All functions may block on disk: the agent calls them from its thread pool or at start.
 * A store handle is safe to use from one thread at a time.
 */
#ifndef MK_RT_IMAGE_H
#define MK_RT_IMAGE_H

#include "mk_base.h"
#include "podspec.h"

/* A normalized reference, the Docker way: "nginx" -> docker.io/library/nginx:latest. */
typedef struct rt_image_ref {
    char *domain; /* "docker.io" */
    char *path;   /* "library/nginx" */
    char *tag;    /* "latest" when neither tag nor digest is given; NULL with a digest only */
    char *digest; /* "sha256:<64 hex>" or NULL */
    char *full;   /* "docker.io/library/nginx:latest" (or "...@sha256:..." / ":tag@sha256:") */
} rt_image_ref;

/* Errors: EINVAL "invalid reference format: ..." (InvalidImageName in pod status). */
int rt_image_ref_parse(const char *s, rt_image_ref *out, mk_err *err);
void rt_image_ref_free(rt_image_ref *r);

typedef struct rt_image {
    char *name;        /* normalized full reference it was looked up by */
    char *id;          /* "sha256:<config digest hex>" */
    char *repo_digest; /* "docker.io/library/nginx@sha256:<manifest digest hex>" */
    char **layer_dirs; /* absolute unpacked layer dirs, bottom (base) layer first; NULL-terminated */
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
 * plain or gzip-compressed. Every image in it is stored and tagged with its names (normalized).
 * An OCI archive whose index has no name annotation gets `default_name` (may be NULL: error).
 * *names_out (optional) receives the NULL-terminated list of names imported. */
int rt_image_import(rt_image_store *s, const char *archive, const char *default_name,
                    char ***names_out, mk_err *err);

/* Import every regular file in `dir` not imported before (by name+size+mtime), once each.
 * Returns the number imported; failures are logged per file and do not stop the others. */
int rt_image_import_dir(rt_image_store *s, const char *dir, mk_err *err);

/* Look up by any reference form ("nginx", "nginx:latest", "docker.io/library/nginx",
 * "...@sha256:..."). -ENOENT when the image is not in the store. */
int rt_image_lookup(rt_image_store *s, const char *ref, rt_image **out, mk_err *err);
void rt_image_free(rt_image *img);

/* All tagged images (for `mini-kubelet image ls`). */
int rt_image_list(rt_image_store *s, rt_image ***out, size_t *n, mk_err *err);
void rt_image_list_free(rt_image **imgs, size_t n);

/* The process of a container, the Kubernetes way: `command` replaces Entrypoint and drops Cmd,
 * `args` replaces Cmd; env = image Env overlaid by the container's env (later wins);
 * cwd = workingDir or image WorkingDir or "/". Outputs are NULL-terminated; free each with
 * rt_strv_free. EINVAL when the result has no argv[0] ("no command specified"). */
int rt_image_process(const rt_image *img, const podspec_container *c, char ***argv, char ***env,
                     char **cwd, mk_err *err);

void rt_strv_free(char **v);
size_t rt_strv_len(char *const *v);
char **rt_strv_dup(char *const *v);

#endif
