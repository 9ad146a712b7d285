#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: the hotplug script of remote-storage vbds
# (dist/xen/xbd-storage).  `cmake --install` puts it in /etc/xen/scripts
# where xl finds script=xbd-storage; run as libxl runs it (XENBUS_PATH,
# `add`), it writes hotplug-status "connected" for rbd: and NBD params,
# refuses anything else with hotplug-error and "error", and `remove`
# takes the status away.  End to end on the simulated machine: a vbd
# written the toolstack's way for an NBD export of nbdkit, the script's
# step, then `xbd serve` serves it to a frontend's verified workload.

set -euo pipefail
for t in nbdkit xenstore-write xenstore-read; do
	command -v $t >/dev/null || { echo "skip: no $t"; exit 77; }
done
xbd=$XBD_BUILD/tools/xbd/xbd
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
unset XBD_VERBOSE

DESTDIR=$tmp/inst cmake --install "$XBD_BUILD" >/dev/null
script=$tmp/inst/etc/xen/scripts/xbd-storage
[ -x "$script" ] || { echo "xbd-storage not installed in /etc/xen/scripts"; exit 1; }

m=$tmp/m
"$xbd" hv --dir "$m" >"$m.log.hv" 2>&1 &
pids+=($!)
for i in $(seq 50); do [ -S "$m/socket" ] && break; sleep 0.1; done
export XENSTORED_PATH=$m/socket
be=/local/domain/1/backend/vbd/2/51712

# hotplug ACTION PARAMS: the script's exit status, as libxl runs it.
hotplug() {
	xenstore-write "$be/params" "$2"
	XENBUS_PATH=$be "$script" "$1" 2>"$tmp/err"
}

echo "--- accepted params"
for p in "rbd:xbd/disk" "rbd:xbd/disk@snap:conf=/etc/ceph/ceph.conf:id=xen" \
    "nbd://10.0.0.1:10809/disk" "nbd+unix:///disk?socket=/run/nbd.sock"; do
	xenstore-rm "$be" 2>/dev/null || true
	hotplug add "$p"
	[ "$(xenstore-read "$be/hotplug-status")" = connected ]
	[ "$(xenstore-read "$be/physical-device-path")" = "$p" ]
	echo "add $p: connected"
done
hotplug remove "nbd://10.0.0.1:10809/disk"
! xenstore-read "$be/hotplug-status" 2>/dev/null
echo "remove: hotplug-status gone"

echo "--- refused params"
for p in /dev/sda rbd:xbd "nbds://host/disk" "nbd+unix:///disk"; do
	xenstore-rm "$be" 2>/dev/null || true
	rc=0
	hotplug add "$p" || rc=$?
	[ $rc -eq 1 ]
	[ "$(xenstore-read "$be/hotplug-status")" = error ]
	xenstore-read "$be/hotplug-error" | grep -qF -- "'$p'"
	echo "add $p: $(xenstore-read "$be/hotplug-error")"
done
xenstore-rm "$be"

echo "--- end to end: the toolstack's vbd of an NBD export"
nbdkit -f -U "$tmp/n.sock" memory 64M >"$tmp/nbdkit.log" 2>&1 &
pids+=($!)
for i in $(seq 100); do [ -S "$tmp/n.sock" ] && break; sleep 0.1; done
fe=/local/domain/2/device/vbd/51712
# libxl's nodes (one transaction there; here written before the backend
# starts, so that it never sees them without their permissions), then
# its hotplug step: this script.
xenstore-write "$fe/backend" "$be" "$fe/backend-id" 1 \
    "$fe/virtual-device" 51712 "$fe/device-type" disk "$fe/state" 1 \
    "$be/frontend" "$fe" "$be/frontend-id" 2 "$be/online" 1 \
    "$be/removable" 0 "$be/bootable" 1 "$be/mode" w "$be/type" phy \
    "$be/device-type" disk "$be/discard-enable" 1 "$be/state" 1 \
    "$be/script" /etc/xen/scripts/xbd-storage \
    "$be/params" "nbd+unix:///?socket=$tmp/n.sock"
xenstore-chmod -r "$be" n1 r2
xenstore-chmod -r "$fe" n2 r1
"$xbd" serve --dir "$m" --domid 1 --name storage >"$m.log.serve" 2>&1 &
pids+=($!)
for i in $(seq 100); do
	grep -q 'serving as domain 1' "$m.log.serve" && break
	sleep 0.1
done
hotplug add "nbd+unix:///?socket=$tmp/n.sock"
"$xbd" attach --dir "$m" --domid 2 xvda --workload 2 --once \
    >"$tmp/attach.out" 2>&1 || { cat "$tmp/attach.out" "$m.log.serve"; exit 1; }
grep -E '^(workload|verify):' "$tmp/attach.out" | tail -2
grep -q ' 0 bad' "$tmp/attach.out"
echo ok
