/* SPDX-License-Identifier: MIT */
/*
 * flood_demo.c - a short flood through the queue: simulated PRI devices on
 * producer threads keep their credits full (closed loop), one consumer
 * thread busy-polls iopfq_read() and answers every group at once with
 * iopfq_respond(). Prints page requests/s, groups/s, and the loss and
 * duplicate counts, which must be 0.
 *
 * This is the seed of the flood benchmark (bench/, issue "Benchmarks"); it
 * measures throughput only.
 *
 * Usage: flood_demo [--devices N] [--credits C] [--group G] [--seconds S]
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include <iopfq/iopfq.h>

#define MAX_DEVICES 64
#define NGRP 512

struct device {
	uint32_t dev_id;
	uint32_t credits;
	iopfq_dev_t handle;
	int inflight;                   /* atomic: pages awaiting an answer */
	uint8_t outstanding[NGRP];      /* atomic: group awaits its answer */
	unsigned long groups_sent;      /* atomic */
	unsigned long groups_answered;  /* atomic */
	unsigned long duplicates;       /* atomic: answers for a group not outstanding */
	unsigned long refused;          /* atomic: reports refused */
} __attribute__((aligned(64)));

static struct device devices[MAX_DEVICES];
static unsigned ndevices = 2, credits = 32, group_size = 4;
static double seconds = 3.0;
static struct iopfq *queue;
static int stop; /* atomic */

void iopfq_platform_warn(const char *file, int line, const char *cond)
{
	fprintf(stderr, "iopfq: invariant broken at %s:%d: %s\n", file, line, cond);
}

