// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

void pw_expo_end(struct pw_expo *e)
{
	if (e->format == PW_EXPO_OPENMETRICS)
		fputs("# EOF\n", e->out);
}
