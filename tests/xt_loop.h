/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A loop device over an image file, for the backend's block-device tests:
 * 4 KiB logical blocks, so that sub-page segments have to be bounced.
 */

#ifndef XBD_TESTS_XT_LOOP_H
#define XBD_TESTS_XT_LOOP_H

#include <sys/ioctl.h>

#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * Attach a free loop device to path; its name goes to dev.  Returns the
 * loop device's fd (closing it lets the kernel free the device once it
 * is detached), or -1 when there is none (no root, no loop module): the
 * caller skips.
 */
static inline int
xt_loop_setup(const char *path, char *dev, size_t len)
{
	struct loop_config lc;
	int ctl, fd, lfd, n;

	if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) < 0)
		return (-1);
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return (-1);
	snprintf(dev, len, "/dev/loop%d", n);
	if ((lfd = open(dev, O_RDWR | O_CLOEXEC)) < 0)
		return (-1);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		close(lfd);
		return (-1);
	}
	memset(&lc, 0, sizeof(lc));
	lc.fd = (uint32_t)fd;
	lc.block_size = 4096;
	n = ioctl(lfd, LOOP_CONFIGURE, &lc);
	close(fd);
	if (n != 0) {
		close(lfd);
		return (-1);
	}
	return (lfd);
}

#endif /* XBD_TESTS_XT_LOOP_H */
