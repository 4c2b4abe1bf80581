// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "conntrack.h"
#include "ports.h"
#include "record.h"
#include "util.h"

char *pw_label_escape(const char *in, size_t n, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n && in[i] && o + 6 <= size; i++) {
		unsigned char c = in[i];

		if (c == '\\' || c == '"') {
			out[o++] = '\\';
			out[o++] = c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = c;
		} else {
			out[o++] = '\\';
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

void pw_labels_addn(struct pw_labels *l, const char *name, const char *value, size_t n)
{
	char esc[PW_LABEL_ESCAPED_SIZE(PW_LABEL_VALUE_MAX)];
	int w;

	if (n > PW_LABEL_VALUE_MAX)
		n = PW_LABEL_VALUE_MAX;
	pw_label_escape(value ? value : "", value ? n : 0, esc, sizeof(esc));
	w = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s%s=\"%s\"", l->len ? "," : "",
		     name, esc);
	/* A set too long for the buffer is cut, never overrun (PW_LABELS_MAX fits every family). */
	if (w > 0 && (size_t)w < sizeof(l->buf) - l->len)
		l->len += w;
}

void pw_labels_add(struct pw_labels *l, const char *name, const char *value)
{
	pw_labels_addn(l, name, value, value ? strlen(value) : 0);
}

void pw_labels_addu(struct pw_labels *l, const char *name, unsigned long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", v);
	pw_labels_add(l, name, num);
}

struct entry {
	char *key; /* the rendered label set; NULL: free slot */
	double value;
};

struct pw_series {
	struct entry *slots;
	size_t cap; /* a power of two, at least twice len */
	size_t len;
	size_t max;
	double overflow;
};

struct pw_series *pw_series_new(size_t max_entries)
{
	struct pw_series *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->max = max_entries;
	s->cap = 64;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return NULL;
	}
	return s;
}

void pw_series_clear(struct pw_series *s)
{
	for (size_t i = 0; i < s->cap; i++) {
		free(s->slots[i].key);
		s->slots[i].key = NULL;
	}
	s->len = 0;
}

void pw_series_free(struct pw_series *s)
{
	if (!s)
		return;
	pw_series_clear(s);
	free(s->slots);
	free(s);
}

/* FNV-1a */
static size_t hash(const char *k)
{
	size_t h = 14695981039346656037ULL;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return h;
}

static struct entry *find(struct entry *slots, size_t cap, const char *key)
{
	for (size_t i = hash(key) & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!slots[i].key || !strcmp(slots[i].key, key))
			return &slots[i];
}

static int grow(struct pw_series *s)
{
	size_t cap = s->cap * 2;
	struct entry *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i].key)
			*find(slots, cap, s->slots[i].key) = s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

/* l's entry, made when missing; NULL when it does not fit (-ENOSPC) or no memory. */
static struct entry *entry_of(struct pw_series *s, const struct pw_labels *l, int *err)
{
	struct entry *e = find(s->slots, s->cap, l->buf);

	if (e->key)
		return e;
	if (s->len >= s->max) {
		*err = -ENOSPC;
		return NULL;
	}
	if (2 * (s->len + 1) > s->cap) {
		*err = grow(s);
		if (*err)
			return NULL;
		e = find(s->slots, s->cap, l->buf);
	}
	e->key = strdup(l->buf);
	if (!e->key) {
		*err = -ENOMEM;
		return NULL;
	}
	e->value = 0;
	s->len++;
	return e;
}

int pw_series_add(struct pw_series *s, const struct pw_labels *l, double delta)
{
	int err = 0;
	struct entry *e = entry_of(s, l, &err);

	if (!e) {
		s->overflow += delta;
		return err;
	}
	e->value += delta;
	return 0;
}

int pw_series_set(struct pw_series *s, const struct pw_labels *l, double value)
{
	int err = 0;
	struct entry *e = entry_of(s, l, &err);

	if (!e) {
		s->overflow++;
		return err;
	}
	e->value = value;
	return 0;
}

double pw_series_get(const struct pw_series *s, const struct pw_labels *l)
{
	const struct entry *e = find(s->slots, s->cap, l->buf);

	return e->key ? e->value : -1;
}

size_t pw_series_len(const struct pw_series *s)
{
	return s->len;
}

