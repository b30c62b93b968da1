/* SPDX-License-Identifier: MIT */
/*
 * test_platform.h - the core's hooks for tests: every response, notify,
 * synchronize and aging warning is recorded so that tests can assert on it;
 * the clock is a settable fake unless real_clock is set; synchronize is
 * liburcu's synchronize_rcu() (urcu-memb flavour), as in the userspace
 * adapter. Broken invariants (IOPFQ_WARN_ON) abort the test: the test
 * platform is stricter than the kernel, which would only warn.
 */
#ifndef IOPFQ_TEST_PLATFORM_H
#define IOPFQ_TEST_PLATFORM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <iopfq/iopfq.h>

struct tp_ctx {
	pthread_mutex_t lock;           /* guards the records below */
	struct iopfq_response *resp;    /* every page_response, in call order */
	size_t nresp, resp_cap;
	struct iopfq_aged *aged;        /* every aged warning */
	size_t naged, aged_cap;
	unsigned long notifies;         /* atomic */
	unsigned long synchronizes;     /* atomic */
	uint64_t now_ns;                /* fake clock (atomic) */
	int real_clock;                 /* use CLOCK_MONOTONIC instead */
	/* optional extra hook on each response (stress tests), called unlocked */
	void (*on_response)(void *arg, const struct iopfq_response *r);
	void *on_response_arg;
};

void tp_init(struct tp_ctx *tp);
void tp_destroy(struct tp_ctx *tp);
/* The hooks, for iopfq_init(..., &tp_ops, tp, ...) */
extern const struct iopfq_ops tp_ops;
void tp_set_now(struct tp_ctx *tp, uint64_t now_ns);
void tp_clear(struct tp_ctx *tp);  /* forget recorded responses and warnings */

/* @size bytes (rounded up) aligned to IOPFQ_MEM_ALIGN, for iopfq_init(); free() them */
void *tp_mem_alloc(size_t size);

/* A queue in freshly allocated, cache-line-aligned memory; NULL and *err on failure. */
struct iopfq *tp_queue_new(const struct iopfq_config *cfg, struct tp_ctx *tp, int *err);
void tp_queue_free(struct iopfq *q);

/* A page request / Stop Marker */
struct iopfq_request tp_req(uint32_t pasid, uint32_t grpid, int last, uint64_t addr);
struct iopfq_request tp_marker(uint32_t pasid);

/* iopfq_report() inside a liburcu read-side section (the thread must be registered
 * with tp_thread_online()). */
int tp_report(struct iopfq *q, iopfq_dev_t dev, const struct iopfq_request *req,
	      uint32_t *answer);
void tp_thread_online(void);
void tp_thread_offline(void);

/* accepted == in_ring + partial + ready + delivered + answered + auto_answered + discarded */
int tp_conserved(const struct iopfq_counters *c);

#endif
