/* SPDX-License-Identifier: MIT */
/*
 * test_fault_churn.c - detach and flush under load, through the fault FD.
 *
 * One producer thread per device reports one- and two-page groups on two
 * PASIDs as fast as its credits allow. Each report runs inside the
 * producer's own urcu-memb read-side section (nested around the library's),
 * in which it also loads the device's attach generation and the PASID's
 * flush epoch, and writes both into the record's address. The main thread
 * is the consumer: it waits in epoll, reads, answers most groups at once,
 * hands some to an answerer thread and parks some to answer late, and every
 * few rounds flushes a (device, PASID) (after bumping its epoch) or detaches
 * a device (after clearing its generation) and re-attaches it.
 *
 * Checked:
 *   - after flush(d, p) returns, no record of (d, p) with an older epoch is
 *     ever read; after detach(d) returns, no record of d's old attachment;
 *   - a parked cookie of a flushed or detached target is refused (-EINVAL);
 *     a parked cookie of anything else is still answered;
 *   - the answerer thread's write fails only for cookies whose target was
 *     flushed or detached in the meantime (revocation racing the answer);
 *   - short-lived threads that report once and exit (lazy liburcu
 *     registration, unregistered by the thread-exit destructor) leave the
 *     grace periods of later flushes working;
 *   - at the end: every page conserved, no warning, fd not readable.
 *
 * Runs IOPFQ_STRESS_SECONDS (default 2).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <cmocka.h>

#include <urcu/urcu-memb.h>

#include "user_support.h"

#define NDEV 4
#define NPASID 2
#define CREDITS 16
#define MAXPARK 256

static struct iopfq_fault *f;
static uint64_t cur[NDEV];               /* atomic: gen << 32 | handle, 0 while detached */
static uint32_t epoch[NDEV][NPASID];     /* atomic: bumped before each flush */
static uint32_t gen_of[NDEV];            /* consumer only */
static int stop;                         /* atomic */
static unsigned long violations;         /* atomic */

#define ADDR(gen, ep, seq) (((uint64_t)(gen) << 44) | ((uint64_t)(ep) << 24) | ((seq) & 0xffffffu))
#define ADDR_GEN(a) ((uint32_t)((a) >> 44))
#define ADDR_EPOCH(a) ((uint32_t)(((a) >> 24) & 0xfffffu))

static void violation(const char *what, uint32_t d, uint64_t addr)
{
	__atomic_fetch_add(&violations, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "VIOLATION: %s (device %u, addr %#llx)\n", what, d,
		(unsigned long long)addr);
}

/* ---------------------------------------------------------------------- */
/* producers                                                               */

/* One page inside our own read-side section; retries while over credit. */
static int produce_page(uint32_t d, uint32_t p, uint32_t grpid, int last, uint32_t seq)
{
	for (;;) {
		struct iopfq_request r;
		uint64_t v;
		int rc;

		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			return -1;
		urcu_memb_read_lock();
		v = __atomic_load_n(&cur[d], __ATOMIC_ACQUIRE);
		if (!v) {
			urcu_memb_read_unlock();
			sched_yield();
			return -ENODEV;
		}
		r = page_req(p + 1, grpid, last,
			     ADDR(v >> 32, __atomic_load_n(&epoch[d][p], __ATOMIC_ACQUIRE), seq));
		rc = iopfq_fault_report(f, (iopfq_dev_t)v, &r, NULL);
		urcu_memb_read_unlock();
		if (rc != -EDQUOT)
			return rc;
		sched_yield(); /* credits come back with answers */
	}
}

static void *producer(void *arg)
{
	uint32_t d = (uint32_t)(uintptr_t)arg, seq = 0;
	unsigned seed = 77 + d;

	iopfq_thread_register(); /* before our own urcu_memb_read_lock() */
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint32_t p = (uint32_t)rand_r(&seed) % NPASID, grpid = seq % 512;
		int rc = 0;

		if (rand_r(&seed) & 1)
			rc = produce_page(d, p, grpid, 0, seq++);
		if (rc == 0)
			rc = produce_page(d, p, grpid, 1, seq++);
		if (rc && rc != -ENODEV && rc != -1) {
			fprintf(stderr, "report: %d\n", rc);
			abort();
		}
	}
	return NULL;
}

