/* SPDX-License-Identifier: MIT */
/*
 * iopfq_cli.c - the `iopfq` command: `iopfq sim` runs the PRI device
 * simulator (sim.h) on a libiopfq fault FD and prints a summary, or one
 * JSON object with --json; `iopfq --version`; `iopfq --help`.
 *
 * May touch: its arguments, stdout (the summary or the JSON), stderr
 * (errors, the progress line), the trace file it is given (read only).
 *
 * Exit status: 0 every self-check held; 1 a self-check failed; 2 bad
 * usage (a message names the option); 3 the run could not be set up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

#ifndef IOPFQ_VERSION
#define IOPFQ_VERSION "unknown"
#endif

#define EXIT_CHECKS 1
#define EXIT_USAGE 2
#define EXIT_SETUP 3

static const char *prog = "iopfq";

static void usage_main(FILE *out)
{
	fprintf(out,
		"usage: %s <command> [options]\n"
		"\n"
		"commands:\n"
		"  sim          simulate PRI devices on a libiopfq fault FD and check every answer\n"
		"               (%s sim --help for its options)\n"
		"\n"
		"options:\n"
		"  -h, --help   this help\n"
		"  --version    print the version\n",
		prog, prog);
}

static void usage_sim(FILE *out)
{
	fprintf(out,
"usage: %s sim [options]\n"
"\n"
"Simulate PCIe devices that send PRI page requests to a libiopfq fault FD,\n"
"serve the FD like a VMM (epoll, read a batch of fault records, write the\n"
"answers), and check that every page-request group is answered exactly once.\n"
"Prints throughput, fault-to-response latency and the self-checks; exits 0\n"
"only if every self-check held.\n"
"\n"
"devices:\n"
"  --devices N        simulated devices (1..%u; default 8)\n"
"  --credits N        PRI credits (outstanding page requests) per device (default 32)\n"
"  --group N|MIN-MAX  pages per group, fixed or uniform in a range (default 4;\n"
"                     at most --credits and %u)\n"
"  --pasids N         PASIDs per device, used in turn (1..%u; default 4)\n"
"  --pattern P        addresses: sequential, random (default), or trace\n"
"  --trace FILE       replay page addresses from FILE (implies --pattern trace):\n"
"                     one hexadecimal address per line, 0x optional, '#' comments\n"
"                     and blank lines ignored; each device starts at its own offset\n"
"                     and wraps around\n"
"  --misbehave LIST   DEV:KIND[+KIND...][,DEV:KIND...] makes device DEV (0-based,\n"
"                     or 'all') also send requests the queue must refuse, once\n"
"                     every --misbehave-every groups (default 4). KIND is one of\n"
"                     over-credit (-EDQUOT), bad-grpid, bad-pasid, bad-perm,\n"
"                     stray-marker (-EINVAL), or all\n"
"\n"
"load:\n"
"  --mode M           closed (default: keep the credits full) or open (fixed rate)\n"
"  --rate N           open loop: groups per second per device (default 10000);\n"
"                     latency counts from the intended send time\n"
"  --seconds S        how long the devices send (default 1)\n"
"  --threads T        producer threads; device i runs on thread i %% T (default 1)\n"
"  --invalid-pct P    percent of groups the consumer answers INVALID (default 0)\n"
"  --busy-poll        the consumer spins on read instead of sleeping in epoll\n"
"  --seed N           random seed (default 1)\n"
"  --drain S          seconds to wait for the last answers before counting\n"
"                     groups lost (default 10)\n"
"\n"
"output:\n"
"  --json             one JSON object on stdout (keys: docs/simulator.md)\n"
"  --progress         a progress line on stderr every second (default: only when\n"
"                     stderr is a terminal and the run is longer than 2 s)\n"
"  -h, --help         this help\n"
"\n"
"examples:\n"
"  %s sim                                    8 devices, closed loop, 1 s\n"
"  %s sim --devices 4 --mode open --rate 50000 --seconds 5 --invalid-pct 10\n"
"  %s sim --misbehave 0:all,3:over-credit --json | python3 -m json.tool\n"
"\n"
"exit status: 0 all self-checks held, 1 a self-check failed, 2 bad arguments,\n"
"3 the simulation could not be set up.\n",
		prog, IOPFQ_SIM_MAX_DEVICES, IOPFQ_SIM_MAX_GROUP, IOPFQ_SIM_MAX_PASIDS, prog,
		prog, prog);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s sim: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see '%s sim --help')\n", prog);
	return EXIT_USAGE;
}

/* A whole decimal unsigned number in [min, max]; 0 on success, -EINVAL. */
static int parse_uint(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!s || !out || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A whole finite number > 0 and <= max. */
static int parse_pos_double(const char *s, double max, double *out)
{
	double v;
	char *end;

	if (!s || !out || !*s || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || !(v > 0.0) || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int opt_uint(const char *opt, const char *val, unsigned long long min,
		    unsigned long long max, unsigned int *out)
{
	unsigned long long v;

	if (parse_uint(val, min, max, &v))
		return usage_error("--%s: expected a whole number in %llu..%llu, got '%s'", opt,
				   min, max, val ? val : "");
	*out = (unsigned int)v;
	return 0;
}

/* "N" or "MIN-MAX" */
static int parse_group(const char *val, unsigned int *min, unsigned int *max)
{
	unsigned long long a, b;
	const char *dash = strchr(val, '-');
	char buf[32];

	if (!dash) {
		if (parse_uint(val, 1, IOPFQ_SIM_MAX_GROUP, &a))
			goto bad;
		*min = *max = (unsigned int)a;
		return 0;
	}
	if ((size_t)(dash - val) >= sizeof(buf))
		goto bad;
	memcpy(buf, val, (size_t)(dash - val));
	buf[dash - val] = '\0';
	if (parse_uint(buf, 1, IOPFQ_SIM_MAX_GROUP, &a) ||
	    parse_uint(dash + 1, 1, IOPFQ_SIM_MAX_GROUP, &b) || a > b)
		goto bad;
	*min = (unsigned int)a;
	*max = (unsigned int)b;
	return 0;
bad:
	return usage_error("--group: expected N or MIN-MAX with 1 <= MIN <= MAX <= %u, got '%s'",
			   IOPFQ_SIM_MAX_GROUP, val);
}

/*
 * "DEV:KIND[+KIND],..." into @mask (IOPFQ_SIM_MAX_DEVICES entries). Device
 * numbers are checked against --devices later (it may come after).
 * @maxdev: set to the highest device named (-1 for 'all' only).
 */
static int parse_misbehave(const char *val, uint32_t *mask, uint32_t *all_mask, long *maxdev)
{
	char *copy = strdup(val), *save = NULL, *item;
	int rc = 0;

	if (!copy)
		return usage_error("out of memory");
	if (!*copy) {
		rc = usage_error("--misbehave: empty list");
		goto out;
	}
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':'), *ksave = NULL, *kind;
		unsigned long long dev = 0;
		uint32_t m = 0;
		int all_devs;

		if (!colon || colon == item || !colon[1]) {
			rc = usage_error("--misbehave: expected DEV:KIND, got '%s'", item);
			goto out;
		}
		*colon = '\0';
		all_devs = !strcmp(item, "all");
		if (!all_devs && parse_uint(item, 0, IOPFQ_SIM_MAX_DEVICES - 1, &dev)) {
			rc = usage_error("--misbehave: bad device '%s' (a number from 0, or 'all')",
					 item);
			goto out;
		}
		for (kind = strtok_r(colon + 1, "+", &ksave); kind;
		     kind = strtok_r(NULL, "+", &ksave)) {
			int k;

			if (!strcmp(kind, "all")) {
				m |= IOPFQ_SIM_KIND_ALL;
				continue;
			}
			k = iopfq_sim_kind_parse(kind);
			if (k < 0) {
				rc = usage_error("--misbehave: unknown kind '%s' (over-credit, "
						 "bad-grpid, bad-pasid, bad-perm, stray-marker, all)",
						 kind);
				goto out;
			}
			m |= 1u << k;
		}
		if (!m) {
			rc = usage_error("--misbehave: no kind for device '%s'", item);
			goto out;
		}
		if (all_devs) {
			*all_mask |= m;
		} else {
			mask[dev] |= m;
			if ((long)dev > *maxdev)
				*maxdev = (long)dev;
		}
	}
out:
	free(copy);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* output                                                                  */

static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 10000)
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
	else if (ns < 10000000)
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	else if (ns < 10000000000ull)
		snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", (double)ns / 1e9);
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* "over-credit" -> "over_credit" */
static void json_kind_key(FILE *out, unsigned int k)
{
	const char *n = iopfq_sim_kind_name(k);

	fputc('"', out);
	for (; n && *n; n++)
		fputc(*n == '-' ? '_' : *n, out);
	fputc('"', out);
}

static double per_s(uint64_t n, double s)
{
	return s > 0.0 ? (double)n / s : 0.0;
}

static void print_json(FILE *out, const struct iopfq_sim_config *cfg, const uint32_t *mb,
		       const char *trace_path, const struct iopfq_sim_result *r)
{
	const struct iopfq_counters *c = &r->counters;
	unsigned int i, k, first = 1;

	fprintf(out, "{\n  \"version\": \"%s\",\n", IOPFQ_VERSION);
	fprintf(out, "  \"config\": {\"devices\": %u, \"credits\": %u, \"group_min\": %u, "
		     "\"group_max\": %u, \"pasids\": %u, \"pattern\": \"%s\", \"mode\": \"%s\", "
		     "\"rate\": ",
		cfg->devices, cfg->credits, cfg->group_min, cfg->group_max, cfg->pasids,
		iopfq_sim_pattern_name(cfg->pattern), iopfq_sim_mode_name(cfg->mode));
	if (cfg->mode == IOPFQ_SIM_OPEN)
		fprintf(out, "%.17g", cfg->rate);
	else
		fputs("null", out);
	fprintf(out, ", \"seconds\": %.17g, \"threads\": %u, \"invalid_pct\": %u, "
		     "\"busy_poll\": %s, \"seed\": %llu, \"trace\": ",
		cfg->seconds, cfg->threads,
		cfg->invalid_pct, cfg->busy_poll ? "true" : "false",
		(unsigned long long)cfg->seed);
	if (trace_path)
		json_string(out, trace_path);
	else
		fputs("null", out);
	fputs(", \"misbehave\": {", out);
	for (i = 0; i < cfg->devices; i++) {
		unsigned int fk = 1;

		if (!mb[i])
			continue;
		fprintf(out, "%s\"%u\": [", first ? "" : ", ", i);
		first = 0;
		for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++) {
			if (!(mb[i] & (1u << k)))
				continue;
			fprintf(out, "%s\"%s\"", fk ? "" : ", ", iopfq_sim_kind_name(k));
			fk = 0;
		}
		fputc(']', out);
	}
	fputs("}},\n", out);
	fprintf(out, "  \"ok\": %s,\n", r->ok ? "true" : "false");
	fprintf(out, "  \"elapsed_s\": %.6f,\n  \"issue_s\": %.6f,\n", r->elapsed_s, r->issue_s);
	fprintf(out, "  \"throughput\": {\"faults_per_s\": %.1f, \"groups_per_s\": %.1f},\n",
		per_s(r->pages_answered, r->elapsed_s), per_s(r->groups_answered, r->elapsed_s));
	fprintf(out, "  \"lost\": %llu,\n  \"duplicated\": %llu,\n",
		(unsigned long long)r->lost, (unsigned long long)r->duplicated);
	fprintf(out, "  \"groups\": {\"issued\": %llu, \"answered\": %llu, \"success\": %llu, "
		     "\"invalid\": %llu, \"wrong_code\": %llu, \"mismatched\": %llu, "
		     "\"open_backlog\": %llu},\n",
		(unsigned long long)r->groups_issued, (unsigned long long)r->groups_answered,
		(unsigned long long)r->answered_success, (unsigned long long)r->answered_invalid,
		(unsigned long long)r->wrong_code, (unsigned long long)r->mismatched,
		(unsigned long long)r->open_backlog);
	fprintf(out, "  \"pages\": {\"issued\": %llu, \"answered\": %llu},\n",
		(unsigned long long)r->pages_issued, (unsigned long long)r->pages_answered);
	fprintf(out, "  \"latency_ns\": {\"count\": %llu, \"min\": %llu, \"p50\": %llu, "
		     "\"p90\": %llu, \"p99\": %llu, \"p99_9\": %llu, \"max\": %llu, "
		     "\"mean\": %.1f},\n",
		(unsigned long long)iopfq_hist_count(&r->lat),
		(unsigned long long)iopfq_hist_min(&r->lat),
		(unsigned long long)iopfq_hist_percentile(&r->lat, 50.0),
		(unsigned long long)iopfq_hist_percentile(&r->lat, 90.0),
		(unsigned long long)iopfq_hist_percentile(&r->lat, 99.0),
		(unsigned long long)iopfq_hist_percentile(&r->lat, 99.9),
		(unsigned long long)iopfq_hist_max(&r->lat), iopfq_hist_mean(&r->lat));
	fputs("  \"refusals\": {", out);
	for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++) {
		fputs(k ? ", " : "", out);
		json_kind_key(out, k);
		fprintf(out, ": %llu", (unsigned long long)r->refused[k]);
	}
	fputs("},\n  \"misbehaviour\": {", out);
	for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++) {
		fputs(k ? ", " : "", out);
		json_kind_key(out, k);
		fprintf(out, ": {\"attempts\": %llu, \"refused\": %llu, \"wrong_errno\": %llu}",
			(unsigned long long)r->attempts[k], (unsigned long long)r->refused[k],
			(unsigned long long)r->wrong_errno[k]);
	}
	fprintf(out, ", \"over_credit_accepted\": %llu, \"wrong_hw_answer\": %llu},\n",
		(unsigned long long)r->over_credit_accepted,
		(unsigned long long)r->wrong_hw_answer);
	fprintf(out, "  \"queue\": {\"accepted\": %llu, \"markers_accepted\": %llu, "
		     "\"refused_over_credit\": %llu, \"refused_markers\": %llu, "
		     "\"refused_invalid\": %llu, \"refused_failed\": %llu, \"refused_nodev\": %llu, "
		     "\"in_ring\": %llu, \"partial\": %llu, \"ready\": %llu, \"delivered\": %llu, "
		     "\"answered\": %llu, \"auto_answered\": %llu, \"discarded\": %llu, "
		     "\"groups_delivered\": %llu, \"groups_answered\": %llu, "
		     "\"groups_auto_answered\": %llu, \"bad_answers\": %llu, "
		     "\"ring_claim_waits\": %llu, \"warnings\": %lu},\n",
		(unsigned long long)c->accepted, (unsigned long long)c->markers_accepted,
		(unsigned long long)c->refused_over_credit, (unsigned long long)c->refused_markers,
		(unsigned long long)c->refused_invalid, (unsigned long long)c->refused_failed,
		(unsigned long long)c->refused_nodev, (unsigned long long)c->in_ring,
		(unsigned long long)c->partial, (unsigned long long)c->ready,
		(unsigned long long)c->delivered, (unsigned long long)c->answered,
		(unsigned long long)c->auto_answered, (unsigned long long)c->discarded,
		(unsigned long long)c->groups_delivered, (unsigned long long)c->groups_answered,
		(unsigned long long)c->groups_auto_answered, (unsigned long long)c->bad_answers,
		(unsigned long long)c->ring_claim_waits, r->warnings);
	fprintf(out, "  \"consumer\": {\"mode\": \"%s\", \"reads\": %llu, \"writes\": %llu, "
		     "\"wakeups\": %llu, \"errors\": %llu},\n",
		cfg->busy_poll ? "busy-poll" : "epoll", (unsigned long long)r->consumer_reads,
		(unsigned long long)r->consumer_writes, (unsigned long long)r->consumer_wakeups,
		(unsigned long long)r->consumer_errors);
	fputs("  \"checks\": [", out);
	for (i = 0; i < r->nchecks; i++) {
		fprintf(out, "%s\n    {\"name\": ", i ? "," : "");
		json_string(out, r->checks[i].name);
		fprintf(out, ", \"ok\": %s, \"detail\": ", r->checks[i].ok ? "true" : "false");
		json_string(out, r->checks[i].detail);
		fputc('}', out);
	}
	fputs("\n  ]\n}\n", out);
}

