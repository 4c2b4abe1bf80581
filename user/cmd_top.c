// SPDX-License-Identifier: GPL-2.0
/*
 * portwatch top: live rates per process (connects, port-allocation and
 * connect failures, drops, from the kernel's aggregates and records) joined
 * with the current port usage per process and destination (a ports
 * snapshot per refresh). ncurses on a terminal, interval text otherwise.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <arpa/inet.h>
#include <curses.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli.h"
#include "commands.h"
#include "container.h"
#include "dropreason.h"
#include "portwatch.skel.h"
#include "ports.h"
#include "record.h"
#include "util.h"

#define MAX_LINES 200 /* lines of one screen, before clipping to the terminal */
#define LINE_LEN  256

enum sort_key { SORT_FAILS, SORT_CONNECTS, SORT_DROPS, SORT_PORTS, SORT_UTIL, SORT_PID, SORT_N };

static const char *const sort_names[SORT_N] = {
	"fails", "connects", "drops", "ports", "util", "pid"
};

enum { OPT_SORT = 0x700, OPT_COMM };

/* What top knows of one process, totals since start and at the last refresh. */
struct proc {
	__u32 tgid;
	char comm[PW_COMM_LEN + 1];
	__u64 connects, fails, drops;		 /* totals */
	__u64 prev_connects, prev_fails, prev_drops; /* at the previous refresh */
	__u64 pruned_connects; /* of connects, those whose connect_counts key went */
	double connect_rate, fail_rate, drop_rate;  /* per second over the last interval */
	__u64 ports;				 /* ephemeral ports held now */
	double util;				 /* its fullest destination's utilization */
	char dest[INET6_ADDRSTRLEN + 10];	 /* that destination */
	char ctr[1100]; /* its container's name (escaped), "" outside containers */
	bool ctr_match; /* its container passes --container, --pod, --k8s-namespace */
};

struct top_env {
	struct pw_common_opts common;
	unsigned long interval_s;
	enum sort_key sort;
	__u32 pid;	  /* 0: all */
	char *comm;	  /* NULL: all */
	struct pw_filter filter; /* --container, --pod, --k8s-namespace */
	bool curses;
	struct pw_session *session;
	struct pw_drop_reasons reasons;
	struct proc *procs;
	size_t n_procs, cap_procs;
	struct pw_ports_snapshot snap;
	char reason_line[LINE_LEN];
	__u64 total_connects, total_fails, total_drops;
	__u64 exited_connects; /* connects of processes pruned from connect_counts */
	double connect_rate, fail_rate, drop_rate;
	struct pw_drop_row *prev_drops; /* drop rows at the previous refresh, sorted */
	int n_prev_drops;
	char (*lines)[LINE_LEN]; /* MAX_LINES of them, malloc'd: the screen */
	int n_lines;
	int err;
	struct pw_ctrs *ctrs; /* container identity, resolved when a process is first seen */
};

static const char doc[] =
	"A refreshing view, per process, of connects/s, port-allocation and connect failures/s "
	"(and their total since start) and dropped packets/s (from the kernel's aggregates), "
	"joined with the ephemeral ports "
	"each process holds and its fullest destination; then the fullest destinations. On a "
	"terminal it is interactive (s: next sort key, q: quit); otherwise it prints a snapshot "
	"every interval, for pipes and logs.\v"
	"EXAMPLES:\n"
	"  portwatch top                        # every process, sorted by failures/s\n"
	"  portwatch top -i 5 --sort util       # refresh every 5 s, fullest first\n"
	"  portwatch top --comm curl            # only curl\n"
	"  portwatch top --container web        # only the processes of one container\n"
	"  portwatch top -i 10 > top.log        # interval snapshots into a log";

