/* SPDX-License-Identifier: GPL-2.0 */
/* The subcommands: each takes argv from its own name on and returns the exit status. */
#ifndef PORTWATCH_COMMANDS_H
#define PORTWATCH_COMMANDS_H

#define PORTWATCH_VERSION "0.1.0"

int cmd_trace(int argc, char **argv);
int cmd_probes(int argc, char **argv);
int cmd_latency(int argc, char **argv);
int cmd_drops(int argc, char **argv);
int cmd_ports(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif /* PORTWATCH_COMMANDS_H */
