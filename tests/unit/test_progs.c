// SPDX-License-Identifier: GPL-2.0
/* Unit tests: progs.c's table names each program of the main object once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <bpf/libbpf.h>
#include "progs.h"
#include "record.h"
#include "rungs.h"
#include "portwatch.skel.h"

static int open_skel(void **state)
{
	*state = portwatch_bpf__open();
	return *state ? 0 : -1;
}

static int close_skel(void **state)
{
	portwatch_bpf__destroy(*state);
	return 0;
}

/* An unnamed program would never load; a twice-named one would be decided twice. */
static void test_every_program_once(void **state)
{
	struct portwatch_bpf *skel = *state;
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, skel->obj) {
		int entries = 0;

		for (size_t i = 0; i < pw_progs_count; i++)
			entries += pw_prog_get(skel, &pw_progs[i]) == prog;
		if (entries != 1)
			fail_msg("%s: %d entries in pw_progs", bpf_program__name(prog), entries);
		assert_ptr_equal(pw_prog_get(skel, pw_prog_find(skel, prog)), prog);
		n++;
	}
	assert_int_equal(n, pw_progs_count);
}

/* The kind of program a rung's entry names must be that rung's. */
static void test_hook_entries_match_their_rung(void **state)
{
	struct portwatch_bpf *skel = *state;

	for (size_t i = 0; i < pw_progs_count; i++) {
		const struct pw_prog *p = &pw_progs[i];
		struct bpf_program *prog = pw_prog_get(skel, p);
		enum bpf_attach_type at;
		bool ok;

		assert_non_null(prog);
		if (p->role != PW_PROG_HOOK)
			continue;
		assert_in_range(p->hook, 0, PW_HOOK_COUNT - 1);
		at = bpf_program__expected_attach_type(prog);
		switch (p->rung) {
		case PW_RUNG_FENTRY:
			ok = at == BPF_TRACE_FENTRY || at == BPF_TRACE_FEXIT;
			break;
		case PW_RUNG_KPROBE:
			ok = bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE;
			break;
		case PW_RUNG_TRACEPOINT:
			ok = at == BPF_TRACE_RAW_TP ||
			     bpf_program__type(prog) == BPF_PROG_TYPE_TRACEPOINT;
			break;
		case PW_RUNG_CLASSIC_TP:
			ok = bpf_program__type(prog) == BPF_PROG_TYPE_TRACEPOINT;
			break;
		default:
			ok = false;
		}
		if (!ok)
			fail_msg("%s: not a program of rung %s", bpf_program__name(prog),
				 pw_rung_name(p->rung));
	}
}

/* Whether the program of skeleton field `prog` loads for want `w`. */
static bool loads(struct portwatch_bpf *skel, struct bpf_program *prog,
		  const struct pw_prog_want *w)
{
	return pw_prog_loads(pw_prog_find(skel, prog), w);
}

/* A ladder with every hook unserved but tcp_connect, on `rung`. */
static void tcp_connect_on(struct pw_ladder *l, int rung)
{
	for (int hk = 0; hk < PW_HOOK_COUNT; hk++)
		l->chosen[hk] = -1;
	l->chosen[PW_HOOK_TCP_CONNECT] = rung;
}

/* Flow owners: one program per rung of tcp_connect, the sockops one only on the tracepoint rung. */
static void test_tcp_connect_rungs(void **state)
{
	struct portwatch_bpf *skel = *state;
	struct pw_ladder l;
	struct pw_prog_want w = { .ladder = &l };

	tcp_connect_on(&l, PW_RUNG_FENTRY);
	assert_true(loads(skel, skel->progs.fentry_tcp_connect, &w));
	assert_false(loads(skel, skel->progs.kprobe_tcp_connect, &w));
	assert_false(loads(skel, skel->progs.sockops_flows, &w));
	tcp_connect_on(&l, PW_RUNG_KPROBE);
	assert_false(loads(skel, skel->progs.fentry_tcp_connect, &w));
	assert_true(loads(skel, skel->progs.kprobe_tcp_connect, &w));
	assert_false(loads(skel, skel->progs.sockops_flows, &w));
	tcp_connect_on(&l, PW_RUNG_TRACEPOINT);
	assert_false(loads(skel, skel->progs.fentry_tcp_connect, &w));
	assert_false(loads(skel, skel->progs.kprobe_tcp_connect, &w));
	assert_true(loads(skel, skel->progs.sockops_flows, &w));
	tcp_connect_on(&l, -1);
	assert_false(loads(skel, skel->progs.sockops_flows, &w));
}

/* The syscall tracepoints load only when asked, whatever the rungs. */
static void test_syscall_tracepoints_only_when_asked(void **state)
{
	struct portwatch_bpf *skel = *state;
	struct pw_ladder l;
	struct pw_prog_want w = { .ladder = &l };

	tcp_connect_on(&l, -1);
	l.chosen[PW_HOOK_TCP_V4_CONNECT] = PW_RUNG_TRACEPOINT;
	l.chosen[PW_HOOK_SOCK_STATE] = PW_RUNG_TRACEPOINT;
	for (size_t i = 0; i < pw_progs_count; i++) {
		if (pw_progs[i].role != PW_PROG_SYSCALL_TP)
			continue;
		w.syscalls = false;
		assert_false(pw_prog_loads(&pw_progs[i], &w));
		w.syscalls = true;
		assert_true(pw_prog_loads(&pw_progs[i], &w));
	}
	w.syscalls = false;
	assert_true(loads(skel, skel->progs.tp_inet_sock_set_state, &w));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_program_once),
		cmocka_unit_test(test_hook_entries_match_their_rung),
		cmocka_unit_test(test_tcp_connect_rungs),
		cmocka_unit_test(test_syscall_tracepoints_only_when_asked),
	};

	return cmocka_run_group_tests_name("progs", tests, open_skel, close_skel);
}
