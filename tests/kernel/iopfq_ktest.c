// SPDX-License-Identifier: MIT
/*
 * iopfq_ktest.c - the in-guest test of iopfq.ko through /dev/iopfq, run by
 * tests/kernel/run.sh inside QEMU. Built static (gcc -static).
 *
 * For each mode (core, baseline) on fresh open files:
 *   semantics  the fault-FD rules with every bad input and its errno:
 *              misaligned/short reads and writes, pread/pwrite offsets,
 *              whole groups only, unknown/stale/double cookies, bad codes,
 *              bad user pointers (-EFAULT, and the group is still readable
 *              or answerable afterwards), poll readiness, ioctl validation,
 *              flush and detach with groups pending (answered INVALID)
 *   close      close() with groups queued and delivered: all answered
 *              INVALID, no allocation left behind (module-wide counters)
 *   contracts  a failing INJECT changes nothing (-EFAULT before the
 *              report); cookie 0 is never issued, even after a write of
 *              cookie 0; over-credit injects refused; a Stop Marker takes
 *              no device credit; group, burst and hard-IRQ batch bounds;
 *              a PASID the device does not use is refused; core: a Stop
 *              Marker gives its dropped partial pages' credits back, a
 *              callback calling back into its queue gets -EDEADLK;
 *              baseline: out of memory (forced) on a partial page changes
 *              nothing, on a last page answers the group once
 *   flood      an hrtimer (hard IRQ) and a kthread generator against one
 *              reader/responder thread: 0 lost, 0 duplicated, 0 refused,
 *              credits balanced; throughput and latency percentiles
 *
 * Then, once: write() of responses racing IOPFQ_IOC_CONFIG mode switches
 * on one file for race_seconds (a deadlock fails it); a poll() asleep
 * across CONFIG woken by the new queue; the memory of open files charged
 * to the opener's memory cgroup.
 *
 * Prints "ok"/"FAIL" per check, "BENCH" lines, "N of M checks passed" and
 * finally "IOPFQ-KTEST: PASS" or "IOPFQ-KTEST: FAIL".
 * Usage: iopfq_ktest [flood_seconds [race_seconds [memcg]]]   (memcg 0: no cgroup check)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iopfq/abi.h>
#include "iopfq_ioctl.h"

#define REC sizeof(struct iopfq_hwpt_pgfault)
#define RESP sizeof(struct iopfq_hwpt_page_response)

static unsigned int checks, passed;
/* an unmapped user address; volatile keeps the compiler from judging it */
static void *volatile bad_ptr = (void *)8;
static const char *mode_name = "core";

static void check(int ok, const char *what, long got, int err, int line)
{
	checks++;
	if (ok) {
		passed++;
		return;
	}
	printf("FAIL [%s] line %d: %s (got %ld, errno %d %s)\n", mode_name, line, what, got,
	       err, strerror(err));
}

/* expr must succeed with value want */
#define CHECK_EQ(expr, want)                                                   \
	do {                                                                   \
		long got_ = (long)(expr);                                      \
		check(got_ == (long)(want), #expr " == " #want, got_, errno,   \
		      __LINE__);                                               \
	} while (0)
/* expr must fail with -1 and errno e */
#define CHECK_ERR(expr, e)                                                     \
	do {                                                                   \
		errno = 0;                                                     \
		long got_ = (long)(expr);                                      \
		check(got_ == -1 && errno == (e), #expr " fails with " #e,     \
		      got_, errno, __LINE__);                                  \
	} while (0)
#define CHECK(cond) check(!!(cond), #cond, 0, errno, __LINE__)

static int dev_open(void)
{
	int fd = open(IOPFQ_DEVICE_PATH, O_RDWR);

	if (fd < 0) {
		perror(IOPFQ_DEVICE_PATH);
		printf("IOPFQ-KTEST: FAIL (cannot open)\n");
		exit(1);
	}
	return fd;
}

static int config(int fd, int mode, unsigned int devs, unsigned int budget)
{
	struct iopfq_ioc_config c = { .mode = mode, .max_devices = devs, .credit_budget = budget };

	return ioctl(fd, IOPFQ_IOC_CONFIG, &c);
}

static int attach(int fd, unsigned int id, unsigned int credits, unsigned int pasid_base,
		  unsigned int npasids, unsigned int group)
{
	struct iopfq_ioc_attach a = {
		.dev_id = id, .credits = credits, .pasid_base = pasid_base,
		.npasids = npasids, .group_size = group,
	};

	return ioctl(fd, IOPFQ_IOC_ATTACH, &a);
}

static int inject(int fd, unsigned int id, unsigned int pasid, unsigned int grpid, int last,
		  uint64_t addr)
{
	struct iopfq_ioc_inject in = {
		.dev_id = id, .pasid = pasid, .grpid = grpid, .addr = addr,
		.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | (last ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0),
		.perm = IOPFQ_PGFAULT_PERM_READ,
	};

	return ioctl(fd, IOPFQ_IOC_INJECT, &in);
}

/* inject a group of n pages */
static int inject_group(int fd, unsigned int id, unsigned int pasid, unsigned int grpid,
			unsigned int n)
{
	unsigned int i;
	int rc = 0;

	for (i = 0; i < n && !rc; i++)
		rc = inject(fd, id, pasid, grpid, i + 1 == n, 0x10000ull * grpid + 0x1000ull * i);
	return rc;
}

static int respond(int fd, uint32_t cookie, uint32_t code)
{
	struct iopfq_hwpt_page_response r = { .cookie = cookie, .code = code };

	return (int)write(fd, &r, sizeof(r));
}

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return ((p.revents & POLLIN) ? 1 : 0) | ((p.revents & POLLOUT) ? 2 : 0);
}

static struct iopfq_ioc_dev_stats dev_stats(int fd, unsigned int id)
{
	struct iopfq_ioc_dev_stats st = { .dev_id = id };

	if (ioctl(fd, IOPFQ_IOC_DEV_STATS, &st))
		memset(&st, 0xff, sizeof(st));
	return st;
}

static struct iopfq_ioc_queue_stats queue_stats(int fd)
{
	struct iopfq_ioc_queue_stats st;

	memset(&st, 0, sizeof(st));
	ioctl(fd, IOPFQ_IOC_QUEUE_STATS, &st);
	return st;
}

static struct iopfq_ioc_global_stats global_stats(int fd)
{
	struct iopfq_ioc_global_stats st;

	memset(&st, 0, sizeof(st));
	ioctl(fd, IOPFQ_IOC_GLOBAL_STATS, &st);
	return st;
}

/* close @fd (its devices are freed and folded in), then the module's counters */
static struct iopfq_ioc_global_stats global_stats_after_close(int fd)
{
	struct iopfq_ioc_global_stats st;

