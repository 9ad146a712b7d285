# SPDX-License-Identifier: BSD-2-Clause
#
# A storage driver domain, sourced by guest.sh: `xbd serve` inside a
# domU serves another domU's disk, the deployment a userspace backend
# makes possible.
#
# guest_driver_domain  a loop device in dom0, served by Linux's blkback
#                      to a first guest (xbdmode=dd, guest-dd) as its
#                      xvda; there `xbd serve --platform xen
#                      --driver-domain`.  A second guest (xbdmode=verify)
#                      whose disk line is 'backend=xbd-dd, ...,
#                      target=/dev/xvda': its verified workload and ext4
#                      through both backends pass; the driver domain
#                      removes its vbd directory once the guest is gone
#                      (as xl devd would); dom0 finds the guest's seal,
#                      file system and files on the loop device; no vbd
#                      left

DD=xbd-dd
DD_CLIENT=xbd-dd-client
DD_DISK_MB=64
DD_SECS=15

dd_console() { tr -d '\r' <$CONSOLES/guest-$1.log; }

check_guest_driver_domain() {
	local dd cl loop seed be
	guest_consoled
	# dom0's own xbd serve would serve the driver domain's disk.
	if [ -f $G/serve.pid ] && kill -0 "$(cat $G/serve.pid)" 2>/dev/null; then
		guest_serve_stop
	fi
	modprobe xen-blkback || fail "modprobe xen-blkback"
	truncate -s ${DD_DISK_MB}M /tmp/dd.img
	loop=$(losetup -f) && losetup "$loop" /tmp/dd.img || fail "losetup"
	# One vCPU each, on CPUs of their own (run.sh says why).
	guest_create $DD "$loop" dd 1 "" memory=256 vcpus=1 'cpus="2"' \
	    driver_domain=1
	dd=$(xl domid $DD) || fail "no domain $DD"
	console_wait $DD 'xbd-guest: dd serving' 240
	GUEST_DISK_OPTS="backend=$DD, " guest_create $DD_CLIENT /dev/xvda \
	    verify $DD_SECS "" vcpus=1 'cpus="3"'
	cl=$(xl domid $DD_CLIENT) || fail "no domain $DD_CLIENT"
	seed=$(cat $G/seed.$DD_CLIENT)
	be=/local/domain/$dd/backend/vbd/$cl/51712
	console_wait $DD_CLIENT 'xbd-guest: workload start' 240
	xenstore-ls -f "$be"
	console_wait $DD_CLIENT 'xbd-guest: verdict' 600
	dd_console $DD_CLIENT | grep 'xbd-guest:\|blkfront'
	dd_console $DD_CLIENT | grep -qx "xbd-guest: verdict: pass seed $seed" ||
	    fail "the guest on the driver domain did not pass"
	wait_for 600 sh -c "! xl domid $DD_CLIENT >/dev/null 2>&1" ||
	    fail "guest $DD_CLIENT still running"
	# The driver domain's part of the removal.
	wait_for 300 sh -c "! xenstore-read $be >/dev/null 2>&1" ||
	    fail "the driver domain left $be"
	dd_console $DD | grep 'xbd-guest: xbd serve'
	dd_console $DD | grep -q "xbd serve: vbd $cl/51712: connected: .*persistent grants" ||
	    fail "xbd serve in the driver domain did not connect with persistent grants"
	xl destroy $DD || fail "xl destroy $DD"
	wait_for 300 no_vbd_of "$dd" || fail "vbd of domain $dd left"
	# What the guest says is checked from dom0's end of the chain.
	guest_disk_check "$loop" $DD_DISK_MB "$seed"
	losetup -d "$loop"
}
