// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "session.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "portwatch.skel.h"
#include "dropreason.h"
#include "ksyms.h"
#include "progs.h"
#include "util.h"

static int seed_owners(struct pw_session *s)
{
	struct bpf_link *link = bpf_program__attach_iter(s->skel->progs.iter_seed_owners, NULL);
	int ret;

	if (!link)
		return -errno;
	ret = pw_iter_run(bpf_link__fd(link));
	bpf_link__destroy(link);
	s->seeded = s->skel->bss->seeded;
	return ret;
}

static int check_basics(char *err, size_t err_len)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, err_len, "%s", PW_NO_BTF_MSG);
		return -ENOENT;
	}
	if (geteuid()) {
		snprintf(err, err_len,
			 "must run as root: loading BPF programs needs "
			 "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN");
		return -EPERM;
	}
	return 0;
}

/* The maps only the ports iterators use (ports.bpf.c). */
static bool is_ports_map(const struct portwatch_bpf *skel, const struct bpf_map *map)
{
	return map == skel->maps.port_rows || map == skel->maps.ports_seen ||
	       map == skel->maps.netns_pid || map == skel->maps.netns_files;
}

/*
 * Whether the kernel takes cgroup/sock_release programs (5.9+): it checks
 * the expected attach type when a program loads, so a two-instruction one
 * tells. Without it the object's cg_sock_release would fail the whole load.
 */
static bool has_sock_release(void)
{
	const struct bpf_insn ret1[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_CGROUP_INET_SOCK_RELEASE);
	int fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK, NULL, "GPL", ret1, 2, &opts);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * sockops and sock_release see a socket through the cgroup it was created
 * in: attach at the root. sockops is tcp_connect's tracepoint rung, for
 * drops; without sock_release (before 5.9) UDP owners leave the LRU map only
 * when evicted.
 */
static int attach_cgroup_progs(struct pw_session *s)
{
	int fd = pw_cgroup2_root_fd(), ret = 0;

	if (fd < 0)
		return fd;
	if (bpf_program__autoload(s->skel->progs.cg_sock_release))
		s->skel->links.cg_sock_release =
			bpf_program__attach_cgroup(s->skel->progs.cg_sock_release, fd);
	if (bpf_program__autoload(s->skel->progs.sockops_flows)) {
		s->sockops = bpf_program__attach_cgroup(s->skel->progs.sockops_flows, fd);
		if (!s->sockops)
			ret = -errno;
	}
	close(fd);
	return ret;
}

/*
 * ports_seen's size: four times the files open on the host (every socket
 * with a file is one), at least 4Ki and at most the object's 1Mi. Its
 * buckets are allocated whole at load, ~10 ms for 1Mi here.
 */
static void size_ports_seen(struct portwatch_bpf *skel)
{
	long files = pw_read_long("/proc/sys/fs/file-nr");
	__u32 max = bpf_map__max_entries(skel->maps.ports_seen);

	if (files > 0 && files < max / 4)
		bpf_map__set_max_entries(skel->maps.ports_seen,
					 files * 4 > 4096 ? (__u32)files * 4 : 4096);
}

/*
 * The owner maps' size when --owner-map-size is not given: room for every
 * socket of the host, which the seed iterator enters at start, and some
 * growth. Every socket with a file is an open file: 5/4 of the host's open
 * files (/proc/sys/fs/file-nr) and 4Ki more, at least PW_OWNER_MAP_DEFAULT.
 * A host with 200,000 sockets would otherwise start by evicting most of them.
 */
static __u32 owner_map_size(void)
{
	long files = pw_read_long("/proc/sys/fs/file-nr");
	unsigned long want = files > 0 ? files + files / 4 + 4096 : 0;

	return want > PW_OWNER_MAP_DEFAULT ? (want < PW_OWNER_MAP_MAX ? want : PW_OWNER_MAP_MAX)
					   : PW_OWNER_MAP_DEFAULT;
}

/* Which programs load and which the skeleton attaches, per progs.c's table. */
static void choose_progs(struct portwatch_bpf *skel, const struct pw_prog_want *w)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		const struct pw_prog *p = pw_prog_find(skel, prog);

		bpf_program__set_autoload(prog, p && pw_prog_loads(p, w));
		bpf_program__set_autoattach(prog, p && pw_prog_autoattach(p));
	}
}

/* True if a syscall tracepoint program is to be loaded (the tracepoint rung's calls). */
static bool uses_syscall_tracepoints(struct portwatch_bpf *skel)
{
	for (size_t i = 0; i < pw_progs_count; i++)
		if (pw_progs[i].role == PW_PROG_SYSCALL_TP &&
		    bpf_program__autoload(pw_prog_get(skel, &pw_progs[i])))
			return true;
	return false;
}

