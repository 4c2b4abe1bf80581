// SPDX-License-Identifier: GPL-2.0
/*
 * portwatch check: the NAT troubleshooting article's resolution steps,
 * automated: each finding with a severity, the evidence and the remedy.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include "cli.h"
#include "commands.h"
#include "container.h"
#include "conntrack.h"
#include "ethtool.h"
#include "netns.h"
#include "ports.h"
#include "record.h"
#include "util.h"

enum severity { SEV_INFO, SEV_WARNING, SEV_ERROR };

static const char *const severity_names[] = { "info", "warning", "error" };

enum { OPT_ACL = 0x600, OPT_THRESHOLD };

#define MAX_OWNERS 5 /* owners named per destination */
#define TEXT_LEN   1536

/* ena's allowance counters (ethtool -S), as the ENA documentation names them. */
static const char *const ena_allowances[] = {
	"bw_in_allowance_exceeded",	"bw_out_allowance_exceeded",	"pps_allowance_exceeded",
	"conntrack_allowance_exceeded", "linklocal_allowance_exceeded",
};
#define ENA_ALLOWANCES (sizeof(ena_allowances) / sizeof(ena_allowances[0]))

struct check_env {
	struct pw_snapshot_opts snap;
	unsigned long acl_lo, acl_hi;
	unsigned long threshold;  /* percent */
	unsigned long interval_s; /* between the two samples of counters */
	enum severity worst;
	unsigned int findings;
	struct pw_ctrs *ctrs; /* the owners' containers, through /proc/PID/cgroup */
	__u32 *ctr_netns;     /* with a container filter: the netns of its processes */
	size_t n_ctr_netns;
};

/* "pid 8541 (sockop)", or "pid 8541 (sockop, container web)": an owner for evidence. */
static const char *owner_text(struct check_env *env, const struct pw_port_key *k, char *buf,
			      size_t len)
{
	const struct pw_ctr *c = pw_ctrs_lookup_pid(env->ctrs, k->tgid);
	char comm[PW_ESCAPED_SIZE(PW_COMM_LEN)], name[1100];

	pw_escape(k->comm, PW_COMM_LEN, comm, sizeof(comm));
	if (c && c->id)
		snprintf(buf, len, "pid %u (%s, container %s)", k->tgid, comm,
			 pw_ctr_name_text(c, name, sizeof(name)));
	else
		snprintf(buf, len, "pid %u (%s)", k->tgid, comm);
	return buf;
}

/* Per netns: counters sampled twice, `interval_s` apart. */
struct sample {
	bool conntrack;	 /* /proc/net/stat/nf_conntrack was readable */
	struct pw_ct_stats ct[2];
	struct nic {
		char name[IF_NAMESIZE];
		long long v[2][ENA_ALLOWANCES];
	} nics[8]; /* ena devices */
	unsigned int n_nics;
};

struct sampler {
	struct sample *s; /* one per netns of the snapshot */
	const struct pw_ports_snapshot *snap;
	int round;	  /* 0 or 1 */
};

static const char doc[] =
	"Check for the causes of intermittent connection failures behind a NAT: the ephemeral "
	"port range and its usable size, destinations near exhaustion and their owners, "
	"TIME_WAIT and tcp_tw_reuse, a network ACL's allowed range against the range in use and "
	"the live sockets outside it, conntrack table use and insertion failures, and ENA "
	"adapters' allowance-exceeded counters. Each finding has a severity, evidence and a "
	"remedy.\v"
	"Exit status: 0 when no finding is a warning or worse, 1 when one is, 2 when the check "
	"could not run (bad options, not root, no BTF).\n"
	"EXAMPLES:\n"
	"  portwatch check                      # every namespace\n"
	"  portwatch check --acl 1024-65535     # the article's ACL: is the range inside it?\n"
	"  portwatch check --netns /run/netns/client --threshold 50\n"
	"  portwatch check --container web      # the network namespace of one container\n"
	"  portwatch check --json -i 5          # counters sampled 5 s apart, JSON lines";

