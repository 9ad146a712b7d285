#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: the installed library.  libxbd.so exports exactly the
# functions include/xbd/xbd.h marks XBD_API, nothing else; installed
# with its header and pkg-config file into a fresh prefix, it builds a
# program from `pkg-config --cflags --libs xbd` alone, and that program
# attaches a vbd of a running `xbd hv` machine and moves data.

set -euo pipefail
. "$(dirname "$0")/machine.sh"
tmp=$(mktemp -d)
pids=()
cleanup() {
	local rc=$?
	# On failure, what the machine's processes said.
	[ $rc -eq 0 ] || tail -n 20 "$tmp"/m.log.* 2>/dev/null || true
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
for t in nm pkg-config cc; do
	command -v $t >/dev/null || { echo "skip: no $t"; exit 77; }
done

echo "--- exported symbols"
lib=$(ls "$XBD_BUILD"/lib/front/libxbd.so.*.*.* | head -1)
sed -n 's/^XBD_API[^(]*[ *]\(xbd_[a-z0-9_]*\)(.*/\1/p' \
    "$XBD_SRC/include/xbd/xbd.h" | sort -u >"$tmp/api"
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ { print $3 }' |
    sort -u >"$tmp/exported"
[ -s "$tmp/api" ] || { echo "no XBD_API declarations found"; exit 1; }
if ! diff -u "$tmp/api" "$tmp/exported"; then
	echo "libxbd.so exports differ from xbd.h's XBD_API functions"
	exit 1
fi
echo "$(wc -l <"$tmp/api") functions, exactly the public API"

echo "--- install, pkg-config, build a client"
cmake --install "$XBD_BUILD" --prefix "$tmp/prefix" >/dev/null
pcdir=$(dirname "$(find "$tmp/prefix" -name xbd.pc | head -1)")
export PKG_CONFIG_PATH=$pcdir
pkg-config --exists xbd
[ "$(pkg-config --modversion xbd)" != "" ]
# A sanitizer build of the library needs its runtime in the program.
san=
if grep -q libasan < <(ldd "$lib"); then san=-fsanitize=address,undefined; fi
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror $san -o "$tmp/client" \
    "$XBD_SRC/tests/pkg/libxbd_client.c" $(pkg-config --cflags --libs xbd)
libdir=$(pkg-config --variable=libdir xbd)
# The program finds the installed library, not the build tree's.
grep -q "$libdir/libxbd.so" < <(LD_LIBRARY_PATH=$libdir ldd "$tmp/client")

echo "--- the client against a running machine"
xbd=$XBD_BUILD/tools/xbd/xbd
m=$tmp/m
truncate -s 64M "$tmp/disk.img"
machine_start "$m" "$tmp/disk.img"
LD_LIBRARY_PATH=$libdir "$tmp/client" "$m" 2 xvda "$tmp/pattern" |
    tee "$tmp/client.out"
grep -qx 'xbd0: 131072 sectors' "$tmp/client.out"
grep -qx 'io: ok' "$tmp/client.out"
# The data is on the image, where the backend put it.
cmp -n 65536 -i 4096:0 "$tmp/disk.img" "$tmp/pattern"
echo "ok"
