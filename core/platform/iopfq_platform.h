/* SPDX-License-Identifier: MIT */
/*
 * iopfq_platform.h - the one dependency header of core/.
 *
 * Everything core/ needs from the world it is compiled into is listed here
 * and nowhere else. A platform supplies these and nothing more:
 *
 * Need:
 *   types        iopfq_u8/u16/u32/u64, iopfq_s32/s64, iopfq_size_t, iopfq_uptr
 *                (iopfq/types.h, compiler-predefined, shared by both worlds)
 *   IOPFQ_LOAD_RELAXED(p)          plain atomic load, no ordering
 *   IOPFQ_STORE_RELAXED(p, v)      plain atomic store, no ordering
 *   IOPFQ_LOAD_ACQUIRE(p)          load; later accesses stay after it
 *   IOPFQ_STORE_RELEASE(p, v)      store; earlier accesses stay before it
 *   IOPFQ_CAS_ACQ_REL(p, exp, new) compare-and-swap on a u32, full
 *                                  acquire+release on success; returns the
 *                                  old value (equal to exp iff it succeeded)
 *   IOPFQ_FETCH_ADD(p, v)          u32/s32 fetch-add, acquire+release
 *   IOPFQ_FETCH_ADD_RELAXED(p, v)  u32 fetch-add, no ordering
 *   IOPFQ_XCHG(p, v)               u32 exchange, acquire+release
 *   IOPFQ_STAT_ADD(p, v)           u64 statistics add, no ordering;
 *                                  readers may see a slightly old value
 *   IOPFQ_SMP_MB()                 full fence: orders earlier stores
 *                                  against later loads (Dekker)
 *   IOPFQ_CPU_RELAX()              spin-loop hint
 *   IOPFQ_CACHELINE                cache-line size in bytes
 *   IOPFQ_CACHELINE_ALIGNED        alignment attribute for hot fields
 *   IOPFQ_LIKELY(x), IOPFQ_UNLIKELY(x)
 *   IOPFQ_STATIC_ASSERT(c, msg)    (iopfq/types.h)
 *   IOPFQ_WARN_ON(cond)            report a broken invariant once per site;
 *                                  evaluates to cond; never stops the caller
 *   IOPFQ_PROBE(name, args...)     a static trace point with up to 4 integer
 *                                  arguments (the list below); optional: by
 *                                  default it is nothing and its arguments
 *                                  are not evaluated
 *   IOPFQ_PROBE_ENABLED(name)      nonzero only while a tracer is attached
 *                                  to probe @name; guards work done for the
 *                                  probe alone (a clock read); default 0
 *
 * The probes core/ fires (provider "iopfq"; perf names them sdt_iopfq:NAME):
 *   report   (dev_id, pasid, grpid, flags)   a page request entered the ring
 *   deliver  (dev_id, cookie, npages, pasid) iopfq_read() handed a group out
 *   answer   (dev_id, cookie, code, latency_ns) an iopfq_respond() answer won
 *            its cookie; latency_ns is the time since the consumer drained
 *            the group's first page (the reader's and answerer's share of
 *            the fault-to-response time), read from ops.now_ns only while
 *            the probe is enabled
 *
 * Services the core needs at run time (sleeping, clocks, waking the
 * consumer, the RCU grace period, answering the hardware) are not here:
 * they are the function pointers of struct iopfq_ops, supplied per queue,
 * because they differ per adapter, not per compiler.
 *
 * The mapping is chosen by __KERNEL__: iopfq_platform_kernel.h maps the list
 * onto READ_ONCE/WRITE_ONCE, smp_load_acquire/smp_store_release, cmpxchg and
 * atomic_t; iopfq_platform_user.h maps it onto the GCC/Clang __atomic
 * builtins and needs no libc.
 */
#ifndef IOPFQ_PLATFORM_H
#define IOPFQ_PLATFORM_H

#include "../include/iopfq/types.h"

#if defined(__KERNEL__)
#include "iopfq_platform_kernel.h"
#else
#include "iopfq_platform_user.h"
#endif

#ifndef IOPFQ_CACHELINE
#error "platform mapping must define IOPFQ_CACHELINE"
#endif

/* No tracer: probes compile to nothing (the kernel mapping, freestanding builds) */
#ifndef IOPFQ_PROBE
#define IOPFQ_PROBE(name, ...) ((void)0)
#define IOPFQ_PROBE_ENABLED(name) 0
#endif

#endif /* IOPFQ_PLATFORM_H */
