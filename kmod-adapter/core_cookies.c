// SPDX-License-Identifier: MIT
/*
 * core_cookies.c - builds the core's core/src/cookies.c, unchanged, into
 * iopfq.ko, and exports nothing: the adapter files of this module are its
 * only callers.
 */
#include "../core/src/cookies.c"
