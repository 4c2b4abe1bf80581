// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "dropreason.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>

#define REASON_PREFIX "SKB_DROP_REASON_"
#define SUBSYS_PREFIX "SKB_DROP_REASON_SUBSYS_"
#define SUBSYS_SHIFT  16

/* Names of `enum name` by value, prefix removed; *count = largest value + 1. */
static int enum_names(const struct btf *btf, const char *name, const char *prefix, char ***out,
		      __u32 *count)
{
	__s32 id = btf__find_by_name_kind(btf, name, BTF_KIND_ENUM);
	const struct btf_type *t;
	const struct btf_enum *e;
	__u32 max = 0;
	char **names;

	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++)
		if ((__u32)e[i].val > max && (__u32)e[i].val < (1u << SUBSYS_SHIFT))
			max = e[i].val;
	names = calloc(max + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (int i = 0; i < btf_vlen(t); i++) {
		const char *n = btf__name_by_offset(btf, e[i].name_off);
		__u32 v = e[i].val;

		if (v > max || names[v])
			continue;
		if (!strncmp(n, prefix, strlen(prefix)))
			n += strlen(prefix);
		else if (!strncmp(n, "SKB_", 4)) /* SKB_CONSUMED */
			n += 4;
		names[v] = strdup(n);
	}
	*out = names;
	*count = max + 1;
	return 0;
}

int pw_drop_reasons_load(struct pw_drop_reasons *r)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int ret;

	memset(r, 0, sizeof(*r));
	if (!btf)
		return -errno;
	ret = enum_names(btf, "skb_drop_reason", REASON_PREFIX, &r->names, &r->count);
	/* Since 6.4: subsystems own the reasons whose bits 16-31 are set. */
	if (!ret &&
	    enum_names(btf, "skb_drop_reason_subsys", SUBSYS_PREFIX, &r->subsys, &r->subsys_count))
		r->subsys_count = 0;
	btf__free(btf);
	return ret;
}

const char *pw_drop_reason_name(const struct pw_drop_reasons *r, __u32 value, char *buf, size_t len)
{
	__u32 sub = value >> SUBSYS_SHIFT;

	if (sub) {
		if (sub < r->subsys_count && r->subsys[sub])
			snprintf(buf, len, "%s:%u", r->subsys[sub], value & 0xffff);
		else
			snprintf(buf, len, "SUBSYS_%u:%u", sub, value & 0xffff);
		return buf;
	}
	if (value < r->count && r->names[value])
		return r->names[value];
	/* Before 5.17 there is no enum, and every drop is unspecified. */
	if (!r->count)
		return "NOT_SPECIFIED";
	snprintf(buf, len, "UNKNOWN_%u", value);
	return buf;
}

static void free_names(char **names, __u32 count)
{
	for (__u32 i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

void pw_reason_add(struct pw_reason_count *v, int *n, __u32 reason, __u64 count)
{
	int i;

	if (!count)
		return;
	for (i = 0; i < *n && v[i].reason != reason; i++)
		;
	if (i == *n)
		v[(*n)++] = (struct pw_reason_count){ reason, 0 };
	v[i].count += count;
}

static int by_count_desc(const void *a, const void *b)
{
	__u64 x = ((const struct pw_reason_count *)a)->count;
	__u64 y = ((const struct pw_reason_count *)b)->count;

	return x > y ? -1 : x < y;
}

void pw_reason_sort(struct pw_reason_count *v, int n)
{
	qsort(v, n, sizeof(*v), by_count_desc);
}

void pw_drop_reasons_free(struct pw_drop_reasons *r)
{
	free_names(r->names, r->count);
	free_names(r->subsys, r->subsys_count);
	memset(r, 0, sizeof(*r));
}
