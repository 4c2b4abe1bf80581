/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tracing session: the attach ladder, the main BPF object loaded and
 * attached, the owner map seeded, the ring buffer open. Every command that
 * watches the kernel starts one.
 */
#ifndef PORTWATCH_SESSION_H
#define PORTWATCH_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <bpf/libbpf.h>
#include "rungs.h"

/*
 * What a command reads from the kernel, beyond what every tracing session
 * has (the failure hooks, the owner maps, the ring buffer). Each need names
 * its hooks and maps; pw_session_open() sizes those for it and shrinks the
 * maps of the needs not asked for to one entry.
 */
enum pw_need {
	PW_NEED_DROPS = 1u << 0,	  /* kfree_skb, drop_counts, flows: drops, trace, top */
	PW_NEED_LATENCY = 1u << 1,	  /* __inet_hash_connect, search_hist: latency */
	PW_NEED_PORTS = 1u << 2,	  /* ports iterators, port_rows, tw_owner: top */
	PW_NEED_CONNECT_COUNTS = 1u << 3, /* connect_counts: top */
	/*
	 * The socket syscall tracepoints (sys_enter/exit of bind, listen,
	 * connect, sendto, sendmsg, sendmmsg): UDP port failures and UDP owners
	 * and flows on every rung; TCP bind() and listen() failures, connects
	 * of a bound socket and the port-search estimate on the tracepoint
	 * rung. They put every syscall of every task on the kernel's slow path
	 * (~10% of a connect loop's rate): trace, top, drops and latency ask by
	 * default, serve does not. Without it TCP connect failures are still
	 * seen on every rung.
	 */
	PW_NEED_SYSCALLS = 1u << 4,
};

/* PW_NEED_DROPS: which drops trace streams as records, and how fast. */
struct pw_drop_record_opts {
	__u8 which;	 /* enum pw_drop_records; PW_DROPREC_NONE for counts alone */
	__u32 rate;	 /* at most this many records per second, 0: no limit at all */
	__u32 key_rate;	 /* at most this many per drop key per second per CPU */
};

struct pw_session_opts {
	/* The common options of every tracing command (cli.c). */
	int forced_rung;	/* enum pw_rung from --attach, or -1 for the best */
	__u32 owner_map_size;	/* sock_owner entries (--owner-map-size), 0: sized to the host */
	__u32 ringbuf_size;	/* ring buffer bytes, a power of two >= page size */
	/* What the command needs (enum pw_need bits), and each need's settings. */
	unsigned int needs;
	struct pw_drop_record_opts drop_records; /* PW_NEED_DROPS */
	__u32 search_netns;	/* PW_NEED_LATENCY: only this netns (0: all) */
	__u32 max_rows;		/* PW_NEED_PORTS: port_rows entries (> 0) */
};

/* A row of the kernel's drop counts, summed over CPUs: packets since start. */
struct pw_drop_row {
	struct pw_drop_key key;
	__u64 count;	/* drops of the key */
	__u64 records;	/* of them, streamed to trace */
	__u64 filtered; /* of them, left out by trace's --drops */
};

#define PW_OWNER_MAP_DEFAULT 65536
#define PW_OWNER_MAP_MIN     1024
#define PW_OWNER_MAP_MAX     (1u << 24)
#define PW_RINGBUF_DEFAULT   (1u << 20)

/* What was lost since the session started. */
struct pw_loss {
	__u64 records;	       /* ring-buffer reservations that failed */
	__u64 owner_evictions; /* owners the LRU maps (sockets, flows) evicted to make room */
	__u64 drop_overflow;   /* drops counted without their key: drop_counts full */
	__u64 drops_suppressed; /* drop records held back by the rate limit */
};

struct pw_session {
	struct portwatch_bpf *skel;
	struct ring_buffer *rb;
	struct pw_ladder ladder;
	struct bpf_link *sockops; /* sockops_flows on the cgroup v2 root (tcp_connect) */
	__u64 seeded;		  /* sockets the start-up iterator attributed */
};

/*
 * Probe the ladder, load, attach, seed the owner map, and open the ring
 * buffer with `fn(ctx, data, size)` as its callback. Returns 0, or -errno with
 * a one-line reason in `err` (no BTF, not root, a forced rung refused, a
 * load or attach failure).
 */
int pw_session_open(struct pw_session *s, const struct pw_session_opts *o, ring_buffer_sample_fn fn,
		    void *ctx, char *err, size_t err_len);

/*
 * Load only the ports iterators (no tracing program, no ladder), with
 * `max_rows` port_rows entries: what a one-off snapshot needs. Returns 0,
 * or -errno with a one-line reason in `err` (no BTF, not root, load failure).
 */
int pw_session_open_snapshot(struct pw_session *s, __u32 max_rows, char *err, size_t err_len);

/* A ring-buffer callback for commands that read only the kernel's aggregates. */
int pw_ignore_record(void *ctx, void *data, size_t size);

/* Consume records for up to timeout_ms. Returns records seen or -errno (-EINTR). */
int pw_session_poll(struct pw_session *s, int timeout_ms);

/*
 * Losses so far. Evictions are inserts - deletes - live entries, summed over
 * sock_owner and flow_owner; counting live entries walks a map, so unless
 * `exact` it is skipped while the map is too far from full for the LRU to
 * have evicted anything.
 */
void pw_session_loss(struct pw_session *s, bool exact, struct pw_loss *out);

/*
 * Consume records until *stop is set or duration_ms (0: no limit) has
 * passed, calling tick(ctx) every tick_ms (tick may be NULL). Consumes every
 * record already in the ring buffer before returning. Returns 0, or -errno
 * from the ring buffer.
 */
int pw_session_run(struct pw_session *s, unsigned long duration_ms, unsigned long tick_ms,
		   void (*tick)(void *ctx), void *ctx, volatile sig_atomic_t *stop);

/* The port-search histogram summed over CPUs. Returns 0 or -errno. */
int pw_session_search_hist(struct pw_session *s, struct pw_search_hist *out);

/*
 * All rows of the drop counts, in *rows (malloc'd, sorted by key). Returns
 * the number of rows or -errno.
 */
int pw_session_drop_rows(struct pw_session *s, struct pw_drop_row **rows);

/*
 * Subtract `base` (an earlier pw_session_drop_rows(), sorted by key) from
 * `rows` (a later one) in place: count, records and filtered become the
 * drops since then. Keys never leave drop_counts, so base's are all in rows.
 */
void pw_drop_rows_since(struct pw_drop_row *rows, int n, const struct pw_drop_row *base,
			int nbase);

/* The order of pw_session_drop_rows()'s rows (by key), for qsort and bsearch. */
int pw_drop_row_cmp(const void *a, const void *b);

void pw_session_close(struct pw_session *s);

#endif /* PORTWATCH_SESSION_H */
