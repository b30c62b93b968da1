// SPDX-License-Identifier: MIT
/*
 * micro.cc - Google Benchmark micro-benchmarks of the core's C API, called
 * directly (no wrapper layer), single thread, warm caches:
 *
 *   BM_ReportReadRespond/G   one group of G pages: G reports, one read, one
 *                            answer (the whole fault path without a second CPU)
 *   BM_Report                one report (the ring is drained untimed per batch)
 *   BM_Assemble/G            the drain that assembles a group of G pages
 *                            (measured by iopfq_next_group_size after G reports)
 *   BM_ReadBatch/N           one iopfq_read of N queued single-page groups
 *   BM_RespondBatch/N        one iopfq_respond of N answers (cookie claims)
 *   BM_DetachWithOutstanding/B   one iopfq_dev_detach of a device with 16
 *                            delivered, unanswered groups, in a queue whose
 *                            credit budget is B (response table 2B slots),
 *                            while another device holds 64 live cookies
 *   BM_FlushPasidWithOutstanding/B   one iopfq_flush of one PASID (8 of the
 *                            device's 16 delivered groups), same queue
 *
 * Time per iteration is per call as named; items_per_second counts pages.
 * The detach and flush benchmarks time the call alone (manual time) and use
 * a synchronize hook that returns at once: no report is in flight, and the
 * grace period is not what they measure.
 */
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <urcu/urcu-memb.h>

extern "C" {
#include <iopfq/iopfq.h>
void iopfq_platform_warn(const char *file, int line, const char *cond);
}

void iopfq_platform_warn(const char *file, int line, const char *cond)
{
	std::fprintf(stderr, "iopfq: invariant broken at %s:%d: %s\n", file, line, cond);
}

namespace {

void on_response(void *, const struct iopfq_response *) {}
void on_sync(void *) { urcu_memb_synchronize_rcu(); }
void on_sync_none(void *) {}
void on_notify(void *) {}
iopfq_u64 on_now(void *) { return 0; }
void on_aged(void *, const struct iopfq_aged *) {}

struct Queue {
	void *mem = nullptr;
	struct iopfq *q = nullptr;
	iopfq_dev_t dev = 0;
	uint32_t grp = 0;

	explicit Queue(uint32_t credits, uint32_t budget = 0, void (*sync)(void *) = on_sync)
	{
		struct iopfq_config cfg = {};
		struct iopfq_ops ops = {};

		ops.page_response = on_response;
		ops.synchronize = sync;
		ops.notify = on_notify;
		ops.now_ns = on_now;
		ops.aged = on_aged;
		/* room for the victim's attaches: a device slot retires after 2^20 */
		cfg.max_devices = budget ? 64 : 1;
		cfg.credit_budget = budget ? budget : credits;
		size_t size = iopfq_memsize(&cfg);
		if (posix_memalign(&mem, IOPFQ_MEM_ALIGN, size))
			std::abort();
		if (iopfq_init(mem, size, &cfg, &ops, nullptr, &q) ||
		    iopfq_dev_attach(q, 1, credits, nullptr, &dev))
			std::abort();
	}
	~Queue() { std::free(mem); }

	void report_group(uint32_t pages, uint32_t pasid = 1) { report_group_of(dev, pages, pasid); }

	void report_group_of(iopfq_dev_t d, uint32_t pages, uint32_t pasid)
	{
		for (uint32_t i = 0; i < pages; i++) {
			struct iopfq_request req = {};

			req.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID |
				    (i + 1 == pages ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0);
			req.pasid = pasid;
			req.grpid = grp;
			req.perm = IOPFQ_PGFAULT_PERM_READ;
			req.addr = (uint64_t)i << 12;
			if (iopfq_report(q, d, &req, nullptr))
				std::abort();
		}
		grp = (grp + 1) & 511;
	}

