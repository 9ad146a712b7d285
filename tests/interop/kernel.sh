#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# The kernels' verdict on the whole interop run: dom0's Linux must log no
# warning, bug or oops and Xen no failed assertion or panic.  Linux's
# blkback and blkfront WARN on some protocol misuse by their peer (a
# disconnect with requests in flight, for one) without failing any I/O,
# so a check can pass while its peer complained; this test catches that.
#
# usage: tests/interop/kernel.sh OUTDIR

logs=$1/share/logs
if [ ! -s "$logs/dmesg.log" ] || [ ! -s "$logs/xl-dmesg.log" ]; then
	echo "no kernel logs in $logs: the run did not finish"
	exit 1
fi
bad=0
if grep -n -E 'WARNING:|BUG:|Oops|Call Trace:|general protection|list_(add|del) corruption' \
    "$logs/dmesg.log"; then
	echo "dom0's kernel complained (above; whole log: $logs/dmesg.log)"
	bad=1
fi
if grep -n -E "Assertion '|Panic on CPU|FATAL" "$logs/xl-dmesg.log"; then
	echo "Xen complained (above; whole log: $logs/xl-dmesg.log)"
	bad=1
fi
[ $bad -eq 0 ] && echo "no warning from Linux or Xen"
exit $bad
