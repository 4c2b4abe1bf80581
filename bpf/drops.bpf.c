// SPDX-License-Identifier: GPL-2.0
/*
 * Dropped packets, from skb:kfree_skb. Every drop is counted in the kernel,
 * per (reason, location, netns, device, protocol, owner, netfilter class), in
 * a per-CPU hash: a drop storm costs a map update per packet and loses no
 * count; a drop whose key does not fit any more is still counted, in
 * counters.drop_overflow. Per-packet records go to the ring buffer only for
 * trace: by key, so a storm in one key cannot starve the others, then under
 * a global ceiling; each key counts what it streamed and what it held back.
 *
 * A drop is attributed to a process through skb->sk when the socket is
 * local, else through the conntrack ORIGINAL tuple (the client's pre-NAT
 * 5-tuple) looked up in flow_owner, which works from any netns.
 */
#include "owner.bpf.h"
#include <bpf/bpf_tracing.h>

#define ETH_P_IP     0x0800
#define ETH_P_IPV6   0x86DD
#define IPPROTO_ICMP   1
#define IPPROTO_ICMPV6 58
#define NFCT_PTRMASK (~7UL) /* skb->_nfct: nf_conn pointer | ip_conntrack_info */
#define SKB_HDR_UNSET ((__u16)~0U) /* skb->*_header of a header not located yet */

/* Set by the loader: which drops get a ring-buffer record (enum pw_drop_records). */
const volatile __u8 drop_records = PW_DROPREC_NONE;
/* Set by the loader: at most this many drop records per second, 0: no limit at all. */
const volatile __u32 drop_rate = 0;
/* Set by the loader: at most this many records per drop key per second per CPU. */
const volatile __u32 drop_key_rate = 0;
/*
 * Set by the loader on kernels without SKB_DROP_REASON_NETFILTER_DROP (before
 * 5.19): nf_hook_slow()'s text, [start, end) from /proc/kallsyms, where those
 * kernels free every packet a netfilter hook returned NF_DROP for (a rule's
 * drop, conntrack's refusals, a clash at confirmation); 0, 0 otherwise.
 */
const volatile __u64 nf_hook_slow_start = 0;
const volatile __u64 nf_hook_slow_end = 0;

/*
 * Not preallocated: a preallocated per-CPU hash of this size took ~10 ms of
 * start-up to allocate, and new keys are rare (a key is an aggregate).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pw_drop_key);
	__type(value, struct pw_drop_stat);
} drop_counts SEC(".maps");

/* The rate limit's window: one second of CLOCK_MONOTONIC, records used in it. */
static __u64 rate_window;
static __u64 rate_used;

/*
 * Everything known about one dropped packet while it is handled: the
 * PW_REC_DROP record it may become (rec), plus what only its drop_counts
 * key needs (l3proto).
 */
struct dropped_pkt {
	struct pw_drop rec;
	__u16 l3proto;
};

/*
 * What handle_drop() needs of the skb, read by whichever way its rung can:
 * tp_btf's skb is a trusted BTF pointer (plain loads), the classic
 * tracepoint's a plain address (probe reads).
 */
struct skb_view {
	unsigned char *head;
	__u16 network_header;	/* offsets from head; SKB_HDR_UNSET: not set */
	__u16 transport_header;
	__u16 l3proto;		/* host order */
	__u32 ifindex;		/* skb->dev's, 0 without a device */
	__u32 netns;		/* the device's netns inode, else the socket's, else 0 */
	__u64 sk;		/* skb->sk */
	unsigned long nfct;	/* skb->_nfct; 0 without conntrack */
};

/* The skb_view of tp_btf's trusted skb: plain, CO-RE relocated loads. */
static __always_inline void skb_view_btf(struct skb_view *v, struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	struct sock *sk = skb->sk;

	v->head = skb->head;
	v->network_header = skb->network_header;
	v->transport_header = skb->transport_header;
	v->l3proto = bpf_ntohs(skb->protocol);
	v->sk = (__u64)sk;
	if (dev) {
		v->ifindex = dev->ifindex;
		v->netns = dev->nd_net.net->ns.inum;
	} else if (sk) {
		v->netns = sk->__sk_common.skc_net.net->ns.inum;
	}
	if (bpf_core_type_exists(struct nf_conn) && bpf_core_field_exists(skb->_nfct))
		v->nfct = skb->_nfct;
}