	close(fd);
	fd = dev_open();
	st = global_stats(fd);
	close(fd);
	return st;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------------- */

static void test_semantics(int mode)
{
	struct iopfq_hwpt_pgfault recs[16];
	struct iopfq_hwpt_page_response two[2];
	struct iopfq_ioc_attach bad_attach;
	struct iopfq_ioc_dev_stats st;
	struct iopfq_ioc_gen gen;
	struct iopfq_ioc_flush fl;
	unsigned int i, pagesz = (unsigned int)sysconf(_SC_PAGESIZE);
	uint32_t cookie, cookie2;
	char *map;
	int fd = dev_open();

	/* configuration */
	CHECK_ERR(config(fd, 7, 8, 64), EINVAL);
	CHECK_ERR(config(fd, mode, 0, 64), EINVAL);
	CHECK_ERR(config(fd, mode, 8, 0), EINVAL);
	CHECK_ERR(config(fd, mode, 8, IOPFQ_IOC_MAX_BUDGET + 1), EINVAL);
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_CONFIG, bad_ptr), EFAULT);
	CHECK_EQ(config(fd, mode, 8, 64), 0);

	/* attach validation */
	CHECK_ERR(attach(fd, 1, 0, 100, 4, 1), EINVAL);
	CHECK_ERR(attach(fd, 1, 16, 100, 4, 17), EINVAL);
	CHECK_ERR(attach(fd, 1, 16, 100, 0, 1), EINVAL);
	CHECK_ERR(attach(fd, 1, 16, 100, IOPFQ_IOC_MAX_PASIDS + 1, 1), EINVAL);
	CHECK_ERR(attach(fd, 1, 16, IOPFQ_PASID_MAX, 2, 1), EINVAL);
	memset(&bad_attach, 0, sizeof(bad_attach));
	bad_attach.dev_id = 1;
	bad_attach.credits = 16;
	bad_attach.npasids = 1;
	bad_attach.group_size = 1;
	bad_attach.flags = 0x80;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_ATTACH, &bad_attach), EINVAL);
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_ATTACH, bad_ptr), EFAULT);
	CHECK_EQ(attach(fd, 1, 16, 100, 8, 2), 0);
	CHECK_ERR(attach(fd, 1, 16, 100, 8, 2), EEXIST);
	if (mode == IOPFQ_MODE_CORE)
		CHECK_ERR(attach(fd, 2, 64, 100, 4, 2), ENOSPC);
	CHECK_EQ(attach(fd, 2, 16, 200, 1, 1), 0);
	CHECK_ERR(config(fd, mode, 8, 64), EBUSY);
	CHECK_ERR(ioctl(fd, _IO(IOPFQ_IOC_MAGIC, 0x7f)), ENOTTY);
	memset(&gen, 0, sizeof(gen));
	gen.dev_id = 1;
	gen.kind = 3;
	gen.burst = 1;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), EINVAL);
	gen.kind = IOPFQ_GEN_HRTIMER;
	gen.period_ns = 10;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), EINVAL);
	gen.dev_id = 99;
	gen.period_ns = 100000;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), ENOENT);
	CHECK_ERR(inject(fd, 99, 100, 1, 1, 0), ENOENT);
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_DETACH, &(uint32_t){ 99 }), ENOENT);

	/* empty queue: writable, not readable; reads return 0 */
	CHECK_EQ(readable(fd), 2);
	CHECK_EQ(read(fd, recs, REC), 0);
	CHECK_EQ(read(fd, recs, 0), 0);

	/* sizes and offsets */
	CHECK_ERR(read(fd, recs, REC - 1), ESPIPE);
	CHECK_ERR(read(fd, recs, REC + 8), ESPIPE);
	CHECK_ERR(pread(fd, recs, REC, REC), ESPIPE);
	CHECK_ERR(write(fd, two, RESP - 1), ESPIPE);
	CHECK_ERR(write(fd, two, RESP + 4), ESPIPE);
	CHECK_ERR(pwrite(fd, two, RESP, RESP), ESPIPE);
	CHECK_ERR(lseek(fd, 0, SEEK_SET), ESPIPE);

	/* a three-page group: whole or nothing */
	CHECK_EQ(inject(fd, 1, 100, 5, 0, 0x1000), 0);
	CHECK_EQ(inject(fd, 1, 100, 5, 0, 0x2000), 0);
	CHECK_EQ(readable(fd), 2); /* partial groups are not readable */
	CHECK_EQ(inject(fd, 1, 100, 5, 1, 0x3000), 0);
	CHECK_EQ(readable(fd), 3);
	CHECK_EQ(read(fd, recs, 2 * REC), 0); /* the first group does not fit */
	memset(recs, 0xa5, sizeof(recs));
	CHECK_EQ(read(fd, recs, 16 * REC), 3 * REC);
	for (i = 0; i < 3; i++) {
		CHECK(recs[i].dev_id == 1 && recs[i].pasid == 100 && recs[i].grpid == 5);
		CHECK(recs[i].addr == 0x1000ull * (i + 1) && recs[i].perm == IOPFQ_PGFAULT_PERM_READ);
		CHECK(recs[i].__reserved == 0 && recs[i].length == 0);
		CHECK(recs[i].cookie == recs[0].cookie && recs[i].cookie != 0);
	}
	CHECK(recs[0].flags == IOPFQ_PGFAULT_FLAGS_PASID_VALID);
	CHECK(recs[2].flags == (IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE));
	CHECK_EQ(readable(fd), 2);
	cookie = recs[0].cookie;

	/* answers: bad code, unknown cookie, valid, double */
	CHECK_ERR(respond(fd, cookie, 2), EINVAL);
	CHECK_ERR(respond(fd, cookie, 0xf), EINVAL);
	CHECK_ERR(respond(fd, cookie + 1, IOPFQ_PAGE_RESP_SUCCESS), EINVAL);
	CHECK_ERR(respond(fd, 0, IOPFQ_PAGE_RESP_SUCCESS), EINVAL);
	CHECK_EQ(respond(fd, cookie, IOPFQ_PAGE_RESP_SUCCESS), RESP);
	CHECK_ERR(respond(fd, cookie, IOPFQ_PAGE_RESP_SUCCESS), EINVAL);
	st = dev_stats(fd, 1);
	CHECK(st.answered_groups == 1 && st.answered_pages == 3 && st.answered_success == 1);
	CHECK(st.duplicates == 0 && st.credits_outstanding == 0 && st.lat_count == 1);

	/* a batch of answers: consumed up to the first bad one */
	CHECK_EQ(inject_group(fd, 1, 101, 1, 1), 0);
	CHECK_EQ(read(fd, recs, 16 * REC), REC);
	two[0].cookie = recs[0].cookie;
	two[0].code = IOPFQ_PAGE_RESP_INVALID;
	two[1].cookie = recs[0].cookie; /* already answered by two[0] */
	two[1].code = IOPFQ_PAGE_RESP_SUCCESS;
	CHECK_EQ(write(fd, two, sizeof(two)), RESP);
	st = dev_stats(fd, 1);
	CHECK(st.answered_groups == 2 && st.answered_invalid == 1);

	/* a stale cookie after its slot is reused (core: generations) */
	if (mode == IOPFQ_MODE_CORE) {
		for (i = 0; i < 300; i++) {
			CHECK_EQ(inject_group(fd, 2, 200, i % 512, 1), 0);
			CHECK_EQ(read(fd, recs, REC), REC);
			cookie2 = recs[0].cookie;
			if (i + 1 < 300)
				CHECK_EQ(respond(fd, cookie2, 0), RESP);
		}
		/* every earlier cookie is stale now, even those whose slot is reused */
		CHECK_ERR(respond(fd, cookie, 0), EINVAL);
		CHECK_EQ(respond(fd, cookie2, 0), RESP);
	}

	/* read into a bad pointer: -EFAULT, nothing lost */
	CHECK_EQ(inject_group(fd, 1, 102, 7, 2), 0);
	CHECK_ERR(read(fd, bad_ptr, 16 * REC), EFAULT);
	CHECK_EQ(readable(fd), 3);
	CHECK_ERR(read(fd, bad_ptr, 16 * REC), EFAULT);
	memset(recs, 0, sizeof(recs));
	CHECK_EQ(read(fd, recs, 16 * REC), 2 * REC);
	CHECK(recs[0].grpid == 7 && recs[1].grpid == 7 && recs[0].cookie == recs[1].cookie);
	CHECK(recs[1].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE);
	cookie = recs[0].cookie;
	/* write from a bad pointer: -EFAULT, the group still answerable */
	CHECK_ERR(write(fd, bad_ptr, RESP), EFAULT);
	CHECK_EQ(respond(fd, cookie, IOPFQ_PAGE_RESP_SUCCESS), RESP);

	/* a buffer whose second group crosses into an unmapped page */
	map = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED);
	munmap(map + pagesz, pagesz);
	CHECK_EQ(inject_group(fd, 1, 103, 1, 2), 0);
	CHECK_EQ(inject_group(fd, 1, 103, 2, 2), 0);
	{
		char *buf = map + pagesz - 3 * REC; /* room for 3 records */
		struct iopfq_hwpt_pgfault part;

		memset(buf, 0, 3 * REC);
		CHECK_EQ(read(fd, buf, 4 * REC), 2 * REC);
		memcpy(recs, buf, 2 * REC);
		CHECK(recs[0].grpid == 1 && recs[1].grpid == 1);
		cookie = recs[0].cookie;
		/* the second group's first record arrived, with a cookie that is dead */
		memcpy(&part, buf + 2 * REC, REC);
		CHECK(part.grpid == 2 && part.cookie != 0);
		CHECK_ERR(respond(fd, part.cookie, 0), EINVAL);
		CHECK_EQ(readable(fd), 3);
		/* the second group is intact for a good buffer, with a new cookie */
		CHECK_EQ(read(fd, recs, 16 * REC), 2 * REC);
		CHECK(recs[0].grpid == 2 && recs[1].grpid == 2);
		/* the core's generations make it differ; the baseline, like
		 * iommufd's xa_alloc, may issue the same lowest free id again */
		if (mode == IOPFQ_MODE_CORE)
			CHECK(recs[0].cookie != part.cookie);
		cookie2 = recs[0].cookie;
		/* a write whose second answer lies in the unmapped page */
		buf = map + pagesz - RESP;
		memcpy(buf, &(struct iopfq_hwpt_page_response){ cookie, 0 }, RESP);
		CHECK_EQ(write(fd, buf, 2 * RESP), RESP);
		CHECK_EQ(respond(fd, cookie2, 0), RESP);
	}
	munmap(map, pagesz);

	/* over-credit and malformed requests (core: refused and counted) */
	if (mode == IOPFQ_MODE_CORE) {
		struct iopfq_ioc_inject in = {
			.dev_id = 1, .flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID |
					      IOPFQ_PGFAULT_FLAGS_LAST_PAGE,
			.pasid = 100, .grpid = 600, .perm = IOPFQ_PGFAULT_PERM_READ,
		};

		CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
		in.grpid = 1;
		in.pasid = IOPFQ_PASID_MAX + 1;
		CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
		for (i = 0; i < 16; i++)
			CHECK_EQ(inject(fd, 1, 104, 9, 0, 0x1000ull * i), 0);
		in.pasid = 104;
		in.grpid = 9;
		in.answer = 7;
		CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EDQUOT);
		CHECK_EQ(in.answer, 0); /* last page refused: Success, so the device retries */
		in.flags &= ~IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
		CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EDQUOT);
		CHECK_EQ(in.answer, 0xff);
		/* flush drops the partial group and gives the credits back */
		memset(&fl, 0, sizeof(fl));
		fl.dev_id = 1;
		fl.pasid = 104;
		fl.flags = IOPFQ_IOC_FLUSH_PASID_VALID;
		CHECK_EQ(ioctl(fd, IOPFQ_IOC_FLUSH, &fl), 0);
		CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 0);
		CHECK_EQ(inject_group(fd, 1, 104, 9, 2), 0);
		CHECK_EQ(read(fd, recs, 16 * REC), 2 * REC);
		CHECK_EQ(respond(fd, recs[0].cookie, 0), RESP);
	}

	/* flush validation, then flush with a delivered and a queued group */
	memset(&fl, 0, sizeof(fl));
	fl.dev_id = 1;
	fl.pasid = 105;
	fl.flags = 0x4;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_FLUSH, &fl), EINVAL);
	fl.flags = 0;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_FLUSH, &fl), EINVAL); /* PASID without PASID_VALID */
	fl.flags = IOPFQ_IOC_FLUSH_PASID_VALID;
	fl.__reserved = 1;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_FLUSH, &fl), EINVAL);
	fl.__reserved = 0;
	fl.dev_id = 98;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_FLUSH, &fl), ENOENT);
	fl.dev_id = 1;
	st = dev_stats(fd, 1);
	CHECK_EQ(inject_group(fd, 1, 105, 1, 2), 0);
	CHECK_EQ(read(fd, recs, 16 * REC), 2 * REC);
	cookie = recs[0].cookie;
	CHECK_EQ(inject_group(fd, 1, 105, 2, 1), 0);
	CHECK_EQ(inject_group(fd, 1, 106, 2, 1), 0); /* another PASID: untouched */
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_FLUSH, &fl), 0);
	CHECK_EQ(dev_stats(fd, 1).answered_invalid, st.answered_invalid + 2);
	CHECK_ERR(respond(fd, cookie, 0), EINVAL);
	CHECK_EQ(read(fd, recs, 16 * REC), REC);
	CHECK(recs[0].pasid == 106);
	CHECK_EQ(respond(fd, recs[0].cookie, 0), RESP);

	/* detach with a delivered, a queued and a partial group pending */
	st = dev_stats(fd, 1);
	CHECK_EQ(inject_group(fd, 1, 100, 20, 2), 0);
	CHECK_EQ(read(fd, recs, 16 * REC), 2 * REC);
	cookie = recs[0].cookie;
	CHECK_EQ(inject_group(fd, 1, 100, 21, 1), 0);
	CHECK_EQ(inject(fd, 1, 100, 22, 0, 0), 0);
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_DETACH, &(uint32_t){ 1 }), 0);
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_DEV_STATS, &(struct iopfq_ioc_dev_stats){ .dev_id = 1 }),
		  ENOENT);
	CHECK_ERR(respond(fd, cookie, 0), EINVAL);
	CHECK_EQ(readable(fd), 2);
	CHECK_EQ(read(fd, recs, 16 * REC), 0);
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_DETACH, &(uint32_t){ 1 }), ENOENT);
	/* the dev_id can be attached again */
	CHECK_EQ(attach(fd, 1, 16, 100, 4, 2), 0);

	{
		struct iopfq_ioc_queue_stats q = queue_stats(fd);

		CHECK_EQ(q.mode, mode);
		CHECK_EQ(q.devices_attached, 2);
		if (mode == IOPFQ_MODE_CORE)
			CHECK(q.accepted == q.in_ring + q.partial + q.ready + q.delivered +
					    q.answered + q.auto_answered + q.discarded);
		else
			CHECK(q.base_allocs == q.base_frees);
	}
	close(fd);
}

