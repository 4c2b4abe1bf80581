// SPDX-License-Identifier: GPL-2.0
/* Unit tests: drop reason names, their tally, and kernel symbol formatting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "dropreason.h"
#include "ksyms.h"

static void test_reason_names(void **state)
{
	char *names[] = { NULL, "CONSUMED", "NOT_SPECIFIED", NULL, "NETFILTER_DROP" };
	char *subsys[] = { "CORE", "MAC80211_UNUSABLE" };
	struct pw_drop_reasons r = {
		.names = names, .count = 5, .subsys = subsys, .subsys_count = 2
	};
	char buf[48];

	(void)state;
	assert_string_equal(pw_drop_reason_name(&r, 4, buf, sizeof(buf)), "NETFILTER_DROP");
	assert_string_equal(pw_drop_reason_name(&r, 3, buf, sizeof(buf)), "UNKNOWN_3");
	assert_string_equal(pw_drop_reason_name(&r, 77, buf, sizeof(buf)), "UNKNOWN_77");
	assert_string_equal(pw_drop_reason_name(&r, (1u << 16) | 5, buf, sizeof(buf)),
			    "MAC80211_UNUSABLE:5");
	assert_string_equal(pw_drop_reason_name(&r, (9u << 16) | 1, buf, sizeof(buf)),
			    "SUBSYS_9:1");
}

static void test_ksyms(void **state)
{
	char path[] = "/tmp/pw-kallsyms-XXXXXX", buf[64];
	__u64 start = 0, end = 0;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct pw_ksyms *k;

	(void)state;
	fputs("ffffffff81000200 T second_func\n"
	      "ffffffff81000100 t first_func\n"
	      "ffffffff81000150 D some_data\n"
	      "ffffffff81000300 T third_func\t[some_module]\n",
	      f);
	fclose(f);
	k = pw_ksyms_load(path);
	unlink(path);
	assert_non_null(k);
	assert_string_equal(pw_ksyms_format(k, 0xffffffff81000100ULL, buf, sizeof(buf)),
			    "first_func+0x0");
	/* Data symbols do not count: 0x180 is still in first_func. */
	assert_string_equal(pw_ksyms_format(k, 0xffffffff81000180ULL, buf, sizeof(buf)),
			    "first_func+0x80");
	assert_string_equal(pw_ksyms_format(k, 0xffffffff8100024aULL, buf, sizeof(buf)),
			    "second_func+0x4a");
	assert_string_equal(pw_ksyms_format(k, 0xffffffff81000310ULL, buf, sizeof(buf)),
			    "third_func+0x10");
	assert_string_equal(pw_ksyms_format(k, 0xffffffff81000010ULL, buf, sizeof(buf)),
			    "0xffffffff81000010");
	/* A function's text ends where the next text symbol starts. */
	assert_int_equal(pw_ksyms_range(k, "first_func", &start, &end), 0);
	assert_int_equal(start, 0xffffffff81000100ULL);
	assert_int_equal(end, 0xffffffff81000200ULL);
	assert_int_equal(pw_ksyms_range(k, "second_func", &start, &end), 0);
	assert_int_equal(end, 0xffffffff81000300ULL);
	/* The last one has no known end; data and missing names are not functions. */
	assert_int_equal(pw_ksyms_range(k, "third_func", &start, &end), -ENOENT);
	assert_int_equal(pw_ksyms_range(k, "some_data", &start, &end), -ENOENT);
	assert_int_equal(pw_ksyms_range(k, "no_func", &start, &end), -ENOENT);
	pw_ksyms_free(k);

	/* kernel.kptr_restrict=2: every address 0. No names rather than wrong ones. */
	fd = mkstemp(strcpy(path, "/tmp/pw-kallsyms-XXXXXX"));
	f = fdopen(fd, "w");
	fputs("0000000000000000 T second_func\n0000000000000000 t first_func\n", f);
	fclose(f);
	errno = 0;
	k = pw_ksyms_load(path);
	unlink(path);
	assert_null(k);
	assert_int_equal(errno, EPERM);
}

/* The top three reasons are the three biggest, whatever order they come in. */
static void test_reason_tally(void **state)
{
	static const struct {
		__u32 reason;
		__u64 count;
	} in[] = { { 5, 1 }, { 6, 2 }, { 5, 1 }, { 7, 3 }, { 8, 0 }, { 9, 50 }, { 6, 2 } };
	struct pw_reason_count v[8];
	int n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		pw_reason_add(v, &n, in[i].reason, in[i].count);
	assert_int_equal(n, 4); /* no entry for a count of 0 */
	pw_reason_sort(v, n);
	assert_int_equal(v[0].reason, 9);
	assert_int_equal(v[0].count, 50);
	assert_int_equal(v[1].reason, 6);
	assert_int_equal(v[1].count, 4);
	assert_int_equal(v[2].reason, 7);
	assert_int_equal(v[2].count, 3);
	assert_int_equal(v[3].reason, 5);
	assert_int_equal(v[3].count, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_ksyms),
		cmocka_unit_test(test_reason_tally),
	};

	return cmocka_run_group_tests_name("drops", tests, NULL, NULL);
}
