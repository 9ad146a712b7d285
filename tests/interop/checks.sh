#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The interop checks, run in dom0 by /init one at a time:
#   checks.sh NAME      exit 0 pass, 77 skip, anything else fail
#
# blkback   our frontend against Linux xen-blkback
# qdisk     our frontend against QEMU's qdisk (qemu-system-xen in dom0)
# blkfront  our backend against Linux xen-blkfront, with ext4 on top
# xl        xl block-attach/block-detach to dom0, served by our backend
# resize    the image served to blkfront grows and shrinks: the disk follows
# restart_kill, restart_term
#           fio write-then-verify through blkfront while our backend is
#           killed (SIGKILL) or stopped (SIGTERM) and started again
# guest_*   a Linux PV guest served by our backend (guest.sh)
# storage_nbd  xl block-attach of an NBD target (storage.sh)
#
# Frontend and backend are both in dom0 (frontend-id 0): Xen lets a
# domain map its own grants, so this exercises the protocol and the real
# grant, event-channel and XenStore paths, but not a second domain.

set -u
# XBD_INTEROP_* settings from the host (run.sh).
[ -f /host/env ] && . /host/env
DISK_MB=128
# The restart checks' disk.
RS_MB=64
RS_IO_MB=${XBD_INTEROP_FIO_MB:-2}
# A failed check must not leave a backend running into the next one.
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
log() { echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }
fail() {
	log "FAIL: $*"
	exit 1
}

