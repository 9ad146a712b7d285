#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: an RBD image behind the backend.  `xbd run` of an rbd:
# params string runs its verified workload on the image and leaves the
# image there; through `xbd serve`, data written and flushed is what
# another Ceph client (`rbd export`) reads from the cluster, a discard of
# whole objects deallocates them (`rbd diff`) and reads back as zeros,
# and a discard inside an object leaves its neighbours intact.

. "$(dirname "$0")/lib.sh"
ceph_need

echo "--- xbd run: verified workload on an existing image"
p=$(rbd_img io_run 256M)
"$xbd" run "$p" --destructive --seconds 3 >"$tmp/run.out" 2>&1 || {
	cat "$tmp/run.out"
	exit 1
}
grep -E '^(workload|verify|result):' "$tmp/run.out"
grep -q '^verify: .* 0 bad; 0 I/O errors' "$tmp/run.out"
grep -q '^result: ok' "$tmp/run.out"
# xbd run only opened it: the image is still there, with what was written.
rbd_ info xbd/io_run >/dev/null
[ "$(rbd_ diff xbd/io_run | wc -l)" -gt 1 ]

echo "--- flush: data acknowledged is in the cluster"
m=$tmp/m
p=$(rbd_img io_sem 64M)
machine_start "$m" "$p"
"$stor_io" "$m" 2 xvda w:0:4M:1 w:4M:4M:2 w:8M:4M:3 f r:0:4M:1
# Another client of the cluster, while the backend holds the image.
rbd_range io_sem 0 12M >"$tmp/exported"
{ pattern 0 4M 1; pattern 4M 4M 2; pattern 8M 4M 3; } >"$tmp/expected"
cmp "$tmp/exported" "$tmp/expected"
echo "12 MiB written and flushed through xbd read back by rbd export"

echo "--- discard: whole objects are deallocated and read as zeros"
rbd_ diff xbd/io_sem --format json | grep -q '"offset":4194304'
"$stor_io" "$m" 2 xvda d:4M:4M f z:4M:4M r:0:4M:1 r:8M:4M:3
if rbd_ diff xbd/io_sem --format json | grep -q '"offset":4194304'; then
	echo "object 1 (4M..8M) still allocated after its discard:"
	rbd_ diff xbd/io_sem
	exit 1
fi
echo "--- discard inside an object: its neighbours are intact"
"$stor_io" "$m" 2 xvda d:64K:64K f r:0:64K:1 r:128K:64K:1 r:8M:4M:3
cmp <(rbd_range io_sem 0 64K) <(pattern 0 64K 1)
echo ok
