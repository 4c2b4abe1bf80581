// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include "metrics.h"
#include "util.h"

#define BACKLOG 64

struct pw_http {
	struct evhttp *http;
	/*
	 * Two listeners on one socket: evhttp's accepts while fewer than
	 * max_connections are open; at the bound it is disabled and `reject`
	 * takes over, answering each new connection with a 503 and closing it.
	 * libevent 2.1 has no evhttp_set_max_connections (2.2 has).
	 */
	struct evconnlistener *accept;
	struct evconnlistener *reject;
	struct pw_http_limits limits;
	pw_http_metrics_fn metrics;
	void *ctx;
	struct pw_http_stats stats;
	/*
	 * Connections accepted in this loop iteration, whose evhttp connection
	 * is not known yet (new_connection gets only the bufferevent); `adopt`
	 * runs after the accept and hooks their close. At most
	 * max_connections: the accepting listener stops at the bound.
	 */
	struct bufferevent **fresh;
	size_t n_fresh;
	struct event *adopt;
	bool closing; /* in pw_http_free: the listeners are gone */
};

int pw_parse_listen(const char *arg, struct pw_listen_addr *out)
{
	const char *colon = strrchr(arg, ':'), *host = arg;
	bool bracketed = arg[0] == '[';
	char buf[INET6_ADDRSTRLEN + 2];
	unsigned long port;
	struct pw_addr a;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!colon || colon == arg)
		return -EINVAL;
	n = colon - arg;
	if (bracketed) {
		if (n < 3 || arg[n - 1] != ']')
			return -EINVAL;
		host++;
		n -= 2;
	}
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, host, n);
	buf[n] = '\0';
	if (pw_parse_ulong(colon + 1, 1, 65535, &port) || pw_parse_addr(buf, &a))
		return -EINVAL;
	/* An IPv6 address must be bracketed, an IPv4 one must not. */
	if ((a.family == AF_INET6) != bracketed)
		return -EINVAL;
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a.bytes, 4);
		out->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a.bytes, 16);
		out->len = sizeof(*sin6);
	}
	return 0;
}

static void count_response(struct pw_http *h, int code)
{
	h->stats.responses[code / 100 < 6 ? code / 100 : 5]++;
}

static void reply_text(struct pw_http *h, struct evhttp_request *req, int code, const char *reason,
		       const char *text)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	if (b)
		evbuffer_add_printf(b, "%s\n", text);
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
	count_response(h, code);
}

