// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "container.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include "util.h"

#define ID_LEN 64

/* Whether s starts with exactly 64 lowercase hex digits followed by `end`. */
static bool is_id(const char *s, const char *end)
{
	for (int i = 0; i < ID_LEN; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return !strcmp(s + ID_LEN, end);
}

/*
 * One path component as a container: prefix, 64 hex, suffix. Returns the
 * runtime, or NULL.
 */
static const char *component_ctr(const char *c, char *id)
{
	static const struct {
		const char *prefix, *suffix, *runtime;
	} shapes[] = {
		{ "docker-", ".scope", "docker" }, { "cri-containerd-", ".scope", "containerd" },
		{ "crio-", ".scope", "crio" },	   { "libpod-", ".scope", "podman" },
		{ "libpod-", "", "podman" },
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		size_t n = strlen(shapes[i].prefix);

		if (!strncmp(c, shapes[i].prefix, n) && strlen(c) >= n + ID_LEN &&
		    is_id(c + n, shapes[i].suffix)) {
			memcpy(id, c + n, ID_LEN);
			id[ID_LEN] = 0;
			return shapes[i].runtime;
		}
	}
	return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* "pod<uid>" of a kubepods path: systemd's slices write the uid's '-' as '_'. */
static char *pod_uid_of(const char *c)
{
	const char *p = !strncmp(c, "pod", 3) ? c : strstr(c, "-pod");
	char *uid;
	size_t n;

	if (!p)
		return NULL;
	p += *p == '-' ? 4 : 3;
	n = strcspn(p, ".");
	if (n < 8 || n > 64)
		return NULL;
	uid = strndup(p, n);
	for (char *q = uid; q && *q; q++) {
		if (*q == '_')
			*q = '-';
		else if (!isxdigit((unsigned char)*q) && *q != '-') {
			free(uid);
			return NULL;
		}
	}
	return uid;
}

int pw_ctr_parse_path(const char *path, struct pw_ctr *out)
{
	char *copy = strdup(path), *save = NULL, *c, id[ID_LEN + 1];
	const char *rt, *unit = NULL;
	bool kubepods = false;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!copy)
		return -ENOMEM;
	for (c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strncmp(c, "kubepods", 8))
			kubepods = true;
		if (kubepods && !out->pod_uid && (out->pod_uid = pod_uid_of(c)))
			continue;
		if (!strncmp(c, "kubepods", 8))
			continue;
		if ((rt = component_ctr(c, id))) {
			out->runtime = rt;
			free(out->id);
			out->id = strdup(id);
		} else if (!strcmp(c, "docker")) {
			/* cgroupfs driver: /docker/<id> */
			char *next = strtok_r(NULL, "/", &save);

			if (next && is_id(next, "")) {
				out->runtime = "docker";
				free(out->id);
				out->id = strdup(next);
			}
		} else if (kubepods && out->pod_uid && is_id(c, "")) {
			/* kubelet's cgroupfs driver: /kubepods/<qos>/pod<uid>/<id>, runtime unknown
			 */
			free(out->id);
			out->id = strdup(c);
		} else if (!out->id && (ends_with(c, ".service") || ends_with(c, ".scope"))) {
			unit = c;
		}
	}
	if (!out->id && unit && !kubepods)
		out->unit = strdup(unit);
	if ((out->runtime && !out->id) || (unit && !out->id && !kubepods && !out->unit)) {
		pw_ctr_clear(out);
		ret = -ENOMEM;
	}
	free(copy);
	return ret;
}

static char *annotation(struct json_object *ann, const char *a, const char *b)
{
	struct json_object *v;

	if ((json_object_object_get_ex(ann, a, &v) ||
	     (b && json_object_object_get_ex(ann, b, &v))) &&
	    json_object_is_type(v, json_type_string) && *json_object_get_string(v))
		return strdup(json_object_get_string(v));
	return NULL;
}