static void *report_once(void *arg)
{
	struct iopfq_request r = page_req(1, 511, 1, 0);
	uint64_t v = __atomic_load_n(&cur[0], __ATOMIC_ACQUIRE);
	int rc;

	(void)arg;
	/* lazily registered by the library, unregistered when this thread ends;
	 * one try: the main thread, which answers, is waiting for us */
	r.addr = ADDR(v >> 32, __atomic_load_n(&epoch[0][0], __ATOMIC_ACQUIRE), 0);
	rc = iopfq_fault_report(f, (iopfq_dev_t)v, &r, NULL);
	if (rc && rc != -EDQUOT)
		violation("short-lived thread's report failed", 0, (uint64_t)rc);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* the answerer thread                                                     */

struct ticket {
	uint32_t cookie, d, p, epoch, gen;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ticket q[1024];
	unsigned head, tail;
	int done;
	unsigned long answered, refused;
} ans = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static int hand_over(const struct ticket *t)
{
	int ok = 0;

	pthread_mutex_lock(&ans.lock);
	if (ans.tail - ans.head < 1024) {
		ans.q[ans.tail++ % 1024] = *t;
		pthread_cond_signal(&ans.cond);
		ok = 1;
	}
	pthread_mutex_unlock(&ans.lock);
	return ok;
}

static void *answerer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ans.lock);
	for (;;) {
		struct ticket t;
		struct iopfq_hwpt_page_response r;
		ssize_t rc;

		while (ans.head == ans.tail && !ans.done)
			pthread_cond_wait(&ans.cond, &ans.lock);
		if (ans.head == ans.tail)
			break;
		t = ans.q[ans.head++ % 1024];
		pthread_mutex_unlock(&ans.lock);
		r.cookie = t.cookie;
		r.code = IOPFQ_PAGE_RESP_SUCCESS;
		rc = iopfq_fault_write(f, &r, sizeof(r));
		if (rc == -EINVAL) {
			/* only a flush or detach (which bump these first) may have revoked it */
			if (__atomic_load_n(&epoch[t.d][t.p], __ATOMIC_ACQUIRE) == t.epoch &&
			    (uint32_t)(__atomic_load_n(&cur[t.d], __ATOMIC_ACQUIRE) >> 32) == t.gen)
				violation("answer refused, target neither flushed nor detached", t.d,
					  t.cookie);
			ans.refused++;
		} else if (rc != (ssize_t)sizeof(r)) {
			violation("answer failed", t.d, (uint64_t)rc);
		} else {
			ans.answered++;
		}
		pthread_mutex_lock(&ans.lock);
	}
	pthread_mutex_unlock(&ans.lock);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* consumer                                                                */

static struct ticket park[MAXPARK];
static unsigned nparked;
static iopfq_dev_t handle_of[NDEV];

static uint32_t dev_index(uint32_t dev_id)
{
	return dev_id - 1000;
}

static void attach(uint32_t d)
{
	assert_int_equal(iopfq_fault_dev_attach(f, 1000 + d, CREDITS, (void *)(uintptr_t)d,
					    &handle_of[d]), 0);
	gen_of[d]++;
	__atomic_store_n(&cur[d], ((uint64_t)gen_of[d] << 32) | handle_of[d], __ATOMIC_RELEASE);
}

/* Answer (or refuse) the parked cookies that match; keep the rest. */
static void unpark(int all, uint32_t d, int pasid_any, uint32_t p, ssize_t expect)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < nparked; i++) {
		struct ticket *t = &park[i];
		struct iopfq_hwpt_page_response r = { .cookie = t->cookie };

		if (!all && (t->d != d || (!pasid_any && t->p != p))) {
			park[kept++] = *t;
			continue;
		}
		assert_int_equal(iopfq_fault_write(f, &r, sizeof(r)), expect);
	}
	nparked = kept;
}

static void consume(const struct iopfq_hwpt_pgfault *recs, unsigned n, unsigned *seed)
{
	for (unsigned i = 0; i < n; i++) {
		const struct iopfq_hwpt_pgfault *r = &recs[i];
		uint32_t d = dev_index(r->dev_id), p = r->pasid - 1;
		struct ticket t;
		unsigned choice;

		assert_true(d < NDEV && p < NPASID);
		if (ADDR_GEN(r->addr) != gen_of[d])
			violation("record of a detached attachment read", d, r->addr);
		if (ADDR_EPOCH(r->addr) != (epoch[d][p] & 0xfffffu))
			violation("record of a flushed PASID read", d, r->addr);
		if (!(r->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE))
			continue; /* one answer per group: at its last record */
		t = (struct ticket){ r->cookie, d, p, ADDR_EPOCH(r->addr), gen_of[d] };
		choice = (unsigned)rand_r(seed) % 8;
		if (choice == 0 && nparked < MAXPARK) {
			park[nparked++] = t;
		} else if (choice < 3 && hand_over(&t)) {
			/* answered by the answerer thread */
		} else {
			struct iopfq_hwpt_page_response resp = { .cookie = r->cookie };

			assert_int_equal(iopfq_fault_write(f, &resp, sizeof(resp)), RSP);
		}
	}
}