# Poll until "$@" succeeds, for at most $1 tenths of a second.
wait_for() {
	local n=$1
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

# The toolstack's part of a vbd in dom0 for dom0, in one xenstore-write
# (one transaction: Linux's blkfront needs the backend directory to
# exist when the frontend's appears).  physical-device is what the
# hotplug script would write for a block device.
#   vbd_add KIND VDEV NAME PARAMS [PHYSDEV]
vbd_add() {
	local fe=/local/domain/0/device/vbd/$2
	local be=/local/domain/0/backend/$1/0/$2 extra=()
	[ $# -ge 5 ] && extra=("$be/physical-device" "$5")
	xenstore-rm "$fe" 2>/dev/null
	xenstore-rm "$be" 2>/dev/null
	xenstore-write "$fe/backend" "$be" "$fe/backend-id" 0 \
	    "$fe/virtual-device" "$2" "$fe/device-type" disk "$fe/state" 1 \
	    "$be/frontend" "$fe" "$be/frontend-id" 0 "$be/online" 1 \
	    "$be/removable" 0 "$be/bootable" 1 "$be/mode" w "$be/type" phy \
	    "$be/params" "$4" "$be/dev" "$3" "$be/device-type" disk \
	    "$be/discard-enable" 1 "$be/state" 1 "${extra[@]}"
}

# Unplug as libxl does: online 0, backend Closing, wait for Closed.
# Our frontend has closed already when this runs, and a backend moves
# on only when its frontend does, so then there is nothing to wait for.
vbd_remove() {
	local fe=/local/domain/0/device/vbd/$2
	local be=/local/domain/0/backend/$1/0/$2
	if [ "$(xenstore-read "$fe/state" 2>/dev/null)" = 6 ]; then
		xenstore-write "$be/online" 0
	else
		xenstore-write "$be/online" 0 "$be/state" 5
		wait_for 300 test "$(xenstore-read "$be/state" 2>/dev/null)" = 6 ||
		    log "backend $be did not close"
	fi
	xenstore-rm "$fe"
	xenstore-rm "$be"
}

# One frontend run: attach, workload, detach; its output in $out.
#   attach NAME [xbd attach options]
attach() {
	local vbd=$1
	shift
	log "xbd attach --platform xen --once $* $vbd"
	out=$(xbd attach --platform xen --once "$@" "$vbd" 2>&1)
	local rc=$?
	echo "$out"
	[ $rc -eq 0 ] || fail "xbd attach $* $vbd exited $rc"
}

# The value of counter NAME in the last run's --stats output.
counter() {
	echo "$out" | sed -n "s/^dev\.xbd[0-9]*\.$1: //p" | head -1
}

# The 1 MiB the discard test of `xbd attach` leaves at offset 1 MiB.
pattern_at_1m() {
	local got
	got=$(dd if="$1" bs=1024 skip=1024 count=1 2>/dev/null | od -An -tx1 -N8 | tr -d ' \n')
	[ "$got" = 010e1b2835424f5c ] || fail "$1 at 1 MiB holds $got"
}

check_blkback() {
	local be=/local/domain/0/backend/vbd/0/51728 offer
	truncate -s ${DISK_MB}M /tmp/bb.img
	losetup /dev/loop0 /tmp/bb.img || fail "losetup"
	vbd_add vbd 51728 xvdb /dev/loop0 7:0 || fail "creating the vbd"

	# Defaults: persistent grants, the largest ring offered, flushes.
	attach xvdb --workload 2 --stats
	echo "$out" | grep -q 'features:.*persistent_grants' ||
	    fail "persistent grants not negotiated"
	[ "$(counter ring_pages)" -gt 1 ] || fail "single-page ring"
	echo "$out" | grep -q 'features:.*flush' || fail "no flush"
	[ "$(counter requests.flush_diskcache)" -gt 0 ] || fail "no flush sent"
	[ "$(counter errors)" = 0 ] || fail "I/O errors"

	# Re-attach: requests at the largest size blkback offers, through
	# indirect segments, with persistent grants off, on two queues.
	offer=$(xenstore-read $be/feature-max-indirect-segments) ||
	    fail "blkback offers no indirect segments"
	attach xvdb --workload 2 --bs $((offer * 4096)) --no-persistent \
	    --queues 2 --stats
	[ "$(counter max_request_segments)" = "$offer" ] ||
	    fail "max_request_segments $(counter max_request_segments), offered $offer"
	[ "$(counter requests.indirect)" -gt 0 ] || fail "no indirect request"
	echo "$out" | grep -q 'features:.*persistent_grants' &&
	    fail "persistent grants negotiated though refused"
	[ "$(counter queues)" = 2 ] || fail "queues $(counter queues)"

	# Again with one queue on a one-page ring (what the last connection
	# published must not confuse blkback), discard, and the data seen
	# from dom0's side of the disk.
	attach xvdb --ring-pages 1 --workload 1 --stats --discard
	[ "$(counter ring_pages)" = 1 ] || fail "ring_pages $(counter ring_pages)"
	pattern_at_1m /dev/loop0
	vbd_remove vbd 51728
	losetup -d /dev/loop0
	dmesg | grep -i blkback | tail -5
}

check_qdisk() {
	local q=/usr/libexec/xen-qemu-system-i386
	truncate -s ${DISK_MB}M /tmp/qd.img
	$q -xen-domid 0 -xen-attach -name dom0 -nographic -M xenpv \
	    -daemonize -monitor /dev/null -serial /dev/null \
	    -parallel /dev/null -pidfile /run/qemu-dom0.pid ||
	    fail "starting qemu-system-xen"
	vbd_add qdisk 51760 xvdd aio:/tmp/qd.img || fail "creating the vbd"
	attach xvdd --workload 2 --stats --discard
	[ "$(counter errors)" = 0 ] || fail "I/O errors"
	pattern_at_1m /tmp/qd.img
	attach xvdd --workload 2 --bs 65536 --no-persistent --stats
	vbd_remove qdisk 51760
	kill "$(cat /run/qemu-dom0.pid)"
}

# Our backend on an image, Linux's blkfront in dom0 as its frontend.
# Our backend and Linux's both watch backend/vbd: only one may run.
use_blkfront() {
	local i
	if [ -d /sys/module/xen_blkback ]; then
		# A vbd an earlier check left behind keeps the module busy.
		xenstore-rm /local/domain/0/backend/vbd 2>/dev/null
		for i in 1 2 3 4 5 6 7 8 9 10; do
			rmmod xen-blkback 2>/dev/null && break
			sleep 1
		done
		[ -d /sys/module/xen_blkback ] &&
		    fail "xen-blkback cannot be unloaded"
	fi
	modprobe xen-blkfront || fail "modprobe xen-blkfront"
}

check_blkfront() {
	local pid sz i
	use_blkfront
	truncate -s 256M /tmp/bf.img
	xbd serve --platform xen --image /tmp/bf.img --frontend 0 \
	    --vdev xvde &
	pid=$!
	wait_for 600 test -b /dev/xvde || fail "/dev/xvde did not appear"
	sz=$(cat /sys/block/xvde/size)
	log "/dev/xvde: $sz sectors"
	[ "$sz" = 524288 ] || fail "/dev/xvde has $sz sectors, not 524288"
	# Not a verdict: how discards of a few sizes fare (mkfs discards the
	# whole disk first and goes on when that fails).
	for i in 8 2048 524288; do
		blkdiscard -l $((i * 512)) /dev/xvde &&
		    log "discard of $i sectors: ok" ||
		    log "discard of $i sectors: failed"
	done
	# mkfs.ext4 discards its last 1 KiB block, finer than the 4 KiB
	# discard-granularity we publish (a hint): it must be served.
	blkdiscard -o $((524286 * 512)) -l 1024 /dev/xvde ||
	    fail "a 1 KiB discard at sector 524286 failed"
	log "discard of 2 sectors at 524286: ok"
	dmesg | tail -3
	mkfs.ext4 -q -F /dev/xvde || fail "mkfs.ext4"
	mkdir -p /mnt/x
	mount -t ext4 /dev/xvde /mnt/x || fail "mount"
	for i in 1 2 3 4; do
		dd if=/dev/urandom of=/tmp/f$i bs=1M count=$((i * 4)) 2>/dev/null
		cp /tmp/f$i /mnt/x/f$i || fail "writing f$i"
	done
	mkdir -p /mnt/x/d/e && echo hello >/mnt/x/d/e/small
	umount /mnt/x || fail "umount"
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 -o ro /dev/xvde /mnt/x || fail "mount again"
	for i in 1 2 3 4; do
		cmp /tmp/f$i /mnt/x/f$i || fail "f$i reads back different"
	done
	[ "$(cat /mnt/x/d/e/small)" = hello ] || fail "small file"
	umount /mnt/x || fail "umount"
	e2fsck -fn /dev/xvde || fail "e2fsck found problems"
	kill -TERM $pid
	wait $pid || fail "xbd serve exited $?"
	wait_for 300 test ! -e /dev/xvde || fail "/dev/xvde still present"
	log "detached"
}

# The toolstack's own path: libxl writes the vbd and runs the block
# hotplug script; our backend serves it instead of blkback.
check_xl() {
	local pid got
	use_blkfront
	truncate -s 64M /tmp/xl.img
	echo XBD-XL-INTEROP-MARKER | dd of=/tmp/xl.img conv=notrunc 2>/dev/null
	losetup /dev/loop2 /tmp/xl.img || fail "losetup"
	xbd serve --platform xen &
	pid=$!
	sleep 1
	timeout 90 xl block-attach 0 phy:/dev/loop2 xvdf w ||
	    fail "xl block-attach"
	wait_for 600 test -b /dev/xvdf || fail "/dev/xvdf did not appear"
	xl block-list 0
	got=$(dd if=/dev/xvdf bs=512 count=1 2>/dev/null | head -c 21)
	[ "$got" = XBD-XL-INTEROP-MARKER ] || fail "/dev/xvdf reads '$got'"
	echo written-through-xvdf | dd of=/dev/xvdf bs=512 seek=8 conv=fsync 2>/dev/null
	timeout 90 xl block-detach 0 xvdf || fail "xl block-detach"
	wait_for 300 test ! -e /dev/xvdf || fail "/dev/xvdf still present"
	got=$(dd if=/dev/loop2 bs=512 skip=8 count=1 2>/dev/null | head -c 20)
	[ "$got" = written-through-xvdf ] || fail "loop2 reads '$got'"
	kill -TERM $pid
	wait $pid || fail "xbd serve exited $?"
	losetup -d /dev/loop2
}

# --- Our backend restarted and resized under Linux's blkfront ---------
#
# The vbds below are the toolstack's (vbd_add), not `xbd serve --image`
# ones, so a backend stopped with SIGTERM leaves them Connected for the
# next one to pick up, and one killed outright resumes each ring from its
# state file in --state-dir (/run/xbd by default on xen).

# Start `xbd serve --platform xen` in the background as $spid; its
# diagnostics go to this check's log.
serve_start() {
	xbd serve --platform xen "$@" &
	spid=$!
}

# True once process $1 has exited (bash reaps its children by itself).
gone() { ! kill -0 "$1" 2>/dev/null; }

# Sleep a random time of $1 to $2 milliseconds.
sleep_ms() {
	local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
}

# A check that stops moving (a blkfront that hit a kernel BUG leaves
# processes stuck in the kernel, where no signal reaches them) fails
# after $1 seconds instead of using up init's limit: show where each
# process is stuck, then kill the check.
watchdog() {
	(
		sleep "$1"
		log "FAIL: still running after $1 s; processes, and the kernel" \
		    "stacks of the check and of those in uninterruptible sleep:"
		ps -o pid,ppid,stat,args | grep -v '\[.*\]$'
		for p in $$ $(ps -o pid,stat | awk '$2 ~ /^D/ { print $1 }'); do
			echo "--- $p"
			cat "/proc/$p/stack"
		done
		kill -KILL $$
	) &
	wdog=$!
}

# Leave nothing behind for later checks: no fio, the vbd removed by a
# running backend, which then stops, the loop device free.  Bounded
# throughout: a dom0 whose blkfront broke can leave fio stuck in the
# kernel, where no signal reaches it.
#   rs_cleanup VDEV [LOOP]
rs_cleanup() {
	local p
	# What the kernel said about the disk, the first thing to read when
	# the check failed.
	[ -n "${rs_base:-}" ] && disk_trouble "$rs_base"
	for p in ${fpid:-} ${probe_pid:-}; do kill -KILL "$p" 2>/dev/null; done
	[ -n "${spid:-}" ] && gone "$spid" && serve_start
	vbd_remove vbd "$1"
	if [ -n "${spid:-}" ]; then
		kill -TERM "$spid"
		wait_for 100 gone "$spid" || kill -KILL "$spid"
	fi
	[ -z "$2" ] || losetup -d "$2" || log "$2 still busy"
	kill "$wdog"
}

# Lines the kernel logged since line $1 that say the disk had trouble.
disk_trouble() {
	dmesg | tail -n +"$(($1 + 1))" | grep -E \
	    'I/O error|response references|disabled for further use|blkfront.*(fail|error)|vbd-[0-9]+: .*(error|fail)|BUG|WARNING|Oops'
}

# The fio job of the restart checks on $dev: 4 KiB random I/O at queue
# depth 16 over the whole disk, three writes for every read, each block
# written at most once, then every block written read back and checked
# (crc32c in a header holding its offset).  The reads miss the backend's
# page cache while the writes land in it, so the backend completes
# requests out of ring order, the case a restart must get right.  Under
# QEMU's emulation the disk does 20 to 125 I/Os a second, so a round
# does RS_IO_MB of I/O, not the whole disk.
# Rounds differ by seed (the order); the disk is discarded (holes, read
# as zeros) before each round, so a write lost across a restart reads
# back as a bad header and not as the last round's valid block.
rs_fio() {
	fio --name=restart --filename="$dev" --ioengine=libaio --direct=1 \
	    --rw=randrw --rwmixread=25 --bs=4k --iodepth=16 --size=${RS_MB}M \
	    --io_size=${RS_IO_MB}M --verify=crc32c --verify_fatal=1 --randrepeat=0 "$@"
}

# The stall probe: one 4 KiB O_DIRECT read every 20 ms, each completion
# time logged; the longest gap between two is the longest stall the
# guest saw.  Runs until SIGTERM or an I/O error.
rs_probe_start() {
	fio --name=probe --filename="$dev" --ioengine=psync --direct=1 \
	    --rw=randread --bs=4k --rate_iops=50 --time_based --runtime=3600 \
	    --write_lat_log=/tmp/probe \
	    --log_avg_msec=0 --output=/tmp/probe.out &
	probe_pid=$!
}

rs_probe_stop() {
	local rc
	kill -TERM "$probe_pid"
	wait_for 100 gone "$probe_pid" || fail "the stall probe does not stop"
	wait "$probe_pid"
	rc=$?
	probe_pid=
	[ $rc -eq 0 ] || { cat /tmp/probe.out; log "the stall probe exited $rc"; }
	stall=$(awk -F, 'NR > 1 { g = $1 - p; if (g > m) m = g } { p = $1 }
	    END { print m + 0 }' /tmp/probe_clat.1.log)
	log "longest stall: $stall ms between two probe reads" \
	    "($(wc -l </tmp/probe_clat.1.log) reads, one every 20 ms)"
}

# Stop the backend with signal $1 (at once when it is KILL, after it
# finished its requests when TERM), then start a new one.
rs_restart() {
	kill -"$1" "$spid"
	wait_for 300 gone "$spid" || fail "xbd serve still runs 30 s after SIG$1"
	wait "$spid"
	log "xbd serve exited $? after SIG$1"
	sleep_ms 0 300
	serve_start
}

# Completed reads and writes of disk $name so far.
io_done() {
	local r x y z w
	read -r r x y z w _ </sys/block/$name/stat
	echo $((r + w))
}

# Wait until disk $name completes an I/O after $1 were done, or fio
# ($fpid) ends; fail after 30 s.  A backend just started is only killed
# again once it served something, wherever it is in its work then.
rs_progress() {
	local t0
	t0=$(cut -d. -f1 /proc/uptime)
	while [ "$(io_done)" -le "$1" ] && ! gone "$fpid"; do
		# By the clock: 300 polls take far longer than 30 s under load.
		[ $(($(cut -d. -f1 /proc/uptime) - t0)) -lt 30 ] ||
		    fail "no I/O completed on $dev in 30 s after restart $kills"
		sleep 0.1
	done
}

# Wait for fio round $1 ($fpid) for up to $2 seconds; fail unless it
# passed.
rs_fio_wait() {
	local rc
	wait_for $(($2 * 10)) gone "$fpid" ||
	    fail "fio round $1 still runs after $2 s (log: /tmp/fio.$1)"
	wait "$fpid"
	rc=$?
	fpid=
	grep -E 'err=|verify|WRITE:|READ:' "/tmp/fio.$1"
	[ $rc -eq 0 ] || fail "fio round $1 exited $rc"
}

# The restart check: rounds of the fio job while the backend is stopped
# with signal $1 at random points and started again, $2 times; then one
# more restart and every block of the last round read and checked again.
# The kernel must not have complained about the disk.
#   check_restart SIGNAL COUNT VDEV NAME LOOP
check_restart() {
	local sig=$1 n=$2 vdev=$3 loop=$5 kills=0 round=0 done_
	name=$4
	local limit=${XBD_INTEROP_FIO_TIMEOUT:-120}
	dev=/dev/$name
	watchdog "${XBD_INTEROP_RESTART_LIMIT:-300}"
	use_blkfront
	mkdir -p /run/xbd
	truncate -s ${RS_MB}M /tmp/$name.img
	losetup "$loop" /tmp/$name.img || fail "losetup $loop"
	trap "rs_cleanup $vdev $loop" EXIT
	rs_base=$(dmesg | wc -l)
	serve_start
	vbd_add vbd "$vdev" "$name" "$loop" "7:${loop#/dev/loop}" ||
	    fail "creating the vbd"
	wait_for 600 test -b "$dev" || fail "$dev did not appear"
	log "$dev: $(cat /sys/block/$name/size) sectors; $n SIG$sig restarts"
	rs_probe_start
	while [ $kills -lt "$n" ]; do
		round=$((round + 1))
		[ $round -gt 1 ] && { blkdiscard "$dev" ||
		    fail "discarding $dev after $kills restarts"; }
		rs_fio --randseed=$round >/tmp/fio.$round 2>&1 &
		fpid=$!
		done_=$(io_done)
		while [ $kills -lt "$n" ]; do
			rs_progress "$done_"
			sleep_ms 200 1200
			gone "$fpid" && break
			rs_restart "$sig"
			done_=$(io_done)
			kills=$((kills + 1))
		done
		rs_fio_wait $round "$limit"
		log "round $round passed; $kills restarts so far"
	done
	rs_restart "$sig"
	kills=$((kills + 1))
	rs_fio --randseed=$round --verify_only >/tmp/fio.verify 2>&1 &
	fpid=$!
	rs_fio_wait verify "$limit"
	rs_probe_stop
	log "SIG$sig restarts: $kills, fio rounds: $round"
	if disk_trouble "$rs_base"; then
		rs_base=
		fail "the kernel logged trouble with the disk (above)"
	fi
	rs_base=
}

check_restart_kill() {
	check_restart KILL "${XBD_INTEROP_KILLS:-10}" 51808 xvdg /dev/loop4
}

check_restart_term() {
	check_restart TERM "${XBD_INTEROP_TERMS:-5}" 51824 xvdh /dev/loop5
}

# Does disk $1 have $2 sectors?
size_is() { [ "$(cat /sys/block/$1/size)" = "$2" ]; }

# Online resize: the image grows under the open disk and Linux's
# blkfront follows, nobody telling the backend; then it shrinks back.
check_resize() {
	local vdev=51840 name=xvdi got t0 blk
	local old=$((64 * 2048)) new=$((128 * 2048))
	watchdog 120
	use_blkfront
	truncate -s 64M /tmp/rz.img
	trap "rs_cleanup $vdev ''" EXIT
	serve_start
	vbd_add vbd $vdev $name /tmp/rz.img || fail "creating the vbd"
	wait_for 600 test -b /dev/$name || fail "/dev/$name did not appear"
	got=$(cat /sys/block/$name/size)
	[ "$got" = $old ] || fail "/dev/$name has $got sectors, not $old"
	exec 3<>/dev/$name # held open: a resize, not a reconnection
	t0=$(cut -d' ' -f1 /proc/uptime)
	truncate -s 128M /tmp/rz.img
	wait_for 50 size_is $name $new ||
	    fail "/sys/block/$name/size is $(cat /sys/block/$name/size) 5 s after the image grew"
	log "grown to $new sectors (image grown at $t0)"
	# Beyond the old end: written through the disk, found in the image,
	# read back through the disk once the page cache is dropped.
	blk=$((old / 8 + 100))
	echo XBD-RESIZED-BLOCK | dd of=/dev/$name bs=4096 seek=$blk \
	    conv=sync,notrunc,fsync 2>/dev/null || fail "writing past the old end"
	got=$(dd if=/tmp/rz.img bs=4096 skip=$blk count=1 2>/dev/null | head -c 17)
	[ "$got" = XBD-RESIZED-BLOCK ] || fail "the image holds '$got'"
	echo 3 >/proc/sys/vm/drop_caches
	got=$(dd if=/dev/$name bs=4096 skip=$blk count=1 2>/dev/null | head -c 17)
	[ "$got" = XBD-RESIZED-BLOCK ] || fail "past the old end: '$got'"
	# A shrink is published too, as Linux's blkback does.
	truncate -s 64M /tmp/rz.img
	wait_for 50 size_is $name $old ||
	    fail "/sys/block/$name/size is $(cat /sys/block/$name/size) 5 s after the image shrank"
	log "shrunk back to $old sectors"
	exec 3<&-
	dmesg | grep -E "$name|[Cc]apacity" | tail -4
}

# The checks with a Linux PV guest on our backend.
[ -f /guest/guest.sh ] && . /guest/guest.sh
# The checks of network storage (NBD served by nbdkit in dom0).
[ -f /storage.sh ] && . /storage.sh

case ${1:-} in
blkback | qdisk | blkfront | xl | resize | restart_kill | restart_term)
	"check_$1"
	;;
guest_*) "check_$1" ;;
storage_nbd) "check_$1" ;;
*)
	echo "usage: checks.sh blkback|qdisk|blkfront|xl|resize|restart_kill|restart_term|guest_..." >&2
	exit 2
	;;
esac
log "PASS"
