// SPDX-License-Identifier: GPL-2.0
/* portwatch trace: a live stream of port-allocation failures, failed connects and drops. */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "container.h"
#include "commands.h"
#include "dropctx.h"
#include "natclass.h"
#include "filter.h"
#include "record.h"
#include "session.h"
#include "util.h"

#define DROP_RATE_DEFAULT     1000
#define DROP_KEY_RATE_DEFAULT 10
/* Seconds between drop summaries (and one at the end). */
#define SUMMARY_INTERVAL_S 5

enum {
	OPT_COMM = 0x200,
	OPT_NETNS,
	OPT_CGROUP,
	OPT_DPORT,
	OPT_DADDR,
	OPT_DROPS,
	OPT_DROP_RATE,
	OPT_DROP_KEY_RATE,
	OPT_NO_SYSCALLS,
};

struct trace_env {
	struct pw_common_opts common;
	struct pw_filter filter;
	unsigned long duration_s; /* 0: until Ctrl-C */
	bool json;
	bool no_syscalls; /* --no-syscalls: no PW_NEED_SYSCALLS */
	struct pw_clock clock;
	struct pw_loss reported; /* losses already shown */
	struct pw_session *session;
	struct pw_dropctx drops; /* names for drop records, when drop_records */
	struct pw_ctrs *ctrs;	 /* container identity by cgroup id */
	__u64 ctrs_not_kept;	 /* of it, already reported */
	/* The drop counts at the last summary, and when that was. */
	struct pw_drop_row *summarised;
	int n_summarised;
	unsigned int ticks;
	struct timespec summary_ts;
};

