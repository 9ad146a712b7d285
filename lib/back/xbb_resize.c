/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Online resize without being asked.  Linux blkback compares its
 * storage's size with the one it published each time its ring thread
 * wakes up and publishes any change, a shrink as well as a growth
 * (xen_vbd_resize: `sectors`, then state rewritten, in one transaction);
 * blkfront then sets its capacity to the new size either way, and
 * blkback refuses requests past the end.  Our ring threads sleep in
 * io_uring and must not make system calls for this, so the control
 * thread does it on a timer instead: every o_resize_poll_ms it re-reads
 * the size of each device whose storage is open (one fstat or
 * BLKGETSIZE64 each, no allocation) and publishes a change the way
 * xbb_dev_resize() does.  Shrinks are published too, as Linux does:
 * the frontend learns the disk's real end instead of getting I/O errors
 * past it.  Devices not connected only update their recorded size,
 * which their next Connected publishes.
 */

#include <errno.h>
#include <limits.h>
#include <time.h>

#include "xbb_internal.h"

uint64_t
xbb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

int
xbb_resize_timeout(struct xbb *b)
{
	uint64_t now;

	if (b->bk_opts.o_resize_poll_ms == 0)
		return (-1);
	now = xbb_now_ms();
	if (b->bk_resize_due <= now)
		return (0);
	/* At most o_resize_poll_ms (an unsigned int) away, but poll takes
	   an int. */
	if (b->bk_resize_due - now > INT_MAX)
		return (INT_MAX);
	return ((int)(b->bk_resize_due - now));
}

void
xbb_resize_tick(struct xbb *b)
{
	struct xbb_dev *dev;
	uint64_t now;
	int rc;

	if (b->bk_opts.o_resize_poll_ms == 0 ||
	    (now = xbb_now_ms()) < b->bk_resize_due)
		return;
	b->bk_resize_due = now + b->bk_opts.o_resize_poll_ms;
	pthread_mutex_lock(&b->bk_lock);
	TAILQ_FOREACH(dev, &b->bk_devs, xb_link) {
		if (!xbb_store_is_open(&dev->xb_store))
			continue;
		/*
		 * A failure (XenStore busy, the directory being removed) is
		 * not recorded as the new size: the next tick tries again.
		 */
		rc = xbb_dev_resize_locked(dev);
		if (rc != 0 && rc != -ENOENT)
			xbb_log(b, "vbd %u/%u: size check: error %d",
			    dev->xb_feid, dev->xb_vdev, rc);
	}
	pthread_mutex_unlock(&b->bk_lock);
}