static void print_text(FILE *out, const struct iopfq_sim_config *cfg, const struct iopfq_sim_result *r)
{
	char p50[32], p90[32], p99[32], p999[32], max[32];
	unsigned int i, k, passed = 0;

	fmt_ns(p50, sizeof(p50), iopfq_hist_percentile(&r->lat, 50.0));
	fmt_ns(p90, sizeof(p90), iopfq_hist_percentile(&r->lat, 90.0));
	fmt_ns(p99, sizeof(p99), iopfq_hist_percentile(&r->lat, 99.0));
	fmt_ns(p999, sizeof(p999), iopfq_hist_percentile(&r->lat, 99.9));
	fmt_ns(max, sizeof(max), iopfq_hist_max(&r->lat));
	fprintf(out, "iopfq sim: %u devices x %u credits, groups of %u", cfg->devices,
		cfg->credits, cfg->group_min);
	if (cfg->group_max != cfg->group_min)
		fprintf(out, "-%u", cfg->group_max);
	fprintf(out, " pages, %u PASIDs, %s addresses, %s loop", cfg->pasids,
		iopfq_sim_pattern_name(cfg->pattern), iopfq_sim_mode_name(cfg->mode));
	if (cfg->mode == IOPFQ_SIM_OPEN)
		fprintf(out, " at %g groups/s/device", cfg->rate);
	fprintf(out, ", %u producer thread%s, %s consumer, %g s\n", cfg->threads,
		cfg->threads == 1 ? "" : "s", cfg->busy_poll ? "busy-poll" : "epoll",
		cfg->seconds);
	fprintf(out, "  throughput   %.0f faults/s, %.0f groups/s (%llu faults, %llu groups in %.2f s)\n",
		per_s(r->pages_answered, r->elapsed_s), per_s(r->groups_answered, r->elapsed_s),
		(unsigned long long)r->pages_answered, (unsigned long long)r->groups_answered,
		r->elapsed_s);
	fprintf(out, "  latency      p50 %s, p90 %s, p99 %s, p99.9 %s, max %s (fault to response%s)\n",
		p50, p90, p99, p999, max,
		cfg->mode == IOPFQ_SIM_OPEN ? ", from the intended send time" : "");
	fprintf(out, "  answers      %llu SUCCESS, %llu INVALID",
		(unsigned long long)r->answered_success, (unsigned long long)r->answered_invalid);
	if (cfg->mode == IOPFQ_SIM_OPEN)
		fprintf(out, "; %llu groups due but not sent (credits short)",
			(unsigned long long)r->open_backlog);
	fputc('\n', out);
	fputs("  refusals     ", out);
	for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++)
		fprintf(out, "%s%s %llu", k ? ", " : "", iopfq_sim_kind_name(k),
			(unsigned long long)r->refused[k]);
	if (r->over_credit_accepted)
		fprintf(out, " (and %llu over-credit tries accepted: the credit was back)",
			(unsigned long long)r->over_credit_accepted);
	fputc('\n', out);
	fprintf(out, "  lost %llu, duplicated %llu\n", (unsigned long long)r->lost,
		(unsigned long long)r->duplicated);
	for (i = 0; i < r->nchecks; i++)
		passed += !!r->checks[i].ok;
	fprintf(out, "  self-checks  %u/%u passed%s\n", passed, r->nchecks,
		r->ok ? "" : ": FAILED");
	for (i = 0; i < r->nchecks; i++)
		if (!r->checks[i].ok)
			fprintf(out, "    FAILED %s: %s\n", r->checks[i].name, r->checks[i].detail);
}

