/* SPDX-License-Identifier: MIT */
/*
 * test_model_diff.c - randomized differential test: the real queue (through
 * the test platform, single-threaded) and the reference model (ref_model.c)
 * run the same random operations side by side, and after EVERY step the
 * driver compares
 *
 *   - the return value (and out-parameters: handle, report answer),
 *   - the records read, every field, cookies mapped (see below), and that
 *     read wrote nothing past the records it returned,
 *   - the page responses sent during the step, every field including
 *     dev_ctx and origin: in order, except that the delivered groups a
 *     detach or flush answers are compared as a multiset (the real queue
 *     walks them in the order of its device's slot list), after the
 *     queued ones in FIFO order,
 *   - the aged warnings sent during the step, as a multiset,
 *   - the number of notify calls, and that only a successful flush or
 *     detach calls the synchronize hook (and that they do),
 *   - every field of struct iopfq_counters (ring_claim_waits must be 0),
 *     the conservation law (tp_conserved) and the model's own invariants.
 *
 * Handles and cookies: the model issues its own. When both sides attach,
 * the real handle is paired with the model's; a handle the driver forges is
 * given to the model as the paired model handle if it happens to equal a
 * live real handle, else as 0 (never valid). When both sides read a group,
 * the real cookie is mapped to the model's (the latest group to get a cookie
 * value owns it); an answer's cookie is given to the model through that map,
 * unknown values as 0. So live, stale (answered, revoked, generation
 * wrapped) and forged cookies are judged by the model from group identity.
 * A real cookie that is handed out again while the group it names is still
 * live is reported as a collision.
 *
 * Delivery order: each episode starts in a random policy (struct
 * iopfq_config.delivery) and random steps switch it with
 * iopfq_set_delivery(), now and then to an unknown value that both sides
 * must refuse; the records read then say whether both deliver the same
 * group next.
 *
 * Geometries are tiny (2 devices / 2 credits / 2-bit generations ...) so
 * that credit exhaustion, marker credits, cookie reuse and generation wrap
 * happen constantly. Each configuration runs episodes of random length on a
 * fresh queue (random ring_start near 2^32 too), ending with detach of every
 * device.
 *
 * Environment: IOPFQ_MODEL_SEED (base seed, decimal or 0x hex; default from
 * the clock, always printed), IOPFQ_MODEL_ITERS (steps per configuration),
 * IOPFQ_MODEL_CONFIG (run only that configuration index), IOPFQ_MODEL_VERBOSE
 * (print every step).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ref_model.h"
#include "test_platform.h"

#define DEFAULT_ITERS 1500000u
#define HISTORY 64
#define DESC_LEN 200
#define NSTALE 32
#define REC_POISON 0xa5
#define MAX_OPEN 6
#define MAX_LIVE 8              /* >= every configuration's max_devices */

#define MAX_PROBES 16

/*
 * A report made from inside the page_response hook during iopfq_respond(),
 * as a device that reissues the moment it sees the response would: the
 * credits of the answered group must already be back (iopfq.h). Replayed
 * on the model from its own hook, at the same point.
 */
struct probe {
	int made;
	uint32_t real_h, model_h;
	struct iopfq_request req;
	int rc;
	uint32_t answer;
};

/* The synchronize hook: only flush and detach may wait, and they must */
#define SYNC_NEVER 0
#define SYNC_MUST 1
#define SYNC_MAY 2

struct model_config {
	const char *name;
	struct iopfq_config cfg;
};

static const struct model_config configs[] = {
	{ "devices 2, budget 2, gen bits 2",
	  { .max_devices = 2, .credit_budget = 2, .marker_credits = 0, .cookie_gen_bits = 2 } },
	{ "devices 3, budget 5, gen bits 3, 1 marker credit",
	  { .max_devices = 3, .credit_budget = 5, .marker_credits = 1, .cookie_gen_bits = 3 } },
	{ "devices 4, budget 16, gen bits 0 (all)",
	  { .max_devices = 4, .credit_budget = 16, .marker_credits = 3, .cookie_gen_bits = 0 } },
	{ "devices 1, budget 1, gen bits 2",
	  { .max_devices = 1, .credit_budget = 1, .marker_credits = 1, .cookie_gen_bits = 2 } },
	{ "devices 2, budget 7, gen bits 2, 4 marker credits",
	  { .max_devices = 2, .credit_budget = 7, .marker_credits = 4, .cookie_gen_bits = 2 } },
};
#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))

/* real cookie -> model cookie; keys are never 0 */
struct cookie_map {
	uint32_t *keys;
	uint32_t *vals;
	size_t cap, n;
};

struct pair {
	uint32_t real;
	uint32_t model;
	void *dev_ctx;
	/* groups the device has begun and not ended (as far as it knows) */
	struct open_group {
		uint32_t flags, pasid, grpid;
	} open[MAX_OPEN];
	uint32_t nopen;
	int failed;
};

enum op {
	OP_ATTACH, OP_DETACH, OP_LOOKUP, OP_FAILED, OP_REPORT, OP_READ, OP_NEXT_SIZE,
	OP_RESPOND, OP_FLUSH, OP_AGE, OP_POLL, OP_SLEEP, OP_WAKE, OP_DELIVERY, NOPS
};

enum mode { MODE_BALANCED, MODE_FLOOD, MODE_CONSUME, MODE_CHURN, MODE_BURST, NMODES };

static const unsigned weights[NMODES][NOPS] = {
	/*                attach det look fail rep read size resp flush age poll sleep wake deliv */
	[MODE_BALANCED] = { 4, 2, 1, 2, 40, 14, 2, 16, 4, 4, 1, 2, 1, 1 },
	[MODE_FLOOD] = { 2, 1, 1, 1, 70, 5, 1, 5, 2, 3, 1, 1, 1, 1 },
	[MODE_CONSUME] = { 2, 1, 1, 1, 20, 30, 3, 30, 3, 4, 1, 2, 1, 2 },
	[MODE_CHURN] = { 12, 8, 2, 6, 30, 10, 1, 10, 12, 4, 1, 1, 1, 1 },
	/* reports (many markers) with no drain in between: fills the ring */
	[MODE_BURST] = { 1, 0, 0, 0, 80, 0, 0, 6, 0, 0, 0, 1, 0, 0 },
};

/* Coverage: rare states the run reached, printed per configuration */
struct coverage {
	unsigned long steps, episodes, over_credit, marker_refused, marker_discards;
	unsigned long stale_refused, forged_refused, cookie_reissued, read_no_fit;
	unsigned long revoked_delivered, flush_no_response, aged, notified, nodev;
	unsigned long failed_refused, gen_wraps, multi_page, groups, lapped;
	unsigned long reissue_gap;      /* fewest deliveries between equal cookies seen */
	unsigned long probes, probes_accepted;
};

struct drv {
	const struct model_config *mc;
	struct iopfq_config cfg;
	struct iopfq_geometry geo;
	uint64_t seed, cfg_seed, rng;
	unsigned long step, episode;
	int verbose;

	struct tp_ctx tp;
	struct iopfq *q;
	struct rm *m;
	uint64_t now;

	struct pair live[MAX_LIVE];
	uint32_t nlive;
	uint32_t stale[NSTALE];
	uint32_t nstale;
	unsigned long attach_seq;

	struct cookie_map cmap;
	uint32_t *real_of_model;        /* [model cookie] = real cookie */
	uint32_t rom_cap;

	size_t resp_seen, mresp_seen, aged_seen, maged_seen;
	unsigned long sync_seen;        /* tp.synchronizes before this step */
	int probing;                    /* responses of this step may be probed */
	struct probe probes[MAX_PROBES];
	uint32_t nprobe_real, nprobe_model;
	int sync_rule;                  /* SYNC_* for this step */

	enum mode mode;
	uint32_t hoard;                 /* this episode leaves its oldest groups unanswered */
	char desc[DESC_LEN];
	char history[HISTORY][DESC_LEN];
	struct coverage cov;
};

