/* SPDX-License-Identifier: MIT */
/*
 * iopfq/types.h - fixed-width types for every iopfq header, from the
 * compiler's own predefined macros (GCC and Clang, kernel and userspace).
 *
 * May touch: nothing. Includes no header at all, so the ABI and API headers
 * can be used from freestanding core code, kernel code, C and C++.
 */
#ifndef IOPFQ_TYPES_H
#define IOPFQ_TYPES_H

typedef __UINT8_TYPE__ iopfq_u8;
typedef __UINT16_TYPE__ iopfq_u16;
typedef __UINT32_TYPE__ iopfq_u32;
typedef __UINT64_TYPE__ iopfq_u64;
typedef __INT32_TYPE__ iopfq_s32;
typedef __INT64_TYPE__ iopfq_s64;
typedef __SIZE_TYPE__ iopfq_size_t;
typedef __UINTPTR_TYPE__ iopfq_uptr;

#define IOPFQ_U32_MAX 0xffffffffu

#ifdef __cplusplus
#define IOPFQ_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define IOPFQ_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

IOPFQ_STATIC_ASSERT(sizeof(iopfq_u32) == 4, "u32");
IOPFQ_STATIC_ASSERT(sizeof(iopfq_u64) == 8, "u64");

#endif /* IOPFQ_TYPES_H */
