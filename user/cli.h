/* SPDX-License-Identifier: GPL-2.0 */
/* Options every watching command takes, as an argp child parser. */
#ifndef PORTWATCH_CLI_H
#define PORTWATCH_CLI_H

#include <argp.h>
#include <signal.h>
#include <stdbool.h>
#include "filter.h"
#include "session.h"

struct pw_common_opts {
	struct pw_session_opts session;
	bool verbose; /* -v: libbpf debug output, verifier logs */
};

/* Defaults: best rung, default map and ring-buffer sizes, quiet. */
void pw_common_defaults(struct pw_common_opts *o);

/*
 * The common options as argp children of a command's parser, which must pass
 * a struct pw_common_opts * as child_inputs[0] on ARGP_KEY_INIT. They also
 * reject positional arguments.
 */
extern const struct argp_child pw_common_children[];
extern const struct argp pw_common_argp; /* the same, for a command with more children */

/*
 * --container, --pod and --k8s-namespace as an argp child whose input is the
 * command's struct pw_filter * (filter.h; the command sets its ctrs cache).
 */
extern const struct argp pw_container_argp;

/* Options of the snapshot commands (ports, check). */
struct pw_snapshot_opts {
	struct pw_filter filter; /* --netns, --container, --pod, --k8s-namespace */
	unsigned long max_rows;	 /* --max-rows: port_rows entries */
	bool json;		 /* -j/--json */
	bool verbose;		 /* -v */
};

#define PW_MAX_ROWS_DEFAULT 65536

/* Zero o, with --max-rows at PW_MAX_ROWS_DEFAULT. */
void pw_snapshot_defaults(struct pw_snapshot_opts *o);

/*
 * --netns, --max-rows, --json, -v and pw_container_argp's options as argp children of a snapshot
 * command's parser, which passes a struct pw_snapshot_opts * as
 * child_inputs[0] on ARGP_KEY_INIT. They also reject positional arguments.
 */
extern const struct argp_child pw_snapshot_children[];

/*
 * Parse whole seconds in [1, max] for `option` ("--duration"); otherwise end
 * the parse with a one-line error naming the option (exit status 2).
 */
void pw_argp_seconds(struct argp_state *state, const char *option, const char *arg,
		     unsigned long max, unsigned long *out);

/*
 * Parse a whole number in [min, max] for `option` ("--drop-rate"); otherwise
 * end the parse with "invalid OPTION 'ARG': a number from MIN to MAX" (exit 2).
 */
void pw_argp_ulong(struct argp_state *state, const char *option, const char *arg, unsigned long min,
		   unsigned long max, unsigned long *out);

/* Set by SIGINT and SIGTERM once pw_catch_signals() ran. */
extern volatile sig_atomic_t pw_exiting;

/* Make SIGINT and SIGTERM set pw_exiting instead of killing the process. */
void pw_catch_signals(void);

/*
 * What each tracing command does to start: catch SIGINT and SIGTERM, then
 * pw_session_open() with the command's options `c` and ring-buffer callback
 * fn(ctx, ...). Returns 0, or -errno after printing the reason on stderr.
 */
int pw_command_session(struct pw_session *s, struct pw_common_opts *c, ring_buffer_sample_fn fn,
		       void *ctx);

/* libbpf's messages: all of them with -v, none without. */
void pw_set_libbpf_print(bool verbose);

#endif /* PORTWATCH_CLI_H */
