// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "dropctx.h"

#include <errno.h>
#include <netinet/in.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include "ksyms.h"
#include "natclass.h"
#include "netns.h"
#include "util.h"

int pw_dropctx_open(struct pw_dropctx *c, char *err, size_t err_len)
{
	int ret;

	memset(c, 0, sizeof(*c));
	ret = pw_drop_reasons_load(&c->reasons);
	/* libbpf: -ESRCH when it found the kernel's BTF nowhere. */
	if (ret == -ESRCH) {
		snprintf(err, err_len, "%s", PW_NO_BTF_MSG);
		return ret;
	}
	if (ret && ret != -ENOENT) {
		snprintf(err, err_len, "reading enum skb_drop_reason from the kernel's BTF: %s",
			 strerror(-ret));
		return ret;
	}
	c->netns = pw_netns_cache_new();
	if (!c->netns) {
		pw_drop_reasons_free(&c->reasons);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

const char *pw_dropctx_location(struct pw_dropctx *c, __u64 addr, char *buf, size_t len)
{
	if (!c->ksyms_tried) {
		c->ksyms_tried = true;
		c->ksyms = pw_ksyms_load("/proc/kallsyms");
		if (!c->ksyms && errno == EPERM)
			fprintf(stderr, "portwatch: /proc/kallsyms hides kernel addresses "
					"(kernel.kptr_restrict): locations stay addresses, unnamed\n");
		else if (!c->ksyms)
			fprintf(stderr, "portwatch: /proc/kallsyms: %s; locations stay addresses\n",
				strerror(errno));
	}
	return pw_ksyms_format(c->ksyms, addr, buf, len);
}

void pw_dropctx_close(struct pw_dropctx *c)
{
	pw_ksyms_free(c->ksyms);
	pw_drop_reasons_free(&c->reasons);
	pw_netns_cache_free(c->netns);
	memset(c, 0, sizeof(*c));
}

const char *pw_dropctx_ifname(struct pw_dropctx *c, __u32 netns, __u32 ifindex, char *buf,
			      size_t len)
{
	return pw_netns_ifname(c->netns, netns, ifindex, buf, len);
}

__u8 pw_dropctx_nat_class(struct pw_dropctx *c, __u32 netns, __u8 kernel_class)
{
	struct pw_netns_ct ct;

	if (kernel_class != PW_NF_NO_ENTRY)
		return kernel_class;
	pw_netns_conntrack(c->netns, netns, &ct);
	return pw_nat_class_of_no_entry(&ct);
}

static const char *attribution_name(__u8 a)
{
	return a == PW_ATTR_SOCKET ? "socket" : a == PW_ATTR_CONNTRACK ? "conntrack" : "none";
}

static struct json_object *tuple_json(const struct pw_tuple *t)
{
	struct json_object *o = json_object_new_object();
	char addr[INET6_ADDRSTRLEN];

	json_object_object_add(o, "saddr", json_object_new_string(pw_format_addr(
						   t->family, t->saddr, addr, sizeof(addr))));
	json_object_object_add(o, "sport", json_object_new_int(t->sport));
	json_object_object_add(o, "daddr", json_object_new_string(pw_format_addr(
						   t->family, t->daddr, addr, sizeof(addr))));
	json_object_object_add(o, "dport", json_object_new_int(t->dport));
	return o;
}

struct json_object *pw_drop_json(struct pw_dropctx *c, const struct pw_drop *e,
				 const struct pw_clock *clock)
{
	struct json_object *o = json_object_new_object(), *nat;
	char buf[160], addr[INET6_ADDRSTRLEN], comm[PW_COMM_LEN + 1] = {};
	bool owned = e->attribution != PW_ATTR_NONE;
	const char *cls = pw_nat_class_name(pw_dropctx_nat_class(c, e->netns, e->nat_class));

	if (!o)
		return NULL;
	json_object_object_add(o, "type", json_object_new_string("drop"));
	json_object_object_add(o, "ts", json_object_new_string(pw_format_ts(
						clock, e->hdr.ts_ns, 1, buf, sizeof(buf))));
	json_object_object_add(o, "reason", json_object_new_string(pw_drop_reason_name(
						    &c->reasons, e->reason, buf, sizeof(buf))));
	json_object_object_add(o, "location", json_object_new_string(pw_dropctx_location(
						      c, e->location, buf, sizeof(buf))));
	json_object_object_add(o, "proto", json_object_new_string(pw_proto_name(e->pkt.proto)));
	json_object_object_add(o, "family",
			       json_object_new_string(pw_family_name(e->pkt.family)));
	json_object_object_add(o, "saddr",
			       e->pkt.family ? json_object_new_string(pw_format_addr(
						       e->pkt.family, e->pkt.saddr, addr, sizeof(addr)))
					     : NULL);
	json_object_object_add(o, "sport", json_object_new_int(e->pkt.sport));
	json_object_object_add(o, "daddr",
			       e->pkt.family ? json_object_new_string(pw_format_addr(
						       e->pkt.family, e->pkt.daddr, addr, sizeof(addr)))
					     : NULL);
	json_object_object_add(o, "dport", json_object_new_int(e->pkt.dport));
	if (e->pkt.proto == IPPROTO_ICMP || e->pkt.proto == IPPROTO_ICMPV6) {
		json_object_object_add(o, "icmp_type", json_object_new_int(e->icmp_type));
		json_object_object_add(o, "icmp_code", json_object_new_int(e->icmp_code));
	}
	json_object_object_add(o, "netns", json_object_new_int64(e->netns));
	json_object_object_add(o, "ifname", json_object_new_string(pw_dropctx_ifname(
						    c, e->netns, e->ifindex, buf, sizeof(buf))));
	memcpy(comm, e->owner.comm, PW_COMM_LEN);
	json_object_object_add(o, "pid", owned ? json_object_new_int64(e->owner.tgid) : NULL);
	json_object_object_add(o, "comm", owned ? json_object_new_string(comm) : NULL);
	json_object_object_add(o, "cgroup_id",
			       owned ? json_object_new_uint64(e->owner.cgroup_id) : NULL);
	json_object_object_add(o, "owner_netns",
			       owned ? json_object_new_int64(e->owner.netns) : NULL);
	json_object_object_add(o, "attribution",
			       json_object_new_string(attribution_name(e->attribution)));
	if (e->has_ct || cls) {
		nat = json_object_new_object();
		json_object_object_add(nat, "class", cls ? json_object_new_string(cls) : NULL);
		json_object_object_add(nat, "orig", e->has_ct ? tuple_json(&e->ct_orig) : NULL);
		json_object_object_add(nat, "reply", e->has_ct ? tuple_json(&e->ct_reply) : NULL);
		json_object_object_add(nat, "status",
				       e->has_ct ? json_object_new_int64(e->ct_status) : NULL);
		json_object_object_add(o, "nat", nat);
	} else {
		json_object_object_add(o, "nat", NULL);
	}
	return o;
}

void pw_drop_text(FILE *out, struct pw_dropctx *c, const struct pw_drop *e,
		  const struct pw_clock *clock)
{
	char ts[16], pid[16] = "-", comm[PW_ESCAPED_SIZE(PW_COMM_LEN)] = "-", netns[16], proto[8];
	char local[INET6_ADDRSTRLEN + 10], remote[INET6_ADDRSTRLEN + 10], result[600];
	char reason[48], loc[128], ifn[IF_NAMESIZE + 8], ifn_text[PW_ESCAPED_SIZE(IF_NAMESIZE + 8)];
	char orig[INET6_ADDRSTRLEN + 10];
	const char *cls = pw_nat_class_name(pw_dropctx_nat_class(c, e->netns, e->nat_class));
	int n;

	if (e->attribution != PW_ATTR_NONE) {
		snprintf(pid, sizeof(pid), "%u", e->owner.tgid);
		pw_escape(e->owner.comm, PW_COMM_LEN, comm, sizeof(comm));
	}
	snprintf(netns, sizeof(netns), "%u", e->netns);
	snprintf(proto, sizeof(proto), "%s%c", pw_proto_name(e->pkt.proto),
		 e->pkt.family == AF_INET6 ? '6' : '4');
	n = snprintf(result, sizeof(result), "drop %s at %s on %s",
		     pw_drop_reason_name(&c->reasons, e->reason, reason, sizeof(reason)),
		     pw_dropctx_location(c, e->location, loc, sizeof(loc)),
		     pw_escape(pw_dropctx_ifname(c, e->netns, e->ifindex, ifn, sizeof(ifn)),
			       sizeof(ifn), ifn_text, sizeof(ifn_text)));
	if (cls)
		n += snprintf(result + n, sizeof(result) - n, " [%s]", cls);
	if (e->has_ct)
		n += snprintf(result + n, sizeof(result) - n, " orig %s",
			      pw_format_endpoint(e->ct_orig.family, e->ct_orig.saddr,
						 e->ct_orig.sport, orig, sizeof(orig)));
	if (e->attribution != PW_ATTR_NONE)
		snprintf(result + n, sizeof(result) - n, " (by %s)",
			 attribution_name(e->attribution));
	pw_text_line(out, pw_format_ts(clock, e->hdr.ts_ns, 0, ts, sizeof(ts)), pid, comm, netns,
		     proto,
		     pw_format_endpoint(e->pkt.family, e->pkt.saddr, e->pkt.sport, local,
					sizeof(local)),
		     pw_format_endpoint(e->pkt.family, e->pkt.daddr, e->pkt.dport, remote,
					sizeof(remote)),
		     result);
}
