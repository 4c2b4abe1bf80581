/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus exposition for `serve`: label sets rendered once (escaped per the
 * format), tables of series keyed by them, and the writer of families in the
 * text format 0.0.4 or OpenMetrics 1.0.0. No kernel access: cmd_serve.c
 * gathers, this renders, so the unit tests drive it with made-up values.
 */
#ifndef PORTWATCH_METRICS_H
#define PORTWATCH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

/*
 * One label set as it appears between the braces: `a="x",b="y"`. Values
 * are escaped when added (pw_labels_add), so a table compares and hashes
 * the rendered text. Each value is cut at PW_LABEL_VALUE_MAX input bytes
 * (Kubernetes names have at most 253).
 */
#define PW_LABELS_MAX	   2048
#define PW_LABEL_VALUE_MAX 256

struct pw_labels {
	char buf[PW_LABELS_MAX];
	size_t len;
};

static inline void pw_labels_init(struct pw_labels *l)
{
	l->buf[0] = '\0';
	l->len = 0;
}

/*
 * Escape `n` bytes of `in` (up to its first NUL) as a label value: `\` as
 * `\\`, `"` as `\"`, newline as `\n` (what both formats require), printable
 * ASCII as is, and any other byte as the four characters `\xNN` (written
 * `\\xNN`), so a value a process controls (comm) stays valid UTF-8 and on
 * one line. `size` must be at least PW_LABEL_ESCAPED_SIZE(n). Returns out.
 */
#define PW_LABEL_ESCAPED_SIZE(n) (5 * (n) + 1)
char *pw_label_escape(const char *in, size_t n, char *out, size_t size);

/* Append name="value", value escaped and cut at PW_LABEL_VALUE_MAX bytes; NULL is "". */
void pw_labels_add(struct pw_labels *l, const char *name, const char *value);
/* The same for a value of at most n bytes that need not end in a NUL (comm). */
void pw_labels_addn(struct pw_labels *l, const char *name, const char *value, size_t n);
/* name="decimal" */
void pw_labels_addu(struct pw_labels *l, const char *name, unsigned long long v);

/*
 * A table of series of one family: label set -> value. Counters only grow
 * (pw_series_add); gauges are set each scrape after pw_series_clear. At
 * most max_entries label sets: what does not fit is added to `overflow`
 * instead, which serve exports (portwatch_series_overflow_total).
 */
struct pw_series;

struct pw_series *pw_series_new(size_t max_entries);
void pw_series_free(struct pw_series *s);
/* Forget every label set (gauges, before a refresh); overflow stays. */
void pw_series_clear(struct pw_series *s);
/* Add delta to l's value (a new set starts at 0). Returns 0, -ENOSPC (in overflow) or -ENOMEM. */
int pw_series_add(struct pw_series *s, const struct pw_labels *l, double delta);
/* Set l's value. Returns as pw_series_add(). */
int pw_series_set(struct pw_series *s, const struct pw_labels *l, double value);
/* l's value, or -1 when the table has no such set. */
double pw_series_get(const struct pw_series *s, const struct pw_labels *l);
size_t pw_series_len(const struct pw_series *s);
/* Values that did not fit (the sum of what pw_series_add could not keep, plus sets not set). */
double pw_series_overflow(const struct pw_series *s);

enum pw_expo_format {
	PW_EXPO_TEXT,	     /* text/plain; version=0.0.4 */
	PW_EXPO_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

/*
 * PW_INFO: a gauge of 1 whose labels carry the information, named without
 * its _info (the writer adds it): OpenMetrics's info type, a gauge in the
 * text format.
 */
enum pw_metric_type { PW_COUNTER, PW_GAUGE, PW_HISTOGRAM, PW_INFO };

/* Content-Type of a format's body. */
const char *pw_expo_content_type(enum pw_expo_format f);

/*
 * Whether an Accept header asks for OpenMetrics: it names
 * application/openmetrics-text (a q of 0 refuses it). NULL: no.
 */
bool pw_expo_wants_openmetrics(const char *accept);

struct pw_expo {
	FILE *out;
	enum pw_expo_format format;
	char family[128]; /* the current family's name, without _total */
	enum pw_metric_type type;
};

void pw_expo_init(struct pw_expo *e, FILE *out, enum pw_expo_format f);

/*
 * Start a family: `name` without the _total of a counter or the _info of an
 * info (the writer adds them to the samples, and in the text format to the
 * TYPE and HELP names, as each format wants); `help` one line of plain text.
 */
void pw_expo_family(struct pw_expo *e, const char *name, enum pw_metric_type type,
		    const char *help);

/* A sample of the current family; l may be NULL (no labels). */
void pw_expo_sample(struct pw_expo *e, const struct pw_labels *l, double value);

/* Every series of s as samples of the current family. */
void pw_expo_series(struct pw_expo *e, const struct pw_series *s);

/*
 * A histogram of log2 slots of nanoseconds (hist.h's layout: slot i counts
 * [2^i, 2^(i+1)) ns, the last slot everything longer) as _bucket{le} in
 * seconds (cumulative, the last slot only in +Inf), _sum and _count (the
 * slots' total, so that +Inf and _count agree however the per-CPU copies
 * were read).
 */
void pw_expo_log2_histogram(struct pw_expo *e, const __u64 *slots, int n, double sum_seconds);

struct pw_ports_snapshot;
struct pw_netns;
struct pw_ct_stats;

/*
 * The port families of a snapshot (ports.h): ports in use, usable and
 * their ratio for the max_destinations fullest destinations (the rows come
 * fullest first), labelled netns, proto, family, daddr, dport; the
 * destinations left out; the sockets the walk could not count; each walked
 * netns's range (first, last). Returns the destinations left out.
 */
unsigned long pw_expo_ports(struct pw_expo *e, const struct pw_ports_snapshot *s,
			    unsigned long max_destinations);

/*
 * The conntrack families, by netns: entries, entries_limit (`limit`,
 * nf_conntrack_max; no sample when < 0), and the insert_failed, drop and
 * early_drop counters, for ns[i] whose stats[i] were read (ok[i]).
 */
void pw_expo_conntrack(struct pw_expo *e, const struct pw_netns *ns,
		       const struct pw_ct_stats *stats, const bool *ok, size_t n, long limit);

/* End the exposition: OpenMetrics's `# EOF`. */
void pw_expo_end(struct pw_expo *e);

#endif /* PORTWATCH_METRICS_H */
