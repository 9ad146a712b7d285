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

/* CTest's SKIP_RETURN_CODE: a facility the test needs is missing. */
#define XT_SKIP 77

#endif /* XBD_TESTS_XT_H */