struct progress_ctx {
	int tty;
	uint64_t last_groups;
	double last_s;
	int printed;
};

static void on_progress(void *arg, const struct iopfq_sim_progress *p)
{
	struct progress_ctx *pc = arg;
	double dt;

	if (!pc || !p)
		return;
	dt = p->elapsed_s - pc->last_s;
	fprintf(stderr, "%s[%6.1f s] %llu groups answered, %.0f groups/s, %llu refused%s",
		pc->tty ? "\r" : "", p->elapsed_s, (unsigned long long)p->groups_answered,
		dt > 0 ? (double)(p->groups_answered - pc->last_groups) / dt : 0.0,
		(unsigned long long)p->refused, pc->tty ? "  " : "\n");
	fflush(stderr);
	pc->last_groups = p->groups_answered;
	pc->last_s = p->elapsed_s;
	pc->printed = 1;
}

/* ---------------------------------------------------------------------- */
/* iopfq sim                                                               */

enum {
	OPT_DEVICES = 256, OPT_CREDITS, OPT_GROUP, OPT_PASIDS, OPT_PATTERN, OPT_MODE, OPT_RATE,
	OPT_SECONDS, OPT_THREADS, OPT_INVALID, OPT_MISBEHAVE, OPT_MB_EVERY, OPT_TRACE,
	OPT_BUSY, OPT_JSON, OPT_PROGRESS, OPT_SEED, OPT_DRAIN,
};

