/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Network namespaces by inode: the file that names one (/run/netns/NAME,
 * /proc/PID/ns/net), running a function inside one, and a cache of what the
 * reports of drops ask of each netns (interface names, conntrack state).
 */
#ifndef PORTWATCH_NETNS_H
#define PORTWATCH_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/*
 * Inode of a namespace file such as /proc/PID/ns/net or /run/netns/NAME.
 * Returns 0, -EINVAL for a file not on nsfs, or stat()'s -errno.
 */
int pw_netns_inode(const char *path, __u32 *ino);

/*
 * Run fn(ctx) with the calling thread in the netns of the namespace file
 * `path`, then back in the netns of `home` (an fd of the caller's own, from
 * /proc/self/ns/net). `inode` is the netns the caller means: a /proc/PID path
 * may name another process's netns by now. Returns fn's result; -errno when
 * path cannot be opened or entered; -ESRCH for another inode; -EFAULT when
 * the thread could not return home, after which it is in the wrong netns and
 * the caller must stop looking anything up.
 */
int pw_in_netns(const char *path, __u32 inode, int home, int (*fn)(void *ctx), void *ctx);

/*
 * pw_in_netns() with the caller's own netns as home, opened for the call.
 * Returns as pw_in_netns() does, or -errno when /proc/self/ns/net cannot be
 * opened.
 */
int pw_netns_call(const char *path, __u32 inode, int (*fn)(void *ctx), void *ctx);

struct pw_netns_cache;

/*
 * A cache of netns paths, interface names and conntrack state, by netns
 * inode. At creation it reads, in each netns found (/run/netns, processes),
 * conntrack's `invalid` count: the base of pw_netns_conntrack()'s growth.
 * Returns NULL when out of memory. Every netns is entered with setns(2):
 * the caller must be single-threaded. A thread that cannot return to its
 * own netns makes portwatch exit(1), saying so on stderr.
 */
struct pw_netns_cache *pw_netns_cache_new(void);
/* Free nc (NULL is fine). */
void pw_netns_cache_free(struct pw_netns_cache *nc);

/* The name of interface ifindex in netns (inode): "eth0", "if7" when unknown, "-" for 0. */
const char *pw_netns_ifname(struct pw_netns_cache *nc, __u32 netns, __u32 ifindex, char *buf,
			    size_t len);

/* A netns's conntrack table, as pw_netns_conntrack() last read it. */
struct pw_netns_ct {
	long entries;	   /* -1: unreadable, or the netns was not found */
	long max;	   /* nf_conntrack_max (global) */
	bool invalid_grew; /* its `invalid` statistic grew since the read before */
};

/*
 * The conntrack state of netns (inode), read from its
 * /proc/net/stat/nf_conntrack at most once a second (else the last read's);
 * the first read compares `invalid` with the count at pw_netns_cache_new().
 */
void pw_netns_conntrack(struct pw_netns_cache *nc, __u32 netns, struct pw_netns_ct *out);

#endif /* PORTWATCH_NETNS_H */
