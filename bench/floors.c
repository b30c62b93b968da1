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

/*
 * The handler must never leave the faulting thread blocked, and nothing may
 * wait forever. So: the handler polls (never blocks in read()) with a short
 * timeout and leaves only when the faulting thread, done with every touch,
 * says stop; a handler that cannot resolve a fault closes the userfaultfd,
 * which unregisters the range and wakes the blocked thread (its touch then
 * takes an ordinary page fault), and says why; the faulting thread gives up
 * at a deadline. The earlier version stopped the handler with a flag set
 * just before the last touch: a handler that saw it while returning from
 * the previous fault's ioctl left that last fault unresolved, and the run
 * hung in the touch.
 */
#define UF_POLL_MS 10           /* how soon the handler sees stop */
#define UF_DEADLINE_S 20        /* the whole floor, normally well under 1 s */
#define UF_RETRIES 1000         /* UFFDIO_ZEROPAGE refused with EAGAIN */

struct uf {
	int fd;                        /* atomic: -1 once the handler closed it */
	int stop;                      /* atomic */
	long page;
	int cpu;
	uint64_t resolved;
	uint64_t deadline_ns;
	char why[96];                  /* the handler's failure, if any */
};

/* The handler cannot go on: release the faulting thread, say why. */
static void uf_fail(struct uf *u, const char *what, int err)
{
	snprintf(u->why, sizeof(u->why), "userfaultfd handler: %s: %s", what, strerror(err));
	close(u->fd);
	__atomic_store_n(&u->fd, -1, __ATOMIC_RELEASE);
}

/* 0: resolved (or already present); else the errno of the last try */
static int uf_resolve(struct uf *u, uint64_t addr)
{
	struct uffdio_zeropage zp;
	int k;

	for (k = 0; k < UF_RETRIES; k++) {
		zp.range.start = addr & ~((uint64_t)u->page - 1);
		zp.range.len = (uint64_t)u->page;
		zp.mode = 0;
		if (!ioctl(u->fd, UFFDIO_ZEROPAGE, &zp) || errno == EEXIST)
			return 0;
		if (errno != EAGAIN)
			return errno;
	}
	return EAGAIN;
}

static void *uf_handler(void *arg)
{
	struct uf *u = arg;

	pin_to_cpu(u->cpu);
	while (!__atomic_load_n(&u->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { .fd = u->fd, .events = POLLIN };
		struct uffd_msg msg;
		ssize_t n;
		int rc;

		if (mono_ns() > u->deadline_ns) {
			uf_fail(u, "deadline", ETIMEDOUT);
			break;
		}
		rc = poll(&p, 1, UF_POLL_MS);
		if (rc < 0 && errno != EINTR) {
			uf_fail(u, "poll", errno);
			break;
		}
		if (rc <= 0)
			continue;
		n = read(u->fd, &msg, sizeof(msg)); /* O_NONBLOCK: never waits */
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n != sizeof(msg)) {
			uf_fail(u, "read", n < 0 ? errno : EIO);
			break;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		rc = uf_resolve(u, msg.arg.pagefault.address);
		if (rc) {
			uf_fail(u, "UFFDIO_ZEROPAGE", rc);
			break;
		}
		u->resolved++;
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
	int rc = 0;

	len = npages * (size_t)u.page;
	u.fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
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
	u.deadline_ns = mono_ns() + (uint64_t)UF_DEADLINE_S * 1000000000ull;
	pin_to_cpu(cpu_a);
	if (pthread_create(&t, NULL, uf_handler, &u)) {
		snprintf(why, whylen, "pthread_create failed");
		munmap(area, len);
		close(u.fd);
		pin_to_cpu(-1);
		return -1;
	}
	for (i = 0; i < iters; i++) {
		volatile char *p = area + (i % npages) * (size_t)u.page;
		uint64_t t0;

		/* the handler gave up (its close let this thread go) or time is up */
		if (__atomic_load_n(&u.fd, __ATOMIC_ACQUIRE) < 0 || mono_ns() > u.deadline_ns)
			break;
		if (i % npages == 0 && i)
			madvise(area, len, MADV_DONTNEED); /* the next touches fault again */
		t0 = tsc_now();
		(void)*p;
		if (i >= iters / 10)
			iopfq_hist_record(h, tsc_now() - t0);
	}
	__atomic_store_n(&u.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	if (u.fd < 0) {
		snprintf(why, whylen, "%s", u.why);
		rc = -1;
	} else if (i < iters) {
		snprintf(why, whylen, "userfaultfd floor: %llu of %llu faults in %d s", (unsigned long long)i,
			 (unsigned long long)iters, UF_DEADLINE_S);
		rc = -1;
	}
	if (u.fd >= 0)
		close(u.fd);
	munmap(area, len);
	pin_to_cpu(-1);
	return rc;
}
