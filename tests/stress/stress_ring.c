/* SPDX-License-Identifier: MIT */
/*
 * stress_ring.c - N producer threads and one consumer on one bare MPSC ring
 * (core/src/ring.h), started just below 2^32 so that the positions wrap
 * during the run.
 *
 * Producers: iopfq_ring_reserve (sched_yield on -ENOSPC), claim, fill the
 * slot with (producer, per-producer sequence number, claimed position,
 * payload derived from both, checksum), publish. The consumer takes the
 * records with peek/consume or with dequeue_burst, gives each reservation
 * back after it is done with the slot, and checks:
 *
 *   - the checksum and the payload (no torn or mixed record, i.e. the
 *     publish/peek and consume/claim edges order the plain slot accesses);
 *   - the claimed position equals the consumer's head (FIFO in position
 *     order);
 *   - each producer's sequence numbers arrive strictly in order, with no
 *     gap and no duplicate, so every record arrives exactly once;
 *   - at the end: totals equal, the ring is empty and every reservation is
 *     back, and claim_waits == 0 (reservations keep claims from ever finding
 *     an unreleased slot).
 *
 * Capacity 64 is the normal case; capacities 2 and 1 make every slot be
 * reused all the time, with producers blocked on -ENOSPC most of the time.
 *
 * Failures in the threads are recorded and the run stops; the test then
 * fails (check.h) in the main thread with the first failure's description. A
 * consumer that makes no progress for STALL_SECONDS fails too, so a lost
 * publish shows up as a failure and not as a hang.
 *
 * Environment: IOPFQ_STRESS_SCALE (default 1.0) scales the record counts;
 * IOPFQ_STRESS_PRODUCERS (default 4) sets the number of producers.
 * Counts are cut further under ThreadSanitizer and AddressSanitizer.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring.h"
#include "test_platform.h" /* tp_mem_alloc() */

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define STRESS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(STRESS_TSAN)
#define STRESS_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(STRESS_ASAN)
#define STRESS_ASAN 1
#endif

#if defined(STRESS_TSAN)
#define SANITIZER_DIVISOR 4
#elif defined(STRESS_ASAN)
#define SANITIZER_DIVISOR 2
#else
#define SANITIZER_DIVISOR 1
#endif

#define MAX_PRODUCERS 64
#define PAYLOAD_WORDS 11
#define STALL_SECONDS 30
#define BURST_MAX 16

struct rec {
	struct iopfq_ring_slot hdr;
	uint32_t producer;
	uint32_t seqno;
	uint32_t pos;
	uint32_t payload[PAYLOAD_WORDS];
	uint32_t checksum;
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct rec) == 64, "struct rec must be one cache line");

enum consume_mode { MODE_PEEK, MODE_BURST };

struct config {
	const char *name;
	uint32_t capacity;
	uint32_t start;
	enum consume_mode mode;
	/* records per producer at scale 1.0 in a plain build */
	uint32_t records;
};

struct run {
	const struct config *cfg;
	struct iopfq_ring ring;
	struct rec *slots;
	uint32_t nprod;
	uint32_t per_producer;
	pthread_barrier_t go;
	int stop;                       /* atomic: a failure was recorded */
	pthread_mutex_t fail_lock;
	char fail_msg[512];             /* the first failure, under fail_lock */
	uint64_t enospc[MAX_PRODUCERS]; /* per producer, written by it only */
	uint64_t produced[MAX_PRODUCERS];
	uint64_t consumed;
	uint64_t empty_polls;
};

struct producer_arg {
	struct run *run;
	uint32_t id;
};