static void free_body(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

static void serve_metrics(struct pw_http *h, struct evhttp_request *req)
{
	const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
	bool om = pw_expo_wants_openmetrics(accept);
	struct evbuffer *b;
	char *body = NULL;
	size_t len = 0;
	int ret = h->metrics(h->ctx, om, &body, &len);

	if (ret) {
		free(body);
		reply_text(h, req, 500, "Internal Server Error", strerror(-ret));
		return;
	}
	b = evbuffer_new();
	if (!b || evbuffer_add_reference(b, body, len, free_body, NULL)) {
		free(body);
		if (b)
			evbuffer_free(b);
		reply_text(h, req, 500, "Internal Server Error", "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  pw_expo_content_type(om ? PW_EXPO_OPENMETRICS : PW_EXPO_TEXT));
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
	count_response(h, 200);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct pw_http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (!path) {
		reply_text(h, req, 400, "Bad Request", "bad request target");
		return;
	}
	if (strcmp(path, "/metrics") && strcmp(path, "/healthz")) {
		reply_text(h, req, 404, "Not Found", "not found: use /metrics or /healthz");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(h, req, 405, "Method Not Allowed", "method not allowed: use GET");
		return;
	}
	if (!strcmp(path, "/healthz"))
		reply_text(h, req, 200, "OK", "ok");
	else
		serve_metrics(h, req);
}

/* Below the bound evhttp's listener accepts; at it, the one that refuses. */
static void balance(struct pw_http *h)
{
	if (h->stats.open_connections >= h->limits.max_connections) {
		evconnlistener_disable(h->accept);
		evconnlistener_enable(h->reject);
	} else {
		evconnlistener_disable(h->reject);
		evconnlistener_enable(h->accept);
	}
}

static void connection_closed(struct evhttp_connection *evcon, void *arg)
{
	struct pw_http *h = arg;

	(void)evcon;
	h->stats.open_connections--;
	if (!h->closing)
		balance(h);
}

/*
 * The evhttp connection of each fresh bufferevent is its callbacks' argument
 * once evhttp set them up: its close is hooked there. One evhttp freed
 * already (its callbacks cleared) is counted closed now.
 */
static void adopt(evutil_socket_t fd, short what, void *arg)
{
	struct pw_http *h = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < h->n_fresh; i++) {
		void *evcon = NULL;

		bufferevent_getcb(h->fresh[i], NULL, NULL, NULL, &evcon);
		if (evcon && !h->closing)
			evhttp_connection_set_closecb(evcon, connection_closed, h);
		else
			h->stats.open_connections--;
		bufferevent_decref(h->fresh[i]);
	}
	h->n_fresh = 0;
	if (!h->closing)
		balance(h);
}

/*
 * Each connection evhttp accepts gets its bufferevent here, counted open;
 * held (a reference) until adopt() finds its evhttp connection.
 */
static struct bufferevent *new_connection(struct event_base *base, void *arg)
{
	struct pw_http *h = arg;
	struct bufferevent *bev;

	if (h->n_fresh == h->limits.max_connections)
		return NULL; /* cannot happen: the listener stopped at the bound */
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL;
	bufferevent_incref(bev);
	h->fresh[h->n_fresh++] = bev;
	h->stats.open_connections++;
	balance(h);
	event_active(h->adopt, EV_TIMEOUT, 0);
	return bev;
}

static void refuse(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int socklen,
		   void *arg)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "Content-Length: 21\r\n"
				   "Connection: close\r\n\r\n"
				   "too many connections\n";
	struct pw_http *h = arg;
	char sink[4096];

	(void)lev;
	(void)sa;
	(void)socklen;
	/* Read what already came, so that the close is a FIN, not a reset that loses the 503. */
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	/* A fresh socket's buffer takes these bytes; if not, the close alone says it. */
	(void)!send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	close(fd);
	h->stats.rejected_connections++;
	count_response(h, 503);
}

struct pw_http *pw_http_new(struct event_base *base, const struct pw_listen_addr *addr,
			    const struct pw_http_limits *limits, pw_http_metrics_fn metrics,
			    void *ctx, char *err, size_t err_len)
{
	struct pw_http *h = calloc(1, sizeof(*h));

	if (!h || !(h->http = evhttp_new(base))) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	h->limits = *limits;
	h->fresh = calloc(limits->max_connections, sizeof(*h->fresh));
	h->adopt = event_new(base, -1, 0, adopt, h);
	if (!h->fresh || !h->adopt) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	h->metrics = metrics;
	h->ctx = ctx;
	h->accept = evconnlistener_new_bind(base, NULL, NULL,
					    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
						    LEV_OPT_REUSEABLE,
					    BACKLOG, (const struct sockaddr *)&addr->ss, addr->len);
	if (!h->accept) {
		snprintf(err, err_len, "cannot listen there: %s", strerror(errno));
		goto fail;
	}
	if (!evhttp_bind_listener(h->http, h->accept)) {
		evconnlistener_free(h->accept);
		h->accept = NULL;
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	/* backlog 0: the socket listens already. */
	h->reject = evconnlistener_new(base, refuse, h, LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, 0,
				       evconnlistener_get_fd(h->accept));
	if (!h->reject) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	/* Every method reaches on_request, which answers 405 (evhttp's own answer is 501). */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(h->http, limits->max_header_bytes);
	evhttp_set_max_body_size(h->http, 4096);
	evhttp_set_timeout(h->http, limits->idle_timeout_s);
	evhttp_set_bevcb(h->http, new_connection, h);
	evhttp_set_gencb(h->http, on_request, h);
	return h;
fail:
	pw_http_free(h);
	return NULL;
}

void pw_http_stats(const struct pw_http *h, struct pw_http_stats *out)
{
	*out = h->stats;
}

void pw_http_free(struct pw_http *h)
{
	if (!h)
		return;
	h->closing = true;
	/* Before evhttp closes the socket they share. */
	if (h->reject)
		evconnlistener_free(h->reject);
	if (h->http)
		evhttp_free(h->http);
	for (size_t i = 0; i < h->n_fresh; i++)
		bufferevent_decref(h->fresh[i]);
	if (h->adopt)
		event_free(h->adopt);
	free(h->fresh);
	free(h);
}
