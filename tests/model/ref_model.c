/* SPDX-License-Identifier: MIT */
/*
 * ref_model.c - the reference model of the I/O page-fault queue (see
 * ref_model.h): what iopfq.h and docs/design.md say the queue does, written the
 * obvious way so that it can be checked by reading.
 *
 * State:
 *   devs        attached devices (failed ones included), any order
 *   ring        reported requests and Stop Markers not yet drained, FIFO
 *   partial     groups whose last page has not arrived
 *   ready       complete groups, in completion order
 *   turn        round robin delivery: the devices with complete groups, in
 *               the order of their next turn
 *   delivered   read, unanswered groups; by_cookie[] finds them by cookie
 *   c           struct iopfq_counters, kept field by field
 */
#include "ref_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rm_page {
	uint32_t flags;
	uint32_t perm;
	uint64_t addr;
};

struct rm_dev {
	struct rm_dev *next;
	uint32_t handle;
	uint32_t dev_id;
	uint32_t credits;
	uint32_t credits_in_use;        /* pages reported and not yet given back */
	uint32_t marker_credits;
	uint32_t markers_in_use;        /* markers reported and not yet drained */
	int failed;
	int detaching;                  /* refuses reports like a detached one */
	void *dev_ctx;
};

struct rm_group {
	struct rm_group *next;          /* in partial, ready or delivered */
	struct rm_dev *dev;
	uint32_t flags;                 /* PASID_VALID or 0: part of the key */
	uint32_t pasid;
	uint32_t grpid;
	struct rm_page *pages;          /* arrival order */
	uint32_t npages, cap;
	uint64_t first_ns;              /* when its first page was drained */
	int warned;                     /* an aged warning was sent for it */
	uint32_t cookie;                /* while delivered */
};

struct rm_entry {
	struct rm_entry *next;
	struct rm_dev *dev;
	struct iopfq_request req;
};

struct rm {
	uint32_t max_devices;
	uint32_t budget;
	uint32_t marker_credits;
	uint64_t now;
	int sleeping;

	struct rm_dev *devs;
	uint32_t last_handle;

	struct rm_entry *ring_head, *ring_tail;
	struct rm_group *partial;
	struct rm_group *ready_head, *ready_tail;
	/* round robin: the devices with complete groups, whose turn first */
	uint32_t delivery;
	struct rm_dev **turn;
	uint32_t nturn;
	struct rm_group *delivered;
	struct rm_group **by_cookie;    /* [cookie]: the live group, or NULL */
	uint32_t last_cookie, cookie_cap;

	struct iopfq_counters c;

	struct rm_resp *resp;
	size_t nresp, resp_cap;
	struct iopfq_aged *aged;
	size_t naged, aged_cap;
	unsigned long notifies;
	void (*hook)(void *arg, const struct rm_resp *r);
	void *hook_arg;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "ref_model: out of memory\n");
		abort();
	}
	return p;
}

static void *xcalloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p) {
		fprintf(stderr, "ref_model: out of memory\n");
		abort();
	}
	return p;
}

/* ---------------------------------------------------------------------- */
/* life                                                                    */

struct rm *rm_new(const struct iopfq_config *cfg)
{
	struct rm *m = xcalloc(sizeof(*m));

	m->max_devices = cfg->max_devices;
	m->budget = cfg->credit_budget;
	m->marker_credits = cfg->marker_credits ? cfg->marker_credits
						: IOPFQ_DEFAULT_MARKER_CREDITS;
	m->delivery = cfg->delivery;
	m->turn = xcalloc(cfg->max_devices * sizeof(*m->turn));
	return m;
}

static void group_free(struct rm_group *g)
{
	free(g->pages);
	free(g);
}

static void group_list_free(struct rm_group *g)
{
	while (g) {
		struct rm_group *next = g->next;

		group_free(g);
		g = next;
	}
}

void rm_free(struct rm *m)
{
	if (!m)
		return;
	while (m->devs) {
		struct rm_dev *d = m->devs;

		m->devs = d->next;
		free(d);
	}
	while (m->ring_head) {
		struct rm_entry *e = m->ring_head;

		m->ring_head = e->next;
		free(e);
	}
	group_list_free(m->partial);
	group_list_free(m->ready_head);
	group_list_free(m->delivered);
	free(m->by_cookie);
	free(m->turn);
	free(m->resp);
	free(m->aged);
	free(m);
}

