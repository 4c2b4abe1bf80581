// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include "conntrack.h"

int pw_netns_inode(const char *path, __u32 *ino)
{
	struct statfs fs;
	struct stat st;

	if (statfs(path, &fs) || stat(path, &st))
		return -errno;
	if (fs.f_type != NSFS_MAGIC)
		return -EINVAL;
	*ino = st.st_ino;
	return 0;
}

int pw_in_netns(const char *path, __u32 inode, int home, int (*fn)(void *ctx), void *ctx)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;
	__u32 ino;

	if (fd < 0)
		return -errno;
	if (pw_netns_inode(path, &ino) || ino != inode) {
		close(fd);
		return -ESRCH;
	}
	if (setns(fd, CLONE_NEWNET)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	close(fd);
	ret = fn(ctx);
	return setns(home, CLONE_NEWNET) ? -EFAULT : ret;
}

int pw_netns_call(const char *path, __u32 inode, int (*fn)(void *ctx), void *ctx)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ret;

	if (home < 0)
		return -errno;
	ret = pw_in_netns(path, inode, home, fn, ctx);
	close(home);
	return ret;
}

#define NETNS_SLOTS	  256 /* netns remembered; a full cache forgets the oldest */
#define NETNS_RETRY_S	  2   /* a netns not found is looked for again after this */
#define CONNTRACK_EVERY_S 1   /* conntrack count re-read at most this often */
#define IFNAMES		  16  /* interface names remembered per netns */

struct netns_entry {
	__u32 inode;
	char path[64];	  /* "/run/netns/x" or "/proc/PID/ns/net"; "" when not found */
	time_t looked_up; /* when path was searched for */
	time_t ct_read;	  /* when ct was read, 0: never */
	struct pw_netns_ct ct;
	struct {
		__u32 ifindex;
		char name[IF_NAMESIZE];
	} ifnames[IFNAMES];
	unsigned int next_ifname;
};

/* A netns's `invalid` statistic (summed over CPUs) when last read. */
struct ct_invalid_seen {
	__u32 inode;
	long invalid;
};

struct pw_netns_cache {
	struct netns_entry e[NETNS_SLOTS];
	unsigned int used, next;
	__u32 self; /* this process's netns */
	/* By inode: every netns found at start, then each one read; kept when
	 * its entry above is recycled. A netns missing here was created after
	 * start, with a count of 0. */
	struct ct_invalid_seen *seen;
	size_t n_seen, cap_seen;
};

/*
 * fn(arg) inside the netns of path. A thread that cannot return to its own
 * netns would read every later name and counter from the wrong one:
 * portwatch stops, saying so.
 */
static int enter(const char *path, __u32 inode, int (*fn)(void *), void *arg)
{
	int ret = pw_netns_call(path, inode, fn, arg);

	if (ret == -EFAULT) {
		fprintf(stderr, "portwatch: cannot return to its own network namespace: %s\n",
			strerror(errno));
		exit(1);
	}
	return ret;
}

static int seen_cmp(const void *a, const void *b)
{
	__u32 x = ((const struct ct_invalid_seen *)a)->inode,
	      y = ((const struct ct_invalid_seen *)b)->inode;

	return x < y ? -1 : x > y;
}

static struct ct_invalid_seen *seen_find(struct pw_netns_cache *nc, __u32 inode)
{
	struct ct_invalid_seen k = { .inode = inode };

	return nc->n_seen ? bsearch(&k, nc->seen, nc->n_seen, sizeof(k), seen_cmp) : NULL;
}

/* Records inode's `invalid` count; returns the one recorded before (0 if none). */
static long seen_swap(struct pw_netns_cache *nc, __u32 inode, long invalid)
{
	struct ct_invalid_seen *s = seen_find(nc, inode), *grown;
	long old;
	size_t i;

	if (s) {
		old = s->invalid;
		s->invalid = invalid;
		return old;
	}
	if (nc->n_seen == nc->cap_seen) {
		grown = realloc(nc->seen, (nc->cap_seen ? nc->cap_seen * 2 : 64) * sizeof(*grown));
		if (!grown)
			return 0;
		nc->seen = grown;
		nc->cap_seen = nc->cap_seen ? nc->cap_seen * 2 : 64;
	}
	for (i = nc->n_seen; i > 0 && nc->seen[i - 1].inode > inode; i--)
		nc->seen[i] = nc->seen[i - 1];
	nc->seen[i] = (struct ct_invalid_seen){ inode, invalid };
	nc->n_seen++;
	return 0;
}

/*
 * Calls fn(path, inode, arg) for each netns file, /run/netns first, then
 * processes', until fn returns true. Returns whether one did.
 */
static bool for_each_netns(bool (*fn)(const char *path, __u32 inode, void *arg), void *arg)
{
	static const char *const dirs[] = { "/run/netns", "/proc" };
	char path[64];
	bool done = false;

	for (size_t d = 0; d < 2 && !done; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *de;
		__u32 ino;

		while (dir && !done && (de = readdir(dir))) {
			if (de->d_name[0] == '.' ||
			    (d == 1 && (de->d_name[0] < '0' || de->d_name[0] > '9')))
				continue;
			snprintf(path, sizeof(path), d ? "%s/%s/ns/net" : "%s/%s", dirs[d],
				 de->d_name);
			done = !pw_netns_inode(path, &ino) && fn(path, ino, arg);
		}
		if (dir)
			closedir(dir);
	}
	return done;
}

