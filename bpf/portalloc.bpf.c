// SPDX-License-Identifier: GPL-2.0
/*
 * Synchronous port-allocation failures: connect() that finds no free local
 * port toward its destination (EADDRNOTAVAIL, or EAGAIN for UDP autobind),
 * bind() to a port in use or with the range exhausted (EADDRINUSE), listen()
 * and sendmsg() autobind failures (EADDRINUSE, EAGAIN).
 *
 * TCP is served by the best rung per hook: fexit, kretprobe, or the
 * tracepoint rung (connect: sock:inet_sock_set_state, tcp_search_failed()
 * in portalloc.bpf.h; bind and listen: the syscall tracepoints). UDP only
 * by the syscall tracepoints, which every kernel has. hook_rung[] says which
 * rung owns a duty, so each failure is reported once.
 *
 * The syscall tracepoints put every syscall of every task on the kernel's
 * slow path: they load only for sessions that ask (PW_NEED_SYSCALLS). They
 * also serve two other units: UDP owners and flows (udp_owner_seen(),
 * owner.bpf.h) and the tracepoint rung's port-search estimate
 * (search_estimate_*(), portsearch.bpf.h).
 */
#include "portalloc.bpf.h"
#include "portsearch.bpf.h"
#include <bpf/bpf_tracing.h>

/* The socket syscalls the tracepoint rung follows. */
enum pw_sys {
	PW_SYS_CONNECT,
	PW_SYS_BIND,
	PW_SYS_LISTEN,
	PW_SYS_SEND, /* sendto, sendmsg, sendmmsg */
};

/* A socket syscall between its sys_enter and sys_exit tracepoints. */
struct pw_call {
	__u8 sys;    /* enum pw_sys */
	__u8 active; /* between sys_enter and sys_exit (task storage only) */
	__u8 pad[2];
	__s32 fd;
	/*
	 * The caller's sockaddr, read at sys_exit and only when a report needs
	 * it: copying it on every connect() cost more than the rest of sys_enter.
	 */
	__u64 uaddr;
	__u64 start_ns; /* search_estimate_start() at sys_enter */
};

/* The call's sockaddr into sa[PW_SOCKADDR_LEN]; false if it has none. */
static __always_inline bool call_sockaddr(const struct pw_call *c, __u8 *sa)
{
	return c->uaddr && !bpf_probe_read_user(sa, PW_SOCKADDR_LEN, (const void *)c->uaddr);
}

/*
 * Where a thread's call in flight is kept. Task local storage (tracepoint
 * programs since 5.11) finds it without hashing or a bucket lock and frees
 * it with the thread: a hash keyed by tid cost ~400 ns more per connect()
 * here, for its insert, lookup and delete. Kernels without it (5.8-5.10)
 * get the hash: the loader then clears call_storage and turns `calls` into
 * a one-entry hash that nothing uses; otherwise it shrinks `calls_by_tid`.
 */
const volatile bool call_storage = true;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pw_call);
} calls SEC(".maps");

/*
 * tid -> call, without task storage. LRU: a thread that dies between
 * sys_enter and sys_exit leaves its entry behind; old ones must make room
 * rather than block new calls.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pw_call);
} calls_by_tid SEC(".maps");

/* Arguments a kprobe saves for its kretprobe, keyed by (hook << 32 | tid). */
struct pw_kargs {
	__u64 sk;
	__u64 arg;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* as calls: a dead thread's entry ages out */
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pw_kargs);
} kargs SEC(".maps");

/* ---- connect: tcp_v4_connect / tcp_v6_connect return ---- */

/*
 * `uaddr` is a kernel copy of the caller's sockaddr (move_addr_to_kernel).
 * tcp_v6_connect() hands an IPv4-mapped destination to tcp_v4_connect()
 * with a sockaddr_in: on an AF_INET6 socket the v4 return is left to the v6
 * one, which reports the address as the caller gave it.
 */
static __always_inline void tcp_connect_ret(struct sock *sk, const void *uaddr, int ret, __u8 rung,
					    bool v4)
{
	struct pw_tuple t = {};
	__u8 sa[PW_SOCKADDR_LEN] = {};

	if (ret != -EADDRNOTAVAIL)
		return;
	if (v4 && BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6)
		return;
	tuple_from_sk(&t, sk);
	bpf_probe_read_kernel(sa, sizeof(sa), uaddr);
	tuple_set_sockaddr(&t, sa, false);
	emit_port_alloc_fail(sk, &t, PW_OP_CONNECT, EADDRNOTAVAIL, rung);
}

