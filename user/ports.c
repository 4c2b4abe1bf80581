// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "ports.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "netns.h"
#include "portwatch.skel.h"
#include "util.h"

struct netns_list {
	struct pw_netns *v;
	size_t n, cap;
};

__u32 pw_usable_ports(__u16 lo, __u16 hi, const char *reserved)
{
	const char *p = reserved;
	__u32 window, last, usable;

	if (hi < lo)
		return 0;
	window = (__u32)hi - lo + 1;
	if (window > 1)
		window &= ~1U;
	last = lo + window - 1;
	usable = window;
	while (p && *p) {
		char *next;
		unsigned long a = strtoul(p, &next, 10), b = a;

		if (next == p)
			break;
		if (*next == '-')
			b = strtoul(next + 1, &next, 10);
		for (unsigned long port = a < lo ? lo : a; port <= b && port <= last; port++)
			usable--;
		p = next + (*next == ',');
	}
	return usable;
}

static struct pw_netns *netns_add(struct netns_list *l, __u32 inode, const char *path)
{
	struct pw_netns *grown;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].inode == inode)
			return NULL;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		grown = realloc(l->v, l->cap * sizeof(*l->v));
		if (!grown)
			return NULL;
		l->v = grown;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	l->v[l->n].inode = inode;
	snprintf(l->v[l->n].path, sizeof(l->v[0].path), "%s", path);
	return &l->v[l->n++];
}

struct netns_pids {
	int fd; /* netns_pid: netns inode -> a pid in it */
	struct netns_list *l;
};

static int add_netns_of_pid(const void *key, void *ctx)
{
	struct netns_pids *np = ctx;
	char path[32];
	__u32 pid;

	if (!bpf_map_lookup_elem(np->fd, key, &pid)) {
		snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
		netns_add(np->l, *(const __u32 *)key, path);
	}
	return 0;
}

/*
 * Every netns to walk: ours, those of /run/netns (namespaces without a task
 * can still hold TIME_WAIT sockets), and those the owner iterator saw a task
 * with a socket in.
 */
static void list_netns(struct portwatch_bpf *skel, struct netns_list *l)
{
	struct netns_pids np = { bpf_map__fd(skel->maps.netns_pid), l };
	char path[300];
	struct dirent *de;
	__u32 ino;
	DIR *dir;

	if (!pw_netns_inode("/proc/self/ns/net", &ino))
		netns_add(l, ino, "/proc/self/ns/net");
	dir = opendir("/run/netns");
	while (dir && (de = readdir(dir))) {
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if (de->d_name[0] != '.' && !pw_netns_inode(path, &ino))
			netns_add(l, ino, path);
	}
	if (dir)
		closedir(dir);
	pw_map_for_each(np.fd, sizeof(__u32), add_netns_of_pid, &np);
}

/* The netns's port settings, read from /proc/sys inside it. */
static void read_port_settings(struct pw_netns *ns)
{
	unsigned int lo = 0, hi = 0;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2)
			lo = hi = 0;
		fclose(f);
	}
	ns->reserved[0] = '\0';
	f = fopen("/proc/sys/net/ipv4/ip_local_reserved_ports", "r");
	if (f) {
		if (!fgets(ns->reserved, sizeof(ns->reserved), f))
			ns->reserved[0] = '\0';
		ns->reserved[strcspn(ns->reserved, "\n")] = '\0';
		fclose(f);
	}
	ns->lo = lo;
	ns->hi = hi;
	ns->usable = pw_usable_ports(lo, hi, ns->reserved);
	ns->tw_reuse = pw_read_long("/proc/sys/net/ipv4/tcp_tw_reuse");
}

struct netns_call {
	int (*fn)(void *ctx, struct pw_netns *ns);
	void *ctx;
	struct pw_netns *ns;
};

static int call_in_netns(void *p)
{
	struct netns_call *c = p;

	return c->fn(c->ctx, c->ns);
}

int pw_netns_each(struct pw_netns *ns, size_t n, int (*fn)(void *ctx, struct pw_netns *ns),
		  void *ctx, unsigned int *failed)
{
	*failed = 0;
	for (size_t i = 0; i < n; i++) {
		struct netns_call c = { fn, ctx, &ns[i] };
		/* A pid may have been reused since the iterator saw it: -ESRCH. */
		int ret = pw_netns_call(ns[i].path, ns[i].inode, call_in_netns, &c);

		if (ret == -EFAULT) /* cannot stay in another netns: stop */
			return ret;
		ns[i].walked = !ret;
		*failed += !!ret;
	}
	return 0;
}