static const struct argp_option options[] = {
	{ "interval", 'i', "SEC", 0, "Refresh every SEC seconds (default 1)", 0 },
	{ "sort", OPT_SORT, "KEY", 0, "fails (default), connects, drops, ports, util or pid", 0 },
	{ "pid", 'p', "PID", 0, "Only this process (tgid)", 0 },
	{ "comm", OPT_COMM, "COMM", 0, "Only processes with this command name", 0 },
	{},
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct top_env *env = state->input;
	unsigned long v;
	int i;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		state->child_inputs[1] = &env->filter;
		break;
	case 'i':
		pw_argp_seconds(state, "--interval", arg, 3600, &env->interval_s);
		break;
	case OPT_SORT:
		for (i = 0; i < SORT_N && strcmp(arg, sort_names[i]); i++)
			;
		if (i == SORT_N)
			argp_failure(state, 2, 0,
				     "invalid --sort '%s': use fails, connects, drops, ports, util "
				     "or pid",
				     arg);
		env->sort = i;
		break;
	case 'p':
		if (pw_parse_ulong(arg, 1, 0x7fffffff, &v))
			argp_failure(state, 2, 0, "invalid --pid '%s': a process id", arg);
		env->pid = v;
		break;
	case OPT_COMM:
		if (strlen(arg) >= PW_COMM_LEN)
			argp_failure(state, 2, 0, "invalid --comm '%s': at most %d characters", arg,
				     PW_COMM_LEN - 1);
		env->comm = arg;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct proc *proc_of(struct top_env *env, __u32 tgid, const char *comm)
{
	const struct pw_ctr *c;
	struct proc *p, *grown;

	for (size_t i = 0; i < env->n_procs; i++)
		if (env->procs[i].tgid == tgid) {
			p = &env->procs[i];
			goto found;
		}
	if (env->n_procs == env->cap_procs) {
		env->cap_procs = env->cap_procs ? env->cap_procs * 2 : 64;
		grown = realloc(env->procs, env->cap_procs * sizeof(*grown));
		if (!grown)
			return NULL;
		env->procs = grown;
	}
	p = &env->procs[env->n_procs++];
	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	c = pw_ctrs_lookup_pid(env->ctrs, tgid);
	if (c && !c->id)
		c = NULL;
	if (c)
		pw_ctr_name_text(c, p->ctr, sizeof(p->ctr));
	p->ctr_match = pw_filter_match_ctr(&env->filter, c);
found:
	if (comm && comm[0])
		snprintf(p->comm, sizeof(p->comm), "%.*s", PW_COMM_LEN, comm);
	return p;
}

/* Failure records: counted per process (they are rare; drops come from the map). */
static int handle_record(void *ctx, void *data, size_t size)
{
	struct top_env *env = ctx;
	const struct pw_owner *owner;
	const struct pw_tuple *tuple;
	int type = pw_record_check(data, size);
	struct proc *p;

	if (type != PW_REC_PORT_ALLOC_FAIL && type != PW_REC_CONNECT_FAIL)
		return 0;
	pw_record_subject(data, &owner, &tuple);
	env->total_fails++;
	if (!owner->tgid)
		return 0;
	p = proc_of(env, owner->tgid, owner->comm);
	if (p)
		p->fails++;
	return 0;
}

struct connect_reader {
	struct top_env *env;
	int fd; /* connect_counts: tgid -> struct pw_connects */
	__u64 total; /* of live processes */
};

static int add_connects(const void *k, void *ctx)
{
	struct connect_reader *rd = ctx;
	__u32 key = *(const __u32 *)k;
	struct pw_connects v;
	struct proc *p;
	__u64 n;

	if (bpf_map_lookup_elem(rd->fd, &key, &v))
		return 0;
	n = v.ipv4 + v.ipv6;
	p = proc_of(rd->env, key, NULL);
	if (p)
		p->connects = p->pruned_connects + n;
	/* pw_map_for_each() has the successor already: the key may go. */
	if (kill(key, 0) && errno == ESRCH && !bpf_map_delete_elem(rd->fd, &key)) {
		rd->env->exited_connects += n;
		if (p)
			p->pruned_connects += n;
	} else
		rd->total += n;
	return 0;
}

/*
 * Connects per process from connect_counts. The keys of processes that have
 * exited are deleted (their counts kept in exited_connects), so the map
 * holds live processes only and fills only when that many connect at once.
 */
static void read_connects(struct top_env *env)
{
	struct connect_reader rd = { env, bpf_map__fd(env->session->skel->maps.connect_counts), 0 };

	pw_map_for_each(rd.fd, sizeof(__u32), add_connects, &rd);
	env->total_connects = env->exited_connects + rd.total;
}

/*
 * The interval's 3 biggest drop reasons, over all processes, into
 * reason_line: rows against those of the previous refresh. Returns 0 or
 * -ENOMEM (reason_line kept).
 */
static int format_top_reasons(struct top_env *env, const struct pw_drop_row *rows, int n,
			      double secs)
{
	struct pw_reason_count *top = calloc(n ? n : 1, sizeof(*top));
	int n_top = 0;

	if (!top)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const struct pw_drop_row *r = &rows[i];
		struct pw_drop_row *old = env->n_prev_drops
						  ? bsearch(r, env->prev_drops, env->n_prev_drops,
							    sizeof(*r), pw_drop_row_cmp)
			: NULL;

		pw_reason_add(top, &n_top, r->key.reason, r->count - (old ? old->count : 0));
	}
	pw_reason_sort(top, n_top);
	env->reason_line[0] = '\0';
	for (int k = 0; k < 3 && k < n_top; k++) {
		char name[48];
		size_t used = strlen(env->reason_line);

		snprintf(env->reason_line + used, sizeof(env->reason_line) - used, "%s%s %.0f/s",
			 k ? ", " : ": ",
			 pw_drop_reason_name(&env->reasons, top[k].reason, name, sizeof(name)),
			 top[k].count / secs);
	}
	free(top);
	return 0;
}

