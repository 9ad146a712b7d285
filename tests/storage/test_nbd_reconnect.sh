#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: the NBD server killed and started again.  Back within
# --nbd-timeout, the backend reconnects and the writes that were waiting
# complete, nothing acknowledged lost; away longer, the I/O in flight
# fails after --nbd-timeout with a log line naming the server, and the
# backend still reconnects once it is back.

. "$(dirname "$0")/lib.sh"
nbd_need
sock=$tmp/n.sock
img=$tmp/n.img
truncate -s 32M "$img"
m=$tmp/m

echo "--- server away 3 s, --nbd-timeout 20: writes stall and go on"
nbdkit_start "$sock" file "$img"
machine_start "$m" "nbd+unix:///?socket=$sock" --nbd-timeout 20
"$stor_io" "$m" 2 xvda w:0:1M:1 f
kill -KILL "$npid"
wait "$npid" 2>/dev/null || true
"$stor_io" "$m" 2 xvda l:4M:8:256K:20 >"$tmp/l.out" 2>&1 &
loop=$!
sleep 3
[ "$(grep -c '^ack' "$tmp/l.out" || true)" -eq 0 ] || {
	echo "writes acknowledged with the server down:"
	cat "$tmp/l.out"
	exit 1
}
nbdkit_start "$sock" file "$img"
wait "$loop" || { cat "$tmp/l.out"; exit 1; }
tail -n 1 "$tmp/l.out"
head -c 1M "$img" | cmp - <(pattern 0 1M 1)
tail -c +$((4 * 1048576 + 1)) "$img" | head -c 2M |
    cmp - <(for i in $(seq 0 7); do pattern $((4 * 1048576 + i * 262144)) 256K $((20 + i)); done)
echo "reconnected: the 8 writes waiting completed, all data in the file"
kill -INT "$spid"
wait "$spid" || true

echo "--- server away 6 s, --nbd-timeout 2: I/O fails, then reconnects"
m=$tmp/m2
machine_start "$m" "nbd+unix:///?socket=$sock" --nbd-timeout 2
"$stor_io" "$m" 2 xvda w:8M:64K:30 f
kill -KILL "$npid"
wait "$npid" 2>/dev/null || true
t0=$(date +%s%N)
"$stor_io" "$m" 2 xvda '!w:9M:64K:31'
ms=$((($(date +%s%N) - t0) / 1000000))
echo "the write failed after $ms ms"
[ $ms -ge 1500 ] && [ $ms -lt 6000 ]
grep -m 1 -- "$sock" "$m.log.serve"
sleep 1
nbdkit_start "$sock" file "$img"
"$stor_io" "$m" 2 xvda w:10M:64K:32 f r:10M:64K:32 r:8M:64K:30
echo ok