/*
 * Where the syscall tracepoints keep a call in flight (portalloc.bpf.c):
 * task local storage when the kernel lets tracepoint programs use it
 * (5.11+), else the tid-keyed hash. The map not used shrinks to one entry;
 * task storage cannot even be created before 5.11, so it becomes a hash.
 * PW_NO_TASK_STORAGE=1 in the environment forces the hash (the tests run
 * both ways).
 */
static void choose_call_store(struct portwatch_bpf *skel, bool needed)
{
	const char *force = getenv("PW_NO_TASK_STORAGE");
	bool storage = needed && !(force && *force && strcmp(force, "0")) &&
		       libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_storage_get,
					       NULL) > 0 &&
		       libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT,
					       BPF_FUNC_get_current_task_btf, NULL) > 0;

	skel->rodata->call_storage = storage;
	if (storage) {
		bpf_map__set_max_entries(skel->maps.calls_by_tid, 1);
		return;
	}
	bpf_map__set_type(skel->maps.calls, BPF_MAP_TYPE_HASH);
	bpf_map__set_map_flags(skel->maps.calls, 0);
	bpf_map__set_max_entries(skel->maps.calls, 1);
	if (!needed)
		bpf_map__set_max_entries(skel->maps.calls_by_tid, 1);
}

/* The optional hooks (enum pw_hook bits) the needs attach. */
static unsigned int needed_hooks(unsigned int needs)
{
	return (needs & PW_NEED_DROPS ? 1u << PW_HOOK_KFREE_SKB | 1u << PW_HOOK_TCP_CONNECT : 0) |
	       (needs & PW_NEED_LATENCY ? 1u << PW_HOOK_INET_HASH_CONNECT : 0);
}

/* Every tracing session: the ladder's choice, the owner maps, the ring buffer. */
static void configure_common(struct pw_session *s, const struct pw_session_opts *o)
{
	__u32 owners = o->owner_map_size ?: owner_map_size();

	for (int hk = 0; hk < PW_HOOK_COUNT; hk++)
		s->skel->rodata->hook_rung[hk] =
			s->ladder.chosen[hk] >= 0 ? s->ladder.chosen[hk] : PW_RUNG_NONE;
	bpf_map__set_max_entries(s->skel->maps.sock_owner, owners);
	bpf_map__set_max_entries(s->skel->maps.flow_owner, owners);
	bpf_map__set_max_entries(s->skel->maps.tw_owner,
				 o->needs & PW_NEED_PORTS ? owners : 1);
	bpf_map__set_max_entries(s->skel->maps.events, o->ringbuf_size);
}

/*
 * Before 5.19 a netfilter drop has no reason of its own (NOT_SPECIFIED; no
 * reasons at all before 5.17): drops.bpf.c knows it by where it was freed,
 * nf_hook_slow(), whose text this finds in /proc/kallsyms. Without the
 * function (no netfilter) there is nothing to know; with the addresses hidden
 * the NAT classes are missing, and that is said.
 */
static void netfilter_drop_location(struct pw_session *s)
{
	struct pw_drop_reasons r = {};
	struct pw_ksyms *k;
	bool named = false;

	if (!pw_drop_reasons_load(&r)) {
		for (__u32 i = 0; i < r.count; i++)
			named |= r.names[i] && !strcmp(r.names[i], "NETFILTER_DROP");
		pw_drop_reasons_free(&r);
	}
	if (named)
		return;
	k = pw_ksyms_load("/proc/kallsyms");
	if (!k) {
		fprintf(stderr,
			"portwatch: /proc/kallsyms: %s: this kernel's netfilter drops (it has "
			"no NETFILTER_DROP reason) get no NAT class\n",
			errno == EPERM ? "kernel addresses hidden" : strerror(errno));
		return;
	}
	pw_ksyms_range(k, "nf_hook_slow", &s->skel->rodata->nf_hook_slow_start,
		       &s->skel->rodata->nf_hook_slow_end);
	pw_ksyms_free(k);
}

/* PW_NEED_DROPS (when the ladder found kfree_skb): records as asked. */
static void configure_drops(struct pw_session *s, const struct pw_session_opts *o, bool drops)
{
	if (!drops) {
		bpf_map__set_max_entries(s->skel->maps.drop_counts, 1);
		return;
	}
	s->skel->rodata->drop_records = o->drop_records.which;
	s->skel->rodata->drop_rate = o->drop_records.rate;
	s->skel->rodata->drop_key_rate = o->drop_records.key_rate;
	netfilter_drop_location(s);
}

