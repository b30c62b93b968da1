/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ops.c - libFuzzer target: operation sequences on the real queue and
 * on the reference model side by side.
 *
 * This is the differential driver of tests/model/test_model_diff.c with its
 * randomness replaced by the fuzzer's input (IOPFQ_MODEL_FUZZ): the first
 * byte picks the geometry, every later decision (attach, detach, failed
 * state, reports valid and malformed, over-credit and Stop Markers, reads
 * with any buffer size, answer batches mixing good, stale and forged
 * cookies and bad codes, flushes with and without response, aging with an
 * advancing clock, sleep/wake) takes two bytes. After every step the driver
 * compares every return value, record, page response, aged warning, notify
 * and counter, and the conservation law; when the input runs out, every
 * device detaches and nothing may remain. One driver, two sources of
 * choices: a mismatch found by the fuzzer is a mismatch of the same checks
 * the ctest run makes.
 */
#define IOPFQ_MODEL_FUZZ 1
#include "test_model_diff.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct drv t;
	static int online;

	/* libFuzzer's own SIGABRT handler saves the input; the driver's is not installed */
	(void)on_abort;
	if (size < 1)
		return 0;
	if (!online) {
		tp_thread_online();
		online = 1;
	}
	free(t.real_of_model);
	memset(&t, 0, sizeof(t));
	t.mc = &configs[data[0] % NCONFIGS];
	fuzz_input = data + 1;
	fuzz_input_len = size - 1;
	fuzz_input_done = 0;
	current_drv = &t;
	episode(&t, 1u << 20);
	current_drv = NULL;
	return 0;
}