double pw_series_overflow(const struct pw_series *s)
{
	return s->overflow;
}

const char *pw_expo_content_type(enum pw_expo_format f)
{
	return f == PW_EXPO_OPENMETRICS
		       ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
		       : "text/plain; version=0.0.4; charset=utf-8";
}

bool pw_expo_wants_openmetrics(const char *accept)
{
	static const char om[] = "application/openmetrics-text";
	const char *p = accept;

	while (p && (p = strcasestr(p, om))) {
		const char *end = p + strcspn(p, ","), *q = p;

		/* "application/openmetrics-text;version=1.0.0;q=0" refuses it. */
		while ((q = strstr(q, "q=")) && q < end) {
			if (strtod(q + 2, NULL) == 0)
				break;
			q += 2;
		}
		if (!q || q >= end)
			return true;
		p = end;
	}
	return false;
}

void pw_expo_init(struct pw_expo *e, FILE *out, enum pw_expo_format f)
{
	memset(e, 0, sizeof(*e));
	e->out = out;
	e->format = f;
}

void pw_expo_family(struct pw_expo *e, const char *name, enum pw_metric_type type, const char *help)
{
	static const char *const names[] = { "counter", "gauge", "histogram", "info" };
	/* The text format names a family after its samples; OpenMetrics does not. */
	const char *suffix = e->format == PW_EXPO_OPENMETRICS ? ""
			     : type == PW_COUNTER	      ? "_total"
			     : type == PW_INFO		      ? "_info"
							      : "";
	const char *type_name =
		type == PW_INFO && e->format == PW_EXPO_TEXT ? "gauge" : names[type];

	snprintf(e->family, sizeof(e->family), "%s", name);
	e->type = type;
	fprintf(e->out, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, suffix, help, name, suffix,
		type_name);
}

static void value(FILE *out, double v)
{
	if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", out);
	else if (isnan(v))
		fputs("NaN", out);
	else if (v == (double)(long long)v && fabs(v) < 9007199254740992.0)
		fprintf(out, "%lld", (long long)v);
	else
		fprintf(out, "%.17g", v);
}

/* The suffix of a counter's or an info's samples. */
static const char *sample_suffix(const struct pw_expo *e)
{
	return e->type == PW_COUNTER ? "_total" : e->type == PW_INFO ? "_info" : "";
}

static void sample(struct pw_expo *e, const char *suffix, const char *labels, double v)
{
	fprintf(e->out, "%s%s", e->family, suffix);
	if (labels && labels[0])
		fprintf(e->out, "{%s}", labels);
	fputc(' ', e->out);
	value(e->out, v);
	fputc('\n', e->out);
}

void pw_expo_sample(struct pw_expo *e, const struct pw_labels *l, double v)
{
	sample(e, sample_suffix(e), l ? l->buf : NULL, v);
}

void pw_expo_series(struct pw_expo *e, const struct pw_series *s)
{
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i].key)
			sample(e, sample_suffix(e), s->slots[i].key, s->slots[i].value);
}

void pw_expo_log2_histogram(struct pw_expo *e, const __u64 *slots, int n, double sum_seconds)
{
	unsigned long long cum = 0;
	char le[48];

	for (int i = 0; i < n - 1; i++) {
		cum += slots[i];
		/* Slot i holds whole nanoseconds below 2^(i+1): all <= that bound. */
		snprintf(le, sizeof(le), "le=\"%.12g\"", (double)(1ULL << (i + 1)) / 1e9);
		sample(e, "_bucket", le, cum);
	}
	if (n > 0)
		cum += slots[n - 1];
	sample(e, "_bucket", "le=\"+Inf\"", cum);
	sample(e, "_sum", NULL, sum_seconds);
	sample(e, "_count", NULL, cum);
}

