/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Data shapes shared by the BPF programs and the loader: ring-buffer records,
 * the socket-owner map's key and value, and the attach rungs. Only types and
 * limits live here; logic lives in *.bpf.h (kernel) and user/ (loader).
 */
#ifndef PORTWATCH_H
#define PORTWATCH_H

#ifndef __VMLINUX_H__ /* BPF programs get the types from vmlinux.h */
#include <linux/types.h>
#endif

#define PW_COMM_LEN 16
/* sockaddr bytes copied at syscall entry: enough for sockaddr_in6. */
#define PW_SOCKADDR_LEN 28

/*
 * Map keys are hashed and compared bytewise, in the kernel and in the loader
 * (qsort with memcmp): implicit padding could hold stack garbage and split
 * one key into several. Every key spells its padding out as a zeroed field;
 * this fails the build of a key that does not (its last field must end it).
 */
#define PW_NO_IMPLICIT_PADDING(type, last)                                                  \
	_Static_assert(sizeof(struct type) == __builtin_offsetof(struct type, last) +       \
						      sizeof(((struct type *)0)->last),     \
		       "struct " #type " has implicit padding")

/* Every ring-buffer record starts with struct pw_rec_hdr; type says which. */
enum pw_rec_type {
	PW_REC_PORT_ALLOC_FAIL = 1,
	PW_REC_CONNECT_FAIL = 2,
	PW_REC_DROP = 3,
};

/* The socket call that needed a local port. */
enum pw_op {
	PW_OP_CONNECT = 1,  /* connect(): TCP port search, UDP autobind */
	PW_OP_BIND = 2,	    /* bind(): an explicit port, or port 0 */
	PW_OP_AUTOBIND = 3, /* listen() or sendmsg() on an unbound socket */
};

/* How an attach point is reached; also the --attach values. Ordered best first. */
enum pw_rung {
	PW_RUNG_FENTRY = 0,	/* fentry/fexit: BTF trampolines, needs ftrace */
	PW_RUNG_KPROBE = 1,	/* kprobe/kretprobe: needs kprobe events */
	PW_RUNG_TRACEPOINT = 2, /* tp_btf and syscall tracepoints: always there */
	PW_RUNG_CLASSIC_TP = 3, /* classic tracepoint where tp_btf is the usual way */
	PW_RUNG_COUNT,
};

/*
 * The BPF side's hook_rung[] entry (a __u8) for a hook no rung serves: the
 * loader's "none chosen", -1 in struct pw_ladder.chosen, stored as a __u8.
 */
#define PW_RUNG_NONE 0xff
_Static_assert((__u8)-1 == PW_RUNG_NONE, "PW_RUNG_NONE is -1 as a __u8");

/*
 * Logical attach points. Each is reached through the best rung that loads and
 * attaches on the running kernel; the BPF side reads hook_rung[] to know which
 * programs own which duty, so no event is reported twice.
 */
enum pw_hook {
	PW_HOOK_TCP_V4_CONNECT = 0, /* return of tcp_v4_connect(): TCP/IPv4 connect; tracepoint
				     * rung: its port search failing, at inet_sock_set_state */
	PW_HOOK_TCP_V6_CONNECT,	    /* return of tcp_v6_connect(): TCP/IPv6 connect; likewise */
	PW_HOOK_INET_CSK_GET_PORT,  /* return of inet_csk_get_port(): TCP bind, listen */
	PW_HOOK_UDP_PORT,	    /* UDP bind/connect/sendmsg: syscall tracepoints */
	PW_HOOK_SOCK_STATE,	    /* sock:inet_sock_set_state: SYN_SENT owners, async fails */
	PW_HOOK_INET_HASH_CONNECT,  /* __inet_hash_connect(): the connect-time port search */
	PW_HOOK_KFREE_SKB,	    /* skb:kfree_skb: dropped packets and their drop reason */
	PW_HOOK_TCP_CONNECT,	    /* entry of tcp_connect(): TCP flow owners; tracepoint rung:
				     * sockops BPF_SOCK_OPS_TCP_CONNECT_CB */
	PW_HOOK_COUNT,
};

/* How the owner of a socket was learnt, for asynchronous events. */
enum pw_owner_src {
	PW_OWNER_NONE = 0,   /* the socket-owner map had no entry */
	PW_OWNER_LIVE = 1,   /* recorded in process context while portwatch ran */
	PW_OWNER_SEEDED = 2, /* found by the start-up iterator over task files */
};

struct pw_rec_hdr {
	__u32 type;  /* enum pw_rec_type */
	__u32 cpu;   /* CPU that produced the record */
	__u64 ts_ns; /* bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME, ns */
};

/* The task behind a socket. */
struct pw_owner {
	__u32 tgid;	 /* process id (tgid) */
	__u32 tid;	 /* thread id */
	__u64 cgroup_id; /* cgroup v2 id (the cgroupfs directory's inode) */
	__u32 netns;	 /* inode of the socket's network namespace */
	__u32 mntns;	 /* inode of the task's mount namespace: the container on cgroup v1 hosts */
	char comm[PW_COMM_LEN]; /* task->comm, NUL-terminated */
};

/*
 * A socket's or a packet's 5-tuple. Addresses are in network byte order;
 * IPv4 uses the first 4 bytes, the rest is zero. Ports are in host byte
 * order, 0 when not (yet) chosen or when the protocol has none (ICMP).
 * Also the key of the flow_owner map, so every unused byte must be zero.
 */
struct pw_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family; /* AF_INET or AF_INET6 */
	__u8 proto;   /* IPPROTO_*: TCP and UDP for sockets; also ICMP for packets */
	__u8 pad;
};
PW_NO_IMPLICIT_PADDING(pw_tuple, pad);

