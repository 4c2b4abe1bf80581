/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who owns a socket, a flow, a TIME_WAIT connection: the owner maps and
 * the inline helpers that write and read them. The programs that seed and
 * release owners are in owner.bpf.c; the lifecycle is described there.
 * The maps are defined in common.bpf.c with the other shared globals.
 *
 * Glossary of the writers (all in process context, the owner is `current`):
 *   sock_owner_set_current()  make the current task the owner of a socket
 *   sock_owner_refresh()      the same, unless the task owns it already
 *   sock_owner_forget()       the socket is gone: drop its entry
 *   flow_owner_remember()     a 5-tuple's owner, for packets without a socket
 *   udp_owner_seen()          a UDP call succeeded: both of the above
 *   tw_owner_on_close()       a TCP close into TIME_WAIT: keep the last owner
 */
#ifndef PORTWATCH_OWNER_BPF_H
#define PORTWATCH_OWNER_BPF_H

#include "common.bpf.h"

/* struct sock address -> its owner; LRU, sized by the loader (--owner-map-size). */
__pw_global struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct pw_sock_owner);
} sock_owner SEC(".maps");

/*
 * 5-tuple (struct pw_tuple, no netns) -> owner, for packets that no longer
 * carry their socket: a packet dropped after SNAT in another netns is found
 * by its conntrack ORIGINAL tuple. Written when the tuple is final: TCP at
 * tcp_connect() (before the SYN leaves), UDP at the exit of
 * connect() and of the send that autobound it. Stale entries are overwritten
 * by the next socket with the same tuple, or age out (LRU; sized like
 * sock_owner, evictions counted as inserts - live entries).
 */
__pw_global struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pw_tuple);
	__type(value, struct pw_owner);
} flow_owner SEC(".maps");

/*
 * TIME_WAIT owners: the last owner of a TCP socket that left FIN_WAIT1/2 or
 * CLOSING for CLOSE (tcp_time_wait() hands the connection to a TIME_WAIT
 * socket, then closes the original), so that port snapshots of a live
 * session can name who holds a TIME_WAIT port. Only when track_tw_owners.
 */
__pw_global struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pw_tw_key);
	__type(value, struct pw_owner);
} tw_owner SEC(".maps");

/* Set by the loader (top): fill tw_owner. */
__pw_global const volatile bool track_tw_owners __pw_init(false);

