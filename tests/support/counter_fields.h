/* SPDX-License-Identifier: MIT */
/*
 * counter_fields.h - every field of struct iopfq_counters that a reference
 * model can predict, as an X-macro, for the tests that compare or print
 * counters field by field (the queue fixture, the model differential test).
 * ring_claim_waits is not in it: it has no model counterpart and must be 0.
 * A field added to struct iopfq_counters is added here once.
 */
#ifndef IOPFQ_TEST_COUNTER_FIELDS_H
#define IOPFQ_TEST_COUNTER_FIELDS_H

#define IOPFQ_MODEL_COUNTER_FIELDS(X)                                          \
	X(accepted) X(markers_accepted) X(refused_over_credit) X(refused_markers) \
	X(refused_invalid) X(refused_failed) X(refused_nodev) X(in_ring)        \
	X(partial) X(ready) X(delivered) X(answered) X(auto_answered)          \
	X(discarded) X(discarded_by_marker) X(groups_delivered)                \
	X(groups_answered) X(groups_auto_answered) X(bad_answers)              \
	X(aged_warnings) X(credits_attached) X(devices_attached)

#endif
