/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Container identity of a cgroup v2 id (or, on cgroup v1 hosts, of a mount
 * namespace), resolved in the loader from local
 * files only (no runtime socket, nothing over the network): the cgroup's
 * path (walked once under the cgroup2 mount, then only for ids newer than
 * any seen) gives the runtime, the container id, the Kubernetes pod UID or
 * a systemd unit; the runtime's OCI bundle (config.json annotations) and
 * its own metadata give the container, pod and namespace names. Resolved
 * when the cgroup is first seen and cached by id, so a record still finds
 * its container after the process, the cgroup and the container are gone.
 * Unknown is NULL, never a guess.
 */
#ifndef PORTWATCH_CONTAINER_H
#define PORTWATCH_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* What one cgroup is; every field NULL when unknown. */
struct pw_ctr {
	const char *runtime; /* "docker", "containerd", "crio", "podman" */
	char *id;	     /* the container id, 64 hex */
	char *name;	     /* the container's name (Kubernetes: the container's) */
	char *pod;	     /* Kubernetes pod name */
	char *k8s_namespace; /* Kubernetes namespace */
	char *pod_uid;	     /* Kubernetes pod UID, from the kubepods path */
	char *unit;	     /* systemd unit (*.service, *.scope) outside containers */
};

/*
 * Parse a cgroup v2 path ("/system.slice/docker-<id>.scope") into runtime,
 * id, pod_uid and unit (the names need the bundle). Fields not in the path
 * stay NULL; the caller frees with pw_ctr_clear(). Returns 0 or -ENOMEM.
 */
int pw_ctr_parse_path(const char *path, struct pw_ctr *out);

/*
 * Fill pod, k8s_namespace and name (when not set) from an OCI config.json's
 * annotations: io.kubernetes.pod.name/.namespace, io.kubernetes.container.name
 * (CRI-O, Podman) or io.kubernetes.cri.sandbox-name/-namespace,
 * io.kubernetes.cri.container-name (containerd). Returns 0, or -EINVAL for
 * text that is not a JSON object.
 */
int pw_ctr_parse_annotations(const char *json, struct pw_ctr *out);

void pw_ctr_clear(struct pw_ctr *c);

/* The cache of resolved cgroups. */
struct pw_ctrs;

/* The commands' cache size: cgroups remembered (a full cache counts what it could not keep). */
#define PW_CTRS_DEFAULT 16384

/*
 * A cache of at most max_entries cgroups. cgroup_root: the cgroup2 mount
 * (NULL: the first one in /proc/self/mounts, else portwatch's own); root:
 * prefix of the runtimes' state directories ("" on a real host, a fixture
 * directory in tests). NULL when out of memory.
 */
struct pw_ctrs *pw_ctrs_new(const char *cgroup_root, const char *root, size_t max_entries);
void pw_ctrs_free(struct pw_ctrs *s);

/*
 * The identity of an owner by its cgroup v2 id: cached; else the cgroup tree
 * is walked again for ids newer than any seen; else, when pid is nonzero and
 * still lives, found through /proc/PID/cgroup (only if that path has this
 * id). When that names no container and `mntns` (the owner's mount namespace
 * inode, 0: unknown) is neither the host's nor portwatch's: the container its
 * cgroup v1 hierarchies name (runtimes on cgroup v1 hosts), cached by mntns
 * when first seen (at start for the processes then running, or through the
 * live pid). NULL for nothing known. The result lives as long as the cache.
 */
const struct pw_ctr *pw_ctrs_lookup(struct pw_ctrs *s, __u64 cgroup_id, __u32 mntns, __u32 pid);

/*
 * The identity of a live process, through /proc/PID/cgroup (for snapshots:
 * the processes holding sockets live). NULL when unknown.
 */
const struct pw_ctr *pw_ctrs_lookup_pid(struct pw_ctrs *s, __u32 pid);

/*
 * Walk the cgroup tree again for cgroups made since (trace: every second);
 * and /proc for new mount namespaces, on hosts where one was a container's.
 */
void pw_ctrs_refresh(struct pw_ctrs *s);

/* Cgroups resolved but not kept because the cache was full. */
__u64 pw_ctrs_not_kept(const struct pw_ctrs *s);

/*
 * Whether c is the container `want`: its name, or its id or an id prefix
 * (hex, at least 1 character).
 */
bool pw_ctr_matches(const struct pw_ctr *c, const char *want);

/* The text suffix of a record in a container: " [ctr NAME]", " [pod NS/POD ctr NAME]". */
const char *pw_ctr_text(const struct pw_ctr *c, char *buf, size_t len);

/* For tables, escaped: the container's name, else its 12-hex id; "-" outside containers. */
const char *pw_ctr_name_text(const struct pw_ctr *c, char *buf, size_t len);

/* The short label for tables: pod "NS/POD", else the container name, else its 12-hex id, "-". */
const char *pw_ctr_label(const struct pw_ctr *c, char *buf, size_t len);

#endif /* PORTWATCH_CONTAINER_H */
