// SPDX-License-Identifier: GPL-2.0
/*
 * Dropped packets, from skb:kfree_skb (tp_btf). Every drop is counted in the
 * kernel, per (reason, location, netns, device, protocol), in a per-CPU hash:
 * no ring-buffer record per packet, so a drop storm costs a map update per
 * packet and loses no count. A drop whose key does not fit any more is still
 * counted, in counters.drop_overflow.
 */
#include "common.bpf.h"
#include <bpf/bpf_tracing.h>

#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct pw_drop_key);
	__type(value, __u64);
} drop_counts SEC(".maps");

/* The IP header's protocol (IPv4) or next header (IPv6); 0 without a network header. */
static __always_inline __u8 skb_l4proto(const struct sk_buff *skb, __u16 l3proto)
{
	__u16 nh = BPF_CORE_READ(skb, network_header);
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u8 proto = 0;

	if (nh == (__u16)~0U)
		return 0;
	if (l3proto == ETH_P_IP)
		bpf_probe_read_kernel(&proto, 1, head + nh + offsetof(struct iphdr, protocol));
	else if (l3proto == ETH_P_IPV6)
		bpf_probe_read_kernel(&proto, 1, head + nh + offsetof(struct ipv6hdr, nexthdr));
	return proto;
}

static __always_inline void count_drop(const struct sk_buff *skb, void *location, __u32 reason)
{
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	struct pw_drop_key key = {
		.location = (__u64)location,
		.reason = reason,
		.l3proto = bpf_ntohs(BPF_CORE_READ(skb, protocol)),
	};
	__u64 one = 1, *count;

	if (dev) {
		key.ifindex = BPF_CORE_READ(dev, ifindex);
		key.netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	} else if (BPF_CORE_READ(skb, sk)) {
		key.netns = sk_netns(BPF_CORE_READ(skb, sk));
	}
	key.l4proto = skb_l4proto(skb, key.l3proto);

	count = bpf_map_lookup_elem(&drop_counts, &key);
	if (count) {
		(*count)++; /* per-CPU value: no other CPU writes it */
		return;
	}
	if (bpf_map_update_elem(&drop_counts, &key, &one, BPF_NOEXIST)) {
		count = bpf_map_lookup_elem(&drop_counts, &key);
		if (count)
			(*count)++;
		else
			__sync_fetch_and_add(&counters.drop_overflow, 1);
	}
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(tp_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	/* Since 6.0 consumed packets pass here too; they are not drops. */
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_CONSUMED) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_CONSUMED))
		return 0;
	count_drop(skb, location, reason);
	return 0;
}
