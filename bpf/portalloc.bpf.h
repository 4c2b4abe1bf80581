/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The port-allocation failure record and the check the tracepoint rung
 * makes at sock:inet_sock_set_state (connfail.bpf.c runs it: one program
 * per tracepoint, several duties). The other rungs and the syscall
 * tracepoints are in portalloc.bpf.c.
 */
#ifndef PORTWATCH_PORTALLOC_BPF_H
#define PORTWATCH_PORTALLOC_BPF_H

#include "owner.bpf.h"

/* sk_userlocks bit: bind() fixed the local address (SOCK_BINDADDR_LOCK, include/net/sock.h). */
#define SOCK_BINDADDR_LOCK 4

/*
 * Emit a PW_REC_PORT_ALLOC_FAIL for the current task. `t` is the tuple to
 * report (the caller has merged the socket's view with the call's sockaddr).
 */
static __always_inline void emit_port_alloc_fail(const struct sock *sk, const struct pw_tuple *t,
						 __u8 op, __s32 err, __u8 rung)
{
	struct pw_port_alloc_fail *e;

	e = record_reserve(sizeof(*e), PW_REC_PORT_ALLOC_FAIL);
	if (!e)
		return;
	owner_from_current(&e->owner, sk);
	e->tuple = *t;
	e->err = err;
	e->op = op;
	e->rung = rung;
	netns_port_range(BPF_CORE_READ(sk, __sk_common.skc_net.net), &e->range_lo, &e->range_hi);
	bpf_ringbuf_submit(e, 0);
}

/*
 * A TCP socket left SYN_SENT for CLOSE with no error and no segment sent:
 * on the tracepoint rung of the connect hooks, a port search that failed.
 * tcp_v{4,6}_connect() enter SYN_SENT, call inet_hash_connect() and on its
 * error go to CLOSE at once, in the caller's context. For a socket without
 * a port (inet_num 0) __inet_hash_connect() sets inet_sport only when it
 * found one, and fails with -EADDRNOTAVAIL (no port of the range is free
 * toward this destination) or -ENOMEM (a bind bucket could not be
 * allocated, GFP_ATOMIC): sport 0 here is one of the two, reported as
 * EADDRNOTAVAIL, the only one that is about ports. A socket with a port
 * (bind() first) that cannot have the 4-tuple fails the same way, but so
 * do its later failures (route, tcp_connect()): those stay with the
 * syscall tracepoints, which see the error (port_alloc_op()).
 * The tuple is the socket's; the local address is left out unless bind()
 * fixed it, as the kernel resets it right after (inet_bhash2_reset_saddr(),
 * 6.1+) and the other rungs see it so.
 */
static __always_inline void tcp_search_failed(const struct sock *sk)
{
	const struct inet_sock *inet = (const struct inet_sock *)sk;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	struct pw_tuple t = {};

	if (!served_by(family == AF_INET ? PW_HOOK_TCP_V4_CONNECT : PW_HOOK_TCP_V6_CONNECT,
		       PW_RUNG_TRACEPOINT) ||
	    BPF_CORE_READ(inet, inet_sport))
		return;
	tuple_from_sk(&t, sk);
	if (!(sk_userlocks(sk) & SOCK_BINDADDR_LOCK))
		__builtin_memset(t.saddr, 0, sizeof(t.saddr));
	emit_port_alloc_fail(sk, &t, PW_OP_CONNECT, EADDRNOTAVAIL, PW_RUNG_TRACEPOINT);
}

#endif /* PORTWATCH_PORTALLOC_BPF_H */