/* The bound docs/kernel-integration.md states for a default open file */
#define MEM_PER_FILE_DOC (600u * 1024)

/* close() with groups queued and delivered: all answered, nothing leaked */
static void test_close(int mode)
{
	struct iopfq_hwpt_pgfault recs[8];
	struct iopfq_ioc_global_stats g0, g1;
	int fd = dev_open();

	g0 = global_stats(fd);
	if (mode == IOPFQ_MODE_CORE) {
		/* the default queue of an open file: 16 devices, 1024 credits */
		struct iopfq_ioc_queue_stats q = queue_stats(fd);
		uint64_t bytes = q.mem_bytes;

		printf("memory per open file (core, 16 devices, 1024 credits): %llu bytes "
		       "requested, %llu bytes held\n",
		       (unsigned long long)q.mem_requested, (unsigned long long)bytes);
		CHECK(q.mem_requested >= 1024 * REC && q.mem_requested <= bytes);
		CHECK(bytes >= 1024 * REC && bytes <= MEM_PER_FILE_DOC);
	}
	CHECK_EQ(config(fd, mode, 4, 64), 0);
	CHECK_EQ(attach(fd, 1, 16, 7, 1, 2), 0);
	CHECK_EQ(attach(fd, 2, 16, 8, 1, 2), 0);
	CHECK_EQ(inject_group(fd, 1, 7, 1, 2), 0);
	CHECK_EQ(inject_group(fd, 1, 7, 2, 3), 0);
	CHECK_EQ(inject_group(fd, 2, 8, 1, 1), 0);
	CHECK_EQ(inject(fd, 2, 8, 2, 0, 0), 0); /* partial: dropped */
	CHECK_EQ(read(fd, recs, 3 * REC), 2 * REC); /* the first group only */
	g1 = global_stats_after_close(fd);
	CHECK_EQ(g1.sim_sent_groups - g0.sim_sent_groups, 3);
	CHECK_EQ(g1.sim_answered_groups - g0.sim_answered_groups, 3);
	CHECK_EQ(g1.sim_answered_invalid - g0.sim_answered_invalid, 3);
	CHECK_EQ(g1.sim_answered_pages - g0.sim_answered_pages, 6);
	CHECK_EQ(g1.sim_duplicates - g0.sim_duplicates, 0);
	CHECK_EQ(g1.sim_credits_leaked, 0);
	CHECK_EQ(g1.simdev_allocs, g1.simdev_frees);
	CHECK_EQ(g1.base_allocs, g1.base_frees);
	/* each open file holds two blocks (queue memory, read buffer) */
	CHECK_EQ(g1.qmem_allocs - g1.qmem_frees, 2 * g1.files_open);
	CHECK_EQ(g1.files_open, 1);
}

