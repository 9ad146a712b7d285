# SPDX-License-Identifier: BSD-2-Clause
#
# Sourced by the storage tests.  Sets $xbd, $stor_io and $tmp (removed on
# exit, with every process in $pids stopped), and offers:
#   ceph_need             the fixture's cluster ($conf), or exit 77 saying
#                         why there is none
#   rbd_ ARGS             the rbd CLI on that cluster
#   rbd_img NAME SIZE     a new image xbd/NAME; prints its params string
#   vbd_add, vbd_be       (tests/integ/machine.sh)
#   pattern OFF LEN SEED  what stor_io's w:OFF:LEN:SEED writes
#   range FILE OFF LEN    LEN bytes of FILE from OFF (K, M as dd takes)
#   rbd_range NAME OFF LEN  the same of image xbd/NAME, read by rbd export
#   serve_only, nbdkit_start, wait_line, nbd_need, io_bg, kind_need: see
#   each below

set -euo pipefail
. "$XBD_SRC/tests/integ/machine.sh"
xbd=$XBD_BUILD/tools/xbd/xbd
stor_io=$XBD_STOR_IO
tmp=$(mktemp -d)
pids=()

stor_cleanup() {
	local rc=$? p
	# On failure, what the machine's processes said.
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		tail -n 20 "$tmp"/*.log* 2>/dev/null || true
		stor_stacks "${spid:-}"
	fi
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
	exit $rc
}
trap stor_cleanup EXIT

# stor_stacks PID: where each thread of a stuck `xbd serve` waits (the
# kernel's wait channel, and gdb's backtraces where gdb is installed).
stor_stacks() {
	local t
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
	echo "--- threads of $1"
	for t in /proc/$1/task/*; do
		echo "${t##*/} $(cat "$t/comm") $(cat "$t/wchan" 2>/dev/null)"
	done
	command -v gdb >/dev/null || return 0
	timeout 60 gdb -p "$1" -batch -nx -ex 'thread apply all bt' \
	    2>/dev/null | grep -E '^(Thread|#)' || true
}

# kind_need rbd|nbd: exit 77 when xbd was built without that kind
# (its library missing at build time, or -DXBD_RBD=OFF / -DXBD_NBD=OFF).
kind_need() {
	"$xbd" version >"$tmp/version"
	grep -qx "storage-$1: yes" "$tmp/version" || {
		echo "skip: xbd built without $1 storage" \
		    "($(grep "^storage-$1:" "$tmp/version" || echo "no such line"))"
		exit 77
	}
}

ceph_need() {
	kind_need rbd
	if [ -f "$XBD_CEPH_DIR.skip" ]; then
		echo "skip: $(cat "$XBD_CEPH_DIR.skip")"
		exit 77
	fi
	conf=$XBD_CEPH_DIR/ceph.conf
	[ -f "$conf" ] || {
		echo "no cluster at $XBD_CEPH_DIR (fixture storage_ceph_start)"
		exit 1
	}
}

rbd_() {
	timeout 60 rbd -c "$conf" "$@"
}

rbd_img() {
	rbd_ rm "xbd/$1" >/dev/null 2>&1 || true
	rbd_ create "xbd/$1" --size "$2"
	echo "rbd:xbd/$1:conf=$conf"
}

range() {
	dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=1M \
	    status=none
}

rbd_range() {
	rm -f "$tmp/export.img"
	rbd_ export --no-progress "xbd/$1" "$tmp/export.img" >/dev/null
	range "$tmp/export.img" "$2" "$3"
}

pattern() {
	"$stor_io" --pattern "$@"
}

# serve_only DIR [SERVE-OPTION...]: `xbd hv` on DIR and `xbd serve` as
# its domain 1 with no vbd of its own, serving what vbd_add writes
# ($spid); log DIR.log.serve.
serve_only() {
	local m=$1
	shift
	hv_start "$m"
	serve_start "$m" "" "$m.log.serve" "$@"
}

# nbdkit_start SOCK NBDKIT-ARGS...: nbdkit in the foreground on the Unix
# socket SOCK ($npid, also in pids; log SOCK.log); returns once it
# listens.
nbdkit_start() {
	local sock=$1 i
	shift
	rm -f "$sock"
	nbdkit -f -U "$sock" "$@" >>"$sock.log" 2>&1 &
	npid=$!
	pids+=($npid)
	for i in $(seq 100); do
		[ -S "$sock" ] && return 0
		kill -0 "$npid" 2>/dev/null || break
		sleep 0.1
	done
	echo "nbdkit $* did not start:"
	cat "$sock.log"
	return 1
}

# wait_line REGEX FILE SECONDS: until FILE has a line matching REGEX;
# fails printing FILE if it has none by then.
wait_line() {
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no '$1' in $2 after $3 s:"
	cat "$2"
	return 1
}

# io_bg DIR FE VBD OUT OP...: stor_io in the background ($io, in pids),
# its output in OUT; each of its `i` operations waits until the test
# calls io_go.  So one frontend stays attached across what the test does
# to the storage meanwhile, as a guest's would.
io_bg() {
	local m=$1 fe=$2 vbd=$3 out=$4
	shift 4
	rm -f "$tmp/go"
	mkfifo "$tmp/go"
	"$stor_io" "$m" "$fe" "$vbd" "$@" <"$tmp/go" >"$out" 2>&1 &
	io=$!
	pids+=($io)
	exec 3>"$tmp/go"
}

io_go() {
	echo >&3
}

# nbd_need: nbdkit and its filters, or exit 77 saying what is missing.
nbd_need() {
	kind_need nbd
	command -v nbdkit >/dev/null || {
		echo "skip: nbdkit not installed (scripts/deps.sh)"
		exit 77
	}
}
