// SPDX-License-Identifier: GPL-2.0
/*
 * portwatch: why do my connections fail intermittently? Live, per process:
 * ephemeral-port exhaustion and failed connects, attributed to the process
 * and container behind them.
 */
#include <argp.h>
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "util.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "trace", cmd_trace,
	  "live stream of port-allocation failures, failed connects and dropped packets" },
	{ "ports", cmd_ports, "snapshot of ephemeral ports in use per process and destination" },
	{ "check", cmd_check, "the causes of failing connections behind a NAT, with remedies" },
	{ "top", cmd_top, "live per-process rates of connects, failures and drops, with port use" },
	{ "serve", cmd_serve,
	  "Prometheus metrics of failures, drops, ports and conntrack on HTTP" },
	{ "drops", cmd_drops, "dropped packets by drop reason, counted in the kernel" },
	{ "latency", cmd_latency, "histogram of connect()'s search for a free local port" },
	{ "probes", cmd_probes, "which attach rung each hook gets on this kernel, and why" },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "Usage: portwatch COMMAND [OPTION...]\n\nCommands:\n");
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n`portwatch COMMAND --help` shows a command's options and examples.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("portwatch %s\n", PORTWATCH_VERSION);
		return 0;
	}
	char name[32];

	/* Usage errors exit 2 everywhere, argp's own included. */
	argp_err_exit_status = 2;
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		/* argp names the program after argv[0]: "portwatch trace: ...". */
		snprintf(name, sizeof(name), "portwatch %s", commands[i].name);
		argv[1] = name;
		return commands[i].fn(argc - 1, argv + 1);
	}
	char shown[PW_ESCAPED_SIZE(64)];

	fprintf(stderr, "portwatch: unknown command '%s' (commands:",
		pw_escape(argv[1], 64, shown, sizeof(shown)));
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(stderr, "%s %s", i ? "," : "", commands[i].name);
	fprintf(stderr, ")\n");
	return 2;
}
