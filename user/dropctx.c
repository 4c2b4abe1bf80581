// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "dropctx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ksyms.h"
#include "natclass.h"
#include "netns.h"
#include "util.h"

int pw_dropctx_open(struct pw_dropctx *c, char *err, size_t err_len)
{
	int ret;

	memset(c, 0, sizeof(*c));
	ret = pw_drop_reasons_load(&c->reasons);
	/* libbpf: -ESRCH when it found the kernel's BTF nowhere. */
	if (ret == -ESRCH) {
		snprintf(err, err_len, "%s", PW_NO_BTF_MSG);
		return ret;
	}
	if (ret && ret != -ENOENT) {
		snprintf(err, err_len, "reading enum skb_drop_reason from the kernel's BTF: %s",
			 strerror(-ret));
		return ret;
	}
	c->netns = pw_netns_cache_new();
	if (!c->netns) {
		pw_drop_reasons_free(&c->reasons);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

const char *pw_dropctx_location(struct pw_dropctx *c, __u64 addr, char *buf, size_t len)
{
	if (!c->ksyms_tried) {
		c->ksyms_tried = true;
		c->ksyms = pw_ksyms_load("/proc/kallsyms");
		if (!c->ksyms && errno == EPERM)
			fprintf(stderr, "portwatch: /proc/kallsyms hides kernel addresses "
					"(kernel.kptr_restrict): locations stay addresses, unnamed\n");
		else if (!c->ksyms)
			fprintf(stderr, "portwatch: /proc/kallsyms: %s; locations stay addresses\n",
				strerror(errno));
	}
	return pw_ksyms_format(c->ksyms, addr, buf, len);
}

void pw_dropctx_close(struct pw_dropctx *c)
{
	pw_ksyms_free(c->ksyms);
	pw_drop_reasons_free(&c->reasons);
	pw_netns_cache_free(c->netns);
	memset(c, 0, sizeof(*c));
}

const char *pw_dropctx_ifname(struct pw_dropctx *c, __u32 netns, __u32 ifindex, char *buf,
			      size_t len)
{
	return pw_netns_ifname(c->netns, netns, ifindex, buf, len);
}

__u8 pw_dropctx_nat_class(struct pw_dropctx *c, __u32 netns, __u8 kernel_class)
{
	struct pw_netns_ct ct;

	if (kernel_class != PW_NF_NO_ENTRY)
		return kernel_class;
	pw_netns_conntrack(c->netns, netns, &ct);
	return pw_nat_class_of_no_entry(&ct);
}
