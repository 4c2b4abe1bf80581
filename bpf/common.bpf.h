/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps, globals and helpers shared by every portwatch BPF program. A map or
 * global more than one unit uses is declared with __pw_global, here or in
 * the header of the unit it belongs to (owner.bpf.h, ...), and defined once,
 * in common.bpf.c (which defines PW_DEFINE_GLOBALS and includes those
 * headers); the other units see externs, and `bpftool gen object` links
 * them into one object.
 */
#ifndef PORTWATCH_COMMON_BPF_H
#define PORTWATCH_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "portwatch.h"
#include "core_fixes.bpf.h"

/* uapi constants: stable ABI values, not kernel-internal enums. */
#define AF_INET	      2
#define AF_INET6      10
#define IPPROTO_TCP   6
#define IPPROTO_UDP   17
#define EAGAIN	      11
#define EEXIST	      17
#define EADDRINUSE    98
#define EADDRNOTAVAIL 99
#define EINPROGRESS   115
#define S_IFMT	      00170000
#define S_IFSOCK      0140000

#ifdef PW_DEFINE_GLOBALS
#define __pw_global
#define __pw_init(...) = __VA_ARGS__
#else
#define __pw_global extern
#define __pw_init(...)
#endif

/* All records, every type; sized by the loader (--ringbuf-size). */
__pw_global struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Set by the loader before load: the rung that serves each enum pw_hook, or PW_RUNG_NONE. */
__pw_global const volatile __u8 hook_rung[PW_HOOK_COUNT] __pw_init({});

/* Loss and overflow counters (struct pw_counters), read by the loader. */
__pw_global struct pw_counters counters __pw_init({});

/*
 * Whether the loader chose `rung` (enum pw_rung, or PW_RUNG_NONE) for `hook`;
 * hook_rung[] is known at load time, so the verifier prunes the other path.
 */
static __always_inline bool served_by(enum pw_hook hook, __u8 rung)
{
	return hook_rung[hook] == rung;
}

/* Reserve a record of `size` bytes, counting the reservation if it fails. */
static __always_inline void *record_reserve(__u64 size, __u32 type)
{
	struct pw_rec_hdr *hdr = bpf_ringbuf_reserve(&events, size, 0);

	if (!hdr) {
		__sync_fetch_and_add(&counters.ringbuf_drops, 1);
		return NULL;
	}
	hdr->type = type;
	hdr->cpu = bpf_get_smp_processor_id();
	hdr->ts_ns = bpf_ktime_get_boot_ns();
	return hdr;
}

/* The inode of the netns of `sk`: how portwatch names a network namespace. */
static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/*
 * The inode of the mount namespace of `task`: a container's identity where
 * the runtime keeps its processes in cgroup v1 hierarchies only (their cgroup
 * v2 id is then the root's). 0 for a task whose nsproxy is gone (exiting).
 */
static __always_inline __u32 task_mntns(const struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

/* True for the sockets portwatch watches: IPv4/IPv6, TCP/UDP. */
static __always_inline bool sk_watched(const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u8 proto = sk_protocol(sk);

	return (family == AF_INET || family == AF_INET6) &&
	       (proto == IPPROTO_TCP || proto == IPPROTO_UDP);
}

/*
 * The struct sock behind a socket file, NULL for any other file (or none).
 * The one way from a file to its socket: the iterators get the file from
 * their ctx, the syscall tracepoints from the caller's fd table.
 */
static __always_inline struct sock *sock_of_file(const struct file *file)
{
	struct socket *sock;

	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* The socket behind `file` when it is one portwatch watches, else NULL. */
static __always_inline struct sock *file_watched_sock(const struct file *file)
{
	struct sock *sk = sock_of_file(file);

	return sk && sk_watched(sk) ? sk : NULL;
}

/*
 * The value of `key`, inserting `init` first if the key is new (as
 * libbpf-tools' bpf_map_lookup_or_try_init). Another CPU inserting the same
 * key meanwhile (EEXIST) is no failure; NULL means the map is full.
 */
static __always_inline void *map_lookup_or_try_init(void *map, const void *key, const void *init)
{
	void *val = bpf_map_lookup_elem(map, key);
	long err;

	if (val)
		return val;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return NULL;
	return bpf_map_lookup_elem(map, key);
}

/*
 * Insert or replace the value of `key`, adding one to *inserts for a new
 * key only: the loader derives an LRU map's evictions as inserts - deletes
 * - live entries, so replacements must not count.
 */
static __always_inline void map_upsert_counted(void *map, const void *key, const void *val,
					       __u64 *inserts)
{
	if (!bpf_map_update_elem(map, key, val, BPF_NOEXIST))
		__sync_fetch_and_add(inserts, 1);
	else
		bpf_map_update_elem(map, key, val, BPF_EXIST);
}

/*
 * The socket's own view of its 5-tuple. The local port is inet_sport, not
 * skc_num: inet_sock_set_state fires for CLOSE after inet_put_port() has
 * cleared skc_num, while inet_sport keeps the port the socket used.
 */
static __always_inline void tuple_from_sk(struct pw_tuple *t, const struct sock *sk)
{
	const struct inet_sock *inet = (const struct inet_sock *)sk;

	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->proto = sk_protocol(sk);
	t->sport = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		bpf_core_read(t->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(t->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(t->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(t->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/*
 * Overwrite the local (bind) or remote (connect, sendto) half of a tuple with
 * a sockaddr already copied to the stack. AF_UNSPEC and others are ignored.
 */
static __always_inline void tuple_set_sockaddr(struct pw_tuple *t, const __u8 *sa, bool local)
{
	__u16 family = *(const __u16 *)sa;
	__u16 port = bpf_ntohs(*(const __u16 *)(sa + 2));
	__u8 *addr = local ? t->saddr : t->daddr;

	if (family == AF_INET) {
		__builtin_memset(addr, 0, 16);
		__builtin_memcpy(addr, sa + 4, 4);
	} else if (family == AF_INET6) {
		__builtin_memcpy(addr, sa + 8, 16);
	} else {
		return;
	}
	if (local)
		t->sport = port;
	else
		t->dport = port;
}

#endif /* PORTWATCH_COMMON_BPF_H */
