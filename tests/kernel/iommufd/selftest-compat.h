/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Force-included (-include) when building the kernel's
 * tools/testing/selftests/iommu against the UAPI headers of the same
 * Debian linux-source-6.12 tree: that tarball's selftests were updated past
 * its own UAPI. These names stand in for what the selftests expect:
 *  - IOMMU_GET_HW_INFO's input type (a union with out_data_type upstream)
 *    and its flag: this kernel refuses the flag, so the three get_hw_info
 *    tests that ask for a given type fail (selftest-known-failures);
 *  - the PASID-capable mock device flag: 0 makes that fixture variant use a
 *    plain mock device, so its tests run.
 */
#define IOMMU_HW_INFO_TYPE_DEFAULT 0
#define IOMMU_HW_INFO_FLAG_INPUT_TYPE (1 << 0)
#define in_data_type out_data_type
#define MOCK_FLAGS_DEVICE_PASID 0
#define MOCK_PASID_WIDTH 20