static int cmd_sim(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "devices", required_argument, NULL, OPT_DEVICES },
		{ "credits", required_argument, NULL, OPT_CREDITS },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "pasids", required_argument, NULL, OPT_PASIDS },
		{ "pattern", required_argument, NULL, OPT_PATTERN },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "invalid-pct", required_argument, NULL, OPT_INVALID },
		{ "misbehave", required_argument, NULL, OPT_MISBEHAVE },
		{ "misbehave-every", required_argument, NULL, OPT_MB_EVERY },
		{ "trace", required_argument, NULL, OPT_TRACE },
		{ "busy-poll", no_argument, NULL, OPT_BUSY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "drain", required_argument, NULL, OPT_DRAIN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static uint32_t mb[IOPFQ_SIM_MAX_DEVICES];
	struct progress_ctx pc = { 0 };
	struct iopfq_sim_config cfg;
	struct iopfq_sim_result *res = NULL;
	const char *trace_path = NULL;
	uint32_t mb_all = 0;
	uint64_t *trace = NULL;
	size_t trace_len = 0;
	long maxdev = -1;
	int opt, rc, json = 0, progress = 0, pattern_set = 0, any_mb = 0, rate_set = 0;
	unsigned long long seed;
	char err[256];
	unsigned int i;

	iopfq_sim_config_init(&cfg);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		rc = 0;
		switch (opt) {
		case OPT_DEVICES:
			rc = opt_uint("devices", optarg, 1, IOPFQ_SIM_MAX_DEVICES, &cfg.devices);
			break;
		case OPT_CREDITS:
			rc = opt_uint("credits", optarg, 1, IOPFQ_MAX_CREDITS, &cfg.credits);
			break;
		case OPT_GROUP:
			rc = parse_group(optarg, &cfg.group_min, &cfg.group_max);
			break;
		case OPT_PASIDS:
			rc = opt_uint("pasids", optarg, 1, IOPFQ_SIM_MAX_PASIDS, &cfg.pasids);
			break;
		case OPT_PATTERN:
			if (!strcmp(optarg, "sequential"))
				cfg.pattern = IOPFQ_SIM_SEQUENTIAL;
			else if (!strcmp(optarg, "random"))
				cfg.pattern = IOPFQ_SIM_RANDOM;
			else if (!strcmp(optarg, "trace"))
				cfg.pattern = IOPFQ_SIM_TRACE;
			else
				rc = usage_error("--pattern: unknown pattern '%s' (sequential, "
						 "random or trace)", optarg);
			pattern_set = 1;
			break;
		case OPT_MODE:
			if (!strcmp(optarg, "closed"))
				cfg.mode = IOPFQ_SIM_CLOSED;
			else if (!strcmp(optarg, "open"))
				cfg.mode = IOPFQ_SIM_OPEN;
			else
				rc = usage_error("--mode: unknown mode '%s' (closed or open)",
						 optarg);
			break;
		case OPT_RATE:
			if (parse_pos_double(optarg, 1e9, &cfg.rate))
				rc = usage_error("--rate: expected a number > 0 and <= 1e9 groups/s "
						 "per device, got '%s'", optarg);
			rate_set = 1;
			break;
		case OPT_SECONDS:
			if (parse_pos_double(optarg, IOPFQ_SIM_MAX_SECONDS, &cfg.seconds))
				rc = usage_error("--seconds: expected a number > 0 and <= %g, got '%s'",
						 IOPFQ_SIM_MAX_SECONDS, optarg);
			break;
		case OPT_DRAIN:
			if (parse_pos_double(optarg, IOPFQ_SIM_MAX_SECONDS, &cfg.drain_seconds))
				rc = usage_error("--drain: expected a number > 0 and <= %g, got '%s'",
						 IOPFQ_SIM_MAX_SECONDS, optarg);
			break;
		case OPT_THREADS:
			rc = opt_uint("threads", optarg, 1, IOPFQ_SIM_MAX_THREADS, &cfg.threads);
			break;
		case OPT_INVALID:
			rc = opt_uint("invalid-pct", optarg, 0, 100, &cfg.invalid_pct);
			break;
		case OPT_MISBEHAVE:
			rc = parse_misbehave(optarg, mb, &mb_all, &maxdev);
			any_mb = 1;
			break;
		case OPT_MB_EVERY:
			rc = opt_uint("misbehave-every", optarg, 1, 1000000, &cfg.misbehave_every);
			break;
		case OPT_TRACE:
			trace_path = optarg;
			break;
		case OPT_SEED:
			if (parse_uint(optarg, 0, UINT64_MAX, &seed))
				rc = usage_error("--seed: expected a whole number, got '%s'", optarg);
			else
				cfg.seed = seed;
			break;
		case OPT_BUSY:
			cfg.busy_poll = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case 'h':
			usage_sim(stdout);
			return 0;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);

	/* cross-option checks, with the option names a user typed */
	if (cfg.group_max > cfg.credits)
		return usage_error("--group %u exceeds --credits %u: a device could never send it",
				   cfg.group_max, cfg.credits);
	if ((uint64_t)cfg.devices * cfg.credits > IOPFQ_MAX_CREDITS)
		return usage_error("--devices x --credits = %llu exceeds the queue's %u credits",
				   (unsigned long long)cfg.devices * cfg.credits,
				   IOPFQ_MAX_CREDITS);
	if (cfg.threads > cfg.devices)
		return usage_error("--threads %u exceeds --devices %u (a thread runs whole devices)",
				   cfg.threads, cfg.devices);
	if (maxdev >= (long)cfg.devices)
		return usage_error("--misbehave: device %ld does not exist (devices are 0..%u)",
				   maxdev, cfg.devices - 1);
	if (rate_set && cfg.mode != IOPFQ_SIM_OPEN)
		return usage_error("--rate applies to --mode open only");
	if (trace_path && pattern_set && cfg.pattern != IOPFQ_SIM_TRACE)
		return usage_error("--trace conflicts with --pattern %s",
				   iopfq_sim_pattern_name(cfg.pattern));
	if (cfg.pattern == IOPFQ_SIM_TRACE && !trace_path)
		return usage_error("--pattern trace needs --trace FILE");
	if (trace_path) {
		rc = iopfq_sim_trace_load(trace_path, &trace, &trace_len, err, sizeof(err));
		if (rc)
			return usage_error("--trace: %s", err);
		cfg.pattern = IOPFQ_SIM_TRACE;
		cfg.trace = trace;
		cfg.trace_len = trace_len;
	}
	if (any_mb) {
		for (i = 0; i < cfg.devices; i++)
			mb[i] |= mb_all;
		cfg.misbehave = mb;
	}
	if (iopfq_sim_validate(&cfg, err, sizeof(err))) {
		free(trace);
		return usage_error("%s", err);
	}
	if (progress || (cfg.seconds > 2.0 && isatty(STDERR_FILENO))) {
		pc.tty = isatty(STDERR_FILENO);
		cfg.progress = on_progress;
		cfg.progress_arg = &pc;
	}

	rc = iopfq_sim_run(&cfg, &res);
	if (pc.printed && pc.tty)
		fputc('\n', stderr);
	if (rc) {
		fprintf(stderr, "%s sim: the simulation could not be set up: %s\n", prog,
			strerror(-rc));
		free(trace);
		return EXIT_SETUP;
	}
	if (json)
		print_json(stdout, &cfg, mb, trace_path, res);
	else
		print_text(stdout, &cfg, res);
	fflush(stdout);
	rc = res->ok ? 0 : EXIT_CHECKS;
	if (!res->ok)
		fprintf(stderr, "%s sim: self-check FAILED\n", prog);
	iopfq_sim_result_free(res);
	free(trace);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("iopfq %s\n", IOPFQ_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage_main(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "sim"))
		return cmd_sim(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s' (see '%s --help')\n", prog, argv[1], prog);
	return EXIT_USAGE;
}
