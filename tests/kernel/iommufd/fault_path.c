// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fault_path: the iommufd fault FD's rules, checked through the kernel's own
 * mock device (CONFIG_IOMMUFD_TEST) inside a QEMU guest. Runs unchanged on the
 * stock and the patched 6.12 kernel; run.sh compares their per-case results.
 *
 * Each case starts from its own mock_fault_setup() (mock_fault.h): a mock
 * device on a fault-enabled hwpt, whose IOMMU_TEST_OP_TRIGGER_IOPF reports
 * one single-page group synchronously inside the ioctl.
 *
 * Cases: record sizes and offsets, unknown cookies, bad response codes,
 * cookie 0, whole groups per read, a flood, answers after detach, poll,
 * a move between two hwpts of one fault object.
 * Prints "CASE <name>: PASS" or "CASE <name>: FAIL: <first failed check>" per
 * case and "FAULT-PATH: <passed> of <cases> cases passed" last.
 *
 * Built static against `make headers_install` of the kernel under test, with
 * -I<source>/drivers/iommu/iommufd for iommufd_test.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "mock_fault.h"

#define REC sizeof(struct iommu_hwpt_pgfault)
#define RSP sizeof(struct iommu_hwpt_page_response)
#define FLOOD 4096
#define PERM_RW (IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE)

static char why[256];

/* records the first failed check of the case; returns false */
static bool failf(const char *fmt, ...)
{
	va_list ap;

	if (why[0])
		return false;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return false;
}

#define CHECK(cond, ...) do { if (!(cond)) return failf(__VA_ARGS__); } while (0)

/* a syscall result and errno, as "rc" or "-1/ERRNO" in messages */
#define EXPECT_ERR(call, err) do {                                           \
	long _r = (call);                                                    \
	int _e = errno;                                                      \
	CHECK(_r == -1 && _e == (err), "%s: got %ld errno %d (%s), want %s", \
	      #call, _r, _r == -1 ? _e : 0, _r == -1 ? strerror(_e) : "-",   \
	      strerror(err));                                                \
} while (0)
#define EXPECT_RC(call, want) do {                                           \
	long _r = (call);                                                    \
	int _e = errno;                                                      \
	CHECK(_r == (long)(want), "%s: got %ld (%s), want %ld", #call, _r,   \
	      _r == -1 ? strerror(_e) : "ok", (long)(want));                 \
} while (0)

static bool attach(struct mock_fault *c, __u32 pt)
{
	CHECK(mock_fault_attach(c, pt) == 0, "replace domain with %u: %s", pt, strerror(errno));
	return true;
}

static bool trigger(struct mock_fault *c, __u32 grpid)
{
	CHECK(mock_fault_trigger(c, grpid, PERM_RW) == 0, "TRIGGER_IOPF %u: %s", grpid,
	      strerror(errno));
	return true;
}

/* a read record is exactly what the trigger reported */
static bool check_record(const struct mock_fault *c, const struct iommu_hwpt_pgfault *r, __u32 grpid)
{
	CHECK(r->grpid == grpid, "record grpid %u, want %u", r->grpid, grpid);
	CHECK(r->addr == mock_fault_addr(grpid), "record addr %#llx",
	      (unsigned long long)r->addr);
	CHECK(r->dev_id == c->idev, "record dev_id %u, want %u", r->dev_id, c->idev);
	CHECK(r->flags == IOMMU_PGFAULT_FLAGS_LAST_PAGE, "record flags %#x", r->flags);
	CHECK(r->perm == PERM_RW, "record perm %#x", r->perm);
	CHECK(r->cookie != 0, "record of group %u carries cookie 0", grpid);
	return true;
}

/* triggers one group, reads it back, returns its cookie in *cookie */
static bool fault_one(struct mock_fault *c, __u32 grpid, __u32 *cookie)
{
	struct iommu_hwpt_pgfault r;

	if (!trigger(c, grpid))
		return false;
	EXPECT_RC(read(c->ffd, &r, REC), REC);
	if (!check_record(c, &r, grpid))
		return false;
	*cookie = r.cookie;
	return true;
}

