// SPDX-License-Identifier: GPL-2.0
/* Unit tests: record validation, JSON and text output of hand-made records. */
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
	struct json_object *o = pw_record_json(&e, &clk), *range;

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

static void test_connect_fail_json_unknown_owner(void **state)
{
	struct pw_connect_fail e = make_connect_fail();
	struct json_object *o = pw_record_json(&e, &clk);

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
	o = pw_record_json(&e, &clk);
	assert_string_equal(get_str(o, "error"), "ETIMEDOUT");
	assert_int_equal(get_int(o, "pid"), 9);
	assert_int_equal(get_int(o, "syn_sent_ns"), 3000000000LL);
	assert_string_equal(get_str(o, "owner"), "seeded");
	json_object_put(o);
}

static void test_lost_json(void **state)
{
	struct json_object *o = pw_lost_json(&clk, 0, 12, 3, 5);

	(void)state;
	assert_string_equal(get_str(o, "type"), "lost");
	assert_string_equal(get_str(o, "ts"), "2023-11-14T22:13:20.000000Z");
	assert_int_equal(get_int(o, "records"), 12);
	assert_int_equal(get_int(o, "owner_evictions"), 3);
	assert_int_equal(get_int(o, "drops_suppressed"), 5);
	json_object_put(o);
}

/* The text line of a record, in a malloc'd string. */
static char *text_of(const void *rec)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	pw_record_text(f, rec, &clk);
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
	assert_string_equal(pw_packet_proto_name(0x0800, IPPROTO_TCP, buf, sizeof(buf)), "ipv4/tcp");
	assert_string_equal(pw_packet_proto_name(0x86dd, IPPROTO_ICMPV6, buf, sizeof(buf)),
			    "ipv6/icmpv6");
	assert_string_equal(pw_packet_proto_name(0x0800, 47, buf, sizeof(buf)), "ipv4/47");
	assert_string_equal(pw_packet_proto_name(0x0806, 0, buf, sizeof(buf)), "arp");
	assert_string_equal(pw_packet_proto_name(0x88cc, 0, buf, sizeof(buf)), "0x88cc");
	assert_string_equal(pw_rung_name(PW_RUNG_COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_port_alloc_fail_json),
		cmocka_unit_test(test_connect_fail_json_unknown_owner),
		cmocka_unit_test(test_lost_json),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