int pw_ctr_parse_annotations(const char *json, struct pw_ctr *out)
{
	struct json_object *root = json_tokener_parse(json), *ann;

	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return -EINVAL;
	}
	if (json_object_object_get_ex(root, "annotations", &ann) &&
	    json_object_is_type(ann, json_type_object)) {
		if (!out->pod)
			out->pod = annotation(ann, "io.kubernetes.pod.name",
					      "io.kubernetes.cri.sandbox-name");
		if (!out->k8s_namespace)
			out->k8s_namespace = annotation(ann, "io.kubernetes.pod.namespace",
							"io.kubernetes.cri.sandbox-namespace");
		if (!out->name)
			out->name = annotation(ann, "io.kubernetes.container.name",
					       "io.kubernetes.cri.container-name");
	}
	json_object_put(root);
	return 0;
}

void pw_ctr_clear(struct pw_ctr *c)
{
	free(c->id);
	free(c->name);
	free(c->pod);
	free(c->k8s_namespace);
	free(c->pod_uid);
	free(c->unit);
	memset(c, 0, sizeof(*c));
}

/* The cache: open addressing by cgroup id, twice the entries it keeps. */

struct entry {
	__u64 id; /* 0: free */
	struct pw_ctr ctr;
};

struct pw_ctrs {
	char *cgroup_root; /* walked with fts; NULL when no cgroup2 is reachable */
	int root_fd;	   /* portwatch's own cgroup2 mount, when it had to make one */
	char *root;	   /* prefix of /run and /var/lib */
	struct entry *tab;
	size_t cap, used, max;
	__u64 scanned_upto;
	__u64 not_kept;
	__u32 host_mntns, self_mntns; /* mount namespaces that are no container's */
	bool v1_containers; /* a container was found by its mount namespace: walk /proc on refresh
			     */
	struct pw_ctr scratch; /* the last one resolved but not kept */
	/* Podman's containers.json, parsed once per change (start-up resolves every container) */
	struct json_object *podman_db;
	struct timespec podman_mtime;
};

/*
 * Containers found through a mount namespace share the table with cgroup
 * ids under this tag: kernfs ids (inode numbers) stay far below 2^63.
 */
#define MNTNS_KEY(ino) ((1ull << 63) | (ino))

static struct entry *slot(struct pw_ctrs *s, __u64 id)
{
	size_t i = (id * 0x9e3779b97f4a7c15ull) % s->cap;

	while (s->tab[i].id && s->tab[i].id != id)
		i = (i + 1) % s->cap;
	return &s->tab[i];
}

/* A whole file, NUL-terminated, at most 4 MiB; NULL when unreadable. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, n;

	if (!f)
		return NULL;
	for (;;) {
		char *b = realloc(buf, len + 65536 + 1);

		if (!b || len > 4 << 20) {
			free(b ?: buf);
			fclose(f);
			return NULL;
		}
		buf = b;
		n = fread(buf + len, 1, 65536, f);
		len += n;
		if (n < 65536)
			break;
	}
	fclose(f);
	buf[len] = 0;
	return buf;
}

/* Annotations from the first bundle found; returns whether one was. */
static bool read_bundle(struct pw_ctr *c, const char *path)
{
	char *text = read_file(path);
	bool ok = text && !pw_ctr_parse_annotations(text, c);

	free(text);
	return ok;
}

/* Podman's containers.json (an array of its containers), re-read only when it changed. */
static struct json_object *podman_db(struct pw_ctrs *s)
{
	char path[512], *text;
	struct stat st;

	snprintf(path, sizeof(path),
		 "%s/var/lib/containers/storage/overlay-containers/containers.json", s->root);
	if (stat(path, &st))
		return NULL;
	if (s->podman_db && st.st_mtim.tv_sec == s->podman_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == s->podman_mtime.tv_nsec)
		return s->podman_db;
	json_object_put(s->podman_db);
	text = read_file(path);
	s->podman_db = text ? json_tokener_parse(text) : NULL;
	free(text);
	if (s->podman_db && !json_object_is_type(s->podman_db, json_type_array)) {
		json_object_put(s->podman_db);
		s->podman_db = NULL;
	}
	s->podman_mtime = st.st_mtim;
	return s->podman_db;
}