/* The skb_view of the classic tracepoint's skb address: probe reads. */
static __always_inline void skb_view_probe(struct skb_view *v, const struct sk_buff *skb)
{
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	struct sock *sk = BPF_CORE_READ(skb, sk);

	v->head = BPF_CORE_READ(skb, head);
	v->network_header = BPF_CORE_READ(skb, network_header);
	v->transport_header = BPF_CORE_READ(skb, transport_header);
	v->l3proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	v->sk = (__u64)sk;
	if (dev) {
		v->ifindex = BPF_CORE_READ(dev, ifindex);
		v->netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	} else if (sk) {
		v->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	}
	if (bpf_core_type_exists(struct nf_conn) && bpf_core_field_exists(skb->_nfct))
		v->nfct = BPF_CORE_READ(skb, _nfct);
}

/*
 * Read the IP header of `skb` into d->rec.pkt (addresses, protocol) and
 * return the offset of the transport header from skb->head, 0 if unknown.
 */
static __always_inline __u16 decode_l3(const struct skb_view *v, struct dropped_pkt *d)
{
	const unsigned char *head = v->head;
	__u16 nh = v->network_header;
	__u16 th = v->transport_header;
	struct pw_tuple *t = &d->rec.pkt;
	__u8 b;

	if (nh == SKB_HDR_UNSET)
		return 0;
	if (d->l3proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return 0;
		/* Until the IP layer has seen it, transport_header is not set yet. */
		b = *(__u8 *)&ip;
		if (th == SKB_HDR_UNSET || th <= nh)
			th = nh + (b & 0xf) * 4;
		t->family = AF_INET;
		t->proto = ip.protocol;
		__builtin_memcpy(t->saddr, &ip.saddr, 4);
		__builtin_memcpy(t->daddr, &ip.daddr, 4);
	} else if (d->l3proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return 0;
		/* Extension headers are not walked: the transport header is as set. */
		if (th == SKB_HDR_UNSET || th <= nh)
			th = nh + sizeof(ip6);
		t->family = AF_INET6;
		t->proto = ip6.nexthdr;
		__builtin_memcpy(t->saddr, &ip6.saddr, 16);
		__builtin_memcpy(t->daddr, &ip6.daddr, 16);
	} else {
		return 0;
	}
	return th;
}

/* The TCP/UDP ports, or ICMP type and code, at head + th into d->rec (records only). */
static __always_inline void decode_l4(const unsigned char *head, __u16 th, struct dropped_pkt *d)
{
	struct pw_tuple *t = &d->rec.pkt;
	__u16 ports[2];

	if (!th)
		return;
	if (t->proto == IPPROTO_ICMP || t->proto == IPPROTO_ICMPV6) {
		__u8 tc[2];

		if (!bpf_probe_read_kernel(tc, sizeof(tc), head + th)) {
			d->rec.icmp_type = tc[0];
			d->rec.icmp_code = tc[1];
		}
		return;
	}
	if (t->proto != IPPROTO_TCP && t->proto != IPPROTO_UDP)
		return;
	if (bpf_probe_read_kernel(ports, sizeof(ports), head + th))
		return;
	t->sport = bpf_ntohs(ports[0]);
	t->dport = bpf_ntohs(ports[1]);
}

/* A conntrack tuple as a struct pw_tuple (ports only for TCP and UDP). */
static __always_inline void tuple_from_ct(struct pw_tuple *t, const struct nf_conntrack_tuple *ct)
{
	t->family = BPF_CORE_READ(ct, src.l3num);
	t->proto = BPF_CORE_READ(ct, dst.protonum);
	if (t->family == AF_INET) {
		bpf_core_read(t->saddr, 4, &ct->src.u3.ip);
		bpf_core_read(t->daddr, 4, &ct->dst.u3.ip);
	} else {
		bpf_core_read(t->saddr, 16, &ct->src.u3.ip6);
		bpf_core_read(t->daddr, 16, &ct->dst.u3.ip6);
	}
	if (t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP) {
		t->sport = bpf_ntohs(BPF_CORE_READ(ct, src.u.all));
		t->dport = bpf_ntohs(BPF_CORE_READ(ct, dst.u.all));
	}
}

/*
 * The conntrack entry the skb carries, and for a netfilter drop its class.
 * nf_conn is in the nf_conntrack module's BTF where that is a module:
 * libbpf relocates against module BTF; without conntrack in the kernel the
 * guard keeps this out.
 */
static __always_inline struct nf_conn *decode_conntrack(const struct skb_view *v,
							struct dropped_pkt *d, bool netfilter_drop)
{
	struct nf_conn *ct = (struct nf_conn *)(v->nfct & NFCT_PTRMASK);
	bool untracked = false;
	__u32 status = 0;

