// SPDX-License-Identifier: GPL-2.0
/* Unit tests: record validation, JSON and text output of hand-made records. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "dropctx.h"
#include "netns.h"
#include "container.h"
#include "record.h"

/* 2023-11-14T22:13:20Z is 1700000000 s after the epoch. */
static const struct pw_clock clk = { .boot_to_real_ns = 1700000000LL * 1000000000LL };

static struct pw_port_alloc_fail make_port_alloc_fail(void)
{
	struct pw_port_alloc_fail e = {
		.hdr = { .type = PW_REC_PORT_ALLOC_FAIL, .ts_ns = 123456789 },
		.owner = { .tgid = 4242, .tid = 4243, .cgroup_id = 77, .netns = 4026531840u },
		.tuple = { .sport = 0, .dport = 8080, .family = AF_INET, .proto = IPPROTO_TCP },
		.err = 99,
		.op = PW_OP_CONNECT,
		.rung = PW_RUNG_TRACEPOINT,
		.range_lo = 40000,
		.range_hi = 40003,
	};

	/* A full 16-byte comm with no NUL, as the kernel can hand over. */
	memcpy(e.owner.comm, "abcdefghijklmnop", PW_COMM_LEN);
	inet_pton(AF_INET, "10.0.0.7", e.tuple.daddr);
	return e;
}

static struct pw_connect_fail make_connect_fail(void)
{
	struct pw_connect_fail e = {
		.hdr = { .type = PW_REC_CONNECT_FAIL, .ts_ns = 5 },
		.owner = { .netns = 12 },
		.tuple = { .sport = 40001, .dport = 443, .family = AF_INET6, .proto = IPPROTO_TCP },
		.err = 0,
		.owner_src = PW_OWNER_NONE,
	};

	inet_pton(AF_INET6, "::1", e.tuple.saddr);
	inet_pton(AF_INET6, "2001:db8::5", e.tuple.daddr);
	return e;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static void assert_null_field(struct json_object *o, const char *key)
{
	struct json_object *v = (void *)1;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_null(v);
}

static void test_check(void **state)
{
	struct pw_port_alloc_fail e = make_port_alloc_fail();
	struct pw_connect_fail c = make_connect_fail();

	(void)state;
	assert_int_equal(pw_record_check(&e, sizeof(e)), PW_REC_PORT_ALLOC_FAIL);
	assert_int_equal(pw_record_check(&c, sizeof(c)), PW_REC_CONNECT_FAIL);
	assert_int_equal(pw_record_check(&e, sizeof(e) - 1), -EINVAL);
	assert_int_equal(pw_record_check(&e, sizeof(struct pw_rec_hdr) - 1), -EINVAL);
	e.hdr.type = 99;
	assert_int_equal(pw_record_check(&e, sizeof(e)), -EINVAL);
}

static void test_port_alloc_fail_json(void **state)
{
	struct pw_port_alloc_fail e = make_port_alloc_fail();
	struct json_object *o = pw_record_json(&e, &clk, NULL), *range;

	(void)state;
	assert_non_null(o);
	assert_string_equal(get_str(o, "type"), "port_alloc_fail");
	assert_string_equal(get_str(o, "ts"), "2023-11-14T22:13:20.123456Z");
	assert_int_equal(get_int(o, "pid"), 4242);
	assert_int_equal(get_int(o, "tid"), 4243);
	assert_string_equal(get_str(o, "comm"), "abcdefghijklmnop");
	assert_int_equal(get_int(o, "cgroup_id"), 77);
	assert_int_equal(get_int(o, "netns"), 4026531840u);
	assert_string_equal(get_str(o, "proto"), "tcp");
	assert_string_equal(get_str(o, "family"), "ipv4");
	assert_string_equal(get_str(o, "saddr"), "0.0.0.0");
	assert_int_equal(get_int(o, "sport"), 0);
	assert_string_equal(get_str(o, "daddr"), "10.0.0.7");
	assert_int_equal(get_int(o, "dport"), 8080);
	assert_string_equal(get_str(o, "op"), "connect");
	assert_int_equal(get_int(o, "errno"), 99);
	assert_string_equal(get_str(o, "error"), "EADDRNOTAVAIL");
	assert_string_equal(get_str(o, "rung"), "tracepoint");
	assert_true(json_object_object_get_ex(o, "port_range", &range));
	assert_int_equal(json_object_array_length(range), 2);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(range, 0)), 40000);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(range, 1)), 40003);
	json_object_put(o);
}

