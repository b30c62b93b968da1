/* SPDX-License-Identifier: MIT */
/*
 * stress_queue.c - the whole queue under concurrency: one simulated device
 * per producer thread (honouring its PRI credits, reporting multi-page
 * groups, sometimes abandoning a group with a Stop Marker), one reader,
 * two responder threads that also answer some cookies twice, and a control
 * thread that flushes PASIDs, detaches and re-attaches devices and scans
 * for aged groups, all at once. Run under TSan and ASan+UBSan by the test
 * command.
 *
 * At the end it checks: every complete group was answered exactly once (by
 * the user, or INVALID by flush/detach), no answer came for a group the
 * device did not have outstanding, every device got all its credits back,
 * the conservation law holds, the counters agree with what the threads saw,
 * and no producer ever found its ring slot still in use (claim_waits == 0).
 * While it runs, after each read, flush and detach (under the consumer
 * lock, answers still racing): every busy response slot is on its device's
 * list, the one revokes walk, and no list holds more than 3 x credits + 2
 * slots (core/src/cookies.c).
 *
 * Geometries: a roomy one, and tiny ones (cookie table of 4 and 8 slots,
 * 2-bit generations, 1 credit per device) where slot reuse, generation
 * wrap and revoke/answer races happen constantly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_platform.h"
#include "internal.h" /* the response slots' device lists, checked white box */

#define MAX_SIMDEV 4
#define NGRP 512
#define FAIL(...)                                                              \
	do {                                                                   \
		fprintf(stderr, "stress_queue: " __VA_ARGS__);                 \
		fprintf(stderr, "\n");                                         \
		abort();                                                       \
	} while (0)

struct simdev {
	uint32_t dev_id;
	uint32_t credits;
	iopfq_dev_t handle;             /* atomic: replaced on re-attach */
	int inflight;                   /* atomic: pages the device thinks are outstanding */
	uint8_t outstanding[NGRP];      /* atomic: 1 while a complete group awaits its answer */
	uint32_t pages_sent[NGRP];      /* pages of that group: the credits its answer returns */
	unsigned seed;
	/* device-side tallies (atomic) */
	unsigned long groups_completed, groups_abandoned, pages_accepted;
	unsigned long edquot, markers, responses, unexpected_responses;
	unsigned long user_answers, auto_answers;
};

