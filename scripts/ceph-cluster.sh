#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# A throw-away single-node Ceph cluster for the storage tests and the
# benchmark: one monitor and one bluestore OSD on a sparse file, on
# loopback only, with cephx and an admin keyring in DIR, and a pool
# `xbd` of size 1 initialised for RBD.  Built from Debian 12's ceph 16
# packages (scripts/deps.sh), with no systemd: the daemons run directly
# with -c DIR/ceph.conf and write their pid files, logs and sockets
# under DIR.
#
# Bluestore rather than memstore: memstore keeps the objects in memory
# and writes them out only at a clean unmount, so an OSD killed with
# SIGKILL would lose acknowledged writes, which is exactly what the
# OSD-kill test must be able to rule out.
#
# usage: scripts/ceph-cluster.sh start DIR    start; prints DIR/ceph.conf
#        scripts/ceph-cluster.sh stop DIR     kill the daemons, remove DIR
#        scripts/ceph-cluster.sh kill-osd DIR SIGKILL the OSD, wait for it
#        scripts/ceph-cluster.sh start-osd DIR  start it again, wait until up
#
# Exit status: 0, 1 on failure (the daemons' log tails on stderr), 77
# when the cluster cannot run here (packages missing), with the reason.

set -euo pipefail

die() {
	echo "ceph-cluster: $*" >&2
	exit 1
}

skip() {
	echo "ceph-cluster: cannot start a cluster: $*" >&2
	exit 77
}

# A free TCP port on 127.0.0.1 for the monitor; random, so that two
# clusters (the dev and asan test runs, two checkouts) coexist.
free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

write_conf() {
	local dir=$1 fsid=$2 port=$3
	cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
public addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $dir/keyring
run dir = $dir/run
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
# One OSD: the pool cannot have more than one copy.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
# Nothing in this cluster survives its test: no fsync-heavy checks at
# mkfs, small caches (two shared cores, a few GiB of memory).
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 8589934592
bluestore fsck on mkfs = false
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 268435456
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2
# A killed OSD is noticed at once by the monitor (it is the only one),
# and comes back in a few seconds; let it keep its place meanwhile.
mon osd down out interval = 600
osd heartbeat grace = 6
[mon]
admin socket = $dir/run/\$name.asok
[osd]
admin socket = $dir/run/\$name.asok
[client]
# Clients come and go, several at a time (xbd serve, the rbd CLI, fio).
admin socket = $dir/run/\$name.\$pid.asok
log file = $dir/log/client.log
[mon.a]
mon data = $dir/mon
[osd.0]
osd data = $dir/osd0
keyring = $dir/osd0/keyring
EOF
}

ceph_() {
	timeout 30 ceph -c "$DIR/ceph.conf" "$@"
}

log_tails() {
	local f
	for f in "$DIR"/log/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f" >&2
		tail -n 20 "$f" >&2
	done
}

start_mon() {
	local fsid=$1 port=$2
	ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. \
	    --cap mon 'allow *' >/dev/null
	ceph-authtool "$DIR/keyring" --gen-key -n client.admin \
	    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' \
	    >/dev/null
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" \
	    "$DIR/monmap" >/dev/null
	ceph-mon -c "$DIR/ceph.conf" -i a --mkfs --monmap "$DIR/monmap" \
	    --keyring "$DIR/keyring" ||
	    {
		    log_tails
		    die "ceph-mon --mkfs failed"
	    }
	ceph-mon -c "$DIR/ceph.conf" -i a 2>>"$DIR/log/mon.a.stderr" || {
		log_tails
		die "ceph-mon did not start"
	}
}

make_osd() {
	local uuid
	uuid=$(cat /proc/sys/kernel/random/uuid)
	mkdir -p "$DIR/osd0"
	[ "$(ceph_ osd new "$uuid")" = 0 ] || die "ceph osd new: not osd.0"
	ceph-osd -c "$DIR/ceph.conf" -i 0 --mkfs --mkkey --osd-uuid "$uuid" \
	    --no-mon-config \
	    >"$DIR/log/osd-mkfs.out" 2>&1 ||
	    {
		    cat "$DIR/log/osd-mkfs.out" >&2
		    log_tails
		    die "ceph-osd --mkfs failed"
	    }
	ceph_ auth add osd.0 osd 'allow *' mon 'allow profile osd' \
	    -i "$DIR/osd0/keyring" >/dev/null 2>&1
}

# Waits until the OSD is up in the map, at most $1 seconds.
wait_osd_up() {
	local t=$1 i
	for i in $(seq 1 $((t * 2))); do
		if ceph_ osd dump 2>/dev/null | grep -q '^osd\.0 up'; then
			return 0
		fi
		sleep 0.5
	done
	log_tails
	die "osd.0 not up after ${t}s"
}

start_osd() {
	# Its notes until it forks ("Falling back to public interface")
	# are noise on the caller's terminal.
	ceph-osd -c "$DIR/ceph.conf" -i 0 2>>"$DIR/log/osd.0.stderr" || {
		log_tails
		die "ceph-osd did not start"
	}
	wait_osd_up 60
}

kill_osd() {
	local pid
	pid=$(cat "$DIR/run/osd.0.pid" 2>/dev/null) || die "no osd.0 pid file"
	kill -KILL "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
	done
	rm -f "$DIR/run/osd.0.pid"
	# The monitor learns of it from the failed peers of the OSD;
	# with none, it is marked down only after the report grace: say
	# so directly, so that clients resend to the OSD when it is back.
	ceph_ osd down 0 >/dev/null 2>&1 || true
}

cmd_start() {
	local fsid port t0
	t0=$(date +%s.%N)
	for b in ceph-mon ceph-osd ceph ceph-authtool monmaptool rbd; do
		command -v "$b" >/dev/null ||
		    skip "$b not installed (scripts/deps.sh installs ceph-mon, ceph-osd and ceph-common)"
	done
	[ ! -e "$DIR" ] || [ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty"
	mkdir -p "$DIR/run" "$DIR/log" "$DIR/mon"
	DIR=$(cd "$DIR" && pwd)
	fsid=$(cat /proc/sys/kernel/random/uuid)
	port=$(free_port)
	write_conf "$DIR" "$fsid" "$port"
	start_mon "$fsid" "$port"
	make_osd
	start_osd
	ceph_ osd pool create xbd 32 >/dev/null 2>&1 ||
	    die "ceph osd pool create xbd failed"
	timeout 60 rbd -c "$DIR/ceph.conf" pool init xbd ||
	    die "rbd pool init xbd failed"
	echo "ceph-cluster: started in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s" >&2
	echo "$DIR/ceph.conf"
}

cmd_stop() {
	local f pid
	[ -d "$DIR" ] || return 0
	for f in "$DIR"/run/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill -KILL "$pid" 2>/dev/null || true
	done
	for f in "$DIR"/run/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		while kill -0 "$pid" 2>/dev/null; do
			sleep 0.1
		done
	done
	rm -rf "$DIR"
}

[ $# -eq 2 ] || {
	sed -n '/^# usage/,/^$/p' "$0" >&2
	exit 2
}
DIR=$2
case $1 in
start) cmd_start ;;
stop) cmd_stop ;;
kill-osd) kill_osd ;;
start-osd) start_osd ;;
*)
	echo "ceph-cluster: unknown command $1" >&2
	exit 2
	;;
esac