SEC("fexit/tcp_v4_connect")
int BPF_PROG(fexit_tcp_v4_connect, struct sock *sk, struct sockaddr *uaddr, int addr_len, int ret)
{
	tcp_connect_ret(sk, uaddr, ret, PW_RUNG_FENTRY, true);
	return 0;
}

SEC("fexit/tcp_v6_connect")
int BPF_PROG(fexit_tcp_v6_connect, struct sock *sk, struct sockaddr *uaddr, int addr_len, int ret)
{
	tcp_connect_ret(sk, uaddr, ret, PW_RUNG_FENTRY, false);
	return 0;
}

/* Save a kprobe's arguments for its kretprobe, which has only the return. */
static __always_inline void kargs_save(enum pw_hook hook, __u64 sk, __u64 arg)
{
	__u64 key = ((__u64)hook << 32) | (__u32)bpf_get_current_pid_tgid();
	struct pw_kargs a = { .sk = sk, .arg = arg };

	bpf_map_update_elem(&kargs, &key, &a, BPF_ANY);
}

/* Take (and remove) what the kprobe saved; false if nothing was. */
static __always_inline bool kargs_take(enum pw_hook hook, struct pw_kargs *out)
{
	__u64 key = ((__u64)hook << 32) | (__u32)bpf_get_current_pid_tgid();
	struct pw_kargs *a = bpf_map_lookup_elem(&kargs, &key);

	if (!a)
		return false;
	*out = *a;
	bpf_map_delete_elem(&kargs, &key);
	return true;
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(kprobe_tcp_v4_connect, struct sock *sk, struct sockaddr *uaddr)
{
	kargs_save(PW_HOOK_TCP_V4_CONNECT, (__u64)sk, (__u64)uaddr);
	return 0;
}

SEC("kretprobe/tcp_v4_connect")
int BPF_KRETPROBE(kretprobe_tcp_v4_connect, int ret)
{
	struct pw_kargs a;

	if (kargs_take(PW_HOOK_TCP_V4_CONNECT, &a))
		tcp_connect_ret((struct sock *)a.sk, (void *)a.arg, ret, PW_RUNG_KPROBE, true);
	return 0;
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(kprobe_tcp_v6_connect, struct sock *sk, struct sockaddr *uaddr)
{
	kargs_save(PW_HOOK_TCP_V6_CONNECT, (__u64)sk, (__u64)uaddr);
	return 0;
}

SEC("kretprobe/tcp_v6_connect")
int BPF_KRETPROBE(kretprobe_tcp_v6_connect, int ret)
{
	struct pw_kargs a;

	if (kargs_take(PW_HOOK_TCP_V6_CONNECT, &a))
		tcp_connect_ret((struct sock *)a.sk, (void *)a.arg, ret, PW_RUNG_KPROBE, false);
	return 0;
}

/* ---- bind / listen: inet_csk_get_port return ---- */

/*
 * inet_csk_get_port() returns non-zero when `snum` (0: any port in the range)
 * cannot be had. inet_bind() and inet_csk_listen_start() turn that into
 * EADDRINUSE. listen() sets TCP_LISTEN before asking, so the state tells an
 * autobind in listen() from a bind().
 */
static __always_inline void tcp_get_port_ret(struct sock *sk, __u16 snum, int ret, __u8 rung)
{
	struct pw_tuple t = {};
	__u8 op = PW_OP_BIND;

	if (!ret)
		return;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_LISTEN && !snum)
		op = PW_OP_AUTOBIND;
	tuple_from_sk(&t, sk);
	t.sport = snum;
	emit_port_alloc_fail(sk, &t, op, EADDRINUSE, rung);
}

SEC("fexit/inet_csk_get_port")
int BPF_PROG(fexit_inet_csk_get_port, struct sock *sk, unsigned short snum, int ret)
{
	tcp_get_port_ret(sk, snum, ret, PW_RUNG_FENTRY);
	return 0;
}

SEC("kprobe/inet_csk_get_port")
int BPF_KPROBE(kprobe_inet_csk_get_port, struct sock *sk, unsigned short snum)
{
	kargs_save(PW_HOOK_INET_CSK_GET_PORT, (__u64)sk, snum);
	return 0;
}

SEC("kretprobe/inet_csk_get_port")
int BPF_KRETPROBE(kretprobe_inet_csk_get_port, int ret)
{
	struct pw_kargs a;

	if (kargs_take(PW_HOOK_INET_CSK_GET_PORT, &a))
		tcp_get_port_ret((struct sock *)a.sk, a.arg, ret, PW_RUNG_KPROBE);
	return 0;
}

/* ---- the syscall tracepoint rung ---- */

/* The struct sock behind the current task's `fd`, or NULL if not a socket. */
static __always_inline struct sock *sock_from_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_core_read(&file, sizeof(file), &fds[fd]);
	return sock_of_file(file);
}

