# SPDX-License-Identifier: BSD-2-Clause
#
# Our frontend inside a Linux PV guest, sourced by guest.sh (the guest's
# side is guest-xbd, its xbdmode=xbd).  One guest, booted once, one loop
# device as its disk throughout, runs through three checks:
#
# guest_xbd_blkback  xl create with xvda served by Linux's blkback: in the
#                    guest, fio through blkfront, then xbd bench and a
#                    verified `xbd attach --platform xen` workload with
#                    the discard test, whose pattern dom0 then finds on
#                    the loop device (grants from the guest to dom0)
# guest_xbd_serve    xl block-detach of xvda, blkback unloaded, `xbd
#                    serve` started, the same loop device attached as
#                    xvdb: the verified xbd attach again (grants both
#                    ways: our frontend in the guest, our backend in
#                    dom0), the pattern again; then as xvdc, fio through
#                    blkfront; `xbd serve` stopped, blkback again, as
#                    xvdd, fio through blkfront (the second baseline);
#                    the guest's verdict, no vbd left
# guest_perf         the side-by-side table from the guest's perf lines,
#                    ratios only: fails when a row was not measured or
#                    had an error, never on the figures

FE=xbd-guest-fe
FE_DISK_MB=128
# Seconds each measured workload runs (after 1 s of ramp).
FE_PERF_SECS=${XBD_INTEROP_PERF_SECS:-5}
# Seconds of each verified `xbd attach` workload.
FE_VERIFY_SECS=10
# The rows of the table, as guest-xbd names them.
FE_ROWS="randread-4K-qd1 randread-4K-qd32 randwrite-4K-qd32 read-1M-qd8 write-1M-qd8"

# The guest's console, without the CRs.
fe_console() { tr -d '\r' <$CONSOLES/guest-$FE.log; }

# The discard test's pattern at 1 MiB of $1, read past dom0's cache.
fe_pattern() {
	echo 3 >/proc/sys/vm/drop_caches
	pattern_at_1m "$1"
	log "$1 holds at 1 MiB what our frontend in the guest wrote"
}

# What a stuck vbd $2 of domain $1 looks like from dom0.
fe_dump() {
	xenstore-ls -f /local/domain/0/backend/vbd/$1/$2
	xenstore-ls -f /local/domain/$1/device/vbd/$2
	tail -20 /host/logs/guest-serve.log
	fe_console | tail -20
}

check_guest_xbd_blkback() {
	local loop domid be
	guest_consoled
	if [ -f $G/serve.pid ] && kill -0 "$(cat $G/serve.pid)" 2>/dev/null; then
		fail "xbd serve still runs: blkback cannot serve"
	fi
	modprobe xen-blkback || fail "modprobe xen-blkback"
	truncate -s ${FE_DISK_MB}M /tmp/fe.img
	loop=$(losetup -f) && losetup "$loop" /tmp/fe.img || fail "losetup"
	echo "$loop" >$G/fe.loop
	# More memory than the other guests for fio's libraries, and the
	# grant table dom0's frontends get (Xen's gnttab_max_frames).
	guest_create $FE "$loop" xbd $FE_VERIFY_SECS "xbdperf=$FE_PERF_SECS" \
	    memory=384 max_grant_frames=256
	domid=$(xl domid $FE) || fail "no domain $FE"
	echo "$domid" >$G/fe.domid
	(console_wait $FE 'xbd-guest: blkback attach: pass' 360) || {
		fe_dump "$domid" 51712
		fail "no 'blkback attach: pass' from the guest"
	}
	fe_console | grep 'xbd-guest:\|blkfront'
	be=/local/domain/0/backend/vbd/$domid/51712
	xenstore-ls -f "$be"
	xenstore-ls -f /local/domain/$domid/device/vbd/51712
	[ "$(xenstore-read $be/frontend-id)" = "$domid" ] ||
	    fail "the vbd's frontend is not domain $domid"
	fe_console | grep -q '^xbd-guest: xbd[0-9]*: .*features: .*persistent_grants, indirect' ||
	    fail "our frontend did not negotiate persistent grants and indirect segments with blkback"
	fe_pattern "$loop"
}