/* A podman container's name: its entry in the storage's containers.json. */
static void podman_name(struct pw_ctrs *s, struct pw_ctr *c)
{
	struct json_object *all = podman_db(s), *e, *v, *names;

	for (size_t i = 0; all && i < json_object_array_length(all); i++) {
		e = json_object_array_get_idx(all, i);
		if (!json_object_object_get_ex(e, "id", &v) ||
		    strcmp(json_object_get_string(v) ?: "", c->id))
			continue;
		if (json_object_object_get_ex(e, "names", &names) &&
		    json_object_is_type(names, json_type_array) &&
		    json_object_array_length(names) > 0)
			c->name = strdup(json_object_get_string(json_object_array_get_idx(names, 0))
						 ?: "");
		break;
	}
}

/* Docker's name of a container: "Name" of config.v2.json, without its '/'. */
static void docker_name(struct pw_ctrs *s, struct pw_ctr *c)
{
	char path[512], *text;
	struct json_object *o, *v;
	const char *name;

	snprintf(path, sizeof(path), "%s/var/lib/docker/containers/%s/config.v2.json", s->root,
		 c->id);
	text = read_file(path);
	o = text ? json_tokener_parse(text) : NULL;
	free(text);
	if (o && json_object_object_get_ex(o, "Name", &v) &&
	    json_object_is_type(v, json_type_string)) {
		name = json_object_get_string(v);
		name += *name == '/';
		if (*name)
			c->name = strdup(name);
	}
	json_object_put(o);
}

/* containerd's bundle: /run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/config.json. */
static bool containerd_bundle(struct pw_ctrs *s, struct pw_ctr *c)
{
	static const char *const namespaces[] = { "k8s.io", "moby", "default" };
	char path[512];

	for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++) {
		snprintf(path, sizeof(path),
			 "%s/run/containerd/io.containerd.runtime.v2.task/%s/%s/config.json",
			 s->root, namespaces[i], c->id);
		if (read_bundle(c, path))
			return true;
	}
	return false;
}

/* CRI-O's and Podman's bundle (the same storage library). */
static bool storage_bundle(struct pw_ctrs *s, struct pw_ctr *c)
{
	static const char *const dirs[] = { "run", "var/lib" };
	char path[512];

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path),
			 "%s/%s/containers/storage/overlay-containers/%s/userdata/config.json",
			 s->root, dirs[i], c->id);
		if (read_bundle(c, path))
			return true;
	}
	return false;
}

/* The names of a parsed cgroup, from the runtime's files. */
static void resolve_names(struct pw_ctrs *s, struct pw_ctr *c)
{
	if (!c->id)
		return;
	if (!c->runtime) {
		/* kubelet's cgroupfs paths do not name the runtime: the bundle does */
		if (containerd_bundle(s, c))
			c->runtime = "containerd";
		else if (storage_bundle(s, c))
			c->runtime = "crio";
		return;
	}
	if (!strcmp(c->runtime, "containerd"))
		containerd_bundle(s, c);
	else if (!strcmp(c->runtime, "crio"))
		storage_bundle(s, c);
	else if (!strcmp(c->runtime, "podman")) {
		storage_bundle(s, c);
		if (!c->name)
			podman_name(s, c);
	} else if (!strcmp(c->runtime, "docker")) {
		containerd_bundle(s, c);
		if (!c->name)
			docker_name(s, c);
	}
}

/* Parse and resolve one cgroup into the cache (or the scratch entry when full). */
static struct pw_ctr *add(struct pw_ctrs *s, __u64 id, const char *path)
{
	struct pw_ctr c;
	struct entry *e;

