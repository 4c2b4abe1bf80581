/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers every command needs: strict parsing and kernel plumbing. */
#ifndef PORTWATCH_UTIL_H
#define PORTWATCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* An IP address as portwatch carries it: network byte order, IPv4 in [0..3]. */
struct pw_addr {
	__u16 family; /* AF_INET or AF_INET6 */
	__u8 bytes[16];
};

/*
 * Parse a whole decimal number in [min, max]. Returns 0, or -EINVAL for
 * anything else (empty, sign, trailing characters, out of range).
 */
int pw_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Parse a numeric IPv4 or IPv6 address. Returns 0 or -EINVAL. */
int pw_parse_addr(const char *s, struct pw_addr *out);

/*
 * Format `bytes` (network byte order) of `family` into buf: dotted quad or
 * RFC 5952 IPv6. Returns buf; "?" for an unknown family.
 */
const char *pw_format_addr(__u16 family, const __u8 bytes[16], char *buf, size_t len);

/* "EADDRNOTAVAIL" for 99; "E<n>" for numbers glibc does not name. */
const char *pw_errno_name(int err, char *buf, size_t len);

/*
 * Copy at most `n` bytes of `in` (up to its first NUL) into `out` for a
 * terminal: printable ASCII as is, a backslash as "\\", any other byte as
 * "\xNN" (as ss and ps do), so a process name or an interface name cannot
 * move the cursor, change colours or forge a line. `size` must be at least
 * PW_ESCAPED_SIZE(n); the result is NUL-terminated. Returns out. JSON output
 * needs none of this: json-c escapes its strings.
 */
#define PW_ESCAPED_SIZE(n) (4 * (n) + 1)
char *pw_escape(const char *in, size_t n, char *out, size_t size);

/* The first number in a file such as /proc/sys/..., or -1 when unreadable. */
long pw_read_long(const char *path);

/*
 * Mount tracefs at /sys/kernel/tracing if no tracefs is reachable: libbpf
 * attaches classic tracepoints through it. Returns 0 or -errno.
 */
int pw_ensure_tracefs(void);

/*
 * An O_RDONLY descriptor of the cgroup v2 root: the first cgroup2 mount in
 * /proc/self/mounts, else a detached cgroup2 mount of this process's own
 * (nothing stays mounted after it exits, even killed). Returns the fd or
 * -errno.
 */
int pw_cgroup2_root_fd(void);

/*
 * The cgroup v2 id of a cgroupfs directory (its inode number, what
 * bpf_get_current_cgroup_id() returns). Returns 0 or -errno.
 */
int pw_cgroup_id(const char *path, __u64 *id);

/*
 * Call fn(key, ctx) for each key of the BPF map `fd` (keys of key_size bytes,
 * at most PW_MAP_KEY_MAX). Each key's successor is taken before fn runs, so
 * fn may delete the key without restarting the walk (a get_next_key from a
 * deleted key starts over at the first bucket). Stops at the first nonzero
 * return of fn and returns it; 0 after the last key; -E2BIG for a key too big.
 */
#define PW_MAP_KEY_MAX 128
int pw_map_for_each(int fd, size_t key_size, int (*fn)(const void *key, void *ctx), void *ctx);

/*
 * One pass of the BPF iterator attached as `link_fd`: its output is read to
 * the end and discarded (the programs write to maps). Returns 0 or -errno.
 */
int pw_iter_run(int link_fd);

/* Why portwatch cannot run on a kernel without BTF, in one line. */
#define PW_NO_BTF_MSG \
	"kernel BTF not found (/sys/kernel/btf/vmlinux): portwatch needs CONFIG_DEBUG_INFO_BTF=y"

#endif /* PORTWATCH_UTIL_H */
