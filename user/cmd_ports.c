// SPDX-License-Identifier: GPL-2.0
/* portwatch ports: who holds the ephemeral ports, toward which destination, how full. */
#define _GNU_SOURCE
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "cli.h"
#include "commands.h"
#include "container.h"
#include "ports.h"
#include "record.h"
#include "util.h"

struct ports_env {
	struct pw_snapshot_opts snap;
};

static const char doc[] =
	"A snapshot of the ephemeral ports in use, per network namespace, owner process, "
	"protocol and destination, with counts by TCP state, the namespace's port range, the "
	"ports connect() can really use toward one destination and the utilization: ports run "
	"out per destination, since a local port is shared across distinct 4-tuples. Taken "
	"with BPF iterators in the kernel, across all namespaces, without walking /proc.\v"
	"TIME_WAIT sockets have no file, so no owner: they are counted as unowned (pid -), and a "
	"container filter leaves them out (a destination's UTIL% still counts them).\n"
	"EXAMPLES:\n"
	"  portwatch ports                      # every namespace, fullest destinations first\n"
	"  portwatch ports --netns /run/netns/client\n"
	"  portwatch ports --container web      # the sockets of one container's processes\n"
	"  portwatch ports --json | jq 'select(.type == \"port\" and .utilization > 80)'";

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct ports_env *env = state->input;

	(void)arg;
	if (key != ARGP_KEY_INIT)
		return ARGP_ERR_UNKNOWN;
	state->child_inputs[0] = &env->snap;
	return 0;
}

static void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

static const char *comm_of(const struct pw_port_key *k, char *buf)
{
	memcpy(buf, k->comm, PW_COMM_LEN);
	buf[PW_COMM_LEN] = '\0';
	return k->tgid ? buf : "-";
}

/* For text: an owner's comm escaped into buf (PW_ESCAPED_SIZE(PW_COMM_LEN)), or "-". */
static const char *comm_text(const char *comm, __u32 tgid, char *buf)
{
	return tgid ? pw_escape(comm, PW_COMM_LEN, buf, PW_ESCAPED_SIZE(PW_COMM_LEN)) : "-";
}

/*
 * A row's port range, usable ports and utilization: unknown (null, "-")
 * when its netns could not be entered (ip_local_port_range is read there),
 * which the range 0-0 of such a row stands for.
 */
static bool range_known(const struct pw_port_row *r)
{
	return r->range_hi != 0;
}

static void add_range_json(struct json_object *o, const struct pw_port_row *r)
{
	bool known = range_known(r);

	add(o, "range_lo", known ? json_object_new_int(r->range_lo) : NULL);
	add(o, "range_hi", known ? json_object_new_int(r->range_hi) : NULL);
	add(o, "usable", known ? json_object_new_int64(r->usable) : NULL);
}

static const char *range_text(const struct pw_port_row *r, char *buf, size_t size)
{
	if (!range_known(r))
		return "-";
	snprintf(buf, size, "%u-%u", r->range_lo, r->range_hi);
	return buf;
}

static void row_json(const struct pw_port_row *r, const struct pw_ctr *ctr)
{
	struct json_object *o = json_object_new_object();
	char addr[INET6_ADDRSTRLEN], comm[PW_COMM_LEN + 1];

	add(o, "type", json_object_new_string("port"));
	add(o, "netns", json_object_new_int64(r->key.netns));
	add(o, "pid", r->key.tgid ? json_object_new_int64(r->key.tgid) : NULL);
	add(o, "comm", r->key.tgid ? json_object_new_string(comm_of(&r->key, comm)) : NULL);
	pw_json_add_container(o, ctr);
	add(o, "proto", json_object_new_string(pw_proto_name(r->key.proto)));
	add(o, "family", json_object_new_string(pw_family_name(r->key.family)));
	add(o, "daddr",
	    json_object_new_string(
				pw_format_addr(r->key.family, r->key.daddr, addr, sizeof(addr))));
	add(o, "dport", json_object_new_int(r->key.dport));
	add(o, "established", json_object_new_uint64(r->counts.established));
	add(o, "syn_sent", json_object_new_uint64(r->counts.syn_sent));
	add(o, "time_wait", json_object_new_uint64(r->counts.time_wait));
	add(o, "close_wait", json_object_new_uint64(r->counts.close_wait));
	add(o, "fin_wait", json_object_new_uint64(r->counts.fin_wait));
	add(o, "other", json_object_new_uint64(r->counts.other));
	add(o, "total", json_object_new_uint64(r->total));
	add(o, "destination_total", json_object_new_uint64(r->dest_total));
	add_range_json(o, r);
	add(o, "utilization", range_known(r) ? json_object_new_double(r->utilization) : NULL);
	print_json(o);
}