static const char doc[] =
	"Trace, live, which process fails to get a local port (connect, bind, listen or "
	"send autobind), which TCP connects fail after their SYN (timeout, refused, reset), "
	"with the netns, destination and the netns's ephemeral port range, and which packets "
	"are dropped, with the drop reason, the conntrack/NAT tuples and the process they "
	"belong to, even when they die in another netns after SNAT.\n"
	"\v"
	"EXAMPLES:\n"
	"  portwatch trace                      # every failure, readable columns\n"
	"  portwatch trace --json | jq .        # JSON lines, one object per event\n"
	"  portwatch trace -p 1234              # only process 1234\n"
	"  portwatch trace --comm curl -d 60    # only curl, for one minute\n"
	"  portwatch trace --netns /run/netns/client --dport 443\n"
	"  portwatch trace --cgroup /sys/fs/cgroup/system.slice/nginx.service\n"
	"  portwatch trace --daddr 10.0.0.7     # failures toward one destination\n"
	"  portwatch trace --container web      # one container, by name or id prefix\n"
	"  portwatch trace --pod web-7d4b --k8s-namespace shop\n"
	"  portwatch trace --drops=all          # every drop, not only those of connections\n"
	"  portwatch trace --drops=attributed   # only drops tied to a process\n"
	"  portwatch trace --drops=none         # no drops: port and connect failures only\n"
	"  portwatch trace --drop-rate=0        # every drop streamed, no sampling\n"
	"  portwatch trace --attach=tracepoint  # force the rung that needs no ftrace\n"
	"  portwatch trace --no-syscalls        # cheapest: no UDP, no syscall hooks";

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Filters (all must match):", 10 },
	{ "pid", 'p', "PID", 0, "Only this process (tgid)", 0 },
	{ "comm", OPT_COMM, "COMM", 0, "Only tasks with this command name", 0 },
	{ "netns", OPT_NETNS, "NETNS", 0,
	  "Only this network namespace: inode number or file (/proc/PID/ns/net, /run/netns/NAME)",
	  0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0, "Only tasks in this cgroup v2 directory or below it",
	  0 },
	{ "dport", OPT_DPORT, "PORT", 0, "Only this destination port", 0 },
	{ "daddr", OPT_DADDR, "ADDR", 0, "Only this destination address (IPv4 or IPv6)", 0 },
	{ NULL, 0, NULL, 0, "Dropped packets:", 15 },
	{ "drops", OPT_DROPS, "WHICH", 0,
	  "related (default: tied to a process, or a netfilter drop of a tracked flow), all, "
	  "attributed (tied to a process) or none; the others are counted and summarised",
	  0 },
	{ "drop-key-rate", OPT_DROP_KEY_RATE, "N", 0,
	  "At most N records per second of each drop key (reason, location, netns, owner, "
	  "class), per CPU (default 10); the rest are counted and summarised as sampled",
	  0 },
	{ "drop-rate", OPT_DROP_RATE, "N", 0,
	  "At most N drop records per second in all (default 1000; 0: no limit, per key "
	  "either); the rest are counted and reported",
	  0 },
	{ NULL, 0, NULL, 0, "Cost:", 18 },
	{ "no-syscalls", OPT_NO_SYSCALLS, NULL, 0,
	  "No syscall tracepoints (they slow every syscall of every task): TCP connect "
	  "failures and drops are still seen, UDP port failures and owners are not, nor TCP "
	  "bind() and listen() failures on the tracepoint rung",
	  0 },
	{ NULL, 0, NULL, 0, "Output:", 20 },
	{ "json", 'j', NULL, 0, "JSON lines, one object per event, flushed per line", 0 },
	{ "duration", 'd', "SEC", 0, "Stop after SEC seconds", 0 },
	{},
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	static const enum pw_filter_key filter_of[] = {
		[OPT_COMM - OPT_COMM] = PW_FILTER_COMM,
		[OPT_NETNS - OPT_COMM] = PW_FILTER_NETNS,
		[OPT_CGROUP - OPT_COMM] = PW_FILTER_CGROUP,
		[OPT_DPORT - OPT_COMM] = PW_FILTER_DPORT,
		[OPT_DADDR - OPT_COMM] = PW_FILTER_DADDR,
	};
	struct trace_env *env = state->input;
	unsigned long v;
	char err[160];

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		state->child_inputs[1] = &env->filter;
		break;
	case 'p':
		if (pw_filter_set(&env->filter, PW_FILTER_PID, arg, err, sizeof(err)))
			argp_failure(state, 2, 0, "%s", err);
		break;
	case OPT_COMM ... OPT_DADDR:
		if (pw_filter_set(&env->filter, filter_of[key - OPT_COMM], arg, err, sizeof(err)))
			argp_failure(state, 2, 0, "%s", err);
		break;
	case OPT_DROPS:
		if (!strcmp(arg, "related"))
			env->common.session.drop_records.which = PW_DROPREC_RELATED;
		else if (!strcmp(arg, "all"))
			env->common.session.drop_records.which = PW_DROPREC_ALL;
		else if (!strcmp(arg, "attributed"))
			env->common.session.drop_records.which = PW_DROPREC_ATTRIBUTED;
		else if (!strcmp(arg, "none"))
			env->common.session.drop_records.which = PW_DROPREC_NONE;
		else
			argp_failure(state, 2, 0,
				     "invalid --drops '%s': use related, all, attributed or none",
				     arg);
		break;
	case OPT_DROP_RATE:
		pw_argp_ulong(state, "--drop-rate", arg, 0, 10000000, &v);
		env->common.session.drop_records.rate = v;
		break;
	case OPT_DROP_KEY_RATE:
		pw_argp_ulong(state, "--drop-key-rate", arg, 1, 10000000, &v);
		env->common.session.drop_records.key_rate = v;
		break;
	case OPT_NO_SYSCALLS:
		env->no_syscalls = true;
		break;
	case 'j':
		env->json = true;
		break;
	case 'd':
		pw_argp_seconds(state, "--duration", arg, 86400 * 365, &env->duration_s);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void print_json(struct json_object *o)
{
	if (!o)
		return;
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct trace_env *env = ctx;
	const struct pw_owner *owner;
	const struct pw_tuple *tuple;
	const struct pw_ctr *ctr;
	bool known = true;
	int type = pw_record_check(data, size);

	if (type < 0)
		return 0;
	pw_record_subject(data, &owner, &tuple);
	if (type == PW_REC_CONNECT_FAIL)
		known = ((struct pw_connect_fail *)data)->owner_src != PW_OWNER_NONE;
	else if (type == PW_REC_DROP)
		known = ((struct pw_drop *)data)->attribution != PW_ATTR_NONE;
	if (!pw_filter_match(&env->filter, owner, known, tuple))
		return 0;
	ctr = known ? pw_ctrs_lookup(env->ctrs, owner->cgroup_id, owner->mntns, owner->tgid) : NULL;
	if (type == PW_REC_DROP && env->json)
		print_json(pw_drop_json(&env->drops, data, &env->clock, ctr));
	else if (type == PW_REC_DROP)
		pw_drop_text(stdout, &env->drops, data, &env->clock, ctr);
	else if (env->json)
		print_json(pw_record_json(data, &env->clock, ctr));
	else
		pw_record_text(stdout, data, &env->clock, ctr);
	return 0;
}

