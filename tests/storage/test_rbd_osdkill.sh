#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: the OSD killed (SIGKILL) while writes run through the
# backend, and started again 5 s later.  The writes stall (or fail with
# an error the backend logs, naming the image) while it is down, and go
# on once it is back; nothing acknowledged is lost: the data written
# before and every chunk acknowledged during the run read back, through
# xbd and through `rbd export`.

. "$(dirname "$0")/lib.sh"
ceph_need
cluster=$XBD_SRC/scripts/ceph-cluster.sh
restart_osd() {
	"$cluster" start-osd "$XBD_CEPH_DIR" >/dev/null 2>&1 || true
}
m=$tmp/m
# 8 MiB, then 48 chunks of 512 KiB from 16 MiB, each written and flushed,
# by one frontend attached throughout.
n=48
p=$(rbd_img osdkill 64M)
machine_start "$m" "$p"
io_bg "$m" 2 xvda "$tmp/loop.out" w:0:4M:1 w:4M:4M:1 f "l:16M:$n:512K:100" \
    r:0:4M:1 r:4M:4M:1

wait_line '^ack 4$' "$tmp/loop.out" 30
"$cluster" kill-osd "$XBD_CEPH_DIR"
trap 'restart_osd; stor_cleanup' EXIT
before=$(grep -c '^ack' "$tmp/loop.out")
sleep 5
during=$(grep -c '^ack' "$tmp/loop.out")
echo "OSD down for 5 s: $((during - before)) chunks acknowledged meanwhile"
# One chunk may have been on its way to the client when the OSD died.
[ $((during - before)) -le 1 ]
t0=$(date +%s)
"$cluster" start-osd "$XBD_CEPH_DIR"
echo "OSD up again in $(($(date +%s) - t0)) s"
trap stor_cleanup EXIT
if wait "$io"; then
	echo "stalled and recovered: $(grep -c '^ack' "$tmp/loop.out") of $n" \
	    "chunks acknowledged; $(grep longest "$tmp/loop.out")"
	acked=$n
else
	# Failing is allowed, if clearly: the backend says which image.
	cat "$tmp/loop.out"
	grep -i 'osdkill' "$m.log.serve"
	acked=$(grep -c '^ack' "$tmp/loop.out")
	echo "failed clearly after $acked chunks"
fi

echo "--- nothing acknowledged lost"
ops=(r:0:4M:1 r:4M:4M:1)
for i in $(seq 0 $((acked - 1))); do
	ops+=("r:$((16 * 1024 * 1024 + i * 524288)):512K:$((100 + i))")
done
# Through xbd, and from the cluster by another client.
"$stor_io" "$m" 2 xvda w:12M:4K:7 f "${ops[@]}" >/dev/null
cmp <(rbd_range osdkill 0 8M) <(pattern 0 8M 1)
for i in $(seq 0 $((acked - 1))); do
	pattern $((16 * 1024 * 1024 + i * 524288)) 512K $((100 + i))
done >"$tmp/expected"
cmp <(range "$tmp/export.img" 16M $((acked * 524288))) "$tmp/expected"
echo "ok: 8 MiB before and $acked chunks during the kill read back"