/* One total per process (tgid 0: unowned) or per netns, in first-seen order. */
struct total {
	__u32 id;
	char comm[PW_COMM_LEN + 1];
	__u64 sockets;
	__u64 destinations;
	const struct pw_port_row *any; /* a row of it, for the netns's range */
};

static struct total *totals(const struct pw_ports_snapshot *s, bool by_netns, size_t *n)
{
	struct total *t = calloc(s->n ? s->n : 1, sizeof(*t));
	size_t m = 0, j;

	if (!t)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct pw_port_row *r = &s->rows[i];
		__u32 id = by_netns ? r->key.netns : r->key.tgid;

		for (j = 0; j < m && t[j].id != id; j++)
			;
		if (j == m) {
			t[m].id = id;
			t[m].any = r;
			comm_of(&r->key, t[m].comm);
			m++;
		}
		t[j].sockets += r->total;
		t[j].destinations++;
	}
	*n = m;
	return t;
}

/*
 * One total per container (pod containers too), in first-seen order; rows
 * outside containers are left out. Printed only when a row is in one.
 */
static void print_container_totals(const struct pw_ports_snapshot *s,
				   const struct pw_ctr *const *ctr, bool json)
{
	const struct pw_ctr **who = calloc(s->n ? s->n : 1, sizeof(*who));
	__u64 *sockets = calloc(s->n ? s->n : 1, sizeof(*sockets));
	__u64 *dests = calloc(s->n ? s->n : 1, sizeof(*dests));
	size_t m = 0, j;

	if (!who || !sockets || !dests)
		goto out;
	for (size_t i = 0; i < s->n; i++) {
		if (!ctr[i])
			continue;
		for (j = 0; j < m && strcmp(who[j]->id, ctr[i]->id); j++)
			;
		if (j == m)
			who[m++] = ctr[i];
		sockets[j] += s->rows[i].total;
		dests[j]++;
	}
	if (m && !json)
		printf("\n%-32s %-24s %10s %12s\n", "CONTAINER", "POD", "SOCKETS", "DESTINATIONS");
	for (j = 0; j < m; j++) {
		if (json) {
			struct json_object *o = json_object_new_object();

			add(o, "type", json_object_new_string("container"));
			pw_json_add_container(o, who[j]);
			add(o, "sockets", json_object_new_uint64(sockets[j]));
			add(o, "destinations", json_object_new_uint64(dests[j]));
			print_json(o);
		} else {
			char name[1100], pod[2100] = "-";

			if (who[j]->pod)
				pw_ctr_label(who[j], pod, sizeof(pod));
			pw_ctr_name_text(who[j], name, sizeof(name));
			printf("%-32s %-24s %10llu %12llu\n", name, pod,
			       (unsigned long long)sockets[j], (unsigned long long)dests[j]);
		}
	}
out:
	free(who);
	free(sockets);
	free(dests);
}