/*
 * A poll() asleep while IOPFQ_IOC_CONFIG replaces the file's queue is woken
 * by a group of the new queue: the wait queue is the file's, not the
 * queue's (a queue's own would be freed under the sleeper).
 */
struct poller {
	int fd;
	int rc;
	short revents;
	double waited;
};

static void *poller_fn(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	double t0 = now_s();

	p->rc = poll(&pfd, 1, 5000);
	p->revents = pfd.revents;
	p->waited = now_s() - t0;
	return NULL;
}

static void test_poll_across_config(void)
{
	struct poller p = { .fd = dev_open() };
	struct iopfq_hwpt_pgfault rec;
	pthread_t t;

	CHECK_EQ(config(p.fd, IOPFQ_MODE_CORE, 4, 64), 0);
	CHECK_EQ(pthread_create(&t, NULL, poller_fn, &p), 0);
	usleep(300000); /* the poller is asleep on the file by now */
	CHECK_EQ(config(p.fd, IOPFQ_MODE_BASELINE, 4, 64), 0);
	CHECK_EQ(config(p.fd, IOPFQ_MODE_CORE, 4, 64), 0);
	CHECK_EQ(attach(p.fd, 1, 16, 100, 1, 1), 0);
	CHECK_EQ(inject_group(p.fd, 1, 100, 1, 1), 0);
	pthread_join(t, NULL);
	CHECK(p.rc == 1 && (p.revents & POLLIN) && p.waited < 4.5);
	CHECK_EQ(read(p.fd, &rec, REC), REC);
	CHECK_EQ(respond(p.fd, rec.cookie, 0), RESP);
	close(p.fd);
}

/* ---------------------------------------------------------------------- */
/* memory per open file, charged to the opener's memory cgroup             */

#define CG "/sys/fs/cgroup"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static long long read_number(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoll(buf) : -1;
}

/*
 * Open files in a cgroup of their own (run.sh mounts cgroup2 on
 * /sys/fs/cgroup): its memory.current must grow by about what the files
 * say they hold (IOPFQ_IOC_QUEUE_STATS.mem_bytes), i.e. the queue memory is
 * charged to the opener (GFP_KERNEL_ACCOUNT), as iommufd charges its objects.
 */
static void test_memory_charged(void)
{
	enum { NFILES = 16 };
	int fds[NFILES], i;
	long long before, after;
	uint64_t bytes;
	char pid[32];

	mkdir(CG "/iopfq", 0755);
	CHECK_EQ(write_file(CG "/cgroup.subtree_control", "+memory"), 0);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	CHECK_EQ(write_file(CG "/iopfq/cgroup.procs", pid), 0);
	before = read_number(CG "/iopfq/memory.current");
	for (i = 0; i < NFILES; i++)
		fds[i] = dev_open();
	after = read_number(CG "/iopfq/memory.current");
	bytes = queue_stats(fds[0]).mem_bytes;
	for (i = 0; i < NFILES; i++)
		close(fds[i]);
	CHECK_EQ(write_file(CG "/cgroup.procs", pid), 0);
	rmdir(CG "/iopfq");
	CHECK(before >= 0 && after >= 0 && bytes > 0);
	printf("memory per open file: %llu bytes held (mem_bytes), %lld bytes charged to the "
	       "cgroup (memory.current over %d opens)\n", (unsigned long long)bytes,
	       (after - before) / NFILES, NFILES);
	/* charge batching and page tables make it inexact; 9/10 of it at least */
	CHECK(after - before >= (long long)(NFILES * bytes / 10 * 9));
}

/* ---------------------------------------------------------------------- */
/* contracts that hostile callers broke once                               */

/*
 * A failing IOPFQ_IOC_INJECT changes nothing: an argument that can be read
 * but not written (the answer field) fails with -EFAULT before the request
 * is reported, so a caller that retries does not report the fault twice.
 */
static void test_inject_efault(int mode)
{
	unsigned int pagesz = (unsigned int)sysconf(_SC_PAGESIZE);
	struct iopfq_hwpt_pgfault recs[4];
	struct iopfq_ioc_dev_stats st0, st1;
	struct iopfq_ioc_inject *in;
	int fd = dev_open();
	char *page;

	CHECK_EQ(config(fd, mode, 4, 64), 0);
	CHECK_EQ(attach(fd, 1, 16, 100, 1, 1), 0);
	page = mmap(NULL, pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(page != MAP_FAILED);
	if (page == MAP_FAILED) {
		close(fd);
		return;
	}
	in = (struct iopfq_ioc_inject *)page;
	in->dev_id = 1;
	in->flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
	in->pasid = 100;
	in->grpid = 3;
	in->perm = IOPFQ_PGFAULT_PERM_READ;
	in->answer = 7;
	CHECK_EQ(mprotect(page, pagesz, PROT_READ), 0);
	st0 = dev_stats(fd, 1);
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, in), EFAULT);
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, in), EFAULT); /* a retry: still nothing */
	st1 = dev_stats(fd, 1);
	CHECK_EQ(st1.sent_pages, st0.sent_pages);
	CHECK_EQ(st1.refused, st0.refused);
	CHECK_EQ(st1.credits_outstanding, 0);
	CHECK_EQ(queue_stats(fd).accepted, 0);
	CHECK_EQ(readable(fd), 2);
	CHECK_EQ(read(fd, recs, sizeof(recs)), 0);
	/* the same request from writable memory goes through, once */
	CHECK_EQ(mprotect(page, pagesz, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_INJECT, in), 0);
	CHECK_EQ(in->answer, 0xff);
	CHECK_EQ(read(fd, recs, sizeof(recs)), REC);
	CHECK_EQ(respond(fd, recs[0].cookie, 0), RESP);
	CHECK_EQ(dev_stats(fd, 1).sent_pages, 1);
	munmap(page, pagesz);
	close(fd);
}

