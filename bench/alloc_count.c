/* SPDX-License-Identifier: MIT */
/*
 * alloc_count.c - a malloc-counting interposer linked into the benchmark
 * binary: malloc, calloc, realloc, memalign, aligned_alloc and
 * posix_memalign defined here take precedence over glibc's for the whole
 * process (liburcu, Concurrency Kit and libiopfq included: symbol
 * interposition by the executable), count one allocation each and forward
 * to glibc's __libc_* entry points.
 *
 * The count is per thread (no shared cache line on the fault path, so
 * counting does not slow the baselines that allocate); threads fold their
 * count into a global total when they exit, and the harness reads totals
 * only at quiescent points or from its own threads.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>

#include "bench.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#define MAX_COUNTED_THREADS 256

static __thread uint64_t thread_allocs;
static __thread int thread_slot = -1;
static uint64_t *thread_counters[MAX_COUNTED_THREADS];  /* atomic pointers */
static int thread_next;                                  /* atomic */
static uint64_t unslotted_allocs;                        /* atomic */
static pthread_key_t exit_key;
static int exit_key_ok;

void alloc_count_thread_exit(void);

static void on_thread_exit(void *unused)
{
	(void)unused;
	alloc_count_thread_exit();
}

__attribute__((constructor)) static void alloc_count_init(void)
{
	exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

static inline void count_one(void)
{
	if (__builtin_expect(thread_slot < 0, 0)) {
		int s = __atomic_fetch_add(&thread_next, 1, __ATOMIC_RELAXED);

		if (s >= MAX_COUNTED_THREADS) {
			thread_slot = MAX_COUNTED_THREADS;
		} else {
			thread_slot = s;
			__atomic_store_n(&thread_counters[s], &thread_allocs, __ATOMIC_RELEASE);
			/* fold the count in at thread exit (a low key: no allocation) */
			if (exit_key_ok)
				pthread_setspecific(exit_key, (void *)1);
		}
	}
	if (thread_slot >= MAX_COUNTED_THREADS)
		__atomic_fetch_add(&unslotted_allocs, 1, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&thread_allocs, thread_allocs + 1, __ATOMIC_RELAXED);
}

/*
 * Sum of every thread's count. A thread's TLS counter stays readable only
 * while it lives; the harness reads totals while its threads run (window
 * start and end), and exited threads are never read again: their slot is
 * cleared by the pthread key below.
 */
uint64_t alloc_count_total(void)
{
	uint64_t sum = __atomic_load_n(&unslotted_allocs, __ATOMIC_RELAXED);
	int i, n = __atomic_load_n(&thread_next, __ATOMIC_ACQUIRE);

	if (n > MAX_COUNTED_THREADS)
		n = MAX_COUNTED_THREADS;
	for (i = 0; i < n; i++) {
		uint64_t *c = __atomic_load_n(&thread_counters[i], __ATOMIC_ACQUIRE);

		if (c)
			sum += __atomic_load_n(c, __ATOMIC_RELAXED);
	}
	return sum;
}

/* called at thread exit (pthread key destructor) */
void alloc_count_thread_exit(void)
{
	if (thread_slot >= 0 && thread_slot < MAX_COUNTED_THREADS) {
		__atomic_fetch_add(&unslotted_allocs, thread_allocs, __ATOMIC_RELAXED);
		__atomic_store_n(&thread_counters[thread_slot], NULL, __ATOMIC_RELEASE);
	}
	thread_slot = MAX_COUNTED_THREADS;
}

void *malloc(size_t n)
{
	count_one();
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	count_one();
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	count_one();
	return __libc_realloc(p, n);
}

void *memalign(size_t a, size_t n)
{
	count_one();
	return __libc_memalign(a, n);
}

void *aligned_alloc(size_t a, size_t n)
{
	count_one();
	return __libc_memalign(a, n);
}

int posix_memalign(void **out, size_t a, size_t n)
{
	void *p;

	count_one();
	p = __libc_memalign(a, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
