// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "rungs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "probe.skel.h"
#include "record.h"

/*
 * One row per hook. kfunc is the kernel function of the fentry and kprobe
 * rungs (NULL: the hook has none); tp is the tracepoint the tracepoint rung
 * needs, "category/name" (classic) or "name" (tp_btf); tp_classic, when the
 * tracepoint rung is tp_btf, is the classic tracepoint of the classic-tp rung.
 */
static const struct hook_desc {
	const char *name;
	const char *what;
	const char *kfunc;
	const char *tp;
	bool tp_btf;
	const char *tp_classic;
	bool optional; /* attached only for the commands that ask (pw_ladder_probe) */
} hooks[PW_HOOK_COUNT] = {
	[PW_HOOK_TCP_V4_CONNECT] = { "tcp_v4_connect", "TCP/IPv4 connect() result",
				     "tcp_v4_connect", "syscalls/sys_exit_connect" },
	[PW_HOOK_TCP_V6_CONNECT] = { "tcp_v6_connect", "TCP/IPv6 connect() result",
				     "tcp_v6_connect", "syscalls/sys_exit_connect" },
	[PW_HOOK_INET_CSK_GET_PORT] = { "inet_csk_get_port", "TCP bind() and listen() port",
					"inet_csk_get_port", "syscalls/sys_exit_bind" },
	[PW_HOOK_UDP_PORT] = { "udp_port", "UDP bind(), connect(), send*() autobind", NULL,
			       "syscalls/sys_exit_sendmsg" },
	[PW_HOOK_SOCK_STATE] = { "inet_sock_set_state",
				 "TCP state changes: SYN_SENT owners, async failures", NULL,
				 "inet_sock_set_state", true },
	[PW_HOOK_KFREE_SKB] = { "kfree_skb", "dropped packets and their drop reason", NULL,
				"kfree_skb", true, "skb/kfree_skb", true },
	[PW_HOOK_INET_HASH_CONNECT] = { "__inet_hash_connect",
					"connect-time port search time (tracepoint: estimate)",
					"__inet_hash_connect", "syscalls/sys_exit_connect", false,
					NULL, true },
};

const char *pw_hook_name(enum pw_hook hook)
{
	return hooks[hook].name;
}

const char *pw_hook_what(enum pw_hook hook)
{
	return hooks[hook].what;
}

/* libbpf's own messages while probing are noise: the result says it all. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

static void fail(struct pw_rung_result *r, const char *stage, int err)
{
	r->err = err < 0 ? err : -err;
	snprintf(r->why, sizeof(r->why), "%s: %s (%s)", stage, strerror(-r->err),
		 strerrorname_np(-r->err) ?: "?");
}

/* Load `prog` alone from a fresh probe object, then attach it. */
static void try_rung(const struct hook_desc *h, enum pw_rung rung, struct pw_rung_result *r)
{
	struct probe_bpf *skel = probe_bpf__open();
	struct bpf_program *prog, *p;
	struct bpf_link *link = NULL;
	const char *slash, *tp = NULL;
	char category[32];
	int err;

	if (!skel) {
		fail(r, "open", errno);
		return;
	}
	switch (rung) {
	case PW_RUNG_FENTRY:
		prog = skel->progs.probe_fexit;
		snprintf(r->target, sizeof(r->target), "fexit/%s", h->kfunc);
		err = bpf_program__set_attach_target(prog, 0, h->kfunc);
		break;
	case PW_RUNG_KPROBE:
		prog = skel->progs.probe_kprobe;
		snprintf(r->target, sizeof(r->target), "kretprobe/%s", h->kfunc);
		err = 0;
		break;
	case PW_RUNG_TRACEPOINT:
		prog = h->tp_btf ? skel->progs.probe_tp_btf : skel->progs.probe_tracepoint;
		snprintf(r->target, sizeof(r->target), "%s/%s", h->tp_btf ? "tp_btf" : "tracepoint",
			 h->tp);
		err = h->tp_btf ? bpf_program__set_attach_target(prog, 0, h->tp) : 0;
		tp = h->tp_btf ? NULL : h->tp;
		break;
	default:
		prog = skel->progs.probe_tracepoint;
		snprintf(r->target, sizeof(r->target), "tracepoint/%s", h->tp_classic);
		err = 0;
		tp = h->tp_classic;
		break;
	}
	if (err) {
		fail(r, "not in kernel BTF", err);
		goto out;
	}
	bpf_object__for_each_program(p, skel->obj) bpf_program__set_autoload(p, p == prog);
	err = probe_bpf__load(skel);
	if (err) {
		fail(r, "load", err);
		goto out;
	}
	if (rung == PW_RUNG_KPROBE) {
		link = bpf_program__attach_kprobe(prog, true, h->kfunc);
	} else if (tp) {
		slash = strchr(tp, '/');
		snprintf(category, sizeof(category), "%.*s", (int)(slash - tp), tp);
		link = bpf_program__attach_tracepoint(prog, category, slash + 1);
	} else {
		link = bpf_program__attach_trace(prog);
	}
	if (!link) {
		fail(r, "attach", errno);
		goto out;
	}
	r->err = 0;
out:
	bpf_link__destroy(link);
	probe_bpf__destroy(skel);
}

