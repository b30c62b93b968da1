/* SPDX-License-Identifier: MIT */
/*
 * iopfq/abi.h - the fault-FD records, layout-identical to the merged
 * iommufd ABI (include/uapi/linux/iommufd.h, Linux 6.11+):
 *
 *   struct iommu_hwpt_pgfault       40 bytes, read() from the fault FD
 *   struct iommu_hwpt_page_response  8 bytes, write() to the fault FD
 *
 * A VMM that parses iommufd's fault FD parses ours with the same code: field
 * names, offsets, sizes, flag and code values are the kernel's. Only the
 * prefix differs (iopfq_ instead of iommu_) so that both headers can be
 * included in one translation unit. tests/abi/ compiles the two side by
 * side and asserts the same size and alignment of each record, the same
 * offset, size and alignment of every field and the same value of every
 * constant, against include/uapi/linux/iommufd.h of Linux 6.12.
 *
 * Usable from C and C++, kernel and userspace; includes only iopfq/types.h.
 */
#ifndef IOPFQ_ABI_H
#define IOPFQ_ABI_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* iommu_hwpt_pgfault.flags */
#define IOPFQ_PGFAULT_FLAGS_PASID_VALID (1u << 0)
#define IOPFQ_PGFAULT_FLAGS_LAST_PAGE (1u << 1)
#define IOPFQ_PGFAULT_FLAGS_ALL (IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE)

/* iommu_hwpt_pgfault.perm */
#define IOPFQ_PGFAULT_PERM_READ (1u << 0)
#define IOPFQ_PGFAULT_PERM_WRITE (1u << 1)
#define IOPFQ_PGFAULT_PERM_EXEC (1u << 2)
#define IOPFQ_PGFAULT_PERM_PRIV (1u << 3)
#define IOPFQ_PGFAULT_PERM_ALL                                               \
	(IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE |                    \
	 IOPFQ_PGFAULT_PERM_EXEC | IOPFQ_PGFAULT_PERM_PRIV)

/* iommu_hwpt_page_response.code: the only two codes user space may send */
#define IOPFQ_PAGE_RESP_SUCCESS 0u
#define IOPFQ_PAGE_RESP_INVALID 1u

/* PCIe limits of a page request */
#define IOPFQ_PASID_BITS 20
#define IOPFQ_PASID_MAX ((1u << IOPFQ_PASID_BITS) - 1)
#define IOPFQ_GRPID_BITS 9
#define IOPFQ_GRPID_MAX ((1u << IOPFQ_GRPID_BITS) - 1)

/**
 * struct iopfq_hwpt_pgfault - one page request as read from the fault FD
 * @flags: IOPFQ_PGFAULT_FLAGS_*
 * @dev_id: the device that faulted (several may share one fault FD)
 * @pasid: Process Address Space ID, meaningful when PASID_VALID is set
 * @grpid: Page Request Group Index (9 bits)
 * @perm: IOPFQ_PGFAULT_PERM_* access that faulted
 * @__reserved: always zero
 * @addr: faulting address
 * @length: a hint of the fault's extent; always written as zero
 * @cookie: names the group in the answer; the same on every record of a group
 */
struct iopfq_hwpt_pgfault {
	iopfq_u32 flags;
	iopfq_u32 dev_id;
	iopfq_u32 pasid;
	iopfq_u32 grpid;
	iopfq_u32 perm;
	iopfq_u32 __reserved;
	iopfq_u64 addr __attribute__((aligned(8)));
	iopfq_u32 length;
	iopfq_u32 cookie;
};

/**
 * struct iopfq_hwpt_page_response - one answer written to the fault FD
 * @cookie: the cookie of the group being answered
 * @code: IOPFQ_PAGE_RESP_SUCCESS or IOPFQ_PAGE_RESP_INVALID
 */
struct iopfq_hwpt_page_response {
	iopfq_u32 cookie;
	iopfq_u32 code;
};

#define IOPFQ_ABI_ASSERT_OFFSET(type, field, off)                              \
	IOPFQ_STATIC_ASSERT(__builtin_offsetof(struct type, field) == (off),     \
			    #type "." #field " must be at offset " #off)

IOPFQ_STATIC_ASSERT(sizeof(struct iopfq_hwpt_pgfault) == 40, "pgfault is 40 bytes");
IOPFQ_STATIC_ASSERT(__alignof__(struct iopfq_hwpt_pgfault) == 8, "pgfault is 8-aligned");
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_pgfault, flags, 0);
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_pgfault, dev_id, 4);
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_pgfault, pasid, 8);
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_pgfault, grpid, 12);
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_pgfault, perm, 16);
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_pgfault, __reserved, 20);
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_pgfault, addr, 24);
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_pgfault, length, 32);
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_pgfault, cookie, 36);

IOPFQ_STATIC_ASSERT(sizeof(struct iopfq_hwpt_page_response) == 8, "page_response is 8 bytes");
IOPFQ_STATIC_ASSERT(__alignof__(struct iopfq_hwpt_page_response) == 4, "page_response is 4-aligned");
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_page_response, cookie, 0);
IOPFQ_ABI_ASSERT_OFFSET(iopfq_hwpt_page_response, code, 4);

#ifdef __cplusplus
}
#endif

#endif /* IOPFQ_ABI_H */