static const struct argp_option options[] = {
	{ "acl", OPT_ACL, "LO-HI", 0,
	  "The local ports a network ACL lets replies reach (the article: 1024-65535)", 0 },
	{ "threshold", OPT_THRESHOLD, "PCT", 0,
	  "Warn about destinations whose ports are this full (default 80)", 0 },
	{ "interval", 'i', "SEC", 0, "Seconds between the two samples of counters (default 1)", 0 },
	{},
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct check_env *env = state->input;
	char *dash;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->snap;
		break;
	case OPT_ACL:
		dash = strchr(arg, '-');
		if (!dash)
			argp_failure(state, 2, 0, "invalid --acl '%s': use LO-HI, e.g. 1024-65535",
				     arg);
		*dash = '\0';
		if (pw_parse_ulong(arg, 1, 65535, &env->acl_lo) ||
		    pw_parse_ulong(dash + 1, 1, 65535, &env->acl_hi) || env->acl_lo > env->acl_hi) {
			*dash = '-';
			argp_failure(state, 2, 0,
				     "invalid --acl '%s': use LO-HI, ports 1-65535, LO <= HI", arg);
		}
		*dash = '-';
		break;
	case OPT_THRESHOLD:
		if (pw_parse_ulong(arg, 1, 100, &env->threshold))
			argp_failure(state, 2, 0,
				     "invalid --threshold '%s': a percentage, 1 to 100", arg);
		break;
	case 'i':
		pw_argp_seconds(state, "--interval", arg, 3600, &env->interval_s);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void report(struct check_env *env, enum severity sev, __u32 netns, const char *check,
		   const char *summary, const char *evidence, const char *remedy)
{
	if (sev > env->worst)
		env->worst = sev;
	env->findings++;
	if (env->snap.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "type", json_object_new_string("finding"));
		json_object_object_add(o, "severity", json_object_new_string(severity_names[sev]));
		json_object_object_add(o, "netns", json_object_new_int64(netns));
		json_object_object_add(o, "check", json_object_new_string(check));
		json_object_object_add(o, "summary", json_object_new_string(summary));
		json_object_object_add(o, "evidence", json_object_new_string(evidence));
		json_object_object_add(o, "remedy", remedy ? json_object_new_string(remedy) : NULL);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return;
	}
	printf("%-7s netns %u %s: %s\n", severity_names[sev], netns, check, summary);
	printf("        evidence: %s\n", evidence);
	if (remedy)
		printf("        remedy: %s\n", remedy);
}

/* Append to a fixed buffer, truncating quietly. */
static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static void check_range(struct check_env *env, const struct pw_netns *ns)
{
	char summary[TEXT_LEN], evidence[TEXT_LEN];
	__u32 size = ns->hi >= ns->lo ? (__u32)ns->hi - ns->lo + 1 : 0;
	/* connect() searches an even number of ports (pw_usable_ports). */
	__u32 searched = size > 1 ? size & ~1U : size;

	snprintf(summary, sizeof(summary),
		 "ephemeral range %u-%u: %u ports, %u usable toward one "
		 "destination",
		 ns->lo, ns->hi, size, ns->usable);
	snprintf(evidence, sizeof(evidence),
		 "net.ipv4.ip_local_port_range = %u %u; "
		 "ip_local_reserved_ports = \"%s\" (%u of the searched ports)",
		 ns->lo, ns->hi, ns->reserved, searched - ns->usable);
	if (size % 2)
		append(evidence, sizeof(evidence),
		       "; an odd size: each connect() search scans %u "
		       "ports, so one search can miss the last free port",
		       size - 1);
	report(env, SEV_INFO, ns->inode, "port_range", summary, evidence, NULL);
}

