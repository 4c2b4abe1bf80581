// SPDX-License-Identifier: GPL-2.0
/*
 * ethstat IFNAME STAT: prints "<driver> <value>" of one ethtool statistic,
 * read by portwatch's own reader (user/ethtool.c), for the tests to compare
 * with what the kernel says elsewhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ethtool.h"

int main(int argc, char **argv)
{
	struct pw_eth_stat *stats;
	char driver[32];
	size_t n;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: ethstat IFNAME STAT\n");
		return 2;
	}
	ret = pw_ethtool_driver(argv[1], driver, sizeof(driver));
	if (!ret)
		ret = pw_ethtool_stats(argv[1], &stats, &n);
	if (ret) {
		fprintf(stderr, "ethstat: %s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	printf("%s %lld\n", driver, pw_ethtool_stat(stats, n, argv[2]));
	free(stats);
	return 0;
}
