/* SPDX-License-Identifier: GPL-2.0 */
/* Conntrack statistics of a netns, as `conntrack -S` shows them. */
#ifndef PORTWATCH_CONNTRACK_H
#define PORTWATCH_CONNTRACK_H

#include <linux/types.h>

struct pw_ct_stats {
	__u64 entries;	     /* entries of the netns (the same on every CPU's line) */
	__u64 invalid;	     /* packets the protocol trackers refused */
	__u64 insert_failed; /* new entries that clashed at confirmation */
	__u64 drop;	     /* packets dropped by conntrack (clash, table full) */
	__u64 early_drop;    /* entries evicted to make room */
};

/*
 * Read /proc/net/stat/nf_conntrack of the calling thread's netns: a header
 * naming the columns, then one line of hexadecimal counters per CPU
 * (summed here; columns found by name, as kernels add and remove some).
 * Returns 0, or -errno (-ENOENT: no conntrack in the kernel).
 */
int pw_conntrack_stats(struct pw_ct_stats *out);

/* net.netfilter.nf_conntrack_max (global), or -1 when unreadable. */
long pw_conntrack_max(void);

#endif /* PORTWATCH_CONNTRACK_H */
