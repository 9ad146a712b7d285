# SPDX-License-Identifier: BSD-2-Clause
#
# The interop checks of network storage, sourced by checks.sh in dom0:
#
# storage_nbd  `xl block-attach 0` of an NBD target (nbdkit's file plugin
#              on a Unix socket in dom0) with script=xbd-storage, the
#              hotplug script of rbd:/nbd: vbds: xl runs it, our backend
#              (`xbd serve --platform xen`) serves the vbd to Linux's
#              blkfront as /dev/xvdg; data read and written through it
#              is nbdkit's file's; xl block-detach removes it.
#
# storage-initramfs.sh puts nbdkit, its plugins and the hotplug script in
# dom0.

NBD_SOCK=/run/xbd-interop-nbd.sock
NBD_IMG=/tmp/nbd.img

check_storage_nbd() {
	local spid npid got be
	[ -x /etc/xen/scripts/xbd-storage ] || {
		log "no /etc/xen/scripts/xbd-storage in this build"
		exit 77
	}
	command -v nbdkit >/dev/null || fail "no nbdkit in dom0"
	use_blkfront
	truncate -s 64M $NBD_IMG
	echo XBD-NBD-INTEROP-MARKER | dd of=$NBD_IMG conv=notrunc 2>/dev/null
	nbdkit -f -U $NBD_SOCK file $NBD_IMG &
	npid=$!
	wait_for 100 test -S $NBD_SOCK || fail "nbdkit did not start"
	# The guest checks leave their `xbd serve --platform xen` running
	# (one backend per domain): it serves this vbd too.
	spid=
	if ! pidof xbd >/dev/null; then
		xbd serve --platform xen &
		spid=$!
		sleep 1
	fi
	# The xl disk line docs/storage.md gives, target last (it takes the
	# rest of the line).
	timeout 90 xl block-attach 0 "format=raw, vdev=xvdg, access=rw," \
	    "backendtype=phy, script=xbd-storage," \
	    "target=nbd+unix:///?socket=$NBD_SOCK" || fail "xl block-attach"
	wait_for 600 test -b /dev/xvdg || fail "/dev/xvdg did not appear"
	xl block-list 0
	be=$(xenstore-read /local/domain/0/device/vbd/51808/backend)
	log "hotplug-status: $(xenstore-read "$be/hotplug-status")," \
	    "params: $(xenstore-read "$be/params")"
	[ "$(xenstore-read "$be/hotplug-status")" = connected ] ||
	    fail "hotplug-status is not connected"
	[ "$(cat /sys/block/xvdg/size)" = $((64 * 2048)) ] ||
	    fail "/dev/xvdg has $(cat /sys/block/xvdg/size) sectors"
	got=$(dd if=/dev/xvdg bs=512 count=1 2>/dev/null | head -c 22)
	[ "$got" = XBD-NBD-INTEROP-MARKER ] || fail "/dev/xvdg reads '$got'"
	echo written-through-nbd | dd of=/dev/xvdg bs=512 seek=8 conv=fsync 2>/dev/null
	# A larger write at the end of the disk, read back from the file.
	dd if=/dev/urandom of=/tmp/nbd.chunk bs=1M count=4 2>/dev/null
	dd if=/tmp/nbd.chunk of=/dev/xvdg bs=1M seek=60 oflag=direct conv=fsync \
	    2>/dev/null || fail "writing 4 MiB to /dev/xvdg"
	timeout 90 xl block-detach 0 xvdg || fail "xl block-detach"
	wait_for 300 test ! -e /dev/xvdg || fail "/dev/xvdg still present"
	got=$(dd if=$NBD_IMG bs=512 skip=8 count=1 2>/dev/null | head -c 19)
	[ "$got" = written-through-nbd ] || fail "nbdkit's file reads '$got'"
	dd if=$NBD_IMG bs=1M skip=60 count=4 2>/dev/null | cmp - /tmp/nbd.chunk ||
	    fail "the 4 MiB written are not in nbdkit's file"
	xenstore-read "$be/params" >/dev/null 2>&1 && fail "$be left behind"
	if [ -n "$spid" ]; then
		kill -TERM $spid
		wait $spid || fail "xbd serve exited $?"
	fi
	kill $npid
	wait $npid
	rm -f $NBD_IMG /tmp/nbd.chunk
}
