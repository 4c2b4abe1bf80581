/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel struct drift, resolved with CO-RE at load time. Each ___old flavour
 * names the layout it stands for and the kernel that changed it.
 */
#ifndef PORTWATCH_CORE_FIXES_BPF_H
#define PORTWATCH_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/*
 * net->ipv4.ip_local_ports: until v6.7 a seqlock and `int range[2]`
 * (6.1 has this); since v6.8 a single u32, lo in bits 0-15 and hi in 16-31,
 * read locklessly by inet_get_local_port_range(). CO-RE finds a field of
 * another kind (int vs array) incompatible, so exactly one flavour "exists".
 */
struct local_ports___new {
	u32 range;
} __attribute__((preserve_access_index));

struct netns_ipv4___new {
	struct local_ports___new ip_local_ports;
} __attribute__((preserve_access_index));

struct net___new {
	struct netns_ipv4___new ipv4;
} __attribute__((preserve_access_index));

struct local_ports___old {
	int range[2];
} __attribute__((preserve_access_index));

struct netns_ipv4___old {
	struct local_ports___old ip_local_ports;
} __attribute__((preserve_access_index));

struct net___old {
	struct netns_ipv4___old ipv4;
} __attribute__((preserve_access_index));

/* The netns's net.ipv4.ip_local_port_range, inclusive, host byte order. */
static __always_inline void netns_port_range(struct net *net, __u16 *lo, __u16 *hi)
{
	struct net___new *new = (void *)net;
	struct net___old *old = (void *)net;

	if (bpf_core_field_exists(new->ipv4.ip_local_ports.range)) {
		__u32 range = BPF_CORE_READ(new, ipv4.ip_local_ports.range);

		*lo = range & 0xffff;
		*hi = range >> 16;
	} else {
		*lo = BPF_CORE_READ(old, ipv4.ip_local_ports.range[0]);
		*hi = BPF_CORE_READ(old, ipv4.ip_local_ports.range[1]);
	}
}

/* sk->sk_protocol: a bitfield of sk_flags until v5.6, a u16 since. */
static __always_inline __u8 sk_protocol(const struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/*
 * sk->sk_userlocks (SOCK_*_LOCK bits): a 4-bit bitfield of struct sock in
 * 6.1 and before, a u8 of its own in later kernels (6.18 here).
 */
static __always_inline __u8 sk_userlocks(const struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_userlocks);
}

/*
 * __inet_hash_connect()'s socket and return in a fentry/fexit ctx (an array
 * of u64: the arguments, then for fexit the return). The socket is argument
 * 1 on every kernel. The arguments after it changed (6.12 inserted
 * hash_port0), so kernels that have bpf_get_func_ret (v5.17, commit
 * f92c1e183604 "bpf: Add get_func_[arg|ret|arg_cnt] helpers") read the return
 * with it; before 5.17 the function had the four arguments of 5.10
 * (death_row, sk, port_offset, check_established): the return is ctx[4],
 * read first, as a load at a constant offset (5.10's verifier refuses a load
 * through a ctx pointer moved by an add, which a read inside the branch
 * became). The helper's branch is dead on 5.10 and never verified.
 */
static __always_inline __u64 inet_hash_connect_sk(unsigned long long *ctx)
{
	return ctx[1];
}

static __always_inline int inet_hash_connect_ret(unsigned long long *ctx)
{
	__u64 ret = ctx[4];

	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_func_ret))
		bpf_get_func_ret(ctx, &ret);
	return (int)ret;
}

#endif /* PORTWATCH_CORE_FIXES_BPF_H */