	if (pw_ctr_parse_path(path, &c))
		return NULL;
	resolve_names(s, &c);
	if (s->used >= s->max) {
		s->not_kept++;
		pw_ctr_clear(&s->scratch);
		s->scratch = c;
		return &s->scratch;
	}
	e = slot(s, id);
	e->id = id;
	e->ctr = c;
	s->used++;
	return &e->ctr;
}

/* Walk the cgroup tree, adding the cgroups not yet known. */
static void scan(struct pw_ctrs *s)
{
	char *paths[] = { s->cgroup_root, NULL };
	size_t root_len = strlen(s->cgroup_root);
	FTS *fts = fts_open(paths, FTS_PHYSICAL | FTS_COMFOLLOW | FTS_XDEV | FTS_NOCHDIR, NULL);
	FTSENT *e;

	if (!fts)
		return;
	while ((e = fts_read(fts))) {
		__u64 id;

		if (e->fts_info != FTS_D)
			continue;
		id = e->fts_statp->st_ino;
		if (id > s->scanned_upto)
			s->scanned_upto = id;
		if (slot(s, id)->id)
			continue;
		add(s, id, e->fts_pathlen > root_len ? e->fts_path + root_len : "/");
	}
	fts_close(fts);
}

/* The inode of /proc/PID/ns/KIND ("self" for pid 0); 0 when unreadable. */
static __u32 ns_inode(__u32 pid, const char *kind)
{
	char path[64];
	struct stat st;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%u/ns/%s", pid, kind);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
	return stat(path, &st) ? 0 : st.st_ino;
}

/* Whether a mount namespace can be a container's: not the host's, not ours. */
static bool foreign_mntns(const struct pw_ctrs *s, __u32 mntns)
{
	return mntns && mntns != s->host_mntns && mntns != s->self_mntns;
}

/*
 * A live process in a container its cgroup v1 hierarchies name (the cgroup v2
 * line names none): the first v1 path that parses to a container id, in line
 * (4096 bytes). Returns whether one did.
 */
static bool pid_v1_container(__u32 pid, char *line)
{
	char path[64], *p;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	while (f && !found && fgets(line, 4096, f)) {
		struct pw_ctr c;

		line[strcspn(line, "\n")] = 0;
		p = strchr(line, ':');
		p = p ? strchr(p + 1, ':') : NULL;
		if (!p || !strncmp(line, "0::", 3) || pw_ctr_parse_path(p + 1, &c))
			continue;
		found = c.id != NULL;
		pw_ctr_clear(&c);
		if (found)
			memmove(line, p + 1, strlen(p + 1) + 1);
	}
	if (f)
		fclose(f);
	return found;
}

/*
 * The container of mount namespace `mntns` through a live process of it
 * (pid): cached under MNTNS_KEY, so that the process may exit. NULL when the
 * process is gone, in another mntns, or in no container. The kernel may give
 * a gone namespace's inode to a new one: a cached entry is not checked again.
 */
static const struct pw_ctr *by_mntns(struct pw_ctrs *s, __u32 mntns, __u32 pid)
{
	char line[4096];
	struct pw_ctr *c;

	if (ns_inode(pid, "mnt") != mntns)
		return NULL;
	if (!pid_v1_container(pid, line)) {
		/* known as nothing (`ip netns exec`, services' private mounts): not looked up again
		 */
		if (s->used < s->max)
			add(s, MNTNS_KEY(mntns), "/");
		return NULL;
	}
	c = add(s, MNTNS_KEY(mntns), line);
	if (c)
		s->v1_containers = true;
	return c;
}

/* Walk /proc for processes whose container only their mount namespace and v1 cgroups tell. */
static void scan_mntns(struct pw_ctrs *s)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		unsigned long pid;
		__u32 mntns;

		if (pw_parse_ulong(e->d_name, 1, 0x7fffffff, &pid))
			continue;
		mntns = ns_inode(pid, "mnt");
		if (foreign_mntns(s, mntns) && !slot(s, MNTNS_KEY(mntns))->id)
			by_mntns(s, mntns, pid);
	}
	if (d)
		closedir(d);
}