/*
 * PW_NEED_PORTS: the iterators' maps and the TIME_WAIT owners. Maps a
 * session never writes cost start-up time: without it they get one entry.
 */
static void configure_ports(struct pw_session *s, const struct pw_session_opts *o)
{
	struct bpf_map *map;
	bool ports = o->needs & PW_NEED_PORTS;

	s->skel->rodata->track_tw_owners = ports;
	if (ports) {
		size_ports_seen(s->skel);
		bpf_map__set_max_entries(s->skel->maps.port_rows, o->max_rows);
		return;
	}
	bpf_object__for_each_map(map, s->skel->obj)
		if (is_ports_map(s->skel, map))
			bpf_map__set_max_entries(map, 1);
}

/* PW_NEED_LATENCY and PW_NEED_CONNECT_COUNTS: one switch each. */
static void configure_counts(struct pw_session *s, const struct pw_session_opts *o)
{
	if (o->needs & PW_NEED_LATENCY)
		s->skel->rodata->search_netns = o->search_netns;
	s->skel->rodata->count_connects = o->needs & PW_NEED_CONNECT_COUNTS;
	if (!(o->needs & PW_NEED_CONNECT_COUNTS))
		bpf_map__set_max_entries(s->skel->maps.connect_counts, 1);
}

/* Load, attach (skeleton, then the cgroup programs), seed owners, open the ring buffer. */
static int start(struct pw_session *s, ring_buffer_sample_fn fn, void *ctx, char *err,
		 size_t err_len)
{
	int ret = portwatch_bpf__load(s->skel);

	if (ret) {
		snprintf(err, err_len,
			 "loading BPF programs: %s (run with -v for the verifier log)",
			 strerror(-ret));
		return ret;
	}
	ret = portwatch_bpf__attach(s->skel);
	if (ret) {
		snprintf(err, err_len, "attaching BPF programs: %s", strerror(-ret));
		return ret;
	}
	ret = attach_cgroup_progs(s);
	if (ret) {
		snprintf(err, err_len, "attaching sockops to the cgroup v2 root: %s",
			 strerror(-ret));
		return ret;
	}
	/* Seed after attaching, so no socket falls between the two. */
	ret = seed_owners(s);
	if (ret) {
		snprintf(err, err_len, "seeding socket owners (iter/task_file): %s",
			 strerror(-ret));
		return ret;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), fn, ctx, NULL);
	if (!s->rb) {
		ret = -errno;
		snprintf(err, err_len, "opening the ring buffer: %s", strerror(errno));
	}
	return ret;
}

int pw_session_open(struct pw_session *s, const struct pw_session_opts *o, ring_buffer_sample_fn fn,
		    void *ctx, char *err, size_t err_len)
{
	bool drops;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = check_basics(err, err_len);
	if (ret)
		return ret;
	ret = pw_ensure_tracefs();
	if (ret) {
		snprintf(err, err_len, "cannot mount tracefs at /sys/kernel/tracing: %s",
			 strerror(-ret));
		return ret;
	}
	ret = pw_ladder_probe(&s->ladder, o->forced_rung, false, needed_hooks(o->needs),
			      o->needs & PW_NEED_SYSCALLS, err, err_len);
	if (ret)
		return ret;
	drops = s->ladder.chosen[PW_HOOK_KFREE_SKB] >= 0;

	s->skel = portwatch_bpf__open();
	if (!s->skel) {
		ret = -errno;
		snprintf(err, err_len, "opening the BPF object: %s", strerror(errno));
		return ret;
	}
	choose_progs(s->skel, &(struct pw_prog_want){ .ladder = &s->ladder,
						      .ports = o->needs & PW_NEED_PORTS,
						      .syscalls = pw_ladder_syscalls(&s->ladder),
						      .sock_release = has_sock_release() });
	configure_common(s, o);
	configure_drops(s, o, drops);
	configure_ports(s, o);
	configure_counts(s, o);
	choose_call_store(s->skel, uses_syscall_tracepoints(s->skel));
	ret = start(s, fn, ctx, err, err_len);
	if (ret)
		pw_session_close(s);
	return ret;
}

