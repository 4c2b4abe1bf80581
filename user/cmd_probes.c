// SPDX-License-Identifier: GPL-2.0
/* portwatch probes: which rung each hook gets on this kernel, and why not the others. */
#define _GNU_SOURCE
#include <argp.h>
#include <stdio.h>
#include <unistd.h>
#include "cli.h"
#include "commands.h"
#include "record.h"
#include "rungs.h"
#include "util.h"

static const char doc[] =
	"Try every rung (fentry/fexit, kprobe/kretprobe, tracepoint) of every hook on the "
	"running kernel, and show the one chosen and why the others were refused.\n"
	"Exit status 0 when every hook has a rung, 1 otherwise.\n"
	"\v"
	"EXAMPLES:\n"
	"  portwatch probes                     # the ladder on this kernel\n"
	"  portwatch probes --attach=kprobe     # what `trace --attach=kprobe` would use";

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	if (key != ARGP_KEY_INIT)
		return ARGP_ERR_UNKNOWN;
	state->child_inputs[0] = state->input;
	return 0;
}

int cmd_probes(int argc, char **argv)
{
	const struct argp argp = { NULL, parse_opt, NULL, doc, pw_common_children, NULL, NULL };
	struct pw_common_opts opts;
	struct pw_ladder ladder;
	char err[256] = "";
	int ret;

	pw_common_defaults(&opts);
	if (argp_parse(&argp, argc, argv, 0, NULL, &opts))
		return 2;
	pw_set_libbpf_print(opts.verbose);
	if (geteuid()) {
		fprintf(stderr, "portwatch: must run as root: probing loads BPF programs\n");
		return 1;
	}
	ret = pw_ensure_tracefs();
	if (ret) {
		fprintf(stderr, "portwatch: cannot mount tracefs at /sys/kernel/tracing\n");
		return 1;
	}
	ret = pw_ladder_probe(&ladder, opts.session.forced_rung, true, ~0u, true, err,
			      sizeof(err));
	for (int hk = 0; hk < PW_HOOK_COUNT; hk++) {
		int chosen = ladder.chosen[hk];

		printf("%s: %s\n", pw_hook_name(hk), pw_hook_what(hk));
		printf("  chosen      %s\n", chosen >= 0 ? pw_rung_name(chosen) : "none");
		for (int rung = 0; rung < PW_RUNG_COUNT; rung++) {
			const struct pw_rung_result *r = &ladder.res[hk][rung];

			if (!r->offered)
				printf("  %-11s not offered by this hook\n", pw_rung_name(rung));
			else if (r->err)
				printf("  %-11s refused: %s: %s\n", pw_rung_name(rung), r->target,
				       r->why);
			else
				printf("  %-11s ok: %s\n", pw_rung_name(rung), r->target);
		}
	}
	if (ret)
		fprintf(stderr, "portwatch: %s\n", err);
	return ret ? 1 : 0;
}
