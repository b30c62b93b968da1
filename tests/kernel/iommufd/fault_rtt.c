// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fault_rtt: the round trip through iommufd's real fault FD, in the guest:
 * a fault reported by the mock device, read() of its group's records, write()
 * of the one response. One thread; with the hard-IRQ producer the report
 * comes from an hrtimer and the thread waits in poll().
 *
 * Producers (rows, "<producer>-p<pages>-d<devices>"):
 *   trigger   IOMMU_TEST_OP_TRIGGER_IOPF, one single-page group, in the ioctl
 *   proc      IOMMU_TEST_OP_TRIGGER_IOPF_BURST (kernel/testop/), one group of
 *             <pages> pages, reported in the ioctl (process context)
 *   irq       the same op with MOCK_IOPF_BURST_HARDIRQ: reported from an
 *             hrtimer in hard-IRQ context; a kernel whose fault path may not
 *             be entered there refuses it (EOPNOTSUPP) and the row prints
 *             "RTT-NA ... not possible: io-pgfault sleeps"
 *   *-batch64 64 single-page groups per op, each read and answered in
 *             turn: the throughput of a burst
 * <devices> mock devices share the fault-enabled hwpt (and so the fault FD);
 * round trip i uses device i mod <devices> and group id i mod 512. When the
 * kernel lets fewer devices join, the rows that need more print RTT-NA with
 * the errno of the attach that failed.
 *
 * Prints, per row,
 *   RTT <kernel> <row> n=<n> p50=<ns> p99=<ns> p999=<ns> max=<ns> rate=<groups/s> faults_per_s=<f>
 *   ALLOC <kernel> <row> faults=<n> kmalloc=<x> cache_alloc=<y> page_alloc=<z> per_fault=<f> overrun=<o>
 *   ALLOC-SITE <kernel> <row> <event> <call site> <count>   (sites firing >= faults/2 times)
 * The ALLOC line counts the kmem tracepoints (kmem:kmalloc,
 * kmem:kmem_cache_alloc, kmem:mm_page_alloc) fired while the row's round
 * trips run, through tracefs; the test op's own bookkeeping is included, so
 * the figure is an upper bound for the fault path proper. Before the rows,
 * the burst op's checks print "OPCHECK <name>: PASS|FAIL: ...|NOT POSSIBLE: ...".
 *
 * Usage: fault_rtt <kernel> <round trips> <alloc-count round trips> [row...]
 * (no rows: all). Exit 0 when every row and check ran (NOT POSSIBLE and
 * RTT-NA included), 1 otherwise. Under QEMU TCG only ratios between kernels
 * booted by the same script mean anything; the absolute times are the
 * emulator's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mock_fault.h"

#define TRACING "/sys/kernel/tracing"
#define MAX_DEVS 8
#define BATCH 64
#define REC sizeof(struct iommu_hwpt_pgfault)

struct rig {
	struct mock_fault mf;
	__u32 idev[MAX_DEVS];
	int ndev;
};

static struct rig rig;
/* why the rig has fewer than MAX_DEVS devices, if it has */
static char short_of_devs[160];
static const char *kernel;
static int failed;

/* a round trip that cannot go on: the row fails, the program goes on */
static char err[160];

static bool errf(const char *what)
{
	snprintf(err, sizeof(err), "%s: %s", what, strerror(errno));
	return false;
}

/* one more mock device on the IOAS, switched to the fault-enabled hwpt */
static int add_device(struct rig *r)
{
	struct iommu_test_cmd mock = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = r->mf.ioas };
	struct iommu_test_cmd replace = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };

	if (mock_test_cmd(&r->mf, &mock))
		return -1;
	replace.id = mock.mock_domain.out_stdev_id;
	replace.mock_domain_replace.pt_id = r->mf.iopf_hwpt;
	if (mock_test_cmd(&r->mf, &replace))
		return -1;
	r->idev[r->ndev++] = mock.mock_domain.out_idev_id;
	return 0;
}

