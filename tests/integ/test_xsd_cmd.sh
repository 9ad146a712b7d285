#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: the `xbd xenstored` command.  --help and usage errors,
# detaching (the pid printed once the socket is ready), Xen's tools
# through XENSTORED_PATH, SIGTERM removing the socket, a second daemon
# on the same directory refused, and --foreground with quota options.

set -u
xbd=${XBD_BUILD:?}/tools/xbd/xbd
command -v xenstore-read >/dev/null 2>&1 || { echo "no xenstore-utils"; exit 77; }
[ -x "$xbd" ] || { echo "no $xbd"; exit 77; }

dir=$(mktemp -d /tmp/xsd-cmd-XXXXXX)
pid=
fail() {
	echo "FAIL: $*" >&2
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	rm -rf "$dir"
	exit 1
}

# Wait (5 s at most) until the detached daemon removed its socket: its
# last act.  (Whether the process is reaped is up to whoever is init.)
gone() {
	i=0
	while [ -e "$dir/socket" ]; do
		i=$((i + 1))
		[ $i -gt 50 ] && return 1
		sleep 0.05
	done
	return 0
}

"$xbd" xenstored --help | grep -q 'usage: xbd xenstored' || fail "--help"
"$xbd" xenstored >/dev/null 2>&1; [ $? -eq 2 ] || fail "no --dir: exit 2"
"$xbd" xenstored --dir "$dir" --nodes 0 >/dev/null 2>&1
[ $? -eq 2 ] || fail "--nodes 0: exit 2"
"$xbd" xenstored --dir "$dir" --watches x >/dev/null 2>&1
[ $? -eq 2 ] || fail "--watches x: exit 2"
"$xbd" xenstored --dir "$dir" extra >/dev/null 2>&1
[ $? -eq 2 ] || fail "extra argument: exit 2"

# Detached: the parent prints the pid when the socket is ready.
pid=$("$xbd" xenstored --dir "$dir") || fail "start"
[ -S "$dir/socket" ] || fail "no socket after start"
export XENSTORED_PATH="$dir/socket"
xenstore-write /cmd/x hello || fail "xenstore-write"
[ "$(xenstore-read /cmd/x)" = hello ] || fail "xenstore-read"
[ "$(xenstore-list /cmd)" = x ] || fail "xenstore-list"
# A second daemon on the same directory is refused.
"$xbd" xenstored --dir "$dir" --foreground 2>/dev/null
[ $? -eq 1 ] || fail "second daemon not refused"
[ "$(xenstore-read /cmd/x)" = hello ] || fail "first daemon disturbed"
kill -TERM "$pid" || fail "kill"
gone || fail "daemon did not stop on SIGTERM"

# Foreground, with quotas.
"$xbd" xenstored --dir "$dir" --foreground --nodes 3 --watches 1 \
    --transaction-nodes 5 --outstanding 2 --memory 100000 \
    --watch-events 10 --domain-connections 2 -E 3 -S 512 -W 1 -t 1 -A 2 \
    -M 64 &
pid=$!
i=0
while [ ! -S "$dir/socket" ]; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "no socket in foreground"
	sleep 0.1
done
xenstore-write /fg 1 || fail "foreground write"
kill -INT "$pid"
wait "$pid" || fail "foreground exit status"
pid=
[ -e "$dir/socket" ] && fail "socket left behind (foreground)"
rmdir "$dir" || fail "files left in $dir"
echo "ok"
