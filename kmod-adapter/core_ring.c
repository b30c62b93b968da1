// SPDX-License-Identifier: MIT
/*
 * core_ring.c - builds the core's core/src/ring.c, unchanged, into iopfq.ko.
 * The core is compiled as is; its one platform header picks the kernel
 * mapping (core/platform/iopfq_platform_kernel.h) because __KERNEL__ is set.
 */
#include "../core/src/ring.c"
