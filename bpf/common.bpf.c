// SPDX-License-Identifier: GPL-2.0
/* The one definition of the shared maps and globals the headers declare. */
#define PW_DEFINE_GLOBALS
#include "common.bpf.h"
#include "owner.bpf.h"
#include "portsearch.bpf.h"

char LICENSE[] SEC("license") = "GPL";