void rm_set_now(struct rm *m, uint64_t now_ns)
{
	m->now = now_ns;
}

/* ---------------------------------------------------------------------- */
/* logs                                                                    */

/* Log a page response and call the hook, as ops->page_response would be */
static void send_response(struct rm *m, const struct rm_group *g, uint32_t code,
			  uint32_t origin, int stage)
{
	struct rm_resp *r;

	if (m->nresp == m->resp_cap) {
		m->resp_cap = m->resp_cap ? 2 * m->resp_cap : 64;
		m->resp = xrealloc(m->resp, m->resp_cap * sizeof(*m->resp));
	}
	r = &m->resp[m->nresp++];
	memset(r, 0, sizeof(*r));
	r->r.dev_id = g->dev->dev_id;
	r->r.pasid = g->pasid;
	r->r.grpid = g->grpid;
	r->r.flags = g->flags;
	r->r.code = code;
	r->r.npages = g->npages;
	r->r.origin = origin;
	r->r.dev_ctx = g->dev->dev_ctx;
	r->stage = stage;
	if (m->hook)
		m->hook(m->hook_arg, r);
}

void rm_set_response_hook(struct rm *m, void (*hook)(void *arg, const struct rm_resp *r),
			  void *arg)
{
	m->hook = hook;
	m->hook_arg = arg;
}

static void log_aged(struct rm *m, const struct rm_group *g, uint32_t where)
{
	struct iopfq_aged *a;

	if (m->naged == m->aged_cap) {
		m->aged_cap = m->aged_cap ? 2 * m->aged_cap : 64;
		m->aged = xrealloc(m->aged, m->aged_cap * sizeof(*m->aged));
	}
	a = &m->aged[m->naged++];
	memset(a, 0, sizeof(*a));
	a->dev_id = g->dev->dev_id;
	a->pasid = g->pasid;
	a->grpid = g->grpid;
	a->flags = g->flags;
	a->where = where;
	a->npages = g->npages;
	a->cookie = where == IOPFQ_GROUP_DELIVERED ? g->cookie : 0;
	a->age_ns = m->now - g->first_ns;
}

size_t rm_nresp(const struct rm *m)
{
	return m->nresp;
}

const struct rm_resp *rm_resp_at(const struct rm *m, size_t i)
{
	return &m->resp[i];
}

size_t rm_naged(const struct rm *m)
{
	return m->naged;
}

const struct iopfq_aged *rm_aged_at(const struct rm *m, size_t i)
{
	return &m->aged[i];
}

unsigned long rm_notifies(const struct rm *m)
{
	return m->notifies;
}

/* ---------------------------------------------------------------------- */
/* devices                                                                 */

static struct rm_dev *dev_by_handle(struct rm *m, uint32_t handle)
{
	struct rm_dev *d;

	for (d = m->devs; d; d = d->next)
		if (d->handle == handle && !d->detaching)
			return d;
	return NULL;
}

static struct rm_dev *dev_by_id(struct rm *m, uint32_t dev_id)
{
	struct rm_dev *d;

	for (d = m->devs; d; d = d->next)
		if (d->dev_id == dev_id)
			return d;
	return NULL;
}

int rm_attach(struct rm *m, uint32_t dev_id, uint32_t credits, void *dev_ctx,
	      uint32_t *handle)
{
	struct rm_dev *d;

	if (!handle || credits == 0)
		return -IOPFQ_EINVAL;
	if (dev_by_id(m, dev_id))
		return -IOPFQ_EEXIST;
	if (credits > m->budget - m->c.credits_attached)
		return -IOPFQ_ENOSPC;
	if (m->c.devices_attached >= m->max_devices)
		return -IOPFQ_ENOSPC;

	d = xcalloc(sizeof(*d));
	d->handle = ++m->last_handle;
	d->dev_id = dev_id;
	d->credits = credits;
	d->marker_credits = m->marker_credits;
	d->dev_ctx = dev_ctx;
	d->next = m->devs;
	m->devs = d;
	m->c.credits_attached += credits;
	m->c.devices_attached++;
	*handle = d->handle;
	return 0;
}

