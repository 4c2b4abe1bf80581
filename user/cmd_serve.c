// SPDX-License-Identifier: GPL-2.0
/*
 * portwatch serve: the kernel's aggregates as Prometheus metrics on
 * /metrics. One thread, one libevent loop: the HTTP server, the ring
 * buffer's epoll fd (failure records, counted here), a 1 s timer (the
 * connect counts of exited processes folded into their series, new
 * containers resolved) and the
 * signals. A scrape reads the kernel there and then (metrics.c renders).
 */
#define _GNU_SOURCE
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <event2/event.h>
#include "cli.h"
#include "commands.h"
#include "conntrack.h"
#include "container.h"
#include "dropctx.h"
#include "http.h"
#include "metrics.h"
#include "natclass.h"
#include "netns.h"
#include "portwatch.skel.h"
#include "ports.h"
#include "record.h"
#include "util.h"

#define DEFAULT_LISTEN		 "127.0.0.1:9477"
#define DEFAULT_MAX_DESTINATIONS 100
#define DEFAULT_PORTS_INTERVAL	 10
#define DEFAULT_MAX_CONNECTIONS	 16
#define SERIES_MAX		 10000 /* label sets per counter family */
#define STR(x)			 #x
#define XSTR(x)			 STR(x)
#define MAX_HEADER_BYTES	 8192
#define IDLE_TIMEOUT_S		 10

/* The owner labels --labels keeps (the others are rendered empty, so their series merge). */
enum {
	LBL_COMM = 1 << 0,
	LBL_CONTAINER = 1 << 1,
	LBL_POD = 1 << 2,
	LBL_K8S_NAMESPACE = 1 << 3,
	LBL_NETNS = 1 << 4,
	LBL_ALL = (1 << 5) - 1,
};

static const struct {
	const char *name;
	unsigned int bit;
} label_keys[] = {
	{ "comm", LBL_COMM },	{ "container", LBL_CONTAINER },
	{ "pod", LBL_POD },	{ "k8s_namespace", LBL_K8S_NAMESPACE },
	{ "netns", LBL_NETNS },
};

#define N_LABEL_KEYS (sizeof(label_keys) / sizeof(label_keys[0]))

/* A process connect_counts has a key of: its labels, and its counts already in `connects`. */
struct proc {
	__u32 tgid;
	bool seen; /* its key was there in this walk */
	struct pw_connects counted;
	char *labels; /* rendered owner labels, resolved when first seen */
};

struct serve_env {
	struct pw_common_opts common;
	struct pw_listen_addr listen;
	unsigned long max_destinations;
	unsigned long ports_interval_s;
	unsigned long max_connections;
	unsigned int labels;
	struct pw_session *session;
	struct pw_ctrs *ctrs;
	struct pw_dropctx names;
	struct pw_http *http;
	struct event_base *base;
	/* Counters, since start: they only grow. */
	struct pw_series *alloc_fails, *connect_fails, *connects, *drops;
	struct proc *procs; /* sorted by tgid */
	size_t n_procs;
	struct pw_drop_row *prev_drops; /* drop_counts at the last scrape, sorted by key */
	int n_prev_drops;
	__u64 evictions; /* the most pw_session_loss() said (its estimate can dip) */
	/* The last ports snapshot and when (CLOCK_MONOTONIC s), taken at most every
	 * ports_interval_s. */
	struct pw_ports_snapshot snap;
	time_t snap_at;
	bool have_snap;
	double scrape_seconds; /* the previous scrape's collection */
	int err;	       /* the first error of a kernel read, reported at exit */
};

