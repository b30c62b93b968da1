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
 *
 * Time per iteration is per call as named; items_per_second counts pages.
 */
#include <benchmark/benchmark.h>

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
void on_notify(void *) {}
iopfq_u64 on_now(void *) { return 0; }
void on_aged(void *, const struct iopfq_aged *) {}

struct Queue {
	void *mem = nullptr;
	struct iopfq *q = nullptr;
	iopfq_dev_t dev = 0;
	uint32_t grp = 0;

	explicit Queue(uint32_t credits)
	{
		struct iopfq_config cfg = {};
		struct iopfq_ops ops = {};

		ops.page_response = on_response;
		ops.synchronize = on_sync;
		ops.notify = on_notify;
		ops.now_ns = on_now;
		ops.aged = on_aged;
		cfg.max_devices = 1;
		cfg.credit_budget = credits;
		size_t size = iopfq_memsize(&cfg);
		if (posix_memalign(&mem, IOPFQ_MEM_ALIGN, size))
			std::abort();
		if (iopfq_init(mem, size, &cfg, &ops, nullptr, &q) ||
		    iopfq_dev_attach(q, 1, credits, nullptr, &dev))
			std::abort();
	}
	~Queue() { std::free(mem); }

	void report_group(uint32_t pages)
	{
		for (uint32_t i = 0; i < pages; i++) {
			struct iopfq_request req = {};

			req.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID |
				    (i + 1 == pages ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0);
			req.pasid = 1;
			req.grpid = grp;
			req.perm = IOPFQ_PGFAULT_PERM_READ;
			req.addr = (uint64_t)i << 12;
			if (iopfq_report(q, dev, &req, nullptr))
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

} // namespace

BENCHMARK_MAIN();
