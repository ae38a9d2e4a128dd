/* cli_image.c - `mini-kubelet image import|ls|inspect`.
 *
 *   mini-kubelet image import [--name NAME] FILE...   OCI or docker archive (plain or gzip)
 *   mini-kubelet image ls [-q]                        IMAGE TAG IMAGE ID SIZE, like crictl
 *   mini-kubelet image inspect REF                    JSON: ids, layers, config
 */
#include "cli_image.h"

#include "image.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_COL 20 /* crictl's tabwriter minimum cell width */

static const char usage[] =
    "usage: mini-kubelet [--root-dir DIR] image COMMAND\n"
    "\n"
    "commands:\n"
    "  import [--name NAME] FILE...  import OCI layout (skopeo oci-archive:) or docker-archive\n"
    "                                (docker save) files, plain or gzip-compressed; NAME names\n"
    "                                an image whose archive carries no name\n"
    "  ls [-q]                       list images (-q: image ids only)\n"
    "  import-dir DIR                import every archive in DIR not imported before\n"
    "  inspect REF                   show an image as JSON\n";

static int open_store(const char *root_dir, rt_image_store **s)
{
    size_t n = strlen(root_dir);
    while (n > 0 && root_dir[n - 1] == '/')
        n--;
    cleanup_free char *dir = xasprintf("%.*s/var/lib/mini-kubelet/images", (int)n, root_dir);
    mk_err err = {0};
    if (rt_image_store_open(dir, s, &err) < 0) {
        fprintf(stderr, "mini-kubelet image: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int cmd_import(rt_image_store *s, int argc, char **argv)
{
    static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *name = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        if (c == 'n') {
            name = optarg;
        } else {
            fputs(usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind >= argc) {
        fputs("mini-kubelet image import: no FILE given\n", stderr);
        return 2;
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        mk_err err = {0};
        char **names = NULL;
        if (rt_image_import(s, argv[i], name, &names, &err) < 0) {
            fprintf(stderr, "mini-kubelet image import: %s\n", err.msg);
            rc = 1;
            continue;
        }
        for (char **n = names; n && *n; n++)
            printf("Loaded image: %s\n", *n);
        rt_strv_free(names);
    }
    return rc;
}

static void human_size(int64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1000 && u + 1 < MK_ARRAY_LEN(units)) {
        v /= 1000;
        u++;
    }
    snprintf(buf, len, "%.3g%s", v, units[u]);
}

typedef struct row {
    char *image, *tag, id[14], size[32];
} row;

static void fill_row(const rt_image *img, row *r)
{
    rt_image_ref ref;
    mk_err err = {0};
    if (rt_image_ref_parse(img->name, &ref, &err) == 0) {
        r->image = xasprintf("%s/%s", ref.domain, ref.path);
        r->tag = xstrdup(ref.tag ? ref.tag : "<none>");
        rt_image_ref_free(&ref);
    } else {
        r->image = xstrdup(img->name);
        r->tag = xstrdup("<none>");
    }
    const char *hex = strncmp(img->id, "sha256:", 7) ? img->id : img->id + 7;
    snprintf(r->id, sizeof(r->id), "%.13s", hex);
    human_size(img->size_bytes, r->size, sizeof(r->size));
}

static int width(size_t w)
{
    return (int)(w + 3 > MIN_COL ? w + 3 : MIN_COL);
}

static int cmd_ls(rt_image_store *s, int argc, char **argv)
{
    bool quiet = argc > 1 && (!strcmp(argv[1], "-q") || !strcmp(argv[1], "--quiet"));
    if (argc > (quiet ? 2 : 1)) {
        fputs(usage, stderr);
        return 2;
    }
    rt_image **imgs = NULL;
    size_t n = 0;
    mk_err err = {0};
    if (rt_image_list(s, &imgs, &n, &err) < 0) {
        fprintf(stderr, "mini-kubelet image ls: %s\n", err.msg);
        return 1;
    }
    row *rows = xcalloc(n + 1, sizeof(row));
    size_t wi = strlen("IMAGE"), wt = strlen("TAG"), wid = strlen("IMAGE ID");
    for (size_t i = 0; i < n; i++) {
        fill_row(imgs[i], &rows[i]);
        wi = strlen(rows[i].image) > wi ? strlen(rows[i].image) : wi;
        wt = strlen(rows[i].tag) > wt ? strlen(rows[i].tag) : wt;
    }
    if (!quiet)
        printf("%-*s%-*s%-*s%s\n", width(wi), "IMAGE", width(wt), "TAG", width(wid), "IMAGE ID",
               "SIZE");
    for (size_t i = 0; i < n; i++) {
        bool seen = false; /* -q: each image once, however many names it has */
        for (size_t j = 0; quiet && j < i; j++)
            seen = seen || !strcmp(imgs[j]->id, imgs[i]->id);
        if (quiet && !seen)
            printf("%s\n", imgs[i]->id);
        else if (!quiet)
            printf("%-*s%-*s%-*s%s\n", width(wi), rows[i].image, width(wt), rows[i].tag, width(wid),
                   rows[i].id, rows[i].size);
        free(rows[i].image);
        free(rows[i].tag);
    }
    free(rows);
    rt_image_list_free(imgs, n);
    return 0;
}

static cJSON *strv_json(char **v)
{
    if (!v)
        return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (; *v; v++)
        cJSON_AddItemToArray(a, cJSON_CreateString(*v));
    return a;
}

static int cmd_inspect(rt_image_store *s, int argc, char **argv)
{
    if (argc != 2) {
        fputs(usage, stderr);
        return 2;
    }
    rt_image *img = NULL;
    mk_err err = {0};
    if (rt_image_lookup(s, argv[1], &img, &err) < 0) {
        fprintf(stderr, "mini-kubelet image inspect: %s\n", err.msg);
        return 1;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", img->name);
    cJSON_AddStringToObject(o, "id", img->id);
    cJSON_AddStringToObject(o, "repoDigest", img->repo_digest);
    cJSON_AddNumberToObject(o, "size", (double)img->size_bytes);
    cJSON_AddItemToObject(o, "layers", strv_json(img->layer_dirs));
    cJSON_AddItemToObject(o, "entrypoint", strv_json(img->entrypoint));
    cJSON_AddItemToObject(o, "cmd", strv_json(img->cmd));
    cJSON_AddItemToObject(o, "env", strv_json(img->env));
    cJSON_AddStringToObject(o, "workingDir", img->working_dir ? img->working_dir : "");
    cJSON_AddStringToObject(o, "user", img->user ? img->user : "");
    char *txt = cJSON_Print(o);
    printf("%s\n", txt);
    free(txt);
    cJSON_Delete(o);
    rt_image_free(img);
    return 0;
}

/* The agent's start-up import of <images>/import/: each archive once, failures logged per file. */
static int cmd_import_dir(rt_image_store *s, int argc, char **argv)
{
    if (argc != 2) {
        fputs("mini-kubelet image import-dir: exactly one DIR\n", stderr);
        return 2;
    }
    mk_err err = {0};
    int r = rt_image_import_dir(s, argv[1], &err);
    if (r < 0) {
        fprintf(stderr, "mini-kubelet image import-dir: %s\n", err.msg);
        return 1;
    }
    if (r > 0)
        mk_info("imported %d image archive(s) from %s", r, argv[1]);
    return 0;
}

int agent_cli_image(int argc, char **argv, const char *root_dir)
{
    if (argc > 0 && !strcmp(argv[0], "image")) { /* tolerate being handed the word itself */
        argc--;
        argv++;
    }
    if (argc < 1 || !strcmp(argv[0], "help") || !strcmp(argv[0], "--help") ||
        !strcmp(argv[0], "-h")) {
        fputs(usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    int (*cmd)(rt_image_store *, int, char **) = NULL;
    if (!strcmp(argv[0], "import"))
        cmd = cmd_import;
    else if (!strcmp(argv[0], "ls") || !strcmp(argv[0], "list"))
        cmd = cmd_ls;
    else if (!strcmp(argv[0], "inspect"))
        cmd = cmd_inspect;
    else if (!strcmp(argv[0], "import-dir"))
        cmd = cmd_import_dir;
    if (!cmd) {
        fprintf(stderr, "mini-kubelet image: unknown command \"%s\"\n%s", argv[0], usage);
        return 2;
    }
    rt_image_store *s = NULL;
    if (open_store(root_dir ? root_dir : "/", &s) != 0)
        return 1;
    int rc = cmd(s, argc, argv);
    rt_image_store_close(s);
    return rc;
}
