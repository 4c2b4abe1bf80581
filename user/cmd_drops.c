// SPDX-License-Identifier: GPL-2.0
/* portwatch drops: dropped packets by drop reason, counted in the kernel. */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "container.h"
#include "commands.h"
#include "dropctx.h"
#include "natclass.h"
#include "record.h"
#include "util.h"

/* Breakdown keys of --by. */
enum {
	BY_REASON = 1 << 0,
	BY_LOCATION = 1 << 1,
	BY_NETNS = 1 << 2,
	BY_IFNAME = 1 << 3,
	BY_PROTO = 1 << 4,
	BY_PROCESS = 1 << 5,
	BY_NAT_CLASS = 1 << 6,
	BY_CONTAINER = 1 << 7,
	BY_POD = 1 << 8,
};

static const struct {
	const char *name;
	unsigned int bit;
} by_keys[] = {
	{ "reason", BY_REASON }, { "location", BY_LOCATION }, { "netns", BY_NETNS },
	{ "ifname", BY_IFNAME }, { "proto", BY_PROTO }, { "process", BY_PROCESS },
	{ "nat_class", BY_NAT_CLASS }, { "container", BY_CONTAINER }, { "pod", BY_POD },
};

/* The first owner seen of a container (or pod): the rows of its others merge into it. */
struct canon {
	char *key;
	__u64 cgroup_id;
	__u32 mntns;
};

#define BAR_WIDTH 30

struct drops_env {
	struct pw_common_opts common;
	unsigned int by;
	unsigned long interval_s; /* 0: one report at the end */
	unsigned long duration_s; /* 0: until Ctrl-C */
	bool json;
	bool list_reasons;
	struct pw_clock clock;
	struct pw_session *session;
	struct pw_dropctx names;
	struct pw_drop_row *prev; /* totals at the last report, sorted by key */
	int nprev;
	struct timespec last; /* time of the last report */
	__u64 overflow_shown;
	int err;
	struct pw_filter filter; /* --container, --pod, --k8s-namespace: of the drops' owners */
	struct pw_ctrs *ctrs;	 /* with --by container or pod, or a container filter */
	struct canon *canon;
	size_t ncanon;
};

static const char doc[] =
	"Count dropped packets (skb:kfree_skb) by drop reason, in the kernel: every drop is "
	"counted, with no per-packet record, so a drop storm is counted exactly. Reason names "
	"come from the running kernel's BTF; locations are symbolized from /proc/kallsyms. "
	"Drops are attributed to the process behind them (through the socket, or through the "
	"conntrack entry's original tuple when the packet died after SNAT in another netns), and "
	"netfilter drops are classed: nat_clash, conntrack_full, invalid, filter.\v"
	"EXAMPLES:\n"
	"  portwatch drops                      # by reason, at Ctrl-C\n"
	"  portwatch drops -i 1                 # every second: count and rate per reason\n"
	"  portwatch drops --by reason,location # which kernel function dropped them\n"
	"  portwatch drops --by reason,netns,ifname,proto -d 10 --json\n"
	"  portwatch drops --by process,nat_class  # who loses packets at the NAT, and why\n"
	"  portwatch drops --by container,pod   # which container, which pod\n"
	"  portwatch drops --by reason,nat_class --container web  # the drops of one container\n"
	"  portwatch drops --reasons            # this kernel's drop reasons and their numbers";

enum { OPT_BY = 0x400, OPT_REASONS };