/* One destination: its n rows, biggest owner first. */
static void check_destination(struct check_env *env, const struct pw_port_row *rows, size_t n)
{
	char summary[TEXT_LEN], evidence[TEXT_LEN], dest[INET6_ADDRSTRLEN + 10];
	const struct pw_port_row *r = &rows[0];
	__u64 tw = 0, estab = 0;
	enum severity sev;

	if (r->utilization < env->threshold)
		return;
	sev = r->utilization >= 100 ? SEV_ERROR : SEV_WARNING;
	pw_format_endpoint(r->key.family, r->key.daddr, r->key.dport, dest, sizeof(dest));
	for (size_t k = 0; k < n; k++) {
		tw += rows[k].counts.time_wait;
		estab += rows[k].counts.established;
	}
	snprintf(summary, sizeof(summary), "%s %s: %llu of %u usable ports in use (%.1f%%)%s",
		 pw_proto_name(r->key.proto), dest, (unsigned long long)r->dest_total, r->usable,
		 r->utilization, sev == SEV_ERROR ? ": connect() to it fails now" : "");
	snprintf(evidence, sizeof(evidence),
		 "established %llu, time_wait %llu; owners:", (unsigned long long)estab,
		 (unsigned long long)tw);
	for (size_t k = 0; k < n && k < MAX_OWNERS; k++) {
		char who[1300];

		if (rows[k].key.tgid)
			append(evidence, sizeof(evidence), " %s %llu",
			       owner_text(env, &rows[k].key, who, sizeof(who)),
			       (unsigned long long)rows[k].total);
		else
			append(evidence, sizeof(evidence), " unowned (TIME_WAIT...) %llu",
			       (unsigned long long)rows[k].total);
	}
	if (n > MAX_OWNERS)
		append(evidence, sizeof(evidence), " and %zu more", n - MAX_OWNERS);
	report(env, sev, r->key.netns, "destination_ports", summary, evidence,
	       "reuse connections (keep-alive, pooling); spread load over more destination "
	       "addresses or ports or source addresses; widen net.ipv4.ip_local_port_range "
	       "(the article: 1024 65535)");
}

/* The sockets of one netns's rows. */
struct port_totals {
	__u64 total, time_wait, outside_acl;
	double worst; /* the fullest destination's utilization, percent */
};

static void port_totals(const struct pw_port_row *rows, size_t n, __u32 netns,
			struct port_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		if (rows[i].key.netns != netns)
			continue;
		t->total += rows[i].total;
		t->time_wait += rows[i].counts.time_wait;
		t->outside_acl += rows[i].counts.outside_acl;
		if (rows[i].utilization > t->worst)
			t->worst = rows[i].utilization;
	}
}

static void check_time_wait(struct check_env *env, const struct pw_netns *ns,
			    const struct port_totals *t)
{
	char summary[TEXT_LEN], evidence[TEXT_LEN];
	double share = 100.0 * t->time_wait / t->total;
	/* TIME_WAIT matters when it holds most ports toward a filling destination. */
	bool hurts = share >= 50 && t->worst >= env->threshold / 2.0;

	snprintf(summary, sizeof(summary),
		 "TIME_WAIT holds %llu of %llu ephemeral ports "
		 "in use (%.0f%%)",
		 (unsigned long long)t->time_wait, (unsigned long long)t->total, share);
	snprintf(evidence, sizeof(evidence),
		 "net.ipv4.tcp_tw_reuse = %ld (%s); fullest "
		 "destination at %.1f%%",
		 ns->tw_reuse,
		 ns->tw_reuse == 1 ? "reused for new connects when timestamps allow"
		 : ns->tw_reuse == 2 ? "loopback only"
				     : "off",
		 t->worst);
	report(env, hurts ? SEV_WARNING : SEV_INFO, ns->inode, "time_wait", summary, evidence,
	       hurts && ns->tw_reuse != 1
		       ? "sysctl -w net.ipv4.tcp_tw_reuse=1 in this netns; let the server "
			 "close first (clients that close first keep the TIME_WAIT)"
		       : NULL);
}

/* --acl: is the netns's ephemeral range inside the ACL's? */
static void check_acl_range(struct check_env *env, const struct pw_netns *ns)
{
	char summary[TEXT_LEN], evidence[TEXT_LEN];

	if (ns->lo >= env->acl_lo && ns->hi <= env->acl_hi)
		return;
	snprintf(summary, sizeof(summary),
		 "the ephemeral range %u-%u is not inside "
		 "the ACL's %lu-%lu: replies to connections from the ports outside "
		 "it are dropped",
		 ns->lo, ns->hi, env->acl_lo, env->acl_hi);
	snprintf(evidence, sizeof(evidence),
		 "net.ipv4.ip_local_port_range = %u %u; "
		 "--acl %lu-%lu",
		 ns->lo, ns->hi, env->acl_lo, env->acl_hi);
	report(env, SEV_WARNING, ns->inode, "acl_range", summary, evidence,
	       "allow the whole ephemeral range in the network ACL (the article: "
	       "1024-65535), or set ip_local_port_range inside the ACL");
}

