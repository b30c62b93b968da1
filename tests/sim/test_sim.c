/* SPDX-License-Identifier: MIT */
/*
 * test_sim.c - cmocka tests of the PRI device simulator (libiopfq_sim,
 * user-adapter/sim/sim.h) running on libiopfq: its self-checks hold in
 * closed and open loop, with trace replay, INVALID answers, busy polling
 * and several producer threads; each misbehaviour is refused with its
 * errno, counted, agrees with the queue's counters, and leaves the
 * well-behaved devices answered exactly once; bad configurations and trace
 * files are refused.
 *
 * Runs are short (IOPFQ_SIM_TEST_SECONDS, default 0.3 s each) so the whole
 * program stays well under 10 s in release and 60 s under sanitizers.
 *
 * May touch: a temporary trace file it creates and removes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim.h"

static double run_seconds(void)
{
	const char *s = getenv("IOPFQ_SIM_TEST_SECONDS");
	double v = s ? atof(s) : 0.0;

	return v > 0.0 ? v : 0.3;
}

static void base_config(struct iopfq_sim_config *cfg)
{
	assert_int_equal(iopfq_sim_config_init(cfg), 0);
	cfg->devices = 4;
	cfg->credits = 16;
	cfg->group_min = 1;
	cfg->group_max = 4;
	cfg->seconds = run_seconds();
}

/* Run @cfg; assert every self-check held and the basic tallies. */
static struct iopfq_sim_result *run_ok(const struct iopfq_sim_config *cfg)
{
	struct iopfq_sim_result *r = NULL;
	unsigned int i;

	assert_int_equal(iopfq_sim_run(cfg, &r), 0);
	assert_non_null(r);
	for (i = 0; i < r->nchecks; i++)
		if (!r->checks[i].ok)
			print_error("self-check %s failed: %s\n", r->checks[i].name,
				    r->checks[i].detail);
	assert_true(r->ok);
	assert_true(r->nchecks >= 10);
	assert_true(r->groups_issued > 0);
	assert_true(r->groups_answered == r->groups_issued);
	assert_true(r->lost == 0 && r->duplicated == 0);
	assert_true(r->inflight_pages_end == 0);
	assert_true(iopfq_hist_count(&r->lat) == r->groups_answered);
	assert_true(r->counters.accepted == r->pages_issued);
	assert_true(r->counters.groups_answered == r->groups_answered);
	for (i = 0; i < cfg->devices; i++) {
		assert_true(r->dev[i].groups_issued > 0);
		assert_true(r->dev[i].groups_answered == r->dev[i].groups_issued);
		assert_true(r->dev[i].lost == 0 && r->dev[i].inflight_end == 0);
	}
	return r;
}

static void test_closed_loop(void **state)
{
	struct iopfq_sim_config cfg;
	struct iopfq_sim_result *r;

	(void)state;
	base_config(&cfg);
	cfg.pattern = IOPFQ_SIM_SEQUENTIAL;
	r = run_ok(&cfg);
	assert_true(r->answered_invalid == 0);
	assert_true(r->answered_success == r->groups_answered);
	assert_true(r->open_backlog == 0);
	iopfq_sim_result_free(r);
}

static void test_open_loop(void **state)
{
	struct iopfq_sim_config cfg;
	struct iopfq_sim_result *r;
	uint64_t expect;

	(void)state;
	base_config(&cfg);
	cfg.mode = IOPFQ_SIM_OPEN;
	cfg.rate = 2000.0;
	cfg.threads = 2;
	r = run_ok(&cfg);
	/* a fixed rate: about rate x seconds groups per device were due */
	expect = (uint64_t)(cfg.rate * cfg.seconds);
	for (unsigned int i = 0; i < cfg.devices; i++)
		assert_true(r->dev[i].groups_issued + 0 <= expect + 2);
	assert_true(r->groups_issued + r->open_backlog >= cfg.devices * expect - cfg.devices);
	iopfq_sim_result_free(r);
}

