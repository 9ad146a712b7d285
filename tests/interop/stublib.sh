#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Build a stand-in for a shared library a binary links but never calls
# in the interop dom0: every function the binary imports from LIBRARY,
# under the same name, symbol version and soname, each one aborting.
# Debian's fio links the libraries of all its engines (librbd, librados,
# glusterfs, rdma, nbd, pmem: 80 MB with what they pull in) and is
# linked with BIND_NOW, so each must be there and resolve every symbol
# at start, though the checks only use the libaio engine; engines
# register at start without calling their library.
#
# usage: stublib.sh BINARY[,BINARY...] LIBRARY OUT.so
# (with several binaries, the stub has what any of them imports)

set -euo pipefail
bin=$1 lib=$2 out=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# What LIBRARY exports, as name@version (name alone if unversioned),
# and what BINARY imports in the same form: the common part is ours.
nm -D --defined-only "$lib" | awk '{ sub(/@@/, "@", $3); print $3 }' |
    sort -u >"$tmp/defined"
IFS=, read -ra bins <<<"$bin"
for b in "${bins[@]}"; do nm -D --undefined-only "$b"; done |
    awk '{ print $2 }' | sort -u >"$tmp/wanted"
comm -12 "$tmp/defined" "$tmp/wanted" >"$tmp/syms"
[ -s "$tmp/syms" ] || {
	echo "stublib.sh: $bin imports nothing from $lib" >&2
	exit 1
}
{
	echo '#include <stdlib.h>'
	awk -F@ '{ printf "void %s(void) { abort(); }\n", $1 }' "$tmp/syms"
} >"$tmp/stub.c"
awk -F@ '$2 != "" { v[$2] = v[$2] " " $1 ";" }
    END { for (k in v) printf "%s {\n global:%s\n};\n", k, v[k] }' \
    "$tmp/syms" >"$tmp/vers"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
vs=()
[ -s "$tmp/vers" ] && vs=("-Wl,--version-script=$tmp/vers")
cc -shared -fPIC -O1 -w -fno-builtin -o "$out" "-Wl,-soname,$soname" \
    "${vs[@]}" "$tmp/stub.c"
