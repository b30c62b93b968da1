/* SPDX-License-Identifier: MIT */
/*
 * consumer.c - a program built against the *installed* libiopfq (headers,
 * iopfq.pc or iopfqConfig.cmake): one group reported, read, answered.
 * Exit 0 if it round-trips.
 */
#include <stdio.h>

#include <iopfq/user.h>

static int answered;

static void on_response(void *arg, const struct iopfq_response *r)
{
	(void)arg;
	answered += r->code == IOPFQ_HW_SUCCESS;
}

int main(void)
{
	struct iopfq_config cfg = { .max_devices = 1, .credit_budget = 4 };
	struct iopfq_fault_ops ops = { .page_response = on_response };
	struct iopfq_request req = { .flags = IOPFQ_PGFAULT_FLAGS_LAST_PAGE,
				     .perm = IOPFQ_PGFAULT_PERM_READ, .addr = 0x1000 };
	struct iopfq_hwpt_pgfault rec;
	struct iopfq_hwpt_page_response resp;
	struct iopfq_fault *f;
	iopfq_dev_t dev;

	if (iopfq_fault_create(&cfg, &ops, &f) || iopfq_fault_dev_attach(f, 1, 4, NULL, &dev) ||
	    iopfq_fault_report(f, dev, &req, NULL) ||
	    iopfq_fault_read_records(f, &rec, 1) != 1)
		return 1;
	resp.cookie = rec.cookie;
	resp.code = IOPFQ_PAGE_RESP_SUCCESS;
	if (iopfq_fault_write_responses(f, &resp, 1) != 1 || answered != 1)
		return 1;
	iopfq_fault_destroy(f);
	printf("consumer: ok\n");
	return 0;
}