/*
 * PW_REC_PORT_ALLOC_FAIL: a socket call failed for want of a local port.
 * Seen at the return of tcp_v{4,6}_connect / inet_csk_get_port (fexit,
 * kretprobe), at a TCP connect's SYN_SENT -> CLOSE without a local port
 * (sock:inet_sock_set_state, tracepoint rung), or at the return of the
 * connect/bind/listen/send* syscalls (syscall tracepoints).
 * daddr/dport are what the caller asked for (connect, sendto); saddr/sport
 * are the socket's local address and the port asked for (0 = any).
 */
struct pw_port_alloc_fail {
	struct pw_rec_hdr hdr;
	struct pw_owner owner;
	struct pw_tuple tuple;
	__s32 err;	/* positive errno the call returned */
	__u8 op;	/* enum pw_op */
	__u8 rung;	/* enum pw_rung that saw it */
	__u16 range_lo; /* net.ipv4.ip_local_port_range of the socket's netns */
	__u16 range_hi; /* ... read at the time of the failure, inclusive */
	__u16 pad[3];
};

/*
 * PW_REC_CONNECT_FAIL: a TCP connect that left SYN_SENT for CLOSE after a SYN
 * was sent (sock:inet_sock_set_state, since 4.16): timeout, RST, abort, or the
 * owner closing the socket. Runs in any context; the owner comes from the
 * socket-owner map, recorded when the socket entered SYN_SENT.
 */
struct pw_connect_fail {
	struct pw_rec_hdr hdr;
	struct pw_owner owner; /* zero when owner_src is PW_OWNER_NONE */
	struct pw_tuple tuple;
	__s32 err;	/* sk->sk_err, positive; 0 = closed by its owner */
	__u8 owner_src; /* enum pw_owner_src */
	__u8 pad[3];
	__u64 syn_sent_ns; /* time spent in SYN_SENT, ns; 0 = unknown (seeded) */
};

/* Value of the sock_owner map, keyed by the kernel address of struct sock. */
struct pw_sock_owner {
	struct pw_owner owner;
	__u64 syn_sent_ts; /* bpf_ktime_get_boot_ns() on entering SYN_SENT, 0 if not */
	__u8 src;	   /* enum pw_owner_src */
	__u8 pad[7];
};

/* How a dropped packet was tied to a process (struct pw_drop.attribution). */
enum pw_attribution {
	PW_ATTR_NONE = 0,      /* no owner found */
	PW_ATTR_SOCKET = 1,    /* skb->sk is a socket in the sock_owner map */
	PW_ATTR_CONNTRACK = 2, /* the conntrack ORIGINAL tuple is in the flow_owner map */
};

/*
 * Class of a netfilter drop (reason NETFILTER_DROP, since 5.19), from the
 * conntrack entry the skb carries (skb->_nfct). The kernel only tells that
 * no entry is there (PW_NF_NO_ENTRY); the loader splits that into
 * conntrack_full and invalid with the netns's conntrack count and max.
 */