static const char doc[] =
	"Serve the kernel's aggregates as Prometheus metrics on /metrics (the text format 0.0.4, "
	"or OpenMetrics 1.0.0 when the scraper's Accept header asks for it) and /healthz: "
	"port-allocation and connect failures, connect attempts, drops by reason and NAT class "
	"(by owner when attributed), ephemeral ports in use per destination, conntrack per "
	"network namespace, the port-search histogram and portwatch's own losses. Owner labels: "
	"comm, container, pod, k8s_namespace, netns. Only GET and HEAD of those paths; anything "
	"else a 4xx. Runs until SIGTERM or SIGINT.\v"
	"EXAMPLES:\n"
	"  portwatch serve                      # on 127.0.0.1:9477\n"
	"  portwatch serve --listen [::]:9477   # on every address, IPv6 and IPv4\n"
	"  portwatch serve --labels container,pod,k8s_namespace  # fewer series\n"
	"  portwatch serve --max-destinations 20 --ports-interval 30  # a lighter walk\n"
	"  curl -s 127.0.0.1:9477/metrics       # what Prometheus scrapes";

enum {
	OPT_LISTEN = 0x900,
	OPT_MAX_DESTINATIONS,
	OPT_LABELS,
	OPT_PORTS_INTERVAL,
	OPT_MAX_CONNECTIONS
};

static const struct argp_option options[] = {
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0,
	  "Listen there: IPv4, or IPv6 in brackets (default " DEFAULT_LISTEN ")", 0 },
	{ "max-destinations", OPT_MAX_DESTINATIONS, "N", 0,
	  "Port series for the N fullest destinations, 1 to 10000 (default 100); the others are "
	  "counted in portwatch_ephemeral_port_destinations_omitted",
	  0 },
	{ "labels", OPT_LABELS, "LABELS", 0,
	  "Owner labels to keep, comma-separated: comm, container, pod, k8s_namespace, netns "
	  "(default: all); the others are empty, their series merged",
	  0 },
	{ "ports-interval", OPT_PORTS_INTERVAL, "SEC", 0,
	  "Walk the sockets for the port series at most every SEC seconds, 1 to 3600 "
	  "(default 10); scrapes between reuse the last walk",
	  0 },
	{ "max-connections", OPT_MAX_CONNECTIONS, "N", 0,
	  "HTTP connections open at once, 1 to 1024 (default 16); beyond, a 503 and close", 0 },
	{},
};

static int parse_labels(const char *arg, unsigned int *out)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int ret = copy ? 0 : -ENOMEM;

	*out = 0;
	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !ret;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < N_LABEL_KEYS && strcmp(tok, label_keys[i].name); i++)
			;
		if (i == N_LABEL_KEYS)
			ret = -EINVAL;
		else
			*out |= label_keys[i].bit;
	}
	free(copy);
	return ret || !*out ? -EINVAL : 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct serve_env *env = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		break;
	case OPT_LISTEN:
		if (pw_parse_listen(arg, &env->listen))
			argp_failure(state, 2, 0,
				     "invalid --listen '%s': ADDR:PORT, e.g. 127.0.0.1:9477 or "
				     "[::1]:9477",
				     arg);
		break;
	case OPT_MAX_DESTINATIONS:
		pw_argp_ulong(state, "--max-destinations", arg, 1, 10000, &env->max_destinations);
		break;
	case OPT_LABELS:
		if (parse_labels(arg, &env->labels))
			argp_failure(state, 2, 0,
				     "invalid --labels '%s': use comm, container, pod, "
				     "k8s_namespace, netns",
				     arg);
		break;
	case OPT_PORTS_INTERVAL:
		pw_argp_seconds(state, "--ports-interval", arg, 3600, &env->ports_interval_s);
		break;
	case OPT_MAX_CONNECTIONS:
		pw_argp_ulong(state, "--max-connections", arg, 1, 1024, &env->max_connections);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/*
 * The owner labels, in the contract's order: comm, container, pod,
 * k8s_namespace, netns; those --labels leaves out (and unknown ones) empty.
 * comm has at most PW_COMM_LEN bytes; netns 0 is unknown.
 */
