#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: the size of an RBD vbd comes from the image and follows
# `rbd resize` while it is served: the frontend sees the new size, a
# block past the old end is written and read back, and a shrink is
# followed too, with the data below the new end intact.

. "$(dirname "$0")/lib.sh"
ceph_need
m=$tmp/m
p=$(rbd_img resize 64M)
machine_start "$m" "$p"
"$stor_io" "$m" 2 xvda s:64M w:60M:4M:1 f '!w:64M:4K:2'
t0=$(date +%s%N)
rbd_ resize xbd/resize --size 128M
"$stor_io" "$m" 2 xvda s:128M
echo "grown to 128 MiB, seen in $((($(date +%s%N) - t0) / 1000000)) ms"
"$stor_io" "$m" 2 xvda w:124M:4M:3 f r:124M:4M:3 r:60M:4M:1
cmp <(rbd_range resize 124M 4M) <(pattern 124M 4M 3)
rbd_ resize xbd/resize --size 64M --allow-shrink
"$stor_io" "$m" 2 xvda s:64M r:60M:4M:1 '!r:124M:4K:3'
echo "shrunk to 64 MiB, data below the end intact"
[ "$(XENSTORED_PATH=$m/socket xenstore-read "$(vbd_be 2 51712)/sectors")" = \
    $((64 * 2048)) ]
echo ok