static long respond(struct mock_fault *c, __u32 cookie, __u32 code)
{
	struct iommu_hwpt_page_response rsp = { .cookie = cookie, .code = code };

	return write(c->ffd, &rsp, RSP);
}

static short revents(struct mock_fault *c)
{
	struct pollfd p = { .fd = c->ffd, .events = POLLIN | POLLOUT };

	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/* nothing queued for reading: read returns 0, poll has no POLLIN */
static bool check_empty(struct mock_fault *c)
{
	struct iommu_hwpt_pgfault r;

	EXPECT_RC(read(c->ffd, &r, REC), 0);
	CHECK(!(revents(c) & POLLIN), "POLLIN with nothing queued");
	return true;
}

/* read and write accept whole records at offset 0 only; a refused call
 * consumes nothing */
static bool case_record_size(struct mock_fault *c)
{
	char buf[2 * REC];
	struct iommu_hwpt_page_response rsp[2] = { 0 };
	__u32 cookie;

	if (!trigger(c, 1))
		return false;
	EXPECT_ERR(read(c->ffd, buf, REC - 1), ESPIPE);
	EXPECT_ERR(read(c->ffd, buf, REC + 1), ESPIPE);
	EXPECT_ERR(pread(c->ffd, buf, REC, REC), ESPIPE);
	EXPECT_RC(read(c->ffd, buf, REC), REC);
	if (!check_record(c, (struct iommu_hwpt_pgfault *)buf, 1))
		return false;
	cookie = ((struct iommu_hwpt_pgfault *)buf)->cookie;
	rsp[0].cookie = cookie;
	EXPECT_ERR(write(c->ffd, rsp, RSP - 1), ESPIPE);
	EXPECT_ERR(write(c->ffd, rsp, RSP + 1), ESPIPE);
	EXPECT_ERR(pwrite(c->ffd, rsp, RSP, RSP), ESPIPE);
	EXPECT_RC(write(c->ffd, rsp, RSP), RSP);
	EXPECT_ERR(respond(c, cookie, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	return check_empty(c);
}

/* a cookie never issued, or already answered, is refused and changes nothing */
static bool case_bad_cookie(struct mock_fault *c)
{
	__u32 cookie;

	if (!fault_one(c, 2, &cookie))
		return false;
	EXPECT_ERR(respond(c, cookie + 1000, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	EXPECT_ERR(respond(c, 0xffffffffu, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	EXPECT_RC(respond(c, cookie, IOMMUFD_PAGE_RESP_SUCCESS), RSP);
	EXPECT_ERR(respond(c, cookie, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	return check_empty(c);
}

/* codes other than SUCCESS and INVALID are refused; in a batch the calls
 * before the bad one are applied and counted, nothing after it */
static bool case_bad_code(struct mock_fault *c)
{
	struct iommu_hwpt_page_response rsp[3];
	__u32 a, b;

	if (!fault_one(c, 3, &a) || !fault_one(c, 4, &b))
		return false;
	EXPECT_ERR(respond(c, a, 2), EINVAL);
	EXPECT_ERR(respond(c, a, 0xffffffffu), EINVAL);
	rsp[0] = (struct iommu_hwpt_page_response){ a, IOMMUFD_PAGE_RESP_INVALID };
	rsp[1] = (struct iommu_hwpt_page_response){ b, 7 };
	rsp[2] = (struct iommu_hwpt_page_response){ b, IOMMUFD_PAGE_RESP_SUCCESS };
	EXPECT_RC(write(c->ffd, rsp, sizeof(rsp)), RSP);
	EXPECT_ERR(respond(c, a, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	EXPECT_RC(respond(c, b, IOMMUFD_PAGE_RESP_SUCCESS), RSP);
	return check_empty(c);
}

/* cookie 0 is never issued, so a response carrying it is refused and must
 * not change the cookie allocator: the next groups still carry nonzero
 * cookies (stock 6.12 erases index 0 of its ALLOC1 xarray here and hands out
 * cookie 0 from then on) */
static bool case_cookie_zero(struct mock_fault *c)
{
	__u32 a, b;
	int i;

	EXPECT_ERR(respond(c, 0, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	if (!fault_one(c, 5, &a))
		return false;
	EXPECT_ERR(respond(c, 0, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	EXPECT_ERR(respond(c, 0, IOMMUFD_PAGE_RESP_INVALID), EINVAL);
	for (i = 0; i < 3; i++) {
		if (!fault_one(c, 6 + i, &b))	/* fails on a record with cookie 0 */
			return false;
		CHECK(b != a, "cookie %u issued twice", b);
		EXPECT_RC(respond(c, b, IOMMUFD_PAGE_RESP_SUCCESS), RSP);
	}
	EXPECT_RC(respond(c, a, IOMMUFD_PAGE_RESP_SUCCESS), RSP);
	return check_empty(c);
}

/* a read returns whole groups only, oldest first, as many as fit; a buffer
 * too small for the first group is refused with EINVAL and consumes nothing */
static bool case_group_fit(struct mock_fault *c)
{
	struct iommu_hwpt_pgfault r[5];	/* room for 3 more at &r[2] */
	int i;

	for (i = 0; i < 3; i++)
		if (!trigger(c, 10 + i))
			return false;
	EXPECT_ERR(read(c->ffd, r, 0), EINVAL);
	EXPECT_RC(read(c->ffd, r, 2 * REC), 2 * REC);
	EXPECT_RC(read(c->ffd, &r[2], 3 * REC), REC);
	for (i = 0; i < 3; i++) {
		if (!check_record(c, &r[i], 10 + i))
			return false;
		EXPECT_RC(respond(c, r[i].cookie, IOMMUFD_PAGE_RESP_SUCCESS), RSP);
	}
	return check_empty(c);
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

/* FLOOD groups reported before any read: every one is delivered once, in
 * order, with a distinct nonzero cookie, and every answer is taken */
static bool case_flood(struct mock_fault *c)
{
	static struct iommu_hwpt_pgfault r[FLOOD];
	static struct iommu_hwpt_page_response rsp[FLOOD];
	static __u32 sorted[FLOOD];
	int i, n = 0;
	long got;

	for (i = 0; i < FLOOD; i++)
		if (!trigger(c, i % 512))
			return false;
	CHECK(revents(c) & POLLIN, "no POLLIN with %d groups queued", FLOOD);
	while ((got = read(c->ffd, &r[n], 64 * REC)) > 0) {
		CHECK(got % REC == 0, "read returned %ld", got);
		n += got / REC;
		CHECK(n <= FLOOD, "more records than groups reported");
	}
	CHECK(got == 0, "read: %s", strerror(errno));
	CHECK(n == FLOOD, "read %d records of %d", n, FLOOD);
	for (i = 0; i < FLOOD; i++) {
		if (!check_record(c, &r[i], i % 512))
			return false;
		sorted[i] = r[i].cookie;
		rsp[i] = (struct iommu_hwpt_page_response){ r[i].cookie, IOMMUFD_PAGE_RESP_SUCCESS };
	}
	qsort(sorted, FLOOD, sizeof(sorted[0]), cmp_u32);
	for (i = 1; i < FLOOD; i++)
		CHECK(sorted[i] != sorted[i - 1], "cookie %u delivered twice", sorted[i]);
	for (i = 0; i < FLOOD; i += 64)
		EXPECT_RC(write(c->ffd, &rsp[i], 64 * RSP), 64 * RSP);
	EXPECT_ERR(respond(c, r[0].cookie, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	return check_empty(c);
}

/* switching the device from the fault-enabled hwpt back to a plain domain
 * of the IOAS answers its groups (INVALID) in the kernel: a later answer to a read group is refused, an unread group is gone,
 * a fault reported while detached reaches nobody */
static bool case_detach(struct mock_fault *c)
{
	__u32 a, b;

	if (!fault_one(c, 20, &a) || !trigger(c, 21))
		return false;
	if (!attach(c, c->ioas))
		return false;
	EXPECT_ERR(respond(c, a, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	if (!check_empty(c))
		return false;
	if (!trigger(c, 22) || !check_empty(c))
		return false;
	if (!attach(c, c->iopf_hwpt) || !fault_one(c, 23, &b))
		return false;
	EXPECT_RC(respond(c, b, IOMMUFD_PAGE_RESP_SUCCESS), RSP);
	return check_empty(c);
}

/* a second fault-enabled hwpt on the same parent and the same fault object */
static bool second_iopf_hwpt(struct mock_fault *c, __u32 *hwpt)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc nested = {
		.size = sizeof(nested),
		.flags = IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = c->idev,
		.pt_id = c->parent,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (__u64)(unsigned long)&data,
		.fault_id = c->fault_id,
	};

	CHECK(ioctl(c->fd, IOMMU_HWPT_ALLOC, &nested) == 0, "IOMMU_HWPT_ALLOC: %s",
	      strerror(errno));
	*hwpt = nested.out_hwpt_id;
	return true;
}

/* moving the device between two fault-enabled hwpts of one fault object
 * answers its groups like any replace: a read group's cookie is refused
 * afterwards, an unread group is gone; faults after the move are delivered */
static bool case_replace_same_fault(struct mock_fault *c)
{
	__u32 other = 0, a, b;

	if (!second_iopf_hwpt(c, &other) || !fault_one(c, 50, &a) || !trigger(c, 51))
		return false;
	if (!attach(c, other))
		return false;
	EXPECT_ERR(respond(c, a, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	if (!check_empty(c) || !fault_one(c, 52, &b))
		return false;
	if (!attach(c, c->iopf_hwpt))
		return false;
	EXPECT_ERR(respond(c, b, IOMMUFD_PAGE_RESP_SUCCESS), EINVAL);
	if (!check_empty(c) || !fault_one(c, 53, &b))
		return false;
	EXPECT_RC(respond(c, b, IOMMUFD_PAGE_RESP_SUCCESS), RSP);
	return check_empty(c);
}

/* poll: always writable; readable exactly while a group waits to be read;
 * groups are read oldest first */
static bool case_poll(struct mock_fault *c)
{
	struct iommu_hwpt_pgfault r[2];

	CHECK(revents(c) == POLLOUT, "empty queue: revents %#x", revents(c));
	if (!trigger(c, 40) || !trigger(c, 41))
		return false;
	CHECK(revents(c) == (POLLIN | POLLOUT), "two queued: revents %#x", revents(c));
	EXPECT_RC(read(c->ffd, r, 2 * REC), 2 * REC);
	if (!check_record(c, &r[0], 40) || !check_record(c, &r[1], 41))
		return false;
	CHECK(r[0].cookie != r[1].cookie, "two groups share cookie %u", r[0].cookie);
	CHECK(revents(c) == POLLOUT, "all read: revents %#x", revents(c));
	EXPECT_RC(respond(c, r[1].cookie, IOMMUFD_PAGE_RESP_SUCCESS), RSP);
	EXPECT_RC(respond(c, r[0].cookie, IOMMUFD_PAGE_RESP_INVALID), RSP);
	return check_empty(c);
}

static const struct {
	const char *name;
	bool (*fn)(struct mock_fault *c);
} cases[] = {
	{ "record_size", case_record_size },
	{ "bad_cookie", case_bad_cookie },
	{ "bad_code", case_bad_code },
	{ "cookie_zero", case_cookie_zero },
	{ "group_fit", case_group_fit },
	{ "flood", case_flood },
	{ "detach", case_detach },
	{ "poll", case_poll },
	{ "replace_same_fault", case_replace_same_fault },
};

int main(void)
{
	unsigned int i, passed = 0, n = sizeof(cases) / sizeof(cases[0]);
	struct mock_fault c;
	const char *what;

	for (i = 0; i < n; i++) {
		bool ok;

		why[0] = 0;
		ok = mock_fault_setup(&c, &what) == 0 ? cases[i].fn(&c) :
			failf("%s: %s", what, strerror(errno));
		mock_fault_teardown(&c);
		if (ok)
			passed++;
		printf("CASE %s: %s%s%s\n", cases[i].name, ok ? "PASS" : "FAIL",
		       ok ? "" : ": ", ok ? "" : why);
	}
	printf("FAULT-PATH: %u of %u cases passed\n", passed, n);
	return passed == n ? 0 : 1;
}
