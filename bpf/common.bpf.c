// SPDX-License-Identifier: GPL-2.0
/* The one definition of the maps and globals that common.bpf.h declares. */
#define PW_DEFINE_GLOBALS
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";