struct tcp_walk {
	struct portwatch_bpf *skel;
	struct bpf_link *tcp;
};

/*
 * True when the current netns can hold no TCP socket without a file, so
 * that iter/tcp, which walks the whole established hash (shared by every
 * netns) for each netns, would find nothing: no TIME_WAIT socket, and the
 * kernel's count of hashed TCP sockets equals the ones with a file that
 * iter/task_file counted (an orphan, or a connection not yet accepted, makes
 * them differ). Anything unreadable says no. A socket opened or closed
 * meanwhile makes the counts differ too, and the netns is walked.
 */
static bool nothing_without_file(struct portwatch_bpf *skel, __u32 inode)
{
	struct pw_netns_files files = {};
	unsigned int inuse4, tw, inuse6 = 0;
	char line[256];
	bool ok = false;
	FILE *f;

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.netns_files), &inode, &files);
	f = fopen("/proc/net/sockstat", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TCP: inuse %u orphan %*u tw %u", &inuse4, &tw) == 2)
			ok = true;
	fclose(f);
	/* No sockstat6: no IPv6 in this kernel, so no TCP6 socket either. */
	f = fopen("/proc/net/sockstat6", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			sscanf(line, "TCP6: inuse %u", &inuse6);
		fclose(f);
	}
	return ok && !tw && inuse4 == files.tcp4 && inuse6 == files.tcp6;
}

static int walk_one(void *ctx, struct pw_netns *ns)
{
	struct tcp_walk *w = ctx;
	int ret = nothing_without_file(w->skel, ns->inode) ? 0 : pw_iter_run(bpf_link__fd(w->tcp));

	read_port_settings(ns);
	return ret;
}

static int delete_key(const void *key, void *ctx)
{
	bpf_map_delete_elem(*(int *)ctx, key);
	return 0;
}

/*
 * Delete every entry, walking on from each key's successor: a get_next_key
 * from NULL after each delete would rescan the hash from its first bucket,
 * quadratic in the map's size on every refresh of top.
 */
static void clear_map(int fd, size_t key_size)
{
	pw_map_for_each(fd, key_size, delete_key, &fd);
}

int pw_port_row_dest_cmp(const void *a, const void *b)
{
	const struct pw_port_key *x = &((const struct pw_port_row *)a)->key,
				 *y = &((const struct pw_port_row *)b)->key;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->dport != y->dport)
		return x->dport < y->dport ? -1 : 1;
	return memcmp(x->daddr, y->daddr, sizeof(x->daddr));
}

/* Fullest destination first; its rows together, biggest owner first. */
static int by_utilization(const void *a, const void *b)
{
	const struct pw_port_row *x = a, *y = b;
	int c;

	if (x->utilization != y->utilization)
		return x->utilization > y->utilization ? -1 : 1;
	c = pw_port_row_dest_cmp(a, b);
	if (c)
		return c;
	return x->total > y->total ? -1 : x->total < y->total;
}

static __u64 row_total(const struct pw_port_counts *c)
{
	return c->established + c->syn_sent + c->time_wait + c->close_wait + c->fin_wait +
	       c->other;
}

struct row_reader {
	int fd; /* port_rows */
	const struct netns_list *l;
	__u32 only;
	struct pw_port_row *rows;
	size_t n, cap;
};

static int add_port_row(const void *k, void *ctx)
{
	struct row_reader *rd = ctx;
	const struct pw_port_key *key = k;
	struct pw_port_row *grown, *row;

	if (rd->n == rd->cap) {
		rd->cap = rd->cap ? rd->cap * 2 : 256;
		grown = realloc(rd->rows, rd->cap * sizeof(*rd->rows));
		if (!grown)
			return -ENOMEM;
		rd->rows = grown;
	}
	/* The file iterator counts every netns; --netns keeps one. */
	if (rd->only && key->netns != rd->only)
		return 0;
	row = &rd->rows[rd->n];
	memset(row, 0, sizeof(*row));
	row->key = *key;
	if (bpf_map_lookup_elem(rd->fd, key, &row->counts))
		return 0;
	row->total = row_total(&row->counts);
	for (size_t j = 0; j < rd->l->n; j++)
		if (rd->l->v[j].inode == key->netns) {
			row->range_lo = rd->l->v[j].lo;
			row->range_hi = rd->l->v[j].hi;
			row->usable = rd->l->v[j].usable;
		}
	rd->n++;
	return 0;
}