static __u64 boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Show losses not shown yet: a `lost` object in JSON, a warning in text. */
static void report_loss(struct trace_env *env, bool final)
{
	struct pw_session *s = env->session;
	struct pw_loss now;
	__u64 records, evictions, suppressed, not_kept = pw_ctrs_not_kept(env->ctrs);

	pw_session_loss(s, final, &now);
	records = now.records - env->reported.records;
	evictions = now.owner_evictions > env->reported.owner_evictions
			    ? now.owner_evictions - env->reported.owner_evictions
			    : 0;
	suppressed = now.drops_suppressed - env->reported.drops_suppressed;
	not_kept -= env->ctrs_not_kept;
	if (!records && !evictions && !suppressed && !not_kept)
		return;
	env->reported.records = now.records;
	env->reported.owner_evictions += evictions;
	env->reported.drops_suppressed = now.drops_suppressed;
	env->ctrs_not_kept += not_kept;
	if (env->json)
		print_json(pw_lost_json(&env->clock, boot_ns(), records, evictions, suppressed,
					not_kept));
	else
		fprintf(stderr,
			"WARNING: %llu records lost (ring buffer full), %llu socket owners evicted "
			"(owner map full: raise --owner-map-size), %llu drop records suppressed "
			"(over --drop-rate), %llu cgroups' container identity not cached (cache of "
			"%d full: their records name it only while the process lives)\n",
			(unsigned long long)records, (unsigned long long)evictions,
			(unsigned long long)suppressed, (unsigned long long)not_kept,
			PW_CTRS_DEFAULT);
}

/* " (NAME n, NAME n, NAME n)": the 3 biggest of v. */
static void top_reasons(struct trace_env *env, struct pw_reason_count *v, int n, char *buf,
			size_t len)
{
	char name[48];
	size_t o = 0;

	pw_reason_sort(v, n);
	buf[0] = '\0';
	for (int i = 0; i < n && i < 3 && o < len; i++)
		o += snprintf(buf + o, len - o, "%s%s %llu", i ? ", " : " (",
			      pw_drop_reason_name(&env->drops.reasons, v[i].reason, name,
						  sizeof(name)),
			      (unsigned long long)v[i].count);
	if (n && o < len)
		snprintf(buf + o, len - o, "%s)", n > 3 ? ", ..." : "");
}

/* The container of a drop key's owner, NULL when unattributed or outside containers. */
static const struct pw_ctr *key_ctr(struct trace_env *env, const struct pw_drop_key *k)
{
	const struct pw_ctr *c =
		k->tgid ? pw_ctrs_lookup(env->ctrs, k->cgroup_id, k->mntns, k->tgid) : NULL;

	return c && c->id ? c : NULL;
}

static struct json_object *summary_key_json(struct trace_env *env, const struct pw_drop_row *r)
{
	const struct pw_drop_key *k = &r->key;
	struct json_object *o = json_object_new_object();
	char name[160], comm[PW_COMM_LEN + 1] = {};
	const char *cls =
		pw_nat_class_name(pw_dropctx_nat_class(&env->drops, k->netns, k->nat_class));

