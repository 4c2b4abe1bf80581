// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "dropctx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conntrack.h"
#include "ksyms.h"
#include "util.h"

#define NETNS_SLOTS	  256 /* netns remembered; a full cache forgets the oldest */
#define NETNS_RETRY_S	  2   /* a netns not found is looked for again after this */
#define CONNTRACK_EVERY_S 1   /* conntrack count re-read at most this often */
#define IFNAMES		  16  /* interface names remembered per netns */

struct netns_entry {
	__u32 inode;
	char path[64];	  /* "/run/netns/x" or "/proc/PID/ns/net"; "" when not found */
	time_t looked_up; /* when path was searched for */
	time_t ct_read;	  /* when the conntrack fields were read, 0: never */
	long ct_count;	  /* conntrack entries of the netns, -1: unreadable */
	bool ct_invalid_grew; /* its `invalid` statistic grew up to the last read */
	long ct_max;	  /* nf_conntrack_max */
	struct {
		__u32 ifindex;
		char name[IF_NAMESIZE];
	} ifnames[IFNAMES];
	unsigned int next_ifname;
};

/* A netns's `invalid` statistic (summed over CPUs) when last read. */
struct ct_invalid_seen {
	__u32 inode;
	long invalid;
};

struct pw_netns_cache {
	struct netns_entry e[NETNS_SLOTS];
	unsigned int used, next;
	__u32 self; /* this process's netns */
	/* By inode: every netns found at start, then each one read; kept when
	 * its entry above is recycled. A netns missing here was created after
	 * start, with a count of 0. */
	struct ct_invalid_seen *seen;
	size_t n_seen, cap_seen;
};

static int seen_cmp(const void *a, const void *b)
{
	__u32 x = ((const struct ct_invalid_seen *)a)->inode,
	      y = ((const struct ct_invalid_seen *)b)->inode;

	return x < y ? -1 : x > y;
}

static struct ct_invalid_seen *seen_find(struct pw_netns_cache *nc, __u32 inode)
{
	struct ct_invalid_seen k = { .inode = inode };

	return nc->n_seen ? bsearch(&k, nc->seen, nc->n_seen, sizeof(k), seen_cmp) : NULL;
}

/* Records inode's `invalid` count; returns the one recorded before (0 if none). */
static long seen_swap(struct pw_netns_cache *nc, __u32 inode, long invalid)
{
	struct ct_invalid_seen *s = seen_find(nc, inode), *grown;
	long old;
	size_t i;

	if (s) {
		old = s->invalid;
		s->invalid = invalid;
		return old;
	}
	if (nc->n_seen == nc->cap_seen) {
		grown = realloc(nc->seen, (nc->cap_seen ? nc->cap_seen * 2 : 64) * sizeof(*grown));
		if (!grown)
			return 0;
		nc->seen = grown;
		nc->cap_seen = nc->cap_seen ? nc->cap_seen * 2 : 64;
	}
	for (i = nc->n_seen; i > 0 && nc->seen[i - 1].inode > inode; i--)
		nc->seen[i] = nc->seen[i - 1];
	nc->seen[i] = (struct ct_invalid_seen){ inode, invalid };
	nc->n_seen++;
	return 0;
}

static void baseline_ct_invalid(struct pw_netns_cache *nc);

