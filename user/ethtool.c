// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "ethtool.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

static int ethtool_ioctl(const char *ifname, void *cmd)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		ret = -errno;
	close(fd);
	return ret;
}

int pw_ethtool_driver(const char *ifname, char *driver, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	int ret = ethtool_ioctl(ifname, &info);

	if (!ret)
		snprintf(driver, len, "%.*s", (int)sizeof(info.driver), info.driver);
	return ret;
}

int pw_ethtool_stats(const char *ifname, struct pw_eth_stat **stats, size_t *n)
{
	struct {
		struct ethtool_sset_info hdr;
		__u32 count;
	} sset = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_STATS } };
	struct ethtool_gstrings *names = NULL;
	struct ethtool_stats *values = NULL;
	struct pw_eth_stat *out = NULL;
	__u32 count;
	int ret;

	*stats = NULL;
	*n = 0;
	ret = ethtool_ioctl(ifname, &sset);
	if (ret)
		return ret;
	count = sset.hdr.sset_mask ? sset.count : 0;
	if (!count)
		return -EOPNOTSUPP;
	names = calloc(1, sizeof(*names) + (size_t)count * ETH_GSTRING_LEN);
	values = calloc(1, sizeof(*values) + (size_t)count * sizeof(__u64));
	out = calloc(count, sizeof(*out));
	if (!names || !values || !out) {
		ret = -ENOMEM;
		goto fail;
	}
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_STATS;
	names->len = count;
	values->cmd = ETHTOOL_GSTATS;
	values->n_stats = count;
	ret = ethtool_ioctl(ifname, names);
	if (!ret)
		ret = ethtool_ioctl(ifname, values);
	if (ret)
		goto fail;
	/* The count could change between the calls; use what both returned. */
	if (values->n_stats < count)
		count = values->n_stats;
	for (__u32 i = 0; i < count; i++) {
		memcpy(out[i].name, names->data + (size_t)i * ETH_GSTRING_LEN, ETH_GSTRING_LEN);
		out[i].value = values->data[i];
	}
	free(names);
	free(values);
	*stats = out;
	*n = count;
	return 0;
fail:
	free(names);
	free(values);
	free(out);
	return ret;
}

long long pw_ethtool_stat(const struct pw_eth_stat *stats, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(stats[i].name, name))
			return (long long)stats[i].value;
	return -1;
}
