#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: an NBD export of nbdkit behind the backend.  `xbd run`
# of an nbd+unix:// URI (memory plugin) and of an nbd:// URI (file
# plugin over TCP) runs its verified workload; through `xbd serve`, data
# written and flushed is in nbdkit's file, a discard reads back as zeros
# (the file plugin punches a hole) without touching its neighbours.

. "$(dirname "$0")/lib.sh"
nbd_need

echo "--- xbd run: memory plugin, Unix socket"
nbdkit_start "$tmp/mem.sock" memory 256M
"$xbd" run "nbd+unix:///?socket=$tmp/mem.sock" --destructive --seconds 2 \
    >"$tmp/run.out" 2>&1 || { cat "$tmp/run.out"; exit 1; }
grep -E '^(workload|verify):' "$tmp/run.out"
grep -q '^verify: .* 0 bad; 0 I/O errors' "$tmp/run.out"
grep -q '^result: ok' "$tmp/run.out"

echo "--- xbd run: file plugin, TCP, a named export"
truncate -s 64M "$tmp/disk.img"
port=$((20000 + RANDOM % 20000))
nbdkit -f -i 127.0.0.1 -p $port -e disk file "$tmp/disk.img" \
    >"$tmp/tcp.log" 2>&1 &
pids+=($!)
for i in $(seq 100); do
	nbdinfo --size "nbd://127.0.0.1:$port/disk" >/dev/null 2>&1 && break
	sleep 0.1
done
"$xbd" run "nbd://127.0.0.1:$port/disk" --destructive --seconds 2 \
    >"$tmp/run.out" 2>&1 || { cat "$tmp/run.out"; exit 1; }
grep -q '^result: ok' "$tmp/run.out"
# Only opened: the file is still there, as long as it was.
[ "$(stat -c %s "$tmp/disk.img")" -eq $((64 << 20)) ]

echo "--- flush and discard through xbd serve (file plugin)"
truncate -s 0 "$tmp/f.img"
truncate -s 32M "$tmp/f.img"
nbdkit_start "$tmp/f.sock" file "$tmp/f.img"
m=$tmp/m
machine_start "$m" "nbd+unix:///?socket=$tmp/f.sock"
"$stor_io" "$m" 2 xvda w:0:4M:1 w:4M:4M:2 f
cmp <(range "$tmp/f.img" 0 8M) <({ pattern 0 4M 1; pattern 4M 4M 2; })
echo "8 MiB written and flushed through xbd are in nbdkit's file"
"$stor_io" "$m" 2 xvda d:1M:1M f z:1M:1M r:0:1M:1 r:2M:2M:1 r:4M:4M:2
# The hole is in the file, not only in what xbd reads.
cmp <(range "$tmp/f.img" 1M 1M) <(range /dev/zero 0 1M)
echo "discard of 1 MiB: zeros in the file, neighbours intact"
echo ok
