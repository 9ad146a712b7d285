# SPDX-License-Identifier: BSD-2-Clause
#
# Sourced by the script tests: a multi-process machine of the README's
# walk-through.  machine_start DIR IMAGE [SERVE-OPTION...] starts `xbd hv`
# on DIR and `xbd serve` as domain 1 serving IMAGE to domain 2 as xvda
# (with those options), and returns
# once the vbd exists; their pids go to the caller's pids array, their
# logs to DIR.log.hv and DIR.log.serve.  Needs $xbd.

machine_start() {
	local m=$1 image=$2
	shift 2
	hv_start "$m"
	serve_start "$m" "$image" "$m.log.serve" "$@"
}

# hv_start DIR: `xbd hv` on DIR (in pids, log DIR.log.hv), once it listens.
hv_start() {
	local m=$1 i
	"$xbd" hv --dir "$m" >"$m.log.hv" 2>&1 &
	pids+=($!)
	for i in $(seq 50); do [ -S "$m/socket" ] && break; sleep 0.1; done
}

# serve_start DIR IMAGE LOG [SERVE-OPTION...]: `xbd serve` as domain 1
# of the machine on DIR serving IMAGE to domain 2 as xvda ($spid, also
# in pids); returns once the vbd exists.  With IMAGE "", no vbd of its
# own: it serves the vbds the toolstack writes.
serve_start() {
	local m=$1 image=$2 log=$3 i own=()
	shift 3
	[ -z "$image" ] || own=(--image "$image" --frontend 2 --vdev xvda)
	"$xbd" serve --dir "$m" --domid 1 --name storage "${own[@]}" "$@" \
	    >"$log" 2>&1 &
	spid=$!
	pids+=($spid)
	# The vbd exists once serve says it is serving.
	for i in $(seq 100); do
		grep -q 'serving as domain 1' "$log" && return 0
		sleep 0.1
	done
	echo "xbd serve did not start:"
	cat "$m.log.hv" "$log"
	return 1
}

# machine_tmp: $tmp, removed on exit with every process in $pids killed,
# for the scripts that play the toolstack with xenstore-utils (exit 77
# without them).
machine_tmp() {
	tmp=$(mktemp -d)
	pids=()
	trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
	unset XBD_VERBOSE
	command -v xenstore-write >/dev/null || {
		echo "xenstore-write missing (xenstore-utils)"
		exit 77
	}
}

# vbd_add DIR FE VDEV PARAMS [MODE]: a vbd of backend domain 1 for domain
# FE on the machine on DIR, written the toolstack's way (libxl's nodes);
# vbd_be FE VDEV: its backend directory.
vbd_be() {
	echo "/local/domain/1/backend/vbd/$1/$2"
}

vbd_add() {
	local m=$1 fe=$2 vdev=$3 params=$4 mode=${5:-w}
	local fp=/local/domain/$fe/device/vbd/$vdev bp
	bp=$(vbd_be "$fe" "$vdev")
	# libxl makes both directories with their owners in the transaction
	# that writes the nodes.  The running backend must never see a node
	# it cannot write (it reports an error once and for all), so: the
	# directories and their permissions first (the backend waits for a
	# directory without its nodes), then the nodes, which inherit them.
	XENSTORED_PATH=$m/socket xenstore-write "$fp" "" "$bp" ""
	XENSTORED_PATH=$m/socket xenstore-chmod "$fp" "n$fe" r1
	XENSTORED_PATH=$m/socket xenstore-chmod "$bp" n1 "r$fe"
	XENSTORED_PATH=$m/socket xenstore-write "$fp/backend" "$bp" \
	    "$fp/backend-id" 1 "$fp/virtual-device" "$vdev" \
	    "$fp/device-type" disk "$fp/state" 1 "$bp/frontend" "$fp" \
	    "$bp/frontend-id" "$fe" "$bp/online" 1 "$bp/removable" 0 \
	    "$bp/bootable" 1 "$bp/mode" "$mode" "$bp/type" phy \
	    "$bp/params" "$params" "$bp/device-type" disk \
	    "$bp/discard-enable" 1 "$bp/state" 1 "$bp/hotplug-status" connected
}