static char *cgroup2_mount(void)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	char *dir = NULL;

	while (f && !dir && (m = getmntent(f)))
		if (!strcmp(m->mnt_type, "cgroup2"))
			dir = strdup(m->mnt_dir);
	if (f)
		endmntent(f);
	return dir;
}

struct pw_ctrs *pw_ctrs_new(const char *cgroup_root, const char *root, size_t max_entries)
{
	struct pw_ctrs *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->root_fd = -1;
	s->max = max_entries ?: 1;
	s->cap = 2 * s->max;
	s->tab = calloc(s->cap, sizeof(*s->tab));
	s->root = strdup(root ?: "");
	s->cgroup_root = cgroup_root ? strdup(cgroup_root) : cgroup2_mount();
	if (!s->cgroup_root && !cgroup_root) {
		s->root_fd = pw_cgroup2_root_fd();
		if (s->root_fd >= 0 &&
		    asprintf(&s->cgroup_root, "/proc/self/fd/%d", s->root_fd) < 0)
			s->cgroup_root = NULL;
	}
	if (!s->tab || !s->root) {
		pw_ctrs_free(s);
		return NULL;
	}
	if (s->cgroup_root)
		scan(s);
	s->host_mntns = ns_inode(1, "mnt");
	s->self_mntns = ns_inode(0, "mnt");
	scan_mntns(s);
	return s;
}

void pw_ctrs_free(struct pw_ctrs *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->tab && i < s->cap; i++)
		if (s->tab[i].id)
			pw_ctr_clear(&s->tab[i].ctr);
	pw_ctr_clear(&s->scratch);
	json_object_put(s->podman_db);
	if (s->root_fd >= 0)
		close(s->root_fd);
	free(s->tab);
	free(s->root);
	free(s->cgroup_root);
	free(s);
}

/* A live process's cgroup v2 path (line: 4096 bytes) and id; 0 or -errno. */
static int pid_cgroup(struct pw_ctrs *s, __u32 pid, char *line, __u64 *id)
{
	char path[64], full[4600];
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	while (f && !found && fgets(line, 4096, f))
		found = !strncmp(line, "0::", 3);
	if (f)
		fclose(f);
	if (!found)
		return -ENOENT;
	line[strcspn(line, "\n")] = 0;
	snprintf(full, sizeof(full), "%s%s", s->cgroup_root, line + 3);
	return pw_cgroup_id(full, id);
}

/* The cgroup of a live process, if it has the id wanted. */
static const struct pw_ctr *by_pid(struct pw_ctrs *s, __u64 cgroup_id, __u32 pid)
{
	char line[4096];
	__u64 id;

	if (pid_cgroup(s, pid, line, &id) || id != cgroup_id)
		return NULL;
	return add(s, cgroup_id, line + 3);
}

const struct pw_ctr *pw_ctrs_lookup_pid(struct pw_ctrs *s, __u32 pid)
{
	char line[4096];
	__u64 id = 0;

	if (!s || !pid || (s->cgroup_root && pid_cgroup(s, pid, line, &id)))
		return NULL;
	return pw_ctrs_lookup(s, id, ns_inode(pid, "mnt"), pid);
}

void pw_ctrs_refresh(struct pw_ctrs *s)
{
	if (s && s->cgroup_root)
		scan(s);
	if (s && s->v1_containers)
		scan_mntns(s);
}

static bool empty(const struct pw_ctr *c)
{
	return !c->id && !c->unit && !c->pod_uid;
}

