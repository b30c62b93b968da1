// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fault_rtt: the round trip through iommufd's real fault FD, one thread, in
 * the guest: IOMMU_TEST_OP_TRIGGER_IOPF (the report, in process context),
 * read() of the record, write() of the response. Prints
 *
 *   RTT <label> n=<n> p50=<ns> p99=<ns> p999=<ns> max=<ns> rate=<faults/s>
 *   ALLOC <label> faults=<n> kmalloc=<x> cache_alloc=<y> page_alloc=<z> per_fault=<f>
 *
 * The ALLOC line counts the kmem tracepoints (kmem:kmalloc,
 * kmem:kmem_cache_alloc, kmem:mm_page_alloc) fired while <n> faults make the
 * round trip, through tracefs; every allocation the kernel makes for a fault
 * on this path shows up there (the trigger ioctl's own bookkeeping included,
 * so the figure is an upper bound for the fault path proper).
 *
 * Usage: fault_rtt <label> <round trips> <alloc-count faults>
 * Under QEMU TCG only ratios between kernels booted by the same script mean
 * anything; the absolute times are the emulator's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"

#define TRACING "/sys/kernel/tracing"

static int fd, ffd;
static __u32 idev;

static void die(const char *what)
{
	printf("RTT-ERROR %s: %s\n", what, strerror(errno));
	exit(1);
}

static void test_cmd(struct iommu_test_cmd *cmd, const char *what)
{
	cmd->size = sizeof(*cmd);
	if (ioctl(fd, IOMMU_TEST_CMD, cmd))
		die(what);
}

/* /dev/iommu, IOAS, mock device switched to a fault-enabled nested hwpt */
static void setup(void)
{
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_test_cmd mock = { .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	struct iommu_hwpt_alloc parent = { .size = sizeof(parent) };
	struct iommu_fault_alloc fault = { .size = sizeof(fault) };
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc nested = { .size = sizeof(nested) };
	struct iommu_test_cmd replace = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };

	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		die("open /dev/iommu");
	if (ioctl(fd, IOMMU_IOAS_ALLOC, &ioas))
		die("IOAS_ALLOC");
	mock.id = ioas.out_ioas_id;
	test_cmd(&mock, "MOCK_DOMAIN");
	idev = mock.mock_domain.out_idev_id;
	parent.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	parent.dev_id = idev;
	parent.pt_id = ioas.out_ioas_id;
	if (ioctl(fd, IOMMU_HWPT_ALLOC, &parent))
		die("HWPT_ALLOC parent");
	if (ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &fault))
		die("FAULT_QUEUE_ALLOC");
	ffd = fault.out_fault_fd;
	nested.flags = IOMMU_HWPT_FAULT_ID_VALID;
	nested.dev_id = idev;
	nested.pt_id = parent.out_hwpt_id;
	nested.data_type = IOMMU_HWPT_DATA_SELFTEST;
	nested.data_len = sizeof(data);
	nested.data_uptr = (__u64)(unsigned long)&data;
	nested.fault_id = fault.out_fault_id;
	if (ioctl(fd, IOMMU_HWPT_ALLOC, &nested))
		die("HWPT_ALLOC iopf");
	replace.id = mock.mock_domain.out_stdev_id;
	replace.mock_domain_replace.pt_id = nested.out_hwpt_id;
	test_cmd(&replace, "MOCK_DOMAIN_REPLACE");
}

static void round_trip(__u32 i)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf = {
			.dev_id = idev,
			.grpid = i & 511,
			.perm = IOMMU_PGFAULT_PERM_READ,
			.addr = 0x100000ull + (__u64)(i & 511) * 4096,
		},
	};
	struct iommu_hwpt_pgfault rec;
	struct iommu_hwpt_page_response rsp = { .code = IOMMUFD_PAGE_RESP_SUCCESS };

	test_cmd(&cmd, "TRIGGER_IOPF");
	if (read(ffd, &rec, sizeof(rec)) != sizeof(rec))
		die("read");
	if (rec.grpid != (i & 511))
		die("record of another group");
	rsp.cookie = rec.cookie;
	if (write(ffd, &rsp, sizeof(rsp)) != sizeof(rsp))
		die("write");
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static void put(const char *path, const char *val)
{
	int f = open(path, O_WRONLY | O_TRUNC);

	if (f < 0 || write(f, val, strlen(val)) != (ssize_t)strlen(val))
		die(path);
	close(f);
}

/* the number of lines "<event>:" in the trace buffer */
static long count_events(const char *event)
{
	char line[512], pat[64];
	long n = 0;
	FILE *f = fopen(TRACING "/trace", "r");

	if (!f)
		die("open trace");
	snprintf(pat, sizeof(pat), " %s:", event);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, pat))
			n++;
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	const char *label;
	long n, nalloc, i, k, m, p, lost;
	long long *t, t0, t1;
	char buf[64];

	if (argc != 4)
		return 2;
	label = argv[1];
	n = atol(argv[2]);
	nalloc = atol(argv[3]);
	t = calloc(n, sizeof(*t));
	if (!t)
		die("calloc");
	setup();
	for (i = 0; i < 1000; i++)	/* warm caches and the allocator */
		round_trip(i);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		long long s = now_ns();

		round_trip(i);
		t[i] = now_ns() - s;
	}
	t1 = now_ns();
	qsort(t, n, sizeof(*t), cmp_ll);
	printf("RTT %s n=%ld p50=%lld p99=%lld p999=%lld max=%lld rate=%.0f\n", label, n,
	       t[n / 2], t[n * 99 / 100], t[n * 999 / 1000], t[n - 1],
	       n / ((t1 - t0) / 1e9));

	put(TRACING "/buffer_size_kb", "8192");
	put(TRACING "/trace", "");
	put(TRACING "/events/kmem/kmalloc/enable", "1");
	put(TRACING "/events/kmem/kmem_cache_alloc/enable", "1");
	put(TRACING "/events/kmem/mm_page_alloc/enable", "1");
	put(TRACING "/tracing_on", "1");
	for (i = 0; i < nalloc; i++)
		round_trip(i);
	put(TRACING "/tracing_on", "0");
	k = count_events("kmalloc");
	m = count_events("kmem_cache_alloc");
	p = count_events("mm_page_alloc");
	/* an overwritten ring buffer would undercount: say so */
	{
		FILE *f = fopen(TRACING "/per_cpu/cpu0/stats", "r");

		lost = -1;
		while (f && fgets(buf, sizeof(buf), f))
			if (sscanf(buf, "overrun: %ld", &lost) == 1)
				break;
		if (f)
			fclose(f);
	}
	printf("ALLOC %s faults=%ld kmalloc=%ld cache_alloc=%ld page_alloc=%ld per_fault=%.2f overrun=%ld\n",
	       label, nalloc, k, m, p, (double)(k + m + p) / nalloc, lost);
	return lost == 0 ? 0 : 1;
}
