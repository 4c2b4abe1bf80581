/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The programs of the main BPF object, declared once: for each, keyed by its
 * place in the skeleton (so that renaming one in bpf/ fails the build), the
 * role that decides whether a session loads and attaches it. A program that
 * no entry names never loads; tests/unit/test_progs.c checks that every
 * program of the object has exactly one entry.
 *
 * Program names say hook and rung: fentry_X/fexit_X (fentry rung) and
 * kprobe_X/kretprobe_X (kprobe rung) on kernel function X; tp_X on the
 * tp_btf tracepoint X or the syscall tracepoint X (tracepoint rung); tpc_X
 * on the classic tracepoint X (classic-tp rung, where tp_btf is refused);
 * iter_, sockops_ and cg_ for the iterators and cgroup programs.
 */
#ifndef PORTWATCH_PROGS_H
#define PORTWATCH_PROGS_H

#include <stdbool.h>
#include <stddef.h>
#include "portwatch.h"

struct bpf_program;
struct portwatch_bpf;
struct pw_ladder;

/* What a program is for, and so when it loads. */
enum pw_prog_role {
	PW_PROG_HOOK,	      /* a rung of a hook: loads when the ladder chose that rung */
	PW_PROG_SYSCALL_TP,   /* a syscall tracepoint: loads when a hook was given its
			       * syscall tracepoint rung (pw_ladder_syscalls(): the
			       * session follows syscalls); those hooks share them all */
	PW_PROG_SEED_ITER,    /* iter_seed_owners: every tracing session, run once at start */
	PW_PROG_PORTS_ITER,   /* a ports iterator: for port snapshots (ports, top, check) */
	PW_PROG_SOCKOPS,      /* sockops_flows: tcp_connect's tracepoint rung, attached to
			       * the cgroup v2 root by session.c */
	PW_PROG_SOCK_RELEASE, /* cg_sock_release: every tracing session, if the kernel takes it */
};

struct pw_prog {
	size_t off; /* of the program's pointer in struct portwatch_bpf (offsetof) */
	enum pw_prog_role role;
	enum pw_hook hook; /* PW_PROG_HOOK only: the hook it serves */
	enum pw_rung rung; /* PW_PROG_HOOK only: through which rung */
};

/* The table: one entry per program of the main object, hooks first. */
extern const struct pw_prog pw_progs[];
extern const size_t pw_progs_count;

/* What a session asks for, from which pw_prog_loads() decides. */
struct pw_prog_want {
	const struct pw_ladder *ladder; /* the rungs chosen; NULL: no tracing, a snapshot */
	bool ports;			/* the ports iterators */
	bool syscalls;			/* the syscall tracepoints (pw_ladder_syscalls()) */
	bool sock_release;		/* the kernel takes cgroup/sock_release programs */
};

/* The program of entry `p` in an opened skeleton. */
struct bpf_program *pw_prog_get(const struct portwatch_bpf *skel, const struct pw_prog *p);

/* The entry of `prog`, a program of `skel`'s object; NULL when the table has none. */
const struct pw_prog *pw_prog_find(const struct portwatch_bpf *skel,
				   const struct bpf_program *prog);

/* Whether entry `p`'s program is to load for a session that wants `w`. */
bool pw_prog_loads(const struct pw_prog *p, const struct pw_prog_want *w);

/*
 * Whether the skeleton's attach is to attach it. Iterators run on demand and
 * the cgroup programs attach at the cgroup v2 root (session.c), so only the
 * hooks' programs and the syscall tracepoints do.
 */
bool pw_prog_autoattach(const struct pw_prog *p);

#endif /* PORTWATCH_PROGS_H */
