/* SPDX-License-Identifier: MIT */
/*
 * ref_model.h - a reference model of the queue's observable semantics, for
 * the differential test (test_model_diff.c).
 *
 * Plain single-threaded C: malloc'd linked lists, no atomics, no fixed
 * tables, no cleverness. Each rm_* operation takes the arguments of the
 * iopfq_* call of the same name and returns what iopfq.h documents for it.
 * Two things cannot be predicted from the outside and are the model's own:
 *
 *   handles   the model issues 1, 2, 3, ... and never reuses one;
 *   cookies   the model issues 1, 2, 3, ... per delivered group.
 *
 * The driver maps the real queue's handles and cookies onto these. Every
 * page response and aged warning the real queue would send through its ops
 * is appended to a log here, together with which stage of a detach or
 * flush produced it (the real queue answers queued groups in FIFO order,
 * then delivered groups in an order of its own choosing).
 *
 * Where the ring matters (in_ring, marker credits, group start times), the
 * model drains exactly where iopfq.h says the real queue does: in read,
 * next_group_size, age_scan, poll_ready, flush and detach.
 */
#ifndef IOPFQ_REF_MODEL_H
#define IOPFQ_REF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <iopfq/iopfq.h>

struct rm;

/* Which path produced a logged page response */
enum rm_resp_stage {
	RM_STAGE_USER = 0,      /* iopfq_respond() */
	RM_STAGE_READY = 1,     /* detach/flush: a complete, unread group (FIFO order) */
	RM_STAGE_DELIVERED = 2, /* detach/flush: a delivered group (order unspecified) */
};

struct rm_resp {
	struct iopfq_response r;
	int stage;
};

/* @cfg must be a configuration iopfq_config_geometry() accepts */
struct rm *rm_new(const struct iopfq_config *cfg);
void rm_free(struct rm *m);

/* The fake clock the real queue's now_ns hook returns */
void rm_set_now(struct rm *m, uint64_t now_ns);

int rm_attach(struct rm *m, uint32_t dev_id, uint32_t credits, void *dev_ctx,
	      uint32_t *handle);
int rm_detach(struct rm *m, uint32_t handle);
int rm_dev_lookup(struct rm *m, uint32_t dev_id, uint32_t *handle);
int rm_set_failed(struct rm *m, uint32_t handle, int failed);
int rm_report(struct rm *m, uint32_t handle, const struct iopfq_request *req,
	      uint32_t *answer);
int rm_read(struct rm *m, struct iopfq_hwpt_pgfault *recs, uint32_t max);
int rm_set_delivery(struct rm *m, uint32_t policy);
uint32_t rm_next_group_size(struct rm *m);
int rm_respond(struct rm *m, const struct iopfq_hwpt_page_response *resp, uint32_t n);
int rm_flush(struct rm *m, uint32_t handle, int pasid_valid, uint32_t pasid,
	     uint32_t flags);
uint32_t rm_age_scan(struct rm *m, uint64_t threshold_ns);
int rm_poll_ready(struct rm *m);
int rm_prepare_sleep(struct rm *m);
void rm_finish_sleep(struct rm *m);
void rm_counters(struct rm *m, struct iopfq_counters *c);

/*
 * Called at each page response, at the moment ops->page_response would be:
 * after the group's credits are back. It may call rm_report() (producer
 * side), as a page_response hook may call iopfq_report().
 */
void rm_set_response_hook(struct rm *m, void (*hook)(void *arg, const struct rm_resp *r),
			  void *arg);

/* What the real queue's ops would have seen, in order, since rm_new() */
size_t rm_nresp(const struct rm *m);
const struct rm_resp *rm_resp_at(const struct rm *m, size_t i);
size_t rm_naged(const struct rm *m);
const struct iopfq_aged *rm_aged_at(const struct rm *m, size_t i);
unsigned long rm_notifies(const struct rm *m);

/* For the driver: cookies issued so far are 1 .. rm_last_cookie() */
uint32_t rm_last_cookie(const struct rm *m);
int rm_cookie_live(const struct rm *m, uint32_t cookie);
/* Live (delivered, unanswered) cookies, newest first, into @out; returns how many */
uint32_t rm_live_cookies(const struct rm *m, uint32_t *out, uint32_t max);
/* Attached handles into @out; returns how many there are */
uint32_t rm_live_handles(const struct rm *m, uint32_t *out, uint32_t max);

/* Credits a device has left (0 .. credits), or -1 for a handle not attached */
int rm_dev_room(const struct rm *m, uint32_t handle);

/* The model's own invariants (credits held == pages held, ...); NULL if fine */
const char *rm_self_check(const struct rm *m);

#endif /* IOPFQ_REF_MODEL_H */
