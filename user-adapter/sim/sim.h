/* SPDX-License-Identifier: MIT */
/*
 * sim.h - libiopfq_sim: a PRI device simulator on libiopfq's fault FD.
 *
 * N simulated PCIe devices, each with its PRI credits (Outstanding Page
 * Request Allocation), PASIDs, group sizes and an address pattern, issue
 * page-request groups from producer threads through iopfq_fault_report(),
 * in closed loop (keep the credits full) or open loop (a fixed rate per
 * device; latency from the intended send time, so no coordinated
 * omission). One consumer thread serves the fault FD like a VMM (epoll on
 * iopfq_fault_fd(), batches of iopfq_fault_read(), answers with
 * iopfq_fault_write()), or busy-polls it. Answers reach the devices through
 * ops.page_response, where each group's fault-to-response latency goes into
 * a struct iopfq_hist and each group is checked off exactly once.
 *
 *   struct iopfq_sim_config cfg;
 *   struct iopfq_sim_result *res;
 *   iopfq_sim_config_init(&cfg);          defaults; then set what differs
 *   iopfq_sim_validate(&cfg, err, sizeof(err));
 *   iopfq_sim_run(&cfg, &res);            runs, then self-checks
 *   ... res->ok, res->checks[], res->lat ...
 *   iopfq_sim_result_free(res);
 *
 * Misbehaving devices (cfg.misbehave[dev]) also send, between their normal
 * groups, requests the queue must refuse: over-credit, bad group index,
 * bad PASID, unknown permission bits, stray Stop Markers (see enum
 * iopfq_sim_kind). Each refusal is checked for its errno and counted.
 *
 * The INVALID rule: the consumer answers a group INVALID when
 * iopfq_sim_group_invalid() says so (a hash of the group's identity and
 * addresses below invalid_pct percent); the device computes the same rule
 * when it issues the group and expects that code.
 *
 * May touch: the fault object it creates, its threads, the memory it
 * allocates in iopfq_sim_run() (freed by iopfq_sim_result_free()).
 * Return convention: 0 or a negative errno value.
 */
#ifndef IOPFQ_SIM_H
#define IOPFQ_SIM_H

#include <stddef.h>
#include <stdint.h>

#include <iopfq/user.h>

#include "hist.h"