/*
 * Cookie 0 is never issued: a write of {cookie 0, SUCCESS} with a group
 * outstanding fails with -EINVAL and changes nothing, so the next groups
 * still get non-zero cookies (the merged iommufd path erased the reserved
 * index 0 of its XA_FLAGS_ALLOC1 xarray there and handed out 0 next).
 */
static void test_cookie_zero(int mode)
{
	struct iopfq_hwpt_pgfault recs[4];
	uint32_t outstanding;
	unsigned int i;
	int fd = dev_open();

	CHECK_EQ(config(fd, mode, 4, 64), 0);
	CHECK_EQ(attach(fd, 1, 16, 100, 1, 1), 0);
	CHECK_EQ(inject_group(fd, 1, 100, 1, 1), 0);
	CHECK_EQ(read(fd, recs, sizeof(recs)), REC);
	outstanding = recs[0].cookie;
	CHECK(outstanding != 0);
	CHECK_ERR(respond(fd, 0, IOPFQ_PAGE_RESP_SUCCESS), EINVAL);
	CHECK_ERR(respond(fd, 0, IOPFQ_PAGE_RESP_INVALID), EINVAL);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(inject_group(fd, 1, 100, 2 + i, 1), 0);
		memset(recs, 0, sizeof(recs));
		CHECK_EQ(read(fd, recs, sizeof(recs)), REC);
		CHECK(recs[0].grpid == 2 + i && recs[0].cookie != 0 && recs[0].cookie != outstanding);
		CHECK_EQ(respond(fd, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS), RESP);
	}
	CHECK_EQ(respond(fd, outstanding, IOPFQ_PAGE_RESP_SUCCESS), RESP);
	CHECK_EQ(dev_stats(fd, 1).answered_groups, 4);
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 0);
	close(fd);
}

/*
 * Credits and generator bounds: over-credit injects are refused in both
 * modes; a Stop Marker takes no device credit; a group has at most
 * IOPFQ_IOC_MAX_GROUP pages; a burst at most IOPFQ_IOC_MAX_BURST groups; an
 * hrtimer callback reports at most min(credits, IOPFQ_IOC_MAX_IRQ_PAGES)
 * page requests.
 */
static void test_credits(int mode)
{
	struct iopfq_ioc_inject in = {
		.dev_id = 1, .flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID, .pasid = 100, .grpid = 9,
		.perm = IOPFQ_PGFAULT_PERM_READ,
	};
	struct iopfq_hwpt_pgfault recs[16];
	struct iopfq_ioc_gen gen;
	struct iopfq_ioc_flush fl;
	unsigned int i;
	int fd = dev_open();

	CHECK_EQ(config(fd, mode, 8, 4096), 0);
	CHECK_EQ(attach(fd, 1, 8, 100, 1, 1), 0);

	/* malformed requests, in both modes */
	in.grpid = IOPFQ_GRPID_MAX + 1;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	in.grpid = 9;
	in.pasid = IOPFQ_PASID_MAX + 1;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	in.pasid = 100;
	in.flags |= 1u << 5;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	in.flags = 0; /* no PASID, but a PASID given */
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	in.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID;
	in.perm = 1u << 7;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	in.perm = IOPFQ_PGFAULT_PERM_READ;
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 0);

	/* 8 credits: 8 partial pages, then the 9th is refused, last page or not */
	for (i = 0; i < 8; i++)
		CHECK_EQ(inject(fd, 1, 100, 9, 0, 0x1000ull * i), 0);
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 8);
	in.answer = 7;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EDQUOT);
	CHECK_EQ(in.answer, 0xff);
	in.flags |= IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
	in.answer = 7;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EDQUOT);
	CHECK_EQ(in.answer, 0); /* Success: the device retries, as VT-d on PRQ overflow */
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 8);
	CHECK_EQ(readable(fd), 2);
	memset(&fl, 0, sizeof(fl));
	fl.dev_id = 1;
	fl.pasid = 100;
	fl.flags = IOPFQ_IOC_FLUSH_PASID_VALID;
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_FLUSH, &fl), 0);
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 0);

	/* a Stop Marker: accepted by the core, refused by the baseline; never a credit */
	in.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
	in.perm = 0;
	in.grpid = 10;
	if (mode == IOPFQ_MODE_CORE)
		CHECK_EQ(ioctl(fd, IOPFQ_IOC_INJECT, &in), 0);
	else
		CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 0);
	CHECK_EQ(inject_group(fd, 1, 100, 10, 8), 0); /* all 8 credits are still there */
	CHECK_EQ(read(fd, recs, sizeof(recs)), 8 * REC);
	CHECK_EQ(respond(fd, recs[0].cookie, 0), RESP);
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 0);
	CHECK_EQ(dev_stats(fd, 1).duplicates, 0);

	/* group size: 1 .. min(credits, IOPFQ_IOC_MAX_GROUP) */
	CHECK_ERR(attach(fd, 2, 1024, 200, 1, IOPFQ_IOC_MAX_GROUP + 1), EINVAL);
	CHECK_ERR(attach(fd, 2, 1024, 200, 1, 1024), EINVAL);
	CHECK_EQ(attach(fd, 2, 1024, 200, 1, IOPFQ_IOC_MAX_GROUP), 0);
	CHECK_EQ(attach(fd, 3, 1024, 300, 1, 4), 0);
	CHECK_EQ(attach(fd, 4, 64, 400, 1, 4), 0);

	/* burst: 1 .. IOPFQ_IOC_MAX_BURST groups, either kind */
	memset(&gen, 0, sizeof(gen));
	gen.dev_id = 3;
	gen.kind = IOPFQ_GEN_KTHREAD;
	gen.period_ns = 1000000;
	gen.burst = 0;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), EINVAL);
	gen.burst = IOPFQ_IOC_MAX_BURST + 1;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), EINVAL);
	/* hrtimer: a callback reports at most min(credits, IOPFQ_IOC_MAX_IRQ_PAGES) pages */
	gen.kind = IOPFQ_GEN_HRTIMER;
	gen.dev_id = 2; /* groups of IOPFQ_IOC_MAX_GROUP pages */
	gen.burst = 2;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), EINVAL);
	gen.dev_id = 3; /* groups of 4, 1024 credits */
	gen.burst = IOPFQ_IOC_MAX_IRQ_PAGES / 4 + 1;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), EINVAL);
	gen.dev_id = 4; /* groups of 4, 64 credits */
	gen.burst = 64 / 4 + 1;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), EINVAL);
	{
		struct iopfq_ioc_dev_stats st = dev_stats(fd, 4);

		CHECK(st.sent_groups == 0 && st.credits_outstanding == 0);
	}
	/* the limits themselves are accepted */
	gen.dev_id = 3;
	gen.burst = IOPFQ_IOC_MAX_IRQ_PAGES / 4;
	gen.max_groups = 1;
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), 0);
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_GEN_STOP, &(uint32_t){ 3 }), 0);
	gen.dev_id = 2;
	gen.burst = 1;
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), 0);
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_GEN_STOP, &(uint32_t){ 2 }), 0);
	close(fd);
}

/*
 * The device's PASIDs only: INJECT of a PASID outside the device's range,
 * of a PASID on a device that uses none, or of no PASID on a device that
 * uses PASIDs, fails with -EINVAL and changes nothing (once such a page was
 * queued, took a device credit the device never got back, and a detach
 * counted it leaked for good).
 */
