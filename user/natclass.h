/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Why netfilter dropped a packet (enum pw_nat_class): the kernel tells a
 * NAT clash from a packet conntrack had no entry for; the netns's conntrack
 * table tells the rest apart.
 */
#ifndef PORTWATCH_NATCLASS_H
#define PORTWATCH_NATCLASS_H

#include <linux/types.h>
#include "netns.h"
#include "portwatch.h"

/* The classes the loader makes of PW_NF_NO_ENTRY; the BPF side never writes them. */
enum {
	PW_NF_CONNTRACK_FULL = PW_NF_NO_ENTRY + 1, /* the netns's count at nf_conntrack_max */
	PW_NF_INVALID,				   /* its conntrack counted invalid packets */
};

/*
 * The final class of a drop the kernel classed PW_NF_NO_ENTRY, from its
 * netns's conntrack table `ct`: PW_NF_CONNTRACK_FULL when its entries are
 * at nf_conntrack_max, PW_NF_INVALID when conntrack there counted invalid
 * packets since the read before, else (or when ct is unknown) PW_NF_FILTER.
 */
__u8 pw_nat_class_of_no_entry(const struct pw_netns_ct *ct);

/* "nat_clash", "conntrack_full", "invalid", "filter"; NULL for PW_NF_NONE. */
const char *pw_nat_class_name(__u8 nat_class);

#endif /* PORTWATCH_NATCLASS_H */
