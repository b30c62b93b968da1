// SPDX-License-Identifier: MIT
/*
 * core_queue.c - builds the core's core/src/queue.c, unchanged, into
 * iopfq.ko, and exports nothing: the adapter files of this module are its
 * only callers.
 */
#include "../core/src/queue.c"
