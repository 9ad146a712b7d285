/* SPDX-License-Identifier: BSD-2-Clause */
/* XenStore checks the tests share (stale nodes, watch events). */

#ifndef XBD_TESTS_XT_XS_H
#define XBD_TESTS_XT_XS_H

#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <xenstore.h>

/* Does path exist in the store (as far as xs may see)? */
static inline bool
xt_xs_exists(struct xs_handle *xs, const char *path)
{
	unsigned int len;
	char *v;

	v = xs_read(xs, XBT_NULL, path, &len);
	free(v);
	return (v != NULL);
}

/*
 * Take the watch events xs received, after waiting up to ms for one
 * (0: no wait); return how many.
 */
static inline unsigned int
xt_xs_drain(struct xs_handle *xs, int ms)
{
	struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
	unsigned int n = 0;
	char **vec;

	if (ms > 0)
		(void)poll(&pfd, 1, ms);
	while ((vec = xs_check_watch(xs)) != NULL) {
		free(vec);
		n++;
	}
	return (n);
}

#endif /* XBD_TESTS_XT_XS_H */
