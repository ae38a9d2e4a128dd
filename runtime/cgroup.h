/* cgroup.h - pod and container cgroups in our own subtree, cgroup v2 or v1, detected at start.
 *
 * The parent is, by default, the agent's own cgroup (read from /proc/self/cgroup) plus a
 * subtree name, so pods stay inside the limits the agent was given; `--cgroup-root` overrides
 * it. On v2 the agent first moves itself into a leaf (<own>/agent) so that inner nodes hold no
 * processes. On v1 (or hybrid hosts, where v1 holds the controllers) one directory is made per
 * used controller hierarchy (memory, cpu,cpuacct, pids, ...); the named systemd hierarchy and
 * the cgroups of other services are never touched.
 *
 * Relative paths name a pod ("pod-<uid>") or a container ("pod-<uid>/<container>").
 * On v2 a cgroup with children that use controllers may hold no processes itself, so a pod's
 * own processes (the shim) belong in a leaf such as "pod-<uid>/_sandbox" (no container can
 * have that name), not in "pod-<uid>". Names starting with '.' are not walked.
 */
#ifndef MK_RT_CGROUP_H
#define MK_RT_CGROUP_H

#include "mk_base.h"

#include <sys/types.h>

typedef struct rt_cgroups rt_cgroups;

/* cgroup_root: NULL for the default (own cgroup), else an absolute cgroup path such as
 * "/mini-kubelet" (relative to each hierarchy's mount). subtree: a directory name under it,
 * e.g. "mini-kubelet" (the agent makes it unique per root dir). */
int rt_cgroup_init(const char *cgroup_root, const char *subtree, rt_cgroups **out, mk_err *err);
void rt_cgroup_free(rt_cgroups *cg);
bool rt_cgroup_is_v2(const rt_cgroups *cg);

/* mkdir the cgroup (parents included) in every hierarchy we use. Idempotent. */
int rt_cgroup_create(rt_cgroups *cg, const char *rel, mk_err *err);

/* Absolute paths of the cgroup.procs files a process must write "0" to in order to join
 * `rel` (one on v2, one per hierarchy on v1). NULL-terminated; free with rt_strv_free. */
char **rt_cgroup_procs_files(const rt_cgroups *cg, const char *rel);

/* The cgroup path as /proc/<pid>/cgroup shows it (v2) or the memory hierarchy's (v1). */
char *rt_cgroup_display_path(const rt_cgroups *cg, const char *rel);

/* Pids in `rel` and every cgroup beneath it. */
int rt_cgroup_pids(const rt_cgroups *cg, const char *rel, pid_t **pids, size_t *n, mk_err *err);

/* Remove `rel` and the cgroups beneath it, deepest first. -EBUSY if processes remain
 * (nothing is killed here). ENOENT is success. */
int rt_cgroup_remove(rt_cgroups *cg, const char *rel, mk_err *err);

/* Names of the pod cgroups that exist in our subtree ("pod-<uid>"), for cleanup at start. */
int rt_cgroup_list_pods(const rt_cgroups *cg, char ***names, mk_err *err);

/* ---- layout detection, split out so it can be fed sample texts ---- */

typedef enum { RT_CGROUP_MODE_V1 = 1, RT_CGROUP_MODE_HYBRID, RT_CGROUP_MODE_V2 } rt_cgroup_mode;

/* One hierarchy we place processes in. */
typedef struct rt_cgroup_hier {
    char *controllers; /* v1: as /proc/self/cgroup lists them ("memory", "cpu,cpuacct"); v2: "" */
    char *mount;       /* where it is mounted, e.g. "/sys/fs/cgroup/memory" */
    char *mount_root;  /* the cgroup shown at the mount point (mountinfo field 4), usually "/" */
    char *own;         /* this process's cgroup in it, as /proc/self/cgroup shows it */
} rt_cgroup_hier;

typedef struct rt_cgroup_layout {
    rt_cgroup_mode mode; /* hybrid: v1 controllers plus a cgroup2 mount; v1 is used */
    rt_cgroup_hier *h;
    size_t n;
} rt_cgroup_layout;

/* From the texts of /proc/self/mountinfo and /proc/self/cgroup: the hierarchies to use (v1:
 * memory, cpu, cpuacct and pids wherever they are mounted, never named or cpuset hierarchies;
 * v2: the one unified hierarchy). -ENOTSUP when none is usable. */
int rt_cgroup_parse_layout(const char *mountinfo, const char *proc_cgroup, rt_cgroup_layout *out,
                           mk_err *err);
void rt_cgroup_layout_free(rt_cgroup_layout *l);
const char *rt_cgroup_mode_name(rt_cgroup_mode m); /* "v1", "hybrid", "v2" */

/* rt_cgroup_init with a given layout instead of this process's (tests, diagnostics). */
int rt_cgroup_init_layout(const rt_cgroup_layout *l, const char *cgroup_root, const char *subtree,
                          rt_cgroups **out, mk_err *err);

/* The absolute directory of `rel` in hierarchy i (0 <= i < rt_cgroup_count), for tests and
 * diagnostics. */
size_t rt_cgroup_count(const rt_cgroups *cg);
char *rt_cgroup_dir(const rt_cgroups *cg, size_t i, const char *rel);

#endif