/*
 * The fault-enabled hwpt with up to <ndev> devices on it: a device the
 * kernel does not let join leaves the rig short (short_of_devs says why),
 * and the rows that need it cannot run.
 */
static int rig_setup(struct rig *r, int ndev, const char **what)
{
	memset(r, 0, sizeof(*r));
	if (mock_fault_setup(&r->mf, what))
		return -1;
	r->idev[r->ndev++] = r->mf.idev;
	while (r->ndev < ndev)
		if (add_device(r)) {
			snprintf(short_of_devs, sizeof(short_of_devs),
				 "mock device %d of %d could not join the fault-enabled hwpt: %s",
				 r->ndev + 1, ndev, strerror(errno));
			break;
		}
	return 0;
}

/* IOMMU_TEST_OP_TRIGGER_IOPF_BURST; 0 or -1 with errno */
static int burst(struct rig *r, __u32 dev, __u32 grpid, __u32 groups, __u32 pages, __u32 flags,
		 __u32 interval_ns)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_TRIGGER_IOPF_BURST,
		.trigger_iopf_burst = {
			.dev_id = dev,
			.pasid = 0,	/* IOMMU_NO_PASID */
			.grpid = grpid,
			.perm = IOMMU_PGFAULT_PERM_READ,
			.addr = mock_fault_addr(grpid),
			.groups = groups,
			.pages = pages,
			.flags = flags,
			.interval_ns = interval_ns,
		},
	};
	int rc;

	/* the previous hard-IRQ burst's timer may still be finishing */
	while ((rc = mock_test_cmd(&r->mf, &cmd)) && errno == EBUSY)
		;
	return rc;
}

