/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Port-search latency: the search_hist histogram and the helpers that fill
 * it. portsearch.bpf.c measures __inet_hash_connect() on the fentry and
 * kprobe rungs; on the tracepoint rung the syscall tracepoints
 * (portalloc.bpf.c) estimate it with search_estimate_start/_end().
 */
#ifndef PORTWATCH_PORTSEARCH_BPF_H
#define PORTWATCH_PORTSEARCH_BPF_H

#include "common.bpf.h"

/* Port-search time histogram: a single per-CPU element. */
__pw_global struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_search_hist);
} search_hist SEC(".maps");

/* Set by the loader before load: only this netns's port searches count (0: all). */
__pw_global const volatile __u32 search_netns __pw_init(0);

/* floor(log2(v)) for v > 0, 0 for v == 0, without loops. */
static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xffff) << 4;
	v >>= r;
	shift = (v > 0xff) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xf) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	return r | (v >> 1);
}

/* floor(log2(v)) of a 64-bit value: the histogram slot of v ns. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32(v);
}

/* Count one port search of `sk` that took delta_ns. */
static __always_inline void search_record(const struct sock *sk, __u64 delta_ns, bool failed)
{
	struct pw_search_hist *h;
	__u32 zero = 0, slot;

	if (search_netns && sk_netns(sk) != search_netns)
		return;
	h = bpf_map_lookup_elem(&search_hist, &zero);
	if (!h)
		return;
	slot = log2_u64(delta_ns);
	if (slot >= PW_HIST_SLOTS)
		slot = PW_HIST_SLOTS - 1;
	/*
	 * A no-op mask, kept by the barrier (clang would drop it after the
	 * clamp): 6.1's verifier loses the clamp's bound in a 32-bit move.
	 */
	barrier_var(slot);
	h->slots[slot & (PW_HIST_SLOTS - 1)]++;
	h->count++;
	h->failed += failed;
	h->sum_ns += delta_ns;
}

/*
 * The tracepoint rung's estimate, at sys_enter of a socket call: its start
 * time, or 0 when another rung measures the search itself.
 */
static __always_inline __u64 search_estimate_start(void)
{
	return served_by(PW_HOOK_INET_HASH_CONNECT, PW_RUNG_TRACEPOINT) ? bpf_ktime_get_ns() : 0;
}

/*
 * At sys_exit of a connect() on TCP socket `sk` that began at start_ns: on
 * the tracepoint rung, the whole connect() counts as its port search.
 */
static __always_inline void search_estimate_end(const struct sock *sk, __u64 start_ns, long ret)
{
	if (served_by(PW_HOOK_INET_HASH_CONNECT, PW_RUNG_TRACEPOINT) && sk_watched(sk))
		search_record(sk, bpf_ktime_get_ns() - start_ns, ret == -EADDRNOTAVAIL);
}

#endif /* PORTWATCH_PORTSEARCH_BPF_H */
