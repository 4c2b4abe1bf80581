// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <bpf/bpf.h>

int pw_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int pw_parse_addr(const char *s, struct pw_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *pw_format_addr(__u16 family, const __u8 bytes[16], char *buf, size_t len)
{
	if ((family != AF_INET && family != AF_INET6) || !inet_ntop(family, bytes, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *pw_errno_name(int err, char *buf, size_t len)
{
	const char *name = strerrorname_np(err);

	if (name)
		return name;
	snprintf(buf, len, "E%d", err);
	return buf;
}

static bool is_tracefs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == TRACEFS_MAGIC;
}

char *pw_escape(const char *in, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n && in[i] && o + 5 <= size; i++) {
		unsigned char c = in[i];

		if (c == '\\')
			o += snprintf(out + o, size - o, "\\\\");
		else if (c >= 0x20 && c < 0x7f)
			out[o++] = c;
		else
			o += snprintf(out + o, size - o, "\\x%02x", c);
	}
	out[o] = 0;
	return out;
}

long pw_read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * A tracefs mounted here stays after portwatch exits, on purpose: it is the
 * standard place, mounted at boot on most systems, and bpftool and perf leave
 * it mounted the same way.
 */
int pw_ensure_tracefs(void)
{
	if (is_tracefs("/sys/kernel/tracing") || is_tracefs("/sys/kernel/debug/tracing"))
		return 0;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
		return -errno;
	return 0;
}

/*
 * No cgroup2 is mounted: a cgroup2 root only this process reaches, and that
 * no exit leaves behind. A mount on a path outlives the process (a SIGKILL
 * would leave it for good), so the new mount API makes a detached mount,
 * never attached to any path, gone with its last fd; the BPF link keeps the
 * cgroup it is attached to. Where fsopen() is missing (ENOSYS), the mount goes
 * on FALLBACK and is detached (MNT_DETACH) as soon as its directory is open:
 * the fd keeps it usable, and only a SIGKILL between mount() and umount2()
 * could leave it.
 */
static int cgroup2_private_fd(const char *fallback)
{
	int fs, mnt, fd, err;

	fs = fsopen("cgroup2", FSOPEN_CLOEXEC);
	if (fs >= 0) {
		mnt = fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)
			      ? -1
			      : fsmount(fs, FSMOUNT_CLOEXEC, 0);
		err = errno;
		close(fs);
		if (mnt < 0)
			return -err;
		/* The mount fd is O_PATH, which BPF_LINK_CREATE refuses: open its root. */
		fd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		err = errno;
		close(mnt);
		return fd < 0 ? -err : fd;
	}
	if (errno != ENOSYS)
		return -errno;
	if ((mkdir("/run/portwatch", 0700) && errno != EEXIST) ||
	    (mkdir(fallback, 0700) && errno != EEXIST) ||
	    mount("cgroup2", fallback, "cgroup2", 0, NULL))
		return -errno;
	fd = open(fallback, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = errno;
	umount2(fallback, MNT_DETACH);
	return fd < 0 ? -err : fd;
}

int pw_cgroup2_root_fd(void)
{
	static const char fallback[] = "/run/portwatch/cgroup2";
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	int fd = -ENOENT;

	while (f && (m = getmntent(f)))
		if (!strcmp(m->mnt_type, "cgroup2")) {
			fd = open(m->mnt_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				fd = -errno;
			break;
		}
	if (f)
		endmntent(f);
	if (fd != -ENOENT)
		return fd;
	return cgroup2_private_fd(fallback);
}

int pw_cgroup_id(const char *path, __u64 *id)
{
	struct statfs fs;
	struct stat st;

	if (statfs(path, &fs) || stat(path, &st))
		return -errno;
	if (fs.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = st.st_ino;
	return 0;
}

int pw_map_for_each(int fd, size_t key_size, int (*fn)(const void *key, void *ctx), void *ctx)
{
	char key[PW_MAP_KEY_MAX], next[PW_MAP_KEY_MAX];
	bool more;
	int ret;

	if (key_size > sizeof(key))
		return -E2BIG;
	more = !bpf_map_get_next_key(fd, NULL, next);
	while (more) {
		memcpy(key, next, key_size);
		more = !bpf_map_get_next_key(fd, key, next);
		ret = fn(key, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int pw_iter_run(int link_fd)
{
	char buf[64];
	int fd = bpf_iter_create(link_fd), n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}
