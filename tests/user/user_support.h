/* SPDX-License-Identifier: MIT */
/*
 * user_support.h - helpers shared by the libiopfq tests (tests/user/):
 * requests, a response recorder for ops.page_response, fd readiness.
 * Header-only: each test is one program linked with libiopfq.so only.
 */
#ifndef IOPFQ_TEST_USER_SUPPORT_H
#define IOPFQ_TEST_USER_SUPPORT_H

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iopfq/user.h>

#define REC (IOPFQ_FAULT_RECORD_SIZE)
#define RSP (IOPFQ_FAULT_RESPONSE_SIZE)

/* Every page_response, in call order. */
struct recorder {
	pthread_mutex_t lock;
	struct iopfq_response resp[1024];
	unsigned n;
};

static inline void rec_on_response(void *arg, const struct iopfq_response *r)
{
	struct recorder *rec = arg;

	pthread_mutex_lock(&rec->lock);
	if (rec->n < sizeof(rec->resp) / sizeof(rec->resp[0]))
		rec->resp[rec->n] = *r;
	rec->n++;
	pthread_mutex_unlock(&rec->lock);
}

static inline unsigned rec_count(struct recorder *rec)
{
	unsigned n;

	pthread_mutex_lock(&rec->lock);
	n = rec->n;
	pthread_mutex_unlock(&rec->lock);
	return n;
}

static inline struct iopfq_request page_req(uint32_t pasid, uint32_t grpid, int last,
					    uint64_t addr)
{
	struct iopfq_request r = {
		.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | (last ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0),
		.pasid = pasid,
		.grpid = grpid,
		.perm = IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE,
		.addr = addr,
	};
	return r;
}

static inline struct iopfq_request stop_marker(uint32_t pasid)
{
	struct iopfq_request r = {
		.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE,
		.pasid = pasid,
	};
	return r;
}

/* 1 if the fd polls readable right now */
static inline int fd_readable(struct iopfq_fault *f)
{
	struct pollfd p = { .fd = iopfq_fault_fd(f), .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static inline int fd_writable(struct iopfq_fault *f)
{
	struct pollfd p = { .fd = iopfq_fault_fd(f), .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double env_seconds(const char *name, double dflt)
{
	const char *s = getenv(name);

	return s && *s ? atof(s) : dflt;
}

#endif
