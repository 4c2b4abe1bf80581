// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "filter.h"

#include <errno.h>
#include <fts.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

int pw_filter_set(struct pw_filter *f, enum pw_filter_key key, const char *arg, char *err,
		  size_t err_len)
{
	unsigned long v;
	__u64 id;

	switch (key) {
	case PW_FILTER_PID:
		if (pw_parse_ulong(arg, 1, INT32_MAX, &v))
			goto bad;
		f->pid = v;
		break;
	case PW_FILTER_COMM:
		if (!*arg || strlen(arg) >= PW_COMM_LEN) {
			snprintf(err, err_len, "invalid --comm '%s': 1 to %d characters", arg,
				 PW_COMM_LEN - 1);
			return -EINVAL;
		}
		strncpy(f->comm, arg, PW_COMM_LEN - 1);
		break;
	case PW_FILTER_NETNS: {
		/* An inode number, or a file: /proc/PID/ns/net, /run/netns/NAME. */
		int ret;

		if (!pw_parse_ulong(arg, 1, UINT32_MAX, &v)) {
			f->netns = v;
			break;
		}
		ret = pw_netns_inode(arg, &f->netns);
		if (ret) {
			snprintf(err, err_len, "invalid --netns '%s': %s", arg,
				 ret == -EINVAL ? "not a namespace file" : strerror(-ret));
			return -EINVAL;
		}
		break;
	}
	case PW_FILTER_CGROUP:
		if (pw_cgroup_id(arg, &id)) {
			snprintf(err, err_len, "invalid --cgroup '%s': not a cgroup v2 directory",
				 arg);
			return -EINVAL;
		}
		free(f->cgroup_path);
		f->cgroup_path = strdup(arg);
		if (!f->cgroup_path || scan_cgroups(f))
			goto bad;
		break;
	case PW_FILTER_DPORT:
		if (pw_parse_ulong(arg, 1, 65535, &v))
			goto bad;
		f->dport = v;
		break;
	case PW_FILTER_DADDR:
		if (pw_parse_addr(arg, &f->daddr))
			goto bad;
		break;
	}
	f->set |= 1u << key;
	return 0;
bad:
	snprintf(err, err_len, "invalid --%s '%s'",
		 (const char *[]){ "pid", "comm", "netns", "cgroup", "dport", "daddr" }[key], arg);
	return -EINVAL;
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

bool pw_filter_match(struct pw_filter *f, const struct pw_owner *o, bool owner_known,
		     const struct pw_tuple *t)
{
	if ((has(f, PW_FILTER_CGROUP) && !owner_known) || !pw_filter_match_owner(f, o, owner_known))
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
	memset(f, 0, sizeof(*f));
}
