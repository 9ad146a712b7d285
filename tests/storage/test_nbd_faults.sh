#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: faults of the NBD server, injected with nbdkit's filters.
# error: while the trigger file exists writes fail with EIO, reads still
# work, and the backend logs the error naming the target; once it is
# gone writes work again, and data written before is intact.  delay: a
# server slower than usual but within --nbd-timeout serves correct data;
# one that does not answer within it fails the I/O, with a log line.

. "$(dirname "$0")/lib.sh"
nbd_need

echo "--- error filter"
sock=$tmp/err.sock
nbdkit_start "$sock" --filter=error memory 32M error=EIO \
    error-pwrite-rate=100% error-file="$tmp/trigger"
m=$tmp/m
machine_start "$m" "nbd+unix:///?socket=$sock"
"$stor_io" "$m" 2 xvda w:0:1M:1 f
touch "$tmp/trigger"
"$stor_io" "$m" 2 xvda '!w:1M:64K:2' r:0:1M:1 '!w:0:4K:3'
grep -m 1 -- "$sock" "$m.log.serve"
rm "$tmp/trigger"
"$stor_io" "$m" 2 xvda w:1M:64K:4 f r:1M:64K:4 r:4K:1020K:1
echo "writes failed while the trigger existed, and work again"
kill -INT "$spid"
wait "$spid" || true
kill "$npid"
wait "$npid" || true

echo "--- delay filter: 300 ms per write, --nbd-timeout 5"
sock=$tmp/d.sock
nbdkit_start "$sock" --filter=delay memory 32M wdelay=300ms
m=$tmp/m2
machine_start "$m" "nbd+unix:///?socket=$sock" --nbd-timeout 5
"$stor_io" "$m" 2 xvda l:0:4:64K:10 r:0:64K:10 r:192K:64K:13 >"$tmp/l.out"
cat "$tmp/l.out"
# Each write went through the delay: its write+flush took 0.3 s at least.
awk '/^longest/ { exit !($3 >= 0.3) }' "$tmp/l.out"
kill -INT "$spid"
wait "$spid" || true
kill "$npid"
wait "$npid" || true

echo "--- delay filter: 8 s per read, --nbd-timeout 2"
sock=$tmp/s.sock
nbdkit_start "$sock" --filter=delay memory 32M rdelay=8
m=$tmp/m3
machine_start "$m" "nbd+unix:///?socket=$sock" --nbd-timeout 2
"$stor_io" "$m" 2 xvda w:0:64K:1 f
t0=$(date +%s%N)
# Bounded, so that a read that never fails is a failure of this test,
# not a CTest timeout.
timeout 30 "$stor_io" "$m" 2 xvda '!r:0:64K:1' || {
	echo "the read did not fail within 30 s"
	exit 1
}
ms=$((($(date +%s%N) - t0) / 1000000))
echo "the read failed after $ms ms"
[ $ms -lt 7000 ]
grep -m 1 -- "$sock" "$m.log.serve"
echo ok
