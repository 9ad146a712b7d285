#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Function length gate: no function in lib/, tools/, xenstored/ or
# plugins/ is longer than the limit (100 lines by default, from its
# opening brace to its closing one).  KNF puts a definition's
# name and its braces in column 0, which is all this needs to find them.
# Prints "file:line: name: N lines" for each and fails if there is any;
# --list prints every function's length instead, longest first.
#
# Usage: check-length.sh [--list] [limit]

set -uo pipefail
cd "$(dirname "$0")/../.."

list=0
if [ "${1:-}" = "--list" ]; then
	list=1
	shift
fi
limit=${1:-100}
files=$(git ls-files --cached --others --exclude-standard \
    'lib/*.c' 'tools/*.c' 'xenstored/*.c' 'plugins/*.c' 2>/dev/null ||
    find lib tools xenstored plugins -name '*.c')
[ -n "$files" ] || { echo "check-length: no source files"; exit 1; }

lengths=$(awk '
	FNR == 1 { name = ""; inbody = 0 }
	!inbody && match($0, /^[A-Za-z_][A-Za-z0-9_]*\(/) {
		name = substr($0, 1, RLENGTH - 1); line = FNR
	}
	!inbody && /^\{/ && name != "" { inbody = 1; start = FNR }
	inbody && /^\}/ {
		print FNR - start + 1, FILENAME ":" line ": " name
		inbody = 0; name = ""
	}' $files | sort -rn)

if [ $list -eq 1 ]; then
	printf '%s\n' "$lengths"
	exit 0
fi
long=$(printf '%s\n' "$lengths" | awk -v max="$limit" '$1 > max')
if [ -n "$long" ]; then
	printf '%s\n' "$long" |
	    awk '{ n = $1; $1 = ""; print substr($0, 2) ": " n " lines" }'
	echo "check-length: functions over $limit lines (split them)"
	exit 1
fi
echo "check-length: ok, no function over $limit lines"