static void test_pasid_range(int mode)
{
	struct iopfq_ioc_attach nopasid = {
		.dev_id = 2, .credits = 8, .npasids = 1, .group_size = 1,
		.flags = IOPFQ_ATTACH_NO_PASID,
	};
	struct iopfq_ioc_inject in = {
		.dev_id = 1, .flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID, .grpid = 3,
		.perm = IOPFQ_PGFAULT_PERM_READ,
	};
	struct iopfq_ioc_global_stats g0, g1;
	struct iopfq_hwpt_pgfault recs[4];
	struct iopfq_ioc_dev_stats st;
	unsigned int i;
	int fd = dev_open();
	const unsigned int bad[] = { 0, 99, 102, IOPFQ_PASID_MAX };

	g0 = global_stats(fd);
	CHECK_EQ(config(fd, mode, 4, 64), 0);
	CHECK_EQ(attach(fd, 1, 8, 100, 2, 1), 0); /* PASIDs 100 and 101 */
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_ATTACH, &nopasid), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in.pasid = bad[i];
		in.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID;
		CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
		in.flags |= IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
		CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	}
	in.pasid = 0;
	in.flags = IOPFQ_PGFAULT_FLAGS_LAST_PAGE; /* no PASID on a PASID device */
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	in.dev_id = 2; /* a PASID on a device without */
	in.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	in.pasid = 100;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	for (i = 1; i <= 2; i++) {
		st = dev_stats(fd, i);
		CHECK(st.credits_outstanding == 0 && st.sent_pages == 0 && st.refused == 0);
	}
	CHECK_EQ(queue_stats(fd).accepted, 0);
	CHECK_EQ(read(fd, recs, sizeof(recs)), 0);
	/* the edges of the range, and no PASID on the device without, are taken */
	CHECK_EQ(inject_group(fd, 1, 100, 3, 1), 0);
	CHECK_EQ(inject_group(fd, 1, 101, 3, 1), 0);
	in.pasid = 0;
	in.flags = IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_INJECT, &in), 0);
	CHECK_EQ(read(fd, recs, sizeof(recs)), 3 * REC);
	for (i = 0; i < 3; i++)
		CHECK_EQ(respond(fd, recs[i].cookie, IOPFQ_PAGE_RESP_SUCCESS), RESP);
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 0);
	CHECK_EQ(dev_stats(fd, 2).credits_outstanding, 0);
	/* a partial page of a bad PASID before a detach: nothing is left to leak */
	in.dev_id = 1;
	in.pasid = 102;
	in.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID;
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_INJECT, &in), EINVAL);
	g1 = global_stats_after_close(fd);
	CHECK_EQ(g1.sim_credits_leaked - g0.sim_credits_leaked, 0);
	CHECK_EQ(g1.sim_duplicates - g0.sim_duplicates, 0);
}

/*
 * A Stop Marker drops its PASID's partial pages without an answer (core
 * mode; the baseline refuses markers): the device takes their credits back
 * at once, and its complete groups and other PASIDs keep theirs.
 */
static void test_marker_credits(void)
{
	struct iopfq_ioc_inject marker = {
		.dev_id = 1, .pasid = 100, .grpid = 30,
		.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE,
	};
	struct iopfq_hwpt_pgfault recs[8];
	struct iopfq_ioc_dev_stats st;
	int fd = dev_open();

	CHECK_EQ(config(fd, IOPFQ_MODE_CORE, 4, 64), 0);
	CHECK_EQ(attach(fd, 1, 16, 100, 2, 1), 0);
	CHECK_EQ(inject(fd, 1, 100, 3, 0, 0x1000), 0); /* partial, PASID 100 */
	CHECK_EQ(inject(fd, 1, 100, 3, 0, 0x2000), 0);
	CHECK_EQ(inject(fd, 1, 100, 5, 0, 0x3000), 0); /* another partial group */
	CHECK_EQ(inject(fd, 1, 101, 3, 0, 0x4000), 0); /* partial, PASID 101 */
	CHECK_EQ(inject_group(fd, 1, 100, 4, 2), 0);   /* complete, PASID 100 */
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 6);
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_INJECT, &marker), 0);
	st = dev_stats(fd, 1);
	CHECK_EQ(st.credits_outstanding, 3); /* 100/4 (2 pages) and 101/3 */
	CHECK_EQ(st.answered_groups, 0);
	CHECK_EQ(read(fd, recs, sizeof(recs)), 2 * REC);
	/* the core drops them when it drains its ring: by this read at the latest */
	CHECK_EQ(queue_stats(fd).discarded_by_marker, 3);
	CHECK(recs[0].grpid == 4 && recs[0].pasid == 100);
	CHECK_EQ(respond(fd, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS), RESP);
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 1);
	/* the dropped groups' keys are free again: a new group there is answered whole */
	CHECK_EQ(inject_group(fd, 1, 100, 3, 1), 0);
	CHECK_EQ(inject(fd, 1, 101, 3, 1, 0x5000), 0);
	CHECK_EQ(read(fd, recs, sizeof(recs)), 3 * REC);
	CHECK_EQ(respond(fd, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS), RESP);
	CHECK_EQ(respond(fd, recs[2].cookie, IOPFQ_PAGE_RESP_SUCCESS), RESP);
	st = dev_stats(fd, 1);
	CHECK_EQ(st.credits_outstanding, 0);
	CHECK_EQ(st.duplicates, 0);
	CHECK_EQ(st.answered_pages, 5);
	close(fd);
}

/*
 * Out of memory in baseline mode (forced by the module's test-only
 * test_fail_allocs parameter: Debian's 6.1 kernel has no fault injection).
 * A partial page: INJECT fails with -ENOMEM and nothing changed. A last
 * page: the merged path answers the whole group Response Failure at once
 * and frees its partial pages; INJECT then succeeds and says so in answer
 * (0xf), and the device gets every page's credit back once (it used to get
 * -ENOMEM after the answer, the last page's credit twice and the partial
 * pages' never).
 */
#define FAIL_ALLOCS "/sys/module/iopfq/parameters/test_fail_allocs"

static void test_baseline_nomem(void)
{
	struct iopfq_ioc_inject in = {
		.dev_id = 1, .pasid = 100, .grpid = 4, .perm = IOPFQ_PGFAULT_PERM_READ,
		.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE,
	};
	struct iopfq_ioc_global_stats g0, g1;
	struct iopfq_hwpt_pgfault recs[4];
	struct iopfq_ioc_queue_stats q;
	struct iopfq_ioc_dev_stats st;
	int fd = dev_open();

	g0 = global_stats(fd);
	CHECK_EQ(config(fd, IOPFQ_MODE_BASELINE, 4, 64), 0);
	CHECK_EQ(attach(fd, 1, 16, 100, 1, 4), 0);
	/* a partial page without memory: refused, nothing changed */
	CHECK_EQ(write_file(FAIL_ALLOCS, "1"), 0);
	CHECK_ERR(inject(fd, 1, 100, 4, 0, 0x1000), ENOMEM);
	CHECK_EQ(read_number(FAIL_ALLOCS), 0);
	st = dev_stats(fd, 1);
	CHECK(st.credits_outstanding == 0 && st.sent_pages == 0 && st.refused == 1);
	/* two partial pages, then a last page without memory */
	CHECK_EQ(inject(fd, 1, 100, 4, 0, 0x1000), 0);
	CHECK_EQ(inject(fd, 1, 100, 4, 0, 0x2000), 0);
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 2);
	CHECK_EQ(write_file(FAIL_ALLOCS, "1"), 0);
	in.answer = 7;
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_INJECT, &in), 0);
	CHECK_EQ(in.answer, IOPFQ_HW_FAILURE);
	CHECK_EQ(read_number(FAIL_ALLOCS), 0);
	st = dev_stats(fd, 1);
	CHECK_EQ(st.credits_outstanding, 0);
	CHECK_EQ(st.answered_groups, 1);
	CHECK_EQ(st.answered_failure, 1);
	CHECK_EQ(st.answered_pages, 3);
	CHECK_EQ(st.sent_pages, 3);
	CHECK_EQ(st.duplicates, 0);
	q = queue_stats(fd);
	CHECK_EQ(q.base_alloc_failures, 2);
	CHECK_EQ(q.base_allocs, q.base_frees);
	CHECK_EQ(read(fd, recs, sizeof(recs)), 0);
	/* the group's key and credits are free again */
	CHECK_EQ(inject_group(fd, 1, 100, 4, 2), 0);
	CHECK_EQ(read(fd, recs, sizeof(recs)), 2 * REC);
	CHECK_EQ(respond(fd, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS), RESP);
	CHECK_EQ(dev_stats(fd, 1).credits_outstanding, 0);
	write_file(FAIL_ALLOCS, "0");
	g1 = global_stats_after_close(fd);
	CHECK_EQ(g1.sim_credits_leaked - g0.sim_credits_leaked, 0);
	CHECK_EQ(g1.base_allocs, g1.base_frees);
}

