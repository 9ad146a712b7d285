#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# One interop check's verdict, as a CTest test of its own: print the
# check's log from dom0 and exit 0 (pass), 77 (skipped) or 1 (failed or
# never ran).
#
# usage: tests/interop/result.sh OUTDIR CHECK

out=$1 c=$2
v=$(cat "$out/share/results/$c" 2>/dev/null || echo "no result")
echo "interop check $c: $v"
[ -f "$out/share/logs/$c.log" ] && grep -v '^dev\.xbd' "$out/share/logs/$c.log"
case $v in
pass) exit 0 ;;
skip) exit 77 ;;
*) exit 1 ;;
esac