static bool offers(const struct hook_desc *h, int rung)
{
	switch (rung) {
	case PW_RUNG_TRACEPOINT:
		return true;
	case PW_RUNG_CLASSIC_TP:
		return h->tp_classic;
	default:
		return h->kfunc;
	}
}

int pw_ladder_probe(struct pw_ladder *l, int forced, bool all, unsigned int optional, char *err,
		    size_t err_len)
{
	libbpf_print_fn_t old = libbpf_set_print(quiet_print);
	int ret = 0;

	memset(l, 0, sizeof(*l));
	for (int hk = 0; hk < PW_HOOK_COUNT && !ret; hk++) {
		const struct hook_desc *h = &hooks[hk];
		struct pw_rung_result *res = l->res[hk];
		bool force = forced >= 0 && offers(h, forced);
		bool unwanted = h->optional && !(optional & (1u << hk));

		l->chosen[hk] = -1;
		for (int rung = 0; rung < PW_RUNG_COUNT; rung++) {
			res[rung].offered = offers(h, rung);
			if (!res[rung].offered || (!all && (unwanted || (force && rung != forced) ||
							    l->chosen[hk] >= 0))) {
				res[rung].err = -ECANCELED; /* not tried */
				continue;
			}
			try_rung(h, rung, &res[rung]);
			if (!res[rung].err && l->chosen[hk] < 0 && (!force || rung == forced))
				l->chosen[hk] = rung;
		}
		if (!all && unwanted)
			continue;
		if (force && l->chosen[hk] != forced) {
			snprintf(err, err_len, "--attach=%s: %s: %s refused: %s",
				 pw_rung_name(forced), h->name, res[forced].target,
				 res[forced].why);
			ret = -ENOENT;
		} else if (l->chosen[hk] < 0) {
			snprintf(err, err_len, "%s: no rung can attach (tracepoint: %s)", h->name,
				 res[PW_RUNG_TRACEPOINT].why);
			ret = -ENOENT;
		}
	}
	libbpf_set_print(old);
	return ret;
}

/* The name a program of `rung` carries after its prefix for hook `h`, or NULL. */
static const char *hook_target(const struct hook_desc *h, enum pw_rung rung)
{
	const char *slash;

	switch (rung) {
	case PW_RUNG_TRACEPOINT:
		return h->tp_btf ? h->tp : NULL;
	case PW_RUNG_CLASSIC_TP:
		slash = h->tp_classic ? strchr(h->tp_classic, '/') : NULL;
		return slash ? slash + 1 : NULL;
	default:
		return h->kfunc;
	}
}

bool pw_ladder_wants(const struct pw_ladder *l, const char *prog_name)
{
	static const struct {
		const char *prefix;
		enum pw_rung rung;
	} prefixes[] = {
		{ "fentry_", PW_RUNG_FENTRY }, { "fexit_", PW_RUNG_FENTRY },
		{ "kprobe_", PW_RUNG_KPROBE }, { "kretprobe_", PW_RUNG_KPROBE },
		{ "tp_", PW_RUNG_TRACEPOINT }, { "tpc_", PW_RUNG_CLASSIC_TP },
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i].prefix);
		bool tp = prefixes[i].rung == PW_RUNG_TRACEPOINT;

		if (strncmp(prog_name, prefixes[i].prefix, n))
			continue;
		for (int hk = 0; hk < PW_HOOK_COUNT; hk++) {
			const char *target = hook_target(&hooks[hk], prefixes[i].rung);

			if (target && !strcmp(prog_name + n, target))
				return l->chosen[hk] == (int)prefixes[i].rung;
		}
		/* A tracepoint program of no hook (the syscall ones) always loads. */
		return tp;
	}
	return true;
}
