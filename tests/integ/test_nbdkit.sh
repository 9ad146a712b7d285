#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: nbdkit-xbd-plugin with real NBD clients.  nbdinfo sees the
# size and capabilities; qemu-img convert copies an image in and out
# byte-identical; nbdcopy does the round trip; fio's nbd engine runs a
# verified random write workload.  Every byte travels through the xbd
# frontend, the simulated platform and the xbb backend.

set -euo pipefail
plugin=$XBD_BUILD/plugins/nbdkit/nbdkit-xbd-plugin.so
for t in nbdkit nbdinfo nbdcopy qemu-img fio cmp; do
	command -v $t >/dev/null || { echo "skip: no $t"; exit 77; }
done
[ -f "$plugin" ] || { echo "skip: plugin not built"; exit 77; }
. "$(dirname "$0")/machine.sh"
xbd=$XBD_BUILD/tools/xbd/xbd
tmp=$(mktemp -d)
pids=()
cleanup() {
	rm -f "$tmp/holding"
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
unset XBD_VERBOSE

# A sanitizer build of the plugin needs its runtime loaded first into
# nbdkit, which is not built with it (and whose exit-time allocations are
# not ours to report); the clients nbdkit runs must not inherit that.
asan=$(ldd "$plugin" | awk '/libasan/ { print $3 }')
ubsan=$(ldd "$plugin" | awk '/libubsan/ { print $3 }')
U="unset LD_PRELOAD;"
nbdkit() {
	if [ -n "$asan" ]; then
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		    LD_PRELOAD="$asan${ubsan:+ $ubsan}" command nbdkit "$@"
	else
		command nbdkit "$@"
	fi
}

head -c 64M /dev/urandom >"$tmp/src"
truncate -s 64M "$tmp/dst" "$tmp/dst2"

echo "--- nbdinfo"
info=$(nbdkit -U - "$plugin" image="$tmp/dst" --run "$U nbdinfo \"\$uri\"")
# Here-strings, not pipes: grep -q stops reading at the first match,
# and a writer that gets SIGPIPE fails the pipeline under pipefail.
grep -E 'export-size|can_flush|can_trim|can_fua|can_multi' <<<"$info"
grep -q 'export-size: 67108864' <<<"$info"
grep -q 'can_flush: true' <<<"$info"
grep -q 'can_trim: true' <<<"$info"
grep -q 'can_fua: true' <<<"$info"

echo "--- qemu-img convert in and out"
nbdkit -U - "$plugin" image="$tmp/dst" \
    --run "$U qemu-img convert -n -f raw -O raw '$tmp/src' \"\$uri\""
cmp "$tmp/src" "$tmp/dst"
nbdkit -U - "$plugin" image="$tmp/dst" \
    --run "$U qemu-img convert -f raw -O raw \"\$uri\" '$tmp/out'"
cmp "$tmp/src" "$tmp/out"

echo "--- nbdcopy round trip"
nbdkit -U - "$plugin" image="$tmp/dst2" \
    --run "$U nbdcopy '$tmp/src' \"\$uri\" && nbdcopy \"\$uri\" '$tmp/out2'"
cmp "$tmp/src" "$tmp/dst2"
cmp "$tmp/src" "$tmp/out2"

echo "--- fio nbd engine, verified"
# From $tmp: fio leaves local-verify-0-verify.state in its working
# directory, which is the source tree when the script is run by hand.
nbdkit -U - "$plugin" image="$tmp/dst2" --run "$U cd '$tmp' && \
    fio --name=verify --ioengine=nbd --uri=\"\$uri\" --rw=randwrite \
    --bs=4k --size=32M --iodepth=16 --verify=crc32c --do_verify=1 \
    --output-format=terse" \
    >"$tmp/fio.out"
# Terse v3: field 5 is the error count.
cut -d';' -f5 "$tmp/fio.out" | tail -1 | grep -qx 0

echo "--- bad parameters fail the configuration"
for p in indirect=maybe persistent=2 bounce= ring-pages=3 ring-pages=64 \
    queues=0 queues=x domid=99999; do
	if nbdkit -U - "$plugin" image="$tmp/dst" "$p" --run true \
	    2>"$tmp/cfg.err"; then
		echo "nbdkit served with $p"
		exit 1
	fi
	grep -q "${p%%=*}" "$tmp/cfg.err"
done
grep -q "indirect: 'maybe' is not a boolean" < <(nbdkit -U - "$plugin" \
    image="$tmp/dst" indirect=maybe --run true 2>&1 || true)

echo "--- bad storage fails the configuration with the real reason"
mkdir "$tmp/imgdir"
head -c 513 /dev/zero >"$tmp/b513.img"
for img in imgdir b513.img nope.img; do
	rc=0
	# The nbdkit function (sanitizer preload), not timeout(1): CTest
	# bounds the time.
	nbdkit -U - "$plugin" image="$tmp/$img" --run true \
	    2>"$tmp/img.err" || rc=$?
	if [ $rc -ne 1 ] || grep -q 'timed out' "$tmp/img.err" ||
	    ! grep -q "$img: " "$tmp/img.err"; then
		echo "image=$img: exit $rc"
		cat "$tmp/img.err"
		exit 1
	fi
done
grep -q 'nope.img: No such file or directory' "$tmp/img.err"

echo "--- read-only export"
info=$(nbdkit -r -U - "$plugin" image="$tmp/dst" --run "$U nbdinfo \"\$uri\"")
grep -q 'is_read_only: true' <<<"$info"

echo "--- readonly=true: a read-only file exported, never written"
# As root any file opens for writing: drop to nobody when we can, so
# that a backend opening the image read-write fails as it would for a
# user.  (A sanitizer build keeps root: its preload is in the wrapper.)
ro=$tmp/ro
mkdir "$ro"
chmod 755 "$tmp" "$ro"
cp "$tmp/src" "$ro/ro.img"
chmod 444 "$ro/ro.img"
head -c 1M /dev/zero >"$ro/zero"
as=()
if [ "$(id -u)" -eq 0 ] && [ -z "$asan" ] &&
    setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$plugin"; then
	as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
rc=0
"${as[@]}" nbdkit -U - "$plugin" image="$ro/ro.img" readonly=true \
    --run "$U nbdinfo --can write \"\$uri\"" || rc=$?
[ $rc -eq 2 ] # nbdinfo --can: 2 is false
"${as[@]}" nbdkit -U - "$plugin" image="$ro/ro.img" readonly=true \
    --run "$U nbdcopy \"\$uri\" - | cmp - '$ro/ro.img'"
if "${as[@]}" nbdkit -U - "$plugin" image="$ro/ro.img" readonly=true \
    --run "$U nbdcopy '$ro/zero' \"\$uri\"" 2>/dev/null; then
	echo "a write to a readonly=true export succeeded"
	exit 1
fi
cmp "$tmp/src" "$ro/ro.img"

echo "--- a failed attach leaves nothing in TMPDIR"
mkdir "$tmp/t"
if TMPDIR=$tmp/t nbdkit -f -U "$tmp/sock" "$plugin" image="$tmp/dst" \
    vbd=xvdz 2>"$tmp/fail.err"; then
	echo "attaching a vbd that does not exist succeeded"
	exit 1
fi
grep -q 'attaching xvdz' "$tmp/fail.err"
if [ -n "$(ls -A "$tmp/t")" ]; then
	echo "left behind: $(ls -A "$tmp/t")"
	exit 1
fi

echo "--- xbd list names nbdkit as the frontend's holder"
truncate -s 64M "$tmp/mdisk"
machine_start "$tmp/m" "$tmp/mdisk"
nbdkit -U - "$plugin" dir="$tmp/m" domid=2 vbd=xvda \
    --run "$U nbdinfo --size \"\$uri\" >/dev/null &&
    '$xbd' list --dir '$tmp/m'" >"$tmp/list"
cat "$tmp/list"
grep -qE ' xvda .* Connected +Connected .* xbd serve\[[0-9]+\] / nbdkit\[[0-9]+\]$' \
    "$tmp/list"

echo "--- one frontend per vbd of a running machine"
# A second frontend used to hang for good in xbd_sync_io (and that
# nbdkit ignored SIGTERM); it is refused at once, naming the holder.
m=$tmp/mh
machine_start "$m" "$tmp/dst"
mspid=$spid
# The holder keeps the disk while $tmp/holding exists.
touch "$tmp/holding"
nbdkit -U - "$plugin" dir="$m" domid=2 --run "$U nbdinfo \"\$uri\" \
    >'$tmp/held.info'; while [ -e '$tmp/holding' ]; do sleep 0.1; done" &
npid=$!
pids+=($npid)
for i in $(seq 100); do
	grep -q 'export-size' "$tmp/held.info" 2>/dev/null && break
	sleep 0.1
done
grep -q 'export-size: 67108864' "$tmp/held.info"
for i in $(seq 100); do
	set +e
	# The nbdkit function (sanitizer preload), not timeout(1): CTest
	# bounds the time of a refusal that would hang.
	nbdkit -U - "$plugin" dir="$m" domid=2 \
	    --run "$U nbdinfo \"\$uri\"" >/dev/null 2>"$tmp/dup.err"
	rc=$?
	set -e
	[ $rc -eq 1 ] || { echo "second nbdkit: exit $rc"; exit 1; }
	grep -q 'xvda of domain 2 is held by pid [0-9]* (nbdkit)' "$tmp/dup.err"
done
set +e
timeout 10 "$xbd" attach --dir "$m" --domid 2 --once 2>"$tmp/dup.err"
rc=$?
set -e
[ $rc -eq 1 ]
grep -q 'xbd attach: xvda of domain 2 is held by pid [0-9]* (nbdkit)' \
    "$tmp/dup.err"
rm "$tmp/holding"
wait $npid
"$xbd" attach --dir "$m" --domid 2 --once >/dev/null

echo "--- recover-timeout: a lost backend fails the I/O in that time"
kill -KILL "$mspid"
wait "$mspid" 2>/dev/null || true
serve_start "$m" "$tmp/dst" "$m.log.serve2"
# The default (30 s) would outlast the 10 s the read is given.
set +e
nbdkit -U - "$plugin" dir="$m" domid=2 recover-timeout=1 --run "$U \
    nbdcopy \"\$uri\" /dev/null && kill -KILL $spid &&
    sleep 0.5 && timeout 10 nbdcopy \"\$uri\" /dev/null" 2>"$tmp/rec.err"
rc=$?
set -e
cat "$tmp/rec.err"
[ $rc -ne 0 ] && [ $rc -ne 124 ]
grep -q 'nbd_pread: .*Input/output error' "$tmp/rec.err"
set +e
nbdkit -U - "$plugin" dir="$m" domid=2 recover-timeout=x --run true 2>/dev/null
rc=$?
set -e
[ $rc -eq 1 ]

echo "--- a dead xbd hv ends the server"
m=$tmp/m2
machine_start "$m" "$tmp/dst2"
hvpid=${pids[-2]}
nbdkit -f -U "$tmp/nbd.sock" "$plugin" dir="$m" domid=2 2>"$tmp/lost.err" &
npid=$!
pids+=($npid)
for i in $(seq 100); do [ -S "$tmp/nbd.sock" ] && break; sleep 0.1; done
sleep 0.5
kill -KILL $hvpid
for i in $(seq 30); do kill -0 $npid 2>/dev/null || break; sleep 0.1; done
kill -0 $npid 2>/dev/null && { echo "nbdkit still serves"; exit 1; }
st=0
wait $npid || st=$?
cat "$tmp/lost.err"
[ $st -eq 1 ]
grep -q "xbd hv at $m is gone" "$tmp/lost.err"
echo "ok"
