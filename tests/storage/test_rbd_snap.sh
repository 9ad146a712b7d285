#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: an RBD snapshot (rbd:POOL/IMAGE@SNAP) is served read-only:
# it reads as the image was when the snapshot was taken, not as the image
# is now, every write is refused, and the snapshot is unchanged after.

. "$(dirname "$0")/lib.sh"
ceph_need
m=$tmp/m
p=$(rbd_img snap 64M)
machine_start "$m" "$p"
"$stor_io" "$m" 2 xvda w:0:1M:1 w:8M:1M:1 f
rbd_ snap create xbd/snap@s1
# The image moves on after the snapshot.
"$stor_io" "$m" 2 xvda w:0:1M:2 f r:0:1M:2
kill -INT "$spid"
wait "$spid" || true

echo "--- the snapshot through xbd serve"
m2=$tmp/m2
machine_start "$m2" "rbd:xbd/snap@s1:conf=$conf"
"$stor_io" "$m2" 2 xvda r:0:1M:1 r:8M:1M:1 '!w:0:4K:3' '!w:8M:1M:3' \
    '!d:0:4M' r:0:1M:1
cmp <(rbd_range snap@s1 0 1M) <(pattern 0 1M 1)
echo "--- xbd run of the snapshot: reads only, and verifies"
"$xbd" run "rbd:xbd/snap@s1:conf=$conf" --seconds 1 >"$tmp/run.out" 2>&1 || {
	cat "$tmp/run.out"
	exit 1
}
grep '^result: ok' "$tmp/run.out"
echo "--- --destructive on a snapshot is refused, not run"
if "$xbd" run "rbd:xbd/snap@s1:conf=$conf" --destructive --seconds 1 \
    >"$tmp/run.out" 2>&1; then
	cat "$tmp/run.out"
	echo "a workload writing to a snapshot passed"
	exit 1
fi
cat "$tmp/run.out" | tail -n 3
cmp <(rbd_range snap@s1 0 1M) <(pattern 0 1M 1)
echo ok