struct stress {
	struct tp_ctx tp;
	struct iopfq *q;
	pthread_mutex_t consumer_lock;  /* serializes the consumer side */
	struct simdev devs[MAX_SIMDEV];
	int ndev;
	int stop;                       /* atomic */
	int producers_done;             /* atomic */
	/* cookie handoff from the reader to the responders */
	pthread_mutex_t hand_lock;
	pthread_cond_t hand_cond;
	uint32_t *hand;
	size_t hand_head, hand_tail, hand_cap;
	/* reader/responder tallies (atomic) */
	unsigned long respond_ok, respond_einval, groups_read;
	unsigned long flushes, detaches;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct simdev *simdev_of(struct stress *s, uint32_t dev_id)
{
	for (int i = 0; i < s->ndev; i++)
		if (s->devs[i].dev_id == dev_id)
			return &s->devs[i];
	FAIL("response for unknown dev_id %u", dev_id);
}

/* page_response hook, on whatever thread answered */
static void on_response(void *arg, const struct iopfq_response *r)
{
	struct stress *s = arg;
	struct simdev *d = simdev_of(s, r->dev_id);

	uint32_t sent;

	if (r->grpid >= NGRP || r->npages == 0)
		FAIL("malformed response grpid %u npages %u", r->grpid, r->npages);
	/*
	 * Read what the device sent for the group before giving the group
	 * index back (the exchange): the producer may reuse it at once.
	 */
	if (!__atomic_load_n(&d->outstanding[r->grpid], __ATOMIC_ACQUIRE)) {
		__atomic_fetch_add(&d->unexpected_responses, 1, __ATOMIC_RELAXED);
		return;
	}
	sent = d->pages_sent[r->grpid];
	if (!__atomic_exchange_n(&d->outstanding[r->grpid], 0, __ATOMIC_ACQ_REL)) {
		__atomic_fetch_add(&d->unexpected_responses, 1, __ATOMIC_RELAXED);
		return;
	}
	if (r->origin == IOPFQ_ANSWER_USER)
		__atomic_fetch_add(&d->user_answers, 1, __ATOMIC_RELAXED);
	else if (r->code == IOPFQ_HW_INVALID)
		__atomic_fetch_add(&d->auto_answers, 1, __ATOMIC_RELAXED);
	else
		FAIL("auto answer with code %u", r->code);
	__atomic_fetch_add(&d->responses, 1, __ATOMIC_RELAXED);
	/*
	 * The response returns the credits of every page the device sent for
	 * the group; a flush may have dropped some of them queue-side first.
	 */
	if (r->npages > sent)
		FAIL("dev %u group %u: %u pages answered, %u sent", d->dev_id, r->grpid, r->npages, sent);
	__atomic_fetch_sub(&d->inflight, (int)sent, __ATOMIC_RELEASE);
}

/* Report one page; retries while over credit (possible only after a marker). */
static int report_page(struct stress *s, struct simdev *d, iopfq_dev_t h,
		       const struct iopfq_request *req, int marker_pending)
{
	uint32_t answer;
	int rc;

	for (;;) {
		rc = tp_report(s->q, h, req, &answer);
		if (rc != -IOPFQ_EDQUOT)
			return rc;
		/*
		 * Over credit: the device counted the pages a Stop Marker
		 * dropped as returned before the consumer drained the marker.
		 * That is the only way an honest device gets here.
		 */
		if (!marker_pending)
			FAIL("dev %u over credit without a marker in flight", d->dev_id);
		__atomic_fetch_add(&d->edquot, 1, __ATOMIC_RELAXED);
		sched_yield();
	}
}

struct prod_arg {
	struct stress *s;
	struct simdev *d;
};

static void *producer_main(void *arg)
{
	struct prod_arg *pa = arg;
	struct stress *s = pa->s;
	struct simdev *d = pa->d;
	uint32_t grpid = 0;
	int marker_pending = 0;

	tp_thread_online();
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		uint32_t maxsz = d->credits < 3 ? d->credits : 3;
		uint32_t size = 1 + (uint32_t)rand_r(&d->seed) % maxsz;
		uint32_t pasid = 1 + (uint32_t)rand_r(&d->seed) % 3;
		int abandon = size > 1 && rand_r(&d->seed) % 16 == 0;
		iopfq_dev_t h;
		uint32_t i, accepted = 0;
		int rc = 0;

		/* a free group index: not awaiting an answer */
		for (i = 0; i < NGRP; i++) {
			grpid = (grpid + 1) % NGRP;
			if (!__atomic_load_n(&d->outstanding[grpid], __ATOMIC_ACQUIRE))
				break;
		}
		if (i == NGRP) {
			sched_yield();
			continue;
		}
		/* honour the credits: wait until the whole group fits */
		while ((uint32_t)__atomic_load_n(&d->inflight, __ATOMIC_ACQUIRE) + size > d->credits) {
			if (__atomic_load_n(&s->stop, __ATOMIC_RELAXED))
				goto out;
			sched_yield();
		}
		h = __atomic_load_n(&d->handle, __ATOMIC_ACQUIRE);
		for (i = 0; i < size; i++) {
			int last = i + 1 == size;
			struct iopfq_request req = tp_req(pasid, grpid, last,
							  ((uint64_t)d->dev_id << 40) | ((uint64_t)grpid << 20) | i);

			if (abandon && last)
				break;
			req.perm = (i & 1) ? IOPFQ_PGFAULT_PERM_WRITE : IOPFQ_PGFAULT_PERM_READ;
			__atomic_fetch_add(&d->inflight, 1, __ATOMIC_ACQ_REL);
			if (last) {
				d->pages_sent[grpid] = size;
				__atomic_store_n(&d->outstanding[grpid], 1, __ATOMIC_RELEASE);
			}
			rc = report_page(s, d, h, &req, marker_pending);
			if (rc) {
				__atomic_fetch_sub(&d->inflight, 1, __ATOMIC_ACQ_REL);
				if (last)
					__atomic_store_n(&d->outstanding[grpid], 0, __ATOMIC_RELEASE);
				break;
			}
			accepted++;
			__atomic_fetch_add(&d->pages_accepted, 1, __ATOMIC_RELAXED);
		}
		if (rc == 0 && !abandon) {
			__atomic_fetch_add(&d->groups_completed, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (rc && rc != -IOPFQ_ENODEV)
			FAIL("dev %u report failed %d", d->dev_id, rc);
		if (rc == 0) {
			/* abandon the partial group: the Stop Marker drops its pages */
			struct iopfq_request m = tp_marker(pasid);

			rc = report_page(s, d, h, &m, 1);
			if (rc && rc != -IOPFQ_ENODEV)
				FAIL("dev %u marker failed %d", d->dev_id, rc);
			if (rc == 0)
				__atomic_fetch_add(&d->markers, 1, __ATOMIC_RELAXED);
			marker_pending = 1;
		}
		/* detached (or marker): the queue dropped the partial pages */
		__atomic_fetch_sub(&d->inflight, (int)accepted, __ATOMIC_ACQ_REL);
		__atomic_fetch_add(&d->groups_abandoned, 1, __ATOMIC_RELAXED);
	}
out:
	tp_thread_offline();
	return NULL;
}

static void hand_push(struct stress *s, uint32_t cookie)
{
	pthread_mutex_lock(&s->hand_lock);
	if (s->hand_tail - s->hand_head == s->hand_cap)
		FAIL("handoff overflow");
	s->hand[s->hand_tail++ % s->hand_cap] = cookie;
	pthread_cond_signal(&s->hand_cond);
	pthread_mutex_unlock(&s->hand_lock);
}

static void *responder_main(void *arg)
{
	struct stress *s = arg;

	for (;;) {
		struct iopfq_hwpt_page_response resp;
		int rc;

		pthread_mutex_lock(&s->hand_lock);
		while (s->hand_head == s->hand_tail && !__atomic_load_n(&s->producers_done, __ATOMIC_RELAXED))
			pthread_cond_wait(&s->hand_cond, &s->hand_lock);
		if (s->hand_head == s->hand_tail) {
			pthread_mutex_unlock(&s->hand_lock);
			break;
		}
		resp.cookie = s->hand[s->hand_head++ % s->hand_cap];
		pthread_mutex_unlock(&s->hand_lock);
		resp.code = resp.cookie & 1 ? IOPFQ_PAGE_RESP_INVALID : IOPFQ_PAGE_RESP_SUCCESS;
		rc = iopfq_respond(s->q, &resp, 1);
		if (rc == 1)
			__atomic_fetch_add(&s->respond_ok, 1, __ATOMIC_RELAXED);
		else if (rc == -IOPFQ_EINVAL)
			__atomic_fetch_add(&s->respond_einval, 1, __ATOMIC_RELAXED);
		else
			FAIL("respond returned %d", rc);
	}
	return NULL;
}

/*
 * Consumer side (the caller holds consumer_lock; answers may be running):
 * each device's list of issued response slots is well formed and within
 * 3 x credits + 2, and every busy slot is on its device's list. Only the
 * consumer side writes the lists, so they hold still; busy may drop to 0
 * under us, never rise (only the reader sets it).
 */
static void check_lists(struct stress *s)
{
	struct iopfq *q = s->q;
	uint32_t slots = q->cookie_index_mask + 1, di, si, n;
	unsigned char *on = calloc(slots, 1);

	if (!on)
		abort();
	for (di = 0; di < q->cfg.max_devices; di++) {
		uint32_t head = q->devs[di].cslot_head;

		if (head == NIL)
			continue;
		n = 0;
		si = head;
		do {
			const struct iopfq_cslot *cs = &q->cslots[si];

			if (cs->dev_idx != di || on[si] || q->cslots[cs->dev_next].dev_prev != si)
				FAIL("device %u's slot list is broken at slot %u", di, si);
			on[si] = 1;
			if (++n > 3 * q->devs[di].credits + 2)
				FAIL("device %u: more than 3 x %u + 2 slots on its list", di,
				     q->devs[di].credits);
			si = cs->dev_next;
		} while (si != head);
	}
	for (si = 0; si < slots; si++)
		if (__atomic_load_n(&q->cslots[si].busy, __ATOMIC_ACQUIRE) && !on[si])
			FAIL("busy response slot %u is on no list: a revoke would miss it", si);
	free(on);
}

/* Read whatever is complete; hand each group's cookie to the responders. */
static int read_once(struct stress *s, unsigned *seed)
{
	struct iopfq_hwpt_pgfault recs[32];
	int n, i, groups = 0;

	pthread_mutex_lock(&s->consumer_lock);
	n = iopfq_read(s->q, recs, 1 + (uint32_t)rand_r(seed) % 32);
	check_lists(s);
	pthread_mutex_unlock(&s->consumer_lock);
	if (n < 0)
		FAIL("read returned %d", n);
	for (i = 0; i < n; i++) {
		const struct iopfq_hwpt_pgfault *r = &recs[i];
		int last = !!(r->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE);

		if (r->cookie == 0 || r->__reserved || r->length)
			FAIL("bad record: cookie %u reserved %u length %u", r->cookie, r->__reserved,
			     r->length);
		if (i > 0 && !(recs[i - 1].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) &&
		    (recs[i - 1].cookie != r->cookie || recs[i - 1].grpid != r->grpid ||
		     recs[i - 1].dev_id != r->dev_id))
			FAIL("group split across cookies");
		if ((r->addr >> 40) != r->dev_id || ((r->addr >> 20) & 0xfffff) != r->grpid)
			FAIL("record address does not belong to its group");
		if (!last)
			continue;
		if (i + 1 < n && recs[i + 1].cookie == r->cookie)
			FAIL("two groups share a cookie");
		groups++;
		hand_push(s, r->cookie);
		/* now and then, a second answer to the same cookie: exactly one may win */
		if (rand_r(seed) % 8 == 0)
			hand_push(s, r->cookie);
	}
	if (n > 0 && !(recs[n - 1].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE))
		FAIL("read ended inside a group");
	__atomic_fetch_add(&s->groups_read, (unsigned long)groups, __ATOMIC_RELAXED);
	return n;
}

static void *reader_main(void *arg)
{
	struct stress *s = arg;
	unsigned seed = 12345;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED))
		if (read_once(s, &seed) == 0)
			sched_yield();
	return NULL;
}