struct find_arg {
	__u32 inode;
	char *path;
	size_t len;
};

static bool is_wanted(const char *path, __u32 inode, void *arg)
{
	struct find_arg *a = arg;

	if (inode != a->inode)
		return false;
	snprintf(a->path, a->len, "%s", path);
	return true;
}

/* A netns file whose inode is `inode`, in path ("" when none is found). */
static bool find_netns(__u32 inode, char *path, size_t len)
{
	struct find_arg a = { inode, path, len };

	path[0] = '\0';
	return for_each_netns(is_wanted, &a);
}

static int read_invalid(void *p)
{
	struct pw_ct_stats st;
	int ret = pw_conntrack_stats(&st);

	*(long *)p = st.invalid;
	return ret;
}

static bool seen_at_start(const char *path, __u32 inode, void *arg)
{
	struct pw_netns_cache *nc = arg;
	long invalid;

	if (!seen_find(nc, inode) && !enter(path, inode, read_invalid, &invalid))
		seen_swap(nc, inode, invalid);
	return false;
}

/*
 * Every netns's `invalid` count at start: the class of a drop depends on
 * its growth, not on packets counted before portwatch ran.
 */
static void baseline_ct_invalid(struct pw_netns_cache *nc)
{
	long invalid;

	if (pw_conntrack_max() < 0)
		return;
	if (!read_invalid(&invalid))
		seen_swap(nc, nc->self, invalid);
	for_each_netns(seen_at_start, nc);
}

struct pw_netns_cache *pw_netns_cache_new(void)
{
	struct pw_netns_cache *nc = calloc(1, sizeof(*nc));

	if (!nc)
		return NULL;
	pw_netns_inode("/proc/self/ns/net", &nc->self);
	baseline_ct_invalid(nc);
	return nc;
}

void pw_netns_cache_free(struct pw_netns_cache *nc)
{
	if (nc)
		free(nc->seen);
	free(nc);
}

static struct netns_entry *netns_entry(struct pw_netns_cache *nc, __u32 inode)
{
	time_t now = time(NULL);
	struct netns_entry *e = NULL;

	for (unsigned int i = 0; i < nc->used; i++)
		if (nc->e[i].inode == inode) {
			e = &nc->e[i];
			break;
		}
	if (!e) {
		e = &nc->e[nc->used < NETNS_SLOTS ? nc->used++ : nc->next++ % NETNS_SLOTS];
		memset(e, 0, sizeof(*e));
		e->inode = inode;
	}
	if (!e->path[0] && inode != nc->self && now - e->looked_up >= NETNS_RETRY_S) {
		e->looked_up = now;
		find_netns(inode, e->path, sizeof(e->path));
	}
	return e;
}

/* fn(arg) inside e's netns: -ENOENT when no file names it. */
static int in_netns(struct pw_netns_cache *nc, struct netns_entry *e, int (*fn)(void *), void *arg)
{
	if (e->inode == nc->self)
		return fn(arg);
	if (!e->path[0])
		return -ENOENT;
	return enter(e->path, e->inode, fn, arg);
}

struct ifname_arg {
	__u32 ifindex;
	char *name;
};

static int read_ifname(void *p)
{
	struct ifname_arg *a = p;

	return if_indextoname(a->ifindex, a->name) ? 0 : -errno;
}

const char *pw_netns_ifname(struct pw_netns_cache *nc, __u32 netns, __u32 ifindex, char *buf,
			    size_t len)
{
	struct netns_entry *e;
	char name[IF_NAMESIZE];
	struct ifname_arg a = { ifindex, name };

	if (!ifindex)
		return "-";
	e = netns_entry(nc, netns);
	for (unsigned int i = 0; i < IFNAMES; i++)
		if (e->ifnames[i].ifindex == ifindex) {
			snprintf(buf, len, "%s", e->ifnames[i].name);
			return buf;
		}
	if (in_netns(nc, e, read_ifname, &a)) {
		snprintf(buf, len, "if%u", ifindex);
		return buf;
	}
	e->ifnames[e->next_ifname % IFNAMES].ifindex = ifindex;
	snprintf(e->ifnames[e->next_ifname % IFNAMES].name, IF_NAMESIZE, "%s", name);
	e->next_ifname++;
	snprintf(buf, len, "%s", name);
	return buf;
}

static int read_ct_stats(void *p)
{
	struct pw_ct_stats *st = p;

	return pw_conntrack_stats(st);
}

void pw_netns_conntrack(struct pw_netns_cache *nc, __u32 netns, struct pw_netns_ct *out)
{
	struct netns_entry *e = netns_entry(nc, netns);
	time_t now = time(NULL);
	struct pw_ct_stats st;

	if (!e->ct_read || now - e->ct_read >= CONNTRACK_EVERY_S) {
		e->ct_read = now;
		/* nf_conntrack_max is global: the init netns's value. */
		e->ct.max = pw_conntrack_max();
		e->ct.entries = -1;
		e->ct.invalid_grew = false;
		if (!in_netns(nc, e, read_ct_stats, &st)) {
			e->ct.entries = st.entries;
			e->ct.invalid_grew = (long)st.invalid > seen_swap(nc, netns, st.invalid);
		}
	}
	*out = e->ct;
}
