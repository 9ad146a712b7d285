#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The CTest fixture of the RBD tests: `fixture.sh start DIR` starts the
# single-node cluster in DIR (scripts/ceph-cluster.sh) and `fixture.sh
# stop DIR` removes it.  A cluster that cannot start here (packages
# missing) is not a failure of the fixture: the reason goes to DIR.skip,
# and each RBD test exits 77 printing it.  A cluster that should start
# but does not fails the fixture, with the daemons' logs.

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
dir=$2
case $1 in
start)
	# What an interrupted run left behind.
	"$top/scripts/ceph-cluster.sh" stop "$dir"
	rm -f "$dir.skip"
	mkdir -p "$(dirname "$dir")"
	"$top/scripts/ceph-cluster.sh" start "$dir" 2>"$dir.err"
	rc=$?
	cat "$dir.err"
	if [ $rc -eq 77 ]; then
		tail -n 1 "$dir.err" >"$dir.skip"
		exit 0
	fi
	exit $rc
	;;
stop)
	"$top/scripts/ceph-cluster.sh" stop "$dir"
	rm -f "$dir.skip" "$dir.err"
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
