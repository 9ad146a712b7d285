#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# The guests' kernels' verdict, as kernel.sh gives dom0's: every guest
# the interop run started (tests/interop/guest.sh) logged its console
# into logs/guests/, and none may show a warning, bug or oops, a crashed
# process, a device "disabled for further use" (blkfront gave up on a
# ring) or an I/O error, even where the guest's own checks passed.
#
# usage: tests/interop/guest-kernel.sh OUTDIR

share=$1/share
logs=$share/logs/guests
if [ ! -f "$share/results/guest_boot" ] &&
    [ ! -f "$share/results/guest_lifecycle" ] &&
    [ ! -f "$share/results/guest_xbd_blkback" ]; then
	echo "no guest check ran"
	exit 77
fi
set -- "$logs"/guest-*.log
if [ ! -s "$1" ]; then
	echo "no guest console log in $logs"
	exit 1
fi
bad=0
for f in "$@"; do
	if grep -n -E 'WARNING:|BUG:|Oops|Call Trace:|general protection|list_(add|del) corruption|segfault at|disabled for further use|I/O error' "$f"; then
		echo "the guest's kernel complained (above; whole log: $f)"
		bad=1
	else
		echo "$f: $(grep -c . "$f") lines, no warning"
	fi
done
exit $bad
