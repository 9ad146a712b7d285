/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd version (and xbd --version): the version CMake's project() gives,
 * then what this build can do, one "name: value" per line, so that a bug
 * report or a script can tell a build without the real-Xen platform, or
 * a kernel without io_uring, at a glance.  The values come from the
 * configure step (XBDV_* definitions in tools/xbd/CMakeLists.txt); only
 * io_uring is also probed, since a kernel or a seccomp policy can refuse
 * it to a binary built with it.
 */

#include <liburing.h>
#include <stdio.h>
#include <string.h>

#include "back/xbb.h"
#include "cmd.h"

static const char version_usage[] =
    "usage: xbd version\n"
    "       xbd --version\n"
    "\n"
    "Print the version of xbd, then the features of this build, one per\n"
    "line: the platforms compiled in, io_uring (and whether this kernel\n"
    "grants it), the liburing and libxenstore versions built against.\n";

/* Whether this process may set up an io_uring (the backend needs one). */
static const char *
version_uring(char *buf, size_t len)
{
	struct io_uring ring;
	int rc;

	if ((rc = io_uring_queue_init(1, &ring, 0)) != 0) {
		snprintf(buf, len, "unavailable here (%s)", strerror(-rc));
		return (buf);
	}
	io_uring_queue_exit(&ring);
	return ("yes");
}

int
cmd_version(int argc, char **argv)
{
	char buf[128];

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0) {
			fputs(version_usage, stdout);
			return (CMD_EXIT_OK);
		}
		fputs(version_usage, stderr);
		return (CMD_EXIT_USAGE);
	}
	printf("xbd %s\n", XBDV_VERSION);
	printf("platform-sim: yes\n");
	printf("platform-xen: %s\n",
	    XBDV_HAVE_XEN ? "yes" : "no (built without libxen-dev)");
	printf("io_uring: %s\n", version_uring(buf, sizeof(buf)));
	printf("liburing: %s\n", XBDV_URING);
	printf("libxenstore: %s\n", XBDV_XENSTORE);
	printf("storage-rbd: %s\n",
	    xbb_storage_built("rbd") ? "yes" : "no (built without librbd)");
	printf("storage-nbd: %s\n",
	    xbb_storage_built("nbd") ? "yes" : "no (built without libnbd)");
	return (CMD_EXIT_OK);
}
