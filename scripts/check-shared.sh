#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Shared-memory access gate: the shared ring is read and written only by
# lib/ring, whose accessors read each index a peer may rewrite exactly
# once per decision (XSA-155: a double fetch turns a checked value into
# an unchecked one).  Outside lib/ring no library, tool or plugin source
# may name the shared header (struct blkif_sring), its indices (req_prod,
# rsp_prod, req_event, rsp_event) or Xen's ring macros that touch the
# shared page (RING_GET_*, RING_COPY_*, RING_PUSH_*, RING_FINAL_CHECK_*,
# RING_HAS_UNCONSUMED_*).  Strings and comments do not count.  Tests and
# fuzz targets are exempt: they play the hostile peer on purpose.
# Indirect pages are copied once by lib/back/xbb_indirect.c; data pages
# are never parsed.
#
# Usage: check-shared.sh
# Exit status: 0 clean, 1 a direct access (each printed as file:line).

set -uo pipefail
cd "$(dirname "$0")/.."

pattern='struct[[:space:]]+blkif_sring|\<(req|rsp)_(prod|event)\>|\<RING_(GET_(REQUEST|RESPONSE)|COPY_(REQUEST|RESPONSE)|PUSH_(REQUESTS|RESPONSES)|FINAL_CHECK_FOR_(REQUESTS|RESPONSES)|HAS_UNCONSUMED_(REQUESTS|RESPONSES))'
bad=0
while IFS= read -r f; do
	# Blank out strings, one-line comments and comment bodies, keeping
	# line numbers.
	hits=$(sed -E -e 's/"([^"\\]|\\.)*"/""/g' -e 's:/\*.*\*/::g' \
	    -e 's:^[[:space:]]*\*.*$::' -e 's://.*$::' "$f" |
	    grep -n -E "$pattern")
	if [ -n "$hits" ]; then
		sed "s|^|$f:|" <<<"$hits"
		bad=1
	fi
done < <(git ls-files 'lib/*.c' 'lib/*.h' 'tools/*.c' 'tools/*.h' \
    'plugins/*.c' 'plugins/*.h' 'xenstored/*.c' 'xenstored/*.h' |
    grep -v '^lib/ring/')
if [ $bad -ne 0 ]; then
	echo "check-shared: the shared ring is touched outside lib/ring" \
	    "(above); use its accessors"
	exit 1
fi
echo "check-shared: ok"
