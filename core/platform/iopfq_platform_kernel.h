/* SPDX-License-Identifier: MIT */
/*
 * iopfq_platform_kernel.h - the platform contract (iopfq_platform.h) mapped
 * onto the Linux kernel's primitives (Documentation/memory-barriers.txt,
 * Documentation/atomic_t.txt). Compiled only with __KERNEL__ defined, by
 * kmod-adapter/'s Kbuild. The core's errno values are checked against the
 * kernel's here.
 */
#ifndef IOPFQ_PLATFORM_KERNEL_H
#define IOPFQ_PLATFORM_KERNEL_H

#include <linux/atomic.h>
#include <linux/bug.h>
#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/processor.h>
#include <asm/barrier.h>

#include "../include/iopfq/errno.h"

#define IOPFQ_LOAD_RELAXED(p) READ_ONCE(*(p))
#define IOPFQ_STORE_RELAXED(p, v) WRITE_ONCE(*(p), (v))
#define IOPFQ_LOAD_ACQUIRE(p) smp_load_acquire(p)
#define IOPFQ_STORE_RELEASE(p, v) smp_store_release((p), (v))
/* cmpxchg() is fully ordered on success, which includes acquire+release */
#define IOPFQ_CAS_ACQ_REL(p, exp, newv) cmpxchg((p), (exp), (newv))
/* the fetch-adds act on plain u32/s32 fields; the kernel's atomic_t is an int */
#define IOPFQ_FETCH_ADD(p, v)                                                  \
	((__typeof__(*(p)))atomic_fetch_add((int)(v), (atomic_t *)(p)))
#define IOPFQ_FETCH_ADD_RELAXED(p, v)                                          \
	((__typeof__(*(p)))atomic_fetch_add_relaxed((int)(v), (atomic_t *)(p)))
#define IOPFQ_XCHG(p, v) xchg((p), (v))
/* u64 statistics: atomic64_t is { s64 counter }, same layout as a u64 */
#define IOPFQ_STAT_ADD(p, v) atomic64_add((s64)(v), (atomic64_t *)(p))
#define IOPFQ_SMP_MB() smp_mb()
#define IOPFQ_CPU_RELAX() cpu_relax()
#define IOPFQ_CACHELINE L1_CACHE_BYTES
#define IOPFQ_CACHELINE_ALIGNED ____cacheline_aligned
#define IOPFQ_LIKELY(x) likely(x)
#define IOPFQ_UNLIKELY(x) unlikely(x)
#define IOPFQ_WARN_ON(cond) WARN_ON_ONCE(cond)

static_assert(IOPFQ_ENOENT == ENOENT);
static_assert(IOPFQ_EIO == EIO);
static_assert(IOPFQ_EEXIST == EEXIST);
static_assert(IOPFQ_ENODEV == ENODEV);
static_assert(IOPFQ_EINVAL == EINVAL);
static_assert(IOPFQ_ENOSPC == ENOSPC);
static_assert(IOPFQ_EDQUOT == EDQUOT);
static_assert(sizeof(atomic_t) == sizeof(iopfq_u32));
static_assert(sizeof(atomic64_t) == sizeof(iopfq_u64));

#endif /* IOPFQ_PLATFORM_KERNEL_H */
