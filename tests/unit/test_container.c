// SPDX-License-Identifier: GPL-2.0
/* Unit tests: container identity from cgroup paths (each runtime's shape),
 * from OCI config.json annotations, and the cache by cgroup id over a
 * fixture tree (a plain directory stands for cgroupfs, its inodes for ids). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "container.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Parse path; expect runtime, id, pod_uid and unit (NULL: none). */
static void expect_path(const char *path, const char *runtime, const char *id, const char *uid,
			const char *unit)
{
	struct pw_ctr c;

	assert_int_equal(pw_ctr_parse_path(path, &c), 0);
	if (runtime)
		assert_string_equal(c.runtime, runtime);
	else
		assert_null(c.runtime);
	if (id)
		assert_string_equal(c.id, id);
	else
		assert_null(c.id);
	if (uid)
		assert_string_equal(c.pod_uid, uid);
	else
		assert_null(c.pod_uid);
	if (unit)
		assert_string_equal(c.unit, unit);
	else
		assert_null(c.unit);
	assert_null(c.name);
	assert_null(c.pod);
	pw_ctr_clear(&c);
}

static void test_parse_path(void **state)
{
	(void)state;
	expect_path("/system.slice/docker-" ID ".scope", "docker", ID, NULL, NULL);
	expect_path("/docker/" ID, "docker", ID, NULL, NULL);
	expect_path("/system.slice/containerd.service/cri-containerd-" ID ".scope", "containerd",
		    ID, NULL, NULL);
	expect_path("/kubepods.slice/kubepods-burstable.slice/"
		    "kubepods-burstable-pod1b2c3d4e_aaaa_bbbb_cccc_0123456789ab.slice/"
		    "cri-containerd-" ID ".scope",
		    "containerd", ID, "1b2c3d4e-aaaa-bbbb-cccc-0123456789ab", NULL);
	expect_path("/kubepods.slice/kubepods-besteffort.slice/"
		    "kubepods-besteffort-pod1b2c3d4e_aaaa_bbbb_cccc_0123456789ab.slice/crio-" ID
		    ".scope",
		    "crio", ID, "1b2c3d4e-aaaa-bbbb-cccc-0123456789ab", NULL);
	expect_path("/kubepods.slice/kubepods-pod1b2c3d4e_aaaa_bbbb_cccc_0123456789ab.slice/"
		    "crio-" ID ".scope",
		    "crio", ID, "1b2c3d4e-aaaa-bbbb-cccc-0123456789ab", NULL);
	/* kubelet's cgroupfs driver: the runtime is not in the path */
	expect_path("/kubepods/burstable/pod1b2c3d4e-aaaa-bbbb-cccc-0123456789ab/" ID, NULL, ID,
		    "1b2c3d4e-aaaa-bbbb-cccc-0123456789ab", NULL);
	/* a pod's own slice: the pod, no container */
	expect_path("/kubepods.slice/kubepods-pod1b2c3d4e_aaaa_bbbb_cccc_0123456789ab.slice", NULL,
		    NULL, "1b2c3d4e-aaaa-bbbb-cccc-0123456789ab", NULL);
	expect_path("/libpod_parent/libpod-" ID, "podman", ID, NULL, NULL);
	expect_path("/machine.slice/libpod-" ID ".scope", "podman", ID, NULL, NULL);
	expect_path("/machine.slice/libpod-" ID ".scope/container", "podman", ID, NULL, NULL);
	/* conmon is not the container */
	expect_path("/machine.slice/libpod-conmon-" ID ".scope", NULL, NULL, NULL,
		    "libpod-conmon-" ID ".scope");
	expect_path("/libpod_parent/conmon", NULL, NULL, NULL, NULL);
	expect_path("/system.slice/nginx.service", NULL, NULL, NULL, "nginx.service");
	expect_path("/user.slice/user-0.slice/session-3.scope", NULL, NULL, NULL,
		    "session-3.scope");
	expect_path("/", NULL, NULL, NULL, NULL);
	expect_path("/system.slice", NULL, NULL, NULL, NULL);
	/* not ids: too short, upper case, a suffix the runtime does not write */
	expect_path("/system.slice/docker-0123.scope", NULL, NULL, NULL, "docker-0123.scope");
	expect_path("/docker/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		    NULL, NULL, NULL, NULL);
	expect_path("/x/crio-" ID ".slice", NULL, NULL, NULL, NULL);
}

static const char crio_config[] =
	"{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"args\":[\"sh\"]},"
	"\"annotations\":{\"io.kubernetes.pod.name\":\"web-7d4b\","
	"\"io.kubernetes.pod.namespace\":\"shop\",\"io.kubernetes.container.name\":\"client\","
	"\"io.container.manager\":\"libpod\"}}";

static const char containerd_config[] =
	"{\"annotations\":{\"io.kubernetes.cri.sandbox-name\":\"api-0\","
	"\"io.kubernetes.cri.sandbox-namespace\":\"prod\","
	"\"io.kubernetes.cri.container-name\":\"app\"}}";

static void test_annotations(void **state)
{
	struct pw_ctr c = {};

	(void)state;
	assert_int_equal(pw_ctr_parse_annotations(crio_config, &c), 0);
	assert_string_equal(c.pod, "web-7d4b");
	assert_string_equal(c.k8s_namespace, "shop");
	assert_string_equal(c.name, "client");
	pw_ctr_clear(&c);

	assert_int_equal(pw_ctr_parse_annotations(containerd_config, &c), 0);
	assert_string_equal(c.pod, "api-0");
	assert_string_equal(c.k8s_namespace, "prod");
	assert_string_equal(c.name, "app");
	pw_ctr_clear(&c);

	/* no annotations, an empty or non-string value: unknown, not a guess */
	assert_int_equal(pw_ctr_parse_annotations("{\"annotations\":{\"io.kubernetes.pod.name\":"
						  "\"\","
						  "\"io.kubernetes.container.name\":7}}",
						  &c),
			 0);
	assert_null(c.pod);
	assert_null(c.name);
	assert_null(c.k8s_namespace);
	assert_int_equal(pw_ctr_parse_annotations("{\"process\":{}}", &c), 0);
	assert_null(c.pod);
	assert_int_equal(pw_ctr_parse_annotations("[1]", &c), -EINVAL);
	assert_int_equal(pw_ctr_parse_annotations("{not json", &c), -EINVAL);
}

static void test_match_and_text(void **state)
{
	struct pw_ctr c = { .runtime = "podman", .id = ID, .name = "pwt-client" };
	char buf[512];

	(void)state;
	assert_true(pw_ctr_matches(&c, "pwt-client"));
	assert_true(pw_ctr_matches(&c, ID));
	assert_true(pw_ctr_matches(&c, "0123"));
	assert_false(pw_ctr_matches(&c, "pwt-clien"));
	assert_false(pw_ctr_matches(&c, "1234"));
	assert_false(pw_ctr_matches(&c, ""));
	assert_false(pw_ctr_matches(NULL, "0123"));
	assert_string_equal(pw_ctr_text(&c, buf, sizeof(buf)), " [ctr pwt-client]");
	assert_string_equal(pw_ctr_label(&c, buf, sizeof(buf)), "pwt-client");
	assert_string_equal(pw_ctr_name_text(&c, buf, sizeof(buf)), "pwt-client");
	c.name = "\x1b[31mEVIL\n";
	assert_string_equal(pw_ctr_text(&c, buf, sizeof(buf)), " [ctr \\x1b[31mEVIL\\x0a]");
	c.name = NULL;
	assert_string_equal(pw_ctr_text(&c, buf, sizeof(buf)), " [ctr 0123456789ab]");
	c.name = "client";
	c.pod = "web-7d4b";
	c.k8s_namespace = "shop";
	assert_string_equal(pw_ctr_text(&c, buf, sizeof(buf)), " [pod shop/web-7d4b ctr client]");
	assert_string_equal(pw_ctr_label(&c, buf, sizeof(buf)), "shop/web-7d4b");
	assert_string_equal(pw_ctr_text(NULL, buf, sizeof(buf)), "");
	assert_string_equal(pw_ctr_label(NULL, buf, sizeof(buf)), "-");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static __u64 inode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* A podman container resolved at the first walk stays known after its files go. */
static void test_cache(void **state)
{
	char dir[] = "/tmp/pw-ctr-XXXXXX", p[1200], cg[256], cg2[256];
	struct pw_ctrs *s;
	const struct pw_ctr *c;
	__u64 id, id2, unit_id;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p),
		 "mkdir -p %s/cg/libpod_parent/libpod-" ID " %s/cg/system.slice/a.service "
		 "%s/var/lib/containers/storage/overlay-containers/" ID "/userdata",
		 dir, dir, dir);
	assert_int_equal(system(p), 0);
	snprintf(p, sizeof(p), "%s/var/lib/containers/storage/overlay-containers/containers.json",
		 dir);
	write_file(p, "[{\"id\":\"ffff\",\"names\":[\"other\"]},{\"id\":\"" ID
		      "\",\"names\":[\"pwt-client\"]}]");
	snprintf(p, sizeof(p),
		 "%s/var/lib/containers/storage/overlay-containers/" ID "/userdata/config.json",
		 dir);
	write_file(p, "{\"annotations\":{\"io.container.manager\":\"libpod\"}}");
	snprintf(cg, sizeof(cg), "%s/cg/libpod_parent/libpod-" ID, dir);
	id = inode(cg);
	snprintf(p, sizeof(p), "%s/cg/system.slice/a.service", dir);
	unit_id = inode(p);
	snprintf(p, sizeof(p), "%s/cg", dir);

	s = pw_ctrs_new(p, dir, 8);
	assert_non_null(s);
	snprintf(p, sizeof(p), "rm -rf %s/var %s", dir, cg);
	assert_int_equal(system(p), 0);
	c = pw_ctrs_lookup(s, id, 0, 0);
	assert_non_null(c);
	assert_string_equal(c->runtime, "podman");
	assert_string_equal(c->id, ID);
	assert_string_equal(c->name, "pwt-client");
	assert_null(c->pod);
	c = pw_ctrs_lookup(s, unit_id, 0, 0);
	assert_non_null(c);
	assert_null(c->id);
	assert_string_equal(c->unit, "a.service");
	/* a cgroup of nothing, and an id never seen */
	snprintf(p, sizeof(p), "%s/cg", dir);
	assert_null(pw_ctrs_lookup(s, inode(p), 0, 0));
	assert_null(pw_ctrs_lookup(s, 0, 0, 0));

	/* a cgroup made after the walk: found by the rescan of newer ids */
	snprintf(cg2, sizeof(cg2), "%s/cg/system.slice/b.service", dir);
	assert_int_equal(mkdir(cg2, 0755), 0);
	id2 = inode(cg2);
	if (id2 > id) {
		c = pw_ctrs_lookup(s, id2, 0, 0);
		assert_non_null(c);
		assert_string_equal(c->unit, "b.service");
	}
	assert_int_equal(pw_ctrs_not_kept(s), 0);
	pw_ctrs_free(s);

	/* a cache of 1 keeps the first cgroup and counts the others */
	snprintf(p, sizeof(p), "%s/cg", dir);
	s = pw_ctrs_new(p, dir, 1);
	assert_non_null(s);
	assert_true(pw_ctrs_not_kept(s) >= 2);
	pw_ctrs_free(s);
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	assert_int_equal(system(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_path),
		cmocka_unit_test(test_annotations),
		cmocka_unit_test(test_match_and_text),
		cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
