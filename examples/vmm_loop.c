/* SPDX-License-Identifier: MIT */
/*
 * vmm_loop.c - the page-fault loop of a VMM, written for iommufd's fault FD
 * (Linux 6.11+: IOMMU_FAULT_QUEUE_ALLOC gives the fd) and run here against
 * libiopfq: epoll on the fault FD, read a batch of 40-byte
 * iommu_hwpt_pgfault records, resolve each group, write a batch of 8-byte
 * iommu_hwpt_page_response answers.
 *
 * vmm_fault_loop() is the VMM's code. It sees a file descriptor, read() and
 * write() with read(2)'s return convention, and the uapi record types. The
 * only lines that differ between iommufd and libiopfq are the shim below:
 * build with -DVMM_USE_IOMMUFD (and a 6.11+ <linux/iommufd.h>) and the loop
 * runs unchanged on the real fault FD.
 *
 * main() plays the rest of the world: it makes a libiopfq fault object,
 * attaches a few simulated PRI devices, starts one reporting thread per
 * device (each honours its PRI credits: it waits for answers before it
 * reissues), runs the loop until every group is answered and checks that
 * each was answered exactly once, with SUCCESS, and that nothing was refused.
 *
 * Usage: vmm_loop [--devices N] [--credits C] [--groups G]    (exit 0 = all answered)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* the shim: the only part that knows which fault FD it talks to           */

#ifdef VMM_USE_IOMMUFD
#include <linux/iommufd.h>

typedef struct iommu_hwpt_pgfault vmm_pgfault;
typedef struct iommu_hwpt_page_response vmm_page_response;
#define VMM_PGFAULT_LAST_PAGE IOMMU_PGFAULT_FLAGS_LAST_PAGE
#define VMM_PGFAULT_PERM_WRITE IOMMU_PGFAULT_PERM_WRITE
#define VMM_RESP_SUCCESS IOMMUFD_PAGE_RESP_SUCCESS
#define VMM_RESP_INVALID IOMMUFD_PAGE_RESP_INVALID
#define vmm_fault_read(fd, buf, len) read((fd), (buf), (len))
#define vmm_fault_write(fd, buf, len) write((fd), (buf), (len))

#else /* libiopfq */
#include <iopfq/user.h>

typedef struct iopfq_hwpt_pgfault vmm_pgfault;
typedef struct iopfq_hwpt_page_response vmm_page_response;
#define VMM_PGFAULT_LAST_PAGE IOPFQ_PGFAULT_FLAGS_LAST_PAGE
#define VMM_PGFAULT_PERM_WRITE IOPFQ_PGFAULT_PERM_WRITE
#define VMM_RESP_SUCCESS IOPFQ_PAGE_RESP_SUCCESS
#define VMM_RESP_INVALID IOPFQ_PAGE_RESP_INVALID

static struct iopfq_fault *vmm_fault; /* the object behind the fd */

/* read(2)'s convention (-1 and errno) over libiopfq's -errno return */
static ssize_t vmm_fault_read(int fd, void *buf, size_t len)
{
	ssize_t n = iopfq_fault_read(vmm_fault, buf, len);

	(void)fd;
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

static ssize_t vmm_fault_write(int fd, const void *buf, size_t len)
{
	ssize_t n = iopfq_fault_write(vmm_fault, buf, len);

	(void)fd;
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}
#endif

/* ---------------------------------------------------------------------- */
/* the VMM's loop: identical for both                                      */

#define BATCH 256 /* records per read: several groups */

struct vmm_stats {
	unsigned long wakeups, records, groups, write_calls;
};

/* Resolve one page fault: look the address up in the guest's memory map,
 * populate it, or tell the device it is invalid. Pretend. */
static uint32_t vmm_resolve(const vmm_pgfault *rec)
{
	if (rec->addr == 0)
		return VMM_RESP_INVALID; /* no guest memory there */
	(void)(rec->perm & VMM_PGFAULT_PERM_WRITE);
	return VMM_RESP_SUCCESS;
}

/* Write @n answers; a short write means an answer was refused: skip it. */
static int vmm_answer(int fault_fd, vmm_page_response *resp, size_t n, struct vmm_stats *st)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = vmm_fault_write(fault_fd, resp + done, (n - done) * sizeof(*resp));

		st->write_calls++;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EINVAL)
				return -1;
			/* a stale cookie (the device was detached meanwhile): drop it */
			fprintf(stderr, "vmm: answer for cookie %u refused\n", resp[done].cookie);
			done++;
			continue;
		}
		done += (size_t)w / sizeof(*resp);
	}
	return 0;
}

