#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: restarting `xbd serve` under a connected frontend.  The
# vbd is made the toolstack's way (xenstore-write on the privileged
# socket, as libxl and its hotplug script would), domain 1 outlives its
# backend process (`xbd hv --domain 1`, like a dom0 whose daemon
# restarts), and `xbd attach` runs a verified random read/write
# workload while `xbd serve` is SIGKILLed and started again
# (XBD_RESTART_KILLS times, default 8) and stopped with SIGTERM and
# started again (XBD_RESTART_TERMS times, default 4) at random points.
# The frontend must see nothing: 0 I/O errors, 0 bad blocks, 0
# reconnects; each new backend says it resumed the vbd.  Also: a second
# backend for the domain is refused naming the first, and
# --close-on-exit still closes the vbd.

set -euo pipefail
xbd=$XBD_BUILD/tools/xbd/xbd
kills=${XBD_RESTART_KILLS:-8}
# Extra options for the restarted backends (--no-state shows why the
# shadows are needed: the run fails).
extra=${XBD_RESTART_SERVE_ARGS:-}
terms=${XBD_RESTART_TERMS:-4}
. "$XBD_SRC/tests/integ/machine.sh"
machine_tmp
m=$tmp/m
export XENSTORED_PATH=$m/socket
fe=/local/domain/2/device/vbd/51712
be=/local/domain/1/backend/vbd/2/51712

"$xbd" hv --dir "$m" --domain 1:storage >"$tmp/hv.log" 2>&1 &
pids+=($!)
for i in $(seq 50); do [ -S "$m/socket" ] && break; sleep 0.1; done
truncate -s 128M "$tmp/d.img"
# libxl's vbd in one transaction, then its hotplug script's nodes.
make_vbd() {
	xenstore-rm "$fe" 2>/dev/null || true
	xenstore-rm "$be" 2>/dev/null || true
	xenstore-write "$fe/backend" "$be" "$fe/backend-id" 1 \
	    "$fe/virtual-device" 51712 "$fe/device-type" disk "$fe/state" 1 \
	    "$be/frontend" "$fe" "$be/frontend-id" 2 "$be/online" 1 \
	    "$be/removable" 0 "$be/bootable" 1 "$be/mode" w "$be/type" phy \
	    "$be/params" "$tmp/d.img" "$be/dev" xvda "$be/device-type" disk \
	    "$be/discard-enable" 1 "$be/state" 1 "$be/hotplug-status" connected
	xenstore-chmod -r "$be" n1 r2
	xenstore-chmod -r "$fe" n2 r1
}
make_vbd

serve=
start_serve() {
	# shellcheck disable=SC2086
	"$xbd" serve --dir "$m" --domid 1 $extra >>"$tmp/serve.log" 2>&1 &
	serve=$!
	pids+=($serve)
}
start_serve
for i in $(seq 100); do
	[ "$(xenstore-read "$be/state" 2>/dev/null)" = 2 ] && break
	sleep 0.1
done

echo "--- a second backend for domain 1 is refused"
set +e
out=$("$xbd" serve --dir "$m" --domid 1 2>&1)
rc=$?
set -e
echo "$out"
[ $rc -eq 1 ] || { echo "second xbd serve exited $rc"; exit 1; }
echo "$out" | grep -q "already served by pid $serve" || exit 1

echo "--- $kills SIGKILLs and $terms SIGTERMs under a workload"
# Long enough for every restart (about a second each); more for long
# runs on a busy machine.
secs=${XBD_RESTART_SECONDS:-$((kills + terms + 4))}
# Bounded: a frontend that lost its backend must not hang the test.
timeout -k 5 $((secs + 60)) "$xbd" attach --dir "$m" --domid 2 \
    --workload "$secs" --once --stats >"$tmp/attach.log" 2>&1 &
att=$!
pids+=($att)
sleep 1.5
plan=$(for i in $(seq "$kills"); do echo KILL; done
	for i in $(seq "$terms"); do echo TERM; done)
done=0
for sig in $(echo "$plan" | shuf); do
	sleep "0.$((RANDOM % 9 + 1))"
	kill -0 "$att" 2>/dev/null || break
	kill -"$sig" "$serve"
	wait "$serve" 2>/dev/null || true
	start_serve
	done=$((done + 1))
	sleep 0.3
done
[ "$done" -eq $((kills + terms)) ] || {
	echo "the workload ended after $done restarts: raise XBD_RESTART_SECONDS"
	exit 1
}
rc=0
wait "$att" || rc=$?
cat "$tmp/attach.log" | grep -v '^dev\.' || true
grep -E '\.(errors|reconnects|recoveries):' "$tmp/attach.log" || true
grep -c resumed "$tmp/serve.log" || true
[ $rc -eq 0 ] || { echo "xbd attach exited $rc"; cat "$tmp/serve.log"; exit 1; }
grep -q ' 0 bad, 0 errors' "$tmp/attach.log" || exit 1
grep -q '^dev\.xbd0\.reconnects: 0$' "$tmp/attach.log" || exit 1
n=$(grep -c 'vbd 2/51712: resumed' "$tmp/serve.log")
[ "$n" -eq $((kills + terms)) ] || {
	echo "$n resumes for $((kills + terms)) restarts"
	cat "$tmp/serve.log"
	exit 1
}

echo "--- --close-on-exit closes the vbd"
kill -TERM "$serve"
wait "$serve" || true
# The frontend domain went with its process: the vbd is made again.
make_vbd
"$xbd" serve --dir "$m" --domid 1 --close-on-exit >>"$tmp/serve.log" 2>&1 &
serve=$!
pids+=($serve)
"$xbd" attach --dir "$m" --domid 2 >"$tmp/attach2.log" 2>&1 &
att=$!
pids+=($att)
for i in $(seq 100); do
	[ "$(xenstore-read "$be/state" 2>/dev/null)" = 4 ] && break
	sleep 0.1
done
[ "$(xenstore-read "$be/state")" = 4 ] || {
	echo "no reconnect"
	cat "$tmp/attach2.log"
	tail -5 "$tmp/serve.log"
	exit 1
}
kill -TERM "$serve"
wait "$serve" || { echo "xbd serve --close-on-exit failed"; exit 1; }
st=$(xenstore-read "$be/state")
case $st in 5 | 6) ;; *)
	echo "backend state $st after --close-on-exit"
	exit 1
	;;
esac
kill -TERM "$att"
wait "$att" || true
echo "ok"