int rm_dev_lookup(struct rm *m, uint32_t dev_id, uint32_t *handle)
{
	struct rm_dev *d;

	if (!handle)
		return -IOPFQ_EINVAL;
	d = dev_by_id(m, dev_id);
	if (!d)
		return -IOPFQ_ENOENT;
	*handle = d->handle;
	return 0;
}

int rm_set_failed(struct rm *m, uint32_t handle, int failed)
{
	struct rm_dev *d = dev_by_handle(m, handle);

	if (!d)
		return -IOPFQ_ENODEV;
	d->failed = !!failed;
	return 0;
}

uint32_t rm_live_handles(const struct rm *m, uint32_t *out, uint32_t max)
{
	const struct rm_dev *d;
	uint32_t n = 0;

	for (d = m->devs; d; d = d->next) {
		if (n < max)
			out[n] = d->handle;
		n++;
	}
	return n;
}

int rm_dev_room(const struct rm *m, uint32_t handle)
{
	const struct rm_dev *d;

	for (d = m->devs; d; d = d->next)
		if (d->handle == handle)
			return (int)(d->credits - d->credits_in_use);
	return -1;
}

/* ---------------------------------------------------------------------- */
/* report                                                                  */

static int is_marker(const struct iopfq_request *req)
{
	return (req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) &&
	       !(req->perm & (IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE));
}

static int is_valid(const struct iopfq_request *req)
{
	int pasid_valid = (req->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) != 0;

	if (req->flags & ~IOPFQ_PGFAULT_FLAGS_ALL)
		return 0;
	if (req->perm & ~IOPFQ_PGFAULT_PERM_ALL)
		return 0;
	if (req->grpid > IOPFQ_GRPID_MAX)
		return 0;
	if (pasid_valid && req->pasid > IOPFQ_PASID_MAX)
		return 0;
	if (!pasid_valid && req->pasid != 0)
		return 0;
	if (is_marker(req))
		return pasid_valid;
	/* a page request asks for read or write access */
	return (req->perm & (IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE)) != 0;
}