/* Drops per process (totals since start) and over all processes. */
static void count_drops(struct top_env *env, const struct pw_drop_row *rows, int n)
{
	__u64 total = 0;

	for (size_t i = 0; i < env->n_procs; i++)
		env->procs[i].drops = 0;
	for (int i = 0; i < n; i++) {
		const struct pw_drop_row *r = &rows[i];
		char comm[PW_COMM_LEN + 1] = {};
		struct proc *p;

		total += r->count;
		if (!r->key.tgid)
			continue;
		memcpy(comm, r->key.comm, PW_COMM_LEN);
		p = proc_of(env, r->key.tgid, comm);
		if (p)
			p->drops += r->count;
	}
	env->total_drops = total;
}

/* Drops per process and, over all processes, the interval's top reasons. */
static void read_drops(struct top_env *env, double secs)
{
	struct pw_drop_row *rows;
	int n = pw_session_drop_rows(env->session, &rows), ret;

	if (n < 0) {
		env->err = env->err ?: n;
		return;
	}
	ret = format_top_reasons(env, rows, n, secs);
	if (ret) {
		free(rows);
		env->err = env->err ?: ret;
		return;
	}
	count_drops(env, rows, n);
	free(env->prev_drops);
	env->prev_drops = rows;
	env->n_prev_drops = n;
}

static void read_ports(struct top_env *env)
{
	char err[256];

	pw_ports_free(&env->snap);
	for (size_t i = 0; i < env->n_procs; i++) {
		env->procs[i].ports = 0;
		env->procs[i].util = 0;
		env->procs[i].dest[0] = '\0';
	}
	if (pw_ports_snapshot(env->session->skel, 0, &env->snap, err, sizeof(err))) {
		env->err = env->err ?: -EIO;
		return;
	}
	for (size_t i = 0; i < env->snap.n; i++) {
		const struct pw_port_row *r = &env->snap.rows[i];
		char comm[PW_COMM_LEN + 1] = {};
		struct proc *p;

		if (!r->key.tgid)
			continue;
		memcpy(comm, r->key.comm, PW_COMM_LEN);
		p = proc_of(env, r->key.tgid, comm);
		if (!p)
			continue;
		p->ports += r->total;
		/* Rows come fullest first: the first row of a process is its fullest. */
		if (!p->dest[0]) {
			p->util = r->utilization;
			pw_format_endpoint(r->key.family, r->key.daddr, r->key.dport, p->dest,
					   sizeof(p->dest));
		}
	}
}

static double sort_value(const struct proc *p, enum sort_key k)
{
	switch (k) {
	case SORT_FAILS:
		return p->fail_rate * 1e6 + p->fails;
	case SORT_CONNECTS:
		return p->connect_rate;
	case SORT_DROPS:
		return p->drop_rate * 1e6 + p->drops;
	case SORT_PORTS:
		return p->ports;
	case SORT_UTIL:
		return p->util;
	default:
		return -(double)p->tgid;
	}
}

/* qsort_r's order of processes: by the key ctx points to, biggest first, then by pid. */
static int by_sort_key(const void *a, const void *b, void *ctx)
{
	enum sort_key key = *(const enum sort_key *)ctx;
	double x = sort_value(a, key), y = sort_value(b, key);

	if (x != y)
		return x > y ? -1 : 1;
	return ((const struct proc *)a)->tgid < ((const struct proc *)b)->tgid ? -1 : 1;
}