/* The identity of a cgroup v2 id (see pw_ctrs_lookup()), NULL for nothing known. */
static const struct pw_ctr *by_cgroup(struct pw_ctrs *s, __u64 cgroup_id, __u32 pid)
{
	const struct pw_ctr *c = NULL;
	struct entry *e;

	if (!cgroup_id || !s->cgroup_root)
		return NULL;
	e = slot(s, cgroup_id);
	if (e->id)
		return empty(&e->ctr) ? NULL : &e->ctr;
	/* kernfs gives a new cgroup a higher id than any before it */
	if (cgroup_id > s->scanned_upto) {
		scan(s);
		if (cgroup_id > s->scanned_upto)
			s->scanned_upto = cgroup_id;
		e = slot(s, cgroup_id);
		if (e->id)
			return empty(&e->ctr) ? NULL : &e->ctr;
	}
	if (pid)
		c = by_pid(s, cgroup_id, pid);
	if (!c && s->used < s->max) {
		/* known as nothing: not looked up again */
		e = slot(s, cgroup_id);
		e->id = cgroup_id;
		s->used++;
	}
	return c && !empty(c) ? c : NULL;
}

const struct pw_ctr *pw_ctrs_lookup(struct pw_ctrs *s, __u64 cgroup_id, __u32 mntns, __u32 pid)
{
	const struct pw_ctr *c, *m = NULL;
	struct entry *e;

	if (!s)
		return NULL;
	c = by_cgroup(s, cgroup_id, pid);
	if ((c && c->id) || !foreign_mntns(s, mntns))
		return c;
	e = slot(s, MNTNS_KEY(mntns));
	if (e->id)
		m = &e->ctr;
	else if (pid)
		m = by_mntns(s, mntns, pid);
	return m && m->id ? m : c;
}

__u64 pw_ctrs_not_kept(const struct pw_ctrs *s)
{
	return s ? s->not_kept : 0;
}

bool pw_ctr_matches(const struct pw_ctr *c, const char *want)
{
	size_t n = strlen(want);

	if (!c || !n)
		return false;
	if (c->name && !strcmp(c->name, want))
		return true;
	if (!c->id || n > ID_LEN || strspn(want, "0123456789abcdef") != n)
		return false;
	return !strncmp(c->id, want, n);
}

/* An escaped copy of an untrusted name. */
static const char *esc(const char *s, char *buf, size_t len)
{
	return pw_escape(s, len / 4 - 1, buf, len);
}

const char *pw_ctr_text(const struct pw_ctr *c, char *buf, size_t len)
{
	char a[1024], b[1024], n[1024];

	buf[0] = 0;
	if (!c || !c->id)
		return buf;
	if (c->pod)
		snprintf(buf, len, " [pod %s/%s ctr %s]",
			 c->k8s_namespace ? esc(c->k8s_namespace, a, sizeof(a)) : "-",
			 esc(c->pod, b, sizeof(b)), c->name ? esc(c->name, n, sizeof(n)) : "-");
	else if (c->name)
		snprintf(buf, len, " [ctr %s]", esc(c->name, n, sizeof(n)));
	else
		snprintf(buf, len, " [ctr %.12s]", c->id);
	return buf;
}

const char *pw_ctr_name_text(const struct pw_ctr *c, char *buf, size_t len)
{
	char a[1024];

	if (!c || !c->id)
		snprintf(buf, len, "-");
	else if (c->name)
		snprintf(buf, len, "%s", esc(c->name, a, sizeof(a)));
	else
		snprintf(buf, len, "%.12s", c->id);
	return buf;
}

const char *pw_ctr_label(const struct pw_ctr *c, char *buf, size_t len)
{
	char a[1024], b[1024];

	if (!c || !c->id)
		snprintf(buf, len, "-");
	else if (c->pod)
		snprintf(buf, len, "%s/%s",
			 c->k8s_namespace ? esc(c->k8s_namespace, a, sizeof(a)) : "-",
			 esc(c->pod, b, sizeof(b)));
	else if (c->name)
		snprintf(buf, len, "%s", esc(c->name, a, sizeof(a)));
	else
		snprintf(buf, len, "%.12s", c->id);
	return buf;
}
