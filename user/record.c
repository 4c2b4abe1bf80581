// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "record.h"

#include <errno.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "container.h"
#include "dropctx.h"
#include "natclass.h"
#include "util.h"

#define NSEC_PER_SEC 1000000000LL

static __s64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

void pw_clock_init(struct pw_clock *c)
{
	c->boot_to_real_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
}

const char *pw_format_ts(const struct pw_clock *c, __u64 ts_ns, int iso, char *buf, size_t len)
{
	__s64 real = (__s64)ts_ns + c->boot_to_real_ns;
	time_t sec = real / NSEC_PER_SEC;
	struct tm tm;

	if (iso) {
		gmtime_r(&sec, &tm);
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (long long)(real % NSEC_PER_SEC) / 1000);
	} else {
		localtime_r(&sec, &tm);
		strftime(buf, len, "%H:%M:%S", &tm);
	}
	return buf;
}

const char *pw_op_name(__u8 op)
{
	switch (op) {
	case PW_OP_CONNECT:
		return "connect";
	case PW_OP_BIND:
		return "bind";
	case PW_OP_AUTOBIND:
		return "autobind";
	}
	return "?";
}

/* The name of an IP protocol, NULL for one portwatch does not name. */
static const char *l4_name(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	return NULL;
}

const char *pw_proto_name(__u8 proto)
{
	return l4_name(proto) ?: "?";
}

const char *pw_packet_proto_name(__u16 l3proto, __u8 l4proto, char *buf, size_t len)
{
	const char *l3 = l3proto == ETH_P_IP	 ? "ipv4"
			 : l3proto == ETH_P_IPV6 ? "ipv6"
			 : l3proto == ETH_P_ARP	 ? "arp"
						 : NULL;
	const char *l4 = l4_name(l4proto);
	char l3buf[8], l4buf[8];

	if (!l3) {
		snprintf(l3buf, sizeof(l3buf), "0x%04x", l3proto);
		l3 = l3buf;
	}
	if (!l4 && l4proto) {
		snprintf(l4buf, sizeof(l4buf), "%u", l4proto);
		l4 = l4buf;
	}
	snprintf(buf, len, "%s%s%s", l3, l4 ? "/" : "", l4 ?: "");
	return buf;
}

const char *pw_family_name(__u16 family)
{
	return family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : "?";
}

static const char *const rung_names[PW_RUNG_COUNT] = {
	[PW_RUNG_FENTRY] = "fentry",
	[PW_RUNG_KPROBE] = "kprobe",
	[PW_RUNG_TRACEPOINT] = "tracepoint",
	[PW_RUNG_CLASSIC_TP] = "classic-tp",
};

const char *pw_rung_name(__u8 rung)
{
	return rung < PW_RUNG_COUNT ? rung_names[rung] : "?";
}

int pw_rung_parse(const char *name)
{
	for (int i = 0; i < PW_RUNG_COUNT; i++)
		if (!strcmp(name, rung_names[i]))
			return i;
	return -EINVAL;
}

const char *pw_owner_src_name(__u8 src)
{
	switch (src) {
	case PW_OWNER_LIVE:
		return "live";
	case PW_OWNER_SEEDED:
		return "seeded";
	}
	return "none";
}

int pw_record_check(const void *data, size_t size)
{
	const struct pw_rec_hdr *hdr = data;

	if (size < sizeof(*hdr))
		return -EINVAL;
	switch (hdr->type) {
	case PW_REC_PORT_ALLOC_FAIL:
		return size >= sizeof(struct pw_port_alloc_fail) ? (int)hdr->type : -EINVAL;
	case PW_REC_CONNECT_FAIL:
		return size >= sizeof(struct pw_connect_fail) ? (int)hdr->type : -EINVAL;
	case PW_REC_DROP:
		return size >= sizeof(struct pw_drop) ? (int)hdr->type : -EINVAL;
	}
	return -EINVAL;
}

void pw_record_subject(const void *data, const struct pw_owner **owner,
		       const struct pw_tuple **tuple)
{
	const struct pw_rec_hdr *hdr = data;

	if (hdr->type == PW_REC_PORT_ALLOC_FAIL) {
		const struct pw_port_alloc_fail *e = data;

		*owner = &e->owner;
		*tuple = &e->tuple;
	} else if (hdr->type == PW_REC_DROP) {
		const struct pw_drop *e = data;

		*owner = &e->owner;
		*tuple = &e->pkt;
	} else {
		const struct pw_connect_fail *e = data;

		*owner = &e->owner;
		*tuple = &e->tuple;
	}
}

/* Pieces every record kind's rendering shares. */