/* The current task as the owner of `sk` (process context only). */
static __always_inline void owner_from_current(struct pw_owner *o, const struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid();

	o->tgid = id >> 32;
	o->tid = (__u32)id;
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->mntns = task_mntns((struct task_struct *)bpf_get_current_task());
	o->netns = sk_netns(sk);
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

/* The sock_owner entry of `sk`, NULL if none is known. */
static __always_inline struct pw_sock_owner *sock_owner_of(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	return bpf_map_lookup_elem(&sock_owner, &key);
}

/*
 * Make the current task the owner of `sk` (process context only), replacing
 * any entry. syn_sent_ts: when a TCP socket entered SYN_SENT, else 0.
 */
static __always_inline void sock_owner_set_current(const struct sock *sk, __u64 syn_sent_ts)
{
	struct pw_sock_owner v = {};
	__u64 key = (__u64)sk;

	owner_from_current(&v.owner, sk);
	v.syn_sent_ts = syn_sent_ts;
	v.src = PW_OWNER_LIVE;
	map_upsert_counted(&sock_owner, &key, &v, &counters.owner_inserts);
}

/*
 * Make the current task the owner of `sk` unless it already is: the lookup
 * keeps a UDP sendmsg() hot path to one map read. A socket passed to
 * another process (fork, SCM_RIGHTS) follows its latest user.
 */
static __always_inline void sock_owner_refresh(const struct sock *sk)
{
	struct pw_sock_owner *v = sock_owner_of(sk);

	if (v && v->owner.tgid == bpf_get_current_pid_tgid() >> 32)
		return;
	sock_owner_set_current(sk, 0);
}

/* `sk` is gone: drop its entry, so that the LRU map holds live sockets only. */
static __always_inline void sock_owner_forget(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	if (!bpf_map_delete_elem(&sock_owner, &key))
		__sync_fetch_and_add(&counters.owner_deletes, 1);
}

/*
 * The flow key of a tuple: an IPv4-mapped IPv6 address pair (a dual-stack
 * socket talking IPv4) becomes the IPv4 tuple its packets carry.
 */
static __always_inline void flow_normalize(struct pw_tuple *t)
{
	const __u32 *s = (const __u32 *)t->saddr, *d = (const __u32 *)t->daddr;

	if (t->family != AF_INET6 || s[0] || s[1] || s[2] != bpf_htonl(0xffff) || d[0] || d[1] ||
	    d[2] != bpf_htonl(0xffff))
		return;
	__builtin_memcpy(t->saddr, t->saddr + 12, 4);
	__builtin_memcpy(t->daddr, t->daddr + 12, 4);
	__builtin_memset(t->saddr + 4, 0, 12);
	__builtin_memset(t->daddr + 4, 0, 12);
	t->family = AF_INET;
}

/*
 * Remember `o` as the owner of flow `t` (its unused bytes zero), unless it
 * already is: a UDP send path then costs one lookup. Only when drops are
 * traced, which the loader says through hook_rung.
 */
static __always_inline void flow_owner_remember(struct pw_tuple *t, const struct pw_owner *o)
{
	struct pw_owner *cur;

	if (served_by(PW_HOOK_KFREE_SKB, PW_RUNG_NONE))
		return;
	flow_normalize(t);
	t->pad = 0;
	cur = bpf_map_lookup_elem(&flow_owner, t);
	if (cur && cur->tgid == o->tgid && cur->netns == o->netns)
		return;
	map_upsert_counted(&flow_owner, t, o, &counters.flow_inserts);
}

/*
 * The owner of the flow a packet's conntrack ORIGINAL tuple `t` names, NULL
 * if unknown. An unconnected UDP socket on the wildcard address has no
 * local address in its flow, so UDP also tries the tuple without it.
 */
static __always_inline struct pw_owner *flow_owner_of(const struct pw_tuple *t)
{
	struct pw_owner *o = bpf_map_lookup_elem(&flow_owner, t);
	struct pw_tuple any;

	if (o || t->proto != IPPROTO_UDP)
		return o;
	any = *t;
	__builtin_memset(any.saddr, 0, sizeof(any.saddr));
	return bpf_map_lookup_elem(&flow_owner, &any);
}

/*
 * A UDP call of the current task on `sk` succeeded: the task owns the
 * socket, and once the socket has its port, the flow toward the address of
 * connect() (the socket's peer) or of sendto() (`sa`, NULL if the call gave
 * none). bind() gives a socket no flow: its caller passes with_flow false.
 */
static __always_inline void udp_owner_seen(const struct sock *sk, bool with_flow, const __u8 *sa)
{
	struct pw_tuple t = {};
	struct pw_owner o = {};

	sock_owner_refresh(sk);
	if (!with_flow || !BPF_CORE_READ(sk, __sk_common.skc_num))
		return;
	tuple_from_sk(&t, sk);
	if (sa)
		tuple_set_sockaddr(&t, sa, false);
	if (!t.dport)
		return;
	owner_from_current(&o, sk);
	flow_owner_remember(&t, &o);
}

/*
 * TCP socket `sk` reaches CLOSE from `oldstate`. Leaving FIN_WAIT1/2 or
 * CLOSING for CLOSE is tcp_time_wait() handing the connection over to a
 * TIME_WAIT socket: its owner, known still, is kept for that socket (by
 * netns and tuple: the TIME_WAIT socket is a new object). Only when
 * track_tw_owners; call before sock_owner_forget().
 */
static __always_inline void tw_owner_on_close(const struct sock *sk, int oldstate)
{
	struct pw_sock_owner *so;
	struct pw_tw_key key = {};

	if (!track_tw_owners ||
	    (oldstate != TCP_FIN_WAIT1 && oldstate != TCP_FIN_WAIT2 && oldstate != TCP_CLOSING))
		return;
	so = sock_owner_of(sk);
	if (!so)
		return;
	key.netns = sk_netns(sk);
	tuple_from_sk(&key.tuple, sk);
	bpf_map_update_elem(&tw_owner, &key, &so->owner, BPF_ANY);
}

/*
 * The last owner of a timewait socket's connection, NULL if no live session
 * saw it close. netns, family, dport (host order) and daddr are what the
 * caller read already; the local half is read here from `skc`, the only
 * part of a timewait socket there is.
 */
static __always_inline struct pw_owner *tw_owner_of(const struct sock_common *skc, __u32 netns,
						    __u16 family, __u16 dport, const __u8 *daddr)
{
	struct pw_tw_key tk = {};

	if (!track_tw_owners)
		return NULL;
	tk.netns = netns;
	tk.tuple.family = family;
	tk.tuple.proto = IPPROTO_TCP;
	tk.tuple.sport = BPF_CORE_READ(skc, skc_num);
	tk.tuple.dport = dport;
	__builtin_memcpy(tk.tuple.daddr, daddr, sizeof(tk.tuple.daddr));
	if (family == AF_INET)
		bpf_core_read(tk.tuple.saddr, 4, &skc->skc_rcv_saddr);
	else
		bpf_core_read(tk.tuple.saddr, 16, &skc->skc_v6_rcv_saddr);
	return bpf_map_lookup_elem(&tw_owner, &tk);
}

#endif /* PORTWATCH_OWNER_BPF_H */