/* The owner's container in JSON and as the text line's suffix; null fields without one. */
static void test_container_fields(void **state)
{
	struct pw_port_alloc_fail e = make_port_alloc_fail();
	struct pw_ctr ctr = {
		.runtime = "podman",
			      .id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		.name = "web\x1b[2J",
		.pod = "web-7d4b",
		.k8s_namespace = "shop"
	};
	struct json_object *o = pw_record_json(&e, &clk, &ctr);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_string_equal(get_str(o, "container"), "web\x1b[2J");
	assert_string_equal(get_str(o, "container_id"), ctr.id);
	assert_string_equal(get_str(o, "runtime"), "podman");
	assert_string_equal(get_str(o, "pod"), "web-7d4b");
	assert_string_equal(get_str(o, "k8s_namespace"), "shop");
	assert_null_field(o, "unit");
	json_object_put(o);
	o = pw_record_json(&e, &clk, NULL);
	assert_null_field(o, "container");
	assert_null_field(o, "container_id");
	assert_null_field(o, "runtime");
	assert_null_field(o, "pod");
	assert_null_field(o, "k8s_namespace");
	json_object_put(o);

	f = open_memstream(&buf, &len);
	pw_record_text(f, &e, &clk, &ctr);
	fclose(f);
	assert_non_null(strstr(buf, "(range 40000-40003) [pod shop/web-7d4b ctr web\\x1b[2J]\n"));
	free(buf);
}

static void test_connect_fail_json_unknown_owner(void **state)
{
	struct pw_connect_fail e = make_connect_fail();
	struct json_object *o = pw_record_json(&e, &clk, NULL);

	(void)state;
	assert_string_equal(get_str(o, "type"), "connect_fail");
	assert_null_field(o, "pid");
	assert_null_field(o, "comm");
	assert_null_field(o, "cgroup_id");
	assert_null_field(o, "syn_sent_ns");
	assert_int_equal(get_int(o, "netns"), 12);
	assert_int_equal(get_int(o, "errno"), 0);
	assert_string_equal(get_str(o, "error"), "closed");
	assert_string_equal(get_str(o, "owner"), "none");
	assert_string_equal(get_str(o, "family"), "ipv6");
	assert_string_equal(get_str(o, "saddr"), "::1");
	assert_string_equal(get_str(o, "daddr"), "2001:db8::5");
	json_object_put(o);

	e.err = 110;
	e.owner_src = PW_OWNER_SEEDED;
	e.owner.tgid = 9;
	e.syn_sent_ns = 3000000000ULL;
	o = pw_record_json(&e, &clk, NULL);
	assert_string_equal(get_str(o, "error"), "ETIMEDOUT");
	assert_int_equal(get_int(o, "pid"), 9);
	assert_int_equal(get_int(o, "syn_sent_ns"), 3000000000LL);
	assert_string_equal(get_str(o, "owner"), "seeded");
	json_object_put(o);
}

static void test_lost_json(void **state)
{
	struct json_object *o = pw_lost_json(&clk, 0, 12, 3, 5, 7);

	(void)state;
	assert_string_equal(get_str(o, "type"), "lost");
	assert_string_equal(get_str(o, "ts"), "2023-11-14T22:13:20.000000Z");
	assert_int_equal(get_int(o, "records"), 12);
	assert_int_equal(get_int(o, "owner_evictions"), 3);
	assert_int_equal(get_int(o, "drops_suppressed"), 5);
	assert_int_equal(get_int(o, "containers_not_cached"), 7);
	json_object_put(o);
}

/* The text line of a record, in a malloc'd string. */
static char *text_of(const void *rec)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	pw_record_text(f, rec, &clk, NULL);
	fclose(f);
	return buf;
}

