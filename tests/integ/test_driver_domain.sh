#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: `xbd serve --driver-domain` does a driver domain's part of
# a vbd's removal, as `xl devd` does: dom0's libxl writes online 0 and
# Closing, waits for the backend directory to go, and removes only the
# frontend's.  Once the frontend closed, the backend directory is gone
# (the level above too where the backend may remove it: here it is
# dom0's), while another frontend's vbd stays served; without the
# option the directory stays (dom0's toolstack removes its own).

set -euo pipefail
xbd=$XBD_BUILD/tools/xbd/xbd
. "$XBD_SRC/tests/integ/machine.sh"
machine_tmp
truncate -s 16M "$tmp/d.img"

# remove FE: a frontend of domain FE attaches, runs a second of verified
# I/O and closes; then libxl's removal.  Prints what is left of the
# backend's side.
remove() {
	local be i
	be=$(vbd_be "$1" 51712)
	"$xbd" attach --dir "$m" --domid "$1" --once --workload 1 \
	    >"$tmp/attach.$1.log" 2>&1 || {
		cat "$tmp/attach.$1.log"
		exit 1
	}
	xenstore-write "$be/online" 0 "$be/state" 5
	for i in $(seq 50); do
		xenstore-exists "$be" || break
		sleep 0.1
	done
	xenstore-exists "$be" && echo "dir $1 left" || echo "dir $1 gone"
}

for mode in driver plain; do
	m=$tmp/$mode
	hv_start "$m"
	export XENSTORED_PATH=$m/socket
	opt=()
	[ $mode = plain ] || opt=(--driver-domain)
	serve_start "$m" "" "$m.log.serve" "${opt[@]}"
	vbd_add "$m" 2 51712 "$tmp/d.img"
	vbd_add "$m" 3 51712 "$tmp/d.img"
	r=$(remove 2)
	echo "$mode: $r"
	case $mode:$r in
	"driver:dir 2 gone" | "plain:dir 2 left") ;;
	*)
		cat "$m.log.serve"
		exit 1
		;;
	esac
	# The other frontend's vbd is untouched, and still served.
	"$xbd" attach --dir "$m" --domid 3 --once --workload 1 \
	    >"$tmp/attach.3.log" 2>&1 || {
		cat "$tmp/attach.3.log" "$m.log.serve"
		exit 1
	}
	echo "$mode: vbd 3 served after"
	kill -TERM "$spid"
	wait "$spid" || true
done
echo "ok"