static const struct argp_option options[] = {
	{ "by", OPT_BY, "KEYS", 0,
	  "Break down by these, comma-separated: reason, location, netns, ifname, proto, "
	  "process, nat_class, container, pod (default: reason)",
	  0 },
	{ "interval", 'i', "SEC", 0, "Report every SEC seconds, each report for its interval", 0 },
	{ "duration", 'd', "SEC", 0, "Stop after SEC seconds", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per row", 0 },
	{ "reasons", OPT_REASONS, NULL, 0, "List this kernel's drop reasons (number, name), exit",
	  0 },
	{},
};

static int parse_by(const char *arg, unsigned int *by)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int ret = 0;

	*by = 0;
	for (tok = strtok_r(copy, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(by_keys) / sizeof(by_keys[0]); i++)
			if (!strcmp(tok, by_keys[i].name))
				break;
		if (i == sizeof(by_keys) / sizeof(by_keys[0]))
			ret = -EINVAL;
		else
			*by |= by_keys[i].bit;
	}
	free(copy);
	return ret || !*by ? -EINVAL : 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct drops_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		state->child_inputs[1] = &env->filter;
		break;
	case OPT_BY:
		if (parse_by(arg, &env->by))
			argp_failure(state, 2, 0,
				     "invalid --by '%s': use reason, location, netns, ifname, "
				     "proto, process, nat_class, container, pod",
				     arg);
		break;
	case 'i':
		pw_argp_seconds(state, "--interval", arg, 86400, &env->interval_s);
		break;
	case 'd':
		pw_argp_seconds(state, "--duration", arg, 86400 * 365, &env->duration_s);
		break;
	case 'j':
		env->json = true;
		break;
	case OPT_REASONS:
		env->list_reasons = true;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int by_count_desc(const void *a, const void *b)
{
	__u64 x = ((const struct pw_drop_row *)a)->count,
	      y = ((const struct pw_drop_row *)b)->count;

	return x > y ? -1 : x < y;
}

/*
 * Set the cgroup id and mntns of a drop key to those standing for its
 * owner's container (--by container) or pod (--by pod alone): the first seen
 * of it; 0 outside containers.
 */
static void canon_owner(struct drops_env *env, struct pw_drop_key *k)
{
	const struct pw_ctr *c = pw_ctrs_lookup(env->ctrs, k->cgroup_id, k->mntns, k->tgid);
	char key[1024];
	struct canon *v;

	if (!c || !c->id || (!(env->by & BY_CONTAINER) && !c->pod)) {
		k->cgroup_id = k->mntns = 0;
		return;
	}
	if (env->by & BY_CONTAINER)
		snprintf(key, sizeof(key), "%s%s%s", c->id, env->by & BY_POD ? "/" : "",
			 env->by & BY_POD && c->pod ? c->pod : "");
	else
		snprintf(key, sizeof(key), "%s/%s", c->k8s_namespace ?: "", c->pod);
	for (size_t i = 0; i < env->ncanon; i++)
		if (!strcmp(env->canon[i].key, key)) {
			k->cgroup_id = env->canon[i].cgroup_id;
			k->mntns = env->canon[i].mntns;
			return;
		}
	/* Out of memory: the key stays its own row */
	v = realloc(env->canon, (env->ncanon + 1) * sizeof(*v));
	if (!v)
		return;
	env->canon = v;
	v[env->ncanon].key = strdup(key);
	if (!v[env->ncanon].key)
		return;
	v[env->ncanon].cgroup_id = k->cgroup_id;
	v[env->ncanon++].mntns = k->mntns;
}

/* Whether a drop's owner is in the container --container, --pod, --k8s-namespace name. */
static bool owner_matches(struct drops_env *env, const struct pw_drop_key *k)
{
	const struct pw_ctr *c =
		k->tgid ? pw_ctrs_lookup(env->ctrs, k->cgroup_id, k->mntns, k->tgid) : NULL;

	return k->tgid && pw_filter_match_ctr(&env->filter, c && c->id ? c : NULL);
}

/* Keep only the key fields of --by, so that rows differing elsewhere merge. */
static void project(struct drops_env *env, struct pw_drop_key *k, unsigned int by)
{
	if (by & (BY_CONTAINER | BY_POD))
		canon_owner(env, k);
	else
		k->cgroup_id = k->mntns = 0;
	if (!(by & BY_REASON))
		k->reason = 0;
	if (!(by & BY_LOCATION))
		k->location = 0;
	/* An interface is only named within its netns. */
	if (!(by & (BY_NETNS | BY_IFNAME)))
		k->netns = 0;
	if (!(by & BY_IFNAME))
		k->ifindex = 0;
	if (!(by & BY_PROTO))
		k->l3proto = k->l4proto = 0;
	if (!(by & BY_PROCESS)) {
		k->tgid = 0;
		memset(k->comm, 0, sizeof(k->comm));
	}
	if (!(by & BY_NAT_CLASS))
		k->nat_class = 0;
}

/*
 * The drops since the last report, broken down by --by, sorted by count.
 * Takes ownership of `now` (the current totals) as the next baseline.
 */
static int interval_rows(struct drops_env *env, struct pw_drop_row *now, int n,
			 struct pw_drop_row **out)
{
	struct pw_drop_row *d = calloc(n ? n : 1, sizeof(*d));
	int m = 0;

	if (!d)
		return -ENOMEM;
	if (n)
		memcpy(d, now, n * sizeof(*d));
	pw_drop_rows_since(d, n, env->prev, env->nprev);
	for (int i = 0; i < n; i++) {
		if (pw_filter_wants_containers(&env->filter) && !owner_matches(env, &d[i].key))
			d[i].count = 0;
		/* Before projecting: telling invalid from a full table needs the netns. */
		d[i].key.nat_class =
			pw_dropctx_nat_class(&env->names, d[i].key.netns, d[i].key.nat_class);
		project(env, &d[i].key, env->by);
	}
	qsort(d, n, sizeof(*d), pw_drop_row_cmp);
	for (int i = 0; i < n; i++) {
		if (m && !pw_drop_row_cmp(&d[m - 1], &d[i]))
			d[m - 1].count += d[i].count;
		else
			d[m++] = d[i];
	}
	qsort(d, m, sizeof(*d), by_count_desc);
	free(env->prev);
	env->prev = now;
	env->nprev = n;
	*out = d;
	return m;
}

/* The names of a row's key fields, as both outputs show them. */
struct row_names {
	char rbuf[48], loc[160], ifname[IF_NAMESIZE + 8], proto[24];
	char comm[PW_COMM_LEN + 1];
	const char *reason;
	const char *ifn; /* ifname, or "" when not broken down by ifname */
	const char *cls; /* nat class name, "-" for none */
	const struct pw_ctr *ctr; /* the owner's container, with --by container or pod */
};

static void name_row(struct drops_env *env, const struct pw_drop_key *k, struct row_names *n)
{
	n->reason = pw_drop_reason_name(&env->names.reasons, k->reason, n->rbuf, sizeof(n->rbuf));
	n->ifn = env->by & BY_IFNAME ? pw_dropctx_ifname(&env->names, k->netns, k->ifindex,
							 n->ifname, sizeof(n->ifname))
				     : "";
	n->cls = pw_nat_class_name(k->nat_class) ?: "-";
	n->ctr = k->cgroup_id || k->mntns
			 ? pw_ctrs_lookup(env->ctrs, k->cgroup_id, k->mntns, k->tgid)
			 : NULL;
	if (n->ctr && !n->ctr->id)
		n->ctr = NULL;
	memset(n->comm, 0, sizeof(n->comm));
	memcpy(n->comm, k->comm, PW_COMM_LEN);
	pw_dropctx_location(&env->names, k->location, n->loc, sizeof(n->loc));
	pw_packet_proto_name(k->l3proto, k->l4proto, n->proto, sizeof(n->proto));
}

/* A report's first lines in text: the total, then the column names of --by. */
static void print_text_header(const struct drops_env *env, const char *when, __u64 total,
			      double secs)
{
	printf("%s: %llu drops in %.1f s\n", when, (unsigned long long)total, secs);
	if (env->by & BY_REASON)
		printf("%-28s ", "REASON");
	if (env->by & BY_LOCATION)
		printf("%-44s ", "LOCATION");
	if (env->by & BY_NETNS)
		printf("%-11s ", "NETNS");
	if (env->by & BY_IFNAME)
		printf("%-16s ", "IFNAME");
	if (env->by & BY_PROTO)
		printf("%-12s ", "PROTO");
	if (env->by & BY_PROCESS)
		printf("%-7s %-15s ", "PID", "COMM");
	if (env->by & BY_NAT_CLASS)
		printf("%-14s ", "NAT_CLASS");
	if (env->by & BY_CONTAINER)
		printf("%-24s ", "CONTAINER");
	if (env->by & BY_POD)
		printf("%-32s ", "POD");
	printf("%10s %10s\n", "COUNT", "RATE/s");
}

/* One row as a "drops" JSON object, the fields of --by only. */
static void print_row_json(const struct drops_env *env, const struct pw_drop_row *row,
			   const struct row_names *n, const char *when, double secs, double rate)
{
	const struct pw_drop_key *k = &row->key;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string("drops"));
	json_object_object_add(o, "ts", json_object_new_string(when));
	json_object_object_add(o, "interval_s", json_object_new_double(secs));
	if (env->by & BY_REASON)
		json_object_object_add(o, "reason", json_object_new_string(n->reason));
	if (env->by & BY_LOCATION)
		json_object_object_add(o, "location", json_object_new_string(n->loc));
	if (env->by & BY_NETNS)
		json_object_object_add(o, "netns", json_object_new_int64(k->netns));
	if (env->by & BY_IFNAME)
		json_object_object_add(o, "ifname", json_object_new_string(n->ifn));
	if (env->by & BY_PROTO)
		json_object_object_add(o, "proto", json_object_new_string(n->proto));
	if (env->by & BY_PROCESS) {
		json_object_object_add(o, "pid", k->tgid ? json_object_new_int64(k->tgid) : NULL);
		json_object_object_add(o, "comm", k->tgid ? json_object_new_string(n->comm) : NULL);
	}
	if (env->by & BY_NAT_CLASS)
		json_object_object_add(o, "nat_class",
				       k->nat_class ? json_object_new_string(n->cls) : NULL);
	if (env->by & BY_CONTAINER) {
		json_object_object_add(o, "container",
				       n->ctr && n->ctr->name ? json_object_new_string(n->ctr->name)
							      : NULL);
		json_object_object_add(o, "container_id",
				       n->ctr ? json_object_new_string(n->ctr->id) : NULL);
		json_object_object_add(o, "runtime",
				       n->ctr && n->ctr->runtime
					       ? json_object_new_string(n->ctr->runtime)
					       : NULL);
	}
	if (env->by & BY_POD) {
		json_object_object_add(o, "pod",
				       n->ctr && n->ctr->pod ? json_object_new_string(n->ctr->pod)
							     : NULL);
		json_object_object_add(o, "k8s_namespace",
				       n->ctr && n->ctr->pod && n->ctr->k8s_namespace
					       ? json_object_new_string(n->ctr->k8s_namespace)
					       : NULL);
	}
	json_object_object_add(o, "count", json_object_new_uint64(row->count));
	json_object_object_add(o, "rate", json_object_new_double(rate));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* One row in the header's columns, with a bar scaled to the biggest row (max). */
static void print_row_text(const struct drops_env *env, const struct pw_drop_row *row,
			   const struct row_names *n, __u64 max, double rate)
{
	const struct pw_drop_key *k = &row->key;
	char bar[BAR_WIDTH + 1], text[PW_ESCAPED_SIZE(sizeof(n->ifname))];
	int stars = (int)(row->count * BAR_WIDTH / max);

	for (int b = 0; b < BAR_WIDTH; b++)
		bar[b] = b < stars ? '*' : ' ';
	bar[BAR_WIDTH] = '\0';
	if (env->by & BY_REASON)
		printf("%-28s ", n->reason);
	if (env->by & BY_LOCATION)
		printf("%-44s ", n->loc);
	if (env->by & BY_NETNS)
		printf("%-11u ", k->netns);
	if (env->by & BY_IFNAME)
		printf("%-16s ", pw_escape(n->ifn, strlen(n->ifn), text, sizeof(text)));
	if (env->by & BY_PROTO)
		printf("%-12s ", n->proto);
	if (env->by & BY_PROCESS) {
		if (k->tgid)
			printf("%-7u %-15s ", k->tgid,
			       pw_escape(n->comm, PW_COMM_LEN, text, sizeof(text)));
		else
			printf("%-7s %-15s ", "-", "-");
	}
	if (env->by & BY_NAT_CLASS)
		printf("%-14s ", n->cls);
	if (env->by & BY_CONTAINER) {
		char label[1100];

		printf("%-24s ", pw_ctr_name_text(n->ctr, label, sizeof(label)));
	}
	if (env->by & BY_POD) {
		char label[1100];

		printf("%-32s ",
		       n->ctr && n->ctr->pod ? pw_ctr_label(n->ctr, label, sizeof(label)) : "-");
	}
	printf("%10llu %10.1f |%s|\n", (unsigned long long)row->count, rate, bar);
}

/* A report: rows sorted by count, over secs seconds; text or JSON lines. */
static void print_rows(struct drops_env *env, struct pw_drop_row *rows, int m, double secs)
{
	char when[64];
	struct timespec ts;
	__u64 max = 0, total = 0;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	pw_format_ts(&env->clock, ts.tv_sec * 1000000000ULL + ts.tv_nsec, env->json, when,
		     sizeof(when));
	for (int i = 0; i < m; i++) {
		total += rows[i].count;
		if (rows[i].count > max)
			max = rows[i].count;
	}
	if (!env->json)
		print_text_header(env, when, total, secs);
	for (int i = 0; i < m && rows[i].count; i++) {
		double rate = secs > 0 ? rows[i].count / secs : 0;
		struct row_names n;

		name_row(env, &rows[i].key, &n);
		if (env->json)
			print_row_json(env, &rows[i], &n, when, secs, rate);
		else
			print_row_text(env, &rows[i], &n, max, rate);
	}
	fflush(stdout);
}

static void report(void *ctx)
{
	struct drops_env *env = ctx;
	struct pw_drop_row *now, *rows;
	struct pw_loss loss;
	struct timespec t;
	__u64 overflow;
	double secs;
	int n, m;

	n = pw_session_drop_rows(env->session, &now);
	if (n < 0) {
		env->err = env->err ?: n;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t);
	secs = (t.tv_sec - env->last.tv_sec) + (t.tv_nsec - env->last.tv_nsec) / 1e9;
	env->last = t;
	m = interval_rows(env, now, n, &rows);
	if (m < 0) {
		free(now);
		env->err = env->err ?: m;
		return;
	}
	print_rows(env, rows, m, secs);
	free(rows);

	pw_session_loss(env->session, false, &loss);
	overflow = loss.drop_overflow;
	if (overflow > env->overflow_shown) {
		if (env->json)
			printf("{\"type\":\"lost\",\"drop_overflow\":%llu}\n",
			       (unsigned long long)(overflow - env->overflow_shown));
		else
			fprintf(stderr,
				"WARNING: %llu drops counted without their key (drop_counts "
				"full)\n",
				(unsigned long long)(overflow - env->overflow_shown));
		env->overflow_shown = overflow;
	}
}

static int list_reasons(const struct pw_drop_reasons *r)
{
	if (!r->count) {
		fprintf(stderr,
			"portwatch: this kernel has no enum skb_drop_reason (before 5.17)\n");
		return -ENOENT;
	}
	for (__u32 v = 0; v < r->count; v++)
		if (r->names[v])
			printf("%u %s\n", v, r->names[v]);
	return 0;
}

int cmd_drops(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &pw_common_argp, 0, NULL, 0 },
		{ &pw_container_argp, 0, NULL, 0 },
		{},
	};
	const struct argp argp = { options, parse_opt, NULL, doc, children, NULL, NULL };
	struct drops_env env = { .by = BY_REASON };
	struct pw_session s = {};
	char err[256];
	int ret;

	pw_common_defaults(&env.common);
	if (argp_parse(&argp, argc, argv, 0, NULL, &env))
		return 2;
	pw_set_libbpf_print(env.common.verbose);
	ret = pw_dropctx_open(&env.names, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "portwatch: %s\n", err);
		return 1;
	}
	if (env.list_reasons) {
		ret = list_reasons(&env.names.reasons);
		goto cleanup;
	}
	if (env.by & (BY_CONTAINER | BY_POD) || pw_filter_wants_containers(&env.filter)) {
		env.ctrs = pw_ctrs_new(NULL, "", PW_CTRS_DEFAULT);
		if (!env.ctrs) {
			ret = -ENOMEM;
			fprintf(stderr, "portwatch: out of memory\n");
			goto cleanup;
		}
	}
	env.common.session.needs = PW_NEED_DROPS | PW_NEED_SYSCALLS;
	ret = pw_command_session(&s, &env.common, pw_ignore_record, NULL);
	if (ret)
		goto cleanup;
	env.session = &s;
	pw_clock_init(&env.clock);
	clock_gettime(CLOCK_MONOTONIC, &env.last);
	fprintf(stderr, "Tracing dropped packets (skb:kfree_skb)... Hit Ctrl-C to end.\n");
	ret = pw_session_run(&s, env.duration_s * 1000, env.interval_s * 1000,
			     env.interval_s ? report : NULL, &env, &pw_exiting);
	if (!ret)
		report(&env);
	ret = ret ?: env.err;
	if (ret)
		fprintf(stderr, "portwatch: %s\n", strerror(-ret));
cleanup:
	pw_session_close(&s);
	pw_dropctx_close(&env.names);
	free(env.prev);
	for (size_t i = 0; i < env.ncanon; i++)
		free(env.canon[i].key);
	free(env.canon);
	pw_ctrs_free(env.ctrs);
	pw_filter_free(&env.filter);
	return ret ? 1 : 0;
}
