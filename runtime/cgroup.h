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

#endif
