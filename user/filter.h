/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event filters of `trace`: -p/--pid, --comm, --netns, --cgroup, --dport,
 * --daddr, --container, --pod, --k8s-namespace (these three through the
 * owner's cgroup id and container.h's cache, which the caller sets; the other
 * commands use them and --netns on their rows). All given filters must match
 * (AND). Events are rare enough (one per failed call) that filtering in userspace costs nothing
 * measurable, and it applies the same way to events whose owner came from the owner map.
 */
#ifndef PORTWATCH_FILTER_H
#define PORTWATCH_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include "portwatch.h"
#include "util.h"

enum pw_filter_key {
	PW_FILTER_PID,
	PW_FILTER_COMM,
	PW_FILTER_NETNS,
	PW_FILTER_CGROUP,
	PW_FILTER_DPORT,
	PW_FILTER_DADDR,
	PW_FILTER_CONTAINER,
	PW_FILTER_POD,
	PW_FILTER_K8S_NAMESPACE,
};

struct pw_ctr;
struct pw_ctrs;

struct pw_filter {
	unsigned int set; /* bit (1 << enum pw_filter_key) per filter given */
	__u32 pid;
	char comm[PW_COMM_LEN];
	__u32 netns;
	__u16 dport;
	struct pw_addr daddr;
	char *cgroup_path; /* --cgroup: matches the cgroup and its descendants */
	__u64 *cgroup_ids; /* ids under cgroup_path, rescanned for a newer id */
	size_t nr_cgroup_ids;
	__u64 scanned_upto;   /* the highest cgroup id seen: scanned or of an event */
	char *container;      /* --container: a name, or an id or id prefix */
	char *pod;	      /* --pod NAME */
	char *k8s_namespace;  /* --k8s-namespace NS */
	struct pw_ctrs *ctrs; /* the caller's cache, for the three above (not owned) */
};

/* Whether a container filter (--container, --pod, --k8s-namespace) is set. */
bool pw_filter_wants_containers(const struct pw_filter *f);

/*
 * Whether a resolved container identity (NULL: none, outside containers)
 * passes --container, --pod and --k8s-namespace; true when none is set.
 */
bool pw_filter_match_ctr(const struct pw_filter *f, const struct pw_ctr *c);

/*
 * Set one filter from its option argument. Returns 0, or -EINVAL with a
 * one-line reason in `err` (bad number, unknown address, not a cgroup v2
 * directory, netns file not found).
 */
int pw_filter_set(struct pw_filter *f, enum pw_filter_key key, const char *arg, char *err,
		  size_t err_len);

/*
 * Whether an owner passes the filters that need no tuple or cgroup: --pid,
 * --comm, --netns (for drop keys, which have neither).
 */
bool pw_filter_match_owner(const struct pw_filter *f, const struct pw_owner *owner,
			   bool owner_known);

/* Whether an event's owner and tuple pass every filter set. */
bool pw_filter_match(struct pw_filter *f, const struct pw_owner *owner, bool owner_known,
		     const struct pw_tuple *tuple);

/* Free the cgroup scan and zero f (no filter set). */
void pw_filter_free(struct pw_filter *f);

#endif /* PORTWATCH_FILTER_H */