static double scale = 1.0;
static uint32_t nproducers = 4;
static uint64_t grand_records;
static double grand_seconds;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void record_failure(struct run *run, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&run->fail_lock);
	if (!run->fail_msg[0]) {
		va_start(ap, fmt);
		vsnprintf(run->fail_msg, sizeof(run->fail_msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&run->fail_lock);
	__atomic_store_n(&run->stop, 1, __ATOMIC_RELEASE);
}

static int stopped(struct run *run)
{
	return __atomic_load_n(&run->stop, __ATOMIC_ACQUIRE);
}

static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static uint32_t payload_word(uint32_t producer, uint32_t seqno, uint32_t i)
{
	return mix(producer * 0x9e3779b9u ^ seqno ^ (i << 24));
}

static uint32_t rec_checksum(const struct rec *r)
{
	uint32_t sum = mix(r->producer) ^ mix(r->seqno + 0x1234567u) ^ mix(r->pos ^ 0xabcdefu);
	uint32_t i;

	for (i = 0; i < PAYLOAD_WORDS; i++)
		sum = mix(sum + r->payload[i]);
	return sum;
}

static void *producer_main(void *p)
{
	struct producer_arg *arg = p;
	struct run *run = arg->run;
	struct iopfq_ring *ring = &run->ring;
	uint32_t id = arg->id, seqno, i;
	uint64_t enospc = 0;

	pthread_barrier_wait(&run->go);
	for (seqno = 0; seqno < run->per_producer; seqno++) {
		struct iopfq_ring_slot *slot;
		struct rec *r;
		uint32_t pos;
		int rc;

		while ((rc = iopfq_ring_reserve(ring)) != 0) {
			if (rc != -IOPFQ_ENOSPC) {
				record_failure(run, "producer %u: reserve returned %d", id, rc);
				goto out;
			}
			if (stopped(run))
				goto out;
			enospc++;
			sched_yield();
		}
		slot = iopfq_ring_claim(ring, &pos);
		if (slot != iopfq_ring_slot_at(ring, pos)) {
			record_failure(run, "producer %u: claim of %#x returned the wrong slot", id, pos);
			goto out;
		}
		r = (struct rec *)slot;
		r->producer = id;
		r->seqno = seqno;
		r->pos = pos;
		for (i = 0; i < PAYLOAD_WORDS; i++)
			r->payload[i] = payload_word(id, seqno, i);
		r->checksum = rec_checksum(r);
		iopfq_ring_publish(slot, pos);
		/* now and then, let another producer claim in between */
		if ((seqno & 255) == 0)
			sched_yield();
	}
out:
	run->enospc[id] = enospc;
	run->produced[id] = seqno;
	return NULL;
}

/* Check one record, taken at position @pos; 0 if good. */
static int check_rec(struct run *run, const struct rec *r, uint32_t pos, uint32_t *next_seqno)
{
	uint32_t i, p = r->producer;

	if (r->hdr.seq != pos + 1) {
		record_failure(run, "pos %#x: seq %#x, expected %#x", pos, r->hdr.seq, pos + 1);
		return -1;
	}
	if (r->checksum != rec_checksum(r)) {
		record_failure(run, "pos %#x: bad checksum (producer %u seqno %u pos %#x)",
			       pos, p, r->seqno, r->pos);
		return -1;
	}
	if (p >= run->nprod) {
		record_failure(run, "pos %#x: producer %u out of range", pos, p);
		return -1;
	}
	if (r->pos != pos) {
		record_failure(run, "pos %#x: record claimed at %#x (producer %u seqno %u)",
			       pos, r->pos, p, r->seqno);
		return -1;
	}
	if (r->seqno != next_seqno[p]) {
		record_failure(run, "pos %#x: producer %u seqno %u, expected %u (%s)",
			       pos, p, r->seqno, next_seqno[p],
			       r->seqno < next_seqno[p] ? "duplicate or reordered" : "gap");
		return -1;
	}
	for (i = 0; i < PAYLOAD_WORDS; i++) {
		if (r->payload[i] != payload_word(p, r->seqno, i)) {
			record_failure(run, "pos %#x: producer %u seqno %u payload word %u wrong",
				       pos, p, r->seqno, i);
			return -1;
		}
	}
	next_seqno[p]++;
	return 0;
}

static void *consumer_main(void *p)
{
	struct run *run = p;
	struct iopfq_ring *ring = &run->ring;
	uint64_t total = (uint64_t)run->nprod * run->per_producer;
	uint64_t got = 0, got_then = 0, empty = 0;
	uint32_t next_seqno[MAX_PRODUCERS] = { 0 };
	struct rec *out = NULL;
	double last_progress;

	if (run->cfg->mode == MODE_BURST) {
		out = aligned_alloc(64, BURST_MAX * sizeof(*out));
		if (!out) {
			record_failure(run, "out of memory");
			return NULL;
		}
	}
	pthread_barrier_wait(&run->go);
	last_progress = now_s();
	while (got < total && !stopped(run)) {
		uint32_t head = ring->head, n = 0, i;

		if (run->cfg->mode == MODE_PEEK) {
			struct iopfq_ring_slot *slot = iopfq_ring_peek(ring);

			if (slot) {
				if (check_rec(run, (const struct rec *)slot, head, next_seqno))
					break;
				iopfq_ring_consume(ring, slot);
				iopfq_ring_unreserve(ring);
				n = 1;
			}
		} else {
			n = iopfq_ring_dequeue_burst(ring, out, BURST_MAX);
			if (n > BURST_MAX) {
				record_failure(run, "dequeue_burst returned %u > %u", n, BURST_MAX);
				break;
			}
			for (i = 0; i < n; i++) {
				if (check_rec(run, &out[i], head + i, next_seqno))
					break;
				iopfq_ring_unreserve(ring);
			}
			if (i < n)
				break;
		}
		if (ring->head != head + n) {
			record_failure(run, "head %#x after taking %u from %#x", ring->head, n, head);
			break;
		}
		if (n) {
			got += n;
			continue;
		}
		/* nothing published at the head */
		empty++;
		if ((empty & 1023) == 0) {
			double t = now_s();

			if (got != got_then) {
				got_then = got;
				last_progress = t;
			} else if (t - last_progress > STALL_SECONDS) {
				record_failure(run, "consumer stalled at head %#x for %d s: "
					       "got %llu of %llu, count %u, claim_waits %u",
					       head, STALL_SECONDS, (unsigned long long)got,
					       (unsigned long long)total, iopfq_ring_count(ring),
					       __atomic_load_n(&ring->claim_waits,
							       __ATOMIC_RELAXED));
				break;
			}
		}
		sched_yield();
	}
	if (got == total) {
		uint32_t i;

		for (i = 0; i < run->nprod; i++)
			if (next_seqno[i] != run->per_producer)
				record_failure(run, "producer %u: %u records arrived, expected %u", i,
					       next_seqno[i], run->per_producer);
	}
	run->consumed = got;
	run->empty_polls = empty;
	free(out);
	return NULL;
}

static void join_or_die(struct run *run, pthread_t t)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STALL_SECONDS;
	if (pthread_timedjoin_np(t, NULL, &deadline) == 0)
		return;
	fprintf(stderr, "stress_ring: %s: a producer did not finish within %d s after the "
		"consumer (%s)\n", run->cfg->name, STALL_SECONDS,
		run->fail_msg[0] ? run->fail_msg : "no failure recorded");
	abort();
}

