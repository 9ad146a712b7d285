/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The backend instance and its control thread.  The thread watches
 * /local/domain/<me>/backend/vbd (where the toolstack creates devices)
 * and each device's frontend state node, and turns every batch of watch
 * events into one re-evaluation per affected device (xbb_dev.c): events
 * are drained completely before anything is re-read, so a frontend that
 * rewrites its state in a loop costs one pass per batch, not one per
 * write (XSA-349).  I/O threads reach it only through an eventfd (a
 * ring broke); xbb_stop() through another.
 *
 * Only directory names that parse as a frontend domain and a
 * virtual-device number become devices; everything else under the root
 * is ignored.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xu_parse.h"
#include "xbb_internal.h"
#include "xenbus/xbus.h"

/* The token of the watch on the backend root. */
#define XBB_BE_TOKEN "xbb-be"

void
xbb_opts_init(struct xbb_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->o_size = sizeof(*o);
	o->o_max_ring_page_order = 5;
	o->o_max_queues = 4;
	o->o_max_indirect_segs = 256;
	o->o_persistent = true;
	o->o_max_persistent = XBB_DEF_MAX_PERSISTENT;
	o->o_flush = true;
	o->o_barrier = true;
	o->o_discard = true;
	o->o_shadows = true;
	o->o_resize_poll_ms = XBB_DEF_RESIZE_POLL_MS;
	o->o_nbd_timeout_s = XBB_DEF_NBD_TIMEOUT_S;
}

