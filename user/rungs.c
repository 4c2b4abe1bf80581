// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "rungs.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "probe.skel.h"
#include "record.h"
#include "util.h"

/*
 * One row per hook. kfunc is the kernel function of the fentry and kprobe
 * rungs (NULL: the hook has none), reached at its return (fexit, kretprobe)
 * unless `entry`; tp is what the tracepoint rung needs: a tracepoint,
 * "category/name" (classic) or "name" (tp_btf), or with tp_sockops a
 * sockops program on the cgroup v2 root (tp names its callback); tp_classic,
 * when the tracepoint rung is tp_btf, is the classic tracepoint of the
 * classic-tp rung. A tp_syscall hook's tracepoint rung is a syscall
 * tracepoint, tried only for sessions that follow syscalls (they put every
 * syscall on the slow path). Which programs of the main object serve each
 * rung is progs.c's table.
 */
static const struct hook_desc {
	const char *name;
	const char *what;
	const char *kfunc;
	const char *tp;
	bool tp_btf;
	const char *tp_classic;
	bool optional;	 /* attached only for the commands that ask (pw_ladder_probe) */
	bool entry;	 /* fentry/kprobe at the function's entry, not fexit/kretprobe */
	bool tp_sockops; /* the tracepoint rung is a sockops program */
	bool tp_syscall; /* the tracepoint rung is a syscall tracepoint */
} hooks[PW_HOOK_COUNT] = {
	/* Tracepoint rung: SYN_SENT -> CLOSE without a port (tcp_search_failed()). */
	[PW_HOOK_TCP_V4_CONNECT] = { "tcp_v4_connect", "TCP/IPv4 connect() result",
				     "tcp_v4_connect", "inet_sock_set_state", true },
	[PW_HOOK_TCP_V6_CONNECT] = { "tcp_v6_connect", "TCP/IPv6 connect() result",
				     "tcp_v6_connect", "inet_sock_set_state", true },
	[PW_HOOK_INET_CSK_GET_PORT] = { "inet_csk_get_port", "TCP bind() and listen() port",
					"inet_csk_get_port", "syscalls/sys_exit_bind",
					.tp_syscall = true },
	[PW_HOOK_UDP_PORT] = { "udp_port", "UDP bind(), connect(), send*() autobind", NULL,
			       "syscalls/sys_exit_sendmsg", .tp_syscall = true },
	[PW_HOOK_SOCK_STATE] = { "inet_sock_set_state",
				 "TCP state changes: SYN_SENT owners, async failures", NULL,
				 "inet_sock_set_state", true },
	[PW_HOOK_KFREE_SKB] = { "kfree_skb", "dropped packets and their drop reason", NULL,
				"kfree_skb", true, "skb/kfree_skb", true },
	[PW_HOOK_INET_HASH_CONNECT] = { "__inet_hash_connect",
					"connect-time port search time (tracepoint: estimate)",
					"__inet_hash_connect", "syscalls/sys_exit_connect", false,
					NULL, true, .tp_syscall = true },
	[PW_HOOK_TCP_CONNECT] = { "tcp_connect", "TCP flow owners, for drops after NAT",
				  "tcp_connect", "TCP_CONNECT_CB", .optional = true, .entry = true,
				  .tp_sockops = true },
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

/* What a rung attaches to for hook h: "fexit/tcp_v4_connect", "tp_btf/kfree_skb". */
static void rung_target(const struct hook_desc *h, int rung, char *buf, size_t len)
{
	switch (rung) {
	case PW_RUNG_FENTRY:
		snprintf(buf, len, "%s/%s", h->entry ? "fentry" : "fexit", h->kfunc);
		break;
	case PW_RUNG_KPROBE:
		snprintf(buf, len, "%s/%s", h->entry ? "kprobe" : "kretprobe", h->kfunc);
		break;
	case PW_RUNG_TRACEPOINT:
		snprintf(buf, len, "%s/%s",
			 h->tp_sockops ? "sockops"
			 : h->tp_btf   ? "tp_btf"
				       : "tracepoint",
			 h->tp);
		break;
	default:
		snprintf(buf, len, "tracepoint/%s", h->tp_classic);
		break;
	}
}

/*
 * Detaching a tracepoint or trampoline link waits for an RCU grace period
 * (tens of ms each): probes that attached are detached by a thread after the
 * ladder is done, off the start-up path. Until then they run as no-ops. One
 * pw_ladder_probe() call holds them here.
 */
#define DEFERRED_MAX (PW_HOOK_COUNT * PW_RUNG_COUNT)

struct deferred {
	struct bpf_link *link;
	struct probe_bpf *skel;
};

struct deferred_set {
	struct deferred d[DEFERRED_MAX];
	size_t n;
};

static bool defer_detach(struct deferred_set *ds, struct bpf_link *link, struct probe_bpf *skel)
{
	if (ds->n == DEFERRED_MAX)
		return false;
	ds->d[ds->n].link = link;
	ds->d[ds->n].skel = skel;
	ds->n++;
	return true;
}

static void *detach_deferred(void *arg)
{
	struct deferred *d = arg;

	for (size_t i = 0; d[i].skel; i++) {
		bpf_link__destroy(d[i].link);
		probe_bpf__destroy(d[i].skel);
	}
	free(d);
	return NULL;
}

/* Hand the probes that attached to a detached thread (inline if none can start). */
static void reap_deferred(struct deferred_set *ds)
{
	struct deferred *d = calloc(ds->n + 1, sizeof(*d));
	pthread_t t;

	if (!ds->n) {
		free(d);
		return;
	}
	if (d) {
		memcpy(d, ds->d, ds->n * sizeof(*d));
		if (!pthread_create(&t, NULL, detach_deferred, d)) {
			pthread_detach(t);
			return;
		}
		free(d);
	}
	for (size_t i = 0; i < ds->n; i++) {
		bpf_link__destroy(ds->d[i].link);
		probe_bpf__destroy(ds->d[i].skel);
	}
}

/* Load `prog` alone from a fresh probe object, then attach it; ds keeps it attached. */
static void try_rung(const struct hook_desc *h, enum pw_rung rung, struct pw_rung_result *r,
		     struct deferred_set *ds)
{
	struct probe_bpf *skel = probe_bpf__open();
	struct bpf_program *prog, *p;
	struct bpf_link *link = NULL;
	const char *slash, *tp = NULL;
	char category[32];
	int err, cg;

	if (!skel) {
		fail(r, "open", errno);
		return;
	}
	rung_target(h, rung, r->target, sizeof(r->target));
	switch (rung) {
	case PW_RUNG_FENTRY:
		prog = h->entry ? skel->progs.probe_fentry : skel->progs.probe_fexit;
		err = bpf_program__set_attach_target(prog, 0, h->kfunc);
		break;
	case PW_RUNG_KPROBE:
		prog = skel->progs.probe_kprobe;
		err = 0;
		break;
	case PW_RUNG_TRACEPOINT:
		if (h->tp_sockops) {
			prog = skel->progs.probe_sockops;
			err = 0;
			break;
		}
		prog = h->tp_btf ? skel->progs.probe_tp_btf : skel->progs.probe_tracepoint;
		err = h->tp_btf ? bpf_program__set_attach_target(prog, 0, h->tp) : 0;
		tp = h->tp_btf ? NULL : h->tp;
		break;
	default:
		prog = skel->progs.probe_tracepoint;
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
		link = bpf_program__attach_kprobe(prog, !h->entry, h->kfunc);
	} else if (prog == skel->progs.probe_sockops) {
		cg = pw_cgroup2_root_fd();
		errno = -cg;
		link = cg >= 0 ? bpf_program__attach_cgroup(prog, cg) : NULL;
		if (cg >= 0)
			close(cg);
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
	if (defer_detach(ds, link, skel))
		return;
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

/*
 * Hooks that share a target (sys_exit_connect serves three) share the
 * outcome of trying it: true when an earlier hook of this ladder tried the
 * same rung on the same target, whose result is then copied to r.
 */
static bool reuse_result(const struct pw_ladder *l, int hk, int rung, struct pw_rung_result *r)
{
	char target[sizeof(r->target)];

	rung_target(&hooks[hk], rung, target, sizeof(target));
	for (int prev = 0; prev < hk; prev++) {
		const struct pw_rung_result *p = &l->res[prev][rung];

		if (p->offered && p->err != -ECANCELED && !strcmp(p->target, target)) {
			*r = *p;
			return true;
		}
	}
	return false;
}

/*
 * A kernel that refuses to load a rung's program with EPERM refuses the
 * mechanism (lockdown, a locked ftrace), not one function: later hooks take
 * that answer instead of each loading a probe (and parsing the kernel's BTF)
 * to hear it again. True when r was filled so.
 */
static bool refused_before(const struct pw_ladder *l, int hk, int rung, struct pw_rung_result *r)
{
	for (int prev = 0; prev < hk; prev++) {
		const struct pw_rung_result *p = &l->res[prev][rung];

		if (p->offered && p->err == -EPERM && !strncmp(p->why, "load:", 5)) {
			rung_target(&hooks[hk], rung, r->target, sizeof(r->target));
			r->err = p->err;
			snprintf(r->why, sizeof(r->why), "%s, as for %s", p->why,
				 hooks[prev].name);
			return true;
		}
	}
	return false;
}

bool pw_ladder_syscalls(const struct pw_ladder *l)
{
	for (int hk = 0; hk < PW_HOOK_COUNT; hk++)
		if (hooks[hk].tp_syscall && l->chosen[hk] == PW_RUNG_TRACEPOINT)
			return true;
	return false;
}

int pw_ladder_probe(struct pw_ladder *l, int forced, bool all, unsigned int optional, bool syscalls,
		    char *err, size_t err_len)
{
	libbpf_print_fn_t old = libbpf_set_print(quiet_print);
	struct deferred_set ds = { .n = 0 };
	int ret = 0;

	memset(l, 0, sizeof(*l));
	/* probes (all) shows every hook: a failing hook must not leave the rest unprobed. */
	for (int hk = 0; hk < PW_HOOK_COUNT && (all || !ret); hk++) {
		const struct hook_desc *h = &hooks[hk];
		struct pw_rung_result *res = l->res[hk];
		bool force = forced >= 0 && offers(h, forced);
		bool unwanted = h->optional && !(optional & (1u << hk));
		/* Without syscall tracepoints such a hook may go unserved: no error. */
		bool no_syscall = !all && !syscalls && h->tp_syscall;

		l->chosen[hk] = -1;
		for (int rung = 0; rung < PW_RUNG_COUNT; rung++) {
			res[rung].offered = offers(h, rung);
			if (!res[rung].offered ||
			    (!all && (unwanted || (force && rung != forced) || l->chosen[hk] >= 0 ||
				      (no_syscall && rung == PW_RUNG_TRACEPOINT)))) {
				res[rung].err = -ECANCELED; /* not tried */
				continue;
			}
			if (!reuse_result(l, hk, rung, &res[rung]) &&
			    !refused_before(l, hk, rung, &res[rung]))
				try_rung(h, rung, &res[rung], &ds);
			if (!res[rung].err && l->chosen[hk] < 0 && (!force || rung == forced))
				l->chosen[hk] = rung;
		}
		if (!all && (unwanted || (no_syscall && l->chosen[hk] < 0 &&
					  (!force || forced == PW_RUNG_TRACEPOINT))))
			continue;
		if (ret)
			continue; /* the first failure is the one reported */
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
	reap_deferred(&ds);
	return ret;
}