	if (ct) {
		status = BPF_CORE_READ(ct, status);
		untracked = status & bpf_core_enum_value(enum ip_conntrack_status, IPS_UNTRACKED);
	}
	if (ct && !untracked) {
		d->rec.has_ct = 1;
		d->rec.ct_status = status;
		/* IP_CT_DIR_ORIGINAL; the reply tuple is read only for a record. */
		tuple_from_ct(&d->rec.ct_orig, &ct->tuplehash[0].tuple);
	}
	if (!netfilter_drop)
		return d->rec.has_ct ? ct : NULL;
	if (!d->rec.has_ct) {
		/* The loader tells a full table from an invalid packet. */
		d->rec.nat_class = ct ? PW_NF_FILTER : PW_NF_NO_ENTRY;
		return NULL;
	}
	/*
	 * __nf_conntrack_confirm() drops a new flow whose reply tuple clashes
	 * with a confirmed entry (insert_failed); after SNAT that means the
	 * port range toward that destination is used up. Filters run before
	 * source NAT in the usual chains, so an unconfirmed entry with SNAT done
	 * reaching a drop is that clash.
	 */
	if (!(status & bpf_core_enum_value(enum ip_conntrack_status, IPS_CONFIRMED)) &&
	    (status & bpf_core_enum_value(enum ip_conntrack_status, IPS_SRC_NAT_DONE)))
		d->rec.nat_class = PW_NF_NAT_CLASH;
	else
		d->rec.nat_class = PW_NF_FILTER;
	return ct;
}

/* The owner: skb->sk in sock_owner, else the conntrack ORIGINAL tuple in flow_owner. */
static __always_inline void attribute(const struct skb_view *v, struct dropped_pkt *d)
{
	struct pw_sock_owner *so;
	struct pw_owner *o;

	if (v->sk) {
		so = sock_owner_of((const struct sock *)v->sk);
		if (so) {
			d->rec.owner = so->owner;
			d->rec.attribution = PW_ATTR_SOCKET;
			return;
		}
	}
	if (!d->rec.has_ct)
		return;
	o = flow_owner_of(&d->rec.ct_orig);
	if (o) {
		d->rec.owner = *o;
		d->rec.attribution = PW_ATTR_CONNTRACK;
	}
}

/* Count the drop under its key; returns this CPU's stat, NULL when the map is full. */
static __always_inline struct pw_drop_stat *count_drop(const struct dropped_pkt *d)
{
	struct pw_drop_key key = {
		.location = d->rec.location,
		.reason = d->rec.reason,
		.netns = d->rec.netns,
		.ifindex = d->rec.ifindex,
		.tgid = d->rec.owner.tgid,
		.cgroup_id = d->rec.owner.cgroup_id,
		.mntns = d->rec.owner.mntns,
		.l3proto = d->l3proto,
		.l4proto = d->rec.pkt.proto,
		.nat_class = d->rec.nat_class,
	};
	static const struct pw_drop_stat zero;
	struct pw_drop_stat *stat;

	__builtin_memcpy(key.comm, d->rec.owner.comm, sizeof(key.comm));
	stat = map_lookup_or_try_init(&drop_counts, &key, &zero);
	if (!stat) {
		__sync_fetch_and_add(&counters.drop_overflow, 1);
		return NULL;
	}
	stat->count++; /* per-CPU value: no other CPU writes it */
	return stat;
}

/*
 * At most drop_rate records per one-second window, across CPUs. Two CPUs
 * opening a window at once can let a few extra records through; every
 * record held back is counted. The count is read after the add, not returned
 * by it: an atomic add that returns the old value (BPF_FETCH) is v5.12
 * (commit 5ca419f2864a), 5.10's verifier refuses it ("BPF_STX uses reserved
 * fields"). Two CPUs adding at once may then both see the other's add and
 * hold back one record more than the window allows, never let one more in.
 */
static __always_inline bool rate_allows(void)
{
	__u64 window = bpf_ktime_get_ns() / 1000000000ULL;

	if (!drop_rate)
		return true;
	if (*(volatile __u64 *)&rate_window != window) {
		*(volatile __u64 *)&rate_window = window;
		*(volatile __u64 *)&rate_used = 0;
	}
	__sync_fetch_and_add(&rate_used, 1);
	if (*(volatile __u64 *)&rate_used <= drop_rate)
		return true;
	__sync_fetch_and_add(&counters.drops_suppressed, 1);
	return false;
}

/* Whether --drops streams this drop at all. */
static __always_inline bool streamed(const struct dropped_pkt *d)
{
	switch (drop_records) {
	case PW_DROPREC_ALL:
		return true;
	case PW_DROPREC_ATTRIBUTED:
		return d->rec.attribution != PW_ATTR_NONE;
	case PW_DROPREC_RELATED:
		return d->rec.attribution != PW_ATTR_NONE ||
		       (d->rec.nat_class != PW_NF_NONE && d->rec.has_ct);
	default:
		return false;
	}
}