/*
 * A page_response callback that calls back into the consumer side of its
 * own fault object gets -EDEADLK and changes nothing (iopfq_fault.h): from
 * write() (no lock held; a detach of the answered device from there would
 * wait for the answer it runs inside) and from a flush (the consumer mutex
 * held: the call would deadlock on it). Core mode: the device's callback
 * calls IOPFQ_IOC_AGE_SCAN's function (IOPFQ_ATTACH_TEST_REENTER).
 */
static void test_reenter(void)
{
	struct iopfq_ioc_attach a = {
		.dev_id = 1, .credits = 16, .pasid_base = 100, .npasids = 1, .group_size = 1,
		.flags = IOPFQ_ATTACH_TEST_REENTER,
	};
	struct iopfq_ioc_flush fl = {
		.dev_id = 1, .pasid = 100, .flags = IOPFQ_IOC_FLUSH_PASID_VALID,
	};
	struct iopfq_hwpt_pgfault recs[4];
	struct iopfq_ioc_dev_stats st;
	int fd = dev_open();

	CHECK_EQ(config(fd, IOPFQ_MODE_CORE, 4, 64), 0);
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_ATTACH, &a), 0);
	CHECK_EQ(inject_group(fd, 1, 100, 1, 1), 0);
	CHECK_EQ(read(fd, recs, sizeof(recs)), REC);
	CHECK_EQ(respond(fd, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS), RESP);
	st = dev_stats(fd, 1);
	CHECK_EQ(st.test_reenter_calls, 1);
	CHECK_EQ(st.test_reenter_rc, -EDEADLK);
	CHECK_EQ(st.credits_outstanding, 0);
	/* without the refusal the next call would hang on the mutex: not tried then */
	if (st.test_reenter_rc == -EDEADLK) {
		CHECK_EQ(inject_group(fd, 1, 100, 2, 1), 0);
		CHECK_EQ(ioctl(fd, IOPFQ_IOC_FLUSH, &fl), 0);
		st = dev_stats(fd, 1);
		CHECK_EQ(st.test_reenter_calls, 2);
		CHECK_EQ(st.test_reenter_rc, -EDEADLK);
		CHECK(st.answered_invalid == 1 && st.credits_outstanding == 0);
	}
	/* outside a callback the same call works */
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_AGE_SCAN, &(uint64_t){ 0 }), 0);
	CHECK_EQ(read(fd, recs, sizeof(recs)), 0);
	close(fd);
}

/*
 * write() of a response racing IOPFQ_IOC_CONFIG mode switches on one file,
 * for @seconds: both must keep going. A lock-order inversion between the
 * two (write took the config lock then the queue mutex, CONFIG the other
 * way round) left both threads in D state for good. Runs in a child
 * process, so that a deadlock fails this check instead of hanging the whole
 * test (the stuck child cannot be killed); the guest's hung-task detector
 * (run.sh sets hung_task_timeout_secs) prints its traces too.
 */
struct race {
	int fd;
	volatile int stop;
	unsigned long writes, configs, bad;
};

static void *race_writer(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		errno = 0;
		/* no group is outstanding: every answer is refused */
		if (!(respond(r->fd, 1, IOPFQ_PAGE_RESP_SUCCESS) == -1 && errno == EINVAL))
			__atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
		r->writes++;
	}
	return NULL;
}

static void *race_config(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		int mode = r->configs % 3 ? IOPFQ_MODE_BASELINE : IOPFQ_MODE_CORE;

		if (config(r->fd, mode, 8, 64))
			__atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
		r->configs++;
	}
	return NULL;
}

static void test_config_race(double seconds)
{
	double deadline;
	int status = 0;
	pid_t pid;

	if (seconds <= 0)
		return;
	pid = fork();
	if (pid == 0) {
		struct race r = { .fd = dev_open() };
		pthread_t w, c;

		if (config(r.fd, IOPFQ_MODE_BASELINE, 8, 64))
			_exit(3);
		pthread_create(&w, NULL, race_writer, &r);
		pthread_create(&c, NULL, race_config, &r);
		usleep((useconds_t)(seconds * 1e6));
		r.stop = 1;
		pthread_join(w, NULL);
		pthread_join(c, NULL);
		printf("race: %lu writes, %lu configs in %.0f s, %lu unexpected results\n",
		       r.writes, r.configs, seconds, r.bad);
		close(r.fd);
		_exit(r.bad || !r.writes || !r.configs ? 1 : 0);
	}
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	/* generous: TCG on a loaded host; a deadlock never ends anyway */
	deadline = now_s() + seconds + 60;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_s() > deadline) {
			printf("race: write/CONFIG still running %.0f s after the end: deadlock\n",
			       seconds + 60);
			status = -1;
			break;
		}
		usleep(100000);
	}
	CHECK(status == 0);
}

/* ---------------------------------------------------------------------- */
/* flood                                                                   */

static void percentiles(const uint64_t *hist, uint64_t count, double out[4])
{
	static const double q[4] = { 0.50, 0.90, 0.99, 0.999 };
	unsigned int i, k = 0;
	uint64_t seen = 0;

	for (i = 0; i < 4; i++)
		out[i] = 0;
	for (i = 0; i < IOPFQ_HIST_BUCKETS && k < 4; i++) {
		seen += hist[i];
		while (k < 4 && count && seen >= (uint64_t)(q[k] * count + 0.5) && seen) {
			/* the bucket's midpoint */
			out[k] = (iopfq_hist_lower(i) + iopfq_hist_lower(i + 1)) / 2.0;
			k++;
		}
	}
}

struct flood_result {
	double groups_per_s;
	double lat[2][4];
	double max[2];
	double mean[2];
};

