/* SPDX-License-Identifier: GPL-2.0 */
/*
 * serve's HTTP side, on libevent's evhttp: GET and HEAD of /metrics and
 * /healthz, everything else a clean 4xx; bounded request headers, idle
 * time and concurrent connections. One thread: it runs in the caller's
 * event_base, next to the ring buffer.
 */
#ifndef PORTWATCH_HTTP_H
#define PORTWATCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <linux/types.h>

struct event_base;

/* An address to listen on, from --listen. */
struct pw_listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * Parse "ADDR:PORT": a numeric IPv4 address or a bracketed IPv6 one
 * ("[::1]:9477"), a port from 1 to 65535. Returns 0 or -EINVAL.
 */
int pw_parse_listen(const char *arg, struct pw_listen_addr *out);

/*
 * Fill *body (malloc'd, *len bytes) with the exposition in OpenMetrics when
 * `openmetrics`, else the text format. Returns 0 or -errno (a 500).
 */
typedef int (*pw_http_metrics_fn)(void *ctx, bool openmetrics, char **body, size_t *len);

struct pw_http_limits {
	unsigned int max_connections; /* open at once; beyond, a 503 and close */
	size_t max_header_bytes;      /* request line and headers; beyond, 400 */
	int idle_timeout_s;	      /* a connection silent this long is closed */
};

/* What the server did since it started (exported as metrics). */
struct pw_http_stats {
	__u64 responses[6];	    /* by class: [2] 2xx, [4] 4xx, [5] 5xx */
	__u64 rejected_connections; /* accepted beyond max_connections: 503, closed */
	unsigned int open_connections;
};

struct pw_http;

/*
 * Listen on `addr` (SO_REUSEADDR) within `base`. Returns NULL with a
 * one-line reason in err (address in use, not local, no memory).
 */
struct pw_http *pw_http_new(struct event_base *base, const struct pw_listen_addr *addr,
			    const struct pw_http_limits *limits, pw_http_metrics_fn metrics,
			    void *ctx, char *err, size_t err_len);

void pw_http_stats(const struct pw_http *h, struct pw_http_stats *out);

/* Close the listener and every connection; NULL is fine. */
void pw_http_free(struct pw_http *h);

#endif /* PORTWATCH_HTTP_H */