/*
 * Whether this drop gets a record: --drops, then its key's budget of
 * drop_key_rate records per second (on this CPU: no atomics), then the
 * global ceiling. drop_rate 0 lifts both.
 */
static __always_inline bool wants_record(const struct dropped_pkt *d, struct pw_drop_stat *stat)
{
	__u64 window;

	if (!streamed(d)) {
		if (stat)
			stat->filtered++;
		return false;
	}
	if (!drop_rate)
		return true;
	if (stat && drop_key_rate) {
		window = bpf_ktime_get_ns() / 1000000000ULL;
		if (stat->window != window) {
			stat->window = window;
			stat->window_records = 0;
		}
		if (stat->window_records >= drop_key_rate)
			return false;
	}
	return rate_allows();
}

/* Stream the drop as a PW_REC_DROP record, counting it in its key's stat. */
static __always_inline void emit_drop(const struct dropped_pkt *d, struct pw_drop_stat *stat)
{
	struct pw_rec_hdr hdr;
	struct pw_drop *e;

	e = record_reserve(sizeof(*e), PW_REC_DROP);
	if (!e)
		return;
	hdr = e->hdr;
	*e = d->rec;
	e->hdr = hdr;
	bpf_ringbuf_submit(e, 0);
	if (stat) {
		stat->records++;
		stat->window_records++;
	}
}

/* The one per-CPU scratch record: struct dropped_pkt is too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dropped_pkt);
} drop_scratch SEC(".maps");

/* Since 6.0 consumed packets pass through kfree_skb too; they are not drops. */
static __always_inline bool consumed(__u32 reason)
{
	return bpf_core_enum_value_exists(enum skb_drop_reason, SKB_CONSUMED) &&
	       reason == bpf_core_enum_value(enum skb_drop_reason, SKB_CONSUMED);
}

/*
 * One drop, from either rung: decode, classify, attribute, count it under its
 * key, and stream it if trace wants it.
 */
static __always_inline void handle_drop(const struct skb_view *v, void *location, __u32 reason)
{
	struct pw_drop_stat *stat;
	bool netfilter_drop;
	struct nf_conn *ct;
	struct dropped_pkt *d;
	__u32 zero = 0;
	__u16 th;

	d = bpf_map_lookup_elem(&drop_scratch, &zero);
	if (!d)
		return;
	__builtin_memset(d, 0, sizeof(*d));
	d->rec.location = (__u64)location;
	d->rec.reason = reason;
	d->l3proto = v->l3proto;
	d->rec.ifindex = v->ifindex;
	d->rec.netns = v->netns;
	th = decode_l3(v, d);
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_NETFILTER_DROP))
		netfilter_drop = reason == bpf_core_enum_value(enum skb_drop_reason,
							       SKB_DROP_REASON_NETFILTER_DROP);
	else
		netfilter_drop =
			(__u64)location >= nf_hook_slow_start && (__u64)location < nf_hook_slow_end;
	ct = decode_conntrack(v, d, netfilter_drop);
	attribute(v, d);
	stat = count_drop(d);
	/*
	 * What only a record shows is read only for one: in a storm nearly
	 * every drop is counted, few are recorded.
	 */
	if (!wants_record(d, stat))
		return;
	decode_l4(v->head, th, d);
	if (ct)
		tuple_from_ct(&d->rec.ct_reply, &ct->tuplehash[1].tuple); /* IP_CT_DIR_REPLY */
	emit_drop(d, stat);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(tp_kfree_skb, struct sk_buff *skb, void *location)
{
	struct skb_view v = {};
	__u32 reason = 0;

	/* The reason argument exists since 5.17, with the enum; before, the
	 * branch is dead and the verifier never sees the access. */
	if (bpf_core_type_exists(enum skb_drop_reason))
		reason = (__u32)ctx[2];
	if (consumed(reason))
		return 0;
	skb_view_btf(&v, skb);
	handle_drop(&v, location, reason);
	return 0;
}

/* The fallback rung: the classic tracepoint, same data from its record. */
SEC("tracepoint/skb/kfree_skb")
int tpc_kfree_skb(struct trace_event_raw_kfree_skb *args)
{
	struct skb_view v = {};
	__u32 reason = 0;

	if (bpf_core_field_exists(args->reason))
		reason = args->reason;
	if (consumed(reason))
		return 0;
	skb_view_probe(&v, args->skbaddr);
	handle_drop(&v, args->location, reason);
	return 0;
}
