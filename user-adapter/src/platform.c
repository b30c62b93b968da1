/* SPDX-License-Identifier: MIT */
/*
 * platform.c - the userspace side of the core's platform contract that is
 * not a macro: iopfq_platform_warn() (core/platform/iopfq_platform_user.h),
 * and the compile-time proof that iopfq/errno.h has Linux's numbers.
 *
 * May touch: stderr and one process-wide counter.
 */
#include <errno.h>
#include <stdio.h>

#define IOPFQ_BUILDING_LIBRARY
#include <iopfq/user.h>

#include "iopfq_platform.h" /* declares iopfq_platform_warn() */

IOPFQ_STATIC_ASSERT(IOPFQ_ENOENT == ENOENT, "ENOENT");
IOPFQ_STATIC_ASSERT(IOPFQ_EIO == EIO, "EIO");
IOPFQ_STATIC_ASSERT(IOPFQ_EEXIST == EEXIST, "EEXIST");
IOPFQ_STATIC_ASSERT(IOPFQ_ENODEV == ENODEV, "ENODEV");
IOPFQ_STATIC_ASSERT(IOPFQ_EINVAL == EINVAL, "EINVAL");
IOPFQ_STATIC_ASSERT(IOPFQ_ENOSPC == ENOSPC, "ENOSPC");
IOPFQ_STATIC_ASSERT(IOPFQ_EDQUOT == EDQUOT, "EDQUOT");

static unsigned long warnings; /* atomic, relaxed: a count that orders nothing */

/*
 * The core found a broken invariant. The kernel would WARN and go on; so do
 * we: print, count (iopfq_warnings()), never abort. Called from any thread,
 * possibly a producer: fprintf to unbuffered stderr does not allocate.
 */
void iopfq_platform_warn(const char *file, int line, const char *cond)
{
	__atomic_fetch_add(&warnings, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "iopfq: WARNING: IOPFQ_WARN_ON(%s) at %s:%d\n", cond, file, line);
}

IOPFQ_API unsigned long iopfq_warnings(void)
{
	return __atomic_load_n(&warnings, __ATOMIC_RELAXED);
}
