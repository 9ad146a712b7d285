/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Which platforms this build has.  "sim" always; "xen" when the build
 * found Xen's libraries (XBD_HAVE_XEN, set by lib/platform/xen), and
 * otherwise plat_xen_open says so instead of failing to link.
 */

#include <errno.h>
#include <string.h>

#include "plat.h"

bool
plat_known(const char *name)
{
	if (strcmp(name, "sim") == 0)
		return (true);
	return (XBD_HAVE_XEN && strcmp(name, "xen") == 0);
}

#if !XBD_HAVE_XEN
int
plat_xen_open(struct plat **out)
{
	return (-ENOTSUP);
}
#endif