	memcpy(comm, k->comm, PW_COMM_LEN);
	json_object_object_add(o, "reason",
			       json_object_new_string(pw_drop_reason_name(&env->drops.reasons,
									  k->reason, name,
									  sizeof(name))));
	json_object_object_add(o, "location",
			       json_object_new_string(pw_dropctx_location(&env->drops, k->location,
									  name, sizeof(name))));
	json_object_object_add(o, "netns", json_object_new_int64(k->netns));
	json_object_object_add(o, "ifname",
			       json_object_new_string(pw_dropctx_ifname(&env->drops, k->netns,
									k->ifindex, name,
									sizeof(name))));
	json_object_object_add(o, "pid", k->tgid ? json_object_new_int64(k->tgid) : NULL);
	json_object_object_add(o, "comm", k->tgid ? json_object_new_string(comm) : NULL);
	json_object_object_add(o, "nat_class", cls ? json_object_new_string(cls) : NULL);
	pw_json_add_container(o, key_ctr(env, k));
	json_object_object_add(o, "count", json_object_new_uint64(r->count));
	json_object_object_add(o, "records", json_object_new_uint64(r->records));
	json_object_object_add(o, "filtered", json_object_new_uint64(r->filtered));
	json_object_object_add(o, "sampled",
			       json_object_new_uint64(r->count - r->records - r->filtered));
	return o;
}

/*
 * What the kernel counted but did not stream since the last summary: in
 * JSON a drop_summary record with the keys that held any back; in text one
 * line with the totals and their top reasons. Nothing when all was streamed.
 * Of the filters, those a key can answer apply (--pid, --comm, --netns: the
 * drop's netns, --container, --pod, --k8s-namespace: the owner's cgroup);
 * --cgroup, --dport and --daddr need what only records carry.
 */
static void report_drops(struct trace_env *env)
{
	__u64 drops = 0, records = 0, filtered = 0, sampled = 0;
	struct pw_reason_count *by_filtered = NULL, *by_sampled = NULL;
	struct json_object *o = NULL, *keys = NULL;
	int n, n_filtered = 0, n_sampled = 0;
	struct pw_drop_row *rows, *now;
	char f_top[200], s_top[200];
	struct timespec ts;
	double secs;

	n = pw_session_drop_rows(env->session, &now);
	if (n < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	secs = ts.tv_sec - env->summary_ts.tv_sec + (ts.tv_nsec - env->summary_ts.tv_nsec) / 1e9;
	env->summary_ts = ts;
	rows = calloc(n ? n : 1, sizeof(*rows));
	by_filtered = calloc(n ? n : 1, sizeof(*by_filtered));
	by_sampled = calloc(n ? n : 1, sizeof(*by_sampled));
	if (!rows || !by_filtered || !by_sampled)
		goto out;
	if (n)
		memcpy(rows, now, n * sizeof(*rows));
	pw_drop_rows_since(rows, n, env->summarised, env->n_summarised);
	if (env->json)
		keys = json_object_new_array();
	for (int i = 0; i < n; i++) {
		const struct pw_drop_row *r = &rows[i];
		__u64 s = r->count - r->records - r->filtered;
		struct pw_owner o = { .tgid = r->key.tgid, .netns = r->key.netns };

		memcpy(o.comm, r->key.comm, PW_COMM_LEN);
		if (!pw_filter_match_owner(&env->filter, &o, r->key.tgid))
			continue;
		if (pw_filter_wants_containers(&env->filter) &&
		    (!r->key.tgid || !pw_filter_match_ctr(&env->filter, key_ctr(env, &r->key))))
			continue;
		drops += r->count;
		records += r->records;
		filtered += r->filtered;
		sampled += s;
		pw_reason_add(by_filtered, &n_filtered, r->key.reason, r->filtered);
		pw_reason_add(by_sampled, &n_sampled, r->key.reason, s);
		if (keys && r->count > r->records)
			json_object_array_add(keys, summary_key_json(env, r));
	}
	if (drops == records)
		goto out;
	if (env->json) {
		char when[64];

		o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string("drop_summary"));
		json_object_object_add(o, "ts",
				       json_object_new_string(pw_format_ts(&env->clock, boot_ns(),
									   1, when, sizeof(when))));
		json_object_object_add(o, "interval_s", json_object_new_double(secs));
		json_object_object_add(o, "drops", json_object_new_uint64(drops));
		json_object_object_add(o, "records", json_object_new_uint64(records));
		json_object_object_add(o, "filtered", json_object_new_uint64(filtered));
		json_object_object_add(o, "sampled", json_object_new_uint64(sampled));
		json_object_object_add(o, "keys", keys);
		keys = NULL;
		print_json(o);
	} else {
		top_reasons(env, by_filtered, n_filtered, f_top, sizeof(f_top));
		top_reasons(env, by_sampled, n_sampled, s_top, sizeof(s_top));
		printf("-- %.1f s: %llu drops not shown: %llu not of a connection%s, %llu "
		       "sampled%s; "
		       "portwatch drops counts them all\n",
		       secs, (unsigned long long)(drops - records), (unsigned long long)filtered,
		       f_top, (unsigned long long)sampled, s_top);
	}
out:
	json_object_put(keys);
	free(rows);
	free(by_filtered);
	free(by_sampled);
	free(env->summarised);
	env->summarised = now;
	env->n_summarised = n;
}