int rm_report(struct rm *m, uint32_t handle, const struct iopfq_request *req,
	      uint32_t *answer)
{
	struct rm_dev *d = dev_by_handle(m, handle);
	struct rm_entry *e;

	if (answer)
		*answer = IOPFQ_HW_NONE;
	if (!d) {
		m->c.refused_nodev++;
		return -IOPFQ_ENODEV;
	}
	if (d->failed) {
		m->c.refused_failed++;
		return -IOPFQ_EIO;
	}
	if (!req || !is_valid(req)) {
		m->c.refused_invalid++;
		return -IOPFQ_EINVAL;
	}
	if (is_marker(req)) {
		if (d->markers_in_use >= d->marker_credits) {
			m->c.refused_markers++;
			return -IOPFQ_EDQUOT;
		}
		d->markers_in_use++;
		m->c.markers_accepted++;
	} else {
		if (d->credits_in_use >= d->credits) {
			m->c.refused_over_credit++;
			/* as VT-d on PRQ overflow: the device retries a dropped last page */
			if (answer && (req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE))
				*answer = IOPFQ_HW_SUCCESS;
			return -IOPFQ_EDQUOT;
		}
		d->credits_in_use++;
		m->c.accepted++;
		m->c.in_ring++;
	}

	e = xcalloc(sizeof(*e));
	e->dev = d;
	e->req = *req;
	if (m->ring_tail)
		m->ring_tail->next = e;
	else
		m->ring_head = e;
	m->ring_tail = e;

	if (m->sleeping) {
		m->sleeping = 0;
		m->notifies++;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* drain: the ring into partial and ready groups                            */

static int same_pasid(const struct rm_group *g, uint32_t flags, uint32_t pasid)
{
	return g->flags == (flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) && g->pasid == pasid;
}

/* Remove and return the first group of *@list that @pick accepts */
static struct rm_group *unlink_first(struct rm_group **list,
				     int (*pick)(const struct rm_group *, const void *),
				     const void *arg)
{
	struct rm_group **link;

	for (link = list; *link; link = &(*link)->next) {
		struct rm_group *g = *link;

		if (pick(g, arg)) {
			*link = g->next;
			g->next = NULL;
			return g;
		}
	}
	return NULL;
}

/* Drop a partial group: no answer, its credits go back */
static void discard_partial(struct rm *m, struct rm_group *g, int by_marker)
{
	m->c.partial -= g->npages;
	m->c.discarded += g->npages;
	if (by_marker)
		m->c.discarded_by_marker += g->npages;
	g->dev->credits_in_use -= g->npages;
	group_free(g);
}

struct pasid_of_dev {
	const struct rm_dev *dev;
	uint32_t flags;
	uint32_t pasid;
};

static int pick_pasid_of_dev(const struct rm_group *g, const void *arg)
{
	const struct pasid_of_dev *k = arg;

	return g->dev == k->dev && same_pasid(g, k->flags, k->pasid);
}

struct group_key {
	const struct rm_dev *dev;
	uint32_t flags;
	uint32_t pasid;
	uint32_t grpid;
};

static int pick_key(const struct rm_group *g, const void *arg)
{
	const struct group_key *k = arg;

	return g->dev == k->dev && same_pasid(g, k->flags, k->pasid) && g->grpid == k->grpid;
}

static void drain_marker(struct rm *m, struct rm_dev *d, uint32_t pasid)
{
	struct pasid_of_dev k = { d, IOPFQ_PGFAULT_FLAGS_PASID_VALID, pasid };
	struct rm_group *g;

	/* partial groups of this PASID that arrived before the marker are stale */
	while ((g = unlink_first(&m->partial, pick_pasid_of_dev, &k)))
		discard_partial(m, g, 1);
	d->markers_in_use--;
}

/*
 * Delivery order. Completion: the ready list's head. Round robin: the
 * devices that have complete groups queue for turns (m->turn[0] first); a
 * device joins at the front when it gets a first one, takes one group per
 * turn and goes to the back, and leaves when it has none.
 */
static int dev_has_ready(const struct rm *m, const struct rm_dev *d)
{
	const struct rm_group *g;

	for (g = m->ready_head; g; g = g->next)
		if (g->dev == d)
			return 1;
	return 0;
}

/* @d gets a complete group when it had none: it takes the next turn */
static void turn_join(struct rm *m, struct rm_dev *d)
{
	uint32_t i;

	for (i = 0; i < m->nturn; i++)
		if (m->turn[i] == d)
			return;
	memmove(&m->turn[1], &m->turn[0], m->nturn * sizeof(*m->turn));
	m->turn[0] = d;
	m->nturn++;
}

/* @d leaves the turn if it has no complete group left */
static void turn_update(struct rm *m, struct rm_dev *d)
{
	uint32_t i;

	if (dev_has_ready(m, d))
		return;
	for (i = 0; i < m->nturn && m->turn[i] != d; i++)
		;
	if (i == m->nturn)
		return;
	memmove(&m->turn[i], &m->turn[i + 1], (m->nturn - i - 1) * sizeof(*m->turn));
	m->nturn--;
}

static struct rm_group *ready_next(const struct rm *m)
{
	struct rm_group *g;

	if (m->delivery != IOPFQ_DELIVER_ROUND_ROBIN)
		return m->ready_head;
	for (g = m->ready_head; g && m->nturn; g = g->next)
		if (g->dev == m->turn[0])
			return g;
	return NULL;
}

int rm_set_delivery(struct rm *m, uint32_t policy)
{
	if (policy != IOPFQ_DELIVER_COMPLETION && policy != IOPFQ_DELIVER_ROUND_ROBIN)
		return -IOPFQ_EINVAL;
	m->delivery = policy;
	return 0;
}

static void drain_page(struct rm *m, struct rm_dev *d, const struct iopfq_request *req)
{
	struct group_key k = { d, req->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID, req->pasid,
			       req->grpid };
	struct rm_group *g = unlink_first(&m->partial, pick_key, &k);

	if (!g) {
		g = xcalloc(sizeof(*g));
		g->dev = d;
		g->flags = k.flags;
		g->pasid = req->pasid;
		g->grpid = req->grpid;
		g->first_ns = m->now;
	}
	if (g->npages == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 4;
		g->pages = xrealloc(g->pages, g->cap * sizeof(*g->pages));
	}
	g->pages[g->npages].flags = req->flags;
	g->pages[g->npages].perm = req->perm;
	g->pages[g->npages].addr = req->addr;
	g->npages++;
	m->c.in_ring--;

	if (req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) {
		/* complete: its earlier pages stop being partial */
		m->c.partial -= g->npages - 1;
		m->c.ready += g->npages;
		turn_join(m, g->dev);
		g->next = NULL;
		if (m->ready_tail)
			m->ready_tail->next = g;
		else
			m->ready_head = g;
		m->ready_tail = g;
	} else {
		m->c.partial++;
		g->next = m->partial;
		m->partial = g;
	}
}

static void drain(struct rm *m)
{
	while (m->ring_head) {
		struct rm_entry *e = m->ring_head;

		m->ring_head = e->next;
		if (!m->ring_head)
			m->ring_tail = NULL;
		if (is_marker(&e->req))
			drain_marker(m, e->dev, e->req.pasid);
		else
			drain_page(m, e->dev, &e->req);
		free(e);
	}
}

/* ---------------------------------------------------------------------- */
/* read                                                                    */

static int pick_same(const struct rm_group *g, const void *arg);

/* @g, the group ready_next() named, is delivered */
static void ready_take(struct rm *m, struct rm_group *g)
{
	struct rm_dev *d = g->dev;
	struct rm_group *t;

	unlink_first(&m->ready_head, pick_same, g);
	for (m->ready_tail = m->ready_head, t = m->ready_head; t; t = t->next)
		m->ready_tail = t;
	turn_update(m, d);
	/* still queued: its turn is over, to the back */
	if (m->delivery == IOPFQ_DELIVER_ROUND_ROBIN && m->nturn > 1 && m->turn[0] == d) {
		memmove(&m->turn[0], &m->turn[1], (m->nturn - 1) * sizeof(*m->turn));
		m->turn[m->nturn - 1] = d;
	}
}

int rm_read(struct rm *m, struct iopfq_hwpt_pgfault *recs, uint32_t max)
{
	uint32_t written = 0, i;

	if (!recs && max)
		return -IOPFQ_EINVAL;
	drain(m);
	for (;;) {
		struct rm_group *g = ready_next(m);

		/* whole groups only; one that does not fit stays first in line */
		if (!g || g->npages > max - written)
			break;
		ready_take(m, g);
		if (m->last_cookie + 1 >= m->cookie_cap) {
			uint32_t old = m->cookie_cap;

			m->cookie_cap = old ? 2 * old : 256;
			m->by_cookie = xrealloc(m->by_cookie, m->cookie_cap * sizeof(*m->by_cookie));
			memset(m->by_cookie + old, 0, (m->cookie_cap - old) * sizeof(*m->by_cookie));
		}
		g->cookie = ++m->last_cookie;
		m->by_cookie[g->cookie] = g;
		g->next = m->delivered;
		m->delivered = g;

		for (i = 0; i < g->npages; i++) {
			struct iopfq_hwpt_pgfault *r = &recs[written++];

			memset(r, 0, sizeof(*r));
			r->flags = g->pages[i].flags;
			r->dev_id = g->dev->dev_id;
			r->pasid = g->pasid;
			r->grpid = g->grpid;
			r->perm = g->pages[i].perm;
			r->addr = g->pages[i].addr;
			r->length = 0;
			r->cookie = g->cookie;
		}
		m->c.ready -= g->npages;
		m->c.delivered += g->npages;
		m->c.groups_delivered++;
	}
	return (int)written;
}

uint32_t rm_next_group_size(struct rm *m)
{
	drain(m);
	return ready_next(m) ? ready_next(m)->npages : 0;
}

int rm_poll_ready(struct rm *m)
{
	drain(m);
	return m->ready_head != NULL;
}

/* ---------------------------------------------------------------------- */
/* answers                                                                 */

static int pick_same(const struct rm_group *g, const void *arg)
{
	return g == arg;
}

/* Delivered group @g, already off the delivered list, leaves: its cookie dies */
static void delivered_leave(struct rm *m, struct rm_group *g)
{
	m->by_cookie[g->cookie] = NULL;
	m->c.delivered -= g->npages;
	g->dev->credits_in_use -= g->npages;
}

int rm_respond(struct rm *m, const struct iopfq_hwpt_page_response *resp, uint32_t n)
{
	uint32_t done;

	if (!resp && n)
		return -IOPFQ_EINVAL;
	for (done = 0; done < n; done++) {
		uint32_t cookie = resp[done].cookie, code = resp[done].code;
		struct rm_group *g;

		if (code != IOPFQ_PAGE_RESP_SUCCESS && code != IOPFQ_PAGE_RESP_INVALID)
			break;
		if (!rm_cookie_live(m, cookie))
			break;
		g = m->by_cookie[cookie];
		m->c.answered += g->npages;
		m->c.groups_answered++;
		/* credits first: a device that reissues on the response finds them back */
		unlink_first(&m->delivered, pick_same, g);
		delivered_leave(m, g);
		send_response(m, g,
			      code == IOPFQ_PAGE_RESP_SUCCESS ? IOPFQ_HW_SUCCESS : IOPFQ_HW_INVALID,
			      IOPFQ_ANSWER_USER, RM_STAGE_USER);
		group_free(g);
	}
	if (done < n)
		m->c.bad_answers++;
	if (done)
		return (int)done;
	return n ? -IOPFQ_EINVAL : 0;
}

uint32_t rm_last_cookie(const struct rm *m)
{
	return m->last_cookie;
}

int rm_cookie_live(const struct rm *m, uint32_t cookie)
{
	return cookie != 0 && cookie <= m->last_cookie && m->by_cookie[cookie] != NULL;
}

uint32_t rm_live_cookies(const struct rm *m, uint32_t *out, uint32_t max)
{
	const struct rm_group *g;
	uint32_t n = 0;

	for (g = m->delivered; g; g = g->next) {
		if (n < max)
			out[n] = g->cookie;
		n++;
	}
	return n;
}

/* ---------------------------------------------------------------------- */
/* flush and detach                                                        */

struct victim {
	const struct rm_dev *dev;
	int all_pasids;
	uint32_t flags;
	uint32_t pasid;
};

static int pick_victim(const struct rm_group *g, const void *arg)
{
	const struct victim *v = arg;

	if (g->dev != v->dev)
		return 0;
	return v->all_pasids || same_pasid(g, v->flags, v->pasid);
}

/*
 * Remove every group @v names. Partial ones are dropped; complete ones,
 * queued then delivered, are answered @code (IOPFQ_HW_NONE: dropped).
 */
static void remove_victims(struct rm *m, const struct victim *v, uint32_t code,
			   uint32_t origin)
{
	struct rm_group *g;

	drain(m);
	while ((g = unlink_first(&m->partial, pick_victim, v)))
		discard_partial(m, g, 0);

	while ((g = unlink_first(&m->ready_head, pick_victim, v))) {
		m->c.ready -= g->npages;
		g->dev->credits_in_use -= g->npages;
		if (code == IOPFQ_HW_NONE) {
			m->c.discarded += g->npages;
		} else {
			m->c.auto_answered += g->npages;
			m->c.groups_auto_answered++;
			send_response(m, g, code, origin, RM_STAGE_READY);
		}
		group_free(g);
	}
	/* unlink_first() does not maintain the tail */
	for (m->ready_tail = m->ready_head; m->ready_tail && m->ready_tail->next;
	     m->ready_tail = m->ready_tail->next)
		;
	turn_update(m, (struct rm_dev *)v->dev);

	while ((g = unlink_first(&m->delivered, pick_victim, v))) {
		delivered_leave(m, g);
		if (code == IOPFQ_HW_NONE) {
			m->c.discarded += g->npages;
		} else {
			m->c.auto_answered += g->npages;
			m->c.groups_auto_answered++;
			send_response(m, g, code, origin, RM_STAGE_DELIVERED);
		}
		group_free(g);
	}
}

int rm_flush(struct rm *m, uint32_t handle, int pasid_valid, uint32_t pasid,
	     uint32_t flags)
{
	struct rm_dev *d = dev_by_handle(m, handle);
	struct victim v;

	if (!d)
		return -IOPFQ_ENODEV;
	if (flags & ~IOPFQ_FLUSH_NO_RESPONSE)
		return -IOPFQ_EINVAL;
	if (pasid_valid ? pasid > IOPFQ_PASID_MAX : pasid != 0)
		return -IOPFQ_EINVAL;
	v.dev = d;
	v.all_pasids = 0;
	v.flags = pasid_valid ? IOPFQ_PGFAULT_FLAGS_PASID_VALID : 0;
	v.pasid = pasid;
	remove_victims(m, &v,
		       (flags & IOPFQ_FLUSH_NO_RESPONSE) ? IOPFQ_HW_NONE : IOPFQ_HW_INVALID,
		       IOPFQ_ANSWER_FLUSH);
	return 0;
}

int rm_detach(struct rm *m, uint32_t handle)
{
	struct rm_dev *d = dev_by_handle(m, handle), **link;
	struct victim v = { d, 1, 0, 0 };

	if (!d)
		return -IOPFQ_ENODEV;
	/* its new reports are refused from here on (a response hook may report) */
	d->detaching = 1;
	remove_victims(m, &v, IOPFQ_HW_INVALID, IOPFQ_ANSWER_DETACH);
	if (d->credits_in_use || d->markers_in_use) {
		fprintf(stderr, "ref_model: detach left credits %u markers %u in use\n",
			d->credits_in_use, d->markers_in_use);
		abort();
	}
	m->c.credits_attached -= d->credits;
	m->c.devices_attached--;
	for (link = &m->devs; *link != d; link = &(*link)->next)
		;
	*link = d->next;
	free(d);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* aging, sleep, counters                                                  */

static uint32_t age_list(struct rm *m, struct rm_group *g, uint32_t where,
			 uint64_t threshold_ns)
{
	uint32_t n = 0;

	for (; g; g = g->next) {
		if (g->warned || m->now - g->first_ns < threshold_ns)
			continue;
		log_aged(m, g, where);
		g->warned = 1;
		m->c.aged_warnings++;
		n++;
	}
	return n;
}

uint32_t rm_age_scan(struct rm *m, uint64_t threshold_ns)
{
	uint32_t n = 0;

	drain(m);
	n += age_list(m, m->partial, IOPFQ_GROUP_PARTIAL, threshold_ns);
	n += age_list(m, m->ready_head, IOPFQ_GROUP_READY, threshold_ns);
	n += age_list(m, m->delivered, IOPFQ_GROUP_DELIVERED, threshold_ns);
	return n;
}

int rm_prepare_sleep(struct rm *m)
{
	m->sleeping = 1;
	if (m->ready_head || m->ring_head) {
		m->sleeping = 0;
		return 0;
	}
	return 1;
}

void rm_finish_sleep(struct rm *m)
{
	m->sleeping = 0;
}

void rm_counters(struct rm *m, struct iopfq_counters *c)
{
	*c = m->c;
	c->ring_claim_waits = 0;
}

/* ---------------------------------------------------------------------- */
/* self check                                                              */

static uint64_t list_pages(const struct rm_group *g, const struct rm_dev *d)
{
	uint64_t n = 0;

	for (; g; g = g->next)
		if (!d || g->dev == d)
			n += g->npages;
	return n;
}

const char *rm_self_check(const struct rm *m)
{
	const struct iopfq_counters *c = &m->c;
	const struct rm_dev *d;
	const struct rm_entry *e;
	uint64_t credits = 0, devs = 0;

	if (list_pages(m->partial, NULL) != c->partial)
		return "partial pages != counter";
	if (list_pages(m->ready_head, NULL) != c->ready)
		return "ready pages != counter";
	if (list_pages(m->delivered, NULL) != c->delivered)
		return "delivered pages != counter";
	if (c->accepted != c->in_ring + c->partial + c->ready + c->delivered + c->answered +
				   c->auto_answered + c->discarded)
		return "conservation";
	for (d = m->devs; d; d = d->next) {
		uint64_t held = list_pages(m->partial, d) + list_pages(m->ready_head, d) +
				list_pages(m->delivered, d);
		uint32_t markers = 0;

		for (e = m->ring_head; e; e = e->next) {
			if (e->dev != d)
				continue;
			if (is_marker(&e->req))
				markers++;
			else
				held++;
		}
		if (held != d->credits_in_use)
			return "device credits in use != pages held";
		if (d->credits_in_use > d->credits)
			return "device over its credits";
		if (markers != d->markers_in_use || markers > d->marker_credits)
			return "device marker credits";
		credits += d->credits;
		devs++;
	}
	if (credits != c->credits_attached || devs != c->devices_attached)
		return "credits_attached / devices_attached";
	if (c->credits_attached > m->budget || c->devices_attached > m->max_devices)
		return "admission";
	return NULL;
}
