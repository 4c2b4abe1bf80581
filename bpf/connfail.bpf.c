// SPDX-License-Identifier: GPL-2.0
/*
 * Asynchronous connect failures, from sock:inet_sock_set_state (since 4.16).
 *
 * CLOSE -> SYN_SENT runs in the caller of connect(), inside tcp_v{4,6}_connect:
 * the owner is recorded there, with the time. SYN_SENT -> CLOSE runs wherever
 * the connect ends: the retransmit timer (ETIMEDOUT), softirq on a RST
 * (ECONNREFUSED), another task's sock_diag destroy (ECONNABORTED), or the
 * owner's close(). The owner then comes from the map, never from `current`.
 *
 * The same tracepoint is where TCP owners begin and end (SYN_SENT, CLOSE:
 * the helpers and the whole lifecycle are in owner.bpf.h/owner.bpf.c),
 * where top's per-process connect counts are kept, and where the tracepoint
 * rung sees a connect's port search fail (tcp_search_failed(),
 * portalloc.bpf.h).
 */
#include "portalloc.bpf.h"
#include <bpf/bpf_tracing.h>

/* Set by the loader (top): count TCP connects per process in connect_counts. */
const volatile bool count_connects = false;

/* tgid -> TCP connects since start (entering SYN_SENT), when count_connects. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pw_connects);
} connect_counts SEC(".maps");

/*
 * A connect() that fails its port search also goes SYN_SENT -> CLOSE, with no
 * error and no segment sent: that one is a port-allocation failure
 * (portalloc.bpf.h). tcp_sock.segs_out counts segments sent (since 4.6), from
 * before the SYN is handed to IP: a SYN dropped on output counts.
 */
static __always_inline bool syn_was_sent(const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	return BPF_CORE_READ(tp, segs_out) > 0;
}

/* Emit a PW_REC_CONNECT_FAIL for `sk`, its owner from sock_owner (any context). */
static __always_inline void emit_connect_fail(const struct sock *sk, int err)
{
	struct pw_sock_owner *v = sock_owner_of(sk);
	struct pw_connect_fail *e;

	e = record_reserve(sizeof(*e), PW_REC_CONNECT_FAIL);
	if (!e)
		return;
	if (v) {
		e->owner = v->owner;
		e->owner_src = v->src;
		e->syn_sent_ns = v->syn_sent_ts ? e->hdr.ts_ns - v->syn_sent_ts : 0;
	} else {
		__builtin_memset(&e->owner, 0, sizeof(e->owner));
		e->owner.netns = sk_netns(sk);
		e->owner_src = PW_OWNER_NONE;
		e->syn_sent_ns = 0;
	}
	tuple_from_sk(&e->tuple, sk);
	e->err = err;
	bpf_ringbuf_submit(e, 0);
}

/* One more connect of process tgid; a full map drops the count, as top says. */
static __always_inline void count_connect(__u32 tgid, const struct sock *sk)
{
	struct pw_connects zero = {}, *n = map_lookup_or_try_init(&connect_counts, &tgid, &zero);

	if (!n)
		__sync_fetch_and_add(&counters.connect_overflow, 1);
	else if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6)
		__sync_fetch_and_add(&n->ipv6, 1);
	else
		__sync_fetch_and_add(&n->ipv4, 1);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	int err;

	/* Most transitions matter to nobody here: leave before reading sk. */
	if (newstate != TCP_SYN_SENT && newstate != TCP_CLOSE)
		return 0;
	if (sk_protocol(sk) != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT) {
		sock_owner_set_current(sk, bpf_ktime_get_boot_ns());
		if (count_connects)
			count_connect(bpf_get_current_pid_tgid() >> 32, sk);
		return 0;
	}
	if (oldstate == TCP_SYN_SENT) {
		err = BPF_CORE_READ(sk, sk_err);
		if (err || syn_was_sent(sk))
			emit_connect_fail(sk, err);
		else
			tcp_search_failed(sk);
	}
	tw_owner_on_close(sk, oldstate);
	sock_owner_forget(sk);
	return 0;
}