/* --acl: the live sockets of the netns (`outside` of them) on ports outside the ACL's. */
static void check_acl_sockets(struct check_env *env, const struct pw_port_row *rows, size_t n,
			      const struct pw_netns *ns, __u64 outside)
{
	char summary[TEXT_LEN], evidence[TEXT_LEN] = "";

	snprintf(summary, sizeof(summary),
		 "%llu live sockets use local ports outside "
		 "the ACL's %lu-%lu: their replies are dropped",
		 (unsigned long long)outside, env->acl_lo, env->acl_hi);
	for (size_t i = 0; i < n; i++) {
		const struct pw_port_row *r = &rows[i];
		char dest[INET6_ADDRSTRLEN + 10], who[1300];

		if (r->key.netns != ns->inode || !r->counts.outside_acl)
			continue;
		pw_format_endpoint(r->key.family, r->key.daddr, r->key.dport, dest, sizeof(dest));
		if (r->key.tgid)
			append(evidence, sizeof(evidence), "%s%s -> %s: %llu",
			       evidence[0] ? "; " : "", owner_text(env, &r->key, who, sizeof(who)),
			       dest, (unsigned long long)r->counts.outside_acl);
		else
			append(evidence, sizeof(evidence), "%sunowned -> %s: %llu",
			       evidence[0] ? "; " : "", dest,
			       (unsigned long long)r->counts.outside_acl);
	}
	report(env, SEV_ERROR, ns->inode, "acl_sockets", summary, evidence,
	       "these connections hang or fail: allow the whole ephemeral range in the "
	       "ACL, or narrow ip_local_port_range to inside it");
}

/* Rows in snapshot order: a destination's rows together, biggest owner first. */
static void check_ports(struct check_env *env, const struct pw_port_row *rows, size_t n,
			const struct pw_netns *ns)
{
	struct port_totals t;
	size_t i, j;

	for (i = 0; i < n; i = j) {
		for (j = i; j < n && !pw_port_row_dest_cmp(&rows[i], &rows[j]); j++)
			;
		if (rows[i].key.netns == ns->inode)
			check_destination(env, &rows[i], j - i);
	}
	port_totals(rows, n, ns->inode, &t);
	if (t.time_wait)
		check_time_wait(env, ns, &t);
	if (env->acl_hi) {
		check_acl_range(env, ns);
		if (t.outside_acl)
			check_acl_sockets(env, rows, n, ns, t.outside_acl);
	}
}

static int sample_netns(void *ctx, struct pw_netns *ns)
{
	struct sampler *sp = ctx;
	struct sample *s = &sp->s[ns - sp->snap->ns];
	struct if_nameindex *ifs, *it;

	s->conntrack = !pw_conntrack_stats(&s->ct[sp->round]);
	ifs = if_nameindex();
	for (it = ifs; it && it->if_index; it++) {
		char driver[32];
		struct pw_eth_stat *st;
		struct nic *nic = NULL;
		size_t n;

		if (pw_ethtool_driver(it->if_name, driver, sizeof(driver)) || strcmp(driver, "ena"))
			continue;
		for (unsigned int k = 0; k < s->n_nics; k++)
			if (!strcmp(s->nics[k].name, it->if_name))
				nic = &s->nics[k];
		if (!nic && s->n_nics < sizeof(s->nics) / sizeof(s->nics[0])) {
			nic = &s->nics[s->n_nics++];
			snprintf(nic->name, sizeof(nic->name), "%s", it->if_name);
		}
		if (!nic || pw_ethtool_stats(it->if_name, &st, &n))
			continue;
		for (size_t a = 0; a < ENA_ALLOWANCES; a++)
			nic->v[sp->round][a] = pw_ethtool_stat(st, n, ena_allowances[a]);
		free(st);
	}
	if (ifs)
		if_freenameindex(ifs);
	return 0;
}