static void json_add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static void json_add_owner(struct json_object *o, const struct pw_owner *w, int known)
{
	char comm[PW_COMM_LEN + 1] = {};

	memcpy(comm, w->comm, PW_COMM_LEN);
	json_add(o, "pid", known ? json_object_new_int64(w->tgid) : NULL);
	json_add(o, "tid", known ? json_object_new_int64(w->tid) : NULL);
	json_add(o, "comm", known ? json_object_new_string(comm) : NULL);
	json_add(o, "cgroup_id", known ? json_object_new_uint64(w->cgroup_id) : NULL);
	json_add(o, "netns", json_object_new_int64(w->netns));
}

void pw_json_add_container(struct json_object *o, const struct pw_ctr *c)
{
	json_add(o, "container", c && c->name ? json_object_new_string(c->name) : NULL);
	json_add(o, "container_id", c && c->id ? json_object_new_string(c->id) : NULL);
	json_add(o, "runtime", c && c->runtime ? json_object_new_string(c->runtime) : NULL);
	json_add(o, "pod", c && c->pod ? json_object_new_string(c->pod) : NULL);
	json_add(o, "k8s_namespace",
		 c && c->k8s_namespace ? json_object_new_string(c->k8s_namespace) : NULL);
	json_add(o, "unit", c && c->unit ? json_object_new_string(c->unit) : NULL);
}

static void json_add_endpoints(struct json_object *o, const struct pw_tuple *t)
{
	char addr[INET6_ADDRSTRLEN];

	json_add(o, "saddr",
		 json_object_new_string(pw_format_addr(t->family, t->saddr, addr, sizeof(addr))));
	json_add(o, "sport", json_object_new_int(t->sport));
	json_add(o, "daddr",
		 json_object_new_string(pw_format_addr(t->family, t->daddr, addr, sizeof(addr))));
	json_add(o, "dport", json_object_new_int(t->dport));
}

static void json_add_tuple(struct json_object *o, const struct pw_tuple *t)
{
	json_add(o, "proto", json_object_new_string(pw_proto_name(t->proto)));
	json_add(o, "family", json_object_new_string(pw_family_name(t->family)));
	json_add_endpoints(o, t);
}

const char *pw_format_endpoint(__u16 family, const __u8 addr[16], __u16 port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], p[8] = "*";

	pw_format_addr(family, addr, a, sizeof(a));
	if (port)
		snprintf(p, sizeof(p), "%u", port);
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%s" : "%s:%s", a, p);
	return buf;
}

#define TEXT_FMT "%-8s %-7s %-15s %-10s %-5s %-24s %-24s %s%s\n"

void pw_text_header(FILE *out)
{
	fprintf(out, TEXT_FMT, "TIME", "PID", "COMM", "NETNS", "PROTO", "LOCAL", "REMOTE", "RESULT",
		"");
}

/* A record's text line: owner NULL when unknown, "-" for its pid and comm. */
static void record_line(FILE *out, const struct pw_clock *c, __u64 ts_ns,
			const struct pw_owner *owner, __u32 netns_inode, const struct pw_tuple *t,
			const char *result, const struct pw_ctr *ctr)
{
	char ctext[4096];

	char ts[16], pid[16] = "-", comm[PW_ESCAPED_SIZE(PW_COMM_LEN)] = "-", netns[16], proto[8];
	char local[INET6_ADDRSTRLEN + 10], remote[INET6_ADDRSTRLEN + 10];

	if (owner) {
		snprintf(pid, sizeof(pid), "%u", owner->tgid);
		pw_escape(owner->comm, PW_COMM_LEN, comm, sizeof(comm));
	}
	snprintf(netns, sizeof(netns), "%u", netns_inode);
	snprintf(proto, sizeof(proto), "%s%c", pw_proto_name(t->proto),
		 t->family == AF_INET6 ? '6' : '4');
	fprintf(out, TEXT_FMT, pw_format_ts(c, ts_ns, 0, ts, sizeof(ts)), pid, comm, netns, proto,
		pw_format_endpoint(t->family, t->saddr, t->sport, local, sizeof(local)),
		pw_format_endpoint(t->family, t->daddr, t->dport, remote, sizeof(remote)), result,
		owner ? pw_ctr_text(ctr, ctext, sizeof(ctext)) : "");
}

/* Port-allocation failures. */

