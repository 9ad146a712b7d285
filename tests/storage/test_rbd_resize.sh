#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: the size of an RBD vbd comes from the image and follows
# `rbd resize` while it is served and attached: the frontend, attached
# throughout, sees the new size and the backend publishes it (sectors),
# a block past the old end is written and read back, and a shrink is
# followed too, with the data below the new end intact.

. "$(dirname "$0")/lib.sh"
ceph_need
m=$tmp/m
p=$(rbd_img resize 64M)
machine_start "$m" "$p"
sectors() {
	XENSTORED_PATH=$m/socket xenstore-read "$(vbd_be 2 51712)/sectors"
}
io_bg "$m" 2 xvda "$tmp/io.out" s:64M w:60M:4M:1 f '!w:64M:4K:2' i \
    s:128M w:124M:4M:3 f r:124M:4M:3 r:60M:4M:1 i s:64M r:60M:4M:1 \
    '!r:124M:4K:3' i
wait_line '^!w:64M:4K:2: ' "$tmp/io.out" 30
[ "$(sectors)" -eq $((64 * 2048)) ]
t0=$(date +%s%N)
rbd_ resize --no-progress xbd/resize --size 128M
io_go
wait_line '^s:128M: ok' "$tmp/io.out" 30
echo "grown to 128 MiB, seen in $((($(date +%s%N) - t0) / 1000000)) ms"
wait_line '^r:60M:4M:1: ok' "$tmp/io.out" 30
[ "$(sectors)" -eq $((128 * 2048)) ]
cmp <(rbd_range resize 124M 4M) <(pattern 124M 4M 3)
rbd_ resize --no-progress xbd/resize --size 64M --allow-shrink
io_go
wait_line '^!r:124M:4K:3: ' "$tmp/io.out" 30
[ "$(sectors)" -eq $((64 * 2048)) ]
io_go
wait "$io" || { cat "$tmp/io.out"; exit 1; }
cat "$tmp/io.out"
# One attachment saw both changes: no reconnect made it see them.
[ "$(grep -c 'connected:' "$m.log.serve")" -eq 1 ]
echo "ok: grown and shrunk online, data below the end intact"
