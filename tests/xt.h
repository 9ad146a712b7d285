/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What every cmocka test includes: cmocka's prerequisites in the order it
 * needs them, plus the exit code that tells CTest a test was skipped.
 */

#ifndef XBD_TESTS_XT_H
#define XBD_TESTS_XT_H

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <stdlib.h>

/* CTest's SKIP_RETURN_CODE: a facility the test needs is missing. */
#define XT_SKIP 77

/*
 * A count from the environment (cycles, kill points, seconds: how long a
 * run is), def when unset; anything but a positive number fails the test.
 */
static inline unsigned int
xt_env_count(const char *name, unsigned int def)
{
	const char *v = getenv(name);
	unsigned long n;
	char *end;

	if (v == NULL || *v == '\0')
		return (def);
	n = strtoul(v, &end, 10);
	if (*end != '\0' || n == 0 || n > 0xfffffffful)
		fail_msg("%s=%s: not a positive number", name, v);
	return ((unsigned int)n);
}

#endif /* XBD_TESTS_XT_H */
