#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: the backend's systemd unit (dist/systemd).  `cmake
# --install` puts it where systemd looks under the prefix, its ExecStart
# is the xbd the same install puts in place, systemd-analyze finds
# nothing wrong with it, and it keeps what restarting the backend relies
# on: SIGTERM to stop, restarted always, /run/xbd (the state files) kept
# across restarts.

set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

DESTDIR=$tmp cmake --install "$XBD_BUILD" >/dev/null
unit=$(find "$tmp" -name xbd-serve.service)
[ -n "$unit" ] || {
	echo "xbd-serve.service not installed"
	exit 1
}
exe=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$unit")
prefix=${exe%/bin/xbd}
echo "unit: ${unit#"$tmp"}, ExecStart: $exe"
[ "$unit" = "$tmp$prefix/lib/systemd/system/xbd-serve.service" ]
[ -x "$tmp$exe" ]
grep -qx "ExecStart=$exe serve --platform xen" "$unit"
grep -qx 'Restart=always' "$unit"
grep -qx 'KillSignal=SIGTERM' "$unit"
grep -qx 'RuntimeDirectory=xbd' "$unit"
grep -qx 'RuntimeDirectoryPreserve=yes' "$unit"
if command -v systemd-analyze >/dev/null; then
	# The same unit, running the installed copy (verify wants it there).
	mkdir "$tmp/u"
	sed "s|^ExecStart=$exe|ExecStart=$tmp$exe|" "$unit" \
	    >"$tmp/u/xbd-serve.service"
	systemd-analyze verify --man=no "$tmp/u/xbd-serve.service" \
	    >"$tmp/verify" 2>&1 || true
	if [ -s "$tmp/verify" ]; then
		cat "$tmp/verify"
		exit 1
	fi
fi
echo ok
