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

/* Port-search time histogram: a single per-CPU element. */
__pw_global struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pw_search_hist);
} search_hist SEC(".maps");

/* Set by the loader before load: only this netns's port searches count (0: all). */
__pw_global const volatile __u32 search_netns __pw_init(0);

/* Set by the loader before load: the rung that serves each enum pw_hook. */
__pw_global const volatile __u8 hook_rung[PW_HOOK_COUNT] __pw_init({});

/* Set by the loader (top): count TCP connects per process in connect_counts. */
__pw_global const volatile bool count_connects __pw_init(false);

/* tgid -> TCP connects since start (entering SYN_SENT), when count_connects. */
__pw_global struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} connect_counts SEC(".maps");

/* Set by the loader: which drops get a ring-buffer record (enum pw_drop_records). */
__pw_global const volatile __u8 drop_records __pw_init(PW_DROPREC_NONE);
/* Set by the loader: at most this many drop records per second, 0: no limit at all. */
__pw_global const volatile __u32 drop_rate __pw_init(0);
/* Set by the loader: at most this many records per drop key per second per CPU. */
__pw_global const volatile __u32 drop_key_rate __pw_init(0);

__pw_global struct pw_counters counters __pw_init({});

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

static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
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

#endif /* PORTWATCH_COMMON_BPF_H */