static void owner_labels(const struct serve_env *env, struct pw_labels *l, const char *comm,
			 const struct pw_ctr *c, __u32 netns, bool with_netns)
{
	char id[13] = "";

	if (c && c->id && !c->name)
		snprintf(id, sizeof(id), "%.12s", c->id);
	pw_labels_addn(l, "comm", env->labels & LBL_COMM ? comm : "", PW_COMM_LEN);
	pw_labels_add(l, "container",
		      env->labels & LBL_CONTAINER && c && c->id ? (c->name ?: id) : "");
	pw_labels_add(l, "pod", env->labels & LBL_POD && c ? c->pod : "");
	pw_labels_add(l, "k8s_namespace",
		      env->labels & LBL_K8S_NAMESPACE && c && c->pod ? c->k8s_namespace : "");
	if (!with_netns)
		return;
	if (env->labels & LBL_NETNS && netns)
		pw_labels_addu(l, "netns", netns);
	else
		pw_labels_add(l, "netns", "");
}

static void record_owner(struct serve_env *env, struct pw_labels *l, const struct pw_owner *o)
{
	const struct pw_ctr *c = o->tgid ? pw_ctrs_lookup(env->ctrs, o->cgroup_id, o->mntns, o->tgid) : NULL;

	owner_labels(env, l, o->tgid ? o->comm : "", c, o->tgid ? o->netns : 0, true);
}

/* daddr and dport labels; both empty for a zero address and port (bind). */
static void dest_labels(struct pw_labels *l, const struct pw_tuple *t, bool known)
{
	char addr[INET6_ADDRSTRLEN];

	if (!known) {
		pw_labels_add(l, "daddr", "");
		pw_labels_add(l, "dport", "");
		return;
	}
	pw_labels_add(l, "daddr", pw_format_addr(t->family, t->daddr, addr, sizeof(addr)));
	pw_labels_addu(l, "dport", t->dport);
}

static bool zero_dest(const struct pw_tuple *t)
{
	static const __u8 zero[16];

	return !t->dport && !memcmp(t->daddr, zero, sizeof(zero));
}

static void count_failure(struct serve_env *env, struct pw_series *s, const struct pw_labels *l)
{
	int ret = pw_series_add(s, l, 1);

	if (ret == -ENOMEM)
		env->err = env->err ?: ret;
}

/* Port-allocation and connect failures, counted per label set as the records come. */
static int handle_record(void *ctx, void *data, size_t size)
{
	struct serve_env *env = ctx;
	int type = pw_record_check(data, size);
	char err[32];
	struct pw_labels l;

	pw_labels_init(&l);
	if (type == PW_REC_PORT_ALLOC_FAIL) {
		const struct pw_port_alloc_fail *e = data;

		record_owner(env, &l, &e->owner);
		pw_labels_add(&l, "proto", pw_proto_name(e->tuple.proto));
		pw_labels_add(&l, "family", pw_family_name(e->tuple.family));
		pw_labels_add(&l, "op", pw_op_name(e->op));
		pw_labels_add(&l, "error", pw_errno_name(e->err, err, sizeof(err)));
		dest_labels(&l, &e->tuple, e->op != PW_OP_BIND && !zero_dest(&e->tuple));
		count_failure(env, env->alloc_fails, &l);
	} else if (type == PW_REC_CONNECT_FAIL) {
		const struct pw_connect_fail *e = data;

		record_owner(env, &l, &e->owner);
		pw_labels_add(&l, "family", pw_family_name(e->tuple.family));
		pw_labels_add(&l, "error",
			      e->err ? pw_errno_name(e->err, err, sizeof(err)) : "closed");
		dest_labels(&l, &e->tuple, true);
		count_failure(env, env->connect_fails, &l);
	}
	return 0;
}

static int by_tgid(const void *a, const void *b)
{
	__u32 x = ((const struct proc *)a)->tgid, y = ((const struct proc *)b)->tgid;

	return x < y ? -1 : x > y;
}

