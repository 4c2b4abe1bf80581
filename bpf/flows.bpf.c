// SPDX-License-Identifier: GPL-2.0
/*
 * TCP flows into flow_owner, for attributing packets dropped after NAT.
 *
 * BPF_SOCK_OPS_TCP_CONNECT_CB runs in tcp_connect(), after the port search
 * and before the SYN is built, in the connecting task: the 5-tuple is final
 * and no packet of it has left yet. Attached to the cgroup v2 root, so it
 * sees every socket; since 4.13 (bpf_skc_to_tcp_sock: 5.9).
 */
#include "common.bpf.h"

SEC("sockops")
int sockops_flows(struct bpf_sock_ops *skops)
{
	struct pw_sock_owner *so;
	struct bpf_sock *bsk;
	struct tcp_sock *tp;
	struct pw_tuple t = {};
	__u64 key;

	if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB)
		return 1;
	bsk = skops->sk;
	if (!bsk)
		return 1;
	tp = bpf_skc_to_tcp_sock(bsk);
	if (!tp)
		return 1;
	/* The owner was recorded on entering SYN_SENT, just before. */
	key = (__u64)tp;
	so = bpf_map_lookup_elem(&sock_owner, &key);
	if (!so)
		return 1;
	tuple_from_sk(&t, (const struct sock *)tp);
	flow_record(&t, &so->owner);
	return 1;
}