static void test_invalid_answers(void **state)
{
	struct iopfq_sim_config cfg;
	struct iopfq_sim_result *r;

	(void)state;
	base_config(&cfg);
	cfg.invalid_pct = 30;
	r = run_ok(&cfg);
	assert_true(r->answered_invalid > 0 && r->answered_success > 0);
	assert_true(r->wrong_code == 0);
	/* roughly 30 %: the rule is a hash */
	assert_true(r->answered_invalid * 100 > r->groups_answered * 20);
	assert_true(r->answered_invalid * 100 < r->groups_answered * 40);
	iopfq_sim_result_free(r);

	cfg.invalid_pct = 100;
	r = run_ok(&cfg);
	assert_true(r->answered_invalid == r->groups_answered && r->answered_success == 0);
	iopfq_sim_result_free(r);
}

static void test_busy_poll_threads(void **state)
{
	struct iopfq_sim_config cfg;
	struct iopfq_sim_result *r;

	(void)state;
	base_config(&cfg);
	cfg.busy_poll = 1;
	cfg.threads = 2;
	cfg.pasids = 3;
	r = run_ok(&cfg);
	assert_true(r->consumer_wakeups == 0); /* never slept in epoll */
	iopfq_sim_result_free(r);
}

static char trace_path[] = "/tmp/iopfq_sim_trace_XXXXXX";