static void test_detach_flush_under_load(void **state)
{
	struct iopfq_config cfg = { .max_devices = NDEV, .credit_budget = NDEV * CREDITS };
	double seconds = env_seconds("IOPFQ_STRESS_SECONDS", 2.0);
	struct iopfq_hwpt_pgfault recs[NDEV * CREDITS];
	pthread_t prod[NDEV], ansr;
	unsigned long flushes = 0, detaches = 0, rounds = 0, records = 0, threads = 0;
	unsigned seed = 4242;
	struct iopfq_counters c;
	uint64_t end;
	int ep;
	struct epoll_event ev = { .events = EPOLLIN };

	(void)state;
	assert_int_equal(iopfq_fault_create(&cfg, NULL, &f), 0);
	for (uint32_t d = 0; d < NDEV; d++)
		attach(d);
	ep = epoll_create1(EPOLL_CLOEXEC);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, iopfq_fault_fd(f), &ev), 0);
	assert_int_equal(pthread_create(&ansr, NULL, answerer, NULL), 0);
	for (uintptr_t d = 0; d < NDEV; d++)
		assert_int_equal(pthread_create(&prod[d], NULL, producer, (void *)d), 0);

	end = now_ns() + (uint64_t)(seconds * 1e9);
	while (now_ns() < end) {
		ssize_t n;
		unsigned action;

		epoll_wait(ep, &ev, 1, 10);
		while ((n = iopfq_fault_read(f, recs, sizeof(recs))) > 0) {
			records += (size_t)n / REC;
			consume(recs, (unsigned)((size_t)n / REC), &seed);
		}
		assert_int_equal(n, 0);
		rounds++;
		action = (unsigned)rand_r(&seed) % 16;
		if (action < 3) {
			uint32_t d = (uint32_t)rand_r(&seed) % NDEV, p = (uint32_t)rand_r(&seed) % NPASID;

			__atomic_fetch_add(&epoch[d][p], 1, __ATOMIC_RELEASE);
			assert_int_equal(iopfq_fault_flush(f, handle_of[d], p + 1, IOPFQ_FLUSH_PASID_VALID | (action == 0 ? IOPFQ_FLUSH_NO_RESPONSE : 0)), 0);
			unpark(0, d, 0, p, -EINVAL);
			flushes++;
		} else if (action == 3) {
			uint32_t d = (uint32_t)rand_r(&seed) % NDEV;

			__atomic_store_n(&cur[d], 0, __ATOMIC_RELEASE);
			assert_int_equal(iopfq_fault_dev_detach(f, handle_of[d]), 0);
			unpark(0, d, 1, 0, -EINVAL);
			attach(d);
			detaches++;
		} else if (action == 4 && nparked) {
			unpark(1, 0, 1, 0, RSP); /* late answers of live groups */
		} else if (action == 5 && threads < 200) {
			pthread_t t;

			assert_int_equal(pthread_create(&t, NULL, report_once, NULL), 0);
			pthread_join(t, NULL);
			threads++;
		}
	}

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (uint32_t d = 0; d < NDEV; d++)
		pthread_join(prod[d], NULL);
	pthread_mutex_lock(&ans.lock);
	ans.done = 1;
	pthread_cond_signal(&ans.cond);
	pthread_mutex_unlock(&ans.lock);
	pthread_join(ansr, NULL);
	unpark(1, 0, 1, 0, RSP);

	assert_int_equal(iopfq_fault_counters(f, &c, NULL), 0);
	assert_int_equal(c.accepted, c.in_ring + c.partial + c.ready + c.delivered + c.answered +
					     c.auto_answered + c.discarded);
	for (uint32_t d = 0; d < NDEV; d++)
		assert_int_equal(iopfq_fault_dev_detach(f, handle_of[d]), 0);
	assert_false(fd_readable(f));
	assert_int_equal(iopfq_fault_counters(f, &c, NULL), 0);
	assert_int_equal(c.accepted, c.answered + c.auto_answered + c.discarded);
	assert_int_equal(c.credits_attached, 0);
	print_message("%lu rounds, %lu records, %lu flushes, %lu detaches, %lu short threads, "
		      "answerer %lu answered %lu refused\n",
		      rounds, records, flushes, detaches, threads, ans.answered, ans.refused);
	assert_int_equal(__atomic_load_n(&violations, __ATOMIC_RELAXED), 0);
	assert_int_equal(iopfq_warnings(), 0);
	assert_true(flushes > 0 && detaches > 0 && records > 0);
	close(ep);
	iopfq_fault_destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detach_flush_under_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
