// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "filter.h"

#include <ctype.h>
#include <errno.h>
#include <fts.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "container.h"
#include "netns.h"

/* The ids (cgroupfs inode numbers) of --cgroup's directory and those below it. */
static int scan_cgroups(struct pw_filter *f)
{
	char *paths[] = { f->cgroup_path, NULL };
	FTS *fts = fts_open(paths, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL);
	FTSENT *e;
	__u64 *ids;
	int ret = 0;

	if (!fts)
		return -errno;
	f->nr_cgroup_ids = 0;
	errno = 0;
	while ((e = fts_read(fts))) {
		if (e->fts_info != FTS_D)
			continue;
		ids = realloc(f->cgroup_ids, (f->nr_cgroup_ids + 1) * sizeof(*ids));
		if (!ids) {
			ret = -ENOMEM;
			break;
		}
		f->cgroup_ids = ids;
		ids[f->nr_cgroup_ids++] = e->fts_statp->st_ino;
		if (e->fts_statp->st_ino > f->scanned_upto)
			f->scanned_upto = e->fts_statp->st_ino;
	}
	if (!ret && errno)
		ret = -errno;
	fts_close(fts);
	return ret;
}

static const char *const option_names[] = {
	[PW_FILTER_PID] = "pid",
	[PW_FILTER_COMM] = "comm",
	[PW_FILTER_NETNS] = "netns",
	[PW_FILTER_CGROUP] = "cgroup",
	[PW_FILTER_DPORT] = "dport",
	[PW_FILTER_DADDR] = "daddr",
	[PW_FILTER_CONTAINER] = "container",
	[PW_FILTER_POD] = "pod",
	[PW_FILTER_K8S_NAMESPACE] = "k8s-namespace",
};

/* "invalid --KEY 'ARG'" in err; returns -EINVAL. */
static int bad(enum pw_filter_key key, const char *arg, char *err, size_t err_len)
{
	snprintf(err, err_len, "invalid --%s '%s'", option_names[key], arg);
	return -EINVAL;
}

static int set_pid(struct pw_filter *f, const char *arg, char *err, size_t err_len)
{
	unsigned long v;

	if (pw_parse_ulong(arg, 1, INT32_MAX, &v))
		return bad(PW_FILTER_PID, arg, err, err_len);
	f->pid = v;
	return 0;
}

static int set_comm(struct pw_filter *f, const char *arg, char *err, size_t err_len)
{
	if (!*arg || strlen(arg) >= PW_COMM_LEN) {
		snprintf(err, err_len, "invalid --comm '%s': 1 to %d characters", arg,
			 PW_COMM_LEN - 1);
		return -EINVAL;
	}
	strncpy(f->comm, arg, PW_COMM_LEN - 1);
	return 0;
}

/* An inode number, or a file: /proc/PID/ns/net, /run/netns/NAME. */
static int set_netns(struct pw_filter *f, const char *arg, char *err, size_t err_len)
{
	unsigned long v;
	int ret;

	if (!pw_parse_ulong(arg, 1, UINT32_MAX, &v)) {
		f->netns = v;
		return 0;
	}
	ret = pw_netns_inode(arg, &f->netns);
	if (ret) {
		snprintf(err, err_len, "invalid --netns '%s': %s", arg,
			 ret == -EINVAL ? "not a namespace file" : strerror(-ret));
		return -EINVAL;
	}
	return 0;
}

static int set_cgroup(struct pw_filter *f, const char *arg, char *err, size_t err_len)
{
	__u64 id;

	if (pw_cgroup_id(arg, &id)) {
		snprintf(err, err_len, "invalid --cgroup '%s': not a cgroup v2 directory", arg);
		return -EINVAL;
	}
	free(f->cgroup_path);
	f->cgroup_path = strdup(arg);
	if (!f->cgroup_path || scan_cgroups(f))
		return bad(PW_FILTER_CGROUP, arg, err, err_len);
	return 0;
}

static int set_dport(struct pw_filter *f, const char *arg, char *err, size_t err_len)
{
	unsigned long v;

	if (pw_parse_ulong(arg, 1, 65535, &v))
		return bad(PW_FILTER_DPORT, arg, err, err_len);
	f->dport = v;
	return 0;
}

static int set_daddr(struct pw_filter *f, const char *arg, char *err, size_t err_len)
{
	if (pw_parse_addr(arg, &f->daddr))
		return bad(PW_FILTER_DADDR, arg, err, err_len);
	return 0;
}

/*
 * A name as runtimes and Kubernetes allow them: 1 to 253 of [A-Za-z0-9_.-],
 * starting with a letter or digit (Podman's and Docker's names, Kubernetes
 * DNS names, hex ids and prefixes).
 */
static int set_name(char **dst, enum pw_filter_key key, const char *arg, char *err, size_t err_len)
{
	size_t n = strlen(arg);

	if (!n || n > 253 || !isalnum((unsigned char)arg[0]) ||
	    strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n) {
		snprintf(err, err_len,
			 "invalid --%s '%s': 1 to 253 letters, digits, '_', '.' or '-', "
			 "starting with a letter or digit",
			 option_names[key], arg);
		return -EINVAL;
	}
	free(*dst);
	*dst = strdup(arg);
	return *dst ? 0 : -ENOMEM;
}