	/* read and answer everything */
	void drain_all()
	{
		struct iopfq_hwpt_pgfault recs[256];
		struct iopfq_hwpt_page_response resp[256];
		int n;

		while ((n = iopfq_read(q, recs, 256)) > 0) {
			int k = 0;

			for (int i = 0; i < n; i++)
				if (recs[i].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE)
					resp[k++] = { recs[i].cookie, IOPFQ_PAGE_RESP_SUCCESS };
			if (iopfq_respond(q, resp, (uint32_t)k) != k)
				std::abort();
		}
	}
};

void BM_ReportReadRespond(benchmark::State &state)
{
	uint32_t g = (uint32_t)state.range(0);
	Queue qu(64);
	struct iopfq_hwpt_pgfault recs[64];
	struct iopfq_hwpt_page_response resp;

	for (auto _ : state) {
		qu.report_group(g);
		int n = iopfq_read(qu.q, recs, 64);
		benchmark::DoNotOptimize(n);
		resp.cookie = recs[0].cookie;
		resp.code = IOPFQ_PAGE_RESP_SUCCESS;
		if (iopfq_respond(qu.q, &resp, 1) != 1)
			std::abort();
	}
	state.SetItemsProcessed((int64_t)state.iterations() * g);
}
BENCHMARK(BM_ReportReadRespond)->Arg(1)->Arg(4)->Arg(16);

void BM_Report(benchmark::State &state)
{
	const uint32_t batch = 256;
	Queue qu(batch);
	uint32_t in_batch = 0;

	for (auto _ : state) {
		qu.report_group(1);
		if (++in_batch == batch) {
			state.PauseTiming();
			qu.drain_all();
			in_batch = 0;
			state.ResumeTiming();
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}
BENCHMARK(BM_Report);

void BM_Assemble(benchmark::State &state)
{
	uint32_t g = (uint32_t)state.range(0), groups = 256 / g, done = 0;
	Queue qu(256);

	for (auto _ : state) {
		state.PauseTiming();
		if (done == groups) {
			qu.drain_all();
			done = 0;
		}
		qu.report_group(g);
		state.ResumeTiming();
		benchmark::DoNotOptimize(iopfq_next_group_size(qu.q)); /* drains: assembles the group */
		done++;
	}
	state.SetItemsProcessed((int64_t)state.iterations() * g);
}
BENCHMARK(BM_Assemble)->Arg(1)->Arg(4)->Arg(16);

void BM_ReadBatch(benchmark::State &state)
{
	uint32_t n = (uint32_t)state.range(0);
	Queue qu(256);
	std::vector<struct iopfq_hwpt_pgfault> recs(n);
	std::vector<struct iopfq_hwpt_page_response> resp(n);

	for (auto _ : state) {
		state.PauseTiming();
		for (uint32_t i = 0; i < n; i++)
			qu.report_group(1);
		(void)iopfq_next_group_size(qu.q); /* assemble untimed: read cost only */
		state.ResumeTiming();
		int got = iopfq_read(qu.q, recs.data(), n);
		state.PauseTiming();
		for (int i = 0; i < got; i++)
			resp[i] = { recs[i].cookie, IOPFQ_PAGE_RESP_SUCCESS };
		if (iopfq_respond(qu.q, resp.data(), (uint32_t)got) != got)
			std::abort();
		state.ResumeTiming();
	}
	state.SetItemsProcessed((int64_t)state.iterations() * n);
}
BENCHMARK(BM_ReadBatch)->Arg(1)->Arg(16)->Arg(64)->Arg(256);

void BM_RespondBatch(benchmark::State &state)
{
	uint32_t n = (uint32_t)state.range(0);
	Queue qu(256);
	std::vector<struct iopfq_hwpt_pgfault> recs(n);
	std::vector<struct iopfq_hwpt_page_response> resp(n);

	for (auto _ : state) {
		state.PauseTiming();
		for (uint32_t i = 0; i < n; i++)
			qu.report_group(1);
		int got = iopfq_read(qu.q, recs.data(), n);
		for (int i = 0; i < got; i++)
			resp[i] = { recs[i].cookie, IOPFQ_PAGE_RESP_SUCCESS };
		state.ResumeTiming();
		if (iopfq_respond(qu.q, resp.data(), (uint32_t)got) != got)
			std::abort();
	}
	state.SetItemsProcessed((int64_t)state.iterations() * n);
}
BENCHMARK(BM_RespondBatch)->Arg(1)->Arg(16)->Arg(64)->Arg(256);

/*
 * A queue of budget B whose device 1 holds B - 64 credits and 64 delivered,
 * unanswered single-page groups for the whole run (other devices' live
 * cookies, which a revoke must leave alone), and device 2 (64 credits) is
 * the victim: 16 single-page groups, 8 on PASID 1 and 8 on PASID 2, reported
 * and read before each timed call.
 */
struct Outstanding {
	Queue qu;
	iopfq_dev_t victim = 0;
	std::vector<struct iopfq_hwpt_pgfault> recs;

	explicit Outstanding(uint32_t budget) : qu(budget - 64, budget, on_sync_none), recs(64)
	{
		for (int i = 0; i < 64; i++)
			qu.report_group(1, 7);
		if (iopfq_read(qu.q, recs.data(), 64) != 64)
			std::abort();
	}

	void deliver_victim()
	{
		for (int i = 0; i < 16; i++)
			qu.report_group_of(victim, 1, 1 + (i & 1));
		if (iopfq_read(qu.q, recs.data(), 64) != 16)
			std::abort();
	}
};

template <typename F> double seconds_of(F f)
{
	auto t0 = std::chrono::steady_clock::now();
	f();
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_DetachWithOutstanding(benchmark::State &state)
{
	Outstanding o((uint32_t)state.range(0));

	for (auto _ : state) {
		if (iopfq_dev_attach(o.qu.q, 2, 64, nullptr, &o.victim))
			std::abort();
		o.deliver_victim();
		state.SetIterationTime(seconds_of([&] {
			if (iopfq_dev_detach(o.qu.q, o.victim))
				std::abort();
		}));
	}
	state.SetItemsProcessed((int64_t)state.iterations() * 16);
}
BENCHMARK(BM_DetachWithOutstanding)->Arg(1024)->Arg(8192)->Arg(65536)->UseManualTime();

void BM_FlushPasidWithOutstanding(benchmark::State &state)
{
	Outstanding o((uint32_t)state.range(0));

	if (iopfq_dev_attach(o.qu.q, 2, 64, nullptr, &o.victim))
		std::abort();
	for (auto _ : state) {
		o.deliver_victim();
		state.SetIterationTime(seconds_of([&] {
			if (iopfq_flush(o.qu.q, o.victim, 1, IOPFQ_FLUSH_PASID_VALID))
				std::abort();
		}));
		if (iopfq_flush(o.qu.q, o.victim, 2, IOPFQ_FLUSH_PASID_VALID))
			std::abort();
	}
	state.SetItemsProcessed((int64_t)state.iterations() * 8);
}
BENCHMARK(BM_FlushPasidWithOutstanding)->Arg(1024)->Arg(8192)->Arg(65536)->UseManualTime();

} // namespace

BENCHMARK_MAIN();
