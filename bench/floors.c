/* SPDX-License-Identifier: MIT */
/*
 * floors.c - physical floors, measured in the same run and with the same
 * clock and histogram as the queues:
 *
 *   pingpong   cross-core cache-line round trip: two threads on two CPUs
 *              pass a counter back and forth through one cache line (the
 *              least a request + response between two cores can cost)
 *   eventfd    wake-up round trip: two threads each blocked in read() of its
 *              own eventfd wake each other (the least a sleeping consumer
 *              that answers a sleeping device can cost)
 *   uffd       a userfaultfd fault resolved by a handler thread with
 *              UFFDIO_ZEROPAGE: the kernel's existing user-space fault path
 *              (touch -> fault -> handler wakes, reads the message, resolves,
 *              the faulting thread resumes)
 *
 * May touch: its own threads, an eventfd pair, one userfaultfd and its
 * mapping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "floors.h"

void pin_to_cpu(int cpu);

/* ---- cache-line ping-pong ---- */

struct pp {
	uint64_t line __attribute__((aligned(BENCH_CACHELINE)));
	uint64_t iters;
	int cpu;
};

static void *pp_echo(void *arg)
{
	struct pp *p = arg;
	uint64_t i;

	pin_to_cpu(p->cpu);
	for (i = 0; i < p->iters; i++) {
		uint64_t want = 2 * i + 1;

		while (__atomic_load_n(&p->line, __ATOMIC_ACQUIRE) != want)
			cpu_relax();
		__atomic_store_n(&p->line, want + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

int floor_pingpong(struct iopfq_hist *h, uint64_t iters, int cpu_a, int cpu_b)
{
	static struct pp p;
	pthread_t t;
	uint64_t i;

	memset(&p, 0, sizeof(p));
	p.iters = iters;
	p.cpu = cpu_b;
	pin_to_cpu(cpu_a);
	if (pthread_create(&t, NULL, pp_echo, &p))
		return -1;
	for (i = 0; i < iters; i++) {
		uint64_t t0 = tsc_now();

		__atomic_store_n(&p.line, 2 * i + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&p.line, __ATOMIC_ACQUIRE) != 2 * i + 2)
			cpu_relax();
		if (i >= iters / 10)            /* first 10 %: warm-up */
			iopfq_hist_record(h, tsc_now() - t0);
	}
	pthread_join(t, NULL);
	pin_to_cpu(-1);
	return 0;
}

/* ---- eventfd wake-up round trip ---- */

struct ef {
	int to_b, to_a;
	uint64_t iters;
	int cpu;
};

static void *ef_echo(void *arg)
{
	struct ef *e = arg;
	uint64_t i, v, one = 1;

	pin_to_cpu(e->cpu);
	for (i = 0; i < e->iters; i++) {
		if (read(e->to_b, &v, sizeof(v)) != sizeof(v) ||
		    write(e->to_a, &one, sizeof(one)) != sizeof(one))
			abort();
	}
	return NULL;
}

int floor_eventfd(struct iopfq_hist *h, uint64_t iters, int cpu_a, int cpu_b)
{
	struct ef e = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC), iters, cpu_b };
	pthread_t t;
	uint64_t i, v, one = 1;

	if (e.to_a < 0 || e.to_b < 0)
		return -1;
	pin_to_cpu(cpu_a);
	if (pthread_create(&t, NULL, ef_echo, &e))
		return -1;
	for (i = 0; i < iters; i++) {
		uint64_t t0 = tsc_now();

		if (write(e.to_b, &one, sizeof(one)) != sizeof(one) ||
		    read(e.to_a, &v, sizeof(v)) != sizeof(v))
			abort();
		if (i >= iters / 10)
			iopfq_hist_record(h, tsc_now() - t0);
	}
	pthread_join(t, NULL);
	close(e.to_a);
	close(e.to_b);
	pin_to_cpu(-1);
	return 0;
}

/*
 * One-way wake-up with a spinning waker: A (spinning, like a device that
 * waits for its response) writes B's eventfd; B wakes from read() and
 * answers through a cache line A spins on. This is the shape of the blocking
 * consumer scenario (only the consumer sleeps).
 */
struct w1 {
	int efd;
	uint64_t line __attribute__((aligned(BENCH_CACHELINE)));
	uint64_t iters;
	int cpu;
};