static void run_config(const struct config *cfg)
{
	struct producer_arg args[MAX_PRODUCERS];
	pthread_t prod[MAX_PRODUCERS], cons;
	uint64_t total, produced = 0, enospc = 0;
	struct run *run;
	double t0, secs;
	uint32_t i;

	run = calloc(1, sizeof(*run));
	CHECK(run != NULL);
	run->cfg = cfg;
	run->nprod = nproducers;
	run->per_producer = (uint32_t)((double)cfg->records * scale / SANITIZER_DIVISOR);
	if (run->per_producer < 100)
		run->per_producer = 100;
	total = (uint64_t)run->nprod * run->per_producer;
	run->slots = tp_mem_alloc(iopfq_ring_slots_memsize(cfg->capacity, sizeof(struct rec)));
	CHECK(run->slots != NULL);
	memset(run->slots, 0xa5, iopfq_ring_slots_memsize(cfg->capacity, sizeof(struct rec)));
	CHECK_EQ(iopfq_ring_init(&run->ring, run->slots, cfg->capacity, sizeof(struct rec),
					 cfg->start), 0);
	pthread_mutex_init(&run->fail_lock, NULL);
	CHECK_EQ(pthread_barrier_init(&run->go, NULL, run->nprod + 2), 0);

	CHECK_EQ(pthread_create(&cons, NULL, consumer_main, run), 0);
	for (i = 0; i < run->nprod; i++) {
		args[i].run = run;
		args[i].id = i;
		CHECK_EQ(pthread_create(&prod[i], NULL, producer_main, &args[i]), 0);
	}
	pthread_barrier_wait(&run->go);
	t0 = now_s();
	/* the consumer ends: done, failed, or stalled */
	pthread_join(cons, NULL);
	/* a producer stuck inside the ring (claim spinning) cannot be stopped */
	for (i = 0; i < run->nprod; i++)
		join_or_die(run, prod[i]);
	secs = now_s() - t0;

	for (i = 0; i < run->nprod; i++) {
		produced += run->produced[i];
		enospc += run->enospc[i];
	}
	printf("stress_ring: %-10s cap=%-3u producers=%u records=%llu in %.3f s (%.0f records/s), "
	       "enospc spins %llu, consumer empty polls %llu\n",
	       cfg->name, cfg->capacity, run->nprod, (unsigned long long)run->consumed, secs,
	       secs > 0 ? (double)run->consumed / secs : 0.0, (unsigned long long)enospc,
	       (unsigned long long)run->empty_polls);
	fflush(stdout);
	grand_records += run->consumed;
	grand_seconds += secs;

	if (run->fail_msg[0])
		CHECK_FAIL("%s: %s", cfg->name, run->fail_msg);
	CHECK_EQ(produced, total);
	CHECK_EQ(run->consumed, total);
	CHECK_EQ(__atomic_load_n(&run->ring.claim_waits, __ATOMIC_RELAXED), 0);
	CHECK_EQ(iopfq_ring_count(&run->ring), 0);
	CHECK(iopfq_ring_peek(&run->ring) == NULL);
	CHECK_EQ(__atomic_load_n(&run->ring.free_reservations, __ATOMIC_RELAXED),
			 (int32_t)cfg->capacity);
	CHECK_EQ(run->ring.head, cfg->start + (uint32_t)total);
	CHECK_EQ(__atomic_load_n(&run->ring.tail, __ATOMIC_RELAXED),
			 cfg->start + (uint32_t)total);
	/* the positions did wrap */
	CHECK(run->ring.head < cfg->start);

	pthread_barrier_destroy(&run->go);
	pthread_mutex_destroy(&run->fail_lock);
	free(run->slots);
	free(run);
}

