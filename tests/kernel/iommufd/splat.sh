#!/usr/bin/env bash
# Finds kernel splats in a guest's console log: BUG: (KASAN reports
# included), WARNING:, Oops, general protection faults, UBSAN, refcount_t
# and list corruption, lockdep reports ("possible ... locking", inconsistent
# lock state), sleeping in atomic context, hung tasks, DEBUG_OBJECTS reports.
# Usage: splat.sh LOG          prints the first 5 splat lines; exit 1 if any
#        splat.sh --self-test  checks the pattern against known splat lines
#                              and clean boot lines of the debug kernel
set -uo pipefail
re='BUG:|WARNING:|Oops|general protection|UBSAN|refcount_t|list_add corruption|list_del corruption|possible .*locking|inconsistent lock state|sleeping function called|blocked for more than|ODEBUG: .*object'

if [ "${1:-}" = --self-test ]; then
	bad=0
	while IFS= read -r line; do
		printf '%s\n' "$line" | grep -qE "$re" || { echo "splat.sh: missed: $line"; bad=1; }
	done <<'SPLATS'
[   12.1] BUG: KASAN: slab-use-after-free in iommufd_fault_fops_write+0x1/0x2
[   12.1] WARNING: CPU: 0 PID: 1 at drivers/iommu/iommufd/fault.c:50 iommufd_fault_iopf_disable+0x1/0x2
[   12.1] WARNING: possible circular locking dependency detected
[   12.1] WARNING: possible recursive locking detected
[   12.1] WARNING: inconsistent lock state
[   12.1] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:585
[   12.1] INFO: task fault_path:77 blocked for more than 30 seconds.
[   12.1] list_add corruption. prev->next should be next (ffff), but was 0000.
[   12.1] ODEBUG: free active (active state 0) object: ffff object type: hrtimer_sleeper hint: 0x0
[   12.1] Oops: general protection fault, probably for non-canonical address 0xdead: 0000 [#1]
SPLATS
	while IFS= read -r line; do
		printf '%s\n' "$line" | grep -qE "$re" && { echo "splat.sh: false alarm: $line"; bad=1; }
	done <<'CLEAN'
[    0.000000] kasan: KernelAddressSanitizer initialized
[    0.000000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar
[    3.992168] pci 0000:00:02.0: vgaarb: bridge control possible
ST iommufd: ok 80 iommufd_ioas.two_mock_domain.ioas_option_huge_pages
CASE cookie_zero: FAIL: record of group 6 carries cookie 0
CLEAN
	[ $bad = 0 ] && echo "splat.sh: self-test passed"
	exit $bad
fi

log=${1:?usage: $0 LOG | --self-test}
found=$(grep -m5 -E "$re" "$log")
[ -z "$found" ] && exit 0
printf '%s\n' "$found"
exit 1