static void port_alloc_json(struct json_object *o, const struct pw_port_alloc_fail *e,
			    const char *ts, const struct pw_ctr *ctr)
{
	struct json_object *range = json_object_new_array();
	char buf[64];

	json_add(o, "type", json_object_new_string("port_alloc_fail"));
	json_add(o, "ts", json_object_new_string(ts));
	json_add_owner(o, &e->owner, 1);
	pw_json_add_container(o, ctr);
	json_add_tuple(o, &e->tuple);
	json_add(o, "op", json_object_new_string(pw_op_name(e->op)));
	json_add(o, "errno", json_object_new_int(e->err));
	json_add(o, "error", json_object_new_string(pw_errno_name(e->err, buf, sizeof(buf))));
	json_object_array_add(range, json_object_new_int(e->range_lo));
	json_object_array_add(range, json_object_new_int(e->range_hi));
	json_add(o, "port_range", range);
	json_add(o, "rung", json_object_new_string(pw_rung_name(e->rung)));
}

static void port_alloc_text(FILE *out, const struct pw_port_alloc_fail *e, const struct pw_clock *c,
			    const struct pw_ctr *ctr)
{
	char result[96], err[32];

	snprintf(result, sizeof(result), "%s %s (range %u-%u)", pw_op_name(e->op),
		 pw_errno_name(e->err, err, sizeof(err)), e->range_lo, e->range_hi);
	record_line(out, c, e->hdr.ts_ns, &e->owner, e->owner.netns, &e->tuple, result, ctr);
}

/* Connect failures. */

/* The error name of a connect_fail: sk_err 0 means the owner closed it. */
static const char *error_name(int err, char *buf, size_t len)
{
	return err ? pw_errno_name(err, buf, len) : "closed";
}

static void connect_fail_json(struct json_object *o, const struct pw_connect_fail *e,
			      const char *ts, const struct pw_ctr *ctr)
{
	char buf[64];

	json_add(o, "type", json_object_new_string("connect_fail"));
	json_add(o, "ts", json_object_new_string(ts));
	json_add_owner(o, &e->owner, e->owner_src != PW_OWNER_NONE);
	pw_json_add_container(o, e->owner_src != PW_OWNER_NONE ? ctr : NULL);
	json_add_tuple(o, &e->tuple);
	json_add(o, "op", json_object_new_string("connect"));
	json_add(o, "errno", json_object_new_int(e->err));
	json_add(o, "error", json_object_new_string(error_name(e->err, buf, sizeof(buf))));
	json_add(o, "syn_sent_ns", e->syn_sent_ns ? json_object_new_uint64(e->syn_sent_ns) : NULL);
	json_add(o, "owner", json_object_new_string(pw_owner_src_name(e->owner_src)));
}

static void connect_fail_text(FILE *out, const struct pw_connect_fail *e, const struct pw_clock *c,
			      const struct pw_ctr *ctr)
{
	char result[96], err[32];
	int n = snprintf(result, sizeof(result), "connect %s",
			 error_name(e->err, err, sizeof(err)));

	if (e->syn_sent_ns)
		snprintf(result + n, sizeof(result) - n, " after %.3fs in SYN_SENT",
			 e->syn_sent_ns / 1e9);
	record_line(out, c, e->hdr.ts_ns, e->owner_src == PW_OWNER_NONE ? NULL : &e->owner,
		    e->owner.netns, &e->tuple, result, ctr);
}

struct json_object *pw_record_json(const void *data, const struct pw_clock *c,
				   const struct pw_ctr *ctr)
{
	const struct pw_rec_hdr *hdr = data;
	struct json_object *o = json_object_new_object();
	char ts[64];

	if (!o)
		return NULL;
	pw_format_ts(c, hdr->ts_ns, 1, ts, sizeof(ts));
	if (hdr->type == PW_REC_PORT_ALLOC_FAIL)
		port_alloc_json(o, data, ts, ctr);
	else
		connect_fail_json(o, data, ts, ctr);
	return o;
}

void pw_record_text(FILE *out, const void *data, const struct pw_clock *c, const struct pw_ctr *ctr)
{
	const struct pw_rec_hdr *hdr = data;

	if (hdr->type == PW_REC_PORT_ALLOC_FAIL)
		port_alloc_text(out, data, c, ctr);
	else
		connect_fail_text(out, data, c, ctr);
}

/* Drops, named through the drop context. */

static const char *attribution_name(__u8 a)
{
	return a == PW_ATTR_SOCKET ? "socket" : a == PW_ATTR_CONNTRACK ? "conntrack" : "none";
}

/* A packet's address; null when the packet is not IP (family 0). */
static struct json_object *json_packet_addr(__u16 family, const __u8 addr[16])
{
	char buf[INET6_ADDRSTRLEN];

	return family ? json_object_new_string(pw_format_addr(family, addr, buf, sizeof(buf)))
		      : NULL;
}

