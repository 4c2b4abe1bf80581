// SPDX-License-Identifier: GPL-2.0
/* Unit tests: label escaping, series tables, the two exposition formats, --listen. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>
#include "conntrack.h"
#include "http.h"
#include "metrics.h"
#include "ports.h"

static void test_escape(void **state)
{
	char out[PW_LABEL_ESCAPED_SIZE(16)];

	(void)state;
	/* The format's three escapes. */
	assert_string_equal(pw_label_escape("a\\b\"c\nd", 16, out, sizeof(out)), "a\\\\b\\\"c\\nd");
	/* A terminal escape and a byte that is not UTF-8: text, never raw. */
	assert_string_equal(pw_label_escape("\x1b[2J\xff", 16, out, sizeof(out)),
			    "\\\\x1b[2J\\\\xff");
	/* At most n bytes (comm need not end in a NUL). */
	assert_string_equal(pw_label_escape("curlXXXX", 4, out, sizeof(out)), "curl");
}

static void test_labels(void **state)
{
	struct pw_labels l;

	(void)state;
	pw_labels_init(&l);
	pw_labels_addn(&l, "comm", "we\"ird\n", 16);
	pw_labels_add(&l, "pod", NULL);
	pw_labels_addu(&l, "netns", 4026531840ULL);
	assert_string_equal(l.buf, "comm=\"we\\\"ird\\n\",pod=\"\",netns=\"4026531840\"");
	assert_int_equal(l.len, strlen(l.buf));
}

static void labels_of(struct pw_labels *l, const char *comm)
{
	pw_labels_init(l);
	pw_labels_add(l, "comm", comm);
}

static void test_series_add_set_overflow(void **state)
{
	struct pw_series *s = pw_series_new(100);
	struct pw_labels l;
	char name[16];

	(void)state;
	assert_non_null(s);
	/* Enough sets to grow the table several times; each keeps its own sum. */
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		labels_of(&l, name);
		assert_int_equal(pw_series_add(s, &l, i), 0);
		assert_int_equal(pw_series_add(s, &l, 1), 0);
	}
	assert_int_equal(pw_series_len(s), 100);
	labels_of(&l, "p42");
	assert_true(pw_series_get(s, &l) == 43);
	/* The 101st set does not fit: its counts go to overflow, never lost silently. */
	labels_of(&l, "beyond");
	assert_int_equal(pw_series_add(s, &l, 7), -ENOSPC);
	assert_true(pw_series_overflow(s) == 7);
	assert_true(pw_series_get(s, &l) == -1);
	/* An existing set still grows. */
	labels_of(&l, "p0");
	assert_int_equal(pw_series_add(s, &l, 5), 0);
	assert_true(pw_series_get(s, &l) == 6);
	pw_series_clear(s);
	assert_int_equal(pw_series_len(s), 0);
	assert_int_equal(pw_series_set(s, &l, 0.25), 0);
	assert_true(pw_series_get(s, &l) == 0.25);
	pw_series_free(s);
}

static char *render(enum pw_expo_format f, void (*fill)(struct pw_expo *e))
{
	struct pw_expo e;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	pw_expo_init(&e, out, f);
	fill(&e);
	pw_expo_end(&e);
	fclose(out);
	return buf;
}

static void fill_families(struct pw_expo *e)
{
	struct pw_labels l;

	pw_expo_family(e, "portwatch_x_failures", PW_COUNTER, "Failures.");
	labels_of(&l, "curl");
	pw_expo_sample(e, &l, 15);
	pw_expo_family(e, "portwatch_build", PW_INFO, "Version.");
	pw_labels_init(&l);
	pw_labels_add(&l, "version", "0.1.0");
	pw_expo_sample(e, &l, 1);
	pw_expo_family(e, "portwatch_ratio", PW_GAUGE, "A ratio.");
	pw_expo_sample(e, NULL, 0.5);
}

static void test_text_format(void **state)
{
	char *out = render(PW_EXPO_TEXT, fill_families);

	(void)state;
	assert_string_equal(out, "# HELP portwatch_x_failures_total Failures.\n"
				 "# TYPE portwatch_x_failures_total counter\n"
				 "portwatch_x_failures_total{comm=\"curl\"} 15\n"
				 "# HELP portwatch_build_info Version.\n"
				 "# TYPE portwatch_build_info gauge\n"
				 "portwatch_build_info{version=\"0.1.0\"} 1\n"
				 "# HELP portwatch_ratio A ratio.\n"
				 "# TYPE portwatch_ratio gauge\n"
				 "portwatch_ratio 0.5\n");
	free(out);
}