int pw_dropctx_open(struct pw_dropctx *c, char *err, size_t err_len)
{
	int ret;

	memset(c, 0, sizeof(*c));
	ret = pw_drop_reasons_load(&c->reasons);
	/* libbpf: -ESRCH when it found the kernel's BTF nowhere. */
	if (ret == -ESRCH) {
		snprintf(err, err_len, "%s", PW_NO_BTF_MSG);
		return ret;
	}
	if (ret && ret != -ENOENT) {
		snprintf(err, err_len, "reading enum skb_drop_reason from the kernel's BTF: %s",
			 strerror(-ret));
		return ret;
	}
	c->netns = calloc(1, sizeof(*c->netns));
	if (!c->netns) {
		pw_drop_reasons_free(&c->reasons);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	pw_netns_inode("/proc/self/ns/net", &c->netns->self);
	baseline_ct_invalid(c->netns);
	return 0;
}

const char *pw_dropctx_location(struct pw_dropctx *c, __u64 addr, char *buf, size_t len)
{
	if (!c->ksyms_tried) {
		c->ksyms_tried = true;
		c->ksyms = pw_ksyms_load("/proc/kallsyms");
		if (!c->ksyms && errno == EPERM)
			fprintf(stderr, "portwatch: /proc/kallsyms hides kernel addresses "
					"(kernel.kptr_restrict): locations stay addresses, unnamed\n");
		else if (!c->ksyms)
			fprintf(stderr, "portwatch: /proc/kallsyms: %s; locations stay addresses\n",
				strerror(errno));
	}
	return pw_ksyms_format(c->ksyms, addr, buf, len);
}

void pw_dropctx_close(struct pw_dropctx *c)
{
	pw_ksyms_free(c->ksyms);
	pw_drop_reasons_free(&c->reasons);
	if (c->netns)
		free(c->netns->seen);
	free(c->netns);
	memset(c, 0, sizeof(*c));
}

/*
 * Calls fn(path, inode, arg) for each netns file, /run/netns first, then
 * processes', until fn returns true. Returns whether one did.
 */
static bool for_each_netns(bool (*fn)(const char *path, __u32 inode, void *arg), void *arg)
{
	static const char *const dirs[] = { "/run/netns", "/proc" };
	char path[64];
	bool done = false;

	for (size_t d = 0; d < 2 && !done; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *de;
		__u32 ino;

		while (dir && !done && (de = readdir(dir))) {
			if (de->d_name[0] == '.' || (d == 1 && (de->d_name[0] < '0' || de->d_name[0] > '9')))
				continue;
			snprintf(path, sizeof(path), d ? "%s/%s/ns/net" : "%s/%s", dirs[d], de->d_name);
			done = !pw_netns_inode(path, &ino) && fn(path, ino, arg);
		}
		if (dir)
			closedir(dir);
	}
	return done;
}

struct find_arg {
	__u32 inode;
	char *path;
	size_t len;
};

static bool is_wanted(const char *path, __u32 inode, void *arg)
{
	struct find_arg *a = arg;

	if (inode != a->inode)
		return false;
	snprintf(a->path, a->len, "%s", path);
	return true;
}

/* A netns file whose inode is `inode`, in path ("" when none is found). */
static bool find_netns(__u32 inode, char *path, size_t len)
{
	struct find_arg a = { inode, path, len };

	path[0] = '\0';
	return for_each_netns(is_wanted, &a);
}

static int read_invalid(void *p)
{
	struct pw_ct_stats st;
	int ret = pw_conntrack_stats(&st);

	*(long *)p = st.invalid;
	return ret;
}

static bool seen_at_start(const char *path, __u32 inode, void *arg)
{
	struct pw_netns_cache *nc = arg;
	int home;
	long invalid;

	if (seen_find(nc, inode))
		return false;
	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		return false;
	if (!pw_in_netns(path, inode, home, read_invalid, &invalid))
		seen_swap(nc, inode, invalid);
	close(home);
	return false;
}

/*
 * Every netns's `invalid` count at start: the class of a drop depends on
 * its growth, not on packets counted before portwatch ran.
 */
static void baseline_ct_invalid(struct pw_netns_cache *nc)
{
	long invalid;

	if (pw_conntrack_max() < 0)
		return;
	if (!read_invalid(&invalid))
		seen_swap(nc, nc->self, invalid);
	for_each_netns(seen_at_start, nc);
}

static struct netns_entry *netns_entry(struct pw_netns_cache *nc, __u32 inode)
{
	time_t now = time(NULL);
	struct netns_entry *e = NULL;

	for (unsigned int i = 0; i < nc->used; i++)
		if (nc->e[i].inode == inode) {
			e = &nc->e[i];
			break;
		}
	if (!e) {
		e = &nc->e[nc->used < NETNS_SLOTS ? nc->used++ : nc->next++ % NETNS_SLOTS];
		memset(e, 0, sizeof(*e));
		e->inode = inode;
	}
	if (!e->path[0] && inode != nc->self && now - e->looked_up >= NETNS_RETRY_S) {
		e->looked_up = now;
		find_netns(inode, e->path, sizeof(e->path));
	}
	return e;
}

/*
 * fn(arg) inside e's netns. A thread that cannot return to its own netns
 * would read every later name and counter from the wrong one: portwatch
 * stops, saying so.
 */
static int in_netns(struct pw_netns_cache *nc, struct netns_entry *e, int (*fn)(void *), void *arg)
{
	int home, ret;

	if (e->inode == nc->self)
		return fn(arg);
	if (!e->path[0])
		return -ENOENT;
	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		return -errno;
	ret = pw_in_netns(e->path, e->inode, home, fn, arg);
	close(home);
	if (ret == -EFAULT) {
		fprintf(stderr, "portwatch: cannot return to its own network namespace: %s\n",
			strerror(errno));
		exit(1);
	}
	return ret;
}

struct ifname_arg {
	__u32 ifindex;
	char *name;
};

static int read_ifname(void *p)
{
	struct ifname_arg *a = p;

	return if_indextoname(a->ifindex, a->name) ? 0 : -errno;
}

const char *pw_dropctx_ifname(struct pw_dropctx *c, __u32 netns, __u32 ifindex, char *buf,
			      size_t len)
{
	struct netns_entry *e;
	char name[IF_NAMESIZE];
	struct ifname_arg a = { ifindex, name };

	if (!ifindex)
		return "-";
	e = netns_entry(c->netns, netns);
	for (unsigned int i = 0; i < IFNAMES; i++)
		if (e->ifnames[i].ifindex == ifindex) {
			snprintf(buf, len, "%s", e->ifnames[i].name);
			return buf;
		}
	if (in_netns(c->netns, e, read_ifname, &a)) {
		snprintf(buf, len, "if%u", ifindex);
		return buf;
	}
	e->ifnames[e->next_ifname % IFNAMES].ifindex = ifindex;
	snprintf(e->ifnames[e->next_ifname % IFNAMES].name, IF_NAMESIZE, "%s", name);
	e->next_ifname++;
	snprintf(buf, len, "%s", name);
	return buf;
}

static int read_ct_stats(void *p)
{
	struct pw_ct_stats *st = p;

	return pw_conntrack_stats(st);
}

__u8 pw_dropctx_nat_class(struct pw_dropctx *c, __u32 netns, __u8 kernel_class)
{
	struct netns_entry *e;
	time_t now = time(NULL);

	if (kernel_class != PW_NF_NO_ENTRY)
		return kernel_class;
	e = netns_entry(c->netns, netns);
	if (!e->ct_read || now - e->ct_read >= CONNTRACK_EVERY_S) {
		struct pw_ct_stats st;

		e->ct_read = now;
		/* nf_conntrack_max is global: the init netns's value. */
		e->ct_max = pw_conntrack_max();
		e->ct_count = -1;
		e->ct_invalid_grew = false;
		if (!in_netns(c->netns, e, read_ct_stats, &st)) {
			e->ct_count = st.entries;
			e->ct_invalid_grew = (long)st.invalid > seen_swap(c->netns, netns, st.invalid);
		}
	}
	if (e->ct_count < 0)
		return PW_NF_FILTER;
	if (e->ct_max > 0 && e->ct_count >= e->ct_max)
		return PW_NF_CONNTRACK_FULL;
	return e->ct_invalid_grew ? PW_NF_INVALID : PW_NF_FILTER;
}

const char *pw_nat_class_name(__u8 nat_class)
{
	switch (nat_class) {
	case PW_NF_NAT_CLASH:
		return "nat_clash";
	case PW_NF_CONNTRACK_FULL:
		return "conntrack_full";
	case PW_NF_INVALID:
		return "invalid";
	case PW_NF_FILTER:
	case PW_NF_NO_ENTRY:
		return "filter";
	}
	return NULL;
}

static const char *attribution_name(__u8 a)
{
	return a == PW_ATTR_SOCKET ? "socket" : a == PW_ATTR_CONNTRACK ? "conntrack" : "none";
}

static struct json_object *tuple_json(const struct pw_tuple *t)
{
	struct json_object *o = json_object_new_object();
	char addr[INET6_ADDRSTRLEN];

	json_object_object_add(o, "saddr", json_object_new_string(pw_format_addr(
						   t->family, t->saddr, addr, sizeof(addr))));
	json_object_object_add(o, "sport", json_object_new_int(t->sport));
	json_object_object_add(o, "daddr", json_object_new_string(pw_format_addr(
						   t->family, t->daddr, addr, sizeof(addr))));
	json_object_object_add(o, "dport", json_object_new_int(t->dport));
	return o;
}

struct json_object *pw_drop_json(struct pw_dropctx *c, const struct pw_drop *e,
				 const struct pw_clock *clock)
{
	struct json_object *o = json_object_new_object(), *nat;
	char buf[160], addr[INET6_ADDRSTRLEN], comm[PW_COMM_LEN + 1] = {};
	bool owned = e->attribution != PW_ATTR_NONE;
	const char *cls = pw_nat_class_name(pw_dropctx_nat_class(c, e->netns, e->nat_class));

	if (!o)
		return NULL;
	json_object_object_add(o, "type", json_object_new_string("drop"));
	json_object_object_add(o, "ts", json_object_new_string(pw_format_ts(
						clock, e->hdr.ts_ns, 1, buf, sizeof(buf))));
	json_object_object_add(o, "reason", json_object_new_string(pw_drop_reason_name(
						    &c->reasons, e->reason, buf, sizeof(buf))));
	json_object_object_add(o, "location", json_object_new_string(pw_dropctx_location(
						      c, e->location, buf, sizeof(buf))));
	json_object_object_add(o, "proto", json_object_new_string(pw_proto_name(e->pkt.proto)));
	json_object_object_add(o, "family",
			       json_object_new_string(pw_family_name(e->pkt.family)));
	json_object_object_add(o, "saddr",
			       e->pkt.family ? json_object_new_string(pw_format_addr(
						       e->pkt.family, e->pkt.saddr, addr, sizeof(addr)))
					     : NULL);
	json_object_object_add(o, "sport", json_object_new_int(e->pkt.sport));
	json_object_object_add(o, "daddr",
			       e->pkt.family ? json_object_new_string(pw_format_addr(
						       e->pkt.family, e->pkt.daddr, addr, sizeof(addr)))
					     : NULL);
	json_object_object_add(o, "dport", json_object_new_int(e->pkt.dport));
	if (e->pkt.proto == IPPROTO_ICMP || e->pkt.proto == IPPROTO_ICMPV6) {
		json_object_object_add(o, "icmp_type", json_object_new_int(e->icmp_type));
		json_object_object_add(o, "icmp_code", json_object_new_int(e->icmp_code));
	}
	json_object_object_add(o, "netns", json_object_new_int64(e->netns));
	json_object_object_add(o, "ifname", json_object_new_string(pw_dropctx_ifname(
						    c, e->netns, e->ifindex, buf, sizeof(buf))));
	memcpy(comm, e->owner.comm, PW_COMM_LEN);
	json_object_object_add(o, "pid", owned ? json_object_new_int64(e->owner.tgid) : NULL);
	json_object_object_add(o, "comm", owned ? json_object_new_string(comm) : NULL);
	json_object_object_add(o, "cgroup_id",
			       owned ? json_object_new_uint64(e->owner.cgroup_id) : NULL);
	json_object_object_add(o, "owner_netns",
			       owned ? json_object_new_int64(e->owner.netns) : NULL);
	json_object_object_add(o, "attribution",
			       json_object_new_string(attribution_name(e->attribution)));
	if (e->has_ct || cls) {
		nat = json_object_new_object();
		json_object_object_add(nat, "class", cls ? json_object_new_string(cls) : NULL);
		json_object_object_add(nat, "orig", e->has_ct ? tuple_json(&e->ct_orig) : NULL);
		json_object_object_add(nat, "reply", e->has_ct ? tuple_json(&e->ct_reply) : NULL);
		json_object_object_add(nat, "status",
				       e->has_ct ? json_object_new_int64(e->ct_status) : NULL);
		json_object_object_add(o, "nat", nat);
	} else {
		json_object_object_add(o, "nat", NULL);
	}
	return o;
}

void pw_drop_text(FILE *out, struct pw_dropctx *c, const struct pw_drop *e,
		  const struct pw_clock *clock)
{
	char ts[16], pid[16] = "-", comm[PW_ESCAPED_SIZE(PW_COMM_LEN)] = "-", netns[16], proto[8];
	char local[INET6_ADDRSTRLEN + 10], remote[INET6_ADDRSTRLEN + 10], result[600];
	char reason[48], loc[128], ifn[IF_NAMESIZE + 8], ifn_text[PW_ESCAPED_SIZE(IF_NAMESIZE + 8)];
	char orig[INET6_ADDRSTRLEN + 10];
	const char *cls = pw_nat_class_name(pw_dropctx_nat_class(c, e->netns, e->nat_class));
	int n;

	if (e->attribution != PW_ATTR_NONE) {
		snprintf(pid, sizeof(pid), "%u", e->owner.tgid);
		pw_escape(e->owner.comm, PW_COMM_LEN, comm, sizeof(comm));
	}
	snprintf(netns, sizeof(netns), "%u", e->netns);
	snprintf(proto, sizeof(proto), "%s%c", pw_proto_name(e->pkt.proto),
		 e->pkt.family == AF_INET6 ? '6' : '4');
	n = snprintf(result, sizeof(result), "drop %s at %s on %s",
		     pw_drop_reason_name(&c->reasons, e->reason, reason, sizeof(reason)),
		     pw_dropctx_location(c, e->location, loc, sizeof(loc)),
		     pw_escape(pw_dropctx_ifname(c, e->netns, e->ifindex, ifn, sizeof(ifn)),
			       sizeof(ifn), ifn_text, sizeof(ifn_text)));
	if (cls)
		n += snprintf(result + n, sizeof(result) - n, " [%s]", cls);
	if (e->has_ct)
		n += snprintf(result + n, sizeof(result) - n, " orig %s",
			      pw_format_endpoint(e->ct_orig.family, e->ct_orig.saddr,
						 e->ct_orig.sport, orig, sizeof(orig)));
	if (e->attribution != PW_ATTR_NONE)
		snprintf(result + n, sizeof(result) - n, " (by %s)",
			 attribution_name(e->attribution));
	pw_text_line(out, pw_format_ts(clock, e->hdr.ts_ns, 0, ts, sizeof(ts)), pid, comm, netns,
		     proto,
		     pw_format_endpoint(e->pkt.family, e->pkt.saddr, e->pkt.sport, local,
					sizeof(local)),
		     pw_format_endpoint(e->pkt.family, e->pkt.daddr, e->pkt.dport, remote,
					sizeof(remote)),
		     result);
}
