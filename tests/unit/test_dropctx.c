// SPDX-License-Identifier: GPL-2.0
/* Unit tests: drop records as JSON and text, netfilter classes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dropctx.h"
#include "natclass.h"
#include "netns.h"
#include "util.h"

static struct pw_clock clk = { .boot_to_real_ns = 1700000000LL * 1000000000LL };

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

	o = pw_drop_json(&c, &e, &clk);
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
	pw_drop_text(f, &c, &e, &clk);
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
	o = pw_drop_json(&c, &e, &clk);
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
	o = pw_drop_json(&c, &e, &clk);
	assert_string_equal(str_at(o, "proto", NULL), "icmp");
	assert_string_equal(str_at(o, "icmp_type", NULL), "8");
	assert_string_equal(str_at(o, "icmp_code", NULL), "0");
	json_object_put(o);
	pw_dropctx_close(&c);
}

static void test_nat_classes(void **state)
{
	struct pw_dropctx c;
	char err[128];

	(void)state;
	assert_int_equal(pw_dropctx_open(&c, err, sizeof(err)), 0);
	assert_string_equal(pw_nat_class_name(PW_NF_NAT_CLASH), "nat_clash");
	assert_string_equal(pw_nat_class_name(PW_NF_CONNTRACK_FULL), "conntrack_full");
	assert_string_equal(pw_nat_class_name(PW_NF_INVALID), "invalid");
	assert_string_equal(pw_nat_class_name(PW_NF_FILTER), "filter");
	assert_null(pw_nat_class_name(PW_NF_NONE));
	/* No entry: the conntrack table tells full from invalid from a filter's drop. */
	assert_int_equal(pw_nat_class_of_no_entry(&(struct pw_netns_ct){ 100, 100, false }),
			 PW_NF_CONNTRACK_FULL);
	assert_int_equal(pw_nat_class_of_no_entry(&(struct pw_netns_ct){ 5, 100, true }),
			 PW_NF_INVALID);
	assert_int_equal(pw_nat_class_of_no_entry(&(struct pw_netns_ct){ 5, 100, false }),
			 PW_NF_FILTER);
	assert_int_equal(pw_nat_class_of_no_entry(&(struct pw_netns_ct){ 5, -1, false }),
			 PW_NF_FILTER);
	assert_int_equal(pw_nat_class_of_no_entry(&(struct pw_netns_ct){ -1, 100, true }),
			 PW_NF_FILTER);
	/* Kernel classes other than "no entry" pass through. */
	assert_int_equal(pw_dropctx_nat_class(&c, 1, PW_NF_NAT_CLASH), PW_NF_NAT_CLASH);
	assert_int_equal(pw_dropctx_nat_class(&c, 1, PW_NF_NONE), PW_NF_NONE);
	/* A netns nobody can enter (inode 1 is no netns): its conntrack is unknown. */
	assert_int_equal(pw_dropctx_nat_class(&c, 1, PW_NF_NO_ENTRY), PW_NF_FILTER);
	pw_dropctx_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nat_clash_json_and_text),
		cmocka_unit_test(test_unattributed_json),
		cmocka_unit_test(test_nat_classes),
	};

	return cmocka_run_group_tests_name("dropctx", tests, NULL, NULL);
}