/* Returns 0 and fills @res; checks conservation. */
static void test_flood(int mode, double seconds, struct flood_result *res)
{
	static struct iopfq_hwpt_pgfault recs[1024];
	static struct iopfq_hwpt_page_response resp[1024];
	static uint64_t hist[IOPFQ_HIST_BUCKETS];
	struct iopfq_ioc_gen gen;
	uint64_t answered = 0;
	double t0, t_end, elapsed;
	int fd = dev_open();
	unsigned int d;

	CHECK_EQ(config(fd, mode, 4, 1024), 0);
	/* dev 1: hard-IRQ hrtimer, groups of 4; dev 2: kthread closed loop, groups of 2 */
	CHECK_EQ(attach(fd, 1, 256, 1, 8, 4), 0);
	CHECK_EQ(attach(fd, 2, 256, 1, 8, 2), 0);
	memset(&gen, 0, sizeof(gen));
	gen.dev_id = 1;
	gen.kind = IOPFQ_GEN_HRTIMER;
	gen.period_ns = 50000;
	gen.burst = 8;
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), 0);
	CHECK_ERR(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), EBUSY);
	CHECK_ERR(inject(fd, 1, 1, 1, 1, 0), EBUSY);
	gen.dev_id = 2;
	gen.kind = IOPFQ_GEN_KTHREAD;
	gen.period_ns = 0;
	gen.burst = 16;
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_GEN_START, &gen), 0);

	t0 = now_s();
	t_end = t0 + seconds;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double t = now_s();
		ssize_t n;
		size_t i, k;

		if (t >= t_end)
			break;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, recs, sizeof(recs));
		if (n <= 0) {
			CHECK(n == 0);
			continue;
		}
		/* one answer per group: the record with LAST_PAGE */
		for (i = 0, k = 0; i < (size_t)n / REC; i++) {
			if (!(recs[i].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE))
				continue;
			resp[k].cookie = recs[i].cookie;
			resp[k].code = IOPFQ_PAGE_RESP_SUCCESS;
			k++;
		}
		if (k && write(fd, resp, k * RESP) != (ssize_t)(k * RESP))
			CHECK(!"flood write");
		answered += k;
	}
	elapsed = now_s() - t0;
	res->groups_per_s = answered / elapsed;

	/* stop the producers, answer what is left */
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_GEN_STOP, &(uint32_t){ 1 }), 0);
	CHECK_EQ(ioctl(fd, IOPFQ_IOC_GEN_STOP, &(uint32_t){ 2 }), 0);
	for (;;) {
		ssize_t n = read(fd, recs, sizeof(recs));
		size_t i, k;

		if (n <= 0)
			break;
		for (i = 0, k = 0; i < (size_t)n / REC; i++)
			if (recs[i].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) {
				resp[k].cookie = recs[i].cookie;
				resp[k].code = IOPFQ_PAGE_RESP_SUCCESS;
				k++;
			}
		if (k && write(fd, resp, k * RESP) != (ssize_t)(k * RESP))
			CHECK(!"drain write");
	}

	for (d = 1; d <= 2; d++) {
		struct iopfq_ioc_dev_stats st = { .dev_id = d, .hist_len = IOPFQ_HIST_BUCKETS,
						  .hist_ptr = (uintptr_t)hist };

		CHECK_EQ(ioctl(fd, IOPFQ_IOC_DEV_STATS, &st), 0);
		CHECK(st.sent_groups > 0);
		CHECK_EQ(st.answered_groups, st.sent_groups);  /* 0 lost */
		CHECK_EQ(st.answered_pages, st.sent_pages);
		CHECK_EQ(st.answered_success, st.sent_groups);
		CHECK_EQ(st.duplicates, 0);                    /* 0 duplicated */
		CHECK_EQ(st.refused, 0);
		CHECK_EQ(st.credits_outstanding, 0);           /* credits balanced */
		CHECK_EQ(st.lat_count, st.sent_groups);
		CHECK_EQ(st.hist_len, IOPFQ_HIST_BUCKETS);
		percentiles(hist, st.lat_count, res->lat[d - 1]);
		res->max[d - 1] = st.lat_max_ns;
		res->mean[d - 1] = st.lat_count ? (double)st.lat_sum_ns / st.lat_count : 0;
		printf("flood [%s] dev %u (%s): sent %llu groups / %llu pages, answered %llu, "
		       "throttled %llu, dup %llu, refused %llu\n",
		       mode_name, d, d == 1 ? "hrtimer, hard IRQ" : "kthread",
		       (unsigned long long)st.sent_groups, (unsigned long long)st.sent_pages,
		       (unsigned long long)st.answered_groups, (unsigned long long)st.throttled,
		       (unsigned long long)st.duplicates, (unsigned long long)st.refused);
	}
	{
		struct iopfq_ioc_queue_stats q = queue_stats(fd);

		CHECK_EQ(q.bad_answers, 0);
		CHECK_EQ(q.ring_claim_waits, 0);
		if (mode == IOPFQ_MODE_CORE)
			CHECK(q.accepted == q.answered && q.in_ring + q.partial + q.ready +
								   q.delivered == 0);
		else
			CHECK_EQ(q.base_allocs, q.base_frees);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	double race_seconds = argc > 2 ? atof(argv[2]) : 5.0;
	int memcg = argc > 3 ? atoi(argv[3]) : 1;
	struct flood_result r[2];
	int mode;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(r, 0, sizeof(r));
	for (mode = IOPFQ_MODE_CORE; mode <= IOPFQ_MODE_BASELINE; mode++) {
		unsigned int before = passed, ran = checks;

		mode_name = mode == IOPFQ_MODE_CORE ? "core" : "baseline";
		test_semantics(mode);
		printf("%s semantics: %u of %u checks passed\n", mode_name, passed - before,
		       checks - ran);
		before = passed;
		ran = checks;
		test_close(mode);
		printf("%s close: %u of %u checks passed\n", mode_name, passed - before,
		       checks - ran);
		before = passed;
		ran = checks;
		test_inject_efault(mode);
		test_cookie_zero(mode);
		test_credits(mode);
		test_pasid_range(mode);
		if (mode == IOPFQ_MODE_CORE) {
			test_marker_credits();
			test_reenter();
		} else {
			test_baseline_nomem();
		}
		printf("%s contracts: %u of %u checks passed\n", mode_name, passed - before,
		       checks - ran);
		before = passed;
		ran = checks;
		test_flood(mode, seconds, &r[mode]);
		printf("%s flood: %u of %u checks passed\n", mode_name, passed - before,
		       checks - ran);
	}
	{
		unsigned int before = passed, ran = checks;

		mode_name = "race";
		test_config_race(race_seconds);
		printf("race write/CONFIG: %u of %u checks passed\n", passed - before, checks - ran);
		before = passed;
		ran = checks;
		mode_name = "poll";
		test_poll_across_config();
		printf("poll across CONFIG: %u of %u checks passed\n", passed - before, checks - ran);
		before = passed;
		ran = checks;
		mode_name = "memory";
		if (memcg) {
			test_memory_charged();
			printf("memory charged: %u of %u checks passed\n", passed - before,
			       checks - ran);
		} else {
			printf("memory charged: not run (this kernel has no memory cgroup)\n");
		}
	}
	for (mode = 0; mode < 2; mode++) {
		int d;

		for (d = 0; d < 2; d++)
			printf("BENCH mode=%s producer=%s groups_per_s=%.0f p50_ns=%.0f p90_ns=%.0f "
			       "p99_ns=%.0f p999_ns=%.0f max_ns=%.0f mean_ns=%.0f\n",
			       mode ? "baseline" : "core", d ? "kthread" : "hrtimer",
			       r[mode].groups_per_s, r[mode].lat[d][0], r[mode].lat[d][1],
			       r[mode].lat[d][2], r[mode].lat[d][3], r[mode].max[d],
			       r[mode].mean[d]);
	}
	if (r[1].groups_per_s > 0)
		printf("BENCH ratio core/baseline throughput=%.2f p50_hrtimer=%.2f p50_kthread=%.2f "
		       "p99_hrtimer=%.2f p99_kthread=%.2f\n",
		       r[0].groups_per_s / r[1].groups_per_s,
		       r[1].lat[0][0] ? r[0].lat[0][0] / r[1].lat[0][0] : 0,
		       r[1].lat[1][0] ? r[0].lat[1][0] / r[1].lat[1][0] : 0,
		       r[1].lat[0][2] ? r[0].lat[0][2] / r[1].lat[0][2] : 0,
		       r[1].lat[1][2] ? r[0].lat[1][2] / r[1].lat[1][2] : 0);
	printf("ktest: %u of %u checks passed\n", passed, checks);
	printf("IOPFQ-KTEST: %s\n", passed == checks ? "PASS" : "FAIL");
	return passed == checks ? 0 : 1;
}
