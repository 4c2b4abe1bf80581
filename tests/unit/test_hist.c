// SPDX-License-Identifier: GPL-2.0
/* Unit tests: log2 histogram text and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "hist.h"

static char *print_of(const __u64 *slots, int n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	pw_hist_print(f, slots, n, "ns");
	fclose(f);
	return buf;
}

static void test_print_rows_and_bars(void **state)
{
	__u64 slots[8] = { [2] = 4, [4] = 2 };
	char *out = print_of(slots, 8), *line;
	int rows = 0;

	(void)state;
	/* Header, then slots 2..4: empty slots outside the non-empty span are left out. */
	assert_non_null(strstr(out, "ns : count"));
	assert_non_null(strstr(out, "          4 -> 7          : 4          |"
				    "****************************************|\n"));
	assert_non_null(strstr(out, "          8 -> 15         : 0          |"));
	assert_non_null(strstr(out, "         16 -> 31         : 2          |"
				    "********************                    |\n"));
	for (line = out; (line = strchr(line, '\n')); line++)
		rows++;
	assert_int_equal(rows, 4);
	free(out);
}

static void test_print_empty(void **state)
{
	__u64 slots[4] = {};
	char *out = print_of(slots, 4);

	(void)state;
	assert_string_equal(out, "");
	free(out);
}

static void test_json(void **state)
{
	__u64 slots[8] = { [0] = 1, [3] = 5 };
	struct json_object *arr = pw_hist_json(slots, 8), *b;

	(void)state;
	assert_int_equal(json_object_array_length(arr), 2);
	b = json_object_array_get_idx(arr, 0);
	assert_int_equal(json_object_get_int64(json_object_object_get(b, "lo")), 0);
	assert_int_equal(json_object_get_int64(json_object_object_get(b, "hi")), 1);
	assert_int_equal(json_object_get_int64(json_object_object_get(b, "count")), 1);
	b = json_object_array_get_idx(arr, 1);
	assert_int_equal(json_object_get_int64(json_object_object_get(b, "lo")), 8);
	assert_int_equal(json_object_get_int64(json_object_object_get(b, "hi")), 15);
	assert_int_equal(json_object_get_int64(json_object_object_get(b, "count")), 5);
	json_object_put(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_print_rows_and_bars),
		cmocka_unit_test(test_print_empty),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
