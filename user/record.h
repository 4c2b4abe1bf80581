/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Decoding and printing of ring-buffer records (bpf/portwatch.h): each
 * record kind's text columns and JSON object, side by side in record.c.
 * Functions of a record and a clock (and, for drops, the names of a
 * struct pw_dropctx), so the unit tests drive them with hand-made records.
 */
#ifndef PORTWATCH_RECORD_H
#define PORTWATCH_RECORD_H

#include <stdio.h>
#include <linux/types.h>
#include <json-c/json.h>
#include "portwatch.h"

struct pw_dropctx;
struct pw_ctr;

/* Maps record time (CLOCK_BOOTTIME ns) to wall-clock time. */
struct pw_clock {
	__s64 boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME, ns */
};

/* The offset between the two clocks, now. */
void pw_clock_init(struct pw_clock *c);

/*
 * Wall-clock time of a record: ISO 8601 UTC with microseconds
 * ("2026-11-21T10:30:47.123456Z") when iso, else local "HH:MM:SS".
 */
const char *pw_format_ts(const struct pw_clock *c, __u64 ts_ns, int iso, char *buf, size_t len);

const char *pw_op_name(__u8 op);	  /* "connect", "bind", "autobind" */
const char *pw_proto_name(__u8 proto);	  /* "tcp", "udp", "icmp", "icmpv6", "?" */
const char *pw_family_name(__u16 family); /* "ipv4", "ipv6" */

const char *pw_rung_name(__u8 rung);	  /* "fentry", "kprobe", "tracepoint", "classic-tp" */
const char *pw_owner_src_name(__u8 src);  /* "none", "live", "seeded" */

/*
 * A packet's protocols from its ethertype (host byte order) and IP protocol
 * (0: none): "ipv4/tcp", "ipv6/icmpv6", "ipv4/47", "arp"; "0x88cc" for an unnamed
 * ethertype. Returns buf.
 */
const char *pw_packet_proto_name(__u16 l3proto, __u8 l4proto, char *buf, size_t len);

/* Parse a rung name as --attach takes it. Returns enum pw_rung or -EINVAL. */
int pw_rung_parse(const char *name);

/*
 * Check a record's type against its size. Returns the enum pw_rec_type, or
 * -EINVAL for a record too short for its type or of unknown type.
 */
int pw_record_check(const void *data, size_t size);

/* The owner and tuple of a checked record, for filtering. */
void pw_record_subject(const void *data, const struct pw_owner **owner,
		       const struct pw_tuple **tuple);

/*
 * The JSON object of a checked port-allocation or connect failure, field
 * names as documented in the README (trace --json); drops are
 * pw_drop_json()'s. `ctr`: the owner's container (container.h), NULL when
 * unknown; the text line ends with its pw_ctr_text() suffix. Returns NULL only when out of memory.
 */
struct json_object *pw_record_json(const void *data, const struct pw_clock *c,
				   const struct pw_ctr *ctr);

/* "drop" JSON object of a PW_REC_DROP record, fields as the README documents. */
struct json_object *pw_drop_json(struct pw_dropctx *c, const struct pw_drop *e,
				 const struct pw_clock *clock, const struct pw_ctr *ctr);

/*
 * A `lost` object: records the ring buffer could not take, owner-map
 * evictions, drop records the rate limit held back and cgroups whose
 * container identity the full cache could not keep (container.h), since the
 * last one, at boot-time `ts_ns`.
 */
struct json_object *pw_lost_json(const struct pw_clock *c, __u64 ts_ns, __u64 records,
				 __u64 owner_evictions, __u64 drops_suppressed,
				 __u64 containers_not_cached);

/*
 * Add an owner's container fields to o: container, container_id, runtime,
 * pod, k8s_namespace, unit; each null when unknown (c NULL: all null).
 */
void pw_json_add_container(struct json_object *o, const struct pw_ctr *c);

/*
 * "1.2.3.4:80" or "[::1]:80" of an address in network byte order and a port
 * in host byte order; a zero port prints as "*".
 */
const char *pw_format_endpoint(__u16 family, const __u8 addr[16], __u16 port, char *buf,
			       size_t len);

/* The text column header, then one line per record. */
void pw_text_header(FILE *out);
/* Port-allocation and connect failures; drops print through pw_drop_text(). */
void pw_record_text(FILE *out, const void *data, const struct pw_clock *c,
		    const struct pw_ctr *ctr);
/* One text line of a PW_REC_DROP record, in trace's columns. */
void pw_drop_text(FILE *out, struct pw_dropctx *c, const struct pw_drop *e,
		  const struct pw_clock *clock, const struct pw_ctr *ctr);

#endif /* PORTWATCH_RECORD_H */
