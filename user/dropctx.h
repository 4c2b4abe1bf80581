/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What turns the numbers of a dropped packet into names: drop reasons (from
 * the kernel's BTF), locations (/proc/kallsyms), interface names and the
 * conntrack state of the netns the packet died in (netns.h's cache), which
 * classes netfilter drops (natclass.h). Shared by `drops` and `trace`.
 */
#ifndef PORTWATCH_DROPCTX_H
#define PORTWATCH_DROPCTX_H

#include <stdbool.h>
#include "dropreason.h"
#include "portwatch.h"

struct pw_ksyms;
struct pw_netns_cache;

struct pw_dropctx {
	struct pw_drop_reasons reasons;
	struct pw_ksyms *ksyms;	     /* loaded at the first location; NULL: addresses */
	bool ksyms_tried;
	struct pw_netns_cache *netns; /* netns inode -> path, ifnames, conntrack state */
};

/*
 * Load reason names and read, in each netns found (/run/netns, processes),
 * conntrack's `invalid` count as the base of pw_dropctx_nat_class(). Returns
 * 0, or -errno with a one-line reason in err (BTF unreadable). A kernel
 * without enum skb_drop_reason (before 5.17) names every reason
 * NOT_SPECIFIED. Kernel symbols wait for the first location.
 */
int pw_dropctx_open(struct pw_dropctx *c, char *err, size_t err_len);
/* Free what c holds and zero it; a zeroed c is fine. */
void pw_dropctx_close(struct pw_dropctx *c);

/*
 * A drop location as "symbol+0xoff" (an address when /proc/kallsyms cannot
 * tell). The symbols are read at the first call, not at start-up: parsing
 * /proc/kallsyms takes tens of ms, and a quiet host may never need them; a
 * missing /proc/kallsyms is warned about once on stderr.
 */
const char *pw_dropctx_location(struct pw_dropctx *c, __u64 addr, char *buf, size_t len);

/* The name of interface ifindex in netns (inode): "eth0", "if7" when unknown, "-" for 0. */
const char *pw_dropctx_ifname(struct pw_dropctx *c, __u32 netns, __u32 ifindex, char *buf,
			      size_t len);

/*
 * The final enum pw_nat_class of a drop: PW_NF_NO_ENTRY as
 * pw_nat_class_of_no_entry() tells it from the netns's conntrack table
 * (pw_netns_conntrack(): read at most once a second, so at report time; the
 * first read compares with the `invalid` count at pw_dropctx_open()); a
 * netns not found stays PW_NF_FILTER. Other classes pass unchanged.
 */
__u8 pw_dropctx_nat_class(struct pw_dropctx *c, __u32 netns, __u8 kernel_class);

#endif /* PORTWATCH_DROPCTX_H */
