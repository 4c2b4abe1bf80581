// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "ksyms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ksym {
	__u64 addr;
	char *name;
};

struct pw_ksyms {
	struct ksym *syms;
	size_t count;
};

static int by_addr(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * Parse "ADDR TYPE NAME [MODULE]" lines by hand: fscanf() made reading the
 * ~150,000 lines of /proc/kallsyms several times slower.
 */
struct pw_ksyms *pw_ksyms_load(const char *path)
{
	struct pw_ksyms *k = calloc(1, sizeof(*k));
	FILE *f = fopen(path, "r");
	size_t cap = 0, line_cap = 0;
	char *line = NULL, *p, *end;
	unsigned long long addr;
	int ret;

	if (!k || !f)
		goto fail;
	while (getline(&line, &line_cap, f) > 0) {
		struct ksym *grown;

		addr = strtoull(line, &p, 16);
		/* Text symbols only: drop locations are return addresses. */
		if (p == line || p[0] != ' ' || !strchr("tTwW", p[1]) || !p[1] || p[2] != ' ')
			continue;
		p += 3;
		end = p + strcspn(p, " \t\n");
		if (k->count == cap) {
			cap = cap ? cap * 2 : 65536;
			grown = realloc(k->syms, cap * sizeof(*grown));
			if (!grown)
				goto fail;
			k->syms = grown;
		}
		k->syms[k->count].addr = addr;
		k->syms[k->count].name = strndup(p, end - p);
		if (!k->syms[k->count++].name)
			goto fail;
	}
	free(line);
	fclose(f);
	f = NULL;
	for (size_t i = 0; i < k->count; i++)
		if (k->syms[i].addr) {
			qsort(k->syms, k->count, sizeof(*k->syms), by_addr);
			return k;
		}
	errno = EPERM;
	line = NULL;
fail:
	free(line);
	if (f)
		fclose(f);
	ret = errno ?: ENOMEM;
	pw_ksyms_free(k);
	errno = ret;
	return NULL;
}

const char *pw_ksyms_format(const struct pw_ksyms *k, __u64 addr, char *buf, size_t len)
{
	size_t lo = 0, hi = k ? k->count : 0;

	/* The last symbol at or below addr. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || !addr)
		snprintf(buf, len, "0x%llx", (unsigned long long)addr);
	else
		snprintf(buf, len, "%s+0x%llx", k->syms[lo - 1].name,
			 (unsigned long long)(addr - k->syms[lo - 1].addr));
	return buf;
}

int pw_ksyms_range(const struct pw_ksyms *k, const char *name, __u64 *start, __u64 *end)
{
	for (size_t i = 0; k && i < k->count; i++) {
		if (strcmp(k->syms[i].name, name))
			continue;
		/* Sorted by address: the first one above is the next function. */
		for (size_t j = i + 1; j < k->count; j++)
			if (k->syms[j].addr > k->syms[i].addr) {
				*start = k->syms[i].addr;
				*end = k->syms[j].addr;
				return 0;
			}
		break;
	}
	return -ENOENT;
}

void pw_ksyms_free(struct pw_ksyms *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->count; i++)
		free(k->syms[i].name);
	free(k->syms);
	free(k);
}