static int set_container(struct pw_filter *f, const char *arg, char *err, size_t err_len)
{
	return set_name(&f->container, PW_FILTER_CONTAINER, arg, err, err_len);
}

static int set_pod(struct pw_filter *f, const char *arg, char *err, size_t err_len)
{
	return set_name(&f->pod, PW_FILTER_POD, arg, err, err_len);
}

static int set_k8s_namespace(struct pw_filter *f, const char *arg, char *err, size_t err_len)
{
	return set_name(&f->k8s_namespace, PW_FILTER_K8S_NAMESPACE, arg, err, err_len);
}

int pw_filter_set(struct pw_filter *f, enum pw_filter_key key, const char *arg, char *err,
		  size_t err_len)
{
	static int (*const set[])(struct pw_filter *, const char *, char *, size_t) = {
		[PW_FILTER_PID] = set_pid,
		[PW_FILTER_COMM] = set_comm,
		[PW_FILTER_NETNS] = set_netns,
		[PW_FILTER_CGROUP] = set_cgroup,
		[PW_FILTER_DPORT] = set_dport,
		[PW_FILTER_DADDR] = set_daddr,
		[PW_FILTER_CONTAINER] = set_container,
		[PW_FILTER_POD] = set_pod,
		[PW_FILTER_K8S_NAMESPACE] = set_k8s_namespace,
	};
	int ret = set[key](f, arg, err, err_len);

	if (!ret)
		f->set |= 1u << key;
	return ret;
}

static bool has(const struct pw_filter *f, enum pw_filter_key key)
{
	return f->set & (1u << key);
}

static bool cgroup_known(const struct pw_filter *f, __u64 id)
{
	for (size_t i = 0; i < f->nr_cgroup_ids; i++)
		if (f->cgroup_ids[i] == id)
			return true;
	return false;
}

/* An IPv4 filter also matches the IPv4-mapped address of an IPv6 socket. */
static bool daddr_match(const struct pw_addr *want, const struct pw_tuple *t)
{
	static const __u8 v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (want->family == t->family)
		return !memcmp(want->bytes, t->daddr, want->family == AF_INET ? 4 : 16);
	return want->family == AF_INET && t->family == AF_INET6 &&
	       !memcmp(t->daddr, v4mapped, 12) && !memcmp(t->daddr + 12, want->bytes, 4);
}

bool pw_filter_match_owner(const struct pw_filter *f, const struct pw_owner *o, bool owner_known)
{
	if ((has(f, PW_FILTER_PID) || has(f, PW_FILTER_COMM)) && !owner_known)
		return false;
	if (has(f, PW_FILTER_PID) && o->tgid != f->pid)
		return false;
	if (has(f, PW_FILTER_COMM) && strncmp(o->comm, f->comm, PW_COMM_LEN))
		return false;
	return !has(f, PW_FILTER_NETNS) || o->netns == f->netns;
}

bool pw_filter_wants_containers(const struct pw_filter *f)
{
	return has(f, PW_FILTER_CONTAINER) || has(f, PW_FILTER_POD) ||
	       has(f, PW_FILTER_K8S_NAMESPACE);
}

bool pw_filter_match_ctr(const struct pw_filter *f, const struct pw_ctr *c)
{
	if (has(f, PW_FILTER_CONTAINER) && !pw_ctr_matches(c, f->container))
		return false;
	if (has(f, PW_FILTER_POD) && (!c || !c->pod || strcmp(c->pod, f->pod)))
		return false;
	return !has(f, PW_FILTER_K8S_NAMESPACE) ||
	       (c && c->k8s_namespace && !strcmp(c->k8s_namespace, f->k8s_namespace));
}

bool pw_filter_match(struct pw_filter *f, const struct pw_owner *o, bool owner_known,
		     const struct pw_tuple *t)
{
	if ((has(f, PW_FILTER_CGROUP) && !owner_known) || !pw_filter_match_owner(f, o, owner_known))
		return false;
	if (pw_filter_wants_containers(f) &&
	    (!owner_known ||
	     !pw_filter_match_ctr(f, pw_ctrs_lookup(f->ctrs, o->cgroup_id, o->mntns, o->tgid))))
		return false;
	if (has(f, PW_FILTER_DPORT) && t->dport != f->dport)
		return false;
	if (has(f, PW_FILTER_DADDR) && !daddr_match(&f->daddr, t))
		return false;
	if (!has(f, PW_FILTER_CGROUP) || cgroup_known(f, o->cgroup_id))
		return true;
	/*
	 * kernfs gives a new cgroup a higher id than any before it (ids are
	 * allocated cyclically, with a generation above the 32 bits), so only
	 * an id above every one seen can be a cgroup created since the scan.
	 */
	if (o->cgroup_id <= f->scanned_upto)
		return false;
	f->scanned_upto = o->cgroup_id;
	return !scan_cgroups(f) && cgroup_known(f, o->cgroup_id);
}

void pw_filter_free(struct pw_filter *f)
{
	free(f->cgroup_path);
	free(f->cgroup_ids);
	free(f->container);
	free(f->pod);
	free(f->k8s_namespace);
	memset(f, 0, sizeof(*f));
}