static void tick(void *ctx)
{
	struct trace_env *env = ctx;

	report_loss(env, false);
	pw_ctrs_refresh(env->ctrs);
	if (env->common.session.drop_records.which != PW_DROPREC_NONE &&
	    ++env->ticks % SUMMARY_INTERVAL_S == 0)
		report_drops(env);
}

int cmd_trace(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &pw_common_argp, 0, NULL, 0 },
		{ &pw_container_argp, 0, NULL, 0 },
		{},
	};
	const struct argp argp = { options, parse_opt, NULL, doc, children, NULL, NULL };
	struct trace_env env = {};
	struct pw_session s = {};
	char err[256];
	int ret;

	pw_common_defaults(&env.common);
	env.common.session.drop_records.which = PW_DROPREC_RELATED;
	env.common.session.drop_records.rate = DROP_RATE_DEFAULT;
	env.common.session.drop_records.key_rate = DROP_KEY_RATE_DEFAULT;
	ret = argp_parse(&argp, argc, argv, 0, NULL, &env);
	if (ret)
		return 2;
	pw_set_libbpf_print(env.common.verbose);
	if (env.common.session.drop_records.which != PW_DROPREC_NONE)
		env.common.session.needs = PW_NEED_DROPS;
	if (!env.no_syscalls)
		env.common.session.needs |= PW_NEED_SYSCALLS;
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Before attaching: the cgroups of the containers already running are resolved */
	env.ctrs = pw_ctrs_new(NULL, "", PW_CTRS_DEFAULT);
	if (!env.ctrs) {
		fprintf(stderr, "portwatch: out of memory\n");
		return 1;
	}
	env.filter.ctrs = env.ctrs;
	ret = pw_command_session(&s, &env.common, handle_record, &env);
	if (ret)
		goto cleanup;
	env.session = &s;
	if (env.common.session.drop_records.which != PW_DROPREC_NONE) {
		ret = pw_dropctx_open(&env.drops, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "portwatch: %s\n", err);
			goto cleanup;
		}
	}
	pw_clock_init(&env.clock);
	clock_gettime(CLOCK_MONOTONIC, &env.summary_ts);
	fprintf(stderr, "Tracing %s (%llu existing sockets attributed)... Hit Ctrl-C to end.\n",
		env.common.session.drop_records.which == PW_DROPREC_NONE
			? "port-allocation failures and failed connects"
			: "port-allocation failures, failed connects and dropped packets",
		(unsigned long long)s.seeded);
	if (!env.json)
		pw_text_header(stdout);

	ret = pw_session_run(&s, env.duration_s * 1000, 1000, tick, &env, &pw_exiting);
	if (ret) {
		fprintf(stderr, "portwatch: reading the ring buffer: %s\n", strerror(-ret));
		goto cleanup;
	}
	report_loss(&env, true);
	if (env.common.session.drop_records.which != PW_DROPREC_NONE)
		report_drops(&env);
cleanup:
	free(env.summarised);
	pw_session_close(&s);
	pw_dropctx_close(&env.drops);
	pw_filter_free(&env.filter);
	pw_ctrs_free(env.ctrs);
	return ret ? 1 : 0;
}