static struct json_object *tuple_json(const struct pw_tuple *t)
{
	struct json_object *o = json_object_new_object();

	json_add_endpoints(o, t);
	return o;
}

struct json_object *pw_drop_json(struct pw_dropctx *c, const struct pw_drop *e,
				 const struct pw_clock *clock, const struct pw_ctr *ctr)
{
	struct json_object *o = json_object_new_object(), *nat;
	char buf[160], comm[PW_COMM_LEN + 1] = {};
	bool owned = e->attribution != PW_ATTR_NONE;
	const char *cls = pw_nat_class_name(pw_dropctx_nat_class(c, e->netns, e->nat_class));

	if (!o)
		return NULL;
	json_object_object_add(o, "type", json_object_new_string("drop"));
	json_object_object_add(o, "ts",
			       json_object_new_string(
				       pw_format_ts(clock, e->hdr.ts_ns, 1, buf, sizeof(buf))));
	json_object_object_add(o, "reason",
			       json_object_new_string(pw_drop_reason_name(&c->reasons, e->reason,
									  buf, sizeof(buf))));
	json_object_object_add(o, "location",
			       json_object_new_string(
				       pw_dropctx_location(c, e->location, buf, sizeof(buf))));
	json_object_object_add(o, "proto", json_object_new_string(pw_proto_name(e->pkt.proto)));
	json_object_object_add(o, "family", json_object_new_string(pw_family_name(e->pkt.family)));
	json_add(o, "saddr", json_packet_addr(e->pkt.family, e->pkt.saddr));
	json_object_object_add(o, "sport", json_object_new_int(e->pkt.sport));
	json_add(o, "daddr", json_packet_addr(e->pkt.family, e->pkt.daddr));
	json_object_object_add(o, "dport", json_object_new_int(e->pkt.dport));
	if (e->pkt.proto == IPPROTO_ICMP || e->pkt.proto == IPPROTO_ICMPV6) {
		json_object_object_add(o, "icmp_type", json_object_new_int(e->icmp_type));
		json_object_object_add(o, "icmp_code", json_object_new_int(e->icmp_code));
	}
	json_object_object_add(o, "netns", json_object_new_int64(e->netns));
	json_object_object_add(o, "ifname",
			       json_object_new_string(pw_dropctx_ifname(c, e->netns, e->ifindex,
									buf, sizeof(buf))));
	memcpy(comm, e->owner.comm, PW_COMM_LEN);
	json_object_object_add(o, "pid", owned ? json_object_new_int64(e->owner.tgid) : NULL);
	json_object_object_add(o, "comm", owned ? json_object_new_string(comm) : NULL);
	json_object_object_add(o, "cgroup_id",
			       owned ? json_object_new_uint64(e->owner.cgroup_id) : NULL);
	json_object_object_add(o, "owner_netns",
			       owned ? json_object_new_int64(e->owner.netns) : NULL);
	pw_json_add_container(o, owned ? ctr : NULL);
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
		  const struct pw_clock *clock, const struct pw_ctr *ctr)
{
	char result[600], reason[48], loc[128], ifn[IF_NAMESIZE + 8];
	char ifn_text[PW_ESCAPED_SIZE(IF_NAMESIZE + 8)], orig[INET6_ADDRSTRLEN + 10];
	const char *cls = pw_nat_class_name(pw_dropctx_nat_class(c, e->netns, e->nat_class));
	bool owned = e->attribution != PW_ATTR_NONE;
	int n;

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
	if (owned)
		snprintf(result + n, sizeof(result) - n, " (by %s)",
			 attribution_name(e->attribution));
	record_line(out, clock, e->hdr.ts_ns, owned ? &e->owner : NULL, e->netns, &e->pkt, result,
		    ctr);
}

/* Loss reports. */

struct json_object *pw_lost_json(const struct pw_clock *c, __u64 ts_ns, __u64 records,
				 __u64 owner_evictions, __u64 drops_suppressed,
				 __u64 containers_not_cached)
{
	struct json_object *o = json_object_new_object();
	char buf[64];

	if (!o)
		return NULL;
	json_add(o, "type", json_object_new_string("lost"));
	json_add(o, "ts", json_object_new_string(pw_format_ts(c, ts_ns, 1, buf, sizeof(buf))));
	json_add(o, "records", json_object_new_uint64(records));
	json_add(o, "owner_evictions", json_object_new_uint64(owner_evictions));
	json_add(o, "drops_suppressed", json_object_new_uint64(drops_suppressed));
	json_add(o, "containers_not_cached", json_object_new_uint64(containers_not_cached));
	return o;
}