void
xbb_log(struct xbb *b, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (b->bk_opts.o_log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->bk_opts.o_log(b->bk_opts.o_log_arg, msg);
}

void
xbb_kick_control(struct xbb *b)
{
	uint64_t one = 1;

	if (write(b->bk_kickfd, &one, sizeof(one)) != sizeof(one)) {
		/* Saturated: the control thread has a wake-up pending. */
	}
}

/* ---------------------------------------------------------------------
 * Watch events (control thread, bk_lock held)
 */

static struct xbb_dev *
xbb_find(struct xbb *b, uint32_t feid, uint32_t vdev)
{
	struct xbb_dev *dev;

	TAILQ_FOREACH(dev, &b->bk_devs, xb_link)
		if (dev->xb_feid == feid && dev->xb_vdev == vdev)
			return (dev);
	return (NULL);
}

/* A device directory exists: track it (once). */
static void
xbb_found(struct xbb *b, uint32_t feid, uint32_t vdev)
{
	struct xbb_dev *dev;

	if ((dev = xbb_find(b, feid, vdev)) != NULL) {
		dev->xb_dirty = true;
		return;
	}
	if (feid >= DOMID_FIRST_RESERVED || vdev == 0)
		return;
	if (xbb_dev_create(b, feid, vdev, &dev) != 0)
		xbb_log(b, "vbd %u/%u: out of memory", feid, vdev);
}

/* List root/<feid>/ (or every feid) and track what is there. */
static void
xbb_scan(struct xbb *b, const char *only_fe)
{
	char path[XBUS_PATH_MAX];
	char **fes, **devs;
	unsigned int nfe, ndev, i, j;
	uint32_t feid, vdev;
	struct xbb_dev *dev;

	/* Known devices re-check whether they still exist. */
	TAILQ_FOREACH(dev, &b->bk_devs, xb_link)
		dev->xb_dirty = true;
	if ((fes = xs_directory(b->bk_xs, XBT_NULL, b->bk_root, &nfe)) == NULL)
		return;
	for (i = 0; i < nfe; i++) {
		if (xu_parse_u32(fes[i], &feid) != 0 ||
		    (only_fe != NULL && strcmp(fes[i], only_fe) != 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", b->bk_root, fes[i]);
		devs = xs_directory(b->bk_xs, XBT_NULL, path, &ndev);
		if (devs == NULL)
			continue;
		for (j = 0; j < ndev; j++)
			if (xu_parse_u32(devs[j], &vdev) == 0)
				xbb_found(b, feid, vdev);
		free(devs);
	}
	free(fes);
}

/* Copy the next component of *p into buf and step over it. */
static int
xbb_component(const char **p, char *buf, size_t len)
{
	size_t n = strcspn(*p, "/");

	if (n == 0 || n >= len)
		return (-EINVAL);
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p += n;
	if (**p == '/')
		(*p)++;
	return (0);
}

static void
xbb_event(struct xbb *b, const char *path, const char *token)
{
	char name[16], dir[128], *val;
	const char *rel;
	uint32_t feid, vdev;
	struct xbb_dev *dev;
	size_t n;

	if (strcmp(token, XBB_FE_TOKEN) == 0) {
		TAILQ_FOREACH(dev, &b->bk_devs, xb_link)
			if (dev->xb_fewatch != NULL &&
			    strcmp(path, dev->xb_fewatch) == 0)
				dev->xb_dirty = true;
		return;
	}
	n = strlen(b->bk_root);
	if (strcmp(token, XBB_BE_TOKEN) != 0 ||
	    strncmp(path, b->bk_root, n) != 0)
		return;
	rel = path + n;
	if (*rel == '\0') {
		xbb_scan(b, NULL);
		return;
	}
	/* root/<feid>[/<vdev>[/...]] */
	if (*rel++ != '/' || xbb_component(&rel, name, sizeof(name)) != 0 ||
	    xu_parse_u32(name, &feid) != 0)
		return;
	if (*rel == '\0') {
		xbb_scan(b, name);
		return;
	}
	if (xbb_component(&rel, name, sizeof(name)) != 0 ||
	    xu_parse_u32(name, &vdev) != 0)
		return;
	if ((dev = xbb_find(b, feid, vdev)) != NULL) {
		dev->xb_dirty = true;
		return;
	}
	/* A new directory, unless this is the echo of a removal. */
	snprintf(dir, sizeof(dir), "%s/%u/%u", b->bk_root, feid, vdev);
	if (xbus_read(b->bk_xs, XBT_NULL, dir, NULL, &val) == 0) {
		free(val);
		xbb_found(b, feid, vdev);
	}
}

/* Take every pending watch event, then re-evaluate what they touched. */
static void
xbb_serve_pass(struct xbb *b)
{
	struct xbb_dev *dev, *tmp;
	uint32_t feid, vdev;
	bool again;
	char **vec;

	while ((vec = xs_check_watch(b->bk_xs)) != NULL) {
		xbb_event(b, vec[XS_WATCH_PATH], vec[XS_WATCH_TOKEN]);
		free(vec);
	}
	TAILQ_FOREACH_SAFE(dev, &b->bk_devs, xb_link, tmp) {
		if (!dev->xb_dirty || !xbb_dev_update(dev))
			continue;
		feid = dev->xb_feid;
		vdev = dev->xb_vdev;
		again = dev->xb_recreated;
		xbb_dev_destroy(dev);
		/* The new vbd starts from scratch, on the next pass. */
		if (again) {
			xbb_found(b, feid, vdev);
			xbb_kick_control(b);
		}
	}
}

/* Stop serving every device and forget it. */
static void
xbb_shutdown_all(struct xbb *b)
{
	struct xbb_dev *dev, *tmp;

	pthread_mutex_lock(&b->bk_lock);
	TAILQ_FOREACH_SAFE(dev, &b->bk_devs, xb_link, tmp) {
		xbb_dev_shutdown(dev);
		xbb_dev_destroy(dev);
	}
	pthread_mutex_unlock(&b->bk_lock);
}

void
xbb_control_wake(struct xbb *b, bool kicked)
{
	struct xbb_dev *dev;
	uint64_t v;

	pthread_mutex_lock(&b->bk_lock);
	if (kicked && read(b->bk_kickfd, &v, sizeof(v)) == sizeof(v)) {
		/* A ring broke: its device reports it. */
		TAILQ_FOREACH(dev, &b->bk_devs, xb_link)
			if (dev->xb_rings != NULL)
				dev->xb_dirty = true;
	}
	xbb_serve_pass(b);
	pthread_mutex_unlock(&b->bk_lock);
}

static void *
xbb_control_main(void *arg)
{
	struct xbb *b = arg;
	struct pollfd pfd[3];
	int n;

	pfd[0].fd = xs_fileno(b->bk_xs);
	pfd[1].fd = b->bk_stopfd;
	pfd[2].fd = b->bk_kickfd;
	for (;;) {
		pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
		pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
		if ((n = poll(pfd, 3, xbb_resize_timeout(b))) < 0 &&
		    errno != EINTR)
			break;
		if (pfd[1].revents != 0)
			break;
		if (n > 0)
			xbb_control_wake(b, pfd[2].revents != 0);
		xbb_resize_tick(b);
	}
	xbb_shutdown_all(b);
	return (NULL);
}

/* ---------------------------------------------------------------------
 * Entry points
 */

static int
xbb_opts_check(const struct xbb_opts *o)
{
	if (o->o_max_ring_page_order > 5 || o->o_max_queues == 0 ||
	    o->o_max_queues > XBB_MAX_QUEUES ||
	    o->o_max_indirect_segs > XBB_MAX_INDIRECT_SEGS)
		return (-EINVAL);
	if (o->o_sector_size != 0 &&
	    (o->o_sector_size < XBD_SECTOR_SIZE || o->o_sector_size > 65536 ||
		(o->o_sector_size & (o->o_sector_size - 1)) != 0))
		return (-EINVAL);
	if (o->o_nbd_timeout_s == 0 ||
	    o->o_nbd_timeout_s > XBB_MAX_NBD_TIMEOUT_S)
		return (-EINVAL);
	return (0);
}

/* Fail early, with the errno tests turn into a skip, without io_uring. */
static int
xbb_probe_uring(void)
{
	struct io_uring ring;
	int rc;

	if ((rc = io_uring_queue_init(2, &ring, 0)) != 0)
		return (rc);
	io_uring_queue_exit(&ring);
	return (0);
}

int
xbb_create(struct plat *p, const struct xbb_opts *o, struct xbb **out)
{
	struct xbb *b;
	int rc;

	if (o != NULL && (o->o_size == 0 || o->o_size > sizeof(*o)))
		return (-EINVAL);
	if ((rc = xbb_probe_uring()) != 0)
		return (rc);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return (-ENOMEM);
	b->bk_lockfd = -1;
	/* Fields a shorter (older) opts struct lacks keep their defaults. */
	xbb_opts_init(&b->bk_opts);
	if (o != NULL)
		memcpy(&b->bk_opts, o, o->o_size);
	b->bk_opts.o_size = sizeof(b->bk_opts);
	if ((rc = xbb_opts_check(&b->bk_opts)) != 0)
		goto fail_alloc;
	/*
	 * Map grants where the platform can, grant-copy where it can only
	 * copy; a platform that can do neither cannot serve anything.
	 */
	if (!plat_has(p, PLAT_CAP_GNT_MAP))
		b->bk_opts.o_grant_copy = true;
	if (b->bk_opts.o_grant_copy && !plat_has(p, PLAT_CAP_GNT_COPY)) {
		rc = -EOPNOTSUPP;
		goto fail_alloc;
	}
	b->bk_plat = p;
	b->bk_stopfd = b->bk_kickfd = -1;
	if (b->bk_opts.o_state_dir != NULL &&
	    (rc = b->bk_lockfd =
		    xbb_shadow_lock(b->bk_opts.o_state_dir, plat_domid(p))) < 0)
		goto fail_alloc;
	if ((rc = xbb_wlog_open(&b->bk_wlog, b->bk_opts.o_log_writes)) != 0)
		goto fail_alloc;
	TAILQ_INIT(&b->bk_devs);
	snprintf(b->bk_root, sizeof(b->bk_root), "/local/domain/%u/backend/vbd",
	    plat_domid(p));
	if ((rc = pthread_mutex_init(&b->bk_lock, NULL)) != 0) {
		rc = -rc;
		goto fail_wlog;
	}
	if ((b->bk_stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    (b->bk_kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		goto fail_fds;
	}
	errno = 0;
	if ((b->bk_xs = plat_xs_open(p)) == NULL) {
		rc = errno != 0 ? -errno : -EIO;
		goto fail_fds;
	}
	errno = 0;
	if (!xs_watch(b->bk_xs, b->bk_root, XBB_BE_TOKEN)) {
		rc = errno != 0 ? -errno : -EIO;
		goto fail_xs;
	}
	*out = b;
	return (0);
fail_xs:
	xs_close(b->bk_xs);
fail_fds:
	if (b->bk_stopfd >= 0)
		close(b->bk_stopfd);
	if (b->bk_kickfd >= 0)
		close(b->bk_kickfd);
	pthread_mutex_destroy(&b->bk_lock);
fail_wlog:
	xbb_wlog_close(&b->bk_wlog);
fail_alloc:
	if (b->bk_lockfd >= 0)
		xbb_shadow_unlock(b->bk_opts.o_state_dir, plat_domid(p),
		    b->bk_lockfd);
	free(b);
	return (rc);
}

int
xbb_start(struct plat *p, const struct xbb_opts *o, struct xbb **out)
{
	struct xbb *b;
	int rc;

	if ((rc = xbb_create(p, o, &b)) != 0)
		return (rc);
	rc = pthread_create(&b->bk_thread, NULL, xbb_control_main, b);
	if (rc != 0) {
		xbb_stop(b);
		return (-rc);
	}
	b->bk_threaded = true;
	*out = b;
	return (0);
}

void
xbb_stop(struct xbb *b)
{
	uint64_t one = 1;

	if (b == NULL)
		return;
	if (b->bk_threaded) {
		if (write(b->bk_stopfd, &one, sizeof(one)) != sizeof(one)) {
			/* Cannot happen for a fresh eventfd; join regardless.
			 */
		}
		pthread_join(b->bk_thread, NULL);
	} else {
		xbb_shutdown_all(b);
	}
	(void)xs_unwatch(b->bk_xs, b->bk_root, XBB_BE_TOKEN);
	xs_close(b->bk_xs);
	close(b->bk_stopfd);
	close(b->bk_kickfd);
	pthread_mutex_destroy(&b->bk_lock);
	/* Every ring has stopped: nothing appends any more. */
	xbb_wlog_close(&b->bk_wlog);
	/* Last: the next backend may take the vbds over from here on. */
	xbb_shadow_unlock(b->bk_opts.o_state_dir, plat_domid(b->bk_plat),
	    b->bk_lockfd);
	free(b);
}

int
xbb_dev_resize(struct xbb *b, uint32_t frontend_id, uint32_t vdev)
{
	struct xbb_dev *dev;
	int rc;

	pthread_mutex_lock(&b->bk_lock);
	dev = xbb_find(b, frontend_id, vdev);
	rc = dev != NULL ? xbb_dev_resize_locked(dev) : -ENOENT;
	pthread_mutex_unlock(&b->bk_lock);
	return (rc);
}

static int
xbb_stats_get(struct xbb *b, uint32_t frontend_id, uint32_t vdev, int ring,
    struct xbb_stats *st, size_t st_size)
{
	struct xbb_stats full;
	struct xbb_dev *dev;
	int rc = 0;

	if (st_size == 0)
		return (-EINVAL);
	pthread_mutex_lock(&b->bk_lock);
	if ((dev = xbb_find(b, frontend_id, vdev)) == NULL ||
	    (ring >= 0 && (unsigned int)ring >= dev->xb_nrings))
		rc = -ENOENT;
	else
		xbb_stats_fill(dev, ring, &full);
	pthread_mutex_unlock(&b->bk_lock);
	if (rc == 0)
		memcpy(st, &full, XU_MIN(st_size, sizeof(full)));
	return (rc);
}

int
xbb_dev_stats(struct xbb *b, uint32_t frontend_id, uint32_t vdev,
    struct xbb_stats *st, size_t st_size)
{
	return (xbb_stats_get(b, frontend_id, vdev, -1, st, st_size));
}

int
xbb_ring_stats(struct xbb *b, uint32_t frontend_id, uint32_t vdev,
    unsigned int ring, struct xbb_stats *st, size_t st_size)
{
	if (ring >= XBB_MAX_QUEUES)
		return (-ENOENT);
	return (xbb_stats_get(b, frontend_id, vdev, (int)ring, st, st_size));
}