static void test_text(void **state)
{
	struct pw_port_alloc_fail e = make_port_alloc_fail();
	struct pw_connect_fail c = make_connect_fail();
	char *line;

	(void)state;
	line = text_of(&e);
	assert_non_null(strstr(line, " 4242 "));
	assert_non_null(strstr(line, " tcp4 "));
	assert_non_null(strstr(line, " 0.0.0.0:* "));
	assert_non_null(strstr(line, " 10.0.0.7:8080 "));
	assert_non_null(strstr(line, "connect EADDRNOTAVAIL (range 40000-40003)\n"));
	free(line);

	c.err = 110;
	c.syn_sent_ns = 3000000000ULL;
	line = text_of(&c);
	assert_non_null(strstr(line, " - ")); /* unknown owner: no pid */
	assert_non_null(strstr(line, " tcp6 "));
	assert_non_null(strstr(line, "[::1]:40001"));
	assert_non_null(strstr(line, "[2001:db8::5]:443"));
	assert_non_null(strstr(line, "connect ETIMEDOUT after 3.000s in SYN_SENT\n"));
	free(line);
}

static void test_names(void **state)
{
	char buf[24];

	(void)state;
	assert_int_equal(pw_rung_parse("fentry"), PW_RUNG_FENTRY);
	assert_int_equal(pw_rung_parse("kprobe"), PW_RUNG_KPROBE);
	assert_int_equal(pw_rung_parse("tracepoint"), PW_RUNG_TRACEPOINT);
	assert_int_equal(pw_rung_parse("fexit"), -EINVAL);
	assert_string_equal(pw_op_name(PW_OP_AUTOBIND), "autobind");
	assert_string_equal(pw_op_name(0), "?");
	assert_string_equal(pw_proto_name(IPPROTO_UDP), "udp");
	assert_string_equal(pw_proto_name(47), "?");
	assert_string_equal(pw_packet_proto_name(0x0800, IPPROTO_TCP, buf, sizeof(buf)),
			    "ipv4/tcp");
	assert_string_equal(pw_packet_proto_name(0x86dd, IPPROTO_ICMPV6, buf, sizeof(buf)),
			    "ipv6/icmpv6");
	assert_string_equal(pw_packet_proto_name(0x0800, 47, buf, sizeof(buf)), "ipv4/47");
	assert_string_equal(pw_packet_proto_name(0x0806, 0, buf, sizeof(buf)), "arp");
	assert_string_equal(pw_packet_proto_name(0x88cc, 0, buf, sizeof(buf)), "0x88cc");
	assert_string_equal(pw_rung_name(PW_RUNG_COUNT), "?");
}

/* Drop records, named through a drop context. */

static __u32 reason_value(const struct pw_dropctx *c, const char *name)
{
	for (__u32 v = 0; v < c->reasons.count; v++)
		if (c->reasons.names[v] && !strcmp(c->reasons.names[v], name))
			return v;
	fail_msg("no %s in this kernel's enum skb_drop_reason", name);
	return 0;
}

static void set_tuple(struct pw_tuple *t, const char *s, __u16 sport, const char *d, __u16 dport)
{
	memset(t, 0, sizeof(*t));
	t->family = AF_INET;
	t->proto = IPPROTO_TCP;
	inet_pton(AF_INET, s, t->saddr);
	inet_pton(AF_INET, d, t->daddr);
	t->sport = sport;
	t->dport = dport;
}

static const char *str_at(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, a, &v));
	if (b)
		assert_true(json_object_object_get_ex(v, b, &v));
	return json_object_get_string(v);
}