/*
 * Read port_rows, add each row's netns range and the destination's totals.
 * A row of a netns not walked (gone meanwhile) keeps range and usable 0.
 */
static int collect(struct portwatch_bpf *skel, const struct netns_list *l, __u32 only,
		   struct pw_ports_snapshot *out)
{
	struct row_reader rd = { .fd = bpf_map__fd(skel->maps.port_rows), .l = l, .only = only };
	struct pw_port_row *rows;
	size_t n, i, j;
	int ret = pw_map_for_each(rd.fd, sizeof(struct pw_port_key), add_port_row, &rd);

	if (ret) {
		free(rd.rows);
		return ret;
	}
	rows = rd.rows;
	n = rd.n;
	if (n)
		qsort(rows, n, sizeof(*rows), pw_port_row_dest_cmp);
	/* Rows of one destination are adjacent now: sum them. */
	for (i = 0; i < n; i = j) {
		__u64 sum = 0;

		for (j = i; j < n && !pw_port_row_dest_cmp(&rows[i], &rows[j]); j++)
			sum += rows[j].total;
		for (size_t k = i; k < j; k++) {
			rows[k].dest_total = sum;
			rows[k].utilization = rows[k].usable ? 100.0 * sum / rows[k].usable : 0;
		}
	}
	if (n)
		qsort(rows, n, sizeof(*rows), by_utilization);
	out->rows = rows;
	out->n = n;
	return 0;
}

int pw_ports_snapshot(struct portwatch_bpf *skel, __u32 only, struct pw_ports_snapshot *out,
		      char *err, size_t err_len)
{
	struct bpf_link *files = NULL, *tcp = NULL;
	struct netns_list l = {};
	struct tcp_walk walk;
	size_t kept = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	clear_map(bpf_map__fd(skel->maps.port_rows), sizeof(struct pw_port_key));
	clear_map(bpf_map__fd(skel->maps.ports_seen), sizeof(__u64));
	clear_map(bpf_map__fd(skel->maps.netns_pid), sizeof(__u32));
	clear_map(bpf_map__fd(skel->maps.netns_files), sizeof(__u32));
	skel->bss->counters.port_rows_overflow = 0;
	files = bpf_program__attach_iter(skel->progs.iter_ports_files, NULL);
	tcp = bpf_program__attach_iter(skel->progs.iter_ports_tcp, NULL);
	if (!files || !tcp) {
		ret = -errno;
		snprintf(err, err_len, "attaching the socket iterators: %s", strerror(errno));
		goto out;
	}
	/* Sockets with a file first, in every netns at once. */
	ret = pw_iter_run(bpf_link__fd(files));
	if (ret) {
		snprintf(err, err_len, "iterating task files: %s", strerror(-ret));
		goto out;
	}
	list_netns(skel, &l);
	for (size_t i = 0; i < l.n; i++)
		if (!only || l.v[i].inode == only)
			l.v[kept++] = l.v[i];
	l.n = kept;
	if (!l.n) {
		ret = -ENOENT;
		snprintf(err, err_len, "netns %u: no task, socket or /run/netns entry has it", only);
		goto out;
	}
	walk.skel = skel;
	walk.tcp = tcp;
	ret = pw_netns_each(l.v, l.n, walk_one, &walk, &out->netns_failed);
	if (ret) {
		snprintf(err, err_len, "returning to our netns: %s", strerror(-ret));
		goto out;
	}
	ret = collect(skel, &l, only, out);
	if (ret) {
		snprintf(err, err_len, "reading port rows: %s", strerror(-ret));
		goto out;
	}
	out->overflow = skel->bss->counters.port_rows_overflow;
	out->ns = l.v;
	out->n_ns = l.n;
	l.v = NULL;
out:
	free(l.v);
	bpf_link__destroy(files);
	bpf_link__destroy(tcp);
	return ret;
}

void pw_ports_set_acl(struct portwatch_bpf *skel, __u16 lo, __u16 hi)
{
	skel->bss->acl_lo = lo;
	skel->bss->acl_hi = hi;
}

void pw_ports_free(struct pw_ports_snapshot *s)
{
	free(s->rows);
	free(s->ns);
	memset(s, 0, sizeof(*s));
}