enum pw_nat_class {
	PW_NF_NONE = 0,		  /* not a netfilter drop */
	PW_NF_NAT_CLASH = 1,	  /* unconfirmed entry with SNAT done: its insertion failed */
	PW_NF_FILTER = 2,	  /* a rule dropped a packet of a tracked or untracked flow */
	PW_NF_NO_ENTRY = 3,	  /* no entry: the table was full or conntrack found it invalid;
				   * the loader tells which (user/natclass.h) */
};

/* Which dropped packets trace streams as records (rodata drop_records). */
enum pw_drop_records {
	PW_DROPREC_NONE = 0,
	PW_DROPREC_ATTRIBUTED = 1, /* tied to a process */
	PW_DROPREC_ALL = 2,
	PW_DROPREC_RELATED = 3,	   /* tied to a process, or a netfilter drop of a tracked flow */
};

/*
 * PW_REC_DROP: one dropped packet, from skb:kfree_skb (tp_btf since 5.5 with
 * the reason since 5.17; classic tracepoint as the fallback). Only when
 * trace asks: drops --drops leaves out are counted in pw_drop_stat.filtered;
 * of the others, each key gets drop_key_rate records per second per CPU and
 * all keys together drop_rate (counters.drops_suppressed counts what that
 * ceiling held back). Every drop is counted in drop_counts.
 */
struct pw_drop {
	struct pw_rec_hdr hdr;
	struct pw_owner owner;	  /* zero when attribution is PW_ATTR_NONE */
	struct pw_tuple pkt;	  /* the packet's IP and TCP/UDP headers where it died */
	struct pw_tuple ct_orig;  /* conntrack ORIGINAL tuple (pre-NAT), when has_ct */
	struct pw_tuple ct_reply; /* conntrack REPLY tuple (post-NAT), when has_ct */
	__u64 location;		  /* kernel text address that freed the skb */
	__u32 reason;		  /* enum skb_drop_reason of the running kernel */
	__u32 netns;		  /* inode of the netns of skb->dev, else of skb->sk */
	__u32 ifindex;		  /* skb->dev->ifindex, 0 without a device */
	__u32 ct_status;	  /* nf_conn->status, IPS_* bits (uapi), when has_ct */
	__u8 attribution;	  /* enum pw_attribution */
	__u8 nat_class;		  /* enum pw_nat_class */
	__u8 has_ct;		  /* the skb carried a conntrack entry (not the untracked one) */
	__u8 icmp_type;		  /* ICMP/ICMPv6 header's type, when pkt.proto is one of them */
	__u8 icmp_code;		  /* ... and code */
	__u8 pad[3];
};

#define PW_HIST_SLOTS 32 /* a power of two: the BPF side masks indexes with it */

/*
 * Time of the connect-time port search, one copy per CPU (summed by the
 * loader). Slot i counts samples of [2^i, 2^(i+1)) ns; slot 0 also has 0 ns;
 * the last slot has everything longer. Measured from entry to return of
 * __inet_hash_connect() on the fentry and kprobe rungs; on the tracepoint
 * rung an estimate: sys_enter to sys_exit of connect() on a TCP socket.
 */
struct pw_search_hist {
	__u64 slots[PW_HIST_SLOTS];
	__u64 count;  /* samples: one per connect() that searched */
	__u64 failed; /* searches that found no free port (EADDRNOTAVAIL) */
	__u64 sum_ns; /* sum of the samples, ns */
};

/*
 * Key of the drop_counts map (a per-CPU hash of __u64 packet counts): one
 * row per (drop reason, location, netns, device, protocol, owner, netfilter
 * class). Filled at skb:kfree_skb, since 5.17 with a reason (before:
 * NOT_SPECIFIED).
 */
struct pw_drop_key {
	__u64 location;	 /* kernel text address that freed the skb */
	__u64 cgroup_id; /* attributed owner's cgroup v2 id (its container), 0 when unattributed */
	__u32 reason;	 /* enum skb_drop_reason of the running kernel (names from its BTF) */
	__u32 netns;	/* inode of the netns of skb->dev, else of skb->sk; 0 if neither */
	__u32 ifindex;	/* skb->dev->ifindex, 0 without a device */
	__u32 tgid;	/* attributed owner's process id, 0 when unattributed */
	char comm[PW_COMM_LEN]; /* attributed owner's comm, zero when unattributed */
	__u16 l3proto;	/* skb->protocol, host byte order (0x0800 IPv4, 0x86dd IPv6) */
	__u8 l4proto;	/* IPPROTO_* of the IP header, 0 when there is none */
	__u8 nat_class; /* enum pw_nat_class */
	__u32 mntns;	/* attributed owner's mount namespace inode, 0 when unattributed */
};
PW_NO_IMPLICIT_PADDING(pw_drop_key, mntns);

