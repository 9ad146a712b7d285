#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: the NBD server killed under a connected vbd and started
# again.  Back within --nbd-timeout, the backend reconnects and the
# writes that were waiting complete, nothing acknowledged lost; away
# longer, the I/O in flight fails after --nbd-timeout with a log line
# naming the server, and the backend still reconnects once it is back.
# The frontend stays attached throughout (one stor_io), as a guest would.

. "$(dirname "$0")/lib.sh"
nbd_need
sock=$tmp/n.sock
img=$tmp/n.img
truncate -s 32M "$img"
server_kill() {
	kill -KILL "$npid"
	wait "$npid" 2>/dev/null || true
}

echo "--- server away 3 s, --nbd-timeout 20: writes stall and go on"
nbdkit_start "$sock" file "$img"
m=$tmp/m
machine_start "$m" "nbd+unix:///?socket=$sock" --nbd-timeout 20
"$stor_io" "$m" 2 xvda w:0:1M:1 f p:1000 l:4M:8:256K:20 >"$tmp/l.out" 2>&1 &
io=$!
pids+=($io)
wait_line '^f: ok' "$tmp/l.out" 20
server_kill
sleep 3
if grep -q '^ack' "$tmp/l.out"; then
	echo "writes acknowledged with the server down:"
	cat "$tmp/l.out"
	exit 1
fi
nbdkit_start "$sock" file "$img"
wait "$io" || { cat "$tmp/l.out"; exit 1; }
grep longest "$tmp/l.out"
cmp <(range "$img" 0 1M) <(pattern 0 1M 1)
for i in $(seq 0 7); do
	pattern $((4 * 1048576 + i * 262144)) 256K $((20 + i))
done >"$tmp/expected"
cmp <(range "$img" 4M 2M) "$tmp/expected"
echo "reconnected: the 8 writes waiting completed, all data in the file"
kill -INT "$spid"
wait "$spid" || true

echo "--- server away 6 s, --nbd-timeout 2: I/O fails, then reconnects"
m=$tmp/m2
machine_start "$m" "nbd+unix:///?socket=$sock" --nbd-timeout 2
"$stor_io" "$m" 2 xvda w:8M:64K:30 f p:500 '!w:9M:64K:31' p:3000 \
    w:10M:64K:32 f r:10M:64K:32 r:8M:64K:30 >"$tmp/t.out" 2>&1 &
io=$!
pids+=($io)
wait_line '^f: ok' "$tmp/t.out" 20
server_kill
t0=$(date +%s%N)
wait_line '^!w:9M:64K:31: ' "$tmp/t.out" 20
ms=$((($(date +%s%N) - t0) / 1000000))
echo "the write failed after $ms ms: $(grep '^!w' "$tmp/t.out")"
[ $ms -ge 1500 ] && [ $ms -lt 6000 ]
grep -m 1 -- "$sock" "$m.log.serve"
nbdkit_start "$sock" file "$img"
wait "$io" || { cat "$tmp/t.out"; exit 1; }
echo "reconnected: written and read back after the server came back"
echo ok