/* The owner labels of a live process, from /proc (NULL when gone or out of memory). */
static char *proc_labels(struct serve_env *env, __u32 tgid)
{
	char path[64], comm[PW_COMM_LEN + 1] = "";
	struct pw_labels l;
	__u32 netns = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%u/ns/net", tgid);
	pw_netns_inode(path, &netns);
	pw_labels_init(&l);
	owner_labels(env, &l, comm, pw_ctrs_lookup_pid(env->ctrs, tgid), netns, true);
	return strdup(l.buf);
}

struct connect_walk {
	struct serve_env *env;
	int fd;
	struct proc *added; /* processes first seen in this walk */
	size_t n_added, cap_added;
};

/* Add what a family's count of a process grew by since the last walk to its series. */
static void count_connects(struct serve_env *env, const struct proc *p, __u16 family, __u64 n,
			   __u64 *counted)
{
	struct pw_labels l;

	if (n <= *counted)
		return;
	pw_labels_init(&l);
	snprintf(l.buf, sizeof(l.buf), "%s", p->labels ?: "");
	l.len = strlen(l.buf);
	pw_labels_add(&l, "family", pw_family_name(family));
	if (pw_series_add(env->connects, &l, n - *counted) == -ENOMEM)
		env->err = env->err ?: -ENOMEM;
	*counted = n;
}

