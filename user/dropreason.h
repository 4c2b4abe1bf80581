/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Names of the running kernel's skb drop reasons, read from its BTF
 * (enum skb_drop_reason): the numbers differ between kernels (6.1 and 6.18
 * disagree), so no table is compiled in.
 */
#ifndef PORTWATCH_DROPREASON_H
#define PORTWATCH_DROPREASON_H

#include <stddef.h>
#include <linux/types.h>

struct pw_drop_reasons {
	char **names;  /* by value, "NETFILTER_DROP"; NULL where the enum has none */
	__u32 count;   /* entries of names */
	char **subsys; /* enum skb_drop_reason_subsys names by subsystem id, or NULL */
	__u32 subsys_count;
};

/*
 * Load the names from /sys/kernel/btf/vmlinux. Returns 0, or -errno (-ENOENT
 * when the kernel has no enum skb_drop_reason: before 5.17).
 */
int pw_drop_reasons_load(struct pw_drop_reasons *r);

/*
 * The name of a reason value: "NETFILTER_DROP" (prefix SKB_DROP_REASON_
 * dropped), "SUBSYS:N" for a subsystem's reason (6.4+ encode the subsystem in
 * bits 16-31), "UNKNOWN_N" for a value the enum lacks, "NOT_SPECIFIED" when
 * the kernel has no enum at all (before 5.17: reasons were not recorded).
 */
const char *pw_drop_reason_name(const struct pw_drop_reasons *r, __u32 value, char *buf,
				size_t len);

/* Free the names and zero r; a zeroed r is fine. */
void pw_drop_reasons_free(struct pw_drop_reasons *r);

/* Drops counted by reason, for "top reasons" lines (trace's summary, top). */
struct pw_reason_count {
	__u32 reason;
	__u64 count; /* drops */
};

/*
 * Add count drops to reason's entry of v (n entries so far; v must have room
 * for one more). A count of 0 adds no entry.
 */
void pw_reason_add(struct pw_reason_count *v, int *n, __u32 reason, __u64 count);

/* Sort v by count, biggest first: v[0..2] are then the top three. */
void pw_reason_sort(struct pw_reason_count *v, int n);

#endif /* PORTWATCH_DROPREASON_H */