static bool wait_readable(int ms)
{
	struct pollfd p = { .fd = rig.mf.ffd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/*
 * Reads one whole group of <pages> records (waiting for it with poll() when
 * <wait>), checks it is group <grpid> of device <dev>, answers it.
 */
static bool take_group(__u32 dev, __u32 grpid, __u32 pages, bool wait)
{
	struct iommu_hwpt_pgfault rec[8];
	struct iommu_hwpt_page_response rsp = { .code = IOMMUFD_PAGE_RESP_SUCCESS };
	ssize_t want = pages * REC;
	__u32 k;

	if (wait && !wait_readable(5000))
		return errno = ETIMEDOUT, errf("poll");
	if (read(rig.mf.ffd, rec, want) != want)
		return errf("read");
	for (k = 0; k < pages; k++)
		if (rec[k].grpid != grpid || rec[k].dev_id != dev ||
		    rec[k].cookie != rec[0].cookie)
			return errno = EPROTO, errf("record of another group");
	if (!(rec[pages - 1].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
		return errno = EPROTO, errf("group without LAST_PAGE");
	rsp.cookie = rec[0].cookie;
	if (write(rig.mf.ffd, &rsp, sizeof(rsp)) != sizeof(rsp))
		return errf("write");
	return true;
}

struct row {
	const char *name;
	char producer;		/* 't'rigger, 'p'roc, 'i'rq */
	__u32 pages, ndev, batch;
};

static const struct row rows[] = {
	{ "trigger-p1-d1", 't', 1, 1, 1 },
	{ "proc-p1-d1", 'p', 1, 1, 1 },
	{ "proc-p4-d1", 'p', 4, 1, 1 },
	{ "proc-p1-d8", 'p', 1, 8, 1 },
	{ "proc-p4-d8", 'p', 4, 8, 1 },
	{ "irq-p1-d1", 'i', 1, 1, 1 },
	{ "irq-p4-d1", 'i', 4, 1, 1 },
	{ "irq-p1-d8", 'i', 1, 8, 1 },
	{ "irq-p4-d8", 'i', 4, 8, 1 },
	{ "proc-batch64", 'p', 1, 1, BATCH },
	{ "irq-batch64", 'i', 1, 1, BATCH },
};

/* round trip i of row r: report, read, answer (a batch: all of it) */
static bool round_trip(const struct row *r, long i)
{
	__u32 dev = rig.idev[i % r->ndev], grpid = (i * r->batch) & 511, g;
	bool irq = r->producer == 'i';

	if (r->producer == 't') {
		if (mock_fault_trigger(&rig.mf, grpid, IOMMU_PGFAULT_PERM_READ))
			return errf("TRIGGER_IOPF");
		return take_group(dev, grpid, 1, false);
	}
	if (burst(&rig, dev, grpid, r->batch, r->pages, irq ? MOCK_IOPF_BURST_HARDIRQ : 0, 0))
		return errf("TRIGGER_IOPF_BURST");
	if (r->batch == 1)
		return take_group(dev, grpid, r->pages, irq);
	for (g = 0; g < r->batch; g++)
		if (!take_group(dev, (grpid + g) & 511, r->pages, irq))
			return false;
	return true;
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

static bool put(const char *path, const char *val)
{
	int f = open(path, O_WRONLY | O_TRUNC);
	bool ok = f >= 0 && write(f, val, strlen(val)) == (ssize_t)strlen(val);

	if (f >= 0)
		close(f);
	return ok || errf(path);
}

/*
 * The number of lines "<event>:" in the trace buffer. Prints the call sites
 * (call_site=<symbol>) that fired at least min_site times.
 */
static long count_events(const char *row, const char *event, long min_site)
{
	static struct { char sym[96]; long n; } site[64];
	char line[512], pat[64];
	long n = 0;
	int nsites = 0, i;
	FILE *f = fopen(TRACING "/trace", "r");

	if (!f)
		return -1;
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
			printf("ALLOC-SITE %s %s %s %s %ld\n", kernel, row, event, site[i].sym,
			       site[i].n);
	return n;
}

static long trace_overrun(void)
{
	char buf[64];
	long lost = -1;
	FILE *f = fopen(TRACING "/per_cpu/cpu0/stats", "r");

	while (f && fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "overrun: %ld", &lost) == 1)
			break;
	if (f)
		fclose(f);
	return lost;
}

/* the kmem tracepoints fired by <n> round trips of row r */
static bool count_allocs(const struct row *r, long n)
{
	static const char *const ev[] = { "kmalloc", "kmem_cache_alloc", "mm_page_alloc" };
	long faults = n * r->batch * r->pages, c[3], i, lost;
	char path[128];

	if (!put(TRACING "/buffer_size_kb", "8192") || !put(TRACING "/trace", ""))
		return false;
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), TRACING "/events/kmem/%s/enable", ev[i]);
		if (!put(path, "1"))
			return false;
	}
	if (!put(TRACING "/tracing_on", "1"))
		return false;
	for (i = 0; i < n; i++)
		if (!round_trip(r, i)) {
			put(TRACING "/tracing_on", "0");
			return false;
		}
	if (!put(TRACING "/tracing_on", "0"))
		return false;
	for (i = 0; i < 3; i++)
		c[i] = count_events(r->name, ev[i], faults / 2);
	lost = trace_overrun();
	printf("ALLOC %s %s faults=%ld kmalloc=%ld cache_alloc=%ld page_alloc=%ld per_fault=%.2f overrun=%ld\n",
	       kernel, r->name, faults, c[0], c[1], c[2],
	       (double)(c[0] + c[1] + c[2]) / faults, lost);
	if (lost != 0 || c[0] < 0 || c[1] < 0 || c[2] < 0)
		return errno = EIO, errf("trace buffer overrun or unreadable");
	return true;
}

static bool run_row(const struct row *r, long n, long nalloc, long long *t)
{
	long long t0, t1;
	long i, warm = n / 20 + 1;

	if ((int)r->ndev > rig.ndev) {
		printf("RTT-NA %s %s not possible: %s\n", kernel, r->name, short_of_devs);
		return true;
	}
	if (r->producer == 'i' &&
	    burst(&rig, rig.idev[0], 0, 1, 1, MOCK_IOPF_BURST_HARDIRQ, 0) && errno == EOPNOTSUPP) {
		printf("RTT-NA %s %s not possible: io-pgfault sleeps (the hard-IRQ burst op says EOPNOTSUPP)\n",
		       kernel, r->name);
		return true;
	} else if (r->producer == 'i' && !take_group(rig.idev[0], 0, 1, true)) {
		return false;
	}
	for (i = 0; i < warm; i++)	/* warm caches and the allocator */
		if (!round_trip(r, i))
			return false;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		long long s = now_ns();

		if (!round_trip(r, i))
			return false;
		t[i] = now_ns() - s;
	}
	t1 = now_ns();
	qsort(t, n, sizeof(*t), cmp_ll);
	printf("RTT %s %s n=%ld p50=%lld p99=%lld p999=%lld max=%lld rate=%.0f faults_per_s=%.0f\n",
	       kernel, r->name, n, t[n / 2], t[n * 99 / 100], t[n * 999 / 1000], t[n - 1],
	       n / ((t1 - t0) / 1e9), (double)n * r->batch * r->pages / ((t1 - t0) / 1e9));
	return count_allocs(r, nalloc);
}

