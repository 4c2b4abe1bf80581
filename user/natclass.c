// SPDX-License-Identifier: GPL-2.0
#include "natclass.h"

#include <stddef.h>
#include "portwatch.h"

__u8 pw_nat_class_of_no_entry(const struct pw_netns_ct *ct)
{
	if (ct->entries < 0)
		return PW_NF_FILTER;
	if (ct->max > 0 && ct->entries >= ct->max)
		return PW_NF_CONNTRACK_FULL;
	return ct->invalid_grew ? PW_NF_INVALID : PW_NF_FILTER;
}

const char *pw_nat_class_name(__u8 nat_class)
{
	switch (nat_class) {
	case PW_NF_NAT_CLASH:
		return "nat_clash";
	case PW_NF_CONNTRACK_FULL:
		return "conntrack_full";
	case PW_NF_INVALID:
		return "invalid";
	case PW_NF_FILTER:
	case PW_NF_NO_ENTRY:
		return "filter";
	}
	return NULL;
}
