// SPDX-License-Identifier: GPL-2.0
#include "hist.h"

#define BAR_WIDTH 40

/* Slot i covers [lo, hi]: [0, 1] for slot 0, else [2^i, 2^(i+1) - 1]. */
static void slot_bounds(int i, unsigned long long *lo, unsigned long long *hi)
{
	*lo = i ? 1ULL << i : 0;
	*hi = (1ULL << (i + 1)) - 1;
}

void pw_hist_print(FILE *out, const __u64 *slots, int n, const char *unit)
{
	int first = -1, last = -1;
	__u64 max = 0;

	for (int i = 0; i < n; i++) {
		if (!slots[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (slots[i] > max)
			max = slots[i];
	}
	if (first < 0)
		return;
	fprintf(out, "%25s : %-10s distribution\n", unit, "count");
	for (int i = first; i <= last; i++) {
		unsigned long long lo, hi;
		int stars = (int)(slots[i] * BAR_WIDTH / max);
		char bar[BAR_WIDTH + 1];

		slot_bounds(i, &lo, &hi);
		for (int k = 0; k < BAR_WIDTH; k++)
			bar[k] = k < stars ? '*' : ' ';
		bar[BAR_WIDTH] = '\0';
		fprintf(out, "%11llu -> %-10llu : %-10llu |%s|\n", lo, hi,
			(unsigned long long)slots[i], bar);
	}
}

struct json_object *pw_hist_json(const __u64 *slots, int n)
{
	struct json_object *arr = json_object_new_array();

	if (!arr)
		return NULL;
	for (int i = 0; i < n; i++) {
		struct json_object *b;
		unsigned long long lo, hi;

		if (!slots[i])
			continue;
		slot_bounds(i, &lo, &hi);
		b = json_object_new_object();
		json_object_object_add(b, "lo", json_object_new_uint64(lo));
		json_object_object_add(b, "hi", json_object_new_uint64(hi));
		json_object_object_add(b, "count", json_object_new_uint64(slots[i]));
		json_object_array_add(arr, b);
	}
	return arr;
}