static void write_file(const char *text)
{
	int fd = mkstemp(trace_path);
	FILE *fp;

	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_trace_replay(void **state)
{
	struct iopfq_sim_config cfg;
	struct iopfq_sim_result *r;
	uint64_t *addrs = NULL;
	size_t n = 0;
	char err[256];

	(void)state;
	write_file("# a trace: one page address per line\n"
		   "0x7f0000001000\n"
		   "  7f0000002000  \n"
		   "\n"
		   "0X7F0000003000\n"
		   "deadbeef000\n");
	assert_int_equal(iopfq_sim_trace_load(trace_path, &addrs, &n, err, sizeof(err)), 0);
	unlink(trace_path);
	strcpy(trace_path + strlen(trace_path) - 6, "XXXXXX");
	assert_int_equal(n, 4);
	assert_true(addrs[0] == 0x7f0000001000ull && addrs[1] == 0x7f0000002000ull);
	assert_true(addrs[2] == 0x7f0000003000ull && addrs[3] == 0xdeadbeef000ull);

	base_config(&cfg);
	cfg.pattern = IOPFQ_SIM_TRACE;
	cfg.trace = addrs;
	cfg.trace_len = n;
	cfg.invalid_pct = 50;
	r = run_ok(&cfg);
	assert_true(r->answered_invalid > 0);
	iopfq_sim_result_free(r);
	free(addrs);
}

static void expect_trace_error(const char *text, int err_expected, const char *msg_part)
{
	uint64_t *addrs = NULL;
	size_t n = 0;
	char err[256] = "";

	write_file(text);
	assert_int_equal(iopfq_sim_trace_load(trace_path, &addrs, &n, err, sizeof(err)),
			 err_expected);
	assert_null(addrs);
	assert_non_null(strstr(err, msg_part));
	unlink(trace_path);
	strcpy(trace_path + strlen(trace_path) - 6, "XXXXXX");
}

static void test_trace_errors(void **state)
{
	uint64_t *addrs = NULL;
	size_t n = 0;
	char err[256];

	(void)state;
	expect_trace_error("", -EINVAL, "no addresses");
	expect_trace_error("# only a comment\n\n", -EINVAL, "no addresses");
	expect_trace_error("1000\nxyz\n", -EINVAL, ":2:");
	expect_trace_error("1000 2000\n", -EINVAL, "trailing");
	expect_trace_error("-1000\n", -EINVAL, "hexadecimal");
	expect_trace_error("0x\n", -EINVAL, "hexadecimal");
	expect_trace_error("10000000000000000\n", -EINVAL, "64 bits");
	assert_int_equal(iopfq_sim_trace_load("/nonexistent/trace", &addrs, &n, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(iopfq_sim_trace_load(NULL, &addrs, &n, err, sizeof(err)), -EINVAL);
}

static void test_misbehaving_devices(void **state)
{
	static uint32_t mb[6];
	struct iopfq_sim_config cfg;
	struct iopfq_sim_result *r;
	uint64_t inval = 0;
	unsigned int k;

	(void)state;
	base_config(&cfg);
	cfg.devices = 6;
	cfg.threads = 2;
	cfg.misbehave_every = 2;
	mb[1] = IOPFQ_SIM_KIND_ALL;
	mb[2] = 1u << IOPFQ_SIM_OVER_CREDIT;
	mb[4] = (1u << IOPFQ_SIM_BAD_PASID) | (1u << IOPFQ_SIM_STRAY_MARKER);
	cfg.misbehave = mb;
	r = run_ok(&cfg);
	for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++) {
		assert_true(r->attempts[k] > 0);
		assert_true(r->refused[k] == r->attempts[k]);
		assert_true(r->wrong_errno[k] == 0);
		if (k != IOPFQ_SIM_OVER_CREDIT)
			inval += r->refused[k];
	}
	assert_true(r->wrong_hw_answer == 0);
	/* the queue counted the same refusals, each under its errno */
	assert_true(r->counters.refused_over_credit == r->refused[IOPFQ_SIM_OVER_CREDIT]);
	assert_true(r->counters.refused_invalid == inval);
	assert_true(r->counters.markers_accepted == 0 && r->counters.bad_answers == 0);
	/* who misbehaved */
	assert_true(r->dev[1].refused > 0 && r->dev[2].refused > 0 && r->dev[4].refused > 0);
	assert_true(r->dev[0].refused == 0 && r->dev[3].refused == 0 && r->dev[5].refused == 0);
	iopfq_sim_result_free(r);
}

/* Every device misbehaving every group, in open loop with INVALID answers */
static void test_misbehaving_open_loop(void **state)
{
	static uint32_t mb[4] = { IOPFQ_SIM_KIND_ALL, 0, IOPFQ_SIM_KIND_ALL, 0 };
	struct iopfq_sim_config cfg;
	struct iopfq_sim_result *r;

	(void)state;
	base_config(&cfg);
	cfg.mode = IOPFQ_SIM_OPEN;
	cfg.rate = 5000.0;
	cfg.misbehave = mb;
	cfg.misbehave_every = 1;
	cfg.invalid_pct = 20;
	r = run_ok(&cfg);
	for (unsigned int k = IOPFQ_SIM_BAD_GRPID; k < IOPFQ_SIM_NR_KINDS; k++)
		assert_true(r->refused[k] > 0 && r->wrong_errno[k] == 0);
	assert_true(r->dev[1].refused == 0 && r->dev[3].refused == 0);
	iopfq_sim_result_free(r);
}

static void expect_invalid(const struct iopfq_sim_config *cfg, const char *msg_part)
{
	struct iopfq_sim_result *r = NULL;
	char err[256] = "";

	assert_int_equal(iopfq_sim_validate(cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, msg_part));
	assert_int_equal(iopfq_sim_run(cfg, &r), -EINVAL);
	assert_null(r);
}

static void test_validation(void **state)
{
	static const uint64_t one_addr = 0x1000;
	static uint32_t bad_mb[4] = { 0, 1u << 7, 0, 0 };
	struct iopfq_sim_config cfg, c;
	struct iopfq_sim_result *r = NULL;

	(void)state;
	base_config(&cfg);
	assert_int_equal(iopfq_sim_validate(&cfg, NULL, 0), 0);
	assert_int_equal(iopfq_sim_validate(NULL, NULL, 0), -EINVAL);
	assert_int_equal(iopfq_sim_config_init(NULL), -EINVAL);
	assert_int_equal(iopfq_sim_run(NULL, &r), -EINVAL);
	assert_int_equal(iopfq_sim_run(&cfg, NULL), -EINVAL);

	c = cfg; c.devices = 0; expect_invalid(&c, "devices");
	c = cfg; c.devices = IOPFQ_SIM_MAX_DEVICES + 1; expect_invalid(&c, "devices");
	c = cfg; c.credits = 0; expect_invalid(&c, "credits");
	c = cfg; c.devices = 1024; c.credits = 2048; expect_invalid(&c, "credits");
	c = cfg; c.group_min = 0; expect_invalid(&c, "group");
	c = cfg; c.group_min = 3; c.group_max = 2; expect_invalid(&c, "group");
	c = cfg; c.group_max = 17; expect_invalid(&c, "exceed the credits");
	c = cfg; c.credits = 1000; c.group_max = 300; expect_invalid(&c, "at most");
	c = cfg; c.pasids = 0; expect_invalid(&c, "pasids");
	c = cfg; c.pattern = (enum iopfq_sim_pattern)7; expect_invalid(&c, "pattern");
	c = cfg; c.pattern = IOPFQ_SIM_TRACE; expect_invalid(&c, "trace");
	c = cfg; c.pattern = IOPFQ_SIM_TRACE; c.trace = &one_addr; c.trace_len = 0;
	expect_invalid(&c, "trace");
	c = cfg; c.mode = (enum iopfq_sim_mode)2; expect_invalid(&c, "mode");
	c = cfg; c.mode = IOPFQ_SIM_OPEN; c.rate = 0.0; expect_invalid(&c, "rate");
	c = cfg; c.mode = IOPFQ_SIM_OPEN; c.rate = 0.0 / 0.0; expect_invalid(&c, "rate");
	c = cfg; c.seconds = 0.0; expect_invalid(&c, "seconds");
	c = cfg; c.seconds = -1.0; expect_invalid(&c, "seconds");
	c = cfg; c.threads = 0; expect_invalid(&c, "threads");
	c = cfg; c.threads = 5; expect_invalid(&c, "threads");
	c = cfg; c.invalid_pct = 101; expect_invalid(&c, "invalid");
	c = cfg; c.misbehave = bad_mb; expect_invalid(&c, "misbehaviour");
	c = cfg; c.misbehave_every = 0; expect_invalid(&c, "misbehave_every");
	c = cfg; c.drain_seconds = 0.0; expect_invalid(&c, "drain");
}

static void test_names(void **state)
{
	unsigned int k;

	(void)state;
	for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++) {
		assert_non_null(iopfq_sim_kind_name(k));
		assert_int_equal(iopfq_sim_kind_parse(iopfq_sim_kind_name(k)), (int)k);
		assert_int_equal(iopfq_sim_kind_errno(k),
				 k == IOPFQ_SIM_OVER_CREDIT ? -EDQUOT : -EINVAL);
	}
	assert_null(iopfq_sim_kind_name(IOPFQ_SIM_NR_KINDS));
	assert_int_equal(iopfq_sim_kind_parse("nonsense"), -EINVAL);
	assert_int_equal(iopfq_sim_kind_parse(NULL), -EINVAL);
	assert_int_equal(iopfq_sim_kind_errno(99), 0);
	assert_string_equal(iopfq_sim_pattern_name(IOPFQ_SIM_TRACE), "trace");
	assert_null(iopfq_sim_pattern_name(3));
	assert_string_equal(iopfq_sim_mode_name(IOPFQ_SIM_OPEN), "open");
	assert_null(iopfq_sim_mode_name(2));
	/* the INVALID rule: 0 % never, 100 % always, deterministic */
	assert_int_equal(iopfq_sim_group_invalid(1, 2, 3, 4, 5, 0), 0);
	assert_int_equal(iopfq_sim_group_invalid(1, 2, 3, 4, 5, 100), 1);
	assert_int_equal(iopfq_sim_group_invalid(1, 2, 3, 4, 5, 50),
			 iopfq_sim_group_invalid(1, 2, 3, 4, 5, 50));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_trace_errors),
		cmocka_unit_test(test_closed_loop),
		cmocka_unit_test(test_open_loop),
		cmocka_unit_test(test_invalid_answers),
		cmocka_unit_test(test_busy_poll_threads),
		cmocka_unit_test(test_trace_replay),
		cmocka_unit_test(test_misbehaving_devices),
		cmocka_unit_test(test_misbehaving_open_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
