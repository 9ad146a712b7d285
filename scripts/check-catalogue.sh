#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Catalogue coverage gate: every item of the adversarial catalogue
# (section 6 of reliability.md, ids such as B7, F16b, X20) must have a
# regression test.  A C test covers an item when a function registered
# with cmocka_unit_test (or a fuzz target's LLVMFuzzerTestOneInput, which
# CTest replays) carries the id as a word of its name
# (test_B7_nr_segments) or in a "catalogue:" comment just above it; a
# shell test registered in tests/*.cmake covers the ids of its
# "# catalogue:" line.  An item the project cannot have (for instance a
# transport it does not implement) is exempt only where docs/security.md
# says so in its row: "| **X1** | n/a: why |", and only while it has no
# test (a stale exemption fails too).  Every item must also have a row in
# docs/security.md.  Prints what is missing and fails if any.
#
# Usage: check-catalogue.sh [--list] [reliability.md]
#   --list  print "id file:function" for every covered item instead.
# Exit status: 0 all covered, 1 something missing, 77 no reliability.md.

set -uo pipefail
cd "$(dirname "$0")/.."

list=0
if [ "${1:-}" = "--list" ]; then
	list=1
	shift
fi
doc=${1:-docs/reliability.md}
# 77 is CTest's "skipped": a checkout without the shared reference docs.
if [ ! -r "$doc" ]; then
	echo "check-catalogue: cannot read $doc: skipped"
	exit 77
fi

# The items: checklist lines of section 6 ("- [ ] **B7** ...").
items=$(awk '/^## 6\./ { in6 = 1; next } /^## / { in6 = 0 }
    in6 && match($0, /^- \[.\] \*\*[A-Z][0-9]+[a-z]?\*\*/) {
	s = substr($0, RSTART, RLENGTH); gsub(/[-\[\] *x]/, "", s); print s
    }' "$doc")
if [ -z "$items" ]; then
	echo "check-catalogue: no items found in $doc"
	exit 1
fi

# Covered ids, one "id file:function" per line.
covered=$(
	for f in tests/*/*.c fuzz/*.c; do
		awk -v F="$f" '
		function ids(s, where,   n, w, i) {
			n = split(s, w, /[^A-Za-z0-9]+/)
			for (i = 1; i <= n; i++)
				if (w[i] ~ /^[BFXHDL][0-9]+b?$/)
					out[++no] = w[i] " " F ":" where
		}
		/catalogue:/ { t = t " " substr($0, index($0, "catalogue:") + 10) }
		/^}/ { t = "" }
		match($0, /^(test_[A-Za-z0-9_]+|LLVMFuzzerTestOneInput)\(/) {
			fn = substr($0, 1, RLENGTH - 1)
			nm = fn; gsub(/_/, " ", nm)
			start = no
			ids(nm " " t, fn)
			for (i = start + 1; i <= no; i++) owner[i] = fn
			t = ""
		}
		# The registered name may follow on the next line.
		nextreg && match($0, /^[ \t]*test_[A-Za-z0-9_]+/) {
			s = substr($0, RSTART, RLENGTH); gsub(/[ \t]/, "", s)
			reg[s] = 1
		}
		{ nextreg = 0 }
		/cmocka_unit_test[a-z_]*\( *$/ { nextreg = 1 }
		match($0, /cmocka_unit_test[a-z_]*\( *test_[A-Za-z0-9_]+/) {
			s = substr($0, RSTART, RLENGTH); sub(/.*\( */, "", s)
			reg[s] = 1
		}
		END {
			reg["LLVMFuzzerTestOneInput"] = 1
			for (i = 1; i <= no; i++)
				if (owner[i] in reg)
					print out[i]
		}' "$f"
	done
	for f in tests/*/*.sh; do
		grep -q "$(basename "$f")" tests/*.cmake || continue
		grep -h '# catalogue:' "$f" | sed 's/.*catalogue://' |
		    tr ' ,' '\n\n' | grep -E '^[BFXHDL][0-9]+b?$' |
		    sed "s|\$| $f|"
	done
)

if [ $list -eq 1 ]; then
	for id in $items; do
		printf '%s\n' "$covered" | awk -v id="$id" '$1 == id && !seen[$0]++'
	done
	exit 0
fi

sec=docs/security.md
missing=0
exempt=0
for id in $items; do
	if ! grep -q "^| \*\*$id\*\* |" "$sec"; then
		echo "catalogue: $id has no row in $sec"
		missing=$((missing + 1))
	fi
	if printf '%s\n' "$covered" | awk -v id="$id" '$1 == id { f = 1 }
	    END { exit !f }'; then
		# An exemption outlives its reason once a test exists.
		if grep -q "^| \*\*$id\*\* | n/a:" "$sec"; then
			echo "catalogue: $id has a test but its row says n/a"
			missing=$((missing + 1))
		fi
		continue
	fi
	if grep -q "^| \*\*$id\*\* | n/a:" "$sec"; then
		echo "catalogue: $id exempt: $(grep "^| \*\*$id\*\* |" "$sec" |
		    sed 's/.*n\/a: *//; s/ *|.*//')"
		exempt=$((exempt + 1))
		continue
	fi
	echo "catalogue: $id has no test"
	missing=$((missing + 1))
done
n=$(echo $items | wc -w)
echo "catalogue: $((n - missing - exempt)) of $n items covered, $exempt exempt"
[ $missing -eq 0 ]
