// SPDX-License-Identifier: GPL-2.0
/*
 * sockop: runs a script of socket calls and prints the outcome of each, so
 * the integration tests can compare what portwatch reports with what the
 * caller saw. Sockets are kept open until the process exits.
 *
 *   sockop [STEP...]       steps run in order:
 *     tcp | udp            protocol of the steps that follow (default tcp)
 *     syncnt N             TCP_SYNCNT for the following connects
 *     comm NAME            set the process's name (prctl PR_SET_NAME), any bytes
 *     listen ADDR PORT     bind and listen (backlog 4096)
 *     connect ADDR PORT N  N blocking connects
 *     nbconnect ADDR PORT  one non-blocking connect, left in progress
 *     bind ADDR PORT       bind a new socket (PORT 0: any)
 *     bindconnect LADDR LPORT ADDR PORT
 *                          one connect from a new socket bound first (SO_REUSEADDR)
 *                          to LADDR:LPORT; prints "bindconnect ADDR PORT ..."; a bind
 *                          that fails is "bindconnect LADDR LPORT err ..."
 *     bindn ADDR PORT N    bind N new sockets; prints "bindn ADDR PORT bound B failed F"
 *     sendto ADDR PORT     send one datagram from a new, unbound socket
 *     sendn ADDR PORT N    send N datagrams from one new socket; prints
 *                          "sendn ADDR PORT sent S failed F"
 *     listen0              listen on a new, unbound socket (autobind)
 *     ethsend IFNAME N     send N broadcast Ethernet frames of EtherType 0x88b5
 *                          (local experimental: no protocol handles it) on
 *                          IFNAME; prints "ethsend IFNAME sent S failed F"
 *     wait                 print "waiting", then wait for SIGUSR1 to go on
 *     accept N             accept N connections on the last listening socket;
 *                          prints "accept N ok" or "accept err <errno> <name>"
 *     writeall             write one byte on every socket so far; prints
 *                          "writeall ok N failed F"
 *     write                write one byte on the last socket; prints "write ok" or
 *                          "write err <errno> <name>"
 *     close                close every socket so far, oldest first (a connect
 *                          closed before its accepted peer ends in TIME_WAIT);
 *                          prints "closed N"
 *     hold                 print "holding", then wait for a signal
 *
 * Output, one line per call: "<step> <addr> <port> ok <local port>" or
 * "<step> <addr> <port> err <errno> <name>". The first line is "pid <pid>".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int proto = IPPROTO_TCP;
static int syncnt;
static int listener = -1; /* the last listening socket, for accept */
/*
 * The sockets so far (never closed before `close`): fds below max_fd marked
 * in `ours`. Other fds may be inherited (bats keeps its output on fd 3):
 * close and writeall leave those alone.
 */
#define MAX_FDS (1 << 20)
static unsigned char ours[MAX_FDS / 8];
static int max_fd = -1;

static void keep_fd(int fd)
{
	if (fd >= MAX_FDS) {
		fprintf(stderr, "sockop: fd %d past %d\n", fd, MAX_FDS);
		exit(2);
	}
	ours[fd / 8] |= 1 << (fd % 8);
	if (fd > max_fd)
		max_fd = fd;
}

static bool is_ours(int fd)
{
	return ours[fd / 8] & (1 << (fd % 8));
}

static socklen_t make_addr(const char *host, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(atoi(port));
		return sizeof(*in4);
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(atoi(port));
		return sizeof(*in6);
	}
	fprintf(stderr, "sockop: bad address '%s'\n", host);
	exit(2);
}

static int new_socket(int family)
{
	int fd = socket(family, proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM, proto);

	if (fd < 0) {
		perror("sockop: socket");
		exit(2);
	}
	if (proto == IPPROTO_TCP && syncnt)
		setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt));
	keep_fd(fd);
	return fd;
}

static void report(const char *step, const char *host, const char *port, int ret, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int lport = 0;

	if (ret && errno != EINPROGRESS) {
		printf("%s %s %s err %d %s\n", step, host, port, errno, strerrorname_np(errno));
		return;
	}
	if (!getsockname(fd, (struct sockaddr *)&ss, &len))
		lport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	printf("%s %s %s ok %d\n", step, host, port, lport);
}

