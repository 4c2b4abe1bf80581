// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "record.h"
#include "util.h"

enum {
	OPT_ATTACH = 0x100,
	OPT_OWNER_MAP_SIZE,
	OPT_RINGBUF_SIZE,
};

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Attaching:", 50 },
	{ "attach", OPT_ATTACH, "RUNG", 0,
	  "Force a rung for the hooks that offer it: fentry, kprobe, tracepoint or "
	  "classic-tp (kfree_skb only) (default: the best that works, see `portwatch probes`)",
	  0 },
	{ "owner-map-size", OPT_OWNER_MAP_SIZE, "N", 0,
	  "Entries of each owner LRU map, by socket and by flow (default: 65536, or 5/4 of the "
	  "host's open files where that is more; at least 1024)",
	  0 },
	{ "ringbuf-size", OPT_RINGBUF_SIZE, "BYTES", 0,
	  "Ring-buffer size, a power of two (default 1048576)", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf debug output and verifier logs", 0 },
	{},
};

void pw_common_defaults(struct pw_common_opts *o)
{
	o->session.forced_rung = -1;
	o->session.owner_map_size = 0; /* sized to the host by the session */
	o->session.ringbuf_size = PW_RINGBUF_DEFAULT;
	o->verbose = false;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct pw_common_opts *o = state->input;
	long page = sysconf(_SC_PAGESIZE);
	unsigned long v;

	switch (key) {
	case OPT_ATTACH:
		o->session.forced_rung = pw_rung_parse(arg);
		if (o->session.forced_rung < 0)
			argp_failure(state, 2, 0,
				     "invalid --attach '%s': use fentry, kprobe, tracepoint or "
				     "classic-tp",
				     arg);
		break;
	case OPT_OWNER_MAP_SIZE:
		pw_argp_ulong(state, "--owner-map-size", arg, PW_OWNER_MAP_MIN, PW_OWNER_MAP_MAX,
			      &v);
		o->session.owner_map_size = v;
		break;
	case OPT_RINGBUF_SIZE:
		if (pw_parse_ulong(arg, page, 1u << 30, &v) || (v & (v - 1)))
			argp_failure(state, 2, 0,
				     "invalid --ringbuf-size '%s': a power of two from %ld to %u",
				     arg, page, 1u << 30);
		o->session.ringbuf_size = v;
		break;
	case 'v':
		o->verbose = true;
		break;
	case ARGP_KEY_ARG:
		/* No command takes positional arguments. */
		argp_failure(state, 2, 0, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp pw_common_argp = { options, parse_opt, NULL, NULL, NULL, NULL, NULL };

const struct argp_child pw_common_children[] = { { &pw_common_argp, 0, NULL, 0 }, {} };

enum { OPT_CONTAINER = 0x900, OPT_POD, OPT_K8S_NAMESPACE };

static const struct argp_option container_options[] = {
	{ NULL, 0, NULL, 0, "Containers (all given must match):", 12 },
	{ "container", OPT_CONTAINER, "NAME|ID", 0,
	  "Only this container: its name, or its id or an id prefix", 0 },
	{ "pod", OPT_POD, "NAME", 0, "Only this Kubernetes pod", 0 },
	{ "k8s-namespace", OPT_K8S_NAMESPACE, "NS", 0, "Only pods of this Kubernetes namespace",
	  0 },
	{},
};

static error_t parse_container_opt(int key, char *arg, struct argp_state *state)
{
	static const enum pw_filter_key filter_of[] = {
		[OPT_CONTAINER - OPT_CONTAINER] = PW_FILTER_CONTAINER,
		[OPT_POD - OPT_CONTAINER] = PW_FILTER_POD,
		[OPT_K8S_NAMESPACE - OPT_CONTAINER] = PW_FILTER_K8S_NAMESPACE,
	};
	char err[160];

	switch (key) {
	case OPT_CONTAINER ... OPT_K8S_NAMESPACE:
		if (pw_filter_set(state->input, filter_of[key - OPT_CONTAINER], arg, err,
				  sizeof(err)))
			argp_failure(state, 2, 0, "%s", err);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp pw_container_argp = {
	container_options, parse_container_opt, NULL, NULL, NULL, NULL, NULL
};

void pw_argp_seconds(struct argp_state *state, const char *option, const char *arg,
		     unsigned long max, unsigned long *out)
{
	if (pw_parse_ulong(arg, 1, max, out))
		argp_failure(state, 2, 0, "invalid %s '%s': whole seconds, 1 to %lu", option, arg,
			     max);
}

void pw_argp_ulong(struct argp_state *state, const char *option, const char *arg, unsigned long min,
		   unsigned long max, unsigned long *out)
{
	if (pw_parse_ulong(arg, min, max, out))
		argp_failure(state, 2, 0, "invalid %s '%s': a number from %lu to %lu", option, arg,
			     min, max);
}

volatile sig_atomic_t pw_exiting;

static void on_signal(int sig)
{
	(void)sig;
	pw_exiting = 1;
}

void pw_catch_signals(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

static bool verbose_print;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	/* Without -v, failures reach the user as the session's one-line reason. */
	(void)level;
	if (!verbose_print)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void pw_set_libbpf_print(bool verbose)
{
	verbose_print = verbose;
	libbpf_set_print(libbpf_print);
}

enum { OPT_SNAP_NETNS = 0x800, OPT_SNAP_MAX_ROWS };

static const struct argp_option snapshot_options[] = {
	{ NULL, 0, NULL, 0, "Snapshot:", 50 },
	{ "netns", OPT_SNAP_NETNS, "NETNS", 0,
	  "Only this network namespace: inode number or file (/proc/PID/ns/net, /run/netns/NAME)",
	  0 },
	{ "max-rows", OPT_SNAP_MAX_ROWS, "N", 0,
	  "(netns, owner, destination) rows the kernel can hold (default 65536); sockets beyond "
	  "are counted as lost",
	  0 },
	{ "json", 'j', NULL, 0, "JSON lines, one object each", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf debug output and verifier logs", 0 },
	{},
};

void pw_snapshot_defaults(struct pw_snapshot_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_rows = PW_MAX_ROWS_DEFAULT;
}

static error_t parse_snapshot_opt(int key, char *arg, struct argp_state *state)
{
	struct pw_snapshot_opts *o = state->input;
	char err[160];

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->filter;
		break;
	case OPT_SNAP_NETNS:
		if (pw_filter_set(&o->filter, PW_FILTER_NETNS, arg, err, sizeof(err)))
			argp_failure(state, 2, 0, "%s", err);
		break;
	case OPT_SNAP_MAX_ROWS:
		if (pw_parse_ulong(arg, 16, 1u << 24, &o->max_rows))
			argp_failure(state, 2, 0, "invalid --max-rows '%s': a number from 16 to %u",
				     arg, 1u << 24);
		break;
	case 'j':
		o->json = true;
		break;
	case 'v':
		o->verbose = true;
		break;
	case ARGP_KEY_ARG:
		argp_failure(state, 2, 0, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child snapshot_container_child[] = {
	{ &pw_container_argp, 0, NULL, 0 },
	{},
};

static const struct argp snapshot_argp = {
	snapshot_options, parse_snapshot_opt, NULL, NULL, snapshot_container_child, NULL, NULL
};

const struct argp_child pw_snapshot_children[] = {
	{ &snapshot_argp, 0, NULL, 0 },
	{},
};

int pw_command_session(struct pw_session *s, struct pw_common_opts *c, ring_buffer_sample_fn fn,
		       void *ctx)
{
	char err[256];
	int ret;

	pw_catch_signals();
	ret = pw_session_open(s, &c->session, fn, ctx, err, sizeof(err));
	if (ret)
		fprintf(stderr, "portwatch: %s\n", err);
	return ret;
}