static int walk_connect(const void *k, void *ctx)
{
	struct connect_walk *w = ctx;
	struct proc key = { .tgid = *(const __u32 *)k }, *p;
	struct pw_connects n;

	if (bpf_map_lookup_elem(w->fd, &key.tgid, &n))
		return 0;
	p = w->env->n_procs ? bsearch(&key, w->env->procs, w->env->n_procs, sizeof(key), by_tgid)
			    : NULL;
	if (!p) {
		if (w->n_added == w->cap_added) {
			size_t cap = w->cap_added ? 2 * w->cap_added : 64;
			struct proc *grown = realloc(w->added, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			w->added = grown;
			w->cap_added = cap;
		}
		p = &w->added[w->n_added++];
		*p = key;
		p->labels = proc_labels(w->env, key.tgid);
	}
	p->seen = true;
	count_connects(w->env, p, AF_INET, n.ipv4, &p->counted.ipv4);
	count_connects(w->env, p, AF_INET6, n.ipv6, &p->counted.ipv6);
	/* pw_map_for_each() has the successor already: an exited process's key may go. */
	if (kill(key.tgid, 0) && errno == ESRCH && !bpf_map_delete_elem(w->fd, &key.tgid))
		p->seen = false;
	return 0;
}

/*
 * connect_counts into the connects series: each process's growth since the
 * last walk. The keys of exited processes are deleted (their counts are in
 * their series already), so the map holds live processes only.
 */
static void read_connects(struct serve_env *env)
{
	struct connect_walk w = { .env = env,
				  .fd = bpf_map__fd(env->session->skel->maps.connect_counts) };
	size_t m = 0;
	int ret;

	for (size_t i = 0; i < env->n_procs; i++)
		env->procs[i].seen = false;
	ret = pw_map_for_each(w.fd, sizeof(__u32), walk_connect, &w);
	if (ret)
		env->err = env->err ?: ret;
	for (size_t i = 0; i < env->n_procs; i++) {
		if (env->procs[i].seen)
			env->procs[m++] = env->procs[i];
		else
			free(env->procs[i].labels);
	}
	env->n_procs = m;
	if (w.n_added) {
		struct proc *all = realloc(env->procs, (m + w.n_added) * sizeof(*all));

		if (!all) {
			env->err = env->err ?: -ENOMEM;
			for (size_t i = 0; i < w.n_added; i++)
				free(w.added[i].labels);
		} else {
			for (size_t i = 0; i < w.n_added; i++)
				if (w.added[i].seen)
					all[m++] = w.added[i];
				else
					free(w.added[i].labels);
			env->procs = all;
			env->n_procs = m;
			qsort(env->procs, m, sizeof(*all), by_tgid);
		}
	}
	free(w.added);
}

/*
 * The drops since the last scrape, classed now (a PW_NF_NO_ENTRY's class
 * depends on the netns's conntrack table at the time) and added to their
 * series, so a series never shrinks when a class would read otherwise later.
 */
static void read_drops(struct serve_env *env)
{
	struct pw_drop_row *now, *d;
	int n = pw_session_drop_rows(env->session, &now);

	if (n < 0) {
		env->err = env->err ?: n;
		return;
	}
	d = malloc((n ? n : 1) * sizeof(*d));
	if (!d) {
		free(now);
		env->err = env->err ?: -ENOMEM;
		return;
	}
	memcpy(d, now, n * sizeof(*d));
	pw_drop_rows_since(d, n, env->prev_drops, env->n_prev_drops);
	for (int i = 0; i < n; i++) {
		const struct pw_drop_key *k = &d[i].key;
		char reason[48], proto[24], comm[PW_COMM_LEN + 1] = "";
		const struct pw_ctr *c = NULL;
		struct pw_labels l;
		__u8 cls;

		if (!d[i].count)
			continue;
		cls = pw_dropctx_nat_class(&env->names, k->netns, k->nat_class);
		if (k->tgid) {
			memcpy(comm, k->comm, PW_COMM_LEN);
			c = pw_ctrs_lookup(env->ctrs, k->cgroup_id, k->mntns, k->tgid);
		}
		pw_labels_init(&l);
		pw_labels_add(&l, "reason",
			      pw_drop_reason_name(&env->names.reasons, k->reason, reason,
						  sizeof(reason)));
		pw_labels_add(&l, "nat_class", pw_nat_class_name(cls) ?: "none");
		pw_labels_addu(&l, "netns", k->netns);
		pw_labels_add(&l, "proto",
			      pw_packet_proto_name(k->l3proto, k->l4proto, proto, sizeof(proto)));
		/* The owner's labels but its netns: netns is where the packet died. */
		owner_labels(env, &l, comm, c, 0, false);
		if (pw_series_add(env->drops, &l, d[i].count) == -ENOMEM)
			env->err = env->err ?: -ENOMEM;
	}
	free(d);
	free(env->prev_drops);
	env->prev_drops = now;
	env->n_prev_drops = n;
}

static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* A new ports snapshot when the last is older than --ports-interval. */
static void refresh_ports(struct serve_env *env)
{
	char err[256];

	if (env->have_snap && mono_s() - env->snap_at < (time_t)env->ports_interval_s)
		return;
	pw_ports_free(&env->snap);
	env->have_snap = false;
	if (pw_ports_snapshot(env->session->skel, 0, &env->snap, err, sizeof(err))) {
		fprintf(stderr, "portwatch: ports snapshot: %s\n", err);
		env->err = env->err ?: -EIO;
		return;
	}
	env->snap_at = mono_s();
	env->have_snap = true;
}

static void drain_records(struct serve_env *env)
{
	int ret = ring_buffer__consume(env->session->rb);

	if (ret < 0)
		env->err = env->err ?: ret;
}

static void one(struct pw_expo *e, const char *name, enum pw_metric_type t, const char *help,
		double v)
{
	pw_expo_family(e, name, t, help);
	pw_expo_sample(e, NULL, v);
}

static void write_info(struct serve_env *env, struct pw_expo *e)
{
	struct pw_labels l;

	pw_expo_family(e, "portwatch_build", PW_INFO, "portwatch's version.");
	pw_labels_init(&l);
	pw_labels_add(&l, "version", PORTWATCH_VERSION);
	pw_expo_sample(e, &l, 1);
	pw_expo_family(e, "portwatch_hook", PW_INFO,
		       "The attach rung serving each hook (none: no rung serves it, or not "
		       "needed).");
	for (int h = 0; h < PW_HOOK_COUNT; h++) {
		int r = env->session->ladder.chosen[h];

		pw_labels_init(&l);
		pw_labels_add(&l, "hook", pw_hook_name(h));
		pw_labels_add(&l, "rung", r < 0 ? "none" : pw_rung_name(r));
		pw_expo_sample(e, &l, 1);
	}
}

static void write_counters(struct serve_env *env, struct pw_expo *e)
{
	pw_expo_family(e, "portwatch_port_alloc_failures", PW_COUNTER,
		       "Socket calls that failed for want of a local port, from the failure "
		       "records.");
	pw_expo_series(e, env->alloc_fails);
	pw_expo_family(e, "portwatch_connect_attempts", PW_COUNTER,
		       "TCP connects that entered SYN_SENT, per process and socket family "
		       "(connect_counts).");
	pw_expo_series(e, env->connects);
	pw_expo_family(e, "portwatch_connect_failures", PW_COUNTER,
		       "TCP connects that left SYN_SENT for CLOSE after a SYN, by error (closed: "
		       "by its owner).");
	pw_expo_series(e, env->connect_fails);
	pw_expo_family(e, "portwatch_drops", PW_COUNTER,
		       "Dropped packets (skb:kfree_skb) by reason and NAT class, owner when "
		       "attributed.");
	pw_expo_series(e, env->drops);
}

static void write_ports(struct serve_env *env, struct pw_expo *e)
{
	pw_expo_ports(e, &env->snap, env->max_destinations);
}

struct ct_read {
	struct pw_ct_stats *stats; /* by the snapshot's netns index */
	bool *ok;
	const struct pw_netns *first;
};

static int read_ct(void *ctx, struct pw_netns *ns)
{
	struct ct_read *rd = ctx;
	size_t i = ns - rd->first;

	rd->ok[i] = !pw_conntrack_stats(&rd->stats[i]);
	return 0;
}

/* Each walked netns's conntrack statistics, read now (in the netns: setns). */
static void write_conntrack(struct serve_env *env, struct pw_expo *e)
{
	const struct pw_ports_snapshot *s = &env->snap;
	struct ct_read rd = { calloc(s->n_ns + 1, sizeof(*rd.stats)),
			      calloc(s->n_ns + 1, sizeof(*rd.ok)), s->ns };
	size_t n = rd.stats && rd.ok ? s->n_ns : 0;
	unsigned int failed = 0;

	if (n < s->n_ns)
		env->err = env->err ?: -ENOMEM;
	if (n && pw_netns_each(s->ns, n, read_ct, &rd, &failed)) {
		fprintf(stderr, "portwatch: could not return to its own netns\n");
		exit(1);
	}
	pw_expo_conntrack(e, s->ns, rd.stats, rd.ok, n, pw_conntrack_max());
	free(rd.stats);
	free(rd.ok);
}

static void write_health(struct serve_env *env, struct pw_expo *e)
{
	const struct pw_counters *k = &env->session->skel->bss->counters;
	struct pw_search_hist h;
	struct pw_http_stats hs;
	struct pw_loss loss;
	struct pw_labels l;

	if (!pw_session_search_hist(env->session, &h)) {
		pw_expo_family(e, "portwatch_port_search_duration_seconds", PW_HISTOGRAM,
			       "connect()'s search for a free local port (the tracepoint rung: "
			       "the whole connect syscall, an estimate).");
		pw_expo_log2_histogram(e, h.slots, PW_HIST_SLOTS, h.sum_ns / 1e9);
		one(e, "portwatch_port_search_failures", PW_COUNTER,
		    "Port searches that found no free port.", h.failed);
	}
	pw_session_loss(env->session, false, &loss);
	if (loss.owner_evictions > env->evictions)
		env->evictions = loss.owner_evictions;
	one(e, "portwatch_records_lost", PW_COUNTER,
	    "Records the ring buffer could not take: failures not counted.", loss.records);
	one(e, "portwatch_owner_evictions", PW_COUNTER,
	    "Socket and flow owners the LRU maps evicted: later events of theirs unattributed.",
	    env->evictions);
	one(e, "portwatch_drop_records_sampled", PW_COUNTER,
	    "Drop records held back by the rate limit (serve streams none: counts are exact).",
	    loss.drops_suppressed);
	one(e, "portwatch_drops_unkeyed", PW_COUNTER,
	    "Drops counted without their key (drop_counts full): in no portwatch_drops series.",
	    loss.drop_overflow);
	one(e, "portwatch_connect_attempts_uncounted", PW_COUNTER,
	    "Connects not counted per process (connect_counts full).", k->connect_overflow);
	pw_expo_family(e, "portwatch_series_overflow", PW_COUNTER,
		       "Counts that fell in no series: the family had " XSTR(
			       SERIES_MAX) " label sets already.");
	{
		const struct {
			const char *name;
			const struct pw_series *s;
		} t[] = { { "port_alloc_failures", env->alloc_fails },
			  { "connect_attempts", env->connects },
			  { "connect_failures", env->connect_fails },
			  { "drops", env->drops } };

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			pw_labels_init(&l);
			pw_labels_add(&l, "family", t[i].name);
			pw_expo_sample(e, &l, pw_series_overflow(t[i].s));
		}
	}
	one(e, "portwatch_containers_not_kept", PW_COUNTER,
	    "Cgroups resolved but not cached (the container cache was full).",
	    pw_ctrs_not_kept(env->ctrs));
	pw_http_stats(env->http, &hs);
	pw_expo_family(e, "portwatch_http_responses", PW_COUNTER,
		       "HTTP responses serve sent, by class (libevent's own 400s not included).");
	for (int c = 2; c <= 5; c++) {
		char code[4];

		snprintf(code, sizeof(code), "%dxx", c);
		pw_labels_init(&l);
		pw_labels_add(&l, "code", code);
		pw_expo_sample(e, &l, hs.responses[c]);
	}
	one(e, "portwatch_http_connections_rejected", PW_COUNTER,
	    "Connections answered 503 and closed: --max-connections were open.",
	    hs.rejected_connections);
	one(e, "portwatch_http_connections_open", PW_GAUGE, "HTTP connections open now.",
	    hs.open_connections);
	one(e, "portwatch_scrape_duration_seconds", PW_GAUGE,
	    "Time the previous scrape's collection took.", env->scrape_seconds);
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A scrape: read the kernel now, render every family. */
static int scrape(void *ctx, bool openmetrics, char **body, size_t *len)
{
	struct serve_env *env = ctx;
	double start = mono_now();
	struct pw_expo e;
	FILE *f;

	drain_records(env);
	read_connects(env);
	read_drops(env);
	refresh_ports(env);
	f = open_memstream(body, len);
	if (!f)
		return -errno;
	pw_expo_init(&e, f, openmetrics ? PW_EXPO_OPENMETRICS : PW_EXPO_TEXT);
	write_info(env, &e);
	write_counters(env, &e);
	write_ports(env, &e);
	write_conntrack(env, &e);
	write_health(env, &e);
	pw_expo_end(&e);
	if (fclose(f))
		return -errno;
	env->scrape_seconds = mono_now() - start;
	return 0;
}

static void on_records(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_records(arg);
}

/* Every second: records whose wakeup was missed, and exited processes folded. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct serve_env *env = arg;

	(void)fd;
	(void)what;
	drain_records(env);
	read_connects(env);
	/* New containers named while their processes live (as trace does) */
	pw_ctrs_refresh(env->ctrs);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct serve_env *env = arg;

	(void)sig;
	(void)what;
	pw_exiting = 1;
	event_base_loopbreak(env->base);
}