/* nothing was reported: no group is waiting */
static bool quiet(void)
{
	return !wait_readable(0);
}

static void opcheck(const char *name, bool ok)
{
	printf("OPCHECK %s: %s%s\n", name, ok ? "PASS" : "FAIL: ", ok ? "" : err);
	failed |= !ok;
	err[0] = 0;
}

#define REFUSED(call, e) ((call) == -1 && errno == (e) ? true : \
	(errno = (e), errf("not refused: " #call)))

/* the burst op's contract, checked on the rig's first device */
static void check_burst_op(void)
{
	struct iommu_hwpt_pgfault rec[12];
	struct iommu_hwpt_page_response rsp[3];
	__u32 d = rig.idev[0], g, k;
	bool ok;

	opcheck("bad-input",
		REFUSED(burst(&rig, d, 0, 1, 1, 1u << 7, 0), EINVAL) &&
		REFUSED(burst(&rig, d, 0, 0, 1, 0, 0), EINVAL) &&
		REFUSED(burst(&rig, d, 0, MOCK_IOPF_BURST_MAX_GROUPS + 1, 1, 0, 0), EINVAL) &&
		REFUSED(burst(&rig, d, 0, 1, 0, 0, 0), EINVAL) &&
		REFUSED(burst(&rig, d, 0, 1, MOCK_IOPF_BURST_MAX_PAGES + 1, 0, 0), EINVAL) &&
		REFUSED(burst(&rig, d, 0, 1, 1, 0, MOCK_IOPF_BURST_MIN_INTERVAL_NS - 1), EINVAL) &&
		REFUSED(burst(&rig, 0xfffff, 0, 1, 1, 0, 0), ENOENT) &&
		(quiet() || (errno = EPROTO, errf("a refused op reported a fault"))));

	/* 3 groups of 4 pages from group id 510: ids 510, 511, 0 */
	ok = burst(&rig, d, 510, 3, 4, 0, 0) == 0 || errf("burst");
	ok = ok && (read(rig.mf.ffd, rec, sizeof(rec)) == sizeof(rec) || errf("read 12 records"));
	for (g = 0; ok && g < 3; g++) {
		for (k = 0; ok && k < 4; k++) {
			struct iommu_hwpt_pgfault *f = &rec[g * 4 + k];

			ok = (f->grpid == ((510 + g) & 511) && f->dev_id == d &&
			      f->addr == mock_fault_addr(510) + (g * 4 + k) * 4096ull &&
			      !(f->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE) == (k != 3) &&
			      f->cookie == rec[g * 4].cookie) ||
			     (errno = EPROTO, errf("record fields (grpid, dev_id, addr, LAST_PAGE, cookie)"));
		}
		rsp[g] = (struct iommu_hwpt_page_response){ .cookie = rec[g * 4].cookie,
							    .code = IOMMUFD_PAGE_RESP_SUCCESS };
	}
	ok = ok && (write(rig.mf.ffd, rsp, sizeof(rsp)) == sizeof(rsp) || errf("answer 3"));
	opcheck("groups", ok && (quiet() || (errno = EPROTO, errf("more than 3 groups"))));

	if (burst(&rig, d, 0, 1, 1, MOCK_IOPF_BURST_HARDIRQ, 0) && errno == EOPNOTSUPP) {
		printf("OPCHECK hardirq: NOT POSSIBLE: io-pgfault sleeps (EOPNOTSUPP)\n");
		return;
	}
	ok = take_group(d, 0, 1, true);
	/* one group per expiry, 1 ms apart: a second arm while it runs is EBUSY */
	ok = ok && (burst(&rig, d, 100, 3, 2, MOCK_IOPF_BURST_HARDIRQ, 1000000) == 0 || errf("arm"));
	if (ok) {
		struct iommu_test_cmd again = {
			.op = IOMMU_TEST_OP_TRIGGER_IOPF_BURST,
			.trigger_iopf_burst = { .dev_id = d, .groups = 1, .pages = 1,
						.flags = MOCK_IOPF_BURST_HARDIRQ },
		};

		ok = REFUSED(mock_test_cmd(&rig.mf, &again), EBUSY);
	}
	for (g = 0; ok && g < 3; g++)
		ok = take_group(d, 100 + g, 2, true);
	opcheck("hardirq", ok && (quiet() || (errno = EPROTO, errf("more than 3 groups"))));
}

/* a device destroyed while its timer is armed: the timer must not outlive it */
static void check_destroy_armed(void)
{
	struct rig r;
	const char *what;
	bool ok;

	if (rig_setup(&r, 1, &what))
		return opcheck("destroy-armed", errf(what));
	/* 1000 groups 1 ms apart: the device goes long before the last */
	ok = burst(&r, r.idev[0], 0, 1000, 1, MOCK_IOPF_BURST_HARDIRQ, 1000000) == 0;
	if (!ok && errno == EOPNOTSUPP) {
		printf("OPCHECK destroy-armed: NOT POSSIBLE: io-pgfault sleeps (EOPNOTSUPP)\n");
		mock_fault_teardown(&r.mf);
		return;
	}
	ok = ok || errf("arm");
	mock_fault_teardown(&r.mf);
	opcheck("destroy-armed", ok);
}

int main(int argc, char **argv)
{
	const char *what;
	long n, nalloc;
	long long *t;
	size_t i;
	int a;

	if (argc < 4)
		return 2;
	kernel = argv[1];
	n = atol(argv[2]);
	nalloc = atol(argv[3]);
	t = calloc(n, sizeof(*t));
	if (!t || n < 1 || nalloc < 1)
		return 2;
	if (rig_setup(&rig, MAX_DEVS, &what)) {
		printf("RTT-ERROR %s setup: %s: %s\n", kernel, what, strerror(errno));
		return 1;
	}
	check_burst_op();
	check_destroy_armed();
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		bool want = argc == 4;

		for (a = 4; a < argc; a++)
			want |= !strcmp(argv[a], rows[i].name);
		if (!want)
			continue;
		if (!run_row(&rows[i], rows[i].batch > 1 ? n / rows[i].batch : n,
			     rows[i].batch > 1 ? nalloc / rows[i].batch + 1 : nalloc, t)) {
			printf("RTT-ERROR %s %s: %s\n", kernel, rows[i].name, err);
			failed = 1;
		}
	}
	mock_fault_teardown(&rig.mf);
	return failed;
}
