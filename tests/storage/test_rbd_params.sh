#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Description: bad RBD params.  No such pool, no such image, a conf file
# that does not exist, a cephx user without caps: `xbd run` and `xbd
# bench` say so in one line naming the target and exit 1; `xbd serve`
# refuses its own --image the same way; and a toolstack vbd with such
# params gets a log line naming it and the store's error node, while
# `xbd serve` stays up and goes on serving its other vbds.

. "$(dirname "$0")/lib.sh"
ceph_need
good=$(rbd_img params_good 32M)
# A user the monitor knows, with no caps at all.
ceph -c "$conf" auth get-or-create client.xbdnocaps >"$tmp/nocaps.keyring"
grep -q 'client.xbdnocaps' "$XBD_CEPH_DIR/keyring" ||
    cat "$tmp/nocaps.keyring" >>"$XBD_CEPH_DIR/keyring"
bad=(
	"nopool|rbd:xbd_nopool/img:conf=$conf"
	"params_nope|rbd:xbd/params_nope:conf=$conf"
	"$tmp/nope.conf|rbd:xbd/params_good:conf=$tmp/nope.conf"
	"xbdnocaps|rbd:xbd/params_good:conf=$conf:id=xbdnocaps"
)

# fails_clearly WORD CMD...: exits 1 within 60 s, one line on stderr
# naming WORD.
fails_clearly() {
	local word=$1 rc=0
	shift
	timeout 60 "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ $rc -ne 1 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
	    ! grep -q -- "$word" "$tmp/err"; then
		echo "$* : exit $rc, wanted 1 and one line naming $word:"
		cat "$tmp/out" "$tmp/err"
		exit 1
	fi
	echo "exit 1: $(cat "$tmp/err")"
}

echo "--- xbd run, xbd bench, xbd serve --image"
for b in "${bad[@]}"; do
	fails_clearly "${b%%|*}" "$xbd" run "${b#*|}" --seconds 1
	fails_clearly "${b%%|*}" "$xbd" bench --image "${b#*|}" --runtime 1
done
hv_start "$tmp/m0"
for b in "${bad[@]}"; do
	fails_clearly "${b%%|*}" "$xbd" serve --dir "$tmp/m0" --domid 1 \
	    --image "${b#*|}" --frontend 2
done

echo "--- toolstack vbds: the bad ones fail, xbd serve stays up"
m=$tmp/m
serve_only "$m"
vbd_add "$m" 2 51712 "$good"
# The good vbd's frontend stays attached while the bad vbds come and fail.
io_bg "$m" 2 xvda "$tmp/io.out" w:0:1M:1 f i r:0:1M:1 w:1M:1M:2 f r:1M:1M:2
wait_line '^f: ok' "$tmp/io.out" 30
fe=3
for b in "${bad[@]}"; do
	vbd_add "$m" $fe 51712 "${b#*|}"
	fe=$((fe + 1))
done
fe=3
for b in "${bad[@]}"; do
	be=$(vbd_be $fe 51712)
	# The control thread opens them one after another, each joining
	# the cluster first: on a loaded machine that takes seconds each.
	for i in $(seq 600); do
		XENSTORED_PATH=$m/socket xenstore-read "$be/error" \
		    >/dev/null 2>&1 && break
		sleep 0.1
	done
	err=$(XENSTORED_PATH=$m/socket xenstore-read "$be/error") || {
		XENSTORED_PATH=$m/socket xenstore-ls -fp "$be"
		exit 1
	}
	echo "vbd $fe/51712: error node: $err"
	grep -m 1 -- "${b%%|*}" "$m.log.serve"
	fe=$((fe + 1))
done
kill -0 "$spid"
# The good vbd still works after all of them.
io_go
wait "$io" || { cat "$tmp/io.out"; exit 1; }
echo "ok: the good vbd served throughout"
