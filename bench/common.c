/* SPDX-License-Identifier: MIT */
/*
 * common.c - the benchmark's clock, CPU pinning, latency histogram, generic wake-up and
 * the consumer-side group assembler the wfcqueue and ck_ring baselines
 * share (iopfq assembles groups inside its own core).
 *
 * May touch: benchmark memory only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

double tsc_per_ns = 1.0;

int ncpu = 1;

void pin_to_cpu(int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	if (cpu < 0) {
		for (i = 0; i < ncpu; i++)
			CPU_SET(i, &set);
	} else {
		CPU_SET(cpu % ncpu, &set);
	}
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tsc_calibrate(void)
{
	uint64_t n0 = mono_ns(), t0 = tsc_now(), n1, t1;

	do {
		n1 = mono_ns();
	} while (n1 - n0 < 50 * 1000 * 1000);
	t1 = tsc_now();
	tsc_per_ns = (double)(t1 - t0) / (double)(n1 - n0);
}

/* ---- generic wake-up ---- */

int waker_init(struct waker *w)
{
	w->sleeping = 0;
	w->efd = eventfd(0, EFD_CLOEXEC);
	return w->efd < 0 ? -errno : 0;
}

void waker_fini(struct waker *w)
{
	if (w->efd >= 0)
		close(w->efd);
}

void waker_after_publish(struct waker *w)
{
	uint64_t one = 1;

	/* full fence between the publish (store) and the check (load); pairs with waker_wait() */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__builtin_expect(__atomic_load_n(&w->sleeping, __ATOMIC_RELAXED), 0) &&
	    __atomic_exchange_n(&w->sleeping, 0, __ATOMIC_ACQ_REL))
		if (write(w->efd, &one, sizeof(one)) < 0)
			abort();
}

void waker_wait(struct waker *w, int (*nonempty)(void *), void *arg)
{
	uint64_t v;

	__atomic_store_n(&w->sleeping, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (nonempty(arg)) {
		__atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
		return;
	}
	if (read(w->efd, &v, sizeof(v)) < 0 && errno != EINTR)
		abort();
	__atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
}

void waker_kick(struct waker *w)
{
	uint64_t one = 1;

	if (write(w->efd, &one, sizeof(one)) < 0)
		abort();
}

/* ---- consumer-side group assembly (baselines) ---- */

int asm_init(struct assembler *a, uint32_t ndev, uint32_t budget)
{
	uint32_t i;

	memset(a, 0, sizeof(*a));
	a->ndev = ndev;
	a->budget = budget;
	a->partial = malloc(sizeof(uint32_t) * ndev * BENCH_NGRP);
	a->groups = calloc(budget, sizeof(*a->groups));
	a->pages = calloc(budget, sizeof(*a->pages));
	if (!a->partial || !a->groups || !a->pages)
		return -ENOMEM;
	for (i = 0; i < ndev * BENCH_NGRP; i++)
		a->partial[i] = ASM_NIL;
	for (i = 0; i < budget; i++) {
		a->groups[i].next = i + 1 < budget ? i + 1 : ASM_NIL;
		a->pages[i].next = i + 1 < budget ? i + 1 : ASM_NIL;
	}
	a->group_free = a->page_free = 0;
	a->ready_head = a->ready_tail = ASM_NIL;
	return 0;
}

void asm_fini(struct assembler *a)
{
	free(a->partial);
	free(a->groups);
	free(a->pages);
}

/* Devices honour their credits, so pages and groups never exceed the budget. */
void asm_add(struct assembler *a, uint32_t dev, const struct iopfq_request *req)
{
	uint32_t *slot = &a->partial[dev * BENCH_NGRP + req->grpid];
	uint32_t pi = a->page_free, gi = *slot;
	struct asm_page *p;
	struct asm_group *g;

	if (pi == ASM_NIL)
		abort(); /* a device broke its credits: the harness is wrong */
	p = &a->pages[pi];
	a->page_free = p->next;
	p->addr = req->addr;
	p->flags = req->flags;
	p->perm = req->perm;
	p->next = ASM_NIL;
	if (gi == ASM_NIL) {
		gi = a->group_free;
		if (gi == ASM_NIL)
			abort();
		g = &a->groups[gi];
		a->group_free = g->next;
		g->dev = dev;
		g->pasid = req->pasid;
		g->grpid = req->grpid;
		g->flags = req->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID;
		g->npages = 1;
		g->first = g->last = pi;
		*slot = gi;
	} else {
		g = &a->groups[gi];
		a->pages[g->last].next = pi;
		g->last = pi;
		g->npages++;
	}
	if (req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) {
		*slot = ASM_NIL;
		g->next = ASM_NIL;
		if (a->ready_tail == ASM_NIL)
			a->ready_head = gi;
		else
			a->groups[a->ready_tail].next = gi;
		a->ready_tail = gi;
	}
}

unsigned asm_pop(struct assembler *a, struct iopfq_hwpt_pgfault *recs, uint32_t dev_id,
		 uint32_t cookie)
{
	uint32_t gi = a->ready_head, pi;
	struct asm_group *g = &a->groups[gi];
	unsigned n = 0;

	for (pi = g->first; pi != ASM_NIL; pi = a->pages[pi].next) {
		struct iopfq_hwpt_pgfault *r = &recs[n++];

		r->flags = a->pages[pi].flags;
		r->dev_id = dev_id;
		r->pasid = g->pasid;
		r->grpid = g->grpid;
		r->perm = a->pages[pi].perm;
		r->__reserved = 0;
		r->addr = a->pages[pi].addr;
		r->length = 0;
		r->cookie = cookie;
	}
	a->pages[g->last].next = a->page_free;
	a->page_free = g->first;
	a->ready_head = g->next;
	if (a->ready_head == ASM_NIL)
		a->ready_tail = ASM_NIL;
	g->next = a->group_free;
	a->group_free = gi;
	return n;
}
