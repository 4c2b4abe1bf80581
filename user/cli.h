/* SPDX-License-Identifier: GPL-2.0 */
/* Options every watching command takes, as an argp child parser. */
#ifndef PORTWATCH_CLI_H
#define PORTWATCH_CLI_H

#include <argp.h>
#include <stdbool.h>
#include "session.h"

struct pw_common_opts {
	struct pw_session_opts session;
	bool verbose; /* -v: libbpf debug output, verifier logs */
};

/* Defaults: best rung, default map and ring-buffer sizes, quiet. */
void pw_common_defaults(struct pw_common_opts *o);

/* The child parser; its input is a struct pw_common_opts *. */
extern const struct argp pw_common_argp;

/* libbpf's messages: all of them with -v, none without. */
void pw_set_libbpf_print(bool verbose);

#endif /* PORTWATCH_CLI_H */
