// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "conntrack.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

#define MAX_COLUMNS 32

int pw_conntrack_stats(struct pw_ct_stats *out)
{
	static const struct {
		const char *name;
		size_t offset;
	} wanted[] = {
		{ "entries", offsetof(struct pw_ct_stats, entries) },
		{ "invalid", offsetof(struct pw_ct_stats, invalid) },
		{ "insert_failed", offsetof(struct pw_ct_stats, insert_failed) },
		{ "drop", offsetof(struct pw_ct_stats, drop) },
		{ "early_drop", offsetof(struct pw_ct_stats, early_drop) },
	};
	int column[sizeof(wanted) / sizeof(wanted[0])];
	FILE *f = fopen("/proc/net/stat/nf_conntrack", "r");
	char line[1024], *tok, *save;
	int ncol = 0, lines = 0;

	memset(out, 0, sizeof(*out));
	if (!f)
		return -errno;
	for (size_t w = 0; w < sizeof(wanted) / sizeof(wanted[0]); w++)
		column[w] = -1;
	if (fgets(line, sizeof(line), f))
		for (tok = strtok_r(line, " \t\n", &save); tok && ncol < MAX_COLUMNS;
		     tok = strtok_r(NULL, " \t\n", &save), ncol++)
			for (size_t w = 0; w < sizeof(wanted) / sizeof(wanted[0]); w++)
				if (!strcmp(tok, wanted[w].name))
					column[w] = ncol;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[MAX_COLUMNS];
		int n = 0;

		for (tok = strtok_r(line, " \t\n", &save); tok && n < MAX_COLUMNS;
		     tok = strtok_r(NULL, " \t\n", &save))
			v[n++] = strtoull(tok, NULL, 16);
		for (size_t w = 0; w < sizeof(wanted) / sizeof(wanted[0]); w++) {
			__u64 *field = (__u64 *)((char *)out + wanted[w].offset);

			if (column[w] < 0 || column[w] >= n)
				continue;
			/* entries is per netns, repeated on each CPU's line. */
			if (w == 0)
				*field = v[column[w]];
			else
				*field += v[column[w]];
		}
		lines++;
	}
	fclose(f);
	return lines ? 0 : -EINVAL;
}

long pw_conntrack_max(void)
{
	return pw_read_long("/proc/sys/net/netfilter/nf_conntrack_max");
}
