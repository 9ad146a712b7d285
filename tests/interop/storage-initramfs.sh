#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The network storage part of the dom0 initramfs, after initramfs.sh has
# copied the xbd binary and the libraries it links: nbdkit with its file
# plugin, the hotplug script xbd-storage, and storage.sh (the checks).
# The RBD libraries xbd links (librbd, librados: 75 MB with what only
# they pull in) are replaced by stubs (stublib.sh), as fio's are: no
# check uses RBD, and dom0 has 1 GiB.
#
# usage: storage-initramfs.sh XBD ROOTDIR

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
xbd=$1 r=$2
L=lib/x86_64-linux-gnu

cp "$here/storage.sh" "$r/storage.sh"
if [ -f "$top/dist/xen/xbd-storage" ]; then
	mkdir -p "$r/etc/xen/scripts"
	cp "$top/dist/xen/xbd-storage" "$r/etc/xen/scripts/"
	chmod +x "$r/etc/xen/scripts/xbd-storage"
fi

# closure FILE...: the libraries FILEs load, as ldd resolves them here.
closure() {
	local f
	for f in "$@"; do ldd "$f" || true; done 2>/dev/null |
	    awk '/=>/ && $3 ~ /^\// { print $3 }' | sort -u
}

nbdkit=$(command -v nbdkit)
plugins=/usr/$L/nbdkit/plugins
cp "$nbdkit" "$r/usr/bin/nbdkit"
mkdir -p "$r$plugins"
cp "$plugins/nbdkit-file-plugin.so" "$r$plugins/"
for l in $(closure "$nbdkit" "$plugins/nbdkit-file-plugin.so"); do
	[ -e "$r$l" ] || { mkdir -p "$r${l%/*}" && cp -L "$l" "$r$l"; }
done

# The libraries xbd links directly, by name and host path.
rbd=() real=()
while read -r n l; do
	case $n in
	librbd.so.* | librados.so.*) rbd+=("$l") ;;
	*) real+=("$l") ;;
	esac
done < <(ldd "$xbd" | awk '/=>/ && $3 ~ /^\// { print $1, $3 }' |
    grep -F -f <(readelf -d "$xbd" |
	sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'))
# initramfs.sh stubbed fio's engines' libraries; those xbd uses (libnbd)
# must be the real ones, which serve fio too.
for l in "${real[@]}"; do
	case $l in
	"${XBD_STAGE:-/nonexistent}"/*) ;; # Xen's, from the packages
	*) cp -L "$l" "$r$l" ;;
	esac
done
[ ${#rbd[@]} -gt 0 ] || exit 0

# librbd and librados: stubs with what xbd and fio import.  Then what
# only the real ones needed goes: the closure of everything else, with
# the stubs in their place, is kept (by name: ldd may give a library
# under /lib for one binary and /usr/lib for another).
users=$xbd
[ -f "$r/usr/bin/fio" ] && users+=,$r/usr/bin/fio
stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
for l in "${rbd[@]}"; do
	"$here/stublib.sh" "$users" "$l" "$stubs/${l##*/}"
done
# Every program of the root (Xen's qemu in /usr/libexec, its helpers in
# /usr/lib/xen-4.17/bin among them) and nbdkit's plugin.
others=("$r$plugins"/*.so)
while IFS= read -r -d '' f; do
	others+=("$f")
done < <(find "$r" -type f -perm -u+x ! -name '*.so*' -print0)
keep=$(LD_LIBRARY_PATH=$stubs:${LD_LIBRARY_PATH:-} closure "${others[@]}" |
    sed 's|.*/||' | sort -u)
for l in $(closure "${rbd[@]}"); do
	grep -qxF "${l##*/}" <<<"$keep" || rm -f "$r$l"
done
for l in "${rbd[@]}"; do
	cp "$stubs/${l##*/}" "$r$l"
done
