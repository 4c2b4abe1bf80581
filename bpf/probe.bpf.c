// SPDX-License-Identifier: GPL-2.0
/*
 * Minimal programs that test, rung by rung, whether a hook can be loaded and
 * attached on the running kernel (like libbpf-tools' fentry_can_attach, but
 * through libbpf's own attach paths, so a pass means the real programs attach
 * the same way). The loader sets the target of each before loading it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry")
int probe_fentry(void *ctx)
{
	return 0;
}

SEC("fexit")
int probe_fexit(void *ctx)
{
	return 0;
}

SEC("kprobe")
int probe_kprobe(void *ctx)
{
	return 0;
}

SEC("tracepoint")
int probe_tracepoint(void *ctx)
{
	return 0;
}

SEC("tp_btf")
int probe_tp_btf(void *ctx)
{
	return 0;
}

/* For hooks whose tracepoint rung is a sockops program on the cgroup v2 root. */
SEC("sockops")
int probe_sockops(void *ctx)
{
	return 1;
}
