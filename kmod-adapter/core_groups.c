// SPDX-License-Identifier: MIT
/*
 * core_groups.c - builds the core's core/src/groups.c, unchanged, into
 * iopfq.ko, and exports nothing: the adapter files of this module are its
 * only callers.
 */
#include "../core/src/groups.c"
