/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * iopfq_kmod.h - shared declarations of iopfq.ko's adapter files:
 *
 *   iopfq_main.c      module, /dev/iopfq file operations and ioctls, the
 *                     core mode (the iopfq core behind the fault FD)
 *   iopfq_baseline.c  the baseline mode: a model of iommufd's fault FD and
 *                     io-pgfault as merged (lists, kzalloc, xarray, mutex)
 *   iopfq_sim.c       simulated PRI devices, generators, latency histogram
 *   iopfq_selftest.c  the core's self-test at module load
 *   core_ring.c, core_queue.c   the core's unchanged sources
 */
#ifndef IOPFQ_KMOD_H
#define IOPFQ_KMOD_H

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/srcu.h>
#include <linux/types.h>
#include <linux/wait.h>

#include <iopfq/iopfq.h>
#include "iopfq_ioctl.h"

struct iopfq_base;
struct iopfq_simdev;

/* Alignment of the core's memory (iopfq_init()) */
#define IOPFQ_KMOD_ALIGN IOPFQ_MEM_ALIGN

/* Module-wide counters (IOPFQ_IOC_GLOBAL_STATS) */
struct iopfq_global {
	atomic64_t files_open;
	atomic64_t qmem_allocs;
	atomic64_t qmem_frees;
	atomic64_t base_allocs;
	atomic64_t base_frees;
	atomic64_t simdev_allocs;
	atomic64_t simdev_frees;
	atomic64_t sim_sent_groups;
	atomic64_t sim_sent_pages;
	atomic64_t sim_answered_groups;
	atomic64_t sim_answered_pages;
	atomic64_t sim_answered_invalid;
	atomic64_t sim_duplicates;
	atomic64_t sim_credits_leaked;
};

extern struct iopfq_global iopfq_global;

/**
 * struct iopfq_file - one open /dev/iopfq: one fault queue
 * @lock: the consumer-side lock: read, poll, ioctls; write in baseline mode
 * @wq: readers and pollers wait here; woken by the core's notify hook
 * @mode: enum iopfq_ioc_mode
 * @used: a device has been attached: the configuration is frozen
 * @cfg: the core's configuration (core mode)
 * @mem: the core's memory (kvzalloc, iopfq_memsize() bytes)
 * @q: the core queue in @mem
 * @recs: the read bounce buffer: room for the largest group (credit_budget)
 * @base: the baseline queue (baseline mode)
 * @devs: simulated devices (struct iopfq_simdev), under @lock
 * @ndevs: number of them
 */
struct iopfq_file {
	struct mutex lock;
	wait_queue_head_t wq;
	u32 mode;
	bool used;
	struct iopfq_config cfg;
	void *mem;
	struct iopfq *q;
	struct iopfq_hwpt_pgfault *recs;
	struct iopfq_base *base;
	struct list_head devs;
	u32 ndevs;
};

/**
 * struct iopfq_simdev - a simulated PRI device attached to one file
 * @node: on iopfq_file.devs
 * @file: its queue
 * @handle: core mode: its iopfq_dev_t
 * @bdev: baseline mode: its device in the baseline queue
 * @grp_ts: per (PASID, group index): report time of the group's first page,
 *	0 while no group with that key is outstanding
 * @grp_pages: per (PASID, group index): pages reported and not yet answered
 * @nslots: entries in @grp_ts and @grp_pages (npasids * 512)
 */
struct iopfq_simdev {
	struct list_head node;
	struct iopfq_file *file;
	u32 dev_id;
	u32 credits;
	u32 pasid_base;
	u32 npasids;
	u32 group_size;
	u32 flags;
	iopfq_dev_t handle;
	void *bdev;
	atomic_t credits_used;
	atomic64_t *grp_ts;
	atomic_t *grp_pages;
	u32 nslots;
	u32 gen_cursor;

	/* generator */
	u32 gen_kind;
	u64 gen_period_ns;
	u32 gen_burst;
	u32 gen_max_groups;
	u32 gen_sent;
	bool gen_running;
	struct task_struct *gen_task;
	struct hrtimer gen_timer;
	wait_queue_head_t credit_wq;

	/* statistics: updated by the response hook from any thread */
	atomic64_t sent_groups;
	atomic64_t sent_pages;
	atomic64_t answered_groups;
	atomic64_t answered_pages;
	atomic64_t answered_success;
	atomic64_t answered_invalid;
	atomic64_t answered_failure;
	atomic64_t duplicates;
	atomic64_t refused;
	atomic64_t throttled;
	atomic64_t lat_count;
	atomic64_t lat_sum;
	atomic64_t lat_max;
	atomic64_t hist[IOPFQ_HIST_BUCKETS];
};

/* iopfq_main.c: a page request from device @sd, in any context. */
int iopfq_file_report(struct iopfq_simdev *sd, const struct iopfq_request *req, u32 *answer);
int iopfq_file_report_section(struct iopfq_file *f, int (*fn)(void *arg), void *arg);

/* iopfq_sim.c */
struct iopfq_simdev *iopfq_sim_alloc(struct iopfq_file *f, const struct iopfq_ioc_attach *a);
void iopfq_sim_free(struct iopfq_simdev *sd);
struct iopfq_simdev *iopfq_sim_find(struct iopfq_file *f, u32 dev_id);
void iopfq_sim_response(struct iopfq_simdev *sd, u32 pasid, u32 grpid, u32 npages, u32 code);
bool iopfq_sim_page_begin(struct iopfq_simdev *sd, u32 pasid, u32 grpid);
void iopfq_sim_page_undo(struct iopfq_simdev *sd, u32 pasid, u32 grpid, bool first);
void iopfq_sim_forget_pasid(struct iopfq_simdev *sd, bool pasid_valid, u32 pasid);
int iopfq_sim_gen_start(struct iopfq_simdev *sd, const struct iopfq_ioc_gen *g);
void iopfq_sim_gen_stop(struct iopfq_simdev *sd);
void iopfq_sim_stats(struct iopfq_simdev *sd, struct iopfq_ioc_dev_stats *st);
int iopfq_sim_check_attach(const struct iopfq_ioc_attach *a);

/* iopfq_baseline.c */
struct iopfq_base *iopfq_base_create(struct iopfq_file *f, u32 max_devices);
void iopfq_base_destroy(struct iopfq_base *b);
int iopfq_base_attach(struct iopfq_base *b, struct iopfq_simdev *sd);
void iopfq_base_detach(struct iopfq_base *b, struct iopfq_simdev *sd);
void iopfq_base_flush(struct iopfq_base *b, struct iopfq_simdev *sd, bool pasid_valid,
		      u32 pasid, bool no_response);
int iopfq_base_report(struct iopfq_base *b, struct iopfq_simdev *sd,
		      const struct iopfq_request *req);
struct srcu_struct *iopfq_base_srcu(struct iopfq_base *b);
ssize_t iopfq_base_read(struct iopfq_base *b, char __user *buf, size_t count);
ssize_t iopfq_base_write(struct iopfq_base *b, const char __user *buf, size_t count);
bool iopfq_base_ready(struct iopfq_base *b);
void iopfq_base_stats(struct iopfq_base *b, struct iopfq_ioc_queue_stats *st);

/* iopfq_selftest.c */
int iopfq_selftest(void);

#endif /* IOPFQ_KMOD_H */
