// SPDX-License-Identifier: GPL-2.0
/*
 * The ports snapshot, counted in the kernel into port_rows by (netns, owner,
 * protocol, destination) and TCP state, so userspace reads rows, never
 * sockets. Only sockets holding an ephemeral port count: the local port is
 * inside the netns's ip_local_port_range, and there is a destination.
 *
 * iter/task_file (5.8+) walks every task's files once, across all netns: it
 * counts the TCP/UDP sockets that have a file, with the task as the owner.
 * iter/tcp (5.9+) then walks the TCP sockets of the netns it is created in:
 * it counts those without a file (TIME_WAIT, orphans closing): unowned, but
 * for TIME_WAIT sockets whose connection a live session (top) saw close.
 */
#include "owner.bpf.h"

/* Not preallocated: 64Ki preallocated rows cost ~10 MB and ~5 ms per snapshot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536); /* sized by the loader (--max-rows) */
	__type(key, struct pw_port_key);
	__type(value, struct pw_port_counts);
} port_rows SEC(".maps");

/* Sockets counted already: a socket shared by forked processes counts once. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* memory only for the sockets seen */
	__uint(max_entries, 1 << 20);
	__type(key, __u64);
	__type(value, __u8);
} ports_seen SEC(".maps");

/* Set by the loader between snapshots: a network ACL's allowed local ports (0, 0: none). */
__u16 acl_lo = 0, acl_hi = 0;

/* netns inode -> the tgid of a task with a socket there: how the loader enters it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} netns_pid SEC(".maps");

/* What count_socket() needs of a socket, read by whichever way its caller can. */
struct sock_view {
	struct net *net;
	const struct sock_common *skc; /* for tw_owner_of()'s reads */
	__u16 family;
	__u16 lport; /* host order */
	__u16 dport; /* host order */
	__u8 daddr[16];
};

/*
 * netns inode -> its hashed TCP sockets with a file (struct pw_netns_files):
 * the loader compares them with the netns's own counts to learn whether
 * iter/tcp can find anything there that this iterator did not.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pw_netns_files);
} netns_files SEC(".maps");

/* One more hashed TCP socket with a file in netns. */
static __always_inline void count_hashed(__u32 netns, __u16 family)
{
	struct pw_netns_files zero = {}, *f = map_lookup_or_try_init(&netns_files, &netns, &zero);

	if (!f)
		return; /* the loader then walks the netns: its counts differ */
	if (family == AF_INET6)
		f->tcp6++;
	else
		f->tcp4++;
}

/*
 * The last netns seen (its address) and its inode and port range: an
 * iterator meets one netns's sockets in long runs (iter/tcp only ever one),
 * so the reads repeat. Iterators run one at a time, from the loader's
 * read(). The cache holds within one run only, the run that filled it
 * (range_session: bpf_iter_meta.session_id, new for each iterator fd), so
 * that a netns freed between runs and another allocated at its address
 * are never confused.
 */
static __u64 range_session;
static __u64 range_net;
static __u32 range_inum;
static __u16 range_lo, range_hi;

/*
 * Count socket `v` in its port_rows row, if it holds an ephemeral port: the
 * owner is `task` (NULL: none, or a TIME_WAIT owner). `session` is the
 * iterator run's, for the netns cache.
 */
static __always_inline void count_socket(const struct sock_view *v, __u8 proto, int state,
					 const struct task_struct *task, __u64 session)
{
	struct net *net = v->net; /* a local: CO-RE must not relocate v->net */
	struct pw_port_counts zero = {}, *c;
	struct pw_port_key key = {};
	struct pw_owner *o;

	if (session != range_session || (__u64)net != range_net) {
		netns_port_range(net, &range_lo, &range_hi);
		range_inum = BPF_CORE_READ(net, ns.inum);
		range_net = (__u64)net;
		range_session = session;
	}
	if (v->lport < range_lo || v->lport > range_hi || !v->dport)
		return;
	key.netns = range_inum;
	key.family = v->family;
	key.proto = proto;
	key.dport = v->dport;
	__builtin_memcpy(key.daddr, v->daddr, sizeof(key.daddr));
	if (task) {
		key.tgid = BPF_CORE_READ(task, tgid);
		BPF_CORE_READ_STR_INTO(&key.comm, task, comm);
	} else if (state == TCP_TIME_WAIT || state == TCP_FIN_WAIT2) {
		/* Both can be timewait sockets, whose connection a session saw close. */
		o = tw_owner_of(v->skc, key.netns, key.family, key.dport, key.daddr);
		if (o) {
			key.tgid = o->tgid;
			__builtin_memcpy(key.comm, o->comm, sizeof(key.comm));
		}
	}
	c = map_lookup_or_try_init(&port_rows, &key, &zero);
	if (!c) {
		__sync_fetch_and_add(&counters.port_rows_overflow, 1);
		return;
	}
	/* TIME_WAIT sockets expect no reply any more: only live ones count. */
	if (acl_hi && state != TCP_TIME_WAIT && (v->lport < acl_lo || v->lport > acl_hi))
		c->outside_acl++;
	switch (state) {
	case TCP_ESTABLISHED:
		c->established++;
		break;
	case TCP_SYN_SENT:
	case TCP_SYN_RECV:
		c->syn_sent++;
		break;
	case TCP_TIME_WAIT:
		c->time_wait++;
		break;
	case TCP_CLOSE_WAIT:
	case TCP_LAST_ACK:
		c->close_wait++;
		break;
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSING:
		c->fin_wait++;
		break;
	default:
		c->other++;
	}
}