static void print_totals(const struct pw_ports_snapshot *s, bool json)
{
	size_t np, nn;
	struct total *proc = totals(s, false, &np), *ns = totals(s, true, &nn);

	if (!proc || !ns)
		goto out;
	if (!json)
		printf("\n%-7s %-15s %10s %12s\n", "PID", "COMM", "SOCKETS", "DESTINATIONS");
	for (size_t i = 0; i < np; i++) {
		if (json) {
			struct json_object *o = json_object_new_object();

			add(o, "type", json_object_new_string("process"));
			add(o, "pid", proc[i].id ? json_object_new_int64(proc[i].id) : NULL);
			add(o, "comm", proc[i].id ? json_object_new_string(proc[i].comm) : NULL);
			add(o, "sockets", json_object_new_uint64(proc[i].sockets));
			add(o, "destinations", json_object_new_uint64(proc[i].destinations));
			print_json(o);
		} else if (proc[i].id) {
			char comm[PW_ESCAPED_SIZE(PW_COMM_LEN)];

			printf("%-7u %-15s %10llu %12llu\n", proc[i].id,
			       comm_text(proc[i].comm, proc[i].id, comm),
			       (unsigned long long)proc[i].sockets,
			       (unsigned long long)proc[i].destinations);
		} else {
			printf("%-7s %-15s %10llu %12llu\n", "-", "(unowned)",
			       (unsigned long long)proc[i].sockets,
			       (unsigned long long)proc[i].destinations);
		}
	}
	if (!json)
		printf("\n%-11s %10s %12s %-12s %7s\n", "NETNS", "SOCKETS", "DESTINATIONS", "RANGE",
		       "USABLE");
	for (size_t i = 0; i < nn; i++) {
		const struct pw_port_row *r = ns[i].any;

		if (json) {
			struct json_object *o = json_object_new_object();

			add(o, "type", json_object_new_string("netns"));
			add(o, "netns", json_object_new_int64(ns[i].id));
			add(o, "sockets", json_object_new_uint64(ns[i].sockets));
			add(o, "destinations", json_object_new_uint64(ns[i].destinations));
			add_range_json(o, r);
			print_json(o);
		} else {
			char range[16], usable[12] = "-";

			if (range_known(r))
				snprintf(usable, sizeof(usable), "%u", r->usable);
			printf("%-11u %10llu %12llu %-12s %7s\n", ns[i].id,
			       (unsigned long long)ns[i].sockets, (unsigned long long)ns[i].destinations,
			       range_text(r, range, sizeof(range)), usable);
		}
	}
out:
	free(proc);
	free(ns);
}

static void print_rows(const struct pw_ports_snapshot *s, const struct pw_ctr *const *ctr)
{
	printf("%-11s %-7s %-15s %-5s %-28s %7s %8s %9s %10s %8s %5s %-11s %6s %6s %s\n", "NETNS",
	       "PID", "COMM", "PROTO", "DESTINATION", "ESTAB", "SYN_SENT", "TIME_WAIT",
	       "CLOSE_WAIT", "FIN_WAIT", "OTHER", "RANGE", "USABLE", "UTIL%", "CONTAINER");
	for (size_t i = 0; i < s->n; i++) {
		const struct pw_port_row *r = &s->rows[i];
		char dest[INET6_ADDRSTRLEN + 10], comm[PW_ESCAPED_SIZE(PW_COMM_LEN)], pid[12] = "-";
		char range[16], label[2100], usable[12] = "-", util[12] = "-";
		char proto[8];

		if (r->key.tgid)
			snprintf(pid, sizeof(pid), "%u", r->key.tgid);
		if (range_known(r)) {
			snprintf(usable, sizeof(usable), "%u", r->usable);
			snprintf(util, sizeof(util), "%.1f", r->utilization);
		}
		snprintf(proto, sizeof(proto), "%s%c", pw_proto_name(r->key.proto),
			 r->key.family == AF_INET6 ? '6' : '4');
		printf("%-11u %-7s %-15s %-5s %-28s %7llu %8llu %9llu %10llu %8llu %5llu %-11s %6s "
		       "%6s %s\n",
		       r->key.netns, pid, comm_text(r->key.comm, r->key.tgid, comm), proto,
		       pw_format_endpoint(r->key.family, r->key.daddr, r->key.dport, dest,
					  sizeof(dest)),
		       (unsigned long long)r->counts.established,
		       (unsigned long long)r->counts.syn_sent,
		       (unsigned long long)r->counts.time_wait,
		       (unsigned long long)r->counts.close_wait,
		       (unsigned long long)r->counts.fin_wait, (unsigned long long)r->counts.other,
		       range_text(r, range, sizeof(range)), usable, util,
		       pw_ctr_name_text(ctr[i], label, sizeof(label)));
	}
}

