/* SPDX-License-Identifier: BSD-2-Clause */
/* XenStore checks the tests share (stale nodes after a lifecycle). */

#ifndef XBD_TESTS_XT_XS_H
#define XBD_TESTS_XT_XS_H

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

#endif /* XBD_TESTS_XT_XS_H */