static bool shown(const struct top_env *env, const struct proc *p)
{
	if (env->pid && p->tgid != env->pid)
		return false;
	if (env->comm && strcmp(p->comm, env->comm))
		return false;
	if (!p->ctr_match)
		return false;
	return p->connects || p->fails || p->drops || p->ports;
}

static void line(struct top_env *env, const char *fmt, ...)
{
	va_list ap;

	if (env->n_lines == MAX_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(env->lines[env->n_lines++], LINE_LEN, fmt, ap);
	va_end(ap);
}

/* Read everything, compute the interval's rates, lay out the screen's lines. */
static void refresh_data(struct top_env *env, double secs)
{
	__u64 connects = env->total_connects, fails = env->total_fails, drops = env->total_drops;
	bool containers = false;

	read_connects(env);
	read_drops(env, secs);
	read_ports(env);
	env->connect_rate = (env->total_connects - connects) / secs;
	env->fail_rate = (env->total_fails - fails) / secs;
	env->drop_rate = (env->total_drops - drops) / secs;
	for (size_t i = 0; i < env->n_procs; i++) {
		struct proc *p = &env->procs[i];

		p->connect_rate = (p->connects - p->prev_connects) / secs;
		p->fail_rate = (p->fails - p->prev_fails) / secs;
		p->drop_rate = (p->drops - p->prev_drops) / secs;
		p->prev_connects = p->connects;
		p->prev_fails = p->fails;
		p->prev_drops = p->drops;
	}
	if (env->n_procs)
		qsort_r(env->procs, env->n_procs, sizeof(*env->procs), by_sort_key, &env->sort);

	env->n_lines = 0;
	line(env, "portwatch top  every %lus  sort: %s%s", env->interval_s, sort_names[env->sort],
	     env->curses ? "  (s: sort, q: quit)" : "");
	line(env, "connects %.0f/s  failures %.0f/s  drops %.0f/s%s", env->connect_rate,
	     env->fail_rate, env->drop_rate, env->reason_line);
	if (env->session->skel->bss->counters.connect_overflow)
		line(env, "connects not counted per process (table full): %llu",
		     (unsigned long long)env->session->skel->bss->counters.connect_overflow);
	line(env, "namespaces %zu  port rows %zu%s", env->snap.n_ns, env->snap.n,
	     env->snap.overflow ? "  (rows lost: map full)" : "");
	line(env, "");
	/* A CONTAINER column only when a process shown is in a container */
	for (size_t i = 0; i < env->n_procs && !containers; i++)
		containers = shown(env, &env->procs[i]) && env->procs[i].ctr[0];
	line(env, "%-7s %-12s %6s %6s %6s %6s %6s %5s %s%s", "PID", "COMM", "CONN/s", "FAIL/s",
	     "FAILS", "DROP/s", "PORTS", "UTIL%", containers ? "CONTAINER    " : "",
	     "FULLEST DEST");
	for (size_t i = 0; i < env->n_procs; i++) {
		const struct proc *p = &env->procs[i];
		char comm[PW_ESCAPED_SIZE(PW_COMM_LEN)], ctr[16] = "";

		if (!shown(env, p))
			continue;
		if (containers)
			snprintf(ctr, sizeof(ctr), "%-12.12s ", p->ctr[0] ? p->ctr : "-");
		line(env, "%-7u %-12.12s %6.0f %6.0f %6llu %6.0f %6llu %5.1f %s%s", p->tgid,
		     p->comm[0] ? pw_escape(p->comm, PW_COMM_LEN, comm, sizeof(comm)) : "?",
		     p->connect_rate, p->fail_rate, (unsigned long long)p->fails, p->drop_rate,
		     (unsigned long long)p->ports, p->util, ctr, p->dest[0] ? p->dest : "-");
	}
	line(env, "");
	line(env, "%-11s %-5s %-28s %8s %7s %6s", "NETNS", "PROTO", "DESTINATION", "SOCKETS",
	     "USABLE", "UTIL%");
	for (size_t i = 0; i < env->snap.n; i++) {
		const struct pw_port_row *r = &env->snap.rows[i];
		char dest[INET6_ADDRSTRLEN + 10];

		/* One line per destination: its rows are together and share the totals. */
		if (i && !pw_port_row_dest_cmp(&env->snap.rows[i - 1], r))
			continue;
		line(env, "%-11u %-5s %-28s %8llu %7u %6.1f", r->key.netns,
		     pw_proto_name(r->key.proto),
		     pw_format_endpoint(r->key.family, r->key.daddr, r->key.dport, dest,
					sizeof(dest)),
		     (unsigned long long)r->dest_total, r->usable, r->utilization);
	}
}

static void draw(struct top_env *env)
{
	if (!env->curses) {
		char when[32];
		struct timespec ts;
		struct pw_clock c;

		pw_clock_init(&c);
		clock_gettime(CLOCK_BOOTTIME, &ts);
		printf("--- %s\n", pw_format_ts(&c, ts.tv_sec * 1000000000ULL + ts.tv_nsec, 0, when,
					       sizeof(when)));
		for (int i = 0; i < env->n_lines; i++)
			puts(env->lines[i]);
		fflush(stdout);
		return;
	}
	erase();
	for (int i = 0; i < env->n_lines && i < LINES; i++)
		mvaddnstr(i, 0, env->lines[i], COLS);
	refresh();
}

static double elapsed_s(struct timespec *last)
{
	struct timespec now;
	double s;

	clock_gettime(CLOCK_MONOTONIC, &now);
	s = (now.tv_sec - last->tv_sec) + (now.tv_nsec - last->tv_nsec) / 1e9;
	*last = now;
	return s > 0 ? s : 1;
}

static int run(struct top_env *env)
{
	struct timespec last, start;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &last);
	start = last;
	refresh_data(env, 1);
	draw(env);
	while (!pw_exiting && !env->err) {
		struct timespec now;
		int ch;

		ret = pw_session_poll(env->session, 100);
		if (ret < 0 && ret != -EINTR)
			return ret;
		ret = 0;
		if (env->curses) {
			ch = getch();
			if (ch == 'q' || ch == 'Q')
				break;
			if (ch == 's' || ch == 'S') {
				env->sort = (env->sort + 1) % SORT_N;
				start.tv_sec = 0; /* redraw now */
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (start.tv_sec && now.tv_sec - start.tv_sec < (time_t)env->interval_s)
			continue;
		start = now;
		refresh_data(env, elapsed_s(&last));
		draw(env);
	}
	return env->err;
}

int cmd_top(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &pw_common_argp, 0, NULL, 0 },
		{ &pw_container_argp, 0, NULL, 0 },
		{},
	};
	const struct argp argp = { options, parse_opt, NULL, doc, children, NULL, NULL };
	struct top_env env = { .interval_s = 1 };
	struct pw_session s = {};
	int ret;

	pw_common_defaults(&env.common);
	if (argp_parse(&argp, argc, argv, 0, NULL, &env))
		return 2;
	pw_set_libbpf_print(env.common.verbose);
	env.lines = calloc(MAX_LINES, sizeof(*env.lines));
	if (!env.lines) {
		fprintf(stderr, "portwatch: out of memory\n");
		return 1;
	}
	env.common.session.needs =
		PW_NEED_DROPS | PW_NEED_PORTS | PW_NEED_CONNECT_COUNTS | PW_NEED_SYSCALLS;
	env.common.session.max_rows = PW_MAX_ROWS_DEFAULT;
	env.ctrs = pw_ctrs_new(NULL, "", PW_CTRS_DEFAULT);
	if (!env.ctrs) {
		fprintf(stderr, "portwatch: out of memory\n");
		free(env.lines);
		return 1;
	}
	ret = pw_command_session(&s, &env.common, handle_record, &env);
	if (ret)
		goto cleanup;
	env.session = &s;
	ret = pw_drop_reasons_load(&env.reasons);
	if (ret && ret != -ENOENT) {
		fprintf(stderr, "portwatch: reading drop reasons from BTF: %s\n", strerror(-ret));
		goto cleanup;
	}
	env.curses = isatty(STDOUT_FILENO);
	fprintf(stderr, "Tracing for top... Hit Ctrl-C to end.\n");
	if (env.curses) {
		initscr();
		cbreak();
		noecho();
		nodelay(stdscr, TRUE);
		curs_set(0);
	}
	ret = run(&env);
	if (env.curses)
		endwin();
	if (ret)
		fprintf(stderr, "portwatch: %s\n", strerror(-ret));
cleanup:
	pw_ports_free(&env.snap);
	free(env.lines);
	free(env.procs);
	free(env.prev_drops);
	pw_drop_reasons_free(&env.reasons);
	pw_session_close(&s);
	pw_ctrs_free(env.ctrs);
	pw_filter_free(&env.filter);
	return ret ? 1 : 0;
}
