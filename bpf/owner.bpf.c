// SPDX-License-Identifier: GPL-2.0
/*
 * The owner lifecycle: who owns each socket (sock_owner), each flow
 * (flow_owner) and each TIME_WAIT connection (tw_owner). The maps and the
 * helpers other units call are in owner.bpf.h.
 *
 *   seed     at start, iter_seed_owners (below) records the sockets that
 *            existed before portwatch attached, and their flows.
 *   record   in process context, the task that uses a socket becomes its
 *            owner: TCP on entering SYN_SENT (tp_inet_sock_set_state,
 *            connfail.bpf.c, which shares that tracepoint), UDP at each
 *            successful bind/connect/send (the syscall tracepoints,
 *            portalloc.bpf.c, in sessions that follow syscalls). A TCP
 *            flow at tcp_connect() (below: fentry, kprobe, or sockops on
 *            the tracepoint rung); a UDP flow with the UDP owner.
 *   forget   TCP at CLOSE (tp_inet_sock_set_state), keeping a TIME_WAIT
 *            owner first; UDP at release, cg_sock_release (below).
 *   evict    the maps are LRU: what is never forgotten (flows, TIME_WAIT
 *            owners, sockets whose end went unseen) ages out; the loader reports
 *            sock_owner's evictions as inserts - deletes - live entries.
 */
#include "owner.bpf.h"
#include <bpf/bpf_tracing.h>

/* Sockets seeded; the loader reports it. */
__u64 seeded = 0;

/*
 * Seeds the socket-owner map with the sockets that existed before portwatch
 * attached: an iterator over every task's open files (iter/task_file, since
 * 5.8) keeps the IPv4/IPv6 TCP/UDP sockets. It visits each file table once
 * (threads sharing one are skipped) and never replaces a live entry. A
 * connected socket's 5-tuple also seeds flow_owner, so that a drop of an
 * existing flow after NAT in another netns is attributed by conntrack.
 */
SEC("iter/task_file")
int iter_seed_owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct pw_sock_owner v = {};
	struct pw_tuple t = {};
	struct sock *sk;
	__u64 key;

	if (!task || !file)
		return 0;
	sk = file_watched_sock(file);
	if (!sk)
		return 0;

	v.owner.tgid = BPF_CORE_READ(task, tgid);
	v.owner.tid = BPF_CORE_READ(task, pid);
	v.owner.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	v.owner.mntns = task_mntns(task);
	v.owner.netns = sk_netns(sk);
	BPF_CORE_READ_STR_INTO(&v.owner.comm, task, comm);
	v.src = PW_OWNER_SEEDED;
	key = (__u64)sk;
	if (!bpf_map_update_elem(&sock_owner, &key, &v, BPF_NOEXIST)) {
		__sync_fetch_and_add(&counters.owner_inserts, 1);
		seeded++;
	}
	tuple_from_sk(&t, sk);
	if (t.sport && t.dport)
		flow_owner_remember(&t, &v.owner);
	return 0;
}

/*
 * TCP flows into flow_owner, for attributing packets dropped after NAT.
 * tcp_connect() runs after the port search and before the SYN is built, in
 * the connecting task: the 5-tuple is final and no packet of it has left
 * yet. Its owner was recorded on entering SYN_SENT, just before.
 */
static __always_inline void tcp_flow_start(const struct sock *sk)
{
	struct pw_sock_owner *so = sock_owner_of(sk);
	struct pw_tuple t = {};

	if (!so)
		return;
	tuple_from_sk(&t, sk);
	flow_owner_remember(&t, &so->owner);
}

SEC("fentry/tcp_connect")
int BPF_PROG(fentry_tcp_connect, struct sock *sk)
{
	tcp_flow_start(sk);
	return 0;
}

SEC("kprobe/tcp_connect")
int BPF_KPROBE(kprobe_tcp_connect, struct sock *sk)
{
	tcp_flow_start(sk);
	return 0;
}

/*
 * The tracepoint rung of tcp_connect: BPF_SOCK_OPS_TCP_CONNECT_CB, run by
 * tcp_connect() itself. Attached to the cgroup v2 root, so it sees every
 * socket (since 4.13; bpf_skc_to_tcp_sock: 5.9), but it runs for every
 * sockops callback of every TCP socket: the fentry and kprobe rungs, which
 * run once per connect, are cheaper.
 */
SEC("sockops")
int sockops_flows(struct bpf_sock_ops *skops)
{
	struct bpf_sock *bsk;
	struct tcp_sock *tp;

	if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB)
		return 1;
	bsk = skops->sk;
	if (!bsk)
		return 1;
	tp = bpf_skc_to_tcp_sock(bsk);
	if (tp)
		tcp_flow_start((const struct sock *)tp);
	return 1;
}

/*
 * A UDP socket released (the close of its last file): its owner leaves the
 * map, so the LRU map holds open sockets only and owner_evictions counts
 * owners still needed. TCP owners leave at CLOSE (connfail.bpf.c): this hook
 * runs in inet_release() before the protocol's close, which still reports
 * the connect it ends and the TIME_WAIT it starts. cgroup/sock_release
 * (5.9+), attached at the cgroup v2 root; the ctx is the struct sock.
 */
SEC("cgroup/sock_release")
int cg_sock_release(struct bpf_sock *sk)
{
	if (sk->protocol == IPPROTO_UDP)
		sock_owner_forget((const struct sock *)sk);
	return 1;
}
