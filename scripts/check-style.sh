#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The style gate CI runs first: clang-format (KNF, .clang-format) on every
# C file, then the house rules clang-format cannot see.  Prints each
# violation as file:line and exits non-zero if there is any.

set -uo pipefail
cd "$(dirname "$0")/.."

fail=0
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')
[ -n "$files" ] || exit 0

if ! clang-format --dry-run -Werror $files 2>/tmp/xbd-style.$$; then
	grep -E 'error:' /tmp/xbd-style.$$ | head -40
	echo "style: clang-format differences (run: clang-format -i <file>)"
	fail=1
fi
rm -f /tmp/xbd-style.$$

# rule <description> <grep -E pattern> [files...]: a match is a violation.
rule() {
	local what=$1 pat=$2
	shift 2
	local hits
	hits=$(grep -nE "$pat" "$@" 2>/dev/null)
	if [ -n "$hits" ]; then
		echo "$hits" | head -20
		echo "style: $what"
		fail=1
	fi
}

rule "no // comments" '^[^"]*(^|[^:*"])//' $files
rule "banned unsafe call (use snprintf/strtoul with checks)" \
    '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol)\(' $files
rule "return (value) takes parentheses" '^\s*return [^(;]' $files
shim=lib/common/xen_shim.h
rule "<xen/...> is included only by $shim" '#include <xen/' \
    $(echo "$files" | grep -v "^$shim$")
rule "RING_ macros are used only in lib/ring/ (and the ring's own tests)" \
    '\bRING_[A-Z_]+\(' \
    $(echo "$files" | grep -v -e '^lib/ring/' -e '^tests/unit/test_xring.c$')

[ $fail -eq 0 ] && echo "style: ok"
exit $fail
