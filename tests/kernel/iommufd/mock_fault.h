/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The guest programs' common setup on the kernel's iommufd mock device
 * (CONFIG_IOMMUFD_TEST): /dev/iommu, an IOAS, a mock device, a nesting
 * parent, a fault object (its FD is the fault FD under test) and a
 * fault-enabled nested hwpt the device is switched to. The mock device's
 * IOMMU_TEST_OP_TRIGGER_IOPF then reports a single-page group (LAST_PAGE)
 * synchronously inside the ioctl.
 */
#ifndef MOCK_FAULT_H
#define MOCK_FAULT_H

#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"

struct mock_fault {
	int fd, ffd;	/* /dev/iommu, the fault FD */
	__u32 ioas, stdev, idev, parent, fault_id, iopf_hwpt;
};

static inline int mock_test_cmd(struct mock_fault *m, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(m->fd, IOMMU_TEST_CMD, cmd);
}

/* switches the mock device to the hwpt or IOAS pt */
static inline int mock_fault_attach(struct mock_fault *m, __u32 pt)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = m->stdev,
		.mock_domain_replace = { .pt_id = pt },
	};

	return mock_test_cmd(m, &cmd);
}

/* 0, or -1 with errno set and *what naming the step that failed */
static inline int mock_fault_setup(struct mock_fault *m, const char **what)
{
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_test_cmd mock = { .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	struct iommu_hwpt_alloc parent = { .size = sizeof(parent) };
	struct iommu_fault_alloc fault = { .size = sizeof(fault) };
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc nested = { .size = sizeof(nested) };

	memset(m, 0, sizeof(*m));
	m->ffd = -1;
	*what = "open /dev/iommu";
	m->fd = open("/dev/iommu", O_RDWR);
	if (m->fd < 0)
		return -1;
	*what = "IOMMU_IOAS_ALLOC";
	if (ioctl(m->fd, IOMMU_IOAS_ALLOC, &ioas))
		return -1;
	m->ioas = ioas.out_ioas_id;
	mock.id = m->ioas;
	*what = "IOMMU_TEST_OP_MOCK_DOMAIN";
	if (mock_test_cmd(m, &mock))
		return -1;
	m->stdev = mock.mock_domain.out_stdev_id;
	m->idev = mock.mock_domain.out_idev_id;
	parent.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	parent.dev_id = m->idev;
	parent.pt_id = m->ioas;
	*what = "IOMMU_HWPT_ALLOC (nesting parent)";
	if (ioctl(m->fd, IOMMU_HWPT_ALLOC, &parent))
		return -1;
	m->parent = parent.out_hwpt_id;
	*what = "IOMMU_FAULT_QUEUE_ALLOC";
	if (ioctl(m->fd, IOMMU_FAULT_QUEUE_ALLOC, &fault))
		return -1;
	m->fault_id = fault.out_fault_id;
	m->ffd = fault.out_fault_fd;
	nested.flags = IOMMU_HWPT_FAULT_ID_VALID;
	nested.dev_id = m->idev;
	nested.pt_id = m->parent;
	nested.data_type = IOMMU_HWPT_DATA_SELFTEST;
	nested.data_len = sizeof(data);
	nested.data_uptr = (__u64)(unsigned long)&data;
	nested.fault_id = m->fault_id;
	*what = "IOMMU_HWPT_ALLOC (fault-enabled)";
	if (ioctl(m->fd, IOMMU_HWPT_ALLOC, &nested))
		return -1;
	m->iopf_hwpt = nested.out_hwpt_id;
	*what = "IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE";
	return mock_fault_attach(m, m->iopf_hwpt);
}

static inline void mock_fault_teardown(struct mock_fault *m)
{
	if (m->ffd >= 0)
		close(m->ffd);
	if (m->fd >= 0)
		close(m->fd);
}

/* the address a group's page is reported at */
static inline __u64 mock_fault_addr(__u32 grpid)
{
	return 0x100000ull + (__u64)grpid * 4096;
}

/* reports one single-page group of the mock device */
static inline int mock_fault_trigger(struct mock_fault *m, __u32 grpid, __u32 perm)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf = {
			.dev_id = m->idev,
			.grpid = grpid,
			.perm = perm,
			.addr = mock_fault_addr(grpid),
		},
	};

	return mock_test_cmd(m, &cmd);
}

#endif