static void check_conntrack(struct check_env *env, const struct pw_netns *ns,
			    const struct sample *s, long max)
{
	const struct pw_ct_stats *a = &s->ct[0], *b = &s->ct[1];
	char summary[TEXT_LEN], evidence[TEXT_LEN];
	__u64 insert_failed = b->insert_failed - a->insert_failed, drop = b->drop - a->drop,
	      early_drop = b->early_drop - a->early_drop;
	double use = max > 0 ? 100.0 * b->entries / max : 0;
	enum severity sev = use >= 90 ? SEV_ERROR : use >= 75 ? SEV_WARNING : SEV_INFO;

	if (!s->conntrack || (!b->entries && !b->insert_failed && !b->drop && !b->early_drop))
		return; /* conntrack does not run in this netns */
	if (insert_failed || drop || early_drop)
		sev = sev > SEV_WARNING ? sev : SEV_WARNING;
	snprintf(summary, sizeof(summary),
		 "conntrack: %llu of %ld entries (%.1f%%); in %lu s: "
		 "insert_failed +%llu, drop +%llu, early_drop +%llu",
		 (unsigned long long)b->entries, max, use, env->interval_s,
		 (unsigned long long)insert_failed, (unsigned long long)drop,
		 (unsigned long long)early_drop);
	snprintf(evidence, sizeof(evidence),
		 "/proc/net/stat/nf_conntrack of the netns: totals "
		 "insert_failed %llu, drop %llu, early_drop %llu; nf_conntrack_max %ld",
		 (unsigned long long)b->insert_failed, (unsigned long long)b->drop,
		 (unsigned long long)b->early_drop, max);
	report(env, sev, ns->inode, "conntrack", summary, evidence,
	       sev == SEV_INFO ? NULL
	       : insert_failed ? "SNAT ports toward a destination are used up: widen the SNAT "
				 "port range, add SNAT addresses, or reuse connections "
				 "(portwatch drops --by process,nat_class names the clients)"
			       : "raise net.netfilter.nf_conntrack_max or shorten conntrack "
				 "timeouts");
}

static void check_ena(struct check_env *env, const struct pw_netns *ns, const struct sample *s)
{
	for (unsigned int k = 0; k < s->n_nics; k++) {
		const struct nic *nic = &s->nics[k];
		char summary[TEXT_LEN], evidence[TEXT_LEN] = "";
		bool exceeded = false;

		for (size_t a = 0; a < ENA_ALLOWANCES; a++) {
			if (nic->v[1][a] < 0)
				continue;
			exceeded |= nic->v[1][a] > 0;
			append(evidence, sizeof(evidence), "%s%s %lld (+%lld)",
			       evidence[0] ? ", " : "", ena_allowances[a], nic->v[1][a],
			       nic->v[1][a] - nic->v[0][a]);
		}
		snprintf(summary, sizeof(summary), "%s (ena): %s", nic->name,
			 exceeded ? "the instance exceeded its network allowances: packets were "
				    "queued or dropped"
				  : "no allowance exceeded");
		report(env, exceeded ? SEV_WARNING : SEV_INFO, ns->inode, "ena_allowance", summary,
		       evidence,
		       exceeded ? "a larger instance type, or less traffic, connections "
				  "or packets per second"
				: NULL);
	}
}

static bool has_netns(const __u32 *set, size_t n, __u32 ino)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == ino)
			return true;
	return false;
}

/*
 * With --container, --pod or --k8s-namespace: the network namespaces of the
 * live processes of that container (found by walking /proc) are the ones
 * checked. Returns 0, -ENOENT when no process of it runs, or -ENOMEM.
 */
static int find_container_netns(struct check_env *env)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int ret = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)) && !ret) {
		const struct pw_ctr *c;
		unsigned long pid;
		char path[64];
		__u32 ino, *grown;

		if (pw_parse_ulong(e->d_name, 1, 0x7fffffff, &pid))
			continue;
		c = pw_ctrs_lookup_pid(env->ctrs, pid);
		if (!c || !c->id || !pw_filter_match_ctr(&env->snap.filter, c))
			continue;
		snprintf(path, sizeof(path), "/proc/%lu/ns/net", pid);
		if (pw_netns_inode(path, &ino) || has_netns(env->ctr_netns, env->n_ctr_netns, ino))
			continue;
		grown = realloc(env->ctr_netns, (env->n_ctr_netns + 1) * sizeof(*grown));
		if (!grown)
			ret = -ENOMEM;
		else
			(env->ctr_netns = grown)[env->n_ctr_netns++] = ino;
	}
	closedir(d);
	return ret ?: env->n_ctr_netns ? 0 : -ENOENT;
}

