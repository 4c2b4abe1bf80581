/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Port usage snapshots: the ports iterators (bpf/ports.bpf.c) run in every
 * network namespace and count sockets into rows in the kernel; this turns
 * the rows into per-destination usage against what connect() can use.
 * Shared by `ports`, `top` and `check`.
 */
#ifndef PORTWATCH_PORTS_H
#define PORTWATCH_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include "portwatch.h"

struct portwatch_bpf;

/* One (netns, owner, protocol, destination) row of a snapshot. */
struct pw_port_row {
	struct pw_port_key key;
	struct pw_port_counts counts;
	__u64 total;	    /* sockets of this row, all states */
	__u64 dest_total;   /* sockets of the netns toward this destination and protocol, all owners */
	__u16 range_lo;	    /* the netns's net.ipv4.ip_local_port_range, inclusive */
	__u16 range_hi;
	__u32 usable;	    /* ports connect() can use toward one destination (pw_usable_ports) */
	double utilization; /* dest_total / usable, percent (0 when usable is 0) */
};

/* A network namespace a snapshot walked, and its port settings. */
struct pw_netns {
	__u32 inode;
	char path[64];	     /* how it was entered: /proc/PID/ns/net, /run/netns/NAME */
	bool walked;	     /* entered (false: gone meanwhile; the fields below are 0) */
	__u16 lo, hi;	     /* net.ipv4.ip_local_port_range */
	char reserved[1024]; /* net.ipv4.ip_local_reserved_ports, "" for none */
	__u32 usable;	     /* pw_usable_ports(lo, hi, reserved) */
	long tw_reuse;	     /* net.ipv4.tcp_tw_reuse (0, 1, 2: loopback only), -1 unread */
};

struct pw_ports_snapshot {
	struct pw_port_row *rows; /* malloc'd: fullest destination first, the rows of one
				   * destination together, biggest owner first */
	size_t n;
	struct pw_netns *ns;	   /* malloc'd: the namespaces walked */
	size_t n_ns;
	/* namespaces not entered: gone meanwhile, or another user's without CAP_SYS_PTRACE */
	unsigned int netns_failed;
	__u64 overflow;		   /* sockets not counted: port_rows full (--max-rows) */
};

/*
 * The ports connect() can count on toward one destination: each search of
 * __inet_hash_connect() scans an even-sized window of the range [lo, hi]
 * (an odd range loses a port) and skips the ports of `reserved`
 * (net.ipv4.ip_local_reserved_ports syntax: "8080,9000-9010"; may be empty
 * or NULL), counted here in the window [lo, lo + window). Kernels whose
 * search offset moves after a failure (6.18, not 6.1) can still hand out the
 * odd port over many connects.
 */
__u32 pw_usable_ports(__u16 lo, __u16 hi, const char *reserved);

/*
 * Take a snapshot with the loaded iterators of `skel` (iter_ports_files,
 * iter_ports_tcp): count the sockets that have a file, in every netns at
 * once, then those without (TIME_WAIT) in every netns that has a task with
 * a socket, every /run/netns entry and our own; or only netns `only` (an
 * inode; 0: all). Enters namespaces with setns(2), so the caller must be
 * single-threaded. Returns 0, or -errno with a one-line reason in err
 * (-ENOENT: `only` was not found).
 */
int pw_ports_snapshot(struct portwatch_bpf *skel, __u32 only, struct pw_ports_snapshot *out,
		      char *err, size_t err_len);

/*
 * Count, in the next snapshots, the sockets whose local port is outside
 * [lo, hi] (a network ACL's allowed ephemeral ports) in counts.outside_acl;
 * 0, 0 turns it off.
 */
void pw_ports_set_acl(struct portwatch_bpf *skel, __u16 lo, __u16 hi);

/* Free a snapshot's rows and namespaces and zero it; a zeroed one is fine. */
void pw_ports_free(struct pw_ports_snapshot *s);

/* Order of rows by destination (netns, proto, family, dport, daddr): 0 for the same one. */
int pw_port_row_dest_cmp(const void *a, const void *b);

/*
 * Call fn(ctx, ns) inside each of the n namespaces (setns), back in ours
 * after each; ns->walked says which could be entered, *failed how many could
 * not. Returns 0, or -EFAULT when our own netns could not be re-entered.
 */
int pw_netns_each(struct pw_netns *ns, size_t n, int (*fn)(void *ctx, struct pw_netns *ns),
		  void *ctx, unsigned int *failed);

#endif /* PORTWATCH_PORTS_H */