/*
 * Serve the fault FD until *@stop. Records of a group are contiguous in a
 * read and share a cookie; the group is answered once, with INVALID if any
 * of its pages could not be resolved.
 */
static int vmm_fault_loop(int fault_fd, const int *stop, struct vmm_stats *st)
{
	static vmm_pgfault recs[BATCH];
	static vmm_page_response resp[BATCH];
	struct epoll_event ev = { .events = EPOLLIN };
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, fault_fd, &ev) < 0) {
		perror("vmm: epoll");
		return -1;
	}
	while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
		int n = epoll_wait(epfd, &ev, 1, 100);

		if (n < 0 && errno != EINTR) {
			perror("vmm: epoll_wait");
			break;
		}
		if (n <= 0)
			continue;
		st->wakeups++;
		for (;;) { /* until read returns 0: correct for level and edge triggering */
			ssize_t len = vmm_fault_read(fault_fd, recs, sizeof(recs));
			size_t nrec, nresp = 0, i;
			uint32_t code = VMM_RESP_SUCCESS;

			if (len < 0) {
				if (errno == EINTR)
					continue;
				perror("vmm: read");
				close(epfd);
				return -1;
			}
			if (len == 0)
				break;
			nrec = (size_t)len / sizeof(recs[0]);
			st->records += nrec;
			for (i = 0; i < nrec; i++) {
				if (vmm_resolve(&recs[i]) != VMM_RESP_SUCCESS)
					code = VMM_RESP_INVALID;
				if (i + 1 == nrec || recs[i + 1].cookie != recs[i].cookie) {
					resp[nresp].cookie = recs[i].cookie;
					resp[nresp].code = code;
					nresp++;
					code = VMM_RESP_SUCCESS;
				}
			}
			st->groups += nresp;
			if (vmm_answer(fault_fd, resp, nresp, st)) {
				perror("vmm: write");
				close(epfd);
				return -1;
			}
		}
	}
	close(epfd);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* the world around it: simulated devices on libiopfq                      */

#ifndef VMM_USE_IOMMUFD

#define MAX_DEVICES 16

struct device {
	uint32_t dev_id;
	iopfq_dev_t handle;
	int credits_free;              /* atomic: the device honours its PRI allocation */
	unsigned long groups_sent;
	unsigned long answers;         /* atomic */
	unsigned long bad_answers;     /* atomic: not SUCCESS, or not ours */
	unsigned long refused;         /* reports refused */
	pthread_t thread;
} __attribute__((aligned(64)));

static struct device devices[MAX_DEVICES];
static unsigned ndevices = 3, credits = 32, groups_per_device = 20000;
static unsigned long groups_answered; /* atomic */
static int stop;                      /* atomic */

static void on_page_response(void *arg, const struct iopfq_response *r)
{
	struct device *d = r->dev_ctx;

	(void)arg;
	if (r->code != IOPFQ_HW_SUCCESS || r->origin != IOPFQ_ANSWER_USER || r->dev_id != d->dev_id)
		__atomic_fetch_add(&d->bad_answers, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&d->credits_free, (int)r->npages, __ATOMIC_RELEASE);
	__atomic_fetch_add(&d->answers, 1, __ATOMIC_RELAXED);
	if (__atomic_add_fetch(&groups_answered, 1, __ATOMIC_ACQ_REL) ==
	    (unsigned long)ndevices * groups_per_device)
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
}

