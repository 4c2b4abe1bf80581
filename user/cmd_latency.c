// SPDX-License-Identifier: GPL-2.0
/* portwatch latency: how long connect() spends searching for a local port. */
#define _GNU_SOURCE
#include <argp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "commands.h"
#include "filter.h"
#include "hist.h"
#include "record.h"

struct latency_env {
	struct pw_common_opts common;
	unsigned long interval_s; /* 0: one histogram at the end */
	unsigned long duration_s; /* 0: until Ctrl-C */
	bool json;
	struct pw_clock clock;
	struct pw_session *session;
	struct pw_search_hist shown; /* totals already printed */
	int err;		     /* first error reading the histogram */
};

static const char doc[] =
	"Show, as a log2 histogram, how long each TCP connect() spends in the kernel's search "
	"for a free local port (__inet_hash_connect). A nearly full ephemeral range makes "
	"connect() slow before it makes it fail.\n"
	"On the tracepoint rung the time is an ESTIMATE: the whole connect() syscall, which for "
	"a blocking socket includes the handshake.\v"
	"EXAMPLES:\n"
	"  portwatch latency                    # one histogram at Ctrl-C\n"
	"  portwatch latency -i 5               # a histogram every 5 seconds\n"
	"  portwatch latency --netns /run/netns/client -d 30 --json";

enum { OPT_NETNS = 0x300 };

static const struct argp_option options[] = {
	{ "interval", 'i', "SEC", 0, "Print a histogram every SEC seconds, then start anew", 0 },
	{ "duration", 'd', "SEC", 0, "Stop after SEC seconds", 0 },
	{ "netns", OPT_NETNS, "NETNS", 0,
	  "Only this network namespace: inode number or file (/run/netns/NAME)", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per histogram", 0 },
	{},
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct latency_env *env = state->input;
	struct pw_filter f = {};
	char err[160];

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		break;
	case 'i':
		pw_argp_seconds(state, "--interval", arg, 86400, &env->interval_s);
		break;
	case 'd':
		pw_argp_seconds(state, "--duration", arg, 86400 * 365, &env->duration_s);
		break;
	case OPT_NETNS:
		if (pw_filter_set(&f, PW_FILTER_NETNS, arg, err, sizeof(err)))
			argp_failure(state, 2, 0, "%s", err);
		env->common.session.search_netns = f.netns;
		break;
	case 'j':
		env->json = true;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* What the kernel measures on the chosen rung. */
static const char *source_name(int rung)
{
	return rung == PW_RUNG_FENTRY ? "fexit" : rung == PW_RUNG_KPROBE ? "kretprobe" : "estimate";
}

static void print_hist(struct latency_env *env)
{
	int rung = env->session->ladder.chosen[PW_HOOK_INET_HASH_CONNECT];
	struct pw_search_hist now, d;
	struct timespec ts;
	char when[64];
	int ret;

	ret = pw_session_search_hist(env->session, &now);
	if (ret) {
		env->err = env->err ?: ret;
		return;
	}
	for (int i = 0; i < PW_HIST_SLOTS; i++)
		d.slots[i] = now.slots[i] - env->shown.slots[i];
	d.count = now.count - env->shown.count;
	d.failed = now.failed - env->shown.failed;
	d.sum_ns = now.sum_ns - env->shown.sum_ns;
	env->shown = now;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	pw_format_ts(&env->clock, ts.tv_sec * 1000000000ULL + ts.tv_nsec, env->json, when,
		     sizeof(when));
	if (env->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "type", json_object_new_string("port_search_hist"));
		json_object_object_add(o, "ts", json_object_new_string(when));
		json_object_object_add(o, "source", json_object_new_string(source_name(rung)));
		json_object_object_add(o, "unit", json_object_new_string("ns"));
		json_object_object_add(o, "count", json_object_new_uint64(d.count));
		json_object_object_add(o, "failed", json_object_new_uint64(d.failed));
		json_object_object_add(o, "sum_ns", json_object_new_uint64(d.sum_ns));
		json_object_object_add(o, "buckets", pw_hist_json(d.slots, PW_HIST_SLOTS));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		printf("%s port search per connect() (%s): %llu connects, %llu found no free "
		       "port, average %llu ns\n",
		       when,
		       rung == PW_RUNG_FENTRY	? "fexit __inet_hash_connect"
		       : rung == PW_RUNG_KPROBE ? "kretprobe __inet_hash_connect"
						: "ESTIMATE: whole connect() syscall",
		       (unsigned long long)d.count, (unsigned long long)d.failed,
		       (unsigned long long)(d.count ? d.sum_ns / d.count : 0));
		pw_hist_print(stdout, d.slots, PW_HIST_SLOTS, "ns");
	}
	fflush(stdout);
}

static void tick(void *ctx)
{
	print_hist(ctx);
}

int cmd_latency(int argc, char **argv)
{
	const struct argp argp = { options, parse_opt, NULL, doc, pw_common_children, NULL, NULL };
	struct latency_env env = {};
	struct pw_session s = {};
	int ret;

	pw_common_defaults(&env.common);
	if (argp_parse(&argp, argc, argv, 0, NULL, &env))
		return 2;
	pw_set_libbpf_print(env.common.verbose);
	env.common.session.needs = PW_NEED_LATENCY | PW_NEED_SYSCALLS;
	ret = pw_command_session(&s, &env.common, pw_ignore_record, NULL);
	if (ret)
		goto cleanup;
	env.session = &s;
	pw_clock_init(&env.clock);
	fprintf(stderr, "Tracing the port search of connect() (%s)... Hit Ctrl-C to end.\n",
		source_name(s.ladder.chosen[PW_HOOK_INET_HASH_CONNECT]));
	ret = pw_session_run(&s, env.duration_s * 1000, env.interval_s * 1000,
			     env.interval_s ? tick : NULL, &env, &pw_exiting);
	if (!ret)
		print_hist(&env);
	ret = ret ?: env.err;
	if (ret)
		fprintf(stderr, "portwatch: %s\n", strerror(-ret));
cleanup:
	pw_session_close(&s);
	return ret ? 1 : 0;
}
