// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * trace_check: the iommufd fault queue's trace points (kernel/series/, the
 * patched kernel's include/trace/events/iommufd.h), read through tracefs in
 * the guest while the mock device faults:
 *
 *   - 8 single-page groups are reported, read and answered (after a pause
 *     of PAUSE_MS): one iommufd_fault_report per page (dev_id, grpid,
 *     flags LAST_PAGE), one iommufd_fault_deliver per group carrying the
 *     cookie read() returned, one iommufd_fault_answer per group with that
 *     cookie, code 0 and a latency_ns of at least the pause;
 *   - credits: the mock device may have MOCK_CREDITS page requests
 *     outstanding; EXTRA more are refused, each with an
 *     iommufd_fault_refuse event (err -EDQUOT, answer 0: Success, the
 *     device retries), and read() returns exactly MOCK_CREDITS records;
 *     once they are answered the device faults again.
 *
 * Prints "TRACE <label>: PASS", "TRACE <label>: FAIL: <first failed check>",
 * or "TRACE <label>: ABSENT" on a kernel without the iommufd trace events
 * (the stock kernel), which is a failure wherever the events are expected.
 * Usage: trace_check <label>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mock_fault.h"

#define TRACING "/sys/kernel/tracing"
#define EVENTS TRACING "/events/iommufd"
#define NGROUPS 8
#define GRPID0 100
#define PAUSE_MS 20
/* IOMMUFD_FAULT_DEV_CREDITS of the series' fault.c: a device without a PRI allocation */
#define MOCK_CREDITS 4096
#define EXTRA 3
#define REC sizeof(struct iommu_hwpt_pgfault)
#define PERM_RW (IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE)

static const char *label;
static struct mock_fault mf;

static void result(const char *fmt, ...)
{
	va_list ap;

	printf("TRACE %s: ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	mock_fault_teardown(&mf);
	exit(0);
}

#define CHECK(cond, ...) do { if (!(cond)) result("FAIL: " __VA_ARGS__); } while (0)

static void put(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	bool ok = fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val);

	if (fd >= 0)
		close(fd);
	CHECK(ok, "write %s to %s: %s", val, path, strerror(errno));
}

static void events(const char *val)
{
	put(EVENTS "/iommufd_fault_report/enable", val);
	put(EVENTS "/iommufd_fault_deliver/enable", val);
	put(EVENTS "/iommufd_fault_answer/enable", val);
	put(EVENTS "/iommufd_fault_refuse/enable", val);
}

/* one event line of the trace buffer */
struct ev {
	char name[32];
	unsigned long long f[6];	/* the fields, in TP_printk order */
	int nf;
};

#define MAXEV (NGROUPS * 3 + EXTRA + 16)
static struct ev evs[MAXEV];

/* the iommufd_fault_* lines of the trace buffer, fields parsed as numbers */
static int collect(void)
{
	FILE *f = fopen(TRACING "/trace", "r");
	char line[512];
	int n = 0;

	CHECK(f, "open trace: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, " iommufd_fault_"), *q;
		struct ev *e;

		if (line[0] == '#' || !p)
			continue;
		CHECK(n < MAXEV, "more than %d iommufd events", MAXEV);
		e = &evs[n++];
		memset(e, 0, sizeof(*e));
		p++;
		q = strchr(p, ':');
		CHECK(q && q - p < (long)sizeof(e->name), "event line: %s", line);
		memcpy(e->name, p, q - p);
		/* "name=value" fields; values decimal, hex with 0x, negative */
		while ((q = strchr(q, '=')) && e->nf < 6)
			e->f[e->nf++] = strtoull(++q, &q, 0);
	}
	fclose(f);
	return n;
}

static int count(int n, const char *name)
{
	int i, c = 0;

	for (i = 0; i < n; i++)
		c += !strcmp(evs[i].name, name);
	return c;
}

static int respond(__u32 cookie)
{
	struct iommu_hwpt_page_response r = { .cookie = cookie, .code = IOMMUFD_PAGE_RESP_SUCCESS };

	return write(mf.ffd, &r, sizeof(r)) == sizeof(r) ? 0 : -1;
}

