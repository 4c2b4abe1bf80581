/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A network device's driver name and ethtool statistics (`ethtool -i`,
 * `ethtool -S`), through the SIOCETHTOOL ioctl in the calling thread's netns.
 */
#ifndef PORTWATCH_ETHTOOL_H
#define PORTWATCH_ETHTOOL_H

#include <stddef.h>
#include <linux/types.h>

#define PW_ETH_STAT_NAME 32 /* ETH_GSTRING_LEN */

struct pw_eth_stat {
	char name[PW_ETH_STAT_NAME + 1];
	__u64 value;
};

/* The driver of `ifname` ("ena", "veth") into driver. Returns 0 or -errno. */
int pw_ethtool_driver(const char *ifname, char *driver, size_t len);

/*
 * All statistics of `ifname`, in *stats (malloc'd, *n entries, the driver's
 * order). Returns 0 or -errno (-EOPNOTSUPP: the driver has none).
 */
int pw_ethtool_stats(const char *ifname, struct pw_eth_stat **stats, size_t *n);

/* The value of statistic `name`, or -1 when absent. */
long long pw_ethtool_stat(const struct pw_eth_stat *stats, size_t n, const char *name);

#endif /* PORTWATCH_ETHTOOL_H */