/* A SYN dropped after SNAT: the shape natlab's nat-port-exhaustion produces. */
static void test_nat_clash_json_and_text(void **state)
{
	struct pw_dropctx c;
	struct pw_drop e = {};
	struct json_object *o, *nat, *orig;
	char err[128], *text = NULL;
	size_t len = 0;
	FILE *f;
	__u32 self;

	(void)state;
	assert_int_equal(pw_dropctx_open(&c, err, sizeof(err)), 0);
	assert_int_equal(pw_netns_inode("/proc/self/ns/net", &self), 0);
	e.hdr.type = PW_REC_DROP;
	e.reason = reason_value(&c, "NETFILTER_DROP");
	e.netns = self;
	e.ifindex = 1; /* lo, in every netns */
	set_tuple(&e.pkt, "203.0.113.1", 50000, "203.0.113.80", 443);
	set_tuple(&e.ct_orig, "10.0.1.10", 34212, "203.0.113.80", 443);
	set_tuple(&e.ct_reply, "203.0.113.80", 443, "203.0.113.1", 50000);
	e.has_ct = 1;
	e.ct_status = 0x190;
	e.nat_class = PW_NF_NAT_CLASH;
	e.attribution = PW_ATTR_CONNTRACK;
	e.owner.tgid = 4242;
	memcpy(e.owner.comm, "curl", 5);

	o = pw_drop_json(&c, &e, &clk, NULL);
	assert_string_equal(str_at(o, "type", NULL), "drop");
	assert_string_equal(str_at(o, "reason", NULL), "NETFILTER_DROP");
	assert_string_equal(str_at(o, "saddr", NULL), "203.0.113.1");
	assert_string_equal(str_at(o, "sport", NULL), "50000");
	assert_string_equal(str_at(o, "proto", NULL), "tcp");
	assert_string_equal(str_at(o, "ifname", NULL), "lo");
	assert_string_equal(str_at(o, "pid", NULL), "4242");
	assert_string_equal(str_at(o, "comm", NULL), "curl");
	assert_string_equal(str_at(o, "attribution", NULL), "conntrack");
	assert_string_equal(str_at(o, "nat", "class"), "nat_clash");
	assert_string_equal(str_at(o, "nat", "status"), "400");
	assert_true(json_object_object_get_ex(o, "nat", &nat));
	assert_true(json_object_object_get_ex(nat, "orig", &orig));
	assert_string_equal(str_at(orig, "saddr", NULL), "10.0.1.10");
	assert_string_equal(str_at(orig, "sport", NULL), "34212");
	json_object_put(o);

	f = open_memstream(&text, &len);
	pw_drop_text(f, &c, &e, &clk, NULL);
	fclose(f);
	assert_non_null(strstr(text, " 4242    curl "));
	assert_non_null(strstr(text, "203.0.113.1:50000"));
	assert_non_null(strstr(text, "drop NETFILTER_DROP at 0x0 on lo [nat_clash] orig "
				     "10.0.1.10:34212 (by conntrack)"));
	free(text);
	pw_dropctx_close(&c);
}

/* Not a netfilter drop, no owner: no nat object, nulls for the owner. */
static void test_unattributed_json(void **state)
{
	struct pw_dropctx c;
	struct pw_drop e = {};
	struct json_object *o, *v;
	char err[128];

	(void)state;
	assert_int_equal(pw_dropctx_open(&c, err, sizeof(err)), 0);
	e.hdr.type = PW_REC_DROP;
	e.reason = reason_value(&c, "NO_SOCKET");
	set_tuple(&e.pkt, "192.0.2.1", 1234, "192.0.2.2", 9);
	o = pw_drop_json(&c, &e, &clk, NULL);
	assert_string_equal(str_at(o, "reason", NULL), "NO_SOCKET");
	assert_string_equal(str_at(o, "attribution", NULL), "none");
	assert_string_equal(str_at(o, "ifname", NULL), "-");
	assert_true(json_object_object_get_ex(o, "pid", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "nat", &v));
	assert_null(v);
	assert_false(json_object_object_get_ex(o, "icmp_type", &v));
	json_object_put(o);

	/* An ICMP echo: type and code instead of ports. */
	e.pkt.proto = 1;
	e.pkt.sport = e.pkt.dport = 0;
	e.icmp_type = 8;
	o = pw_drop_json(&c, &e, &clk, NULL);
	assert_string_equal(str_at(o, "proto", NULL), "icmp");
	assert_string_equal(str_at(o, "icmp_type", NULL), "8");
	assert_string_equal(str_at(o, "icmp_code", NULL), "0");
	json_object_put(o);
	pw_dropctx_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_port_alloc_fail_json),
		cmocka_unit_test(test_container_fields),
		cmocka_unit_test(test_connect_fail_json_unknown_owner),
		cmocka_unit_test(test_lost_json),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_nat_clash_json_and_text),
		cmocka_unit_test(test_unattributed_json),
	};

	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