/*
 * At sys_enter: keep the call (fd, sockaddr pointer, start time) for
 * sys_exit, in task storage or, without it, in calls_by_tid.
 */
static __always_inline void call_enter(enum pw_sys sys, long fd, const void *uaddr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pw_call *c, on_stack = {};

	c = call_storage ? bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0,
						BPF_LOCAL_STORAGE_GET_F_CREATE)
			 : &on_stack;
	if (!c)
		return;
	c->sys = sys;
	c->fd = fd;
	c->uaddr = (__u64)uaddr;
	c->start_ns = search_estimate_start();
	c->active = 1;
	if (!call_storage)
		bpf_map_update_elem(&calls_by_tid, &tid, c, BPF_ANY);
}

/* The current thread's call in flight, or NULL. */
static __always_inline struct pw_call *call_current(__u32 tid)
{
	struct pw_call *c;

	if (!call_storage)
		return bpf_map_lookup_elem(&calls_by_tid, &tid);
	c = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0, 0);
	return c && c->active ? c : NULL;
}

/* The call has ended: free its slot for the thread's next call. */
static __always_inline void call_done(struct pw_call *c, __u32 tid)
{
	if (call_storage)
		c->active = 0;
	else
		bpf_map_delete_elem(&calls_by_tid, &tid);
}

/*
 * The enum pw_op of a failed call if it is a port-allocation failure this
 * rung reports, else 0. An unbound socket (inet_num 0) after the call means
 * the autobind failed: that tells UDP's EAGAIN from a full socket buffer's,
 * and listen()'s autobind from a bound port that listen() cannot keep.
 */
static __always_inline __u8 port_alloc_op(const struct sock *sk, __u8 sys, long ret)
{
	bool tcp = sk_protocol(sk) == IPPROTO_TCP;
	bool unbound = !BPF_CORE_READ(sk, __sk_common.skc_num);
	bool had_port = BPF_CORE_READ((const struct inet_sock *)sk, inet_sport);
	enum pw_hook connect_hook = BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET
					    ? PW_HOOK_TCP_V4_CONNECT
					    : PW_HOOK_TCP_V6_CONNECT;

	switch (sys) {
	case PW_SYS_CONNECT:
		/*
		 * A TCP socket without a local port after the failure never
		 * got one: tcp_search_failed() reported it at its CLOSE.
		 */
		if (tcp)
			return ret == -EADDRNOTAVAIL && had_port &&
					       served_by(connect_hook, PW_RUNG_TRACEPOINT)
				       ? PW_OP_CONNECT
				       : 0;
		return ret == -EAGAIN && unbound ? PW_OP_CONNECT : 0;
	case PW_SYS_BIND:
		if (ret != -EADDRINUSE)
			return 0;
		return !tcp || served_by(PW_HOOK_INET_CSK_GET_PORT, PW_RUNG_TRACEPOINT) ? PW_OP_BIND
											: 0;
	case PW_SYS_LISTEN:
		if (!tcp || ret != -EADDRINUSE ||
		    !served_by(PW_HOOK_INET_CSK_GET_PORT, PW_RUNG_TRACEPOINT))
			return 0;
		return unbound ? PW_OP_AUTOBIND : PW_OP_BIND;
	case PW_SYS_SEND:
		return !tcp && ret == -EAGAIN && unbound ? PW_OP_AUTOBIND : 0;
	}
	return 0;
}

