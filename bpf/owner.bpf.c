// SPDX-License-Identifier: GPL-2.0
/*
 * Seeds the socket-owner map with the sockets that existed before portwatch
 * attached: an iterator over every task's open files (iter/task_file, since
 * 5.8) keeps the IPv4/IPv6 TCP/UDP sockets. It visits each file table once
 * (threads sharing one are skipped) and never replaces a live entry. A
 * connected socket's 5-tuple also seeds flow_owner, so that a drop of an
 * existing flow after NAT in another netns is attributed by conntrack.
 * Forgets the owner of a UDP socket when the socket is released.
 */
#include "common.bpf.h"
#include <bpf/bpf_tracing.h>

/* Sockets seeded; the loader reports it. */
__u64 seeded = 0;

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
		flow_record(&t, &v.owner);
	return 0;
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
		owner_forget((const struct sock *)sk);
	return 1;
}