#ifdef __cplusplus
extern "C" {
#endif

enum iopfq_sim_pattern {
	IOPFQ_SIM_SEQUENTIAL = 0, /* consecutive 4 KiB pages per device */
	IOPFQ_SIM_RANDOM = 1,     /* uniformly random 4 KiB pages in a 1 GiB window */
	IOPFQ_SIM_TRACE = 2,      /* replay cfg.trace, cyclically, from a per-device offset */
};

enum iopfq_sim_mode {
	IOPFQ_SIM_CLOSED = 0, /* issue whenever credits allow */
	IOPFQ_SIM_OPEN = 1,   /* issue at cfg.rate groups/s per device */
};

/* Misbehaviours: each must be refused with iopfq_sim_kind_errno(kind) */
enum iopfq_sim_kind {
	IOPFQ_SIM_OVER_CREDIT = 0,  /* fill the credits, then one more page: -EDQUOT */
	IOPFQ_SIM_BAD_GRPID = 1,    /* group index >= 512: -EINVAL */
	IOPFQ_SIM_BAD_PASID = 2,    /* PASID >= 2^20, or a PASID without PASID_VALID: -EINVAL */
	IOPFQ_SIM_BAD_PERM = 3,     /* a permission bit above PRIV: -EINVAL */
	IOPFQ_SIM_STRAY_MARKER = 4, /* a Stop Marker naming no PASID: -EINVAL */
	IOPFQ_SIM_NR_KINDS = 5,
};
#define IOPFQ_SIM_KIND_ALL ((1u << IOPFQ_SIM_NR_KINDS) - 1)

#define IOPFQ_SIM_MAX_DEVICES 1024u
#define IOPFQ_SIM_MAX_THREADS 64u
#define IOPFQ_SIM_MAX_PASIDS 1024u
#define IOPFQ_SIM_MAX_GROUP 256u       /* pages per group */
#define IOPFQ_SIM_MAX_SECONDS 86400.0
#define IOPFQ_SIM_MAX_TRACE (1u << 24) /* addresses in a trace file */
#define IOPFQ_SIM_DEV_ID_BASE 0x100u   /* device i has dev_id 0x100 + i */
#define IOPFQ_SIM_PASID_BASE 1u        /* its PASIDs are 1 .. pasids */
#define IOPFQ_SIM_MAX_CHECKS 16

/**
 * struct iopfq_sim_progress - a snapshot for the progress callback
 * @elapsed_s: since the devices started
 * @groups_answered: so far, all devices
 * @pages_answered: so far
 * @refused: misbehaving requests refused so far
 */
struct iopfq_sim_progress {
	double elapsed_s;
	uint64_t groups_answered;
	uint64_t pages_answered;
	uint64_t refused;
};

/**
 * struct iopfq_sim_config - one simulation (iopfq_sim_config_init() sets
 * the defaults named here)
 * @devices: simulated devices, 1 .. IOPFQ_SIM_MAX_DEVICES (8)
 * @credits: PRI allocation of each device; devices * credits must fit the
 *	queue (IOPFQ_MAX_CREDITS) (32)
 * @group_min, @group_max: pages per group, uniformly in this range;
 *	1 <= min <= max <= min(credits, IOPFQ_SIM_MAX_GROUP) (4, 4)
 * @pasids: PASIDs per device, 1 .. IOPFQ_SIM_MAX_PASIDS (4)
 * @pattern: enum iopfq_sim_pattern (RANDOM)
 * @mode: enum iopfq_sim_mode (CLOSED)
 * @rate: open loop: groups per second per device, > 0 (10000)
 * @seconds: how long the devices issue, > 0 (1.0)
 * @threads: producer threads, 1 .. min(devices, IOPFQ_SIM_MAX_THREADS);
 *	device i runs on thread i % threads (1)
 * @invalid_pct: percent of groups the consumer answers INVALID, 0 .. 100 (0)
 * @misbehave: NULL, or @devices masks of (1 << enum iopfq_sim_kind)
 * @misbehave_every: a misbehaving device misbehaves once per this many
 *	normal groups, >= 1 (4)
 * @trace: page addresses for IOPFQ_SIM_TRACE (iopfq_sim_trace_load())
 * @trace_len: entries in @trace, 1 .. IOPFQ_SIM_MAX_TRACE when TRACE
 * @busy_poll: the consumer spins on iopfq_fault_read() instead of epoll (0)
 * @drain_seconds: after @seconds, how long to wait for the answers of the
 *	groups in flight before declaring them lost (10.0)
 * @seed: for the random patterns and group sizes (1)
 * @progress: NULL, or called about once a second from the thread running
 *	iopfq_sim_run() while the devices issue
 * @progress_arg: passed to @progress
 */
struct iopfq_sim_config {
	unsigned int devices;
	unsigned int credits;
	unsigned int group_min;
	unsigned int group_max;
	unsigned int pasids;
	enum iopfq_sim_pattern pattern;
	enum iopfq_sim_mode mode;
	double rate;
	double seconds;
	unsigned int threads;
	unsigned int invalid_pct;
	const uint32_t *misbehave;
	unsigned int misbehave_every;
	const uint64_t *trace;
	size_t trace_len;
	int busy_poll;
	double drain_seconds;
	uint64_t seed;
	void (*progress)(void *arg, const struct iopfq_sim_progress *p);
	void *progress_arg;
};

/* One self-check: its name, whether it held, and the numbers if not. */
struct iopfq_sim_check {
	const char *name;
	int ok;
	char detail[160];
};

/**
 * struct iopfq_sim_dev_result - one device's tallies (index = device number)
 * @groups_issued: accepted groups; @groups_answered: answers that reached it
 * @lost: its groups unanswered after the drain; @duplicated: answers for a
 *	group of it that was not in flight
 * @refused: its misbehaving requests refused with the right errno
 * @inflight_end: pages still charged to it at the end (0: credits balance)
 */
struct iopfq_sim_dev_result {
	uint64_t groups_issued;
	uint64_t groups_answered;
	uint64_t lost;
	uint64_t duplicated;
	uint64_t refused;
	int64_t inflight_end;
};

/**
 * struct iopfq_sim_result - what a run did; filled by iopfq_sim_run()
 * @ok: every self-check held
 * @elapsed_s: from the first issue to the last answer (or drain timeout)
 * @issue_s: how long the devices issued
 * @groups_issued, @pages_issued: accepted by the queue (normal groups,
 *	including the accepted ones of over-credit bursts)
 * @groups_answered, @pages_answered: answers that reached the devices
 * @answered_success, @answered_invalid: by code
 * @wrong_code: answers whose code differs from the INVALID rule's
 * @mismatched: answers whose PASID, page count or origin was not the group's
 * @duplicated: answers for a group that was not in flight
 * @lost: groups still unanswered after the drain
 * @open_backlog: open loop: groups due but not sent by the end (credits
 *	were short); 0 in closed loop
 * @attempts, @refused: misbehaviours tried, and refused with the right errno
 * @wrong_errno: misbehaviours refused with another errno, or accepted
 *	(except over-credit tries the queue rightly accepted: @over_credit_accepted)
 * @over_credit_accepted: tries of over-credit bursts past the device's own
 *	credit count that the queue accepted because an answer had already
 *	given the credit back in the queue; normal groups, in @groups_issued
 * @wrong_hw_answer: -EDQUOT refusals of a last page whose @answer was not
 *	IOPFQ_HW_SUCCESS (the VT-d convention: the device retries)
 * @consumer_reads, @consumer_writes, @consumer_wakeups: the consumer's calls
 * @consumer_errors: reads or writes that failed, short or refused answers
 * @inflight_pages_end: sum over devices of pages still charged at the end
 * @counters: the queue's counters at the end, before detach
 * @stats: the fault object's own counters
 * @warnings: iopfq_warnings() at the end
 * @lat: fault-to-response latency, ns: from the issue (closed loop) or the
 *	intended send time (open loop) of a group's first page to its answer
 *	reaching the device
 * @dev: per device, the first cfg.devices entries
 * @checks, @nchecks: the self-checks, in order
 */
struct iopfq_sim_result {
	int ok;
	double elapsed_s;
	double issue_s;
	uint64_t groups_issued, pages_issued;
	uint64_t groups_answered, pages_answered;
	uint64_t answered_success, answered_invalid;
	uint64_t wrong_code, mismatched, duplicated, lost;
	uint64_t open_backlog;
	uint64_t attempts[IOPFQ_SIM_NR_KINDS];
	uint64_t refused[IOPFQ_SIM_NR_KINDS];
	uint64_t wrong_errno[IOPFQ_SIM_NR_KINDS];
	uint64_t over_credit_accepted;
	uint64_t wrong_hw_answer;
	uint64_t consumer_reads, consumer_writes, consumer_wakeups, consumer_errors;
	uint64_t inflight_pages_end;
	struct iopfq_counters counters;
	struct iopfq_fault_stats stats;
	unsigned long warnings;
	struct iopfq_hist lat;
	struct iopfq_sim_dev_result dev[IOPFQ_SIM_MAX_DEVICES];
	struct iopfq_sim_check checks[IOPFQ_SIM_MAX_CHECKS];
	unsigned int nchecks;
};

/* Fill @cfg with the defaults of struct iopfq_sim_config. Return: 0 or -EINVAL. */
int iopfq_sim_config_init(struct iopfq_sim_config *cfg);

/*
 * Check every field of @cfg; on error write a one-line reason to @err
 * (@errlen bytes, may be 0). Return: 0, or -EINVAL.
 */
int iopfq_sim_validate(const struct iopfq_sim_config *cfg, char *err, size_t errlen);

/**
 * iopfq_sim_run - create a fault FD, attach the devices, run the producers
 * and the consumer for cfg->seconds, drain, self-check, detach, destroy.
 * @resp: set to a new result (free with iopfq_sim_result_free()), also when
 *	a self-check failed (then (*resp)->ok is 0)
 * Context: process; creates threads; allocates.
 * Return: 0 if the run took place (look at ->ok); -EINVAL for a NULL
 * argument or a config iopfq_sim_validate() refuses; -ENOMEM; another
 * negative errno if the fault FD or a thread could not be made.
 */
int iopfq_sim_run(const struct iopfq_sim_config *cfg, struct iopfq_sim_result **resp);

/* Free a result of iopfq_sim_run(); NULL is fine. */
void iopfq_sim_result_free(struct iopfq_sim_result *res);

/**
 * iopfq_sim_trace_load - read a trace file of page addresses
 * @path: the file: one address per line in hexadecimal, with or without
 *	0x; blank lines and lines starting with '#' are ignored; leading and
 *	trailing blanks are allowed; anything else is an error
 * @addrs: set to a malloc()ed array (free() it)
 * @n: set to its length (>= 1)
 * @err: a one-line reason on error (file:line: what)
 * Return: 0; -EINVAL for a malformed or empty file or NULL argument; -E2BIG
 * beyond IOPFQ_SIM_MAX_TRACE addresses; -ENOMEM; the errno of fopen/read.
 */
int iopfq_sim_trace_load(const char *path, uint64_t **addrs, size_t *n, char *err, size_t errlen);

/* Name of a misbehaviour kind ("over-credit", "bad-grpid", "bad-pasid",
 * "bad-perm", "stray-marker"), or NULL for a bad kind. */
const char *iopfq_sim_kind_name(unsigned int kind);

/* The kind named @name, or -EINVAL. */
int iopfq_sim_kind_parse(const char *name);

/* The errno (negative) the queue must refuse @kind with; 0 for a bad kind. */
int iopfq_sim_kind_errno(unsigned int kind);

/* Name of a pattern ("sequential", "random", "trace") or a mode ("closed",
 * "open"); NULL if out of range. */
const char *iopfq_sim_pattern_name(unsigned int pattern);
const char *iopfq_sim_mode_name(unsigned int mode);

/**
 * iopfq_sim_group_invalid - the INVALID rule shared by the devices and the
 * consumer: 1 if the group (@dev_id, @pasid, @grpid, @npages pages whose
 * addresses XOR to @addr_xor) is to be answered INVALID at @invalid_pct
 * percent. Order-independent in the pages. Context: any.
 */
static inline int iopfq_sim_group_invalid(uint32_t dev_id, uint32_t pasid, uint32_t grpid,
					  uint32_t npages, uint64_t addr_xor,
					  unsigned int invalid_pct)
{
	uint64_t h;

	if (!invalid_pct)
		return 0;
	if (invalid_pct >= 100)
		return 1;
	h = addr_xor ^ ((uint64_t)dev_id << 40) ^ ((uint64_t)pasid << 20) ^
	    ((uint64_t)grpid << 4) ^ npages;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (h % 100) < invalid_pct;
}

#ifdef __cplusplus
}
#endif

#endif /* IOPFQ_SIM_H */