static void *control_main(void *arg)
{
	struct stress *s = arg;
	unsigned seed = 777;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		struct simdev *d = &s->devs[(unsigned)rand_r(&seed) % (unsigned)s->ndev];
		unsigned what = (unsigned)rand_r(&seed) % 8;
		iopfq_dev_t h = __atomic_load_n(&d->handle, __ATOMIC_ACQUIRE);
		int rc;

		usleep(500 + (unsigned)rand_r(&seed) % 1000);
		pthread_mutex_lock(&s->consumer_lock);
		if (what < 4) {
			rc = iopfq_flush(s->q, h, 1 + (uint32_t)rand_r(&seed) % 3, IOPFQ_FLUSH_PASID_VALID);
			if (rc)
				FAIL("flush returned %d", rc);
			__atomic_fetch_add(&s->flushes, 1, __ATOMIC_RELAXED);
		} else if (what < 6) {
			rc = iopfq_dev_detach(s->q, h);
			if (rc)
				FAIL("detach returned %d", rc);
			rc = iopfq_dev_attach(s->q, d->dev_id, d->credits, d, &h);
			if (rc)
				FAIL("re-attach returned %d", rc);
			__atomic_store_n(&d->handle, h, __ATOMIC_RELEASE);
			__atomic_fetch_add(&s->detaches, 1, __ATOMIC_RELAXED);
		} else {
			iopfq_age_scan(s->q, 1000000);
		}
		check_lists(s);
		pthread_mutex_unlock(&s->consumer_lock);
	}
	return NULL;
}

