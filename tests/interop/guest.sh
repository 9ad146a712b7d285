# SPDX-License-Identifier: BSD-2-Clause
#
# The interop checks with a real guest, sourced by checks.sh: a Linux PV
# domU started by `xl create /guest/guest.cfg`, its disk served by our
# backend (`xbd serve --platform xen`, xen-blkback unloaded), its /init
# tests/interop/guest-init.  One guest runs through three checks:
#
# guest_boot         xl create; once its workload runs: 2 queues,
#                    persistent grants and indirect segments negotiated,
#                    read from both ends' XenStore nodes and the guest
# guest_saverestore  xl save and xl restore while the workload runs;
#                    the ring reconnects, the workload goes on
# guest_io           the guest's verdict (workload verified over the
#                    whole disk, ext4 written, remounted, compared,
#                    e2fsck -fn), then dom0 checks the seed's pattern
#                    the guest wrote last, the file system and its files
#                    itself; no vbd of the guest left in the store
# guest_lifecycle    a second guest: xl block-attach and block-detach of
#                    a second disk, xl destroy with I/O in flight; then no
#                    vbd left, xbd serve running, no descriptor leaked
#
# guest_xbd_*, guest_perf: our frontend inside a guest (guest-fe.sh).
# guest_driver_domain: xbd serve in a domU for another (guest-dd.sh).
#
# State between the checks lives in $G (dom0's /run); the guests'
# consoles are logged by xenconsoled into the host share, where
# tests/interop/guest-kernel.sh checks them.

G=/run/xbd-guest
GUEST=xbd-guest
GUEST_DISK_MB=96
# Long enough for xl save to begin while it runs on a loaded machine.
GUEST_SECS=60
SEAL_BYTES=4194304
CONSOLES=/host/logs/guests

# xenconsoled for the guests' consoles (xl create needs it), started
# once and outliving the check that starts it.
guest_consoled() {
	mkdir -p $G /var/run/xen $CONSOLES
	if [ ! -f /run/xenconsoled.pid ]; then
		xenconsoled --log=guest --log-dir=$CONSOLES \
		    --pid-file=/run/xenconsoled.pid || fail "xenconsoled"
	fi
}

# xenconsoled and our backend, started once, outside the check's
# process group: both outlive the check that starts them.
guest_daemons() {
	guest_consoled
	if [ -f $G/serve.pid ] && kill -0 "$(cat $G/serve.pid)"; then
		return 0
	fi
	use_blkfront
	(setsid xbd serve --platform xen ${XBD_INTEROP_SERVE_ARGS:-} >>/host/logs/guest-serve.log 2>&1 \
	    </dev/null & echo $! >$G/serve.pid)
	sleep 1
	kill -0 "$(cat $G/serve.pid)" || fail "xbd serve exited"
	ls /proc/"$(cat $G/serve.pid)"/fd | wc -l >$G/serve.fds
	log "xbd serve pid $(cat $G/serve.pid), $(cat $G/serve.fds) descriptors"
}

# Wait until the console of guest $1 has a line matching $2, for at most
# $3 seconds; fail at a verdict line that does not match.
console_wait() {
	local f=$CONSOLES/guest-$1.log n=$(($3 * 10))
	while ! grep -q -e "$2" "$f" 2>/dev/null; do
		grep -q 'xbd-guest: verdict: fail' "$f" 2>/dev/null &&
		    fail "guest $1: $(grep 'xbd-guest: verdict' "$f")"
		n=$((n - 1))
		[ $n -gt 0 ] || fail "guest $1: no '$2' after $3 s"
		sleep 0.1
	done
}

# xl create guest $1 on loop device $2 in mode $3 for $4 seconds; $5
# more of the kernel's command line, the rest more xl settings;
# GUEST_DISK_OPTS more of the disk line, before the rest.
guest_create() {
	local seed
	seed=$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')
	echo "$seed" >$G/seed.$1
	log "xl create $1: disk $2, seed $seed, mode $3, $4 s"
	timeout 120 xl create /guest/guest.cfg "name=\"$1\"" \
	    "disk=['${GUEST_DISK_OPTS:-}format=raw, vdev=xvda, access=rw, target=$2']" \
	    "extra=\"console=hvc0 xbdseed=$seed xbdtime=$4 xbdmode=$3 ${5:-}\"" \
	    "${@:6}" || fail "xl create $1"
}

