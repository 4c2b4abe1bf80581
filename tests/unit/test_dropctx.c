// SPDX-License-Identifier: GPL-2.0
/* Unit tests: the classes of netfilter drops. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "dropctx.h"
#include "natclass.h"

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
		cmocka_unit_test(test_nat_classes),
	};

	return cmocka_run_group_tests_name("dropctx", tests, NULL, NULL);
}
