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
# guest_*   a Linux PV guest served by our backend (guest.sh)
#
# Frontend and backend are both in dom0 (frontend-id 0): Xen lets a
# domain map its own grants, so this exercises the protocol and the real
# grant, event-channel and XenStore paths, but not a second domain.

set -u
DISK_MB=128
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

# The checks with a Linux PV guest on our backend.
[ -f /guest/guest.sh ] && . /guest/guest.sh

case ${1:-} in
blkback | qdisk | blkfront | xl) "check_$1" ;;
guest_boot | guest_saverestore | guest_io | guest_lifecycle) "check_$1" ;;
*)
	echo "usage: checks.sh blkback|qdisk|blkfront|xl|guest_..." >&2
	exit 2
	;;
esac
log "PASS"
