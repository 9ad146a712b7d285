/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Strict parsing of numbers a peer wrote (XenStore values, command
 * lines).  Unlike strtoul, nothing is skipped or guessed: no sign, no
 * leading space, no trailing junk, no empty string, no overflow.
 */

#ifndef XBD_XU_PARSE_H
#define XBD_XU_PARSE_H

#include <stdint.h>

/*
 * Parse a decimal unsigned integer that fills all of s.
 * \return 0, -EINVAL (empty, sign, space, junk), -ERANGE (over max).
 */
int xu_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* The same for a uint32_t. */
int xu_parse_u32(const char *s, uint32_t *out);

/*
 * Parse a size with an optional binary suffix (K, M, G, T, their
 * lowercase forms as fio writes them, KiB, MiB ...) as a command line
 * gives it.  A fraction is allowed when it makes whole bytes ("1.5G",
 * not "1.1K").
 * \return 0, -EINVAL, -ERANGE.
 */
int xu_parse_size(const char *s, uint64_t *out);

/*
 * Parse a decimal number of units ("3", "1.5", "0.25") into thousandths
 * of a unit, at most max; finer fractions are refused, not rounded.
 * \return 0, -EINVAL, -ERANGE.
 */
int xu_parse_milli(const char *s, uint64_t max, uint64_t *out);

#endif /* XBD_XU_PARSE_H */
