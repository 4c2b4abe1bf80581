// SPDX-License-Identifier: GPL-2.0
/* Unit tests: running code in a netns, and the way back. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include "netns.h"

/* setns() wrapped (-Wl,--wrap=setns): entering succeeds, returning home fails. */
static int home_fd = -1;

int __wrap_setns(int fd, int nstype);
int __wrap_setns(int fd, int nstype)
{
	(void)nstype;
	if (fd == home_fd) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

static int answer(void *ctx)
{
	(void)ctx;
	return 42;
}

static void test_in_netns(void **state)
{
	__u32 self;

	(void)state;
	assert_int_equal(pw_netns_inode("/proc/self/ns/net", &self), 0);
	home_fd = open("/dev/null", O_RDONLY);
	assert_true(home_fd >= 0);
	/* fn's result when home is reached (any other fd "is" home here). */
	assert_int_equal(pw_in_netns("/proc/self/ns/net", self, home_fd + 100, answer, NULL), 42);
	/* Stuck in another netns: -EFAULT, never fn's result. */
	assert_int_equal(pw_in_netns("/proc/self/ns/net", self, home_fd, answer, NULL), -EFAULT);
	/* Another netns than meant, and a missing file. */
	assert_int_equal(pw_in_netns("/proc/self/ns/net", self + 1, home_fd, answer, NULL), -ESRCH);
	assert_int_equal(pw_in_netns("/nonexistent", self, home_fd, answer, NULL), -ENOENT);
	close(home_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_netns),
	};

	return cmocka_run_group_tests_name("netns", tests, NULL, NULL);
}
