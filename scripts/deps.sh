#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Installs the Debian 12 packages xbd needs to build and test, and only
# those that are missing.  As root it runs apt-get itself; otherwise it
# prints the exact command and stops.
#
# usage: scripts/deps.sh [extra-package ...]

set -euo pipefail

pkgs=(
	cmake ninja-build pkg-config gcc libc6-dev make
	clang-14 libclang-rt-14-dev clang-format
	libxen-dev xenstore-utils liburing-dev libbsd-dev libcmocka-dev
	nbdkit nbdkit-plugin-dev libnbd-bin qemu-utils fio jq
	# Network storage: librbd and libnbd to build against; a single-node
	# Ceph cluster (scripts/ceph-cluster.sh) and the rbd CLI for the
	# storage tests.  No ceph-mgr: RBD I/O, snapshots and resize work
	# without it.
	librbd-dev libnbd-dev ceph-mon ceph-osd ceph-common
	"$@"
)

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "xbd: missing Debian packages: ${missing[*]}" >&2
	echo "xbd: install them as root with:" >&2
	echo "    sudo sh -c '$cmd'" >&2
	exit 1
fi
echo "xbd: installing ${missing[*]}" >&2
apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
