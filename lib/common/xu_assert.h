/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Invariants of our own code.  XU_ASSERT is for conditions only a bug in
 * this project can violate (a command on the wrong queue, a counter
 * underflow, a lock not held).  Anything a peer wrote into shared memory
 * or XenStore is validated and rejected instead, never asserted on: a
 * hostile peer must not be able to stop us.
 */

#ifndef XBD_XU_ASSERT_H
#define XBD_XU_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

/* Print a message and abort: for states we cannot continue from. */
#define xu_panic(...)                                                  \
	do {                                                           \
		fprintf(stderr, "panic: %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                          \
		fputc('\n', stderr);                                   \
		abort();                                               \
	} while (0)

#ifdef XBD_INVARIANTS
/* XU_ASSERT(cond, ("fmt", args)): the FreeBSD KASSERT shape. */
#define XU_ASSERT(cond, msg)                                           \
	do {                                                           \
		if (__builtin_expect(!(cond), 0)) {                    \
			fprintf(stderr,                                \
			    "assertion \"%s\" failed: %s:%d: ", #cond, \
			    __FILE__, __LINE__);                       \
			fprintf(stderr, "%s", xu_assert_fmt msg);      \
			fputc('\n', stderr);                           \
			abort();                                       \
		}                                                      \
	} while (0)
#else
#define XU_ASSERT(cond, msg) ((void)0)
#endif

/*
 * Formats an assertion message into a per-thread buffer; only called on
 * the way to abort().
 */
const char *xu_assert_fmt(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#define XU_NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define XU_MIN(a, b) ((a) < (b) ? (a) : (b))
#define XU_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* XBD_XU_ASSERT_H */