int pw_session_open_snapshot(struct pw_session *s, __u32 max_rows, char *err, size_t err_len)
{
	struct bpf_map *map;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = check_basics(err, err_len);
	if (ret)
		return ret;
	s->skel = portwatch_bpf__open();
	if (!s->skel) {
		ret = -errno;
		snprintf(err, err_len, "opening the BPF object: %s", strerror(errno));
		return ret;
	}
	choose_progs(s->skel, &(struct pw_prog_want){ .ports = true });
	/* The tracing maps are not used: keep their kernel memory minimal. */
	bpf_object__for_each_map(map, s->skel->obj) {
		if (bpf_map__is_internal(map) || is_ports_map(s->skel, map) ||
		    map == s->skel->maps.calls)
			continue;
		bpf_map__set_max_entries(map, bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF
						      ? (__u32)sysconf(_SC_PAGESIZE)
						      : 1);
	}
	choose_call_store(s->skel, false);
	bpf_map__set_max_entries(s->skel->maps.port_rows, max_rows);
	size_ports_seen(s->skel);
	ret = portwatch_bpf__load(s->skel);
	if (ret) {
		snprintf(err, err_len,
			 "loading the socket iterators: %s (run with -v for the verifier log)",
			 strerror(-ret));
		pw_session_close(s);
	}
	return ret;
}

int pw_ignore_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

int pw_session_poll(struct pw_session *s, int timeout_ms)
{
	return ring_buffer__poll(s->rb, timeout_ms);
}

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

int pw_session_run(struct pw_session *s, unsigned long duration_ms, unsigned long tick_ms,
		   void (*tick)(void *ctx), void *ctx, volatile sig_atomic_t *stop)
{
	unsigned long long start = now_ms(), next_tick = start + tick_ms, now;
	int ret = 0;

	while (!*stop) {
		ret = pw_session_poll(s, 100);
		if (ret < 0 && ret != -EINTR)
			return ret;
		now = now_ms();
		if (tick && now >= next_tick) {
			tick(ctx);
			next_tick += tick_ms;
		}
		if (duration_ms && now - start >= duration_ms)
			break;
	}
	/*
	 * Show what the kernel already submitted. Not a poll: epoll readiness
	 * comes from an irq_work after the submit, so a zero-timeout poll can
	 * miss records that are there (seen under load, right after SIGINT).
	 */
	ret = ring_buffer__consume(s->rb);
	return ret < 0 ? ret : 0;
}

int pw_session_search_hist(struct pw_session *s, struct pw_search_hist *out)
{
	int ncpus = libbpf_num_possible_cpus();
	struct pw_search_hist *per_cpu;
	__u32 zero = 0;
	int ret;

	if (ncpus < 0)
		return ncpus;
	per_cpu = calloc(ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	ret = bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.search_hist), &zero, per_cpu);
	if (ret) {
		ret = -errno;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	for (int cpu = 0; cpu < ncpus; cpu++) {
		for (int i = 0; i < PW_HIST_SLOTS; i++)
			out->slots[i] += per_cpu[cpu].slots[i];
		out->count += per_cpu[cpu].count;
		out->failed += per_cpu[cpu].failed;
		out->sum_ns += per_cpu[cpu].sum_ns;
	}
out:
	free(per_cpu);
	return ret;
}

int pw_drop_row_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct pw_drop_row *)a)->key, &((const struct pw_drop_row *)b)->key,
		      sizeof(struct pw_drop_key));
}

void pw_drop_rows_since(struct pw_drop_row *rows, int n, const struct pw_drop_row *base,
			int nbase)
{
	for (int i = 0; i < n && nbase; i++) {
		const struct pw_drop_row *p =
			bsearch(&rows[i], base, nbase, sizeof(*base), pw_drop_row_cmp);

		if (!p)
			continue;
		rows[i].count -= p->count;
		rows[i].records -= p->records;
		rows[i].filtered -= p->filtered;
	}
}

struct drop_rows {
	int fd, ncpus;
	struct pw_drop_stat *per_cpu; /* one value per CPU */
	struct pw_drop_row *out;
	size_t n, cap;
};

static int add_drop_row(const void *key, void *ctx)
{
	struct drop_rows *d = ctx;
	struct pw_drop_row *grown, *row;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 256;
		grown = realloc(d->out, d->cap * sizeof(*d->out));
		if (!grown)
			return -ENOMEM;
		d->out = grown;
	}
	row = &d->out[d->n++];
	memset(row, 0, sizeof(*row));
	memcpy(&row->key, key, sizeof(row->key));
	if (!bpf_map_lookup_elem(d->fd, key, d->per_cpu))
		for (int cpu = 0; cpu < d->ncpus; cpu++) {
			row->count += d->per_cpu[cpu].count;
			row->records += d->per_cpu[cpu].records;
			row->filtered += d->per_cpu[cpu].filtered;
		}
	return 0;
}