/*
 * With --container, --pod or --k8s-namespace: only the rows of the
 * container's processes (in order); a destination's totals and utilization
 * still count every socket of its netns toward it.
 */
static void keep_container_rows(struct pw_ports_snapshot *s, const struct pw_ctr **ctr,
				const struct pw_filter *f)
{
	size_t m = 0;

	if (!pw_filter_wants_containers(f))
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (!ctr[i] || !pw_filter_match_ctr(f, ctr[i]))
			continue;
		s->rows[m] = s->rows[i];
		ctr[m++] = ctr[i];
	}
	s->n = m;
}

int cmd_ports(int argc, char **argv)
{
	const struct argp argp = { NULL, parse_opt, NULL, doc, pw_snapshot_children, NULL, NULL };
	struct ports_env env;
	struct pw_ports_snapshot snap = {};
	struct pw_session s = {};
	const struct pw_ctr **ctr = NULL;
	struct pw_ctrs *ctrs = NULL;
	char err[256];
	int ret;

	pw_snapshot_defaults(&env.snap);
	if (argp_parse(&argp, argc, argv, 0, NULL, &env))
		return 2;
	pw_set_libbpf_print(env.snap.verbose);
	ret = pw_session_open_snapshot(&s, env.snap.max_rows, err, sizeof(err));
	if (!ret)
		ret = pw_ports_snapshot(s.skel, env.snap.filter.netns, &snap, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "portwatch: %s\n", err);
		goto cleanup;
	}
	/* The processes holding the sockets live: resolved through /proc/PID/cgroup */
	ctrs = pw_ctrs_new(NULL, "", PW_CTRS_DEFAULT);
	ctr = calloc(snap.n ? snap.n : 1, sizeof(*ctr));
	if (!ctrs || !ctr) {
		fprintf(stderr, "portwatch: out of memory\n");
		ret = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < snap.n; i++) {
		ctr[i] = snap.rows[i].key.tgid ? pw_ctrs_lookup_pid(ctrs, snap.rows[i].key.tgid)
					       : NULL;
		if (ctr[i] && !ctr[i]->id)
			ctr[i] = NULL;
	}
	keep_container_rows(&snap, ctr, &env.snap.filter);
	if (env.snap.json) {
		for (size_t i = 0; i < snap.n; i++)
			row_json(&snap.rows[i], ctr[i]);
	} else {
		print_rows(&snap, ctr);
	}
	print_totals(&snap, env.snap.json);
	print_container_totals(&snap, ctr, env.snap.json);
	if ((snap.overflow || snap.netns_failed) && env.snap.json)
		printf("{\"type\":\"lost\",\"sockets\":%llu,\"netns_not_entered\":%u}\n",
		       (unsigned long long)snap.overflow, snap.netns_failed);
	if (snap.overflow && !env.snap.json)
		fprintf(stderr, "WARNING: %llu sockets not counted: more rows than --max-rows\n",
			(unsigned long long)snap.overflow);
	if (snap.netns_failed && !env.snap.json)
		fprintf(stderr,
			"WARNING: %u network namespaces could not be entered: their ranges are "
			"unknown (-)\n",
			snap.netns_failed);
cleanup:
	free(ctr);
	pw_ctrs_free(ctrs);
	pw_ports_free(&snap);
	pw_session_close(&s);
	pw_filter_free(&env.snap.filter);
	return ret ? 1 : 0;
}
