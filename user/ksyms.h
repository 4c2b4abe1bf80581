/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel text addresses to "function+0xoff", from /proc/kallsyms. */
#ifndef PORTWATCH_KSYMS_H
#define PORTWATCH_KSYMS_H

#include <stddef.h>
#include <linux/types.h>

struct pw_ksyms;

/*
 * Load /proc/kallsyms (text symbols only). NULL with errno set on failure:
 * EPERM when it hides every address (kernel.kptr_restrict=2, or 1 without
 * CAP_SYSLOG: all read 0, and any lookup would name the wrong function).
 */
struct pw_ksyms *pw_ksyms_load(const char *path);

/* "kfree_skb_reason+0x4a", or "0xffffffff81234567" when no symbol covers addr. */
const char *pw_ksyms_format(const struct pw_ksyms *k, __u64 addr, char *buf, size_t len);

/*
 * The text of function name: [*start, *end), end the address of the next
 * text symbol above it. 0, or -ENOENT when k has no such function (or nothing
 * follows it, so its end is unknown).
 */
int pw_ksyms_range(const struct pw_ksyms *k, const char *name, __u64 *start, __u64 *end);

/* Free k (NULL is fine). */
void pw_ksyms_free(struct pw_ksyms *k);

#endif /* PORTWATCH_KSYMS_H */