/* 8 groups: report, deliver with the cookie read, answer with the latency */
static void groups(void)
{
	struct iommu_hwpt_pgfault r[NGROUPS];
	struct timespec pause = { 0, PAUSE_MS * 1000000L };
	int i, n, rep = 0, del = 0, ans = 0;

	put(TRACING "/trace", "");
	events("1");
	put(TRACING "/tracing_on", "1");
	for (i = 0; i < NGROUPS; i++)
		CHECK(!mock_fault_trigger(&mf, GRPID0 + i, PERM_RW), "trigger: %s", strerror(errno));
	CHECK(read(mf.ffd, r, sizeof(r)) == (ssize_t)sizeof(r), "read %d records", NGROUPS);
	nanosleep(&pause, NULL);
	for (i = 0; i < NGROUPS; i++)
		CHECK(!respond(r[i].cookie), "answer cookie %u: %s", r[i].cookie, strerror(errno));
	put(TRACING "/tracing_on", "0");
	events("0");

	n = collect();
	for (i = 0; i < n; i++) {
		struct ev *e = &evs[i];

		if (!strcmp(e->name, "iommufd_fault_report")) {
			/* dev_id pasid grpid flags */
			CHECK(rep < NGROUPS, "more than %d report events", NGROUPS);
			CHECK(e->nf == 4 && e->f[0] == mf.idev && e->f[1] == 0 &&
			      e->f[2] == GRPID0 + (unsigned)rep &&
			      e->f[3] == IOMMU_PGFAULT_FLAGS_LAST_PAGE,
			      "report %d: dev_id %llu pasid %llu grpid %llu flags %#llx", rep,
			      e->f[0], e->f[1], e->f[2], e->f[3]);
			rep++;
		} else if (!strcmp(e->name, "iommufd_fault_deliver")) {
			/* dev_id cookie npages pasid */
			CHECK(del < NGROUPS, "more than %d deliver events", NGROUPS);
			CHECK(e->nf == 4 && e->f[0] == mf.idev && e->f[1] == r[del].cookie &&
			      e->f[2] == 1 && e->f[3] == 0,
			      "deliver %d: dev_id %llu cookie %#llx (read %#x) npages %llu", del,
			      e->f[0], e->f[1], r[del].cookie, e->f[2]);
			del++;
		} else if (!strcmp(e->name, "iommufd_fault_answer")) {
			/* dev_id cookie code latency_ns */
			CHECK(ans < NGROUPS, "more than %d answer events", NGROUPS);
			CHECK(e->nf == 4 && e->f[0] == mf.idev && e->f[1] == r[ans].cookie &&
			      e->f[2] == 0 && e->f[3] >= PAUSE_MS * 1000000ull &&
			      e->f[3] < 60000000000ull,
			      "answer %d: dev_id %llu cookie %#llx (read %#x) code %llu latency_ns %llu",
			      ans, e->f[0], e->f[1], r[ans].cookie, e->f[2], e->f[3]);
			ans++;
		} else {
			CHECK(0, "unexpected event %s", e->name);
		}
	}
	CHECK(rep == NGROUPS && del == NGROUPS && ans == NGROUPS,
	      "events: %d report, %d deliver, %d answer; want %d each", rep, del, ans, NGROUPS);
}

/* credits: MOCK_CREDITS outstanding, EXTRA refused and traced, then back */
static void credits(void)
{
	static struct iommu_hwpt_pgfault r[MOCK_CREDITS + EXTRA];
	static struct iommu_hwpt_page_response rsp[MOCK_CREDITS];
	ssize_t got;
	int i, n, total = 0;

	put(TRACING "/trace", "");
	put(EVENTS "/iommufd_fault_refuse/enable", "1");
	put(TRACING "/tracing_on", "1");
	for (i = 0; i < MOCK_CREDITS + EXTRA; i++)
		CHECK(!mock_fault_trigger(&mf, i % 512, PERM_RW), "trigger: %s", strerror(errno));
	while ((got = read(mf.ffd, &r[total], 64 * REC)) > 0)
		total += got / REC;
	put(TRACING "/tracing_on", "0");
	put(EVENTS "/iommufd_fault_refuse/enable", "0");
	CHECK(got == 0, "read: %s", strerror(errno));
	CHECK(total == MOCK_CREDITS, "%d faults reported, %d read; want %d", MOCK_CREDITS + EXTRA,
	      total, MOCK_CREDITS);
	n = collect();
	CHECK(count(n, "iommufd_fault_refuse") == EXTRA, "%d refuse events, want %d",
	      count(n, "iommufd_fault_refuse"), EXTRA);
	for (i = 0; i < n; i++)
		/* dev_id pasid grpid flags err answer */
		CHECK(evs[i].nf == 6 && evs[i].f[0] == mf.idev &&
		      (long long)evs[i].f[4] == -EDQUOT && evs[i].f[5] == 0,
		      "refuse: dev_id %llu err %lld answer %#llx", evs[i].f[0],
		      (long long)evs[i].f[4], evs[i].f[5]);
	for (i = 0; i < total; i++)
		rsp[i] = (struct iommu_hwpt_page_response){ r[i].cookie, IOMMUFD_PAGE_RESP_SUCCESS };
	CHECK(write(mf.ffd, rsp, total * sizeof(rsp[0])) == (ssize_t)(total * sizeof(rsp[0])),
	      "answer %d groups: %s", total, strerror(errno));
	/* the credits are back */
	CHECK(!mock_fault_trigger(&mf, 1, PERM_RW), "trigger: %s", strerror(errno));
	CHECK(read(mf.ffd, r, REC) == REC, "no fault read after the credits came back");
	CHECK(!respond(r[0].cookie), "answer: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	const char *what;

	label = argc > 1 ? argv[1] : "?";
	mf.fd = mf.ffd = -1;
	if (access(EVENTS, F_OK))
		result("ABSENT");
	CHECK(!mock_fault_setup(&mf, &what), "%s: %s", what, strerror(errno));
	put(TRACING "/buffer_size_kb", "1024");
	groups();
	credits();
	result("PASS");
}
