#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Build the interop suite's dom0 initramfs: busybox, the Xen tools and
# libraries and qemu-system-xen from the unpacked Debian packages, the
# kernel modules the checks load, the xbd binary under test with the
# libraries it links, fio, a few host tools busybox lacks or gets wrong for
# Xen's hotplug scripts, and tests/interop/{init,checks.sh}.
#
# usage: XBD_STAGE=DIR XBD_KVER=VERSION initramfs.sh XBD ROOTDIR OUT.gz

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
xbd=$1 r=$2 outgz=$3
S=$XBD_STAGE
KV=$XBD_KVER
XL=usr/lib/xen-4.17

rm -rf "$r"
mkdir -p "$r"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt,host,lib64} \
    "$r"/{usr/bin,usr/sbin,usr/local/bin,usr/libexec,$XL/bin} \
    "$r"/var/{run,lib/xen,lib/xenstored,log/xen} \
    "$r"/lib/x86_64-linux-gnu "$r"/usr/lib/x86_64-linux-gnu

cp /bin/busybox "$r/bin/busybox"
for a in $(/bin/busybox --list); do
	[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
done
# Real binaries where busybox lacks one or differs: Xen's block hotplug
# script needs flock and GNU stat; the checks need bash and e2fsprogs.
for b in /bin/bash /usr/bin/flock /usr/bin/stat /usr/bin/cmp \
    /sbin/mke2fs /sbin/e2fsck; do
	rm -f "$r/bin/${b##*/}"
	cp -L "$b" "$r/bin/${b##*/}"
done
ln -sf mke2fs "$r/bin/mkfs.ext4"
cp /etc/mke2fs.conf "$r/etc/" 2>/dev/null || true

for b in xl xenstored xen-init-dom0 xenconsoled; do
	cp -a "$S/$XL/bin/$b" "$r/$XL/bin/"
	ln -sf "/$XL/bin/$b" "$r/usr/sbin/$b"
done
cp -a "$S"/usr/bin/xenstore* "$r/usr/bin/"
mkdir -p "$r/etc/xen"
cp -a "$S"/etc/xen/. "$r/etc/xen/"
cp -a "$S/usr/libexec/xen-qemu-system-i386" "$r/usr/libexec/"
cp "$xbd" "$r/usr/local/bin/xbd"

# Shared libraries: Xen's from the packages, the rest from the host.
# glibc loads libgcc_s with dlopen (pthread_cancel), so ldd misses it.
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$r/lib/x86_64-linux-gnu/"
cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
export LD_LIBRARY_PATH=$S/usr/lib/x86_64-linux-gnu:$S/$XL/lib/x86_64-linux-gnu
for f in "$r"/$XL/bin/* "$r"/usr/bin/* "$r"/usr/libexec/* \
    "$r"/usr/local/bin/* "$r"/bin/*; do
	[ -f "$f" ] && [ ! -L "$f" ] && ldd "$f" 2>/dev/null || true
done | awk '/=>/ && $3 ~ /^\// { print $3 }' | sort -u | while read -r l; do
	case $l in "$S"/*) d=${l#"$S"} ;; *) d=$l ;; esac
	mkdir -p "$r/$(dirname "$d")"
	cp -L "$l" "$r/$d"
done

# fio, for the restart checks (libaio engine).  Debian's links the
# libraries of every engine it has; those of the engines the checks do
# not use, with the 70 MB they pull in, are replaced by stubs
# (stublib.sh), the others copied.
fio_stubs=" libgfapi.so.0 libnbd.so.0 libibverbs.so.1 librdmacm.so.1 "
fio_stubs+="librados.so.2 librbd.so.1 libpmemblk.so.1 libpmem.so.1 "
fio=$(command -v fio)
cp "$fio" "$r/usr/bin/fio"
ldd "$fio" | awk '/=>/ && $3 ~ /^\// { print $1, $3 }' >"$r.fio-libs"
readelf -d "$fio" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r n; do
	l=$(awk -v n="$n" '$1 == n { print $2 }' "$r.fio-libs")
	case $fio_stubs in
	*" $n "*)
		"$here/stublib.sh" "$fio" "$l" "$r/lib/x86_64-linux-gnu/$n"
		continue
		;;
	esac
	for d in "$l" $(ldd "$l" | awk '/=>/ && $3 ~ /^\// { print $3 }'); do
		[ -e "$r$d" ] || { mkdir -p "$r${d%/*}" && cp -L "$d" "$r$d"; }
	done
done
rm "$r.fio-libs"

mods="xen-gntalloc xen-gntdev xen-evtchn xen-blkback xen-blkfront xenfs
    xen-privcmd loop 9p 9pnet_virtio virtio_pci ext4 crc32c_generic"
for m in $mods; do
	modprobe -d "$S" -S "$KV" --show-depends "$m" |
	    awk '/^insmod/ { print $2 }'
done | sort -u | while read -r f; do
	d=${f#"$S"}
	mkdir -p "$r/$(dirname "$d")"
	cp "$f" "$r/$d"
done
cp "$S/lib/modules/$KV"/modules.{order,builtin,builtin.modinfo} \
    "$r/lib/modules/$KV/" 2>/dev/null || true
depmod -b "$r" "$KV"

cp "$here/init" "$r/init"
cp "$here/checks.sh" "$r/checks.sh"
chmod +x "$r/init" "$r/checks.sh"
# Storage first: it settles which of xbd's libraries are real, and the
# guest copies its binaries' libraries from dom0's root.
"$here/storage-initramfs.sh" "$xbd" "$r"
"$here/guest-initramfs.sh" "$r"
echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
echo 'root:x:0:' >"$r/etc/group"
(cd "$r" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$outgz"
