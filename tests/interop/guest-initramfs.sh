#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The interop suite's Linux PV guest, put into dom0's root by
# initramfs.sh: the same Debian kernel as dom0, a small initramfs (a
# subset of dom0's: busybox, mke2fs and e2fsck with their libraries, the
# kernel modules, xbd and fio with their libraries; plus guest-init as
# /init, guest-xbd and guest-io built static),
# the xl config (guest.cfg) and the dom0 side of the checks (guest.sh).
# guest-io goes into dom0 too: dom0 checks the guest's seal with it.
#
# usage: XBD_STAGE=DIR XBD_KVER=VERSION guest-initramfs.sh DOM0ROOT

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
r=$1
g=$(mktemp -d)
trap 'rm -rf "$g"' EXIT

mkdir -p "$r/guest" "$g"/{bin,sbin,etc,proc,sys,dev,tmp,mnt,lib,lib64}
cc -std=c11 -O2 -Wall -Wextra -Werror -static -pthread \
    -o "$r/usr/local/bin/guest-io" "$here/guest-io.c"
cp "$r/usr/local/bin/guest-io" "$g/bin/"
cp -a "$r/bin/busybox" "$g/bin/"
for a in $("$g/bin/busybox" --list); do
	[ -e "$g/bin/$a" ] || ln -s busybox "$g/bin/$a"
done
for b in mke2fs e2fsck cmp; do
	rm -f "$g/bin/$b"
	cp "$r/bin/$b" "$g/bin/"
	ldd "$r/bin/$b" | awk '/=>/ && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r l; do
	mkdir -p "$g/$(dirname "$l")"
	cp -L "$l" "$g/$l"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$g/lib64/"
# For xbdmode=xbd (guest-xbd): the xbd binary under test and fio, with
# the libraries dom0's root has for them (fio's unused engines' stubs
# among them), resolved there first; glibc dlopens libgcc_s.
XL=usr/lib/xen-4.17/lib/x86_64-linux-gnu
cp "$r/usr/local/bin/xbd" "$g/bin/"
cp "$r/usr/bin/fio" "$g/bin/"
cp -L "$r/lib/x86_64-linux-gnu/libgcc_s.so.1" "$g/lib/"
# No check in the guest uses NBD: a stub of libnbd (stublib.sh) spares
# the guest's memory the 45 MB of libxml2 and ICU's data it brings.
LP=$r/lib/x86_64-linux-gnu:$r/usr/lib/x86_64-linux-gnu:$r/$XL
gst=$(mktemp -d)
trap 'rm -rf "$g" "$gst"' EXIT
nbd=$(LD_LIBRARY_PATH=$LP ldd "$g/bin/xbd" |
    awk '$1 ~ /^libnbd\.so/ && $3 ~ /^\// { print $3 }')
[ -z "$nbd" ] ||
    "$here/stublib.sh" "$g/bin/xbd,$g/bin/fio" "$nbd" "$gst/${nbd##*/}"
for b in xbd fio; do
	LD_LIBRARY_PATH=$gst:$LP ldd "$g/bin/$b" |
	    awk '/=>/ && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r l; do
	case $l in
	"$gst"/*)
		mkdir -p "$g/lib/x86_64-linux-gnu"
		cp "$l" "$g/lib/x86_64-linux-gnu/${l##*/}"
		continue
		;;
	esac
	d=${l#"$r"}
	[ -e "$r$d" ] || { echo "guest: $l is not in dom0's root" >&2; exit 1; }
	mkdir -p "$g/$(dirname "$d")"
	cp -L "$r$d" "$g/$d"
done
ln -sf mke2fs "$g/bin/mkfs.ext4"
cp "$r/etc/mke2fs.conf" "$g/etc/" 2>/dev/null || true
# dom0's modules (blkfront, ext4 and its checksums among them), with
# their modules.dep.
cp -a "$r/lib/modules" "$g/lib/"
cp "$here/guest-init" "$g/init"
cp "$here/guest-xbd" "$here/guest-dd" "$g/"
chmod +x "$g/init"
(cd "$g" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) \
    >"$r/guest/initrd.gz"
cp "$XBD_STAGE/boot/vmlinuz-$XBD_KVER" "$r/guest/vmlinuz"
# xl save and xl restore run it (it links only libraries xl links too).
cp -a "$XBD_STAGE/usr/lib/xen-4.17/bin/libxl-save-helper" \
    "$r/usr/lib/xen-4.17/bin/"
cp "$here/guest.cfg" "$here/guest.sh" "$here/guest-fe.sh" \
    "$here/guest-dd.sh" "$r/guest/"
