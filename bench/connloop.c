// SPDX-License-Identifier: GPL-2.0
/*
 * connloop N [PORT] [tw]: N TCP connect()+close() pairs to a listener of its
 * own on 127.0.0.1:PORT (default 9100; a thread accepts and closes), then
 * prints "connects N ns T rate R" (T: wall-clock ns of the loop, R: per
 * second). By default the client aborts (SO_LINGER 0), so no TIME_WAIT piles
 * up and the loop measures connect() itself; with "tw" it closes first and
 * leaves N sockets in TIME_WAIT (for snapshot benchmarks).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listener;

static void *acceptor(void *arg)
{
	long n = (long)arg;

	for (long i = 0; i < n; i++) {
		int fd = accept(listener, NULL, NULL);

		char c;

		if (fd < 0) {
			perror("connloop: accept");
			exit(1);
		}
		/* Close after the client's FIN or RST: the client closes first. */
		while (read(fd, &c, 1) > 0)
			;
		close(fd);
	}
	return NULL;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	long n = argc > 1 ? atol(argv[1]) : 0;
	int one = 1, tw = argc > 3 && !strcmp(argv[3], "tw");
	unsigned long long start, ns;
	pthread_t t;

	if (n <= 0) {
		fprintf(stderr, "usage: connloop N [PORT]\n");
		return 2;
	}
	sa.sin_port = htons(argc > 2 ? atoi(argv[2]) : 9100);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener, (struct sockaddr *)&sa, sizeof(sa)) || listen(listener, 4096)) {
		perror("connloop: listen");
		return 1;
	}
	pthread_create(&t, NULL, acceptor, (void *)n);
	start = now_ns();
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct linger lin = { .l_onoff = 1, .l_linger = 0 };

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			fprintf(stderr, "connloop: connect %ld: %s\n", i, strerror(errno));
			return 1;
		}
		/* An abortive close: no TIME_WAIT, so ports never run out. */
		if (!tw)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
		close(fd);
	}
	ns = now_ns() - start;
	pthread_join(t, NULL);
	printf("connects %ld ns %llu rate %.0f\n", n, ns, n * 1e9 / ns);
	return 0;
}