# Both ends of vbd $2 of domain $1 are Connected.
vbd_connected() {
	local fe=/local/domain/$1/device/vbd/$2
	local be=/local/domain/0/backend/vbd/$1/$2
	[ "$(xenstore-read $fe/state 2>/dev/null)" = 4 ] &&
	    [ "$(xenstore-read $be/state 2>/dev/null)" = 4 ]
}

# Neither the store nor our backend holds a vbd of domain $1.
no_vbd_of() {
	! xenstore-read /local/domain/0/backend/vbd/$1 >/dev/null 2>&1
}

check_guest_boot() {
	local domid fe be v
	guest_daemons
	truncate -s ${GUEST_DISK_MB}M /tmp/guest.img
	losetup /dev/loop4 /tmp/guest.img || fail "losetup"
	guest_create $GUEST /dev/loop4 verify $GUEST_SECS
	domid=$(xl domid $GUEST) || fail "no domain $GUEST"
	console_wait $GUEST 'xbd-guest: workload start' 240
	log "the guest's workload runs"
	fe=/local/domain/$domid/device/vbd/51712
	be=/local/domain/0/backend/vbd/$domid/51712
	vbd_connected "$domid" 51712 || fail "vbd $domid/51712 not connected"
	xenstore-ls -f "$fe"
	xenstore-ls -f "$be"
	grep 'xbd-guest:\|blkfront' $CONSOLES/guest-$GUEST.log
	v=$(xenstore-read "$fe/multi-queue-num-queues")
	[ "$v" = 2 ] || fail "multi-queue-num-queues '$v', not 2"
	xenstore-read "$fe/queue-1/ring-ref" >/dev/null ||
	    fail "no ring-ref for queue 1"
	[ "$(xenstore-read "$fe/feature-persistent")" = 1 ] ||
	    fail "the guest did not ask for persistent grants"
	[ "$(xenstore-read "$be/feature-persistent")" = 1 ] ||
	    fail "our backend did not offer persistent grants"
	grep -q "vbd $domid/51712: connected: 2 ring(s).*persistent grants" \
	    /host/logs/guest-serve.log ||
	    fail "xbd serve did not connect 2 rings with persistent grants"
	v=$(xenstore-read "$be/feature-max-indirect-segments")
	[ "${v:-0}" -gt 11 ] || fail "feature-max-indirect-segments '$v'"
	# Linux caps its side at xen_blkfront.max_indirect_segments (32);
	# without indirect segments a request has at most 11.
	v=$(sed -n 's/.*xvda: .* max_segments \([0-9]*\).*/\1/p' \
	    $CONSOLES/guest-$GUEST.log | tail -1)
	[ "${v:-0}" -gt 11 ] || fail "the guest's max_segments is '$v'"
	grep -q 'xvda: .*persistent grants: enabled; indirect descriptors: enabled' \
	    $CONSOLES/guest-$GUEST.log ||
	    fail "blkfront does not report persistent grants and indirect descriptors"
	echo "$domid" >$G/domid
}

check_guest_saverestore() {
	local domid n0 n1 i
	[ -f $G/domid ] || fail "no guest (guest_boot failed?)"
	domid=$(cat $G/domid)
	console_wait $GUEST 'guest-io: 5 s:' 60
	n0=$(grep -c 'guest-io: [0-9]* s:' $CONSOLES/guest-$GUEST.log)
	log "xl save $GUEST during the workload (domain $domid)"
	timeout 180 xl save $GUEST /tmp/guest.save || fail "xl save"
	ls -l /tmp/guest.save
	wait_for 300 no_vbd_of "$domid" || fail "vbd of domain $domid left"
	log "xl restore"
	timeout 180 xl restore /tmp/guest.save || fail "xl restore"
	rm -f /tmp/guest.save
	domid=$(xl domid $GUEST) || fail "no domain $GUEST after restore"
	echo "$domid" >$G/domid
	wait_for 600 vbd_connected "$domid" 51712 ||
	    fail "vbd $domid/51712 did not reconnect"
	grep "vbd $domid/51712" /host/logs/guest-serve.log
	# The workload goes on after the restore (or has ended well).
	n1=$n0 i=0
	while [ "$n1" -le "$n0" ]; do
		i=$((i + 1))
		[ $i -le 120 ] || fail "no progress of the workload after restore"
		sleep 1
		n1=$(grep -c 'guest-io: [0-9]* s:' $CONSOLES/guest-$GUEST.log)
		grep -q 'xbd-guest: verdict' $CONSOLES/guest-$GUEST.log && break
	done
	grep 'guest-io:' $CONSOLES/guest-$GUEST.log | tail -3
}