static void run(const char *name, uint32_t ndev, uint32_t credits, uint32_t gen_bits, double seconds)
{
	struct iopfq_config cfg = {
		.max_devices = ndev,
		.credit_budget = ndev * credits,
		.cookie_gen_bits = gen_bits,
		.ring_start = 0xfffffff0u,
	};
	struct prod_arg pargs[MAX_SIMDEV];
	pthread_t prod[MAX_SIMDEV], reader, control, resp[2];
	struct iopfq_counters c;
	struct iopfq_geometry geo;
	struct stress *s = calloc(1, sizeof(*s));
	unsigned long groups = 0, responses = 0, user = 0, autoans = 0, edquot = 0, pages = 0;
	uint64_t t0;
	int err, i;
	unsigned seed = 1;

	if (!s)
		abort();
	tp_init(&s->tp);
	s->tp.real_clock = 1;
	s->tp.on_response = on_response;
	s->tp.on_response_arg = s;
	s->q = tp_queue_new(&cfg, &s->tp, &err);
	if (!s->q)
		FAIL("queue init failed %d", err);
	iopfq_config_geometry(&cfg, &geo);
	pthread_mutex_init(&s->consumer_lock, NULL);
	pthread_mutex_init(&s->hand_lock, NULL);
	pthread_cond_init(&s->hand_cond, NULL);
	s->hand_cap = 1u << 16;
	s->hand = calloc(s->hand_cap, sizeof(*s->hand));
	s->ndev = (int)ndev;
	for (i = 0; i < s->ndev; i++) {
		struct simdev *d = &s->devs[i];

		d->dev_id = 100 + (uint32_t)i;
		d->credits = credits;
		d->seed = (unsigned)i * 7919u + 1;
		if (iopfq_dev_attach(s->q, d->dev_id, credits, d, &d->handle))
			FAIL("attach");
	}

	t0 = now_ns();
	for (i = 0; i < s->ndev; i++) {
		pargs[i].s = s;
		pargs[i].d = &s->devs[i];
		pthread_create(&prod[i], NULL, producer_main, &pargs[i]);
	}
	pthread_create(&reader, NULL, reader_main, s);
	pthread_create(&control, NULL, control_main, s);
	for (i = 0; i < 2; i++)
		pthread_create(&resp[i], NULL, responder_main, s);

	usleep((useconds_t)(seconds * 1e6));
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < s->ndev; i++)
		pthread_join(prod[i], NULL);
	pthread_join(reader, NULL);
	pthread_join(control, NULL);

	/* quiesce: read and answer everything still queued */
	for (;;) {
		int busy = 0;

		while (read_once(s, &seed) > 0)
			;
		for (i = 0; i < s->ndev; i++)
			busy |= __atomic_load_n(&s->devs[i].inflight, __ATOMIC_ACQUIRE) != 0;
		iopfq_counters(s->q, &c);
		if (!busy && c.in_ring + c.partial + c.ready + c.delivered == 0)
			break;
		if (now_ns() - t0 > (uint64_t)(seconds + 60) * 1000000000ull)
			FAIL("did not quiesce: in_ring %llu partial %llu ready %llu delivered %llu",
			     (unsigned long long)c.in_ring, (unsigned long long)c.partial,
			     (unsigned long long)c.ready, (unsigned long long)c.delivered);
		usleep(100);
	}
	pthread_mutex_lock(&s->hand_lock);
	__atomic_store_n(&s->producers_done, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&s->hand_cond);
	pthread_mutex_unlock(&s->hand_lock);
	for (i = 0; i < 2; i++)
		pthread_join(resp[i], NULL);
	for (i = 0; i < s->ndev; i++)
		if (iopfq_dev_detach(s->q, s->devs[i].handle))
			FAIL("final detach");

	iopfq_counters(s->q, &c);
	for (i = 0; i < s->ndev; i++) {
		struct simdev *d = &s->devs[i];

		if (d->unexpected_responses)
			FAIL("dev %u: %lu responses for groups not outstanding (duplicate or stray)",
			     d->dev_id, d->unexpected_responses);
		if (d->inflight != 0)
			FAIL("dev %u: %d credits never returned", d->dev_id, d->inflight);
		for (int g = 0; g < NGRP; g++)
			if (d->outstanding[g])
				FAIL("dev %u group %d never answered", d->dev_id, g);
		if (d->responses != d->groups_completed)
			FAIL("dev %u: %lu groups completed, %lu answered", d->dev_id,
			     d->groups_completed, d->responses);
		groups += d->groups_completed;
		responses += d->responses;
		user += d->user_answers;
		autoans += d->auto_answers;
		edquot += d->edquot;
		pages += d->pages_accepted;
	}
	if (!tp_conserved(&c))
		FAIL("conservation law broken");
	if (c.ring_claim_waits)
		FAIL("%llu producers found their ring slot in use", (unsigned long long)c.ring_claim_waits);
	if (c.accepted != pages)
		FAIL("accepted %llu, devices saw %lu", (unsigned long long)c.accepted, pages);
	if (c.groups_answered != user || c.groups_answered != s->respond_ok)
		FAIL("answered groups: counter %llu, devices %lu, responders %lu",
		     (unsigned long long)c.groups_answered, user, s->respond_ok);
	if (c.groups_auto_answered != autoans)
		FAIL("auto answers: counter %llu, devices %lu",
		     (unsigned long long)c.groups_auto_answered, autoans);
	if (c.refused_over_credit + c.refused_markers != edquot)
		FAIL("over-credit refusals: counters %llu + %llu markers, devices %lu",
		     (unsigned long long)c.refused_over_credit, (unsigned long long)c.refused_markers,
		     edquot);
	if (c.bad_answers != s->respond_einval)
		FAIL("bad answers: counter %llu, responders %lu", (unsigned long long)c.bad_answers,
		     s->respond_einval);
	if (c.in_ring || c.partial || c.ready || c.delivered || c.credits_attached)
		FAIL("queue not empty after final detach");
	if (groups == 0 || s->respond_ok == 0)
		FAIL("no progress");

	printf("%-8s %u dev x %u credits, %u cookie slots, %u-bit gen: %lu groups (%lu user, %lu auto), "
	       "%llu pages, %lu dup/stale answers refused, %llu dropped by markers, %lu flushes, "
	       "%lu detaches, %lu over-credit retries: OK\n",
	       name, ndev, credits, geo.cookie_slots, geo.cookie_gen_bits, responses, user, autoans,
	       (unsigned long long)c.accepted, s->respond_einval,
	       (unsigned long long)c.discarded_by_marker, s->flushes, s->detaches, edquot);

	tp_queue_free(s->q);
	tp_destroy(&s->tp);
	free(s->hand);
	free(s);
}

int main(void)
{
	double seconds = 1.5;
	const char *env = getenv("IOPFQ_STRESS_SECONDS");

	if (env)
		seconds = atof(env);
	run("roomy", 3, 16, 0, seconds);
	run("small", 3, 1, 2, seconds);  /* 8 cookie slots, generations 1..3 */
	run("tiny", 2, 1, 2, seconds);   /* 4 cookie slots */
	return 0;
}
