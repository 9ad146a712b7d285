#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The interop suite: boot a real Xen 4.17 with a Debian dom0 under QEMU
# (software emulation, no KVM needed) and run tests/interop/checks.sh
# in dom0 against Linux's xen-blkback and xen-blkfront, QEMU's qdisk and
# xl.  Debian's packages are fetched with `apt-get download` into a
# cache and unpacked with `dpkg -x`, never installed; the host needs
# only QEMU, busybox and a few tools, which scripts/deps.sh installs.
#
# usage: tests/interop/run.sh XBD_BINARY OUTDIR [CHECK ...]
#
# Results: OUTDIR/share/results/CHECK holds "pass", "skip" or "fail ...",
# OUTDIR/share/logs/CHECK.log its log, OUTDIR/console.log the serial
# console.  Exit 0 when dom0 ran every check (whatever their verdicts:
# tests/interop/result.sh judges each), 1 when it never reported.
#
# Environment: XBD_INTEROP_CACHE (default ~/.cache/xbd-interop),
# XBD_INTEROP_TIMEOUT (seconds for the whole boot, default 2400),
# XBD_INTEROP_CHECK_TIMEOUT (seconds per check, default 400); for the
# restart checks XBD_INTEROP_KILLS (SIGKILL restarts, default 10),
# XBD_INTEROP_TERMS (SIGTERM restarts, default 5) and
# XBD_INTEROP_FIO_TIMEOUT (seconds one fio round may take, 120),
# XBD_INTEROP_FIO_MB (MiB of I/O in one fio round, 2),
# XBD_INTEROP_RESTART_LIMIT (seconds either may run, 300); for
# guest_perf XBD_INTEROP_PERF_SECS (seconds a measured workload runs, 5);
# for the guests' `xbd serve` XBD_INTEROP_SERVE_ARGS (more options).  A run takes
# 10-20 minutes on two busy cores; the limits only catch hangs.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ $# -ge 2 ] || {
	echo "usage: $0 XBD_BINARY OUTDIR [CHECK ...]" >&2
	exit 2
}
xbd=$(realpath "$1")
out=$(realpath -m "$2")
shift 2
checks=${*:-blkback qdisk blkfront xl resize restart_term restart_kill \
    guest_boot guest_saverestore guest_io guest_lifecycle guest_xbd_blkback \
    guest_xbd_serve guest_perf guest_driver_domain storage_nbd}
cache=${XBD_INTEROP_CACHE:-$HOME/.cache/xbd-interop}
boot_timeout=${XBD_INTEROP_TIMEOUT:-2400}
check_timeout=${XBD_INTEROP_CHECK_TIMEOUT:-400}
t0=$(date +%s)
say() { echo "interop [$(($(date +%s) - t0)) s]: $*"; }

"$top/scripts/deps.sh" qemu-system-x86 busybox-static cpio kmod \
    e2fsprogs util-linux coreutils bash fio gcc binutils

# --- Debian packages, downloaded once --------------------------------
XENV=4.17
kpkg=$(apt-cache depends linux-image-amd64 |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || {
	apt-get update -q >&2
	kpkg=$(apt-cache depends linux-image-amd64 |
	    awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
}
kver=${kpkg#linux-image-}
pkgs=(xen-hypervisor-$XENV-amd64 xen-utils-$XENV xen-utils-common
    xenstore-utils libxencall1 libxenevtchn1 libxenforeignmemory1
    libxengnttab1 libxenmisc$XENV libxenstore4 libxentoollog1 libyajl2
    libxenhypfs1 libxendevicemodel1 libxentoolcore1 qemu-system-xen
    "$kpkg")
mkdir -p "$cache/debs"
need=()
for p in "${pkgs[@]}"; do
	compgen -G "$cache/debs/${p}_*.deb" >/dev/null || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	say "downloading ${need[*]}"
	dl() {
		(cd "$cache/debs" &&
		    apt-get download -q -o APT::Sandbox::User=root "${need[@]}")
	}
	dl || { apt-get update -q && dl; }
fi
debs=()
for p in "${pkgs[@]}"; do
	debs+=("$(ls "$cache/debs/${p}_"*.deb | sort -V | tail -1)")
done

# --- Unpacked once per set of packages --------------------------------
key=$(printf '%s\n' "${debs[@]}" | md5sum | cut -c1-12)
stage=$cache/stage-$key
if [ ! -e "$stage/.done" ]; then
	say "unpacking into $stage"
	rm -rf "$cache"/stage-*
	mkdir -p "$stage"
	for d in "${debs[@]}"; do dpkg -x "$d" "$stage"; done
	depmod -b "$stage" "$kver" # the .deb ships no modules.dep
	touch "$stage/.done"
fi

# --- The dom0 initramfs ----------------------------------------------
rm -rf "$out"
mkdir -p "$out/share"
root=$out/root
say "building the initramfs"
XBD_STAGE=$stage XBD_KVER=$kver "$here/initramfs.sh" "$xbd" "$root" \
    "$out/initrd.gz"
zcat "$stage/boot/xen-$XENV-amd64.gz" >"$out/xen"
echo "$checks" >"$out/share/checks"
echo "$check_timeout" >"$out/share/check-timeout"
# The checks' own settings, for checks.sh in dom0.
for v in XBD_INTEROP_KILLS XBD_INTEROP_TERMS XBD_INTEROP_FIO_TIMEOUT \
    XBD_INTEROP_FIO_MB XBD_INTEROP_RESTART_LIMIT XBD_INTEROP_PERF_SECS \
    XBD_INTEROP_SERVE_ARGS; do
	[ -z "${!v:-}" ] || printf '%s=%q\n' "$v" "${!v}"
done >"$out/share/env"

# --- Boot ------------------------------------------------------------
say "booting Xen and dom0 (checks: $checks)"
set +e
# Four CPUs, dom0's vCPUs pinned to the first two and the guests' to the
# other two (tests/interop/guest.cfg), neither SVM nor FSGSBASE: under
# QEMU's TCG, when a PV guest's vCPU and dom0's take turns on one CPU,
# processes in both domains die on their first access to thread-local
# storage (their %fs base is another's), with blkback as with our
# backend; far more often with SVM, which Xen uses to switch PV segments.
timeout -k 10 "$boot_timeout" qemu-system-x86_64 -machine q35 \
    -cpu max,svm=off,fsgsbase=off \
    -m 2048 -smp 4 -display none -no-reboot -monitor none \
    -serial "file:$out/console.log" \
    -kernel "$out/xen" \
    -append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 dom0_vcpus_pin noreboot smap=0 gnttab_max_frames=256" \
    -initrd "$stage/boot/vmlinuz-$kver console=hvc0 earlyprintk=xen loglevel=4,$out/initrd.gz" \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -virtfs "local,path=$out/share,mount_tag=host0,security_model=none,id=host0" \
    </dev/null
rc=$?
set -e
say "QEMU exited $rc"
grep -a 'xbd-interop:' "$out/console.log" || true
reported=true
for c in $checks; do
	if [ -f "$out/share/results/$c" ]; then
		say "$c: $(cat "$out/share/results/$c")"
	else
		say "$c: no result"
		reported=false
	fi
done
case $rc in
1 | 3) ;;
124 | 137) say "timed out after $boot_timeout s" ;;
*) say "dom0 did not report (QEMU exit $rc)" ;;
esac
if ! $reported || { [ $rc -ne 1 ] && [ $rc -ne 3 ]; }; then
	echo "--- last lines of $out/console.log:"
	tail -40 "$out/console.log"
	exit 1
fi
exit 0
