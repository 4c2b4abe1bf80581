/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The attach ladder. Each logical hook (enum pw_hook) can be reached through
 * some of the rungs fentry/fexit, kprobe/kretprobe, tracepoint (tp_btf or
 * classic) and classic-tp (the classic fallback of a tp_btf hook). Before
 * loading, every rung of every hook is tried for real: a minimal program is
 * loaded and attached to the same kernel target through libbpf. The best rung
 * that works is chosen, or the one --attach forces.
 */
#ifndef PORTWATCH_RUNGS_H
#define PORTWATCH_RUNGS_H

#include <stdbool.h>
#include <stddef.h>
#include "portwatch.h"

/* The outcome of trying one rung of one hook. */
struct pw_rung_result {
	bool offered;	 /* the hook has this rung at all */
	int err;	 /* 0 when it loaded and attached, else -errno */
	char target[64]; /* what was tried: "fexit/tcp_v4_connect" */
	char why[96];	 /* "load: Operation not permitted"; empty when ok */
};

struct pw_ladder {
	int chosen[PW_HOOK_COUNT]; /* enum pw_rung, or -1 when no rung works */
	struct pw_rung_result res[PW_HOOK_COUNT][PW_RUNG_COUNT];
};

/* Name and one-line description of a hook, for `probes`. */
const char *pw_hook_name(enum pw_hook hook);
const char *pw_hook_what(enum pw_hook hook);

/*
 * Choose a rung per hook: `forced` (an enum pw_rung) for the hooks that have
 * it, else (forced < 0) the best that works. Optional hooks (kfree_skb,
 * __inet_hash_connect, tcp_connect) serve one need each: only those whose
 * bit (1 << enum pw_hook) is in `optional` are chosen; the others keep
 * chosen -1, so nothing of theirs loads or runs. Without `syscalls`, no
 * hook gets a syscall tracepoint (inet_csk_get_port, udp_port and
 * __inet_hash_connect have them as their tracepoint rung): such a hook keeps
 * chosen -1 where no other rung works, which is no error. With `all`, every
 * offered rung of every hook is tried (for `probes`); else only until the
 * choice is made, and the rungs not tried have err -ECANCELED. Returns 0;
 * -ENOENT with a one-line reason in `err` when a forced rung fails for a
 * hook that offers it, or when a hook that is wanted has no rung at all.
 */
int pw_ladder_probe(struct pw_ladder *l, int forced, bool all, unsigned int optional, bool syscalls,
		    char *err, size_t err_len);

/* Whether a hook was given a syscall tracepoint: the session then loads them. */
bool pw_ladder_syscalls(const struct pw_ladder *l);

#endif /* PORTWATCH_RUNGS_H */