/* Frames sent of n, each to the broadcast address with EtherType 0x88b5. */
static int eth_send(const char *ifname, int n)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	unsigned char frame[ETH_ZLEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0xb5 };
	int fd = socket(AF_PACKET, SOCK_RAW, 0), sent = 0;

	if (fd < 0) {
		perror("sockop: socket(AF_PACKET)");
		exit(2);
	}
	ll.sll_ifindex = if_nametoindex(ifname);
	if (!ll.sll_ifindex) {
		fprintf(stderr, "sockop: no interface '%s'\n", ifname);
		exit(2);
	}
	memset(ll.sll_addr, 0xff, ETH_ALEN);
	for (int k = 0; k < n; k++)
		sent += sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&ll, sizeof(ll)) ==
			(ssize_t)sizeof(frame);
	close(fd);
	return sent;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	sigset_t usr1;
	int fd = -1, sig;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid %d\n", getpid());
	for (int i = 1; i < argc; i++) {
		const char *step = argv[i];

		if (!strcmp(step, "tcp")) {
			proto = IPPROTO_TCP;
		} else if (!strcmp(step, "udp")) {
			proto = IPPROTO_UDP;
		} else if (!strcmp(step, "syncnt") && i + 1 < argc) {
			syncnt = atoi(argv[++i]);
		} else if (!strcmp(step, "comm") && i + 1 < argc) {
			prctl(PR_SET_NAME, argv[++i]);
		} else if (!strcmp(step, "wait")) {
			printf("waiting\n");
			sigwait(&usr1, &sig);
		} else if (!strcmp(step, "accept") && i + 1 < argc) {
			int n = atoi(argv[++i]), k;

			for (k = 0; k < n; k++) {
				fd = accept(listener, NULL, NULL);
				if (fd < 0)
					break;
				keep_fd(fd);
			}
			if (k == n)
				printf("accept %d ok\n", n);
			else
				printf("accept err %d %s\n", errno, strerrorname_np(errno));
		} else if (!strcmp(step, "close")) {
			int n = 0;

			for (int k = 0; k <= max_fd; k++)
				if (is_ours(k))
					n += !close(k);
			memset(ours, 0, sizeof(ours));
			max_fd = -1;
			printf("closed %d\n", n);
		} else if (!strcmp(step, "writeall")) {
			int ok = 0, failed = 0;

			for (int k = 0; k <= max_fd; k++) {
				if (!is_ours(k))
					continue;
				if (write(k, "x", 1) == 1)
					ok++;
				else
					failed++;
			}
			printf("writeall ok %d failed %d\n", ok, failed);
		} else if (!strcmp(step, "write")) {
			if (write(fd, "x", 1) == 1)
				printf("write ok\n");
			else
				printf("write err %d %s\n", errno, strerrorname_np(errno));
		} else if (!strcmp(step, "hold")) {
			printf("holding\n");
			pause();
		} else if (!strcmp(step, "ethsend") && i + 2 < argc) {
			const char *ifname = argv[++i];
			int n = atoi(argv[++i]), sent = 0;

			sent = eth_send(ifname, n);
			printf("ethsend %s sent %d failed %d\n", ifname, sent, n - sent);
		} else if (!strcmp(step, "bindconnect") && i + 4 < argc) {
			const char *lhost = argv[++i], *lport = argv[++i];
			const char *host = argv[++i], *port = argv[++i];
			struct sockaddr_storage local;
			socklen_t llen = make_addr(lhost, lport, &local);
			int one = 1;

			len = make_addr(host, port, &ss);
			fd = new_socket(ss.ss_family);
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&local, llen))
				report(step, lhost, lport, -1, fd);
			else
				report(step, host, port, connect(fd, (struct sockaddr *)&ss, len), fd);
		} else if (!strcmp(step, "listen0")) {
			fd = new_socket(AF_INET);
			report(step, "-", "-", listen(fd, 16), fd);
		} else if (i + 2 < argc) {
			const char *host = argv[++i], *port = argv[++i];

			len = make_addr(host, port, &ss);
			if (!strcmp(step, "listen")) {
				int one = 1, ret;

				fd = new_socket(ss.ss_family);
				setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
				ret = bind(fd, (struct sockaddr *)&ss, len);
				if (!ret)
					ret = listen(fd, 4096);
				listener = fd;
				report(step, host, port, ret, fd);
			} else if (!strcmp(step, "connect") && i + 1 < argc) {
				int n = atoi(argv[++i]);

				for (int k = 0; k < n; k++) {
					fd = new_socket(ss.ss_family);
					report(step, host, port,
					       connect(fd, (struct sockaddr *)&ss, len), fd);
				}
			} else if (!strcmp(step, "nbconnect")) {
				fd = new_socket(ss.ss_family);
				fcntl(fd, F_SETFL, O_NONBLOCK);
				report(step, host, port, connect(fd, (struct sockaddr *)&ss, len),
				       fd);
			} else if (!strcmp(step, "bindn") && i + 1 < argc) {
				int n = atoi(argv[++i]), bound = 0;

				for (int k = 0; k < n; k++) {
					fd = new_socket(ss.ss_family);
					bound += !bind(fd, (struct sockaddr *)&ss, len);
				}
				printf("bindn %s %s bound %d failed %d\n", host, port, bound, n - bound);
			} else if (!strcmp(step, "bind")) {
				fd = new_socket(ss.ss_family);
				report(step, host, port, bind(fd, (struct sockaddr *)&ss, len), fd);
			} else if (!strcmp(step, "sendn") && i + 1 < argc) {
				int n = atoi(argv[++i]), sent = 0;

				fd = new_socket(ss.ss_family);
				for (int k = 0; k < n; k++)
					sent += sendto(fd, "x", 1, 0, (struct sockaddr *)&ss,
						       len) == 1;
				printf("sendn %s %s sent %d failed %d\n", host, port, sent,
				       n - sent);
			} else if (!strcmp(step, "sendto")) {
				fd = new_socket(ss.ss_family);
				report(step, host, port,
				       sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len) < 0, fd);
			} else {
				fprintf(stderr, "sockop: unknown step '%s'\n", step);
				return 2;
			}
		} else {
			fprintf(stderr, "sockop: step '%s' lacks arguments\n", step);
			return 2;
		}
	}
	return 0;
}
