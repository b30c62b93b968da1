// SPDX-License-Identifier: MIT
/*
 * core_devices.c - builds the core's core/src/devices.c, unchanged, into
 * iopfq.ko, and exports nothing: the adapter files of this module are its
 * only callers.
 */
#include "../core/src/devices.c"
