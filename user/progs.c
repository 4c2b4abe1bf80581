// SPDX-License-Identifier: GPL-2.0
#include "progs.h"

#include "portwatch.skel.h"
#include "rungs.h"

#define PW_PROG_OFF(name) offsetof(struct portwatch_bpf, progs.name)
#define HOOK(name, hook, rung) { PW_PROG_OFF(name), PW_PROG_HOOK, PW_HOOK_##hook, PW_RUNG_##rung }
#define ROLE(name, role)       { PW_PROG_OFF(name), PW_PROG_##role, 0, 0 }

const struct pw_prog pw_progs[] = {
	/* The hooks' own programs, in enum pw_hook order (udp_port has none). */
	HOOK(fexit_tcp_v4_connect, TCP_V4_CONNECT, FENTRY),
	HOOK(kprobe_tcp_v4_connect, TCP_V4_CONNECT, KPROBE),
	HOOK(kretprobe_tcp_v4_connect, TCP_V4_CONNECT, KPROBE),
	HOOK(fexit_tcp_v6_connect, TCP_V6_CONNECT, FENTRY),
	HOOK(kprobe_tcp_v6_connect, TCP_V6_CONNECT, KPROBE),
	HOOK(kretprobe_tcp_v6_connect, TCP_V6_CONNECT, KPROBE),
	HOOK(fexit_inet_csk_get_port, INET_CSK_GET_PORT, FENTRY),
	HOOK(kprobe_inet_csk_get_port, INET_CSK_GET_PORT, KPROBE),
	HOOK(kretprobe_inet_csk_get_port, INET_CSK_GET_PORT, KPROBE),
	HOOK(tp_inet_sock_set_state, SOCK_STATE, TRACEPOINT),
	HOOK(fentry___inet_hash_connect, INET_HASH_CONNECT, FENTRY),
	HOOK(fexit___inet_hash_connect, INET_HASH_CONNECT, FENTRY),
	HOOK(kprobe___inet_hash_connect, INET_HASH_CONNECT, KPROBE),
	HOOK(kretprobe___inet_hash_connect, INET_HASH_CONNECT, KPROBE),
	HOOK(tp_kfree_skb, KFREE_SKB, TRACEPOINT),
	HOOK(tpc_kfree_skb, KFREE_SKB, CLASSIC_TP),
	HOOK(fentry_tcp_connect, TCP_CONNECT, FENTRY),
	HOOK(kprobe_tcp_connect, TCP_CONNECT, KPROBE),
	/* The tracepoint rung of the bind, UDP port and port-search hooks. */
	ROLE(tp_sys_enter_connect, SYSCALL_TP),
	ROLE(tp_sys_enter_bind, SYSCALL_TP),
	ROLE(tp_sys_enter_listen, SYSCALL_TP),
	ROLE(tp_sys_enter_sendto, SYSCALL_TP),
	ROLE(tp_sys_enter_sendmsg, SYSCALL_TP),
	ROLE(tp_sys_enter_sendmmsg, SYSCALL_TP),
	ROLE(tp_sys_exit_connect, SYSCALL_TP),
	ROLE(tp_sys_exit_bind, SYSCALL_TP),
	ROLE(tp_sys_exit_listen, SYSCALL_TP),
	ROLE(tp_sys_exit_sendto, SYSCALL_TP),
	ROLE(tp_sys_exit_sendmsg, SYSCALL_TP),
	ROLE(tp_sys_exit_sendmmsg, SYSCALL_TP),
	/* Run on demand or attached to a cgroup by session.c, not by the skeleton. */
	ROLE(iter_seed_owners, SEED_ITER),
	ROLE(cg_sock_release, SOCK_RELEASE),
	ROLE(sockops_flows, SOCKOPS),
	ROLE(iter_ports_files, PORTS_ITER),
	ROLE(iter_ports_tcp, PORTS_ITER),
};

const size_t pw_progs_count = sizeof(pw_progs) / sizeof(pw_progs[0]);

struct bpf_program *pw_prog_get(const struct portwatch_bpf *skel, const struct pw_prog *p)
{
	return *(struct bpf_program *const *)((const char *)skel + p->off);
}

const struct pw_prog *pw_prog_find(const struct portwatch_bpf *skel, const struct bpf_program *prog)
{
	for (size_t i = 0; i < pw_progs_count; i++)
		if (pw_prog_get(skel, &pw_progs[i]) == prog)
			return &pw_progs[i];
	return NULL;
}

bool pw_prog_loads(const struct pw_prog *p, const struct pw_prog_want *w)
{
	switch (p->role) {
	case PW_PROG_HOOK:
		return w->ladder && w->ladder->chosen[p->hook] == (int)p->rung;
	case PW_PROG_PORTS_ITER:
		return w->ports;
	case PW_PROG_SOCKOPS:
		return w->ladder && w->ladder->chosen[PW_HOOK_TCP_CONNECT] == PW_RUNG_TRACEPOINT;
	case PW_PROG_SOCK_RELEASE:
		return w->ladder && w->sock_release;
	case PW_PROG_SYSCALL_TP:
		return w->ladder && w->syscalls;
	case PW_PROG_SEED_ITER:
		return w->ladder;
	}
	return false;
}

bool pw_prog_autoattach(const struct pw_prog *p)
{
	return p->role == PW_PROG_HOOK || p->role == PW_PROG_SYSCALL_TP;
}