static void test_openmetrics_format(void **state)
{
	char *out = render(PW_EXPO_OPENMETRICS, fill_families);

	(void)state;
	/* Families named without _total and _info, samples with them; # EOF at the end. */
	assert_string_equal(out, "# HELP portwatch_x_failures Failures.\n"
				 "# TYPE portwatch_x_failures counter\n"
				 "portwatch_x_failures_total{comm=\"curl\"} 15\n"
				 "# HELP portwatch_build Version.\n"
				 "# TYPE portwatch_build info\n"
				 "portwatch_build_info{version=\"0.1.0\"} 1\n"
				 "# HELP portwatch_ratio A ratio.\n"
				 "# TYPE portwatch_ratio gauge\n"
				 "portwatch_ratio 0.5\n"
				 "# EOF\n");
	free(out);
}

static void fill_histogram(struct pw_expo *e)
{
	__u64 slots[4] = { 0, 2, 0, 5 };

	pw_expo_family(e, "portwatch_h_seconds", PW_HISTOGRAM, "H.");
	pw_expo_log2_histogram(e, slots, 4, 0.5);
}

static void test_histogram(void **state)
{
	char *out = render(PW_EXPO_TEXT, fill_histogram);

	(void)state;
	/* Cumulative buckets at 2, 4, 8 ns; the last slot only in +Inf, which equals _count. */
	assert_non_null(strstr(out, "portwatch_h_seconds_bucket{le=\"2e-09\"} 0\n"
				    "portwatch_h_seconds_bucket{le=\"4e-09\"} 2\n"
				    "portwatch_h_seconds_bucket{le=\"8e-09\"} 2\n"
				    "portwatch_h_seconds_bucket{le=\"+Inf\"} 7\n"
				    "portwatch_h_seconds_sum 0.5\n"
				    "portwatch_h_seconds_count 7\n"));
	free(out);
}

static char *render_to(void (*fill)(struct pw_expo *e, void *ctx), void *ctx)
{
	struct pw_expo e;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	pw_expo_init(&e, out, PW_EXPO_TEXT);
	fill(&e, ctx);
	fclose(out);
	return buf;
}

static void fill_ports(struct pw_expo *e, void *ctx)
{
	assert_int_equal(pw_expo_ports(e, ctx, 2), 1);
}

static void port_row(struct pw_port_row *r, __u32 netns, __u32 tgid, __u8 last, __u16 dport,
		     __u64 dest_total)
{
	memset(r, 0, sizeof(*r));
	r->key.netns = netns;
	r->key.tgid = tgid;
	r->key.family = AF_INET;
	r->key.proto = IPPROTO_TCP;
	r->key.daddr[0] = 10;
	r->key.daddr[3] = last;
	r->key.dport = dport;
	r->dest_total = dest_total;
	r->usable = 8;
}

static void test_ports(void **state)
{
	struct pw_port_row rows[4];
	struct pw_netns ns[2] = { { .inode = 7, .walked = true, .lo = 40000, .hi = 40007 },
				  { .inode = 8, .walked = false } };
	struct pw_ports_snapshot s = { rows, 4, ns, 2, 0, 3 };
	char *out;

	(void)state;
	/* Fullest first; two owners of one destination share its totals. */
	port_row(&rows[0], 7, 100, 1, 80, 6);
	port_row(&rows[1], 7, 101, 1, 80, 6);
	port_row(&rows[2], 7, 100, 2, 443, 2);
	port_row(&rows[3], 7, 100, 3, 443, 1);
	out = render_to(fill_ports, &s);
	assert_non_null(strstr(out, "portwatch_ephemeral_ports_in_use{netns=\"7\",proto=\"tcp\","
				    "family=\"ipv4\",daddr=\"10.0.0.1\",dport=\"80\"} 6\n"
				    "portwatch_ephemeral_ports_in_use{netns=\"7\",proto=\"tcp\","
				    "family=\"ipv4\",daddr=\"10.0.0.2\",dport=\"443\"} 2\n#"));
	assert_non_null(strstr(out, "daddr=\"10.0.0.1\",dport=\"80\"} 8\n"));
	assert_non_null(strstr(out, "portwatch_ephemeral_port_utilization_ratio{netns=\"7\","
				    "proto=\"tcp\",family=\"ipv4\",daddr=\"10.0.0.1\","
				    "dport=\"80\"} 0.75\n"));
	/* The third destination is left out, and counted. */
	assert_null(strstr(out, "10.0.0.3"));
	assert_non_null(strstr(out, "\nportwatch_ephemeral_port_destinations_omitted 1\n"));
	assert_non_null(strstr(out, "\nportwatch_port_rows_lost 3\n"));
	/* Ranges of the walked netns only. */
	assert_non_null(
		strstr(out, "\nportwatch_ephemeral_port_range_first{netns=\"7\"} 40000\n#"));
	assert_non_null(strstr(out, "\nportwatch_ephemeral_port_range_last{netns=\"7\"} 40007\n"));
	assert_null(strstr(out, "netns=\"8\""));
	free(out);
}