static uint64_t base_seed;
static unsigned long iters = DEFAULT_ITERS;
static int verbose;

/* ---------------------------------------------------------------------- */
/* randomness                                                              */

#ifdef IOPFQ_MODEL_FUZZ
/*
 * tests/fuzz/fuzz_ops.c: every decision comes from the fuzzer's input, two
 * bytes at a time; when it runs out the episode ends (fuzz_input_done).
 */
static const uint8_t *fuzz_input;
static size_t fuzz_input_len;
static int fuzz_input_done;

static uint64_t rnd(struct drv *t)
{
	uint64_t v;

	(void)t;
	if (fuzz_input_len < 2) {
		fuzz_input_done = 1;
		return 0;
	}
	v = (uint64_t)fuzz_input[0] | (uint64_t)fuzz_input[1] << 8;
	fuzz_input += 2;
	fuzz_input_len -= 2;
	return v;
}
#else
static const int fuzz_input_done;

static uint64_t rnd(struct drv *t)
{
	/* splitmix64 */
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
#endif

static uint32_t below(struct drv *t, uint32_t n)
{
	return n ? (uint32_t)(rnd(t) % n) : 0;
}

static int chance(struct drv *t, unsigned pct)
{
	return below(t, 100) < pct;
}

/* ---------------------------------------------------------------------- */
/* failure reports                                                         */

static void print_history(const struct drv *t)
{
	unsigned long first = t->step >= HISTORY ? t->step - HISTORY + 1 : 0;
	unsigned long s;

	fprintf(stderr, "last steps of episode %lu (oldest first):\n", t->episode);
	for (s = first; s < t->step; s++)
		fprintf(stderr, "  #%lu %s\n", s, t->history[s % HISTORY]);
	fprintf(stderr, "  #%lu %s   <== this step\n", t->step, t->desc);
}

static void print_context(const struct drv *t, const char *what)
{
	fprintf(stderr, "\n==== model_diff %s ====\n", what);
	fprintf(stderr, "config \"%s\", IOPFQ_MODEL_SEED=0x%" PRIx64 " (config seed 0x%" PRIx64
		"), episode %lu, step %lu, ring_start 0x%x\n",
		t->mc->name, t->seed, t->cfg_seed, t->episode, t->step, t->cfg.ring_start);
	fprintf(stderr, "op: %s\n", t->desc);
}

static void print_reproduce(const struct drv *t)
{
#ifdef IOPFQ_MODEL_FUZZ
	(void)t;
	fprintf(stderr, "reproduce: run fuzz_ops on the crash file libFuzzer saved\n");
	return;
#endif
	fprintf(stderr, "reproduce: IOPFQ_MODEL_SEED=0x%" PRIx64 " IOPFQ_MODEL_CONFIG=%zu "
		"IOPFQ_MODEL_ITERS=%lu IOPFQ_MODEL_VERBOSE=1 (2: with the model's counters)\n",
		t->seed, (size_t)(t->mc - configs), iters);
}

/* The test platform aborts on IOPFQ_WARN_ON: say where we were first */
static const struct drv *current_drv;

static void on_abort(int sig)
{
	if (current_drv) {
		print_context(current_drv, "ABORT (IOPFQ_WARN_ON in the real queue?)");
		print_history(current_drv);
		print_reproduce(current_drv);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void mismatch(struct drv *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void mismatch(struct drv *t, const char *fmt, ...)
{
	va_list ap;

	print_context(t, "MISMATCH");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	print_history(t);
	print_reproduce(t);
	current_drv = NULL;
	fail_msg("real queue and reference model differ (see above)");
}

static void expect_int(struct drv *t, const char *what, long long real, long long model)
{
	if (real != model)
		mismatch(t, "%s: real %lld, model %lld", what, real, model);
}

/* Compare a return value, and show it in the step's description */
static void expect_rc(struct drv *t, const char *what, long long real, long long model)
{
	size_t len = strlen(t->desc);

	snprintf(t->desc + len, DESC_LEN - len, " -> %lld", real);
	expect_int(t, what, real, model);
}

/* ---------------------------------------------------------------------- */
/* handle and cookie maps                                                  */

static uint32_t handle_to_model(const struct drv *t, uint32_t real)
{
	uint32_t i;

	for (i = 0; i < t->nlive; i++)
		if (t->live[i].real == real)
			return t->live[i].model;
	return 0;
}

static void cmap_put(struct cookie_map *cm, uint32_t key, uint32_t val);

static size_t cmap_slot(const struct cookie_map *cm, uint32_t key)
{
	size_t i = (size_t)(key * 2654435761u) & (cm->cap - 1);

	while (cm->keys[i] && cm->keys[i] != key)
		i = (i + 1) & (cm->cap - 1);
	return i;
}

static uint32_t cmap_get(const struct cookie_map *cm, uint32_t key)
{
	if (!key || !cm->cap)
		return 0;
	return cm->vals[cmap_slot(cm, key)];
}

static void cmap_grow(struct cookie_map *cm)
{
	struct cookie_map old = *cm;
	size_t i;

	cm->cap = old.cap ? 2 * old.cap : 1024;
	cm->n = 0;
	cm->keys = calloc(cm->cap, sizeof(*cm->keys));
	cm->vals = calloc(cm->cap, sizeof(*cm->vals));
	if (!cm->keys || !cm->vals)
		abort();
	for (i = 0; i < old.cap; i++)
		if (old.keys[i])
			cmap_put(cm, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
}

static void cmap_put(struct cookie_map *cm, uint32_t key, uint32_t val)
{
	size_t i;

	if (2 * (cm->n + 1) > cm->cap)
		cmap_grow(cm);
	i = cmap_slot(cm, key);
	if (!cm->keys[i]) {
		cm->keys[i] = key;
		cm->n++;
	}
	cm->vals[i] = val;
}

static void cmap_free(struct cookie_map *cm)
{
	free(cm->keys);
	free(cm->vals);
	memset(cm, 0, sizeof(*cm));
}

static uint32_t real_of_model(const struct drv *t, uint32_t mc)
{
	return mc < t->rom_cap ? t->real_of_model[mc] : 0;
}

static void set_real_of_model(struct drv *t, uint32_t mc, uint32_t real)
{
	if (mc >= t->rom_cap) {
		uint32_t old = t->rom_cap;

		t->rom_cap = old ? 2 * old : 1024;
		while (t->rom_cap <= mc)
			t->rom_cap *= 2;
		t->real_of_model = realloc(t->real_of_model, t->rom_cap * sizeof(uint32_t));
		if (!t->real_of_model)
			abort();
		memset(t->real_of_model + old, 0, (t->rom_cap - old) * sizeof(uint32_t));
	}
	t->real_of_model[mc] = real;
}

/* ---------------------------------------------------------------------- */
/* printing                                                                */

static void print_rec(const char *side, uint32_t i, const struct iopfq_hwpt_pgfault *r)
{
	fprintf(stderr,
		"  %s[%u] flags 0x%x dev_id %u pasid 0x%x grpid %u perm 0x%x rsv 0x%x "
		"addr 0x%" PRIx64 " length %u cookie 0x%x\n",
		side, i, r->flags, r->dev_id, r->pasid, r->grpid, r->perm, r->__reserved,
		(uint64_t)r->addr, r->length, r->cookie);
}

static void print_resp(const char *side, size_t i, const struct iopfq_response *r)
{
	fprintf(stderr,
		"  %s[%zu] dev_id %u pasid 0x%x grpid %u flags 0x%x code 0x%x npages %u "
		"origin %u dev_ctx %p\n",
		side, i, r->dev_id, r->pasid, r->grpid, r->flags, r->code, r->npages, r->origin,
		r->dev_ctx);
}

static void print_aged(const char *side, size_t i, const struct iopfq_aged *a)
{
	fprintf(stderr,
		"  %s[%zu] dev_id %u pasid 0x%x grpid %u flags 0x%x where %u npages %u "
		"cookie 0x%x age %" PRIu64 "\n",
		side, i, a->dev_id, a->pasid, a->grpid, a->flags, a->where, a->npages, a->cookie,
		(uint64_t)a->age_ns);
}

/* ---------------------------------------------------------------------- */
/* comparisons after every step                                            */

static int resp_cmp(const void *a, const void *b)
{
	const struct iopfq_response *x = a, *y = b;
	const uint32_t kx[] = { x->dev_id, x->flags, x->pasid, x->grpid, x->code, x->npages,
				x->origin };
	const uint32_t ky[] = { y->dev_id, y->flags, y->pasid, y->grpid, y->code, y->npages,
				y->origin };
	size_t i;

	for (i = 0; i < sizeof(kx) / sizeof(kx[0]); i++)
		if (kx[i] != ky[i])
			return kx[i] < ky[i] ? -1 : 1;
	if (x->dev_ctx != y->dev_ctx)
		return (uintptr_t)x->dev_ctx < (uintptr_t)y->dev_ctx ? -1 : 1;
	return 0;
}

static int aged_cmp(const void *a, const void *b)
{
	const struct iopfq_aged *x = a, *y = b;
	const uint64_t kx[] = { x->where, x->dev_id, x->flags, x->pasid, x->grpid, x->cookie,
				x->npages, x->age_ns };
	const uint64_t ky[] = { y->where, y->dev_id, y->flags, y->pasid, y->grpid, y->cookie,
				y->npages, y->age_ns };
	size_t i;

	for (i = 0; i < sizeof(kx) / sizeof(kx[0]); i++)
		if (kx[i] != ky[i])
			return kx[i] < ky[i] ? -1 : 1;
	return 0;
}

static void responses_mismatch(struct drv *t, const char *why, const struct iopfq_response *real,
			       size_t nreal, const struct iopfq_response *model, size_t nmodel)
{
	size_t i;

	fprintf(stderr, "page responses of this step differ (%s)\n", why);
	for (i = 0; i < nreal; i++)
		print_resp("real ", i, &real[i]);
	for (i = 0; i < nmodel; i++)
		print_resp("model", i, &model[i]);
	mismatch(t, "page responses: %s", why);
}

static void check_responses(struct drv *t)
{
	size_t nreal = t->tp.nresp - t->resp_seen;
	size_t nmodel = rm_nresp(t->m) - t->mresp_seen;
	struct iopfq_response *real, *model;
	size_t i, ordered = 0;

	if (!nreal && !nmodel)
		return;
	real = calloc(nreal + 1, sizeof(*real));
	model = calloc(nmodel + 1, sizeof(*model));
	if (!real || !model)
		abort();
	memcpy(real, t->tp.resp + t->resp_seen, nreal * sizeof(*real));
	for (i = 0; i < nmodel; i++) {
		const struct rm_resp *r = rm_resp_at(t->m, t->mresp_seen + i);

		model[i] = r->r;
		/* the model logs user and FIFO-ordered answers before delivered ones */
		if (r->stage != RM_STAGE_DELIVERED)
			ordered = i + 1;
	}
	if (nreal != nmodel)
		responses_mismatch(t, "count", real, nreal, model, nmodel);
	for (i = 0; i < ordered; i++)
		if (resp_cmp(&real[i], &model[i]))
			responses_mismatch(t, "in-order part", real, nreal, model, nmodel);
	qsort(real + ordered, nreal - ordered, sizeof(*real), resp_cmp);
	qsort(model + ordered, nmodel - ordered, sizeof(*model), resp_cmp);
	for (i = ordered; i < nreal; i++)
		if (resp_cmp(&real[i], &model[i]))
			responses_mismatch(t, "delivered groups answered by detach/flush (multiset)",
					   real, nreal, model, nmodel);
	if (nreal > ordered)
		t->cov.revoked_delivered++;
	t->resp_seen = t->tp.nresp;
	t->mresp_seen = rm_nresp(t->m);
	free(real);
	free(model);
}

static void check_aged(struct drv *t)
{
	size_t nreal = t->tp.naged - t->aged_seen;
	size_t nmodel = rm_naged(t->m) - t->maged_seen;
	struct iopfq_aged *real, *model;
	size_t i;

	if (!nreal && !nmodel)
		return;
	real = calloc(nreal + 1, sizeof(*real));
	model = calloc(nmodel + 1, sizeof(*model));
	if (!real || !model)
		abort();
	for (i = 0; i < nreal; i++) {
		real[i] = t->tp.aged[t->aged_seen + i];
		if (real[i].cookie)
			real[i].cookie = cmap_get(&t->cmap, real[i].cookie) ?: 0xffffffffu;
	}
	for (i = 0; i < nmodel; i++)
		model[i] = *rm_aged_at(t->m, t->maged_seen + i);
	qsort(real, nreal, sizeof(*real), aged_cmp);
	qsort(model, nmodel, sizeof(*model), aged_cmp);
	for (i = 0; i < (nreal > nmodel ? nreal : nmodel); i++) {
		if (nreal == nmodel && !aged_cmp(&real[i], &model[i]))
			continue;
		fprintf(stderr, "aged warnings of this step differ (sorted; real cookies mapped "
				"to model cookies, 0xffffffff: unknown)\n");
		for (i = 0; i < nreal; i++)
			print_aged("real ", i, &real[i]);
		for (i = 0; i < nmodel; i++)
			print_aged("model", i, &model[i]);
		mismatch(t, "aged warnings: real %zu, model %zu", nreal, nmodel);
	}
	t->cov.aged += nreal;
	t->aged_seen = t->tp.naged;
	t->maged_seen = rm_naged(t->m);
	free(real);
	free(model);
}

static void check_counters(struct drv *t)
{
	struct iopfq_counters real, model;
	int differ = 0;

	memset(&real, 0, sizeof(real));
	memset(&model, 0, sizeof(model));
	iopfq_counters(t->q, &real);
	rm_counters(t->m, &model);
	/* the model's ring_claim_waits is 0: the real one must be too */
#define X(type, f) differ |= real.f != model.f;
	IOPFQ_COUNTERS(X)
#undef X
	if (differ) {
		fprintf(stderr, "counters (field: real / model):\n");
#define X(type, f)                                                             \
	fprintf(stderr, "  %s%-22s %" PRIu64 " / %" PRIu64 "\n",                \
		real.f != model.f ? "*" : " ", #f, (uint64_t)real.f, (uint64_t)model.f);
		IOPFQ_COUNTERS(X)
#undef X
		mismatch(t, "struct iopfq_counters differ");
	}
	if (!tp_conserved(&real))
		mismatch(t, "tp_conserved() fails on the real counters");
}

static void check_after(struct drv *t)
{
	unsigned long syncs = t->tp.synchronizes - t->sync_seen;
	const char *bad;

	if (t->sync_rule == SYNC_NEVER && syncs)
		mismatch(t, "called the synchronize hook %lu times (only flush and detach wait)",
			 syncs);
	if (t->sync_rule == SYNC_MUST && !syncs)
		mismatch(t, "returned without waiting for reports in flight (synchronize hook)");
	if (t->nprobe_real != t->nprobe_model)
		mismatch(t, "page_response hook: %u calls on the real queue, %u on the model",
			 t->nprobe_real, t->nprobe_model);

	check_responses(t);
	check_aged(t);
	expect_int(t, "notify calls", (long long)t->tp.notifies, (long long)rm_notifies(t->m));
	check_counters(t);
	bad = rm_self_check(t->m);
	if (bad)
		mismatch(t, "reference model broke its own invariant: %s", bad);
}

/* ---------------------------------------------------------------------- */
/* operand generators                                                      */

static struct pair *pick_dev(struct drv *t, uint32_t *real, uint32_t *model,
			     const char **kind)
{
	uint32_t r = below(t, 100), i;

	if (t->nlive && r < 80) {
		i = below(t, t->nlive);
		*real = t->live[i].real;
		*model = t->live[i].model;
		*kind = "live";
		return &t->live[i];
	} else if (t->nstale && r < 90) {
		*real = t->stale[below(t, t->nstale)];
		*kind = "stale";
	} else {
		uint32_t base = t->nlive ? t->live[below(t, t->nlive)].real : below(t, 8);

		*kind = "forged";
		switch (below(t, 6)) {
		case 0:
			*real = 0;
			break;
		case 1:
			*real = (uint32_t)rnd(t);
			break;
		case 2: /* another generation of a live slot */
			*real = base ^ ((1u + below(t, 3)) << 12);
			break;
		case 3: /* slot index beyond max_devices */
			*real = (base & ~0xfffu) | (t->cfg.max_devices + below(t, 4));
			break;
		case 4: /* generation 0 */
			*real = below(t, t->cfg.max_devices);
			break;
		default:
			*real = base + (1u << 12);
			break;
		}
	}
	*model = handle_to_model(t, *real);
	for (i = 0; i < t->nlive; i++)
		if (t->live[i].real == *real)
			return &t->live[i];
	return NULL;
}

static const uint32_t pasids[] = { 1, 2, 1, 2, 0, 7, IOPFQ_PASID_MAX };
static const uint32_t grpids[] = { 0, 1, 2, 0, 1, 3, IOPFQ_GRPID_MAX };

static uint32_t pick_pasid(struct drv *t)
{
	return pasids[below(t, sizeof(pasids) / sizeof(pasids[0]))];
}

static void gen_request(struct drv *t, const struct pair *dev, struct iopfq_request *req)
{
	int pasid_valid = chance(t, 90), last = 0, room = dev ? rm_dev_room(t->m, dev->model) : -1;
	const struct open_group *og = NULL;
	uint32_t r;

	memset(req, 0, sizeof(*req));
	req->flags = pasid_valid ? IOPFQ_PGFAULT_FLAGS_PASID_VALID : 0;
	req->pasid = pasid_valid ? pick_pasid(t) : 0;
	req->grpid = grpids[below(t, sizeof(grpids) / sizeof(grpids[0]))];
	if (dev && dev->nopen) {
		/* a device that honours its credits ends its oldest group with its last one */
		if (room <= 1 && chance(t, 97)) {
			og = &dev->open[0];
			last = 1;
		} else if (chance(t, 65)) {
			og = &dev->open[below(t, dev->nopen)];
		}
		/* out of credits with a group begun: it gives the PASID up (Stop Marker) */
		if (room == 0 && og && og->flags && chance(t, 20)) {
			req->flags = IOPFQ_PGFAULT_FLAGS_LAST_PAGE | IOPFQ_PGFAULT_FLAGS_PASID_VALID;
			req->pasid = og->pasid;
			return;
		}
	} else if (room == 1 && chance(t, 97)) {
		last = 1;
	}
	if (og) {
		/* another page of a group it has begun: multi-page groups */
		req->flags = og->flags;
		req->pasid = og->pasid;
		req->grpid = og->grpid;
	}
	req->addr = chance(t, 50) ? rnd(t) : (uint64_t)below(t, 64) << 12;

	if (chance(t, t->mode == MODE_BURST ? 25 : 6)) {
		/* Stop Marker: LAST_PAGE, neither READ nor WRITE */
		req->flags = IOPFQ_PGFAULT_FLAGS_LAST_PAGE |
			     (chance(t, 95) ? IOPFQ_PGFAULT_FLAGS_PASID_VALID : 0);
		req->pasid = (req->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) ? pick_pasid(t) : 0;
		req->perm = below(t, 4) << 2; /* EXEC, PRIV or neither */
		return;
	}
	if (last || chance(t, 35))
		req->flags |= IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
	req->perm = 1 + below(t, 3); /* READ, WRITE or both */
	req->perm |= below(t, 4) << 2;

	if (!chance(t, 5))
		return;
	r = below(t, 6);
	if (r == 0)
		req->flags |= 1u << (2 + below(t, 30));
	else if (r == 1)
		req->perm |= 1u << (4 + below(t, 28));
	else if (r == 2)
		req->grpid = IOPFQ_GRPID_MAX + 1 + (chance(t, 50) ? below(t, 100) : (uint32_t)rnd(t));
	else if (r == 3)
		req->pasid = (req->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID)
				     ? IOPFQ_PASID_MAX + 1 + below(t, 1000)
				     : 1 + below(t, 5);
	else if (r == 4) { /* a page that asks for neither read nor write */
		req->flags &= ~IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
		req->perm &= ~(IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE);
	} else { /* a Stop Marker without PASID */
		req->flags = IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
		req->pasid = 0;
		req->perm = 0;
	}
}

static uint32_t gen_dev_id(struct drv *t)
{
	return chance(t, 95) ? 100 + below(t, t->cfg.max_devices + 2) : (uint32_t)rnd(t);
}

/* ---------------------------------------------------------------------- */
/* operations                                                              */

static void do_attach(struct drv *t)
{
	uint32_t dev_id = gen_dev_id(t), credits, r = below(t, 100), budget = t->cfg.credit_budget;
	uint32_t real_h = 0x5a5a5a5a, model_h = 0x5a5a5a5a, i;
	int null_handle = chance(t, 3), rc_real, rc_model;
	void *ctx = (void *)(uintptr_t)(0x10000 + 0x40 * ++t->attach_seq);
	struct iopfq_counters c;
	uint32_t room;

	rm_counters(t->m, &c);
	room = budget - c.credits_attached;
	if (r < 4)
		credits = 0;
	else if (r < 60 && room)
		credits = 1 + below(t, room > 1 && chance(t, 50) ? room / 2 : room);
	else if (r < 90)
		credits = 1 + below(t, budget);
	else
		credits = 1 + below(t, budget + 2);
	snprintf(t->desc, DESC_LEN, "attach dev_id %u credits %u ctx %p%s", dev_id, credits, ctx,
		 null_handle ? " handle NULL" : "");
	rc_real = iopfq_dev_attach(t->q, dev_id, credits, ctx, null_handle ? NULL : &real_h);
	rc_model = rm_attach(t->m, dev_id, credits, ctx, null_handle ? NULL : &model_h);
	expect_rc(t, "attach return", rc_real, rc_model);
	if (rc_real)
		return;
	if (real_h == 0)
		mismatch(t, "attach returned handle 0 (never valid)");
	for (i = 0; i < t->nlive; i++)
		if (t->live[i].real == real_h)
			mismatch(t, "attach returned handle 0x%x, already live", real_h);
	for (i = 0; i < t->nstale; i++)
		if (t->stale[i] == real_h)
			mismatch(t, "attach returned handle 0x%x, recently detached", real_h);
	memset(&t->live[t->nlive], 0, sizeof(t->live[0]));
	t->live[t->nlive].real = real_h;
	t->live[t->nlive].model = model_h;
	t->live[t->nlive].dev_ctx = ctx;
	t->nlive++;
	snprintf(t->desc + strlen(t->desc), DESC_LEN - strlen(t->desc), ", handle 0x%x", real_h);
}

static void do_detach(struct drv *t, uint32_t real_h, uint32_t model_h, const char *kind)
{
	uint32_t i;
	int rc_real, rc_model;

	snprintf(t->desc, DESC_LEN, "detach %s handle 0x%x", kind, real_h);
	rc_real = iopfq_dev_detach(t->q, real_h);
	rc_model = rm_detach(t->m, model_h);
	expect_rc(t, "detach return", rc_real, rc_model);
	t->sync_rule = rc_real ? SYNC_MAY : SYNC_MUST;
	if (rc_real)
		return;
	for (i = 0; i < t->nlive; i++) {
		if (t->live[i].real != real_h)
			continue;
		t->live[i] = t->live[--t->nlive];
		break;
	}
	if (t->nstale < NSTALE)
		t->stale[t->nstale++] = real_h;
	else
		t->stale[below(t, NSTALE)] = real_h;
}

static void do_lookup(struct drv *t)
{
	uint32_t dev_id = gen_dev_id(t), real_h = 0, model_h = 0;
	int null_handle = chance(t, 4), rc_real, rc_model;

	snprintf(t->desc, DESC_LEN, "dev_lookup dev_id %u%s", dev_id,
		 null_handle ? " handle NULL" : "");
	rc_real = iopfq_dev_lookup(t->q, dev_id, null_handle ? NULL : &real_h);
	rc_model = rm_dev_lookup(t->m, dev_id, null_handle ? NULL : &model_h);
	expect_rc(t, "dev_lookup return", rc_real, rc_model);
	if (!rc_real && handle_to_model(t, real_h) != model_h)
		mismatch(t, "dev_lookup handle: real 0x%x (model %u), model %u", real_h,
			 handle_to_model(t, real_h), model_h);
}

static void do_failed(struct drv *t, struct pair *heal)
{
	uint32_t real_h, model_h;
	const char *kind = "live";
	int failed = chance(t, 50) ? 0 : 1 + (int)below(t, 2), rc_real, rc_model;
	struct pair *dev;

	if (heal) {
		dev = heal;
		real_h = dev->real;
		model_h = dev->model;
		failed = 0;
	} else {
		dev = pick_dev(t, &real_h, &model_h, &kind);
	}
	snprintf(t->desc, DESC_LEN, "set_failed %s handle 0x%x failed %d", kind, real_h, failed);
	rc_real = iopfq_dev_set_flags(t->q, real_h, (failed ? IOPFQ_DEV_FAILED : 0));
	rc_model = rm_set_failed(t->m, model_h, failed);
	expect_rc(t, "set_failed return", rc_real, rc_model);
	if (dev && !rc_real)
		dev->failed = failed;
}

static int open_same_pasid(const struct open_group *og, uint32_t flags, uint32_t pasid)
{
	return og->flags == (flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) && og->pasid == pasid;
}

static void open_remove(struct pair *dev, uint32_t i)
{
	memmove(&dev->open[i], &dev->open[i + 1], (dev->nopen - i - 1) * sizeof(dev->open[0]));
	dev->nopen--;
}

/* Forget the device's open groups of a PASID (Stop Marker, flush) */
static void forget_open_groups(struct pair *dev, uint32_t flags, uint32_t pasid)
{
	uint32_t i = 0;

	while (i < dev->nopen) {
		if (open_same_pasid(&dev->open[i], flags, pasid))
			open_remove(dev, i);
		else
			i++;
	}
}

/* What the device believes after an accepted report */
static void track_open_groups(struct pair *dev, const struct iopfq_request *req)
{
	uint32_t i;

	if (!(req->perm & (IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE))) {
		forget_open_groups(dev, req->flags, req->pasid);
		return;
	}
	for (i = 0; i < dev->nopen; i++)
		if (open_same_pasid(&dev->open[i], req->flags, req->pasid) &&
		    dev->open[i].grpid == req->grpid)
			break;
	if (req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) {
		if (i < dev->nopen)
			open_remove(dev, i);
		return;
	}
	if (i < dev->nopen)
		return;
	if (dev->nopen == MAX_OPEN)
		open_remove(dev, 0);
	dev->open[dev->nopen].flags = req->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID;
	dev->open[dev->nopen].pasid = req->pasid;
	dev->open[dev->nopen].grpid = req->grpid;
	dev->nopen++;
}

static void do_report(struct drv *t)
{
	struct iopfq_request req;
	uint32_t real_h, model_h, ans_real = 0x12345678, ans_model = 0x12345678;
	const char *kind;
	int null_req = chance(t, 1), null_ans = chance(t, 10), rc_real, rc_model;

	struct pair *dev = pick_dev(t, &real_h, &model_h, &kind);

	gen_request(t, dev, &req);
	if (null_req)
		snprintf(t->desc, DESC_LEN, "report %s handle 0x%x req NULL", kind, real_h);
	else
		snprintf(t->desc, DESC_LEN,
			 "report %s handle 0x%x flags 0x%x pasid 0x%x grpid %u perm 0x%x "
			 "addr 0x%" PRIx64 "%s",
			 kind, real_h, req.flags, req.pasid, req.grpid, req.perm, req.addr,
			 null_ans ? " answer NULL" : "");
	rc_real = tp_report(t->q, real_h, null_req ? NULL : &req, null_ans ? NULL : &ans_real);
	rc_model = rm_report(t->m, model_h, null_req ? NULL : &req, null_ans ? NULL : &ans_model);
	expect_rc(t, "report return", rc_real, rc_model);
	expect_int(t, "report *answer", ans_real, ans_model);
	if (dev && rc_real == 0)
		track_open_groups(dev, &req);
	if (rc_real == -IOPFQ_EDQUOT) {
		if (req.perm & (IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE))
			t->cov.over_credit++;
		else
			t->cov.marker_refused++;
	}
	if (rc_real == -IOPFQ_ENODEV)
		t->cov.nodev++;
	if (rc_real == -IOPFQ_EIO)
		t->cov.failed_refused++;
}

static void records_mismatch(struct drv *t, const char *why, const struct iopfq_hwpt_pgfault *real,
			     const struct iopfq_hwpt_pgfault *model, uint32_t n)
{
	uint32_t i;

	fprintf(stderr, "records read differ (%s):\n", why);
	for (i = 0; i < n; i++) {
		print_rec("real ", i, &real[i]);
		print_rec("model", i, &model[i]);
	}
	mismatch(t, "read records: %s", why);
}

/* Is a group delivered cookie_slots or more deliveries ago still live? */
static int lapped_live_group(struct drv *t, uint32_t model_cookie)
{
	uint32_t live[1024], n = rm_live_cookies(t->m, live, 1024), i;

	for (i = 0; i < n && i < 1024; i++)
		if (live[i] + t->geo.cookie_slots <= model_cookie)
			return 1;
	return 0;
}

/*
 * Both sides delivered a group: real cookie @rc, model cookie @mc (model
 * cookies count deliveries). A cookie value may come back only when the
 * group it named is gone, and, with FIFO reuse of response slots, not before
 * its slot has been issued gen_max more times: between two issues of a slot
 * the cursor passes every other slot, and skips only slots busy since before
 * (at most budget - 1 of them), so the same value is at least
 * gen_max * (cookie_slots - budget + 1) deliveries apart.
 */
static void map_cookie(struct drv *t, uint32_t rc, uint32_t mc,
		       const struct iopfq_hwpt_pgfault *real, const struct iopfq_hwpt_pgfault *model,
		       uint32_t n)
{
	uint32_t prev = cmap_get(&t->cmap, rc);
	uint64_t gen_max = (1ull << t->geo.cookie_gen_bits) - 1;
	uint64_t min_gap = gen_max * (t->geo.cookie_slots - t->cfg.credit_budget + 1);

	if (prev && rm_cookie_live(t->m, prev))
		records_mismatch(t, "real cookie handed out while still live", real, model, n);
	if (prev && mc - prev < min_gap) {
		fprintf(stderr, "cookie 0x%x: model cookies %u and %u, %u deliveries apart\n", rc,
			prev, mc, mc - prev);
		records_mismatch(t, "real cookie value reissued too soon (FIFO slot reuse)", real,
				 model, n);
	}
	if (prev) {
		if (!t->cov.reissue_gap || mc - prev < t->cov.reissue_gap)
			t->cov.reissue_gap = mc - prev;
		t->cov.cookie_reissued++;
		if (rc >> t->geo.cookie_index_bits == 1)
			t->cov.gen_wraps++;
	}
	cmap_put(&t->cmap, rc, mc);
	set_real_of_model(t, mc, rc);
	if (lapped_live_group(t, mc))
		t->cov.lapped++;
}

static void do_read(struct drv *t)
{
	uint32_t max, i, alloc, budget = t->cfg.credit_budget;
	struct iopfq_hwpt_pgfault *real, *model;
	int null_recs = 0, rc_real, rc_model;
	uint32_t r = below(t, 100);
	unsigned char poison[sizeof(*real)];

	if (r < 4) {
		null_recs = 1;
		max = 0;
	} else if (r < 6) {
		null_recs = 1;
		max = 1 + below(t, 4);
	} else if (r < 14) {
		max = 64;
	} else if (r < 40) {
		max = 1 + below(t, 2);
	} else {
		max = below(t, budget + 3);
	}
	alloc = max + 4;
	real = malloc(alloc * sizeof(*real));
	model = malloc(alloc * sizeof(*model));
	if (!real || !model)
		abort();
	memset(real, REC_POISON, alloc * sizeof(*real));
	memset(model, REC_POISON, alloc * sizeof(*model));
	memset(poison, REC_POISON, sizeof(poison));
	snprintf(t->desc, DESC_LEN, "read max %u%s", max, null_recs ? " recs NULL" : "");

	rc_real = iopfq_read(t->q, null_recs ? NULL : real, max);
	rc_model = rm_read(t->m, null_recs ? NULL : model, max);
	if (rc_model == 0 && !null_recs && max && rm_next_group_size(t->m))
		t->cov.read_no_fit++;
	expect_rc(t, "read return", rc_real, rc_model);

	for (i = rc_real > 0 ? (uint32_t)rc_real : 0; i < alloc; i++)
		if (memcmp(&real[i], poison, sizeof(poison)))
			mismatch(t, "read returned %d but wrote record %u (buffer of %u)", rc_real,
				 i, max);
	for (i = 0; rc_real > 0 && i < (uint32_t)rc_real; i++) {
		const struct iopfq_hwpt_pgfault *a = &real[i], *b = &model[i];

		if (a->flags != b->flags || a->dev_id != b->dev_id || a->pasid != b->pasid ||
		    a->grpid != b->grpid || a->perm != b->perm || a->__reserved != b->__reserved ||
		    a->addr != b->addr || a->length != b->length)
			records_mismatch(t, "fields", real, model, (uint32_t)rc_real);
		if (!a->cookie)
			records_mismatch(t, "cookie 0", real, model, (uint32_t)rc_real);
		if (i && (a->cookie == real[i - 1].cookie) != (b->cookie == model[i - 1].cookie))
			records_mismatch(t, "group boundaries (cookie changes)", real, model,
					 (uint32_t)rc_real);
		if (i && b->cookie == model[i - 1].cookie) {
			if (i == 1 || b->cookie != model[i - 2].cookie)
				t->cov.multi_page++;
			continue;
		}
		/* first record of a group: map its real cookie to the model's */
		map_cookie(t, a->cookie, b->cookie, real, model, (uint32_t)rc_real);
	}
	free(real);
	free(model);
}

static void do_next_size(struct drv *t)
{
	uint32_t real, model;

	snprintf(t->desc, DESC_LEN, "next_group_size");
	real = iopfq_next_group_size(t->q);
	model = rm_next_group_size(t->m);
	expect_rc(t, "next_group_size", real, model);
}

/*
 * How many of the @nlive live cookies (newest first) the VMM answers. An
 * episode that hoards leaves its oldest groups unanswered, so that they stay
 * busy while the cookie cursor laps them, unless every device is out of
 * credits.
 */
static uint32_t hoard_pool(struct drv *t, uint32_t nlive)
{
	uint32_t i;

	if (nlive > t->hoard)
		return nlive - t->hoard;
	for (i = 0; i < t->nlive; i++)
		if (rm_dev_room(t->m, t->live[i].model) > 0)
			return 0;
	return nlive;
}

/* One answer's cookie: live, stale or forged, as the real queue sees it */
static uint32_t gen_cookie(struct drv *t, const char **kind)
{
	uint32_t live[1024], nlive = rm_live_cookies(t->m, live, 1024), last = rm_last_cookie(t->m);
	uint32_t r = below(t, 100), ib = t->geo.cookie_index_bits, gen_max, base, mc;

	if (nlive > 1024)
		nlive = 1024;
	gen_max = t->geo.cookie_gen_bits >= 32 ? 0xffffffffu : (1u << t->geo.cookie_gen_bits) - 1;
	if (nlive && r < 62 && hoard_pool(t, nlive)) {
		uint32_t pool = hoard_pool(t, nlive);

		*kind = "live";
		return real_of_model(t, live[below(t, pool)]);
	}
	if (last && r < 80) {
		/* an answered or revoked group's cookie (or, by chance, a live one) */
		mc = 1 + below(t, last);
		if (rm_cookie_live(t->m, mc))
			mc = 1 + below(t, last);
		*kind = rm_cookie_live(t->m, mc) ? "live" : "old";
		return real_of_model(t, mc);
	}
	*kind = "forged";
	base = nlive ? real_of_model(t, live[below(t, nlive)]) : (uint32_t)rnd(t);
	switch (below(t, 7)) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)rnd(t);
	case 2: /* anything a small table could have issued */
		return below(t, (gen_max + 1 > 8 ? 8 : gen_max + 1) << ib);
	case 3: /* same slot, next generation */
		return base + (1u << ib);
	case 4: /* same generation, another slot */
		return base ^ (1u + below(t, (1u << ib) - 1 ? (1u << ib) - 1 : 1));
	case 5: /* generation 0 */
		return base & ((1u << ib) - 1);
	default: /* generation beyond the configured bits */
		return ib + t->geo.cookie_gen_bits < 32
			       ? base | (1u << (ib + t->geo.cookie_gen_bits + below(t, 32 - ib - t->geo.cookie_gen_bits)))
			       : base ^ 0x80000000u;
	}
}

/* ops->page_response of the real queue (through the test platform) */
static void real_response_hook(void *arg, const struct iopfq_response *r)
{
	struct drv *t = arg;
	struct probe *p;
	uint32_t i;

	if (!t->probing || t->nprobe_real >= MAX_PROBES)
		return;
	p = &t->probes[t->nprobe_real++];
	memset(p, 0, sizeof(*p));
	for (i = 0; i < t->nlive; i++)
		if (t->live[i].dev_ctx == r->dev_ctx)
			break;
	if (i == t->nlive || !chance(t, 60))
		return;
	/* the device reissues at once: a one-page group of the answered PASID */
	p->made = 1;
	p->real_h = t->live[i].real;
	p->model_h = t->live[i].model;
	p->req.flags = (r->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) | IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
	p->req.pasid = r->pasid;
	p->req.grpid = r->grpid;
	p->req.perm = IOPFQ_PGFAULT_PERM_READ;
	p->req.addr = (uint64_t)below(t, 64) << 12;
	p->answer = 0x12345678;
	p->rc = tp_report(t->q, p->real_h, &p->req, &p->answer);
}

/* The model's counterpart, called at the same point of its answer */
static void model_response_hook(void *arg, const struct rm_resp *r)
{
	struct drv *t = arg;
	struct probe *p;
	uint32_t answer = 0x12345678;
	int rc;

	(void)r;
	if (!t->probing || t->nprobe_model >= MAX_PROBES)
		return;
	p = &t->probes[t->nprobe_model++];
	if (t->nprobe_model > t->nprobe_real || !p->made)
		return;
	rc = rm_report(t->m, p->model_h, &p->req, &answer);
	t->cov.probes++;
	if (!rc)
		t->cov.probes_accepted++;
	if (rc != p->rc || answer != p->answer)
		mismatch(t, "report from the page_response hook (response %u of the step; "
			    "credits must be back): real %d answer 0x%x, model %d answer 0x%x",
			 t->nprobe_model - 1, p->rc, p->answer, rc, answer);
}

static void do_respond(struct drv *t)
{
	struct iopfq_hwpt_page_response real[8], model[8];
	uint32_t live[1024], nlive = rm_live_cookies(t->m, live, 1024), pool;
	uint32_t n = below(t, 6), i, r = below(t, 100);
	int null_resp = r < 4, clean, rc_real, rc_model;
	const char *kinds[8];
	size_t len;

	if (r < 2)
		n = 0;
	else if (r < 4 && n == 0)
		n = 1;
	pool = hoard_pool(t, nlive);
	if (pool > 1024)
		pool = 1024;
	/* what a well-behaved VMM writes: distinct live cookies, valid codes */
	clean = !null_resp && pool && chance(t, 45);
	if (clean && n > pool)
		n = pool;
	snprintf(t->desc, DESC_LEN, "respond n %u%s", n,
		 null_resp ? " resp NULL" : clean ? " (clean):" : ":");
	for (i = 0; i < n && !null_resp; i++) {
		uint32_t c = below(t, 100);

		if (clean) {
			uint32_t k = i + below(t, pool - i), tmp = live[k];

			live[k] = live[i];
			live[i] = tmp;
			real[i].cookie = real_of_model(t, tmp);
			kinds[i] = "live";
			c %= 90;
		} else {
			real[i].cookie = gen_cookie(t, &kinds[i]);
		}
		real[i].code = c < 50   ? IOPFQ_PAGE_RESP_SUCCESS
			       : c < 90 ? IOPFQ_PAGE_RESP_INVALID
			       : c < 95 ? IOPFQ_HW_FAILURE
			       : c < 97 ? 2u
					: (uint32_t)rnd(t);
		model[i].cookie = cmap_get(&t->cmap, real[i].cookie);
		model[i].code = real[i].code;
		len = strlen(t->desc);
		snprintf(t->desc + len, DESC_LEN - len, " %s 0x%x/%u", kinds[i], real[i].cookie,
			 real[i].code);
	}
	t->probing = chance(t, 50);
	rc_real = iopfq_respond(t->q, null_resp ? NULL : real, n);
	rc_model = rm_respond(t->m, null_resp ? NULL : model, n);
	t->probing = 0;
	expect_rc(t, "respond return", rc_real, rc_model);
	if (!null_resp && rc_real >= 0 && (uint32_t)rc_real < n) {
		if (!strcmp(kinds[rc_real], "old"))
			t->cov.stale_refused++;
		else if (!strcmp(kinds[rc_real], "forged"))
			t->cov.forged_refused++;
	} else if (!null_resp && n && rc_real < 0) {
		if (!strcmp(kinds[0], "old"))
			t->cov.stale_refused++;
		else if (!strcmp(kinds[0], "forged"))
			t->cov.forged_refused++;
	}
}

static void do_flush(struct drv *t)
{
	uint32_t real_h, model_h, pasid, flags, r = below(t, 100);
	const char *kind;
	int pasid_valid, rc_real, rc_model;
	struct pair *dev = pick_dev(t, &real_h, &model_h, &kind);

	pasid_valid = r < 85 ? 1 : r < 96 ? 0 : 2 + (int)below(t, 5);
	pasid = pasid_valid ? pick_pasid(t) : 0;
	if (chance(t, 4))
		pasid = pasid_valid ? IOPFQ_PASID_MAX + 1 + below(t, 100) : 1 + below(t, 3);
	r = below(t, 100);
	/* an unknown flag: any bit but NO_RESPONSE and PASID_VALID (bits 0 and 1) */
	flags = r < 50 ? 0 : r < 95 ? IOPFQ_FLUSH_NO_RESPONSE : 1u << (2 + below(t, 30));
	if (r >= 97)
		flags |= IOPFQ_FLUSH_NO_RESPONSE;
	snprintf(t->desc, DESC_LEN, "flush %s handle 0x%x pasid_valid %d pasid 0x%x flags 0x%x",
		 kind, real_h, pasid_valid, pasid, flags);
	rc_real = iopfq_flush(t->q, real_h, pasid, (pasid_valid ? IOPFQ_FLUSH_PASID_VALID : 0) | flags);
	rc_model = rm_flush(t->m, model_h, pasid_valid, pasid, flags);
	expect_rc(t, "flush return", rc_real, rc_model);
	t->sync_rule = rc_real ? SYNC_MAY : SYNC_MUST;
	if (dev && !rc_real)
		forget_open_groups(dev, pasid_valid ? IOPFQ_PGFAULT_FLAGS_PASID_VALID : 0, pasid);
	if (!rc_real && flags == IOPFQ_FLUSH_NO_RESPONSE)
		t->cov.flush_no_response++;
}

static void do_age(struct drv *t)
{
	static const uint64_t thresholds[] = { 0, 1, 200, 2000, 20000, 200000, UINT64_MAX };
	uint64_t threshold = thresholds[below(t, sizeof(thresholds) / sizeof(thresholds[0]))];
	uint32_t real, model;

	snprintf(t->desc, DESC_LEN, "age_scan threshold %" PRIu64 " (now %" PRIu64 ")", threshold,
		 t->now);
	real = iopfq_age_scan(t->q, threshold);
	model = rm_age_scan(t->m, threshold);
	expect_rc(t, "age_scan return", real, model);
}

static void do_poll(struct drv *t)
{
	snprintf(t->desc, DESC_LEN, "poll_ready");
	expect_rc(t, "poll_ready", iopfq_poll_ready(t->q), rm_poll_ready(t->m));
}

static void do_sleep(struct drv *t)
{
	int real, model;

	snprintf(t->desc, DESC_LEN, "prepare_sleep");
	real = iopfq_prepare_sleep(t->q);
	model = rm_prepare_sleep(t->m);
	expect_rc(t, "prepare_sleep", real, model);
}

/* a delivery policy, now and then an unknown one (-EINVAL, nothing changes) */
static void do_delivery(struct drv *t)
{
	static const uint32_t bad[] = { 2, 3, 0x80000000u, 0xffffffffu };
	uint32_t policy = chance(t, 20) ? bad[below(t, 4)] : below(t, 2);

	snprintf(t->desc, DESC_LEN, "set_delivery %u", policy);
	expect_rc(t, "set_delivery", iopfq_set_delivery(t->q, policy), rm_set_delivery(t->m, policy));
}

static void do_wake(struct drv *t)
{
	snprintf(t->desc, DESC_LEN, "finish_sleep");
	iopfq_finish_sleep(t->q);
	rm_finish_sleep(t->m);
}

/* ---------------------------------------------------------------------- */
/* steps and episodes                                                      */

static void begin_step(struct drv *t)
{
	t->desc[0] = 0;
	t->probing = 0;
	t->nprobe_real = t->nprobe_model = 0;
	t->sync_seen = t->tp.synchronizes;
	t->sync_rule = SYNC_NEVER;
}

static void end_step(struct drv *t)
{
	snprintf(t->history[t->step % HISTORY], DESC_LEN, "%s", t->desc);
	check_after(t);
	if (t->verbose)
		fprintf(stderr, "#%lu.%lu %s\n", t->episode, t->step, t->desc);
	if (t->verbose > 1) {
		struct iopfq_counters c;

		rm_counters(t->m, &c);
		fprintf(stderr, "     mode %d devices %u credits %u: in_ring %" PRIu64
			" partial %" PRIu64 " ready %" PRIu64 " delivered %" PRIu64 "\n",
			t->mode, c.devices_attached, c.credits_attached, c.in_ring, c.partial,
			c.ready, c.delivered);
	}
	t->cov.steps++;
	t->step++;
}

static void advance_clock(struct drv *t)
{
	uint32_t r = below(t, 100);

	if (r < 55)
		return;
	t->now += r < 95 ? 1 + below(t, 300) : 1000 + below(t, 100000);
	tp_set_now(&t->tp, t->now);
	rm_set_now(t->m, t->now);
}

static void random_step(struct drv *t)
{
	unsigned total = 0, pick, op;
	uint32_t real_h, model_h;
	const char *kind;

	if (chance(t, 1))
		t->mode = (enum mode)below(t, NMODES);
	advance_clock(t);
	for (op = 0; op < NOPS; op++)
		total += weights[t->mode][op];
	pick = below(t, total);
	for (op = 0; pick >= weights[t->mode][op]; op++)
		pick -= weights[t->mode][op];
	/* no device for long is a waste of steps: bring one in */
	if (!t->nlive && chance(t, 30))
		op = OP_ATTACH;
	if (op == OP_DETACH && t->nlive == 1 && chance(t, 50))
		op = OP_REPORT;
	/* PRI comes back: a failed device does not stay failed for long */
	if (t->nlive && chance(t, 3)) {
		struct pair *dev = &t->live[below(t, t->nlive)];

		if (dev->failed) {
			begin_step(t);
			do_failed(t, dev);
			end_step(t);
			return;
		}
	}

	begin_step(t);
	switch (op) {
	case OP_ATTACH:
		do_attach(t);
		break;
	case OP_DETACH:
		pick_dev(t, &real_h, &model_h, &kind);
		do_detach(t, real_h, model_h, kind);
		break;
	case OP_LOOKUP:
		do_lookup(t);
		break;
	case OP_FAILED:
		do_failed(t, NULL);
		break;
	case OP_REPORT:
		do_report(t);
		break;
	case OP_READ:
		do_read(t);
		break;
	case OP_NEXT_SIZE:
		do_next_size(t);
		break;
	case OP_RESPOND:
		do_respond(t);
		break;
	case OP_FLUSH:
		do_flush(t);
		break;
	case OP_AGE:
		do_age(t);
		break;
	case OP_POLL:
		do_poll(t);
		break;
	case OP_SLEEP:
		do_sleep(t);
		break;
	case OP_DELIVERY:
		do_delivery(t);
		break;
	default:
		do_wake(t);
		break;
	}
	end_step(t);
}

static void episode(struct drv *t, unsigned long steps)
{
	struct iopfq_counters c;
	unsigned long s;
	int err = 0;
	uint32_t r = below(t, 3);

	t->cfg = t->mc->cfg;
	assert_true(t->cfg.max_devices <= MAX_LIVE);
	t->cfg.ring_start = r == 0 ? 0 : r == 1 ? 0xffffffffu - below(t, 40) : (uint32_t)rnd(t);
	t->cfg.delivery = below(t, 2);
	assert_int_equal(iopfq_config_geometry(&t->cfg, &t->geo), 0);
	tp_init(&t->tp);
	t->q = tp_queue_new(&t->cfg, &t->tp, &err);
	if (!t->q)
		fail_msg("tp_queue_new: %d", err);
	t->tp.on_response = real_response_hook;
	t->tp.on_response_arg = t;
	t->m = rm_new(&t->cfg);
	rm_set_response_hook(t->m, model_response_hook, t);
	t->now = 1000000;
	tp_set_now(&t->tp, t->now);
	rm_set_now(t->m, t->now);
	t->nlive = t->nstale = 0;
	t->resp_seen = t->mresp_seen = t->aged_seen = t->maged_seen = 0;
	t->step = 0;
	t->mode = (enum mode)below(t, NMODES);
	t->hoard = chance(t, 30) ? 1 + below(t, 4) : 0;
	memset(&t->cmap, 0, sizeof(t->cmap));
	free(t->real_of_model);
	t->real_of_model = NULL;
	t->rom_cap = 0;

	for (s = 0; s < steps && !fuzz_input_done; s++)
		random_step(t);

	/* the end of an episode: every device leaves, nothing may remain */
	while (t->nlive) {
		begin_step(t);
		do_detach(t, t->live[0].real, t->live[0].model, "final");
		end_step(t);
	}
	iopfq_counters(t->q, &c);
	if (c.in_ring || c.partial || c.ready || c.delivered || c.credits_attached ||
	    c.devices_attached)
		mismatch(t, "queue not empty after every device detached");

	t->cov.notified += t->tp.notifies;
	t->cov.marker_discards += c.discarded_by_marker;
	t->cov.groups += c.groups_delivered;
	t->cov.episodes++;
	rm_free(t->m);
	t->m = NULL;
	tp_queue_free(t->q);
	t->q = NULL;
	tp_destroy(&t->tp);
	cmap_free(&t->cmap);
}

/* ---------------------------------------------------------------------- */
/* cmocka                                                                  */


#ifndef IOPFQ_MODEL_FUZZ
static void test_config(void **state)
{
	const struct model_config *mc = *state;
	size_t idx = (size_t)(mc - configs);
	const char *only = getenv("IOPFQ_MODEL_CONFIG");
	unsigned long done = 0;
	struct drv *t;

	if (only && *only && strtoul(only, NULL, 0) != idx)
		skip();
	t = calloc(1, sizeof(*t));
	if (!t)
		abort();
	t->mc = mc;
	t->seed = base_seed;
	t->cfg_seed = base_seed ^ (0xd1b54a32d192ed03ull * (idx + 1));
	t->rng = t->cfg_seed;
	t->verbose = verbose;
	current_drv = t;

	while (done < iters) {
		unsigned long len = chance(t, 10) ? 10000 + below(t, 40000) : 50 + below(t, 4000);

		if (len > iters - done)
			len = iters - done;
		episode(t, len);
		t->episode++;
		done += len;
	}
	printf("model_diff: config %zu \"%s\": %lu steps in %lu episodes, reached:\n"
	       "  groups read %lu (multi-page %lu), read did not fit %lu, over-credit %lu,\n"
	       "  markers refused %lu, pages discarded by markers %lu, nodev %lu, failed %lu,\n"
	       "  stale answers refused %lu, forged answers refused %lu, delivered groups\n"
	       "  revoked %lu, flush no-response %lu, aged warnings %lu, notify %lu,\n"
	       "  cookie values reissued %lu (generation wraps %lu, closest %lu deliveries\n"
	       "  apart), cookie cursor lapped a live group %lu, reports from the\n"
	       "  page_response hook %lu (accepted %lu)\n",
	       idx, mc->name, t->cov.steps, t->cov.episodes, t->cov.groups, t->cov.multi_page,
	       t->cov.read_no_fit, t->cov.over_credit, t->cov.marker_refused,
	       t->cov.marker_discards, t->cov.nodev, t->cov.failed_refused, t->cov.stale_refused,
	       t->cov.forged_refused, t->cov.revoked_delivered, t->cov.flush_no_response,
	       t->cov.aged, t->cov.notified, t->cov.cookie_reissued, t->cov.gen_wraps,
	       t->cov.reissue_gap, t->cov.lapped, t->cov.probes, t->cov.probes_accepted);
	free(t->real_of_model);
	current_drv = NULL;
	free(t);
}

int main(void)
{
	struct CMUnitTest tests[NCONFIGS];
	const char *env;
	char *names[NCONFIGS];
	size_t i;
	int rc;

	env = getenv("IOPFQ_MODEL_SEED");
	if (env && *env) {
		base_seed = strtoull(env, NULL, 0);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		base_seed = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^
			    ((uint64_t)getpid() << 40);
	}
	env = getenv("IOPFQ_MODEL_ITERS");
	if (env && *env)
		iters = strtoul(env, NULL, 0);
	env = getenv("IOPFQ_MODEL_VERBOSE");
	verbose = env && *env ? atoi(env) : 0;
	printf("model_diff: IOPFQ_MODEL_SEED=0x%" PRIx64 " IOPFQ_MODEL_ITERS=%lu "
	       "(steps per configuration)\n",
	       base_seed, iters);
	fflush(stdout);

	signal(SIGABRT, on_abort);
	tp_thread_online();
	for (i = 0; i < NCONFIGS; i++) {
		names[i] = malloc(96);
		if (!names[i])
			abort();
		snprintf(names[i], 96, "config_%zu", i);
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = names[i];
		tests[i].test_func = test_config;
		tests[i].initial_state = (void *)&configs[i];
	}
	rc = _cmocka_run_group_tests("model_diff", tests, NCONFIGS, NULL, NULL);
	tp_thread_offline();
	for (i = 0; i < NCONFIGS; i++)
		free(names[i]);
	if (rc)
		printf("model_diff: FAILED; reproduce with IOPFQ_MODEL_SEED=0x%" PRIx64 "\n",
		       base_seed);
	return rc;
}
#endif /* !IOPFQ_MODEL_FUZZ */
