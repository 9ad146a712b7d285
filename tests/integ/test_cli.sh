#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: the xbd command.  Help and usage errors with their exit
# codes; `xbd run` (the main job) end to end; `xbd bench` JSON; and the
# multi-process walk-through of the README: `xbd hv`, `xbd serve`,
# `xbd attach`, `xbd stat`, with Xen's own xenstore-ls looking on, and
# the vbd following its frontend domain as it dies and comes back.

set -euo pipefail
. "$(dirname "$0")/machine.sh"
xbd=$XBD_BUILD/tools/xbd/xbd
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
unset XBD_VERBOSE

echo "--- help and usage"
grep -q 'run ' < <("$xbd" --help)
for c in run bench hv serve attach stat xenstored; do
	"$xbd" "$c" --help >/dev/null
done
set +e
"$xbd" nosuchcommand 2>/dev/null; [ $? -eq 2 ] || exit 1
"$xbd" run --qd 0 2>/dev/null; [ $? -eq 2 ] || exit 1
"$xbd" bench --bs 100 2>/dev/null; [ $? -eq 2 ] || exit 1
"$xbd" attach 2>/dev/null; [ $? -eq 2 ] || exit 1
"$xbd" serve --dir "$tmp" --domid 1 --resize-poll soon 2>/dev/null; [ $? -eq 2 ] || exit 1
"$xbd" run /nonexistent/image 2>/dev/null; [ $? -eq 1 ] || exit 1
set -e

echo "--- xbd run"
"$xbd" run --size 64M --seconds 1 >"$tmp/run.out" 2>"$tmp/run.err"
cat "$tmp/run.out" | head -3
grep -q '^xbd0: 64MB <Virtual Block Device>.*features: ' "$tmp/run.out"
grep -q ' 0 bad; 0 I/O errors' "$tmp/run.out"
grep -q '^result: ok' "$tmp/run.out"
"$xbd" run --size 64M --seconds 1 --no-indirect --no-persistent \
    --ring-pages 1 --json >"$tmp/run2.out" 2>/dev/null
grep -q '"max_request_size":40960' "$tmp/run2.out"
grep -q '^result: ok' "$tmp/run2.out"

echo "--- xbd bench"
"$xbd" bench --runtime 1 --ramp 0 --size 64M --json >"$tmp/bench.json"
cat "$tmp/bench.json"
jq -e '.iops > 0 and .errors == 0 and .copies_per_byte <= 1' \
    "$tmp/bench.json" >/dev/null
"$xbd" bench --runtime 1 --ramp 0 --size 64M --rw randrw --verify \
    >/dev/null

echo "--- multi-process: hv, serve, attach, stat"
m=$tmp/m
truncate -s 128M "$tmp/disk.img"
machine_start "$m" "$tmp/disk.img" --resize-poll 100
# attach_bg LOG [OPTION...]: `xbd attach` as domain 2 in the background
# ($apid); returns once it holds the disk.
attach_bg() {
	local log=$1 i
	shift
	"$xbd" attach --dir "$m" --domid 2 "$@" xvda >"$log" 2>&1 &
	apid=$!
	pids+=($apid)
	for i in $(seq 100); do
		grep -q 'attached; SIGINT' "$log" && break
		sleep 0.1
	done
}
# attach LOG: the same with a verified workload, which must be clean.
attach() {
	attach_bg "$1" --workload 1
	cat "$1"
	grep -q ' 0 bad, 0 errors' "$1"
}
attach "$tmp/attach.log"
XENSTORED_PATH=$m/socket xenstore-ls -f /local/domain/1/backend >"$tmp/ls"
grep -q 'backend/vbd/2/51712/state = "4"' "$tmp/ls"
XENSTORED_PATH=$m/socket xenstore-read /local/domain/2/device/vbd/51712/state |
    grep -qx 4
grep -q 'dev.xbd0.state: connected' < <("$xbd" stat --dir "$m" --domid 2 xvda)
"$xbd" stat --dir "$m" --json | jq -e '.stats.errors == 0' >/dev/null

echo "--- the image grows under the attached disk"
# Nobody asks: serve's size poll notices and the frontend follows.
truncate -s 256M "$tmp/disk.img"
for i in $(seq 50); do
	"$xbd" stat --dir "$m" --domid 2 xvda | grep -qx 'dev.xbd0.sectors: 524288' &&
	    break
	sleep 0.1
done
"$xbd" stat --dir "$m" --domid 2 xvda | grep -x 'dev.xbd0.sectors: 524288'
grep -q 'resized to 524288 sectors' "$m.log.serve"
kill -INT $apid
wait $apid
grep -q 'xbd0: detached' "$tmp/attach.log"

echo "--- the frontend domain dies and comes back"
# Its process was the domain: with it gone the toolstack (xbd serve)
# removes the vbd, and creates it again for the next domain 2.
be=/local/domain/1/backend/vbd/2/51712
vbd_gone() {
	local i
	for i in $(seq 100); do
		XENSTORED_PATH=$m/socket xenstore-exists "$be" 2>/dev/null ||
			return 0
		sleep 0.1
	done
	echo "stale vbd left:"
	cat "$m.log.serve"
	return 1
}
vbd_gone
attach "$tmp/attach2.log"
# A frontend killed outright is the same to the toolstack.
kill -KILL $apid
wait $apid || true
vbd_gone
"$xbd" attach --dir "$m" --domid 2 --workload 1 --once xvda \
    >"$tmp/attach3.log" 2>&1
grep -q ' 0 bad, 0 errors' "$tmp/attach3.log"

echo "--- SIGINT detaches, whichever thread the kernel hands it to"
# The process has the library's event thread and the statistics thread
# besides the main one; a handler run on either used to leave the main
# thread paused and the disk attached.
for i in $(seq 10); do
	vbd_gone
	attach_bg "$tmp/sig.log"
	spid=$apid
	kill -INT $spid
	for j in $(seq 50); do
		kill -0 $spid 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 $spid 2>/dev/null; then
		echo "SIGINT did not detach (round $i)"
		exit 1
	fi
	wait $spid
	grep -q 'xbd0: detached' "$tmp/sig.log"
done
grep -q 'domain 2 is gone; vbd removed' "$m.log.serve"
grep -q 'domain 2 is back; vbd created' "$m.log.serve"
echo "ok"
