// SPDX-License-Identifier: GPL-2.0
/* Unit tests: filter parsing and matching (AND of every filter given). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "filter.h"

static const struct pw_owner owner = { .tgid = 100, .tid = 101, .netns = 555, .comm = "curl" };

static struct pw_tuple tuple4(const char *daddr, __u16 dport)
{
	struct pw_tuple t = { .family = AF_INET, .proto = IPPROTO_TCP, .dport = dport };

	inet_pton(AF_INET, daddr, t.daddr);
	return t;
}

static struct pw_tuple tuple6(const char *daddr, __u16 dport)
{
	struct pw_tuple t = { .family = AF_INET6, .proto = IPPROTO_TCP, .dport = dport };

	inet_pton(AF_INET6, daddr, t.daddr);
	return t;
}

static void set(struct pw_filter *f, enum pw_filter_key key, const char *arg)
{
	char err[128];

	assert_int_equal(pw_filter_set(f, key, arg, err, sizeof(err)), 0);
}

static void test_empty_matches_all(void **state)
{
	struct pw_filter f = {};
	struct pw_tuple t = tuple4("10.0.0.1", 80);

	(void)state;
	assert_true(pw_filter_match(&f, &owner, true, &t));
	assert_true(pw_filter_match(&f, &owner, false, &t));
}

static void test_each_key(void **state)
{
	struct pw_tuple t = tuple4("10.0.0.1", 80);
	struct pw_filter f = {};

	(void)state;
	set(&f, PW_FILTER_PID, "100");
	assert_true(pw_filter_match(&f, &owner, true, &t));
	set(&f, PW_FILTER_PID, "101"); /* a tid is not a pid */
	assert_false(pw_filter_match(&f, &owner, true, &t));
	pw_filter_free(&f);

	set(&f, PW_FILTER_COMM, "curl");
	assert_true(pw_filter_match(&f, &owner, true, &t));
	set(&f, PW_FILTER_COMM, "cur");
	assert_false(pw_filter_match(&f, &owner, true, &t));
	pw_filter_free(&f);

	set(&f, PW_FILTER_NETNS, "555");
	assert_true(pw_filter_match(&f, &owner, true, &t));
	set(&f, PW_FILTER_NETNS, "556");
	assert_false(pw_filter_match(&f, &owner, true, &t));
	pw_filter_free(&f);

	set(&f, PW_FILTER_DPORT, "80");
	assert_true(pw_filter_match(&f, &owner, true, &t));
	set(&f, PW_FILTER_DPORT, "443");
	assert_false(pw_filter_match(&f, &owner, true, &t));
	pw_filter_free(&f);
}

static void test_daddr(void **state)
{
	struct pw_tuple v4 = tuple4("10.0.0.1", 80), v6 = tuple6("2001:db8::1", 80);
	struct pw_tuple mapped = tuple6("::ffff:10.0.0.1", 80);
	struct pw_filter f = {};

	(void)state;
	set(&f, PW_FILTER_DADDR, "10.0.0.1");
	assert_true(pw_filter_match(&f, &owner, true, &v4));
	assert_true(pw_filter_match(&f, &owner, true, &mapped));
	assert_false(pw_filter_match(&f, &owner, true, &v6));
	set(&f, PW_FILTER_DADDR, "2001:db8::1");
	assert_true(pw_filter_match(&f, &owner, true, &v6));
	assert_false(pw_filter_match(&f, &owner, true, &v4));
	pw_filter_free(&f);
}

static void test_and_and_unknown_owner(void **state)
{
	struct pw_tuple t = tuple4("10.0.0.1", 80);
	struct pw_filter f = {};

	(void)state;
	set(&f, PW_FILTER_NETNS, "555");
	set(&f, PW_FILTER_DPORT, "80");
	assert_true(pw_filter_match(&f, &owner, true, &t));
	/* The netns is known even when the owner is not. */
	assert_true(pw_filter_match(&f, &owner, false, &t));
	set(&f, PW_FILTER_PID, "100");
	assert_true(pw_filter_match(&f, &owner, true, &t));
	assert_false(pw_filter_match(&f, &owner, false, &t));
	t.dport = 81;
	assert_false(pw_filter_match(&f, &owner, true, &t));
	pw_filter_free(&f);
}

/* Container filters: nothing matches without the cache or for an unknown owner. */
static void test_container_unknown(void **state)
{
	struct pw_filter f = {};
	struct pw_tuple t = tuple4("10.0.0.7", 80);
	char err[128];

	(void)state;
	assert_int_equal(pw_filter_set(&f, PW_FILTER_CONTAINER, "web.1_a-b", err, sizeof(err)), 0);
	assert_true(pw_filter_wants_containers(&f));
	assert_false(pw_filter_match(&f, &owner, true, &t));
	assert_false(pw_filter_match(&f, &owner, false, &t));
	pw_filter_free(&f);
	assert_int_equal(pw_filter_set(&f, PW_FILTER_POD, "web-7d4b", err, sizeof(err)), 0);
	assert_false(pw_filter_match(&f, &owner, true, &t));
	pw_filter_free(&f);
	assert_false(pw_filter_wants_containers(&f));
}

static void test_bad_input(void **state)
{
	struct pw_filter f = {};
	char err[128];

	(void)state;
	assert_int_equal(pw_filter_set(&f, PW_FILTER_PID, "abc", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid --pid 'abc'");
	assert_int_equal(pw_filter_set(&f, PW_FILTER_PID, "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(pw_filter_set(&f, PW_FILTER_DPORT, "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(pw_filter_set(&f, PW_FILTER_DPORT, "65536", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid --dport '65536'");
	assert_int_equal(pw_filter_set(&f, PW_FILTER_DADDR, "10.0.0", err, sizeof(err)), -EINVAL);
	assert_int_equal(pw_filter_set(&f, PW_FILTER_COMM, "", err, sizeof(err)), -EINVAL);
	assert_int_equal(pw_filter_set(&f, PW_FILTER_COMM, "0123456789abcdef", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(pw_filter_set(&f, PW_FILTER_NETNS, "/etc/passwd", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "invalid --netns '/etc/passwd': not a namespace file");
	assert_int_equal(pw_filter_set(&f, PW_FILTER_CGROUP, "/etc", err, sizeof(err)), -EINVAL);
	assert_int_equal(pw_filter_set(&f, PW_FILTER_CONTAINER, "", err, sizeof(err)), -EINVAL);
	assert_int_equal(pw_filter_set(&f, PW_FILTER_CONTAINER, "-web", err, sizeof(err)), -EINVAL);
	assert_int_equal(pw_filter_set(&f, PW_FILTER_CONTAINER, "we b", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid --container 'we b': 1 to 253 letters, digits, '_', '.' "
				 "or '-', starting with a letter or digit");
	assert_int_equal(pw_filter_set(&f, PW_FILTER_POD, "web/1", err, sizeof(err)), -EINVAL);
	assert_int_equal(pw_filter_set(&f, PW_FILTER_K8S_NAMESPACE, "a\n", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(f.set, 0); /* nothing was set by bad input */
	pw_filter_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_matches_all),
		cmocka_unit_test(test_each_key),
		cmocka_unit_test(test_daddr),
		cmocka_unit_test(test_and_and_unknown_owner),
		cmocka_unit_test(test_container_unknown),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests_name("filter", tests, NULL, NULL);
}