static void on_page_response(void *ctx, const struct iopfq_response *r)
{
	struct device *d = r->dev_ctx;

	(void)ctx;
	if (r->grpid >= NGRP ||
	    !__atomic_exchange_n(&d->outstanding[r->grpid], 0, __ATOMIC_ACQ_REL)) {
		__atomic_fetch_add(&d->duplicates, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&d->groups_answered, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&d->inflight, (int)r->npages, __ATOMIC_RELEASE);
}

static void on_synchronize(void *ctx)
{
	(void)ctx;
	urcu_memb_synchronize_rcu();
}

static void on_notify(void *ctx)
{
	(void)ctx; /* the consumer busy-polls */
}

static uint64_t on_now(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_aged(void *ctx, const struct iopfq_aged *a)
{
	(void)ctx;
	(void)a;
}

static void *device_main(void *arg)
{
	struct device *d = arg;
	uint32_t grpid = 0;

	urcu_memb_register_thread();
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint32_t i;

		if ((uint32_t)__atomic_load_n(&d->inflight, __ATOMIC_ACQUIRE) + group_size > d->credits ||
		    __atomic_load_n(&d->outstanding[grpid], __ATOMIC_ACQUIRE)) {
			sched_yield();
			continue;
		}
		__atomic_fetch_add(&d->inflight, (int)group_size, __ATOMIC_ACQ_REL);
		__atomic_store_n(&d->outstanding[grpid], 1, __ATOMIC_RELEASE);
		__atomic_fetch_add(&d->groups_sent, 1, __ATOMIC_RELAXED);
		for (i = 0; i < group_size; i++) {
			struct iopfq_request req = {
				.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID |
					 (i + 1 == group_size ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0),
				.pasid = 1,
				.grpid = grpid,
				.perm = IOPFQ_PGFAULT_PERM_READ,
				.addr = ((uint64_t)grpid << 16) | ((uint64_t)i << 12),
			};
			int rc;

			urcu_memb_read_lock();
			rc = iopfq_report(queue, d->handle, &req, NULL);
			urcu_memb_read_unlock();
			if (rc)
				__atomic_fetch_add(&d->refused, 1, __ATOMIC_RELAXED);
		}
		grpid = (grpid + 1) % NGRP;
	}
	urcu_memb_unregister_thread();
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct iopfq_hwpt_pgfault recs[256];
	struct iopfq_hwpt_page_response resp[256];

	(void)arg;
	for (;;) {
		int n = iopfq_read(queue, recs, 256), i, nresp = 0;

		if (n <= 0) {
			if (__atomic_load_n(&stop, __ATOMIC_RELAXED) == 2)
				break;
			sched_yield();
			continue;
		}
		for (i = 0; i < n; i++)
			if (recs[i].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) {
				resp[nresp].cookie = recs[i].cookie;
				resp[nresp].code = IOPFQ_PAGE_RESP_SUCCESS;
				nresp++;
			}
		if (iopfq_respond(queue, resp, (uint32_t)nresp) != nresp)
			fprintf(stderr, "flood_demo: an answer was refused\n");
	}
	return NULL;
}

static void usage(const char *argv0)
{
	printf("usage: %s [--devices N (1..%d)] [--credits C] [--group G] [--seconds S]\n"
	       "Floods the queue from N simulated devices, each keeping C page requests\n"
	       "outstanding in groups of G pages; one consumer reads and answers.\n",
	       argv0, MAX_DEVICES);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "devices", required_argument, NULL, 'd' },
		{ "credits", required_argument, NULL, 'c' },
		{ "group", required_argument, NULL, 'g' },
		{ "seconds", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct iopfq_ops ops = {
		.page_response = on_page_response,
		.synchronize = on_synchronize,
		.notify = on_notify,
		.now_ns = on_now,
		.aged = on_aged,
	};
	struct iopfq_config cfg = { 0 };
	struct iopfq_counters c;
	pthread_t dev_threads[MAX_DEVICES], consumer;
	unsigned long sent = 0, answered = 0, dups = 0, refused = 0;
	uint64_t t0, t1;
	void *mem;
	size_t size;
	int opt, err;
	unsigned i;

	while ((opt = getopt_long(argc, argv, "d:c:g:s:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': ndevices = (unsigned)atoi(optarg); break;
		case 'c': credits = (unsigned)atoi(optarg); break;
		case 'g': group_size = (unsigned)atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'h': usage(argv[0]); return 0;
		default: usage(argv[0]); return 2;
		}
	}
	if (ndevices < 1 || ndevices > MAX_DEVICES || credits < 1 || group_size < 1 ||
	    group_size > credits || !(seconds > 0)) {
		fprintf(stderr, "flood_demo: need 1 <= devices <= %d, 1 <= group <= credits, seconds > 0\n",
			MAX_DEVICES);
		return 2;
	}

	cfg.max_devices = ndevices;
	cfg.credit_budget = ndevices * credits;
	size = iopfq_memsize(&cfg);
	if (!size || posix_memalign(&mem, 64, size)) {
		fprintf(stderr, "flood_demo: bad configuration\n");
		return 1;
	}
	queue = iopfq_init(mem, size, &cfg, &ops, &err);
	if (!queue) {
		fprintf(stderr, "flood_demo: iopfq_init: %s\n", strerror(-err));
		return 1;
	}
	for (i = 0; i < ndevices; i++) {
		devices[i].dev_id = i + 1;
		devices[i].credits = credits;
		err = iopfq_attach(queue, devices[i].dev_id, credits, &devices[i], &devices[i].handle);
		if (err) {
			fprintf(stderr, "flood_demo: attach: %s\n", strerror(-err));
			return 1;
		}
	}

	t0 = on_now(NULL);
	pthread_create(&consumer, NULL, consumer_main, NULL);
	for (i = 0; i < ndevices; i++)
		pthread_create(&dev_threads[i], NULL, device_main, &devices[i]);
	usleep((useconds_t)(seconds * 1e6));
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < ndevices; i++)
		pthread_join(dev_threads[i], NULL);
	/* let the consumer answer what is still queued, then stop it */
	for (;;) {
		int busy = 0;

		for (i = 0; i < ndevices; i++)
			busy |= __atomic_load_n(&devices[i].inflight, __ATOMIC_ACQUIRE) != 0;
		if (!busy || on_now(NULL) - t0 > (uint64_t)((seconds + 5) * 1e9))
			break;
		usleep(1000);
	}
	__atomic_store_n(&stop, 2, __ATOMIC_RELAXED);
	pthread_join(consumer, NULL);
	t1 = on_now(NULL);

	for (i = 0; i < ndevices; i++) {
		sent += devices[i].groups_sent;
		answered += devices[i].groups_answered;
		dups += devices[i].duplicates;
		refused += devices[i].refused;
	}
	iopfq_counters(queue, &c);
	printf("iopfq flood demo: %u devices x %u credits, groups of %u pages, %.1f s, %ld CPUs\n",
	       ndevices, credits, group_size, (double)(t1 - t0) / 1e9, sysconf(_SC_NPROCESSORS_ONLN));
	printf("  page requests: %llu   (%.0f records/s)\n", (unsigned long long)c.accepted,
	       (double)c.accepted * 1e9 / (double)(t1 - t0));
	printf("  groups:        %lu sent, %lu answered   (%.0f groups/s)\n", sent, answered,
	       (double)answered * 1e9 / (double)(t1 - t0));
	printf("  lost: %lu   duplicated: %lu   refused: %lu   ring claim waits: %llu\n",
	       sent - answered, dups, refused, (unsigned long long)c.ring_claim_waits);
	return (sent != answered || dups || refused || c.ring_claim_waits) ? 1 : 0;
}