int cmd_check(int argc, char **argv)
{
	const struct argp argp = {
		options, parse_opt, NULL, doc, pw_snapshot_children, NULL, NULL
	};
	struct check_env env = { .threshold = 80, .interval_s = 1 };
	struct pw_ports_snapshot snap = {};
	struct sampler sp = {};
	struct pw_session s = {};
	char err[256];
	unsigned int failed;
	long max;
	int ret;

	pw_snapshot_defaults(&env.snap);
	if (argp_parse(&argp, argc, argv, 0, NULL, &env))
		return 2;
	pw_set_libbpf_print(env.snap.verbose);
	/* NULL when out of memory: then the evidence names no container */
	env.ctrs = pw_ctrs_new(NULL, "", PW_CTRS_DEFAULT);
	ret = pw_session_open_snapshot(&s, env.snap.max_rows, err, sizeof(err));
	if (!ret && pw_filter_wants_containers(&env.snap.filter)) {
		ret = env.ctrs ? find_container_netns(&env) : -ENOMEM;
		if (ret)
			snprintf(err, sizeof(err), "%s",
				 ret == -ENOENT ? "no running process is in that container"
						: strerror(-ret));
		/* One netns (a container's, a pod's) is walked alone, like --netns */
		if (!ret && env.n_ctr_netns == 1 && !env.snap.filter.netns)
			env.snap.filter.netns = env.ctr_netns[0];
	}
	if (!ret) {
		pw_ports_set_acl(s.skel, env.acl_lo, env.acl_hi);
		ret = pw_ports_snapshot(s.skel, env.snap.filter.netns, &snap, err, sizeof(err));
	}
	if (ret) {
		fprintf(stderr, "portwatch: %s\n", err);
		goto cleanup;
	}
	sp.snap = &snap;
	sp.s = calloc(snap.n_ns, sizeof(*sp.s));
	if (!sp.s) {
		ret = -ENOMEM;
		fprintf(stderr, "portwatch: out of memory\n");
		goto cleanup;
	}
	/* Counters twice, interval apart: their deltas say what happens now. */
	for (sp.round = 0; sp.round < 2 && !ret; sp.round++) {
		if (sp.round)
			sleep(env.interval_s);
		ret = pw_netns_each(snap.ns, snap.n_ns, sample_netns, &sp, &failed);
	}
	if (ret) {
		fprintf(stderr, "portwatch: returning to our netns: %s\n", strerror(-ret));
		goto cleanup;
	}
	max = pw_conntrack_max();
	for (size_t i = 0; i < snap.n_ns; i++) {
		if (!snap.ns[i].walked ||
		    (env.ctr_netns && !has_netns(env.ctr_netns, env.n_ctr_netns, snap.ns[i].inode)))
			continue;
		check_range(&env, &snap.ns[i]);
		check_ports(&env, snap.rows, snap.n, &snap.ns[i]);
		check_conntrack(&env, &snap.ns[i], &sp.s[i], max);
		check_ena(&env, &snap.ns[i], &sp.s[i]);
	}
	if (snap.overflow)
		report(&env, SEV_WARNING, 0, "port_rows", "some sockets were not counted",
		       "more (netns, owner, destination) rows than --max-rows", "raise --max-rows");
	if (env.snap.json)
		printf("{\"type\":\"summary\",\"findings\":%u,\"worst\":\"%s\",\"exit\":%d}\n",
		       env.findings, severity_names[env.worst], env.worst >= SEV_WARNING);
	else
		printf("%u findings, worst: %s\n", env.findings, severity_names[env.worst]);
cleanup:
	free(sp.s);
	pw_ports_free(&snap);
	pw_session_close(&s);
	pw_filter_free(&env.snap.filter);
	pw_ctrs_free(env.ctrs);
	free(env.ctr_netns);
	if (ret)
		return 2;
	return env.worst >= SEV_WARNING ? 1 : 0;
}