static const struct config configs[] = {
	{ "cap64-peek", 64, 0xffffffffu - 1000, MODE_PEEK, 1250000 },
	{ "cap64-burst", 64, 0xffffffffu, MODE_BURST, 1250000 },
	{ "cap2-peek", 2, 0xffffffffu - 1, MODE_PEEK, 250000 },
	{ "cap1-burst", 1, 0xffffffffu - 2, MODE_BURST, 125000 },
	{ "cap1-peek", 1, 0xffffffffu, MODE_PEEK, 125000 },
};

int main(void)
{
	const char *env = getenv("IOPFQ_STRESS_SCALE");
	size_t i;
	int rc;

	if (env && *env) {
		char *end;
		double v = strtod(env, &end);

		if (*end || !(v > 0.0)) {
			fprintf(stderr, "stress_ring: bad IOPFQ_STRESS_SCALE '%s'\n", env);
			return 2;
		}
		scale = v;
	}
	env = getenv("IOPFQ_STRESS_PRODUCERS");
	if (env && *env) {
		long v = strtol(env, NULL, 10);

		if (v < 1 || v > MAX_PRODUCERS) {
			fprintf(stderr, "stress_ring: bad IOPFQ_STRESS_PRODUCERS '%s'\n", env);
			return 2;
		}
		nproducers = (uint32_t)v;
	}

	for (i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
		run_config(&configs[i]);
	rc = 0;
	printf("stress_ring: total %llu records in %.3f s (%.0f records/s), scale %.2f%s\n",
	       (unsigned long long)grand_records, grand_seconds,
	       grand_seconds > 0 ? (double)grand_records / grand_seconds : 0.0, scale,
#if defined(STRESS_TSAN)
	       " (TSan: counts / 4)"
#elif defined(STRESS_ASAN)
	       " (ASan: counts / 2)"
#else
	       ""
#endif
	       );
	return rc;
}
