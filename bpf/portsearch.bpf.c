// SPDX-License-Identifier: GPL-2.0
/*
 * Time of the connect-time port search, __inet_hash_connect(), which tries
 * the ports of the range toward one destination: a nearly full range makes
 * connect() slow before it makes it fail. fentry/fexit and kprobe/kretprobe
 * rungs; the tracepoint rung's estimate is made by the syscall tracepoints
 * (portalloc.bpf.c) with the helpers of portsearch.bpf.h.
 *
 * Its arguments changed across kernels (6.12+ inserts hash_port0), so
 * fentry/fexit read the socket and the return through core_fixes.bpf.h
 * rather than a fixed prototype.
 */
#include "portsearch.bpf.h"
#include <bpf/bpf_tracing.h>

struct pw_search {
	__u64 start_ns; /* bpf_ktime_get_ns() at entry */
	__u64 sk;	/* struct sock * searching */
};

/* LRU, as a thread can die mid-search and leave its entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct pw_search);
} searches SEC(".maps");

/* At entry of __inet_hash_connect(): the thread's search starts now. */
static __always_inline void search_begin(__u64 sk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pw_search s = { .start_ns = bpf_ktime_get_ns(), .sk = sk };

	bpf_map_update_elem(&searches, &tid, &s, BPF_ANY);
}

/* At its return: count the thread's search, failed if no port was free. */
static __always_inline void search_end(int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pw_search *s = bpf_map_lookup_elem(&searches, &tid);

	if (!s)
		return;
	search_record((struct sock *)s->sk, bpf_ktime_get_ns() - s->start_ns,
		      ret == -EADDRNOTAVAIL);
	bpf_map_delete_elem(&searches, &tid);
}

SEC("fentry/__inet_hash_connect")
int fentry___inet_hash_connect(unsigned long long *ctx)
{
	search_begin(inet_hash_connect_sk(ctx));
	return 0;
}

SEC("fexit/__inet_hash_connect")
int fexit___inet_hash_connect(unsigned long long *ctx)
{
	search_end(inet_hash_connect_ret(ctx));
	return 0;
}

SEC("kprobe/__inet_hash_connect")
int BPF_KPROBE(kprobe___inet_hash_connect, void *death_row, struct sock *sk)
{
	search_begin((__u64)sk);
	return 0;
}

SEC("kretprobe/__inet_hash_connect")
int BPF_KRETPROBE(kretprobe___inet_hash_connect, int ret)
{
	search_end(ret);
	return 0;
}
