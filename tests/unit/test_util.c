// SPDX-License-Identifier: GPL-2.0
/* Unit tests: strict number parsing, addresses, errno names, escaping for terminals,
 * walking a BPF map. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include "util.h"

static void test_parse_ulong(void **state)
{
	unsigned long v = 7;

	(void)state;
	assert_int_equal(pw_parse_ulong("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pw_parse_ulong("65535", 1, 65535, &v), 0);
	assert_int_equal(v, 65535);
	v = 7;
	assert_int_equal(pw_parse_ulong("65536", 1, 65535, &v), -EINVAL);
	assert_int_equal(pw_parse_ulong("0", 1, 65535, &v), -EINVAL);
	assert_int_equal(pw_parse_ulong("", 0, 10, &v), -EINVAL);
	assert_int_equal(pw_parse_ulong(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(pw_parse_ulong("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(pw_parse_ulong("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(pw_parse_ulong(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(pw_parse_ulong("1x", 0, 10, &v), -EINVAL);
	assert_int_equal(pw_parse_ulong("99999999999999999999999", 0, ~0UL, &v), -EINVAL);
	assert_int_equal(v, 7); /* untouched on error */
}

static void test_parse_addr(void **state)
{
	struct pw_addr a;
	const __u8 lo6[16] = { [15] = 1 };

	(void)state;
	assert_int_equal(pw_parse_addr("10.0.0.7", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, ((__u8[]){ 10, 0, 0, 7 }), 4);
	assert_int_equal(pw_parse_addr("::1", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(a.bytes, lo6, 16);
	assert_int_equal(pw_parse_addr("1.2.3", &a), -EINVAL);
	assert_int_equal(pw_parse_addr("300.1.1.1", &a), -EINVAL);
	assert_int_equal(pw_parse_addr("example.com", &a), -EINVAL);
	assert_int_equal(pw_parse_addr("fe80::1%eth0", &a), -EINVAL);
}

static void test_format_addr(void **state)
{
	const __u8 v4[16] = { 192, 168, 1, 20 };
	__u8 v6[16];
	char buf[64];

	(void)state;
	assert_string_equal(pw_format_addr(AF_INET, v4, buf, sizeof(buf)), "192.168.1.20");
	inet_pton(AF_INET6, "2001:db8::1:0:0:1", v6);
	assert_string_equal(pw_format_addr(AF_INET6, v6, buf, sizeof(buf)), "2001:db8::1:0:0:1");
	assert_string_equal(pw_format_addr(99, v4, buf, sizeof(buf)), "?");
}

static void test_errno_name(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(pw_errno_name(99, buf, sizeof(buf)), "EADDRNOTAVAIL");
	assert_string_equal(pw_errno_name(98, buf, sizeof(buf)), "EADDRINUSE");
	assert_string_equal(pw_errno_name(11, buf, sizeof(buf)), "EAGAIN");
	assert_string_equal(pw_errno_name(110, buf, sizeof(buf)), "ETIMEDOUT");
	assert_string_equal(pw_errno_name(4000, buf, sizeof(buf)), "E4000");
}

static void test_escape(void **state)
{
	const char comm[16] = "\x1b[31mEVIL\"\n{x\\\xc3";
	char out[PW_ESCAPED_SIZE(16)];

	(void)state;
	assert_string_equal(pw_escape(comm, sizeof(comm), out, sizeof(out)),
			    "\\x1b[31mEVIL\"\\x0a{x\\\\\\xc3");
	/* At most n bytes: a comm fills its 16 bytes with no NUL. */
	assert_string_equal(pw_escape("abcdef", 3, out, sizeof(out)), "abc");
	/* Every byte escaped still fits PW_ESCAPED_SIZE. */
	memset(out, 'z', sizeof(out));
	assert_int_equal(strlen(pw_escape("\x01\x02\x03\x04", 4, out, PW_ESCAPED_SIZE(4))), 16);
}

struct walk {
	int fd;
	unsigned int calls, stop_at;
};

static int delete_each(const void *key, void *ctx)
{
	struct walk *w = ctx;

	assert_int_equal(bpf_map_delete_elem(w->fd, key), 0);
	return ++w->calls == w->stop_at ? 7 : 0;
}

/* Every key once, even when fn deletes it; fn's nonzero result stops the walk. */
static void test_map_for_each(void **state)
{
	struct walk w = {};
	__u32 key, v = 0;

	(void)state;
	w.fd = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, sizeof(key), sizeof(v), 1000, NULL);
	if (w.fd < 0)
		skip(); /* not allowed to create BPF maps */
	for (key = 0; key < 1000; key++)
		assert_int_equal(bpf_map_update_elem(w.fd, &key, &v, BPF_ANY), 0);
	w.stop_at = 10;
	assert_int_equal(pw_map_for_each(w.fd, sizeof(key), delete_each, &w), 7);
	w.stop_at = 0;
	assert_int_equal(pw_map_for_each(w.fd, sizeof(key), delete_each, &w), 0);
	assert_int_equal(w.calls, 1000);
	assert_int_equal(pw_map_for_each(w.fd, PW_MAP_KEY_MAX + 1, delete_each, &w), -E2BIG);
	close(w.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ulong),
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_format_addr),
		cmocka_unit_test(test_errno_name),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_map_for_each),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