check_guest_xbd_serve() {
	local loop domid seed
	[ -f $G/fe.domid ] || fail "no guest (guest_xbd_blkback failed?)"
	domid=$(cat $G/fe.domid) loop=$(cat $G/fe.loop) seed=$(cat $G/seed.$FE)
	console_wait $FE 'xbd-guest: xvda done' 60
	timeout 90 xl block-detach $FE xvda || fail "xl block-detach xvda"
	wait_for 300 no_vbd_of "$domid" || fail "xvda still in the store"
	console_wait $FE 'xbd-guest: ready for xvdb' 60
	# blkback out, our backend in.
	guest_daemons
	# Only the attach below can put the pattern there again.
	dd if=/dev/zero of="$loop" bs=1M seek=1 count=1 conv=fsync 2>/dev/null ||
	    fail "zeroing $loop"
	timeout 90 xl block-attach $FE "phy:$loop,xvdb,w" ||
	    fail "xl block-attach xvdb"
	(console_wait $FE 'xbd-guest: serve attach: pass' 240) || {
		fe_dump "$domid" 51728
		fail "no 'serve attach: pass' from the guest"
	}
	fe_console | sed -n '/xvda done/,$p' | grep 'xbd-guest:\|blkfront'
	grep "vbd $domid/51728" /host/logs/guest-serve.log
	grep -q "vbd $domid/51728: connected: .*persistent grants" \
	    /host/logs/guest-serve.log ||
	    fail "xbd serve did not connect our frontend with persistent grants"
	fe_console | sed -n '/xvda done/,$p' |
	    grep -q '^xbd-guest: xbd[0-9]*: .*features: .*persistent_grants, indirect' ||
	    fail "our frontend did not negotiate persistent grants and indirect segments with xbd serve"
	fe_pattern "$loop"
	# A new vbd for blkfront (guest-xbd says why), the same storage.
	console_wait $FE 'xbd-guest: xvdb done' 60
	timeout 90 xl block-detach $FE xvdb || fail "xl block-detach xvdb"
	timeout 90 xl block-attach $FE "phy:$loop,xvdc,w" ||
	    fail "xl block-attach xvdc"
	# blkback again, for the table's second baseline (xvdd).
	console_wait $FE 'xbd-guest: xvdc done' 240
	timeout 90 xl block-detach $FE xvdc || fail "xl block-detach xvdc"
	wait_for 300 no_vbd_of "$domid" || fail "xvdc still in the store"
	guest_serve_stop
	modprobe xen-blkback || fail "modprobe xen-blkback"
	timeout 90 xl block-attach $FE "phy:$loop,xvdd,w" ||
	    fail "xl block-attach xvdd"
	console_wait $FE 'xbd-guest: verdict' 240
	fe_console | grep -qx "xbd-guest: verdict: pass seed $seed" ||
	    fail "the guest did not pass"
	wait_for 600 sh -c "! xl domid $FE >/dev/null 2>&1" ||
	    fail "guest $FE still running"
	wait_for 300 no_vbd_of "$domid" || fail "vbd of domain $domid left"
	losetup -d "$loop"
}

# Stop the guests' `xbd serve`: SIGTERM, which it must obey.
guest_serve_stop() {
	local pid
	pid=$(cat $G/serve.pid)
	kill -0 "$pid" || fail "xbd serve died"
	kill -TERM "$pid"
	wait_for 300 sh -c "! kill -0 $pid 2>/dev/null" ||
	    fail "xbd serve did not exit on SIGTERM"
	rm -f $G/serve.pid
}

# The table of the perf lines on stdin (markdown); exit 1 when a row of
# FE_ROWS is missing, measured twice, failed or measured nothing.  The
# baseline, blkfront on blkback, is measured before and after the others
# (A B A): the ratios are against the mean of the two, so that a machine
# getting slower or faster during the run does not favour either side.
fe_table() {
	awk -v rows="$FE_ROWS" '
	{
		k = $3 " " $4
		if (k in v)
			dup = dup " " k
		v[k] = $6; m[k] = $8; e[k] = $10
	}
	function ok(k) {
		if ((k in v) && v[k] > 0 && e[k] == 0)
			return 1
		print "not measured, or failed: " k
		return 0
	}
	function r(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "-" }
	END {
		n = split(rows, w, " ")
		print "| workload | blkfront, blkback (before; after) | blkfront, xbd serve | ratio | xbd, blkback | ratio |"
		print "|---|---|---|---|---|---|"
		for (i = 1; i <= n; i++) {
			a = "blkfront-blkback " w[i]
			a2 = "blkfront-blkback2 " w[i]
			b = "blkfront-serve " w[i]
			c = "xbd-blkback " w[i]
			bad += !ok(a) + !ok(a2) + !ok(b) + !ok(c)
			base = (v[a] + v[a2]) / 2
			printf "| %s | %.0f; %.0f IOPS, %.1f; %.1f MiB/s | %.0f, %.1f | %s | %.0f, %.1f | %s |\n",
			    w[i], v[a], v[a2], m[a], m[a2], v[b], m[b],
			    r(v[b], base), v[c], m[c], r(v[c], base)
		}
		if (dup != "") {
			print "measured twice:" dup
			bad++
		}
		exit bad > 0
	}'
}

check_guest_perf() {
	[ -f $G/fe.domid ] || fail "no guest (guest_xbd_blkback failed?)"
	fe_console | grep -qx "xbd-guest: verdict: pass seed $(cat $G/seed.$FE)" ||
	    fail "the guest did not pass"
	log "side by side in one guest, one loop device, $FE_PERF_SECS s a" \
	    "workload; ratios are the backend's or frontend's against" \
	    "Linux's blkfront on blkback"
	fe_console | grep '^xbd-guest: perf ' | fe_table ||
	    fail "the table is incomplete (above)"
	log "negotiated:"
	fe_console | grep -E '^xbd-guest: (blkfront|xbd bench|xbd[0-9]+:)|blkfront: xvd'
}
