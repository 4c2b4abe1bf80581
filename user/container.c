// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "container.h"

#include <ctype.h>
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
	struct pw_ctr scratch; /* the last one resolved but not kept */
};

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

/* A podman container's name: its entry in the storage's containers.json. */
static void podman_name(struct pw_ctrs *s, struct pw_ctr *c)
{
	char path[512], *text;
	struct json_object *all, *e, *v, *names;

	snprintf(path, sizeof(path),
		 "%s/var/lib/containers/storage/overlay-containers/containers.json", s->root);
	text = read_file(path);
	all = text ? json_tokener_parse(text) : NULL;
	free(text);
	for (size_t i = 0;
	     all && json_object_is_type(all, json_type_array) && i < json_object_array_length(all);
	     i++) {
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
	json_object_put(all);
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
	__u64 id;

	if (!s || !pid || !s->cgroup_root || pid_cgroup(s, pid, line, &id))
		return NULL;
	return pw_ctrs_lookup(s, id, pid);
}

void pw_ctrs_refresh(struct pw_ctrs *s)
{
	if (s && s->cgroup_root)
		scan(s);
}

static bool empty(const struct pw_ctr *c)
{
	return !c->id && !c->unit && !c->pod_uid;
}

const struct pw_ctr *pw_ctrs_lookup(struct pw_ctrs *s, __u64 cgroup_id, __u32 pid)
{
	const struct pw_ctr *c = NULL;
	struct entry *e;

	if (!s || !cgroup_id || !s->cgroup_root)
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