# What a verify-mode guest that passed with seed $3 left on its disk,
# checked from dom0's side ($1, $2 MiB): the seal over the last
# SEAL_BYTES, a clean file system, its files and seed file.
guest_disk_check() {
	local off=$(($2 * 1048576 - SEAL_BYTES))
	guest-io check "$1" $off $SEAL_BYTES "$3" ||
	    fail "the seal of seed $3 is not on $1"
	e2fsck -fn "$1" || fail "e2fsck in dom0 found problems"
	mkdir -p /mnt/g
	mount -t ext4 -o ro "$1" /mnt/g || fail "mount in dom0"
	(cd /mnt/g && md5sum -c sums) || fail "the guest's files differ"
	[ "$(cat /mnt/g/d/e/seed)" = "$3" ] || fail "seed file"
	umount /mnt/g
}

check_guest_io() {
	local domid seed
	[ -f $G/domid ] || fail "no guest (guest_boot failed?)"
	domid=$(cat $G/domid) seed=$(cat $G/seed.$GUEST)
	console_wait $GUEST 'xbd-guest: verdict' 300
	wait_for 600 sh -c "! xl domid $GUEST >/dev/null 2>&1" ||
	    fail "guest $GUEST still running"
	grep 'xbd-guest:\|guest-io:' $CONSOLES/guest-$GUEST.log
	# The console's lines end in CR LF.
	tr -d '\r' <$CONSOLES/guest-$GUEST.log |
	    grep -qx "xbd-guest: verdict: pass seed $seed" ||
	    fail "the guest did not pass"
	# What the guest says is checked from dom0's side of its disk.
	guest_disk_check /dev/loop4 $GUEST_DISK_MB "$seed"
	wait_for 300 no_vbd_of "$domid" || fail "vbd of domain $domid left"
	kill -0 "$(cat $G/serve.pid)" || fail "xbd serve died"
	losetup -d /dev/loop4
}

# The descriptors of xbd serve, when they are back to $1 (none leaked).
serve_fds_are() {
	[ "$(ls /proc/"$(cat $G/serve.pid)"/fd | wc -l)" = "$1" ]
}

check_guest_lifecycle() {
	local lc=xbd-guest-lc domid fds pid fe
	guest_daemons
	pid=$(cat $G/serve.pid) fds=$(cat $G/serve.fds)
	truncate -s 64M /tmp/lc-a.img /tmp/lc-b.img
	losetup /dev/loop6 /tmp/lc-a.img || fail "losetup"
	losetup /dev/loop7 /tmp/lc-b.img || fail "losetup"
	guest_create $lc /dev/loop6 spin 600
	domid=$(xl domid $lc) || fail "no domain $lc"
	console_wait $lc 'xbd-guest: workload start' 240

	timeout 90 xl block-attach $lc phy:/dev/loop7,xvdb,w ||
	    fail "xl block-attach"
	wait_for 600 vbd_connected "$domid" 51728 || fail "xvdb not connected"
	console_wait $lc 'xvdb: .*persistent grants: enabled' 60
	xl block-list $lc
	timeout 90 xl block-detach $lc xvdb || fail "xl block-detach"
	fe=/local/domain/$domid/device/vbd/51728
	wait_for 300 sh -c "! xenstore-read $fe/state >/dev/null 2>&1" ||
	    fail "xvdb still in the store"

	console_wait $lc 'guest-io: 5 s:' 60
	log "xl destroy $lc with its workload running"
	timeout 90 xl destroy $lc || fail "xl destroy"
	wait_for 300 no_vbd_of "$domid" || fail "vbd of domain $domid left"
	xenstore-ls -f /local/domain/0/backend 2>/dev/null
	kill -0 "$pid" || fail "xbd serve died"
	wait_for 100 serve_fds_are "$fds" ||
	    fail "xbd serve holds $(ls /proc/$pid/fd | wc -l) descriptors, had $fds"
	log "xbd serve: $fds descriptors before the guests and after"
	losetup -d /dev/loop6
	losetup -d /dev/loop7
	kill -TERM "$pid"
	wait_for 300 sh -c "! kill -0 $pid 2>/dev/null" ||
	    fail "xbd serve did not exit on SIGTERM"
	rm -f $G/serve.pid
}

# Our frontend inside a guest.
. /guest/guest-fe.sh
. /guest/guest-dd.sh