int pw_session_drop_rows(struct pw_session *s, struct pw_drop_row **rows)
{
	struct drop_rows d = { .fd = bpf_map__fd(s->skel->maps.drop_counts),
			       .ncpus = libbpf_num_possible_cpus() };
	int ret;

	if (d.ncpus < 0)
		return d.ncpus;
	d.per_cpu = calloc(d.ncpus, sizeof(*d.per_cpu));
	if (!d.per_cpu)
		return -ENOMEM;
	ret = pw_map_for_each(d.fd, sizeof(struct pw_drop_key), add_drop_row, &d);
	free(d.per_cpu);
	if (ret) {
		free(d.out);
		return ret;
	}
	if (d.n)
		qsort(d.out, d.n, sizeof(*d.out), pw_drop_row_cmp);
	*rows = d.out;
	return d.n;
}

static int count_key(const void *key, void *ctx)
{
	(void)key;
	++*(__u64 *)ctx;
	return 0;
}

static __u64 count_entries(struct bpf_map *map)
{
	__u64 n = 0;

	if (pw_map_for_each(bpf_map__fd(map), bpf_map__key_size(map), count_key, &n))
		return 0;
	return n;
}

/*
 * Evictions of an LRU map portwatch fills (`held` = keys it added minus keys
 * it removed). The LRU map starts evicting when its global free list runs
 * low, which can be LRU_LOCAL_FREE_TARGET (128) nodes per CPU before it is
 * full; below that no eviction is possible and, unless `exact`, the walk is
 * skipped.
 */
static __u64 lru_evictions(struct bpf_map *map, __u64 held, bool exact)
{
	__u64 slack = 256ULL * libbpf_num_possible_cpus(), live;

	if (!exact && held + slack < bpf_map__max_entries(map))
		return 0;
	live = count_entries(map);
	return held > live ? held - live : 0;
}

void pw_session_loss(struct pw_session *s, bool exact, struct pw_loss *out)
{
	const struct pw_counters *c = &s->skel->bss->counters;
	__u64 owners = __atomic_load_n(&c->owner_inserts, __ATOMIC_RELAXED) -
		       __atomic_load_n(&c->owner_deletes, __ATOMIC_RELAXED);
	__u64 flows = __atomic_load_n(&c->flow_inserts, __ATOMIC_RELAXED);

	out->records = __atomic_load_n(&c->ringbuf_drops, __ATOMIC_RELAXED);
	out->drop_overflow = __atomic_load_n(&c->drop_overflow, __ATOMIC_RELAXED);
	out->drops_suppressed = __atomic_load_n(&c->drops_suppressed, __ATOMIC_RELAXED);
	out->owner_evictions = lru_evictions(s->skel->maps.sock_owner, owners, exact) +
			       lru_evictions(s->skel->maps.flow_owner, flows, exact);
}

static void *destroy_link(void *arg)
{
	struct bpf_link **link = arg;

	bpf_link__destroy(*link);
	*link = NULL;
	return NULL;
}

/*
 * Detach every program at once. Closing a tracepoint's perf event waits for
 * the kernel to be sure no CPU still runs the program (~70 ms here); one
 * after the other, a session with a dozen syscall tracepoints took ~0.9 s to
 * end after Ctrl-C. The kernel runs part of each wait under its event_mutex,
 * so concurrent closes halve that rather than end it. Links a thread cannot
 * be started for are destroyed here, in turn.
 */
static void destroy_links(struct pw_session *s)
{
	const struct bpf_object_skeleton *sk = s->skel ? s->skel->skeleton : NULL;
	int n = sk ? sk->prog_cnt : 0;
	struct {
		struct bpf_link **link;
		pthread_t thread;
		bool started;
	} *d = calloc(n + 1, sizeof(*d));

	if (!d) {
		for (int i = 0; i < n; i++)
			destroy_link(sk->progs[i].link);
		destroy_link(&s->sockops);
		return;
	}
	for (int i = 0; i < n; i++)
		d[i].link = sk->progs[i].link;
	d[n].link = &s->sockops;
	for (int i = 0; i <= n; i++) {
		if (!*d[i].link)
			continue;
		d[i].started = !pthread_create(&d[i].thread, NULL, destroy_link, d[i].link);
		if (!d[i].started)
			destroy_link(d[i].link);
	}
	for (int i = 0; i <= n; i++)
		if (d[i].started)
			pthread_join(d[i].thread, NULL);
	free(d);
}

void pw_session_close(struct pw_session *s)
{
	ring_buffer__free(s->rb);
	destroy_links(s);
	portwatch_bpf__destroy(s->skel);
	s->sockops = NULL;
	s->rb = NULL;
	s->skel = NULL;
}
