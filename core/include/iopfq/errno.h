/* SPDX-License-Identifier: MIT */
/*
 * iopfq/errno.h - the errno values the core returns, negated, with Linux's
 * numbers (asm-generic/errno-base.h, errno.h), and no other: the adapters'
 * own errors (-ESPIPE, -EFAULT, -EDEADLK, ...) come from the system's
 * errno.h. The core includes no system
 * header, so it names them itself; the kernel mapping and the userspace
 * adapter assert at compile time that they equal the real EINVAL etc.
 */
#ifndef IOPFQ_ERRNO_H
#define IOPFQ_ERRNO_H

#define IOPFQ_ENOENT 2   /* no such device / group */
#define IOPFQ_EIO 5      /* device is in the failed state (PRI disabled) */
#define IOPFQ_EEXIST 17  /* dev_id already attached */
#define IOPFQ_ENODEV 19  /* device handle unknown, stale or detached */
#define IOPFQ_EINVAL 22  /* malformed argument; nothing changed */
#define IOPFQ_ENOSPC 28  /* credit budget or device table exhausted */
#define IOPFQ_EDQUOT 122 /* request beyond the device's PRI credits */

#endif /* IOPFQ_ERRNO_H */
