// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fault_rtt: the round trip through iommufd's real fault FD, one thread, in
 * the guest: IOMMU_TEST_OP_TRIGGER_IOPF (the report, in process context),
 * read() of the record, write() of the response. Prints
 *
 *   RTT <label> n=<n> p50=<ns> p99=<ns> p999=<ns> max=<ns> rate=<faults/s>
 *   ALLOC <label> faults=<n> kmalloc=<x> cache_alloc=<y> page_alloc=<z> per_fault=<f>
 *   ALLOC-SITE <label> <event> <call site> <count>   (sites firing >= n/2 times)
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
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mock_fault.h"

#define TRACING "/sys/kernel/tracing"

static struct mock_fault mf;

static void die(const char *what)
{
	printf("RTT-ERROR %s: %s\n", what, strerror(errno));
	exit(1);
}

static void round_trip(__u32 i)
{
	struct iommu_hwpt_pgfault rec;
	struct iommu_hwpt_page_response rsp = { .code = IOMMUFD_PAGE_RESP_SUCCESS };

	if (mock_fault_trigger(&mf, i & 511, IOMMU_PGFAULT_PERM_READ))
		die("TRIGGER_IOPF");
	if (read(mf.ffd, &rec, sizeof(rec)) != sizeof(rec))
		die("read");
	if (rec.grpid != (i & 511))
		die("record of another group");
	rsp.cookie = rec.cookie;
	if (write(mf.ffd, &rsp, sizeof(rsp)) != sizeof(rsp))
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

/*
 * The number of lines "<event>:" in the trace buffer. Prints the call sites
 * (call_site=<symbol>) that fired at least min_site times as
 * "ALLOC-SITE <label> <event> <symbol> <count>".
 */
static long count_events(const char *label, const char *event, long min_site)
{
	static struct { char sym[96]; long n; } site[64];
	char line[512], pat[64];
	long n = 0;
	int nsites = 0, i;
	FILE *f = fopen(TRACING "/trace", "r");

	if (!f)
		die("open trace");
	snprintf(pat, sizeof(pat), " %s:", event);
	while (fgets(line, sizeof(line), f)) {
		char *cs, sym[96];

		if (!strstr(line, pat))
			continue;
		n++;
		cs = strstr(line, "call_site=");
		if (!cs || sscanf(cs, "call_site=%95[^+ ]", sym) != 1)
			continue;
		for (i = 0; i < nsites && strcmp(site[i].sym, sym); i++)
			;
		if (i == nsites && nsites < 64) {
			snprintf(site[nsites].sym, sizeof(site[0].sym), "%s", sym);
			site[nsites++].n = 0;
		}
		if (i < nsites)
			site[i].n++;
	}
	fclose(f);
	for (i = 0; i < nsites; i++)
		if (site[i].n >= min_site)
			printf("ALLOC-SITE %s %s %s %ld\n", label, event, site[i].sym, site[i].n);
	return n;
}

int main(int argc, char **argv)
{
	const char *label, *what;
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
	if (mock_fault_setup(&mf, &what))
		die(what);
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
	k = count_events(label, "kmalloc", nalloc / 2);
	m = count_events(label, "kmem_cache_alloc", nalloc / 2);
	p = count_events(label, "mm_page_alloc", nalloc / 2);
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