/* The loop: HTTP, the ring buffer, the tick and the signals, until a signal. */
static int run(struct serve_env *env)
{
	const struct timeval second = { 1, 0 };
	struct event *ev[4] = {
		event_new(env->base, ring_buffer__epoll_fd(env->session->rb), EV_READ | EV_PERSIST,
			  on_records, env),
		event_new(env->base, -1, EV_PERSIST, on_tick, env),
		evsignal_new(env->base, SIGINT, on_signal, env),
		evsignal_new(env->base, SIGTERM, on_signal, env),
	};
	int ret = 0;

	for (int i = 0; i < 4 && !ret; i++)
		if (!ev[i] || event_add(ev[i], i == 1 ? &second : NULL))
			ret = -ENOMEM;
	/* A signal before the loop's own handlers were in place. */
	if (!ret && !pw_exiting && event_base_dispatch(env->base) < 0)
		ret = -EIO;
	for (int i = 0; i < 4; i++)
		if (ev[i])
			event_free(ev[i]);
	drain_records(env);
	return ret;
}

int cmd_serve(int argc, char **argv)
{
	const struct argp argp = { options, parse_opt, NULL, doc, pw_common_children, NULL, NULL };
	struct serve_env env = {
		.max_destinations = DEFAULT_MAX_DESTINATIONS,
		.ports_interval_s = DEFAULT_PORTS_INTERVAL,
		.max_connections = DEFAULT_MAX_CONNECTIONS,
		.labels = LBL_ALL,
	};
	struct pw_http_limits limits;
	struct pw_session s = {};
	char err[256];
	int ret;

	pw_common_defaults(&env.common);
	pw_parse_listen(DEFAULT_LISTEN, &env.listen);
	if (argp_parse(&argp, argc, argv, 0, NULL, &env))
		return 2;
	pw_set_libbpf_print(env.common.verbose);
	env.ctrs = pw_ctrs_new(NULL, "", PW_CTRS_DEFAULT);
	env.alloc_fails = pw_series_new(SERIES_MAX);
	env.connect_fails = pw_series_new(SERIES_MAX);
	env.connects = pw_series_new(SERIES_MAX);
	env.drops = pw_series_new(SERIES_MAX);
	env.base = event_base_new();
	if (!env.ctrs || !env.alloc_fails || !env.connect_fails || !env.connects || !env.drops ||
	    !env.base) {
		fprintf(stderr, "portwatch: out of memory\n");
		ret = -ENOMEM;
		goto cleanup;
	}
	ret = pw_dropctx_open(&env.names, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "portwatch: %s\n", err);
		goto cleanup;
	}
	env.common.session.needs =
		PW_NEED_DROPS | PW_NEED_LATENCY | PW_NEED_PORTS | PW_NEED_CONNECT_COUNTS;
	env.common.session.max_rows = PW_MAX_ROWS_DEFAULT;
	ret = pw_command_session(&s, &env.common, handle_record, &env);
	if (ret)
		goto cleanup;
	env.session = &s;
	limits = (struct pw_http_limits){ env.max_connections, MAX_HEADER_BYTES, IDLE_TIMEOUT_S };
	env.http = pw_http_new(env.base, &env.listen, &limits, scrape, &env, err, sizeof(err));
	if (!env.http) {
		fprintf(stderr, "portwatch: --listen: %s\n", err);
		ret = -EADDRNOTAVAIL;
		goto cleanup;
	}
	/* The first snapshot now: a scrape right after start-up stays as cheap as the others. */
	refresh_ports(&env);
	read_drops(&env);
	fprintf(stderr, "Serving metrics on /metrics... Hit Ctrl-C to end.\n");
	ret = run(&env) ?: env.err;
	if (ret)
		fprintf(stderr, "portwatch: %s\n", strerror(-ret));
cleanup:
	pw_http_free(env.http);
	pw_session_close(&s);
	if (env.base)
		event_base_free(env.base);
	pw_ports_free(&env.snap);
	for (size_t i = 0; i < env.n_procs; i++)
		free(env.procs[i].labels);
	free(env.procs);
	free(env.prev_drops);
	pw_series_free(env.alloc_fails);
	pw_series_free(env.connect_fails);
	pw_series_free(env.connects);
	pw_series_free(env.drops);
	pw_dropctx_close(&env.names);
	pw_ctrs_free(env.ctrs);
	return ret ? 1 : 0;
}
