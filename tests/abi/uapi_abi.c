// SPDX-License-Identifier: MIT
/*
 * uapi_abi.c - iopfq/abi.h against the real iommufd UAPI header
 * (include/uapi/linux/iommufd.h of Linux 6.12, the first Debian kernel
 * source with the fault FD): the same size and alignment of both records,
 * the same offset, size and alignment of every field, the same value of
 * every constant. Compiled by tests/abi/run.sh with that header first on
 * the include path; everything is checked at compile time, so building it
 * is the test. -DIOPFQ_ABI_SELFTEST_BREAK makes one check false, which must
 * fail the build (run.sh verifies that, so the checks cannot go dead).
 */
#include <stddef.h>
#include <stdio.h>

#include <linux/iommufd.h>

#include <iopfq/abi.h>

#define SAME(a, b) _Static_assert((a) == (b), #a " == " #b)

/* offset, size and alignment of field @f in both records of kind @k */
#define SAME_FIELD(k, f)                                                      \
	SAME(offsetof(struct iommu_##k, f), offsetof(struct iopfq_##k, f));     \
	SAME(sizeof(((struct iommu_##k *)0)->f), sizeof(((struct iopfq_##k *)0)->f)); \
	SAME(__alignof__(((struct iommu_##k *)0)->f), __alignof__(((struct iopfq_##k *)0)->f))

#define SAME_RECORD(k)                                                        \
	SAME(sizeof(struct iommu_##k), sizeof(struct iopfq_##k));               \
	SAME(__alignof__(struct iommu_##k), __alignof__(struct iopfq_##k))

SAME_RECORD(hwpt_pgfault);
SAME_FIELD(hwpt_pgfault, flags);
SAME_FIELD(hwpt_pgfault, dev_id);
SAME_FIELD(hwpt_pgfault, pasid);
SAME_FIELD(hwpt_pgfault, grpid);
SAME_FIELD(hwpt_pgfault, perm);
SAME_FIELD(hwpt_pgfault, __reserved);
SAME_FIELD(hwpt_pgfault, addr);
SAME_FIELD(hwpt_pgfault, length);
SAME_FIELD(hwpt_pgfault, cookie);

SAME_RECORD(hwpt_page_response);
SAME_FIELD(hwpt_page_response, cookie);
SAME_FIELD(hwpt_page_response, code);

SAME(IOPFQ_PGFAULT_FLAGS_PASID_VALID, IOMMU_PGFAULT_FLAGS_PASID_VALID);
SAME(IOPFQ_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_LAST_PAGE);
SAME(IOPFQ_PGFAULT_FLAGS_ALL, IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE);
SAME(IOPFQ_PGFAULT_PERM_READ, IOMMU_PGFAULT_PERM_READ);
SAME(IOPFQ_PGFAULT_PERM_WRITE, IOMMU_PGFAULT_PERM_WRITE);
SAME(IOPFQ_PGFAULT_PERM_EXEC, IOMMU_PGFAULT_PERM_EXEC);
SAME(IOPFQ_PGFAULT_PERM_PRIV, IOMMU_PGFAULT_PERM_PRIV);
SAME(IOPFQ_PGFAULT_PERM_ALL, IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE |
				     IOMMU_PGFAULT_PERM_EXEC | IOMMU_PGFAULT_PERM_PRIV);
SAME(IOPFQ_PAGE_RESP_SUCCESS, IOMMUFD_PAGE_RESP_SUCCESS);
SAME(IOPFQ_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_INVALID);

#ifdef IOPFQ_ABI_SELFTEST_BREAK
SAME(IOPFQ_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_PASID_VALID);
#endif

int main(void)
{
	printf("abi: struct iopfq_hwpt_pgfault (%zu bytes, 9 fields), struct "
	       "iopfq_hwpt_page_response (%zu bytes, 2 fields) and 10 constants equal "
	       "the kernel's\n",
	       sizeof(struct iopfq_hwpt_pgfault), sizeof(struct iopfq_hwpt_page_response));
	return 0;
}
