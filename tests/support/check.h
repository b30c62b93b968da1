/* SPDX-License-Identifier: MIT */
/*
 * check.h - assertions for the multi-threaded stress tests, which do not
 * link cmocka so that cross-architecture runs can link them statically
 * (see tests/CMakeLists.txt). A failed check prints where and why and
 * aborts: the test fails, never skips.
 */
#ifndef IOPFQ_TEST_CHECK_H
#define IOPFQ_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK_FAIL(...)                                                        \
	do {                                                                   \
		fprintf(stderr, "%s:%d: check failed: ", __FILE__, __LINE__);  \
		fprintf(stderr, __VA_ARGS__);                                  \
		fprintf(stderr, "\n");                                         \
		abort();                                                       \
	} while (0)

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			CHECK_FAIL("%s", #cond);                               \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		unsigned long long check_a_ = (unsigned long long)(a);         \
		unsigned long long check_b_ = (unsigned long long)(b);         \
		if (check_a_ != check_b_)                                      \
			CHECK_FAIL("%s == %s (%llu != %llu)", #a, #b, check_a_, check_b_); \
	} while (0)

#endif