static void *device_thread(void *arg)
{
	struct device *d = arg;
	unsigned seed = d->dev_id;

	for (unsigned g = 0; g < groups_per_device; g++) {
		int pages = 1 + (int)((unsigned)rand_r(&seed) % 4);

		if (pages > (int)credits)
			pages = (int)credits;
		/* wait for credits: they come back with the answers */
		while (__atomic_load_n(&d->credits_free, __ATOMIC_ACQUIRE) < pages)
			sched_yield();
		__atomic_fetch_sub(&d->credits_free, pages, __ATOMIC_RELAXED);
		for (int p = 0; p < pages; p++) {
			struct iopfq_request req = {
				.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID |
					 (p + 1 == pages ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0),
				.pasid = 1 + d->dev_id,
				.grpid = g % 512,
				.perm = IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE,
				.addr = 0x100000000ull + ((uint64_t)g << 16) + (uint64_t)p * 4096,
			};

			if (iopfq_fault_report(vmm_fault, d->handle, &req, NULL))
				d->refused++;
		}
		d->groups_sent++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "devices", required_argument, NULL, 'd' },
		{ "credits", required_argument, NULL, 'c' },
		{ "groups", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	struct iopfq_fault_ops ops = { .page_response = on_page_response };
	struct iopfq_config cfg = { 0 };
	struct vmm_stats st = { 0 };
	struct iopfq_counters c;
	unsigned long expect;
	int opt, rc, ok = 1;

	while ((opt = getopt_long(argc, argv, "d:c:g:", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': ndevices = (unsigned)atoi(optarg); break;
		case 'c': credits = (unsigned)atoi(optarg); break;
		case 'g': groups_per_device = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [--devices N] [--credits C] [--groups G]\n", argv[0]);
			return 2;
		}
	}
	if (ndevices < 1 || ndevices > MAX_DEVICES || credits < 1 || groups_per_device < 1) {
		fprintf(stderr, "vmm_loop: 1..%d devices, at least 1 credit and 1 group\n",
			MAX_DEVICES);
		return 2;
	}
	expect = (unsigned long)ndevices * groups_per_device;

	cfg.max_devices = ndevices;
	cfg.credit_budget = ndevices * credits;
	rc = iopfq_fault_create(&cfg, &ops, &vmm_fault);
	if (rc) {
		fprintf(stderr, "iopfq_fault_create: %s\n", strerror(-rc));
		return 1;
	}
	for (unsigned i = 0; i < ndevices; i++) {
		devices[i].dev_id = 0x100 + i;
		devices[i].credits_free = (int)credits;
		rc = iopfq_fault_dev_attach(vmm_fault, devices[i].dev_id, credits, &devices[i],
					&devices[i].handle);
		if (rc) {
			fprintf(stderr, "iopfq_fault_dev_attach: %s\n", strerror(-rc));
			return 1;
		}
	}
	for (unsigned i = 0; i < ndevices; i++)
		pthread_create(&devices[i].thread, NULL, device_thread, &devices[i]);

	/* the VMM: it knows only the fd (and, through the shim, how to read it) */
	if (vmm_fault_loop(iopfq_fault_fd(vmm_fault), &stop, &st))
		ok = 0;

	for (unsigned i = 0; i < ndevices; i++) {
		struct device *d = &devices[i];

		pthread_join(d->thread, NULL);
		if (d->answers != groups_per_device || d->bad_answers || d->refused ||
		    d->credits_free != (int)credits) {
			fprintf(stderr, "device %#x: %lu sent, %lu answered, %lu bad, %lu refused, "
					"%d credits back of %u\n",
				d->dev_id, d->groups_sent, d->answers, d->bad_answers, d->refused,
				d->credits_free, credits);
			ok = 0;
		}
	}
	iopfq_fault_counters(vmm_fault, &c, NULL);
	if (c.groups_answered != expect || st.groups != expect || c.refused_over_credit ||
	    c.bad_answers || iopfq_warnings())
		ok = 0;
	printf("vmm_loop: %u devices x %u groups: %lu records, %lu groups answered in %lu "
	       "wake-ups and %lu writes; refused %llu, bad answers %llu: %s\n",
	       ndevices, groups_per_device, st.records, st.groups, st.wakeups, st.write_calls,
	       (unsigned long long)c.refused_over_credit, (unsigned long long)c.bad_answers,
	       ok ? "all answered" : "FAILED");
	iopfq_fault_destroy(vmm_fault);
	return ok ? 0 : 1;
}
#endif /* !VMM_USE_IOMMUFD */