static void *w1_sleeper(void *arg)
{
	struct w1 *w = arg;
	uint64_t i, v;

	pin_to_cpu(w->cpu);
	for (i = 0; i < w->iters; i++) {
		if (read(w->efd, &v, sizeof(v)) != sizeof(v))
			abort();
		__atomic_store_n(&w->line, i + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

int floor_wake1(struct iopfq_hist *h, uint64_t iters, int cpu_a, int cpu_b, double gap_us)
{
	static struct w1 w;
	pthread_t t;
	uint64_t i, one = 1;

	memset(&w, 0, sizeof(w));
	w.efd = eventfd(0, EFD_CLOEXEC);
	w.iters = iters;
	w.cpu = cpu_b;
	if (w.efd < 0)
		return -1;
	pin_to_cpu(cpu_a);
	if (pthread_create(&t, NULL, w1_sleeper, &w))
		return -1;
	for (i = 0; i < iters; i++) {
		uint64_t t0;

		/* let the sleeper reach read() and sleep, as an idle consumer does */
		spin_ticks((uint64_t)(gap_us * 1000 * tsc_per_ns));
		t0 = tsc_now();
		if (write(w.efd, &one, sizeof(one)) != sizeof(one))
			abort();
		while (__atomic_load_n(&w.line, __ATOMIC_ACQUIRE) != i + 1)
			cpu_relax();
		if (i >= iters / 10)
			iopfq_hist_record(h, tsc_now() - t0);
	}
	pthread_join(t, NULL);
	close(w.efd);
	pin_to_cpu(-1);
	return 0;
}

/* ---- userfaultfd ---- */

struct uf {
	int fd;
	int stop;                      /* atomic */
	long page;
	int cpu;
	uint64_t resolved;
};

static void *uf_handler(void *arg)
{
	struct uf *u = arg;

	pin_to_cpu(u->cpu);
	for (;;) {
		struct uffd_msg msg;
		struct uffdio_zeropage zp;

		if (read(u->fd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		zp.range.start = msg.arg.pagefault.address & ~((uint64_t)u->page - 1);
		zp.range.len = (uint64_t)u->page;
		zp.mode = 0;
		if (ioctl(u->fd, UFFDIO_ZEROPAGE, &zp) && errno != EEXIST)
			break;
		u->resolved++;
		if (__atomic_load_n(&u->stop, __ATOMIC_ACQUIRE))
			break;
	}
	return NULL;
}

int floor_uffd(struct iopfq_hist *h, uint64_t iters, int cpu_a, int cpu_b, char *why, size_t whylen)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct uf u = { .page = sysconf(_SC_PAGESIZE), .cpu = cpu_b };
	size_t npages = 64, len;
	pthread_t t;
	char *area;
	uint64_t i;

	len = npages * (size_t)u.page;
	u.fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (u.fd < 0) {
		snprintf(why, whylen, "userfaultfd: %s", strerror(errno));
		return -1;
	}
	if (ioctl(u.fd, UFFDIO_API, &api)) {
		snprintf(why, whylen, "UFFDIO_API: %s", strerror(errno));
		close(u.fd);
		return -1;
	}
	area = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		snprintf(why, whylen, "mmap: %s", strerror(errno));
		close(u.fd);
		return -1;
	}
	reg.range.start = (uint64_t)(uintptr_t)area;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(u.fd, UFFDIO_REGISTER, &reg)) {
		snprintf(why, whylen, "UFFDIO_REGISTER: %s", strerror(errno));
		munmap(area, len);
		close(u.fd);
		return -1;
	}
	pin_to_cpu(cpu_a);
	if (pthread_create(&t, NULL, uf_handler, &u))
		return -1;
	for (i = 0; i <= iters; i++) {
		volatile char *p = area + (i % npages) * (size_t)u.page;
		uint64_t t0;

		if (i % npages == 0 && i)
			madvise(area, len, MADV_DONTNEED); /* the next touches fault again */
		if (i == iters)
			__atomic_store_n(&u.stop, 1, __ATOMIC_RELEASE); /* this fault ends the handler */
		t0 = tsc_now();
		(void)*p;
		if (i >= iters / 10 && i < iters)
			iopfq_hist_record(h, tsc_now() - t0);
	}
	pthread_join(t, NULL);
	munmap(area, len);
	close(u.fd);
	pin_to_cpu(-1);
	return 0;
}
