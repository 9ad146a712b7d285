/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The write log: a dm-log-writes style record of what the backend's
 * storage completed, for power-loss replay (format and model in
 * xbb_wlog.h).  The I/O threads call in from their completion path,
 * before the response is queued, so an entry is in the file before the
 * frontend can learn that its request is done.
 *
 * Nothing is allocated here: an entry is its header on the stack and
 * the request's own iovecs, written piecewise with pwrite at an offset
 * this file keeps, under the log's lock.
 */

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "xbb_internal.h"
#include "xbb_wlog.h"

/* Write all of buf at off; a short write is continued. */
static int
xbb_wlog_put(int fd, const void *buf, uint64_t len, uint64_t off)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (n < 0 ? -errno : -EIO);
		p += n;
		len -= (uint64_t)n;
		off += (uint64_t)n;
	}
	return (0);
}

int
xbb_wlog_open(struct xbb_wlog *wl, const char *path)
{
	struct xbb_wlog_file f;
	int rc;

	memset(wl, 0, sizeof(*wl));
	wl->wl_fd = -1;
	if (path == NULL)
		return (0);
	if ((rc = pthread_mutex_init(&wl->wl_lock, NULL)) != 0)
		return (-rc);
	wl->wl_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (wl->wl_fd < 0) {
		rc = -errno;
		pthread_mutex_destroy(&wl->wl_lock);
		return (rc);
	}
	memset(&f, 0, sizeof(f));
	memcpy(f.f_magic, XBB_WLOG_MAGIC, sizeof(f.f_magic));
	f.f_version = XBB_WLOG_VERSION;
	f.f_entsize = sizeof(struct xbb_wlog_ent);
	if ((rc = xbb_wlog_put(wl->wl_fd, &f, sizeof(f), 0)) != 0) {
		xbb_wlog_close(wl);
		return (rc);
	}
	wl->wl_off = sizeof(f);
	return (0);
}

void
xbb_wlog_close(struct xbb_wlog *wl)
{
	if (wl->wl_fd < 0)
		return;
	close(wl->wl_fd);
	wl->wl_fd = -1;
	pthread_mutex_destroy(&wl->wl_lock);
}

uint64_t
xbb_wlog_seq(struct xbb_wlog *wl)
{
	uint64_t seq;

	pthread_mutex_lock(&wl->wl_lock);
	seq = wl->wl_seq;
	pthread_mutex_unlock(&wl->wl_lock);
	return (seq);
}

/*
 * Stop for good and say so in the file header, so that a replayer
 * refuses the log instead of trusting a record with a hole in it.
 */
static void
xbb_wlog_break(struct xbb_wlog *wl, const struct xbb_dev *dev, int rc)
{
	uint32_t flags = XBB_WLOG_F_BROKEN;

	wl->wl_broken = true;
	(void)xbb_wlog_put(wl->wl_fd, &flags, sizeof(flags),
	    offsetof(struct xbb_wlog_file, f_flags));
	xbb_log(dev->xb_bk, "write log: %s: recording stopped", strerror(-rc));
}

/* Append one entry whose data is the first e_len bytes of iov[]. */
static void
xbb_wlog_append(struct xbb_wlog *wl, const struct xbb_dev *dev,
    struct xbb_wlog_ent *e, const struct iovec *iov, uint32_t niov)
{
	uint64_t data = e->e_type == XBB_WLOG_WRITE ? e->e_len : 0;
	uint64_t left, n, off;
	uint32_t i;
	int rc = 0;

	e->e_magic = XBB_WLOG_ENT_MAGIC;
	e->e_feid = dev->xb_feid;
	e->e_vdev = dev->xb_vdev;
	e->e_sum = 0;
	pthread_mutex_lock(&wl->wl_lock);
	if (wl->wl_broken)
		goto out;
	e->e_seq = wl->wl_seq;
	e->e_sum = xbb_wlog_fnv(XBB_WLOG_FNV_INIT, e, sizeof(*e));
	for (i = 0, left = data; i < niov && left > 0; i++, left -= n) {
		n = XU_MIN((uint64_t)iov[i].iov_len, left);
		e->e_sum = xbb_wlog_fnv(e->e_sum, iov[i].iov_base, n);
	}
	off = wl->wl_off;
	rc = xbb_wlog_put(wl->wl_fd, e, sizeof(*e), off);
	off += sizeof(*e);
	for (i = 0, left = data; rc == 0 && i < niov && left > 0;
	     i++, left -= n) {
		n = XU_MIN((uint64_t)iov[i].iov_len, left);
		rc = xbb_wlog_put(wl->wl_fd, iov[i].iov_base, n, off);
		off += n;
	}
	if (rc == 0 && left > 0)
		rc = -EINVAL; /* the iovecs hold less than the write */
	if (rc != 0) {
		xbb_wlog_break(wl, dev, rc);
		goto out;
	}
	wl->wl_off = off;
	wl->wl_seq++;
out:
	pthread_mutex_unlock(&wl->wl_lock);
}

void
xbb_wlog_write(struct xbb_wlog *wl, const struct xbb_dev *dev, uint64_t off,
    const struct iovec *iov, uint32_t niov, uint64_t len)
{
	struct xbb_wlog_ent e = { .e_type = XBB_WLOG_WRITE,
		.e_off = off,
		.e_len = len };

	xbb_wlog_append(wl, dev, &e, iov, niov);
}

void
xbb_wlog_discard(struct xbb_wlog *wl, const struct xbb_dev *dev, uint64_t off,
    uint64_t len)
{
	struct xbb_wlog_ent e = { .e_type = XBB_WLOG_DISCARD,
		.e_off = off,
		.e_len = len };

	xbb_wlog_append(wl, dev, &e, NULL, 0);
}

void
xbb_wlog_mark(struct xbb_wlog *wl, const struct xbb_dev *dev, uint64_t covers)
{
	struct xbb_wlog_ent e = { .e_type = XBB_WLOG_MARK, .e_covers = covers };

	xbb_wlog_append(wl, dev, &e, NULL, 0);
}
