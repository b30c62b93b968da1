/* SPDX-License-Identifier: MIT */
/*
 * iopfq_platform_user.h - the platform contract (iopfq_platform.h) mapped onto
 * GCC/Clang __atomic builtins. No libc, no system header: this is also the
 * mapping the freestanding builds (-ffreestanding -nostdlib) compile with.
 *
 * On aarch64, GCC turns __atomic builtins into calls to libgcc's outline
 * atomics unless -mno-outline-atomics is given: a freestanding build passes
 * it (tests/freestanding/check.sh), a build linked with libgcc need not.
 *
 * The warn hook is the only external symbol: iopfq_platform_warn(), which the
 * userspace adapter (and each test program) defines.
 */
#ifndef IOPFQ_PLATFORM_USER_H
#define IOPFQ_PLATFORM_USER_H

#define IOPFQ_LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define IOPFQ_STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define IOPFQ_LOAD_ACQUIRE(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define IOPFQ_STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define IOPFQ_CAS_ACQ_REL(p, exp, newv)                                        \
	({                                                                     \
		__typeof__(*(p)) iopfq_cas_old_ = (exp);                       \
		__atomic_compare_exchange_n((p), &iopfq_cas_old_, (newv), 0,   \
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE); \
		iopfq_cas_old_;                                                \
	})
#define IOPFQ_FETCH_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define IOPFQ_FETCH_ADD_RELAXED(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define IOPFQ_XCHG(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define IOPFQ_STAT_ADD(p, v) ((void)__atomic_fetch_add((p), (v), __ATOMIC_RELAXED))
#define IOPFQ_SMP_MB() __atomic_thread_fence(__ATOMIC_SEQ_CST)

#if defined(__x86_64__) || defined(__i386__)
#define IOPFQ_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define IOPFQ_CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#elif defined(__riscv)
/* Zihintpause "pause", encoded so that older assemblers accept it */
#define IOPFQ_CPU_RELAX() __asm__ __volatile__(".4byte 0x0100000f" ::: "memory")
#else
#define IOPFQ_CPU_RELAX() __asm__ __volatile__("" ::: "memory")
#endif

#if defined(__aarch64__) && defined(__APPLE__)
#define IOPFQ_CACHELINE 128
#else
#define IOPFQ_CACHELINE 64
#endif
#define IOPFQ_CACHELINE_ALIGNED __attribute__((aligned(IOPFQ_CACHELINE)))

#define IOPFQ_LIKELY(x) __builtin_expect(!!(x), 1)
#define IOPFQ_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Defined by whoever links the core in userspace. Must not block. */
void iopfq_platform_warn(const char *file, int line, const char *cond);

#define IOPFQ_WARN_ON(cond)                                                    \
	({                                                                     \
		int iopfq_warn_c_ = !!(cond);                                  \
		if (IOPFQ_UNLIKELY(iopfq_warn_c_))                             \
			iopfq_platform_warn(__FILE__, __LINE__, #cond);        \
		iopfq_warn_c_;                                                 \
	})

/*
 * Probes: USDT (SystemTap SDT notes, <sys/sdt.h>) when the build defines
 * IOPFQ_USDT, which libiopfq's does. A probe is one nop at its site plus an
 * ELF note naming it and where its arguments live; perf and bpftrace turn
 * the nop into a uprobe while they trace. Each probe has a semaphore that
 * the tracer raises while attached (IOPFQ_PROBE_ENABLED): one per probe and
 * translation unit, since the note of each site names its own. sys/sdt.h
 * uses nothing of libc, so the core stays freestanding with it.
 */
#if defined(IOPFQ_USDT)
#define SDT_USE_VARIADIC 1
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#define IOPFQ_PROBE(name, ...) STAP_PROBEV(iopfq, name, __VA_ARGS__)
#define IOPFQ_PROBE_ENABLED(name) IOPFQ_UNLIKELY(iopfq_##name##_semaphore)
#define IOPFQ_PROBE_SEMAPHORE_(name)                                           \
	static volatile unsigned short iopfq_##name##_semaphore                \
		__attribute__((section(".probes"), used))
IOPFQ_PROBE_SEMAPHORE_(report);
IOPFQ_PROBE_SEMAPHORE_(deliver);
IOPFQ_PROBE_SEMAPHORE_(answer);
#endif

#endif /* IOPFQ_PLATFORM_USER_H */
