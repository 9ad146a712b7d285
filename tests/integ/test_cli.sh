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
machine_start "$m" "$tmp/disk.img"
# attach_until PATTERN LOG [OPTION...]: `xbd attach` as domain 2 in the
# background ($apid); returns once LOG has PATTERN (10 s at most).
attach_until() {
	local pat=$1 log=$2 i
	shift 2
	"$xbd" attach --dir "$m" --domid 2 "$@" xvda >"$log" 2>&1 &
	apid=$!
	pids+=($apid)
	for i in $(seq 100); do
		grep -q "$pat" "$log" && break
		sleep 0.1
	done
}
# attach_bg LOG [OPTION...]: returns once it holds the disk.
attach_bg() {
	attach_until 'attached; SIGINT' "$@"
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

echo "--- a domain that joins and leaves at once does not lock out the next"
# A frontend that fails right after joining (bad option here) makes the
# toolstack create the vbd while the domain is already being destroyed;
# that used to leave /local/domain/2/device/vbd owned by dom0, and every
# later attach of domain 2 failed with "Permission denied".
for i in $(seq 100); do
	"$xbd" attach --dir "$m" --domid 2 --once xvda >"$tmp/lo.log" 2>&1 ||
		{ echo "lockout (round $i):"; cat "$tmp/lo.log"; exit 1; }
	set +e
	"$xbd" attach --dir "$m" --domid 2 --ring-pages 0 xvda 2>/dev/null
	set -e
done
# bench --dir waits for the re-created vbd as attach does.
"$xbd" bench --dir "$m" --domid 2 --runtime 0.2 --ramp 0 >/dev/null

echo "--- a second frontend for a held vbd is refused at once"
attach_bg "$tmp/hold.log"
hpid=$apid
grep -q 'attached; SIGINT' "$tmp/hold.log" ||
	{ echo "the holder did not attach:"; cat "$tmp/hold.log"; exit 1; }
for i in $(seq 100); do
	set +e
	timeout 10 "$xbd" attach --dir "$m" --domid 2 --once xvda \
	    >/dev/null 2>"$tmp/dup.err"
	rc=$?
	set -e
	if [ $rc -ne 1 ]; then
		echo "second attach (round $i): exit $rc"
		cat "$tmp/dup.err" "$tmp/hold.log" "$m.log.serve"
		exit 1
	fi
	grep -q "xbd attach: xvda of domain 2 is held by pid $hpid (xbd attach)" \
	    "$tmp/dup.err"
done
set +e
timeout 10 "$xbd" bench --dir "$m" --domid 2 --runtime 1 2>"$tmp/dup.err"
rc=$?
set -e
[ $rc -eq 1 ] || { echo "second bench: exit $rc"; exit 1; }
grep -q "held by pid $hpid (xbd attach)" "$tmp/dup.err"
# The holder still works, and once it is gone the vbd is free again.
grep -q 'dev.xbd0.state: connected' < <("$xbd" stat --dir "$m" --domid 2 xvda)
kill -KILL $hpid
wait $hpid || true
vbd_gone
"$xbd" attach --dir "$m" --domid 2 --once xvda >/dev/null

echo "--- a lost backend: what is waited for, for how long, and SIGINT"
# It used to be a silent 30 s stall, deaf to SIGINT, ending in "16 errors".
spid=${pids[1]}
# work_bg LOG [OPTION...]: a long workload; returns once it runs.
work_bg() {
	attach_until '^xbd0: ' "$@" --workload 60 --once
	sleep 0.5
}
work_bg "$tmp/rec.log" --recover-timeout 2
kill -KILL $spid
wait $spid || true
exited() { # exited PID SECONDS: PID ends within SECONDS; its status in $st
	local i
	for i in $(seq $(($2 * 10))); do
		kill -0 $1 2>/dev/null || break
		sleep 0.1
	done
	kill -0 $1 2>/dev/null && { echo "pid $1 still runs"; return 1; }
	st=0
	wait $1 || st=$?
}
exited $apid 8
cat "$tmp/rec.log"
[ $st -eq 1 ]
grep -q 'xvda: backend domain 1 is gone; waiting up to 2 s for it to come back' \
    "$tmp/rec.log"
grep -q 'backend domain 1 did not come back within 2 s' "$tmp/rec.log"
grep -q 'xbd0: detached' "$tmp/rec.log"
# Default recovery time (30 s): SIGINT ends the wait at once.
serve_start "$m" "$tmp/disk.img" "$m.log.serve2"
work_bg "$tmp/int.log"
kill -KILL $spid
wait $spid || true
for i in $(seq 50); do grep -q 'is gone; waiting' "$tmp/int.log" && break; sleep 0.1; done
kill -INT $apid
exited $apid 3
cat "$tmp/int.log"
[ $st -eq 1 ]
grep -q 'errors (interrupted)' "$tmp/int.log"
grep -q 'interrupted while waiting for backend domain 1' "$tmp/int.log"
grep -q 'xbd0: detached' "$tmp/int.log"

echo "--- a dead xbd hv is noticed at once"
# Shared memory outlives the daemon: serve and attach used to carry on,
# stat said connected, and both ended with status 0.
m=$tmp/m2
truncate -s 16M "$tmp/disk2.img"
machine_start "$m" "$tmp/disk2.img"
hvpid=${pids[-2]}
spid=${pids[-1]}
attach_bg "$tmp/lost.log"
grep -q 'attached; SIGINT' "$tmp/lost.log"
kill -KILL $hvpid
exited $apid 3
[ $st -eq 1 ] || { echo "attach: exit $st"; exit 1; }
grep -q "xbd attach: xbd hv at $m is gone" "$tmp/lost.log"
exited $spid 3
[ $st -eq 1 ] || { echo "serve: exit $st"; exit 1; }
grep -q "xbd serve: xbd hv at $m is gone" "$m.log.serve"
! grep -q 'Bad file descriptor' "$m.log.serve"
set +e
"$xbd" stat --dir "$m" --domid 2 xvda >/dev/null 2>"$tmp/stat.err"
st=$?
set -e
[ $st -eq 1 ]
grep -q "xbd stat: xbd hv at $m is gone" "$tmp/stat.err"
echo "ok"