/*
 * Value of drop_counts, one per CPU (the loader sums them): drops of the key
 * and what trace streamed of them. count - records are the drops trace held
 * back: `filtered` by --drops, the rest sampled (over the key's or the global
 * budget, or lost to a full ring buffer).
 */
struct pw_drop_stat {
	__u64 count;	      /* drops of the key */
	__u64 records;	      /* of them, streamed as PW_REC_DROP records */
	__u64 filtered;	      /* of them, left out by --drops (never streamed) */
	__u64 window;	      /* the second (CLOCK_MONOTONIC) of window_records */
	__u64 window_records; /* records of the key in that second, on this CPU */
};

/*
 * Per netns (map netns_files, key: netns inode), the TCP sockets with a file
 * that are in the kernel's hash tables (any state but CLOSE), by the
 * protocol they count under: what /proc/net/sockstat's "TCP: inuse" (IPv4)
 * and sockstat6's "TCP6: inuse" (IPv6 sockets, v4-mapped ones included) count,
 * less the sockets without a file. Counted by iter/task_file (ports.bpf.c).
 */
struct pw_netns_files {
	__u32 tcp4;
	__u32 tcp6;
};

/*
 * Key of the port_rows map, filled by the ports iterators: one row per
 * (netns, owner, protocol, destination) of the sockets that hold an
 * ephemeral port (local port inside the netns's ip_local_port_range).
 */
struct pw_port_key {
	__u32 netns;		/* inode of the socket's netns */
	__u32 tgid;		/* owner's process id, 0: unowned (e.g. TIME_WAIT) */
	char comm[PW_COMM_LEN]; /* owner's comm, zero when unowned */
	__u8 daddr[16];		/* remote address, network byte order (IPv4: first 4) */
	__u16 dport;		/* remote port, host byte order */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad[3];
};
PW_NO_IMPLICIT_PADDING(pw_port_key, pad);

/*
 * Key of the tw_owner map: a TCP connection that closed into TIME_WAIT, by
 * netns and 5-tuple (the TIME_WAIT socket is a new object, with no file).
 */
struct pw_tw_key {
	__u32 netns;
	__u32 pad;
	struct pw_tuple tuple;
};
PW_NO_IMPLICIT_PADDING(pw_tw_key, tuple);

/* Value of port_rows: sockets of the row by TCP state (UDP: established). */
struct pw_port_counts {
	__u64 established;
	__u64 syn_sent;	  /* also SYN_RECV */
	__u64 time_wait;
	__u64 close_wait; /* also LAST_ACK */
	__u64 fin_wait;	  /* FIN_WAIT1, FIN_WAIT2, CLOSING */
	__u64 other;	  /* CLOSE and anything else */
	__u64 outside_acl; /* of those, live (not TIME_WAIT) sockets whose local port is outside
			    * [acl_lo, acl_hi] */
};

/*
 * connect_counts' value (key: the connecting process's tgid): TCP connects
 * that entered SYN_SENT since the loader started (sock:inet_sock_set_state,
 * 4.16+), by the socket's family (sk_family: an IPv6 socket connecting to an
 * IPv4-mapped address counts as ipv6).
 */
struct pw_connects {
	__u64 ipv4;
	__u64 ipv6;
};

/*
 * Loss and overflow counters, one copy in the BPF object's .bss, read by the
 * loader. Owner-map evictions are derived: inserts - deletes - live entries.
 */
struct pw_counters {
	__u64 ringbuf_drops; /* bpf_ringbuf_reserve() failures: records lost */
	__u64 owner_inserts; /* new keys added to sock_owner */
	__u64 owner_deletes; /* keys removed by portwatch itself */
	__u64 drop_overflow; /* drops counted without their key: drop_counts was full */
	__u64 drops_suppressed; /* drop records trace wanted but drop_rate held back */
	__u64 flow_inserts;	/* new keys added to flow_owner (never deleted by portwatch) */
	__u64 port_rows_overflow; /* sockets not counted by ports: port_rows was full */
	__u64 connect_overflow;	  /* connects top could not count: connect_counts was full */
};

#endif /* PORTWATCH_H */
