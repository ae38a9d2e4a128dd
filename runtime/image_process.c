/* image_process.c - a container's argv, env and cwd from its image config and its spec.
 *
 * Kubernetes rules: `command` replaces the image Entrypoint and drops Cmd; `args` replaces Cmd.
 * Before that, $(VAR) references in command, args and env values are expanded from the
 * container's own env (earlier entries only, for env values), as the kubelet does: "$$" is a
 * literal '$', an unknown or unterminated reference stays as written. The image's Env is not
 * used for expansion (the kubelet does not know it).
 */
#include "image_internal.h"

#include <errno.h>
#include <string.h>

typedef struct strbuf {
    char *p;
    size_t len, cap;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* value of `name` among the first n container env entries (the last definition wins) */
static const char *env_lookup(const podspec_kv *env, size_t n, const char *name, size_t len)
{
    const char *v = NULL;
    for (size_t i = 0; i < n; i++)
        if (env[i].name && strlen(env[i].name) == len && !strncmp(env[i].name, name, len))
            v = env[i].value ? env[i].value : "";
    return v;
}

static char *expand(const char *in, const podspec_kv *env, size_t n_env)
{
    strbuf b = {0};
    sb_add(&b, "", 0);
    for (const char *p = in; *p;) {
        if (p[0] != '$' || !p[1]) {
            sb_add(&b, p, 1);
            p++;
            continue;
        }
        if (p[1] == '$') { /* escaped operator */
            sb_add(&b, "$", 1);
            p += 2;
            continue;
        }
        const char *close = p[1] == '(' ? strchr(p + 2, ')') : NULL;
        if (!close) { /* not a reference: keep "$" and go on with the next character */
            sb_add(&b, p, 1);
            p++;
            continue;
        }
        const char *val = env_lookup(env, n_env, p + 2, (size_t)(close - p - 2));
        if (val)
            sb_add(&b, val, strlen(val));
        else
            sb_add(&b, p, (size_t)(close - p) + 1);
        p = close + 1;
    }
    return b.p;
}

static void strv_append(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 2) * sizeof(char *));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

static char **expand_strv(char *const *in, const podspec_kv *env, size_t n_env)
{
    char **out = xcalloc(rt_strv_len(in) + 1, sizeof(char *));
    for (size_t i = 0; in && in[i]; i++)
        out[i] = expand(in[i], env, n_env);
    return out;
}

static char **build_argv(const rt_image *img, const podspec_container *c, const podspec_kv *env)
{
    size_t n_env = c->n_env, n = 0;
    char **argv = xcalloc(1, sizeof(char *));
    char **entry = NULL, **rest = NULL;
    bool have_command = c->command && c->command[0];
    bool have_args = c->args && c->args[0];
    if (have_command) {
        entry = expand_strv(c->command, env, n_env);
        rest = have_args ? expand_strv(c->args, env, n_env) : NULL;
    } else {
        /* an Entrypoint of exactly [""] counts as unset */
        bool ep_set = img && img->entrypoint && img->entrypoint[0] &&
                      !(img->entrypoint[0][0] == '\0' && !img->entrypoint[1]);
        entry = ep_set ? rt_strv_dup(img->entrypoint) : NULL;
        rest = have_args ? expand_strv(c->args, env, n_env) : rt_strv_dup(img ? img->cmd : NULL);
    }
    for (size_t i = 0; entry && entry[i]; i++)
        strv_append(&argv, &n, MK_STEAL(entry[i]));
    for (size_t i = 0; rest && rest[i]; i++)
        strv_append(&argv, &n, MK_STEAL(rest[i]));
    free(entry);
    free(rest);
    return argv;
}

/* image Env, each container variable (already expanded) replacing the same name in place or
 * appended */
static char **build_env(const rt_image *img, const podspec_kv *cenv, size_t n_cenv)
{
    char **env = rt_strv_dup(img ? img->env : NULL);
    size_t n = rt_strv_len(env);
    if (!env)
        env = xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < n_cenv; i++) {
        const char *name = cenv[i].name;
        if (!name || !*name)
            continue;
        char *kv = xasprintf("%s=%s", name, cenv[i].value);
        size_t len = strlen(name);
        size_t j = 0;
        for (; j < n; j++)
            if (!strncmp(env[j], name, len) && env[j][len] == '=')
                break;
        if (j < n) {
            free(env[j]);
            env[j] = kv;
        } else {
            strv_append(&env, &n, kv);
        }
    }
    return env;
}

int rt_image_process(const rt_image *img, const podspec_container *c, char ***argv, char ***env,
                     char **cwd, mk_err *err)
{
    *argv = NULL;
    *env = NULL;
    *cwd = NULL;
    /* each env value sees the earlier ones, already expanded; command/args see them all */
    podspec_kv *expanded = xcalloc(c->n_env + 1, sizeof(podspec_kv));
    for (size_t i = 0; i < c->n_env; i++) {
        expanded[i].name = c->env[i].name;
        expanded[i].value = expand(c->env[i].value ? c->env[i].value : "", expanded, i);
    }
    char **e = build_env(img, expanded, c->n_env);
    char **a = build_argv(img, c, expanded);
    for (size_t i = 0; i < c->n_env; i++)
        free(expanded[i].value);
    free(expanded);
    if (!a[0] || !a[0][0]) {
        rt_strv_free(a);
        rt_strv_free(e);
        return mk_errf(err, EINVAL,
                       "container %s: no command specified (the image has no Entrypoint or Cmd, "
                       "and the pod gives no command)",
                       c->name ? c->name : "?");
    }
    const char *wd = c->working_dir && *c->working_dir              ? c->working_dir
                     : img && img->working_dir && *img->working_dir ? img->working_dir
                                                                    : "/";
    *argv = a;
    *env = e;
    *cwd = xstrdup(wd);
    return 0;
}
