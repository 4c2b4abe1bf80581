// SPDX-License-Identifier: GPL-2.0
/* Unit tests: the ports connect() can use toward one destination. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "ports.h"

static void test_usable_ports(void **state)
{
	(void)state;
	/* Debian's default range, nothing reserved. */
	assert_int_equal(pw_usable_ports(32768, 60999, ""), 28232);
	assert_int_equal(pw_usable_ports(32768, 60999, NULL), 28232);
	/* An odd range loses a port; reserved ports count only inside the window. */
	assert_int_equal(pw_usable_ports(20000, 20100, ""), 100);
	assert_int_equal(pw_usable_ports(20000, 20099, "20010-20019,20050,30000\n"), 89);
	assert_int_equal(pw_usable_ports(20000, 20100, "19990-20005"), 94);
	assert_int_equal(pw_usable_ports(20000, 20100, "20100-20200"), 100);
	/* One port; an empty (inverted) range. */
	assert_int_equal(pw_usable_ports(50000, 50000, ""), 1);
	assert_int_equal(pw_usable_ports(50001, 50000, ""), 0);
	/* Garbage stops the parse instead of looping. */
	assert_int_equal(pw_usable_ports(1, 10, "x,3"), 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usable_ports),
	};

	return cmocka_run_group_tests_name("ports", tests, NULL, NULL);
}