struct ct_case {
	struct pw_netns ns[2];
	struct pw_ct_stats stats[2];
	bool ok[2];
	long limit;
};

static void fill_conntrack(struct pw_expo *e, void *ctx)
{
	struct ct_case *c = ctx;

	pw_expo_conntrack(e, c->ns, c->stats, c->ok, 2, c->limit);
}

static void test_conntrack(void **state)
{
	struct ct_case c = {
		.ns = { { .inode = 7 }, { .inode = 8 } },
		.stats = { { .entries = 5, .insert_failed = 2, .drop = 3, .early_drop = 1 } },
		.ok = { true, false },
		.limit = 262144
	};
	char *out = render_to(fill_conntrack, &c);

	(void)state;
	assert_non_null(strstr(out, "\nportwatch_conntrack_entries{netns=\"7\"} 5\n"));
	assert_non_null(strstr(out, "\nportwatch_conntrack_entries_limit{netns=\"7\"} 262144\n"));
	assert_non_null(strstr(out, "# TYPE portwatch_conntrack_insert_failed_total counter\n"
				    "portwatch_conntrack_insert_failed_total{netns=\"7\"} 2\n"));
	assert_non_null(strstr(out, "\nportwatch_conntrack_drop_total{netns=\"7\"} 3\n"));
	assert_non_null(strstr(out, "\nportwatch_conntrack_early_drop_total{netns=\"7\"} 1\n"));
	/* A netns whose statistics could not be read has no series. */
	assert_null(strstr(out, "netns=\"8\""));
	free(out);
	/* No limit known: no limit series. */
	c.limit = -1;
	out = render_to(fill_conntrack, &c);
	assert_null(strstr(out, "portwatch_conntrack_entries_limit{"));
	free(out);
}

static void test_wants_openmetrics(void **state)
{
	(void)state;
	assert_false(pw_expo_wants_openmetrics(NULL));
	assert_false(pw_expo_wants_openmetrics("*/*"));
	assert_false(pw_expo_wants_openmetrics("text/plain;version=0.0.4"));
	/* What Prometheus 2.42 sends. */
	assert_true(pw_expo_wants_openmetrics(
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		"version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"));
	assert_false(pw_expo_wants_openmetrics("application/openmetrics-text;q=0, text/plain"));
}

static void test_parse_listen(void **state)
{
	struct pw_listen_addr a;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.ss;

	(void)state;
	assert_int_equal(pw_parse_listen("127.0.0.1:9477", &a), 0);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 9477);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(a.len, sizeof(*sin));
	assert_int_equal(pw_parse_listen("[::1]:80", &a), 0);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 80);
	assert_int_equal(sin6->sin6_addr.s6_addr[15], 1);
	assert_int_equal(pw_parse_listen("[::]:9477", &a), 0);
	/* Bad: no port, port 0 or too big, IPv6 unbracketed, IPv4 bracketed, names. */
	assert_int_equal(pw_parse_listen("127.0.0.1", &a), -EINVAL);
	assert_int_equal(pw_parse_listen("127.0.0.1:0", &a), -EINVAL);
	assert_int_equal(pw_parse_listen("127.0.0.1:65536", &a), -EINVAL);
	assert_int_equal(pw_parse_listen("::1:9477", &a), -EINVAL);
	assert_int_equal(pw_parse_listen("[127.0.0.1]:9477", &a), -EINVAL);
	assert_int_equal(pw_parse_listen("localhost:9477", &a), -EINVAL);
	assert_int_equal(pw_parse_listen(":9477", &a), -EINVAL);
	assert_int_equal(pw_parse_listen("[]:9477", &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_series_add_set_overflow),
		cmocka_unit_test(test_text_format),
		cmocka_unit_test(test_openmetrics_format),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_conntrack),
		cmocka_unit_test(test_wants_openmetrics),
		cmocka_unit_test(test_parse_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