unsigned long pw_expo_ports(struct pw_expo *e, const struct pw_ports_snapshot *s,
			    unsigned long max_destinations)
{
	static const struct {
		const char *name, *help;
	} fams[3] = {
		{ "portwatch_ephemeral_ports_in_use",
		  "Sockets holding an ephemeral port toward the destination, all states." },
		{ "portwatch_ephemeral_ports_usable",
		  "Ports connect() can use toward the destination (the netns's range, reserved "
		  "ports left out)." },
		{ "portwatch_ephemeral_port_utilization_ratio",
		  "in_use / usable of the destination, 0 to 1." },
	};
	unsigned long omitted = 0;
	struct pw_labels l;

	for (int f = 0; f < 3; f++) {
		unsigned long dests = 0;

		pw_expo_family(e, fams[f].name, PW_GAUGE, fams[f].help);
		for (size_t i = 0; i < s->n; i++) {
			const struct pw_port_row *r = &s->rows[i];
			char addr[INET6_ADDRSTRLEN];
			double v;

			/* The rows of one destination are together and share its totals. */
			if (i && !pw_port_row_dest_cmp(&s->rows[i - 1], r))
				continue;
			if (++dests > max_destinations)
				continue;
			pw_labels_init(&l);
			pw_labels_addu(&l, "netns", r->key.netns);
			pw_labels_add(&l, "proto", pw_proto_name(r->key.proto));
			pw_labels_add(&l, "family", pw_family_name(r->key.family));
			pw_labels_add(&l, "daddr",
				      pw_format_addr(r->key.family, r->key.daddr, addr,
						     sizeof(addr)));
			pw_labels_addu(&l, "dport", r->key.dport);
			v = f == 0   ? r->dest_total
			    : f == 1 ? r->usable
				     : (r->usable ? (double)r->dest_total / r->usable : 0);
			pw_expo_sample(e, &l, v);
		}
		if (dests > max_destinations)
			omitted = dests - max_destinations;
	}
	pw_expo_family(e, "portwatch_ephemeral_port_destinations_omitted", PW_GAUGE,
		       "Destinations left out of the port series by --max-destinations.");
	pw_expo_sample(e, NULL, omitted);
	pw_expo_family(e, "portwatch_port_rows_lost", PW_GAUGE,
		       "Sockets the last ports walk could not count (port_rows full).");
	pw_expo_sample(e, NULL, s->overflow);
	for (int f = 0; f < 2; f++) {
		pw_expo_family(e,
			       f ? "portwatch_ephemeral_port_range_last"
				 : "portwatch_ephemeral_port_range_first",
			       PW_GAUGE,
			       f ? "net.ipv4.ip_local_port_range's last port, per netns."
				 : "net.ipv4.ip_local_port_range's first port, per netns.");
		for (size_t i = 0; i < s->n_ns; i++) {
			if (!s->ns[i].walked)
				continue;
			pw_labels_init(&l);
			pw_labels_addu(&l, "netns", s->ns[i].inode);
			pw_expo_sample(e, &l, f ? s->ns[i].hi : s->ns[i].lo);
		}
	}
	return omitted;
}

void pw_expo_conntrack(struct pw_expo *e, const struct pw_netns *ns,
		       const struct pw_ct_stats *stats, const bool *ok, size_t n, long limit)
{
	static const struct {
		const char *name, *help;
		enum pw_metric_type type;
	} fams[] = {
		{ "portwatch_conntrack_entries", "Conntrack entries of the netns.", PW_GAUGE },
		{ "portwatch_conntrack_entries_limit", "net.netfilter.nf_conntrack_max.",
		  PW_GAUGE },
		{ "portwatch_conntrack_insert_failed",
		  "New conntrack entries that clashed at confirmation (conntrack -S "
		  "insert_failed).",
		  PW_COUNTER },
		{ "portwatch_conntrack_drop", "Packets conntrack dropped (conntrack -S drop).",
		  PW_COUNTER },
		{ "portwatch_conntrack_early_drop",
		  "Entries evicted to make room (conntrack -S early_drop).", PW_COUNTER },
	};

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		pw_expo_family(e, fams[f].name, fams[f].type, fams[f].help);
		for (size_t i = 0; i < n; i++) {
			const struct pw_ct_stats *c = &stats[i];
			struct pw_labels l;

			if (!ok[i] || (f == 1 && limit < 0))
				continue;
			pw_labels_init(&l);
			pw_labels_addu(&l, "netns", ns[i].inode);
			pw_expo_sample(e, &l,
				       f == 0	? c->entries
				       : f == 1 ? (double)limit
				       : f == 2 ? c->insert_failed
				       : f == 3 ? c->drop
						: c->early_drop);
		}
	}
}

void pw_expo_end(struct pw_expo *e)
{
	if (e->format == PW_EXPO_OPENMETRICS)
		fputs("# EOF\n", e->out);
}