/*
 * At sys_exit of any followed call: the port-search estimate, UDP owners on
 * success, a port-allocation failure on failure.
 */
static __always_inline void call_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pw_call *c = call_current(tid);
	__u8 sa[PW_SOCKADDR_LEN];
	struct pw_tuple t = {};
	struct sock *sk;
	__u8 op, proto;

	if (!c)
		return;
	sk = sock_from_fd(c->fd);
	/* The protocol first: a TCP connect() that succeeded needs nothing more. */
	proto = sk ? sk_protocol(sk) : 0;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		goto out;
	if (c->sys == PW_SYS_CONNECT && proto == IPPROTO_TCP)
		search_estimate_end(sk, c->start_ns, ret);
	if (ret >= 0 || ret == -EINPROGRESS) {
		/*
		 * TCP owners are recorded on entering SYN_SENT; UDP ones here.
		 * Only a send that autobinds gets here: its sockaddr is read
		 * once per socket.
		 */
		if (proto == IPPROTO_UDP && sk_watched(sk))
			udp_owner_seen(sk, c->sys != PW_SYS_BIND,
				       c->sys == PW_SYS_SEND && call_sockaddr(c, sa) ? sa : NULL);
		goto out;
	}
	if (!sk_watched(sk))
		goto out;
	op = port_alloc_op(sk, c->sys, ret);
	if (!op)
		goto out;
	tuple_from_sk(&t, sk);
	if (call_sockaddr(c, sa))
		tuple_set_sockaddr(&t, sa, c->sys == PW_SYS_BIND);
	emit_port_alloc_fail(sk, &t, op, -ret, PW_RUNG_TRACEPOINT);
out:
	call_done(c, tid);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int tp_sys_enter_connect(struct syscall_trace_enter *ctx)
{
	call_enter(PW_SYS_CONNECT, ctx->args[0], (void *)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int tp_sys_enter_bind(struct syscall_trace_enter *ctx)
{
	call_enter(PW_SYS_BIND, ctx->args[0], (void *)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_listen")
int tp_sys_enter_listen(struct syscall_trace_enter *ctx)
{
	call_enter(PW_SYS_LISTEN, ctx->args[0], NULL);
	return 0;
}

/*
 * send*() runs on every datagram and segment on the host: only an unbound
 * UDP socket can fail its autobind, so everything else leaves here. The
 * owner is refreshed before the send, so that a datagram dropped within the
 * call (a local rule, a NAT in a netns reached through a veth) finds it.
 */
static __always_inline void send_enter(long fd, const void *uaddr)
{
	struct sock *sk = sock_from_fd(fd);

	if (!sk || !sk_watched(sk) || sk_protocol(sk) != IPPROTO_UDP)
		return;
	sock_owner_refresh(sk);
	if (!BPF_CORE_READ(sk, __sk_common.skc_num))
		call_enter(PW_SYS_SEND, fd, uaddr);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int tp_sys_enter_sendto(struct syscall_trace_enter *ctx)
{
	send_enter(ctx->args[0], (void *)ctx->args[4]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int tp_sys_enter_sendmsg(struct syscall_trace_enter *ctx)
{
	struct user_msghdr *msg = (void *)ctx->args[1];
	void *name = NULL;

	bpf_probe_read_user(&name, sizeof(name), &msg->msg_name);
	send_enter(ctx->args[0], name);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int tp_sys_enter_sendmmsg(struct syscall_trace_enter *ctx)
{
	struct mmsghdr *msgs = (void *)ctx->args[1];
	void *name = NULL;

	bpf_probe_read_user(&name, sizeof(name), &msgs->msg_hdr.msg_name);
	send_enter(ctx->args[0], name);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int tp_sys_exit_connect(struct syscall_trace_exit *ctx)
{
	call_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int tp_sys_exit_bind(struct syscall_trace_exit *ctx)
{
	call_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_listen")
int tp_sys_exit_listen(struct syscall_trace_exit *ctx)
{
	call_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int tp_sys_exit_sendto(struct syscall_trace_exit *ctx)
{
	call_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int tp_sys_exit_sendmsg(struct syscall_trace_exit *ctx)
{
	call_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int tp_sys_exit_sendmmsg(struct syscall_trace_exit *ctx)
{
	call_exit(ctx->ret);
	return 0;
}