/* Listeners and embryonic request sockets hold the service's port, not an ephemeral one. */
static __always_inline bool tcp_counts(int state)
{
	return state != TCP_LISTEN && state != TCP_NEW_SYN_RECV;
}

SEC("iter/task_file")
int iter_ports_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct sock_view v = {};
	struct sock *sk;
	__u32 netns, tgid;
	__u64 key;
	__u8 one = 1;
	int state;

	if (!task || !file)
		return 0;
	sk = file_watched_sock(file);
	if (!sk)
		return 0;
	netns = sk_netns(sk);
	tgid = BPF_CORE_READ(task, tgid);
	bpf_map_update_elem(&netns_pid, &netns, &tgid, BPF_NOEXIST);
	state = BPF_CORE_READ(sk, __sk_common.skc_state);
	key = (__u64)sk;
	/*
	 * Sized by the loader from the host's open files; should it fill up
	 * anyway, a socket shared by two processes may count twice rather
	 * than any socket not at all.
	 */
	if (bpf_map_update_elem(&ports_seen, &key, &one, BPF_NOEXIST) == -EEXIST)
		return 0;
	v.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (sk_protocol(sk) == IPPROTO_TCP) {
		if (state != TCP_CLOSE)
			count_hashed(netns, v.family);
		if (!tcp_counts(state))
			return 0;
	}
	/* sk came from file->private_data: a plain address, read with probes. */
	v.net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	v.skc = &sk->__sk_common;
	v.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	v.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (v.family == AF_INET)
		bpf_core_read(v.daddr, 4, &sk->__sk_common.skc_daddr);
	else
		bpf_core_read(v.daddr, 16, &sk->__sk_common.skc_v6_daddr);
	count_socket(&v, sk_protocol(sk), sk_protocol(sk) == IPPROTO_UDP ? TCP_ESTABLISHED : state,
		     task, ctx->meta->session_id);
	return 0;
}

SEC("iter/tcp")
int iter_ports_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct sock_view v = {};
	int state;

	if (!skc)
		return 0;
	/*
	 * skc is a trusted BTF pointer: plain (CO-RE relocated) loads, no
	 * bpf_probe_read_kernel() calls, which cost a fifth of a snapshot of
	 * 100k TIME_WAIT sockets.
	 */
	state = skc->skc_state;
	if (!tcp_counts(state))
		return 0;
	/*
	 * A full socket with a file was counted with its owner already. A
	 * timewait socket is no struct sock: only its sock_common may be read.
	 */
	if (state != TCP_TIME_WAIT && BPF_CORE_READ((struct sock *)skc, sk_socket))
		return 0;
	/*
	 * An orphan in FIN_WAIT2 lives on as a timewait socket with that
	 * substate (tcp_time_wait()); ss shows it as FIN-WAIT-2, and so do we.
	 */
	if (state == TCP_TIME_WAIT &&
	    BPF_CORE_READ((struct inet_timewait_sock *)skc, tw_substate) == TCP_FIN_WAIT2)
		state = TCP_FIN_WAIT2;
	v.net = skc->skc_net.net;
	v.skc = skc;
	v.family = skc->skc_family;
	v.lport = skc->skc_num;
	v.dport = bpf_ntohs(skc->skc_dport);
	if (v.family == AF_INET)
		__builtin_memcpy(v.daddr, &skc->skc_daddr, 4);
	else
		__builtin_memcpy(v.daddr, &skc->skc_v6_daddr, 16);
	count_socket(&v, IPPROTO_TCP, state, NULL, ctx->meta->session_id);
	return 0;
}
