/* SPDX-License-Identifier: GPL-2.0 */
/* Log2 histograms as people know them from bcc's *lat tools, in text and JSON. */
#ifndef PORTWATCH_HIST_H
#define PORTWATCH_HIST_H

#include <stdio.h>
#include <linux/types.h>
#include <json-c/json.h>

/*
 * Print slots[0..n) where slot i counts values in [2^i, 2^(i+1)) (slot 0:
 * [0, 1]): one row per slot from the first to the last non-empty one, with a
 * bar scaled to the largest. Prints nothing when every slot is empty.
 */
void pw_hist_print(FILE *out, const __u64 *slots, int n, const char *unit);

/* The non-empty slots as [{"lo": ..., "hi": ..., "count": ...}], NULL on ENOMEM. */
struct json_object *pw_hist_json(const __u64 *slots, int n);

#endif /* PORTWATCH_HIST_H */
