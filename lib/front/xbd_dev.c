/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The public entry points of the frontend: attach and detach (FreeBSD's
 * xbd_attach/xbd_detach plus the wait for the connection a library
 * caller wants), open counting, bio submission and the synchronous
 * helpers, suspend and resume.
 */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/xu_time.h"
#include "platform/sim/hv.h"
#include "xbd_internal.h"
#include "xbd_queue.h"

/* Where real Xen's hold files go (xbd_hold.c): per boot, root's. */
#define XBD_HOLD_DIR_XEN "/run/xbd"
/* How often xbd_attach looks again for a vbd not there yet. */
#define XBD_VBD_POLL_MS 50

/* How long detach waits for in-flight I/O and for the backend to close. */
#define XBD_DETACH_TIMEOUT_MS 5000u

void
xbd_opts_init(struct xbd_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->o_size = sizeof(*o);
	o->o_max_ring_pages = XBD_MAX_RING_PAGES;
	o->o_max_queues = 1;
	o->o_enable_indirect = true;
	o->o_max_request_size = XBD_DEFAULT_MAX_REQUEST_SIZE;
	o->o_persistent = true;
	o->o_bounce = -1;
	o->o_bounce_pages = 0;
	o->o_connect_timeout_ms = 30000;
	o->o_suspend_timeout_ms = XBD_SUSPEND_TIMEOUT_MS;
	o->o_recovery_timeout_ms = 30000;
}

/* ---------------------------------------------------------------------
 * Platforms
 */

int
xbd_plat_open_sim(const char *dir, uint32_t domid, bool attach,
    struct xbd_plat **out)
{
	struct xbd_plat *xp;
	int rc;

	if ((xp = calloc(1, sizeof(*xp))) == NULL)
		return (-ENOMEM);
	if ((rc = xbd_plat_set_holddir(xp, dir, "hold")) != 0 ||
	    (rc = plat_sim_connect(dir, domid, "xbd", attach ? 1 : 0,
		 &xp->xp_plat)) != 0) {
		free(xp);
		return (rc);
	}
	xp->xp_owned = true;
	*out = xp;
	return (0);
}

int
xbd_plat_open_xen(struct xbd_plat **out)
{
	struct xbd_plat *xp;
	int rc;

	if ((xp = calloc(1, sizeof(*xp))) == NULL)
		return (-ENOMEM);
	if ((rc = xbd_plat_set_holddir(xp, XBD_HOLD_DIR_XEN, "")) != 0 ||
	    (rc = plat_xen_open(&xp->xp_plat)) != 0) {
		free(xp);
		return (rc);
	}
	xp->xp_owned = true;
	*out = xp;
	return (0);
}

int
xbd_plat_wrap(struct plat *p, struct xbd_plat **out)
{
	struct xbd_plat *xp;

	if ((xp = calloc(1, sizeof(*xp))) == NULL)
		return (-ENOMEM);
	xp->xp_plat = p;
	xp->xp_owned = false;
	*out = xp;
	return (0);
}

void
xbd_plat_on_lost(struct xbd_plat *xp, void (*fn)(const char *, void *),
    void *arg)
{
	if (xp != NULL)
		plat_sim_on_lost(xp->xp_plat, fn, arg);
}

void
xbd_plat_close(struct xbd_plat *xp)
{
	if (xp == NULL)
		return;
	if (xp->xp_owned)
		plat_close(xp->xp_plat);
	free(xp);
}

/* ---------------------------------------------------------------------
 * Attach and detach
 */

/* An absolute deadline timeout_ms from now, on the condvars' clock. */
static struct timespec
xbd_deadline(uint32_t timeout_ms)
{
	return (xu_deadline(CLOCK_MONOTONIC, timeout_ms));
}

/* Turn the caller's vbd name into our frontend directory. */
static int
xbd_resolve(struct xbd_softc *sc, const char *vbd)
{
	uint32_t domid = plat_domid(sc->xbd_plat), vdev;
	int n;

	if (vbd == NULL || *vbd == '\0')
		return (-EINVAL);
	if (vbd[0] == '/')
		n = snprintf(sc->xbd_node, sizeof(sc->xbd_node), "%s", vbd);
	else if (strchr(vbd, '/') != NULL)
		n = snprintf(sc->xbd_node, sizeof(sc->xbd_node),
		    "/local/domain/%u/%s", domid, vbd);
	else if (xbus_vdev_parse(vbd, &vdev) == 0)
		n = snprintf(sc->xbd_node, sizeof(sc->xbd_node),
		    "/local/domain/%u/device/vbd/%u", domid, vdev);
	else
		return (-EINVAL);
	return (n < 0 || (size_t)n >= sizeof(sc->xbd_node) ? -ENAMETOOLONG : 0);
}

/*
 * Read where our backend is.  The toolstack wrote these nodes, but into
 * a directory our own domain owns; check that the path and the id agree
 * before trusting either.
 */
static int
xbd_read_otherend(struct xbd_softc *sc)
{
	char *path = NULL, want[48];
	uint64_t id;
	int rc, n;

	if ((rc = xbus_read(sc->xbd_xs, XBT_NULL, sc->xbd_node, "backend",
		 &path)) != 0)
		return (rc);
	if ((rc = xbus_read_u64(sc->xbd_xs, XBT_NULL, sc->xbd_node,
		 "backend-id", DOMID_FIRST_RESERVED - 1, &id)) != 0)
		goto out;
	n = snprintf(want, sizeof(want), "/local/domain/%ju/", (uintmax_t)id);
	if (strncmp(path, want, (size_t)n) != 0 ||
	    strlen(path) >= sizeof(sc->xbd_otherend)) {
		rc = -EPROTO;
		goto out;
	}
	XBD_LOCK(sc);
	snprintf(sc->xbd_otherend, sizeof(sc->xbd_otherend), "%s", path);
	sc->xbd_otherend_id = (uint32_t)id;
	XBD_UNLOCK(sc);
out:
	free(path);
	return (rc);
}

static int
xbd_read_node(struct xbd_softc *sc)
{
	uint64_t v;
	bool trusted = true;
	int rc;

	/* virtual-device, or the ext form older toolstacks wrote. */
	rc = xbus_read_u64(sc->xbd_xs, XBT_NULL, sc->xbd_node, "virtual-device",
	    UINT32_MAX, &v);
	if (rc == -ENOENT)
		rc = xbus_read_u64(sc->xbd_xs, XBT_NULL, sc->xbd_node,
		    "virtual-device-ext", UINT32_MAX, &v);
	if (rc != 0)
		return (rc);
	sc->xbd_vdevice = (uint32_t)v;
	if ((rc = xbd_read_otherend(sc)) != 0)
		return (rc);
	(void)xbus_read_bool_def(sc->xbd_xs, XBT_NULL, sc->xbd_node, "trusted",
	    true, &trusted);
	sc->xbd_trusted = trusted;
	return (0);
}

static int
xbd_check_opts(const struct xbd_opts *o)
{
	if (o->o_max_ring_pages == 0 ||
	    o->o_max_ring_pages > XBD_MAX_RING_PAGES ||
	    (o->o_max_ring_pages & (o->o_max_ring_pages - 1)) != 0 ||
	    o->o_max_queues == 0 || o->o_max_queues > XBD_MAX_QUEUES ||
	    o->o_max_request_size < 2 * XBD_PAGE_SIZE || o->o_bounce < -1 ||
	    o->o_bounce > 1)
		return (-EINVAL);
	return (0);
}

/* Free what attach set up; the transport is already gone. */
static void
xbd_destroy(struct xbd_softc *sc)
{
	xbd_zc_release(sc);
	plat_evtchn_close(sc->xbd_evtchn);
	if (sc->xbd_xs != NULL) {
		if (sc->xbd_watch_path[0] != '\0')
			(void)xs_unwatch(sc->xbd_xs, sc->xbd_watch_path,
			    "otherend");
		xs_close(sc->xbd_xs);
	}
	if (sc->xbd_wakefd >= 0)
		close(sc->xbd_wakefd);
	/* Last: the vbd is free once nothing of ours is left on it. */
	xbd_unhold(sc);
	pthread_cond_destroy(&sc->xbd_cv);
	pthread_mutex_destroy(&sc->xbd_io_lock);
	free(sc);
}

static void xbd_detach_within(struct xbd_softc *sc, uint32_t wait_ms);

void
xbd_run_done(struct xbd_softc *sc)
{
	struct xbd_bio_pvt *pvt;
	struct xbd_bio *bp;

	XBD_LOCK(sc);
	while ((pvt = TAILQ_FIRST(&sc->xbd_done)) != NULL) {
		TAILQ_REMOVE(&sc->xbd_done, pvt, pv_link);
		XBD_UNLOCK(sc);
		bp = xbd_pvt_bio(pvt);
		bp->bio_done(bp, pvt->pv_error);
		XBD_LOCK(sc);
	}
	XBD_UNLOCK(sc);
}

int
xbd_create(struct xbd_plat *xp, const char *vbd, const struct xbd_opts *o,
    struct xbd_softc **out)
{
	struct xbd_softc *sc;
	pthread_condattr_t ca;
	enum xbd_q_index q;
	const char *name;
	int rc;

	if ((sc = calloc(1, sizeof(struct xbd_dev))) == NULL)
		return (-ENOMEM);
	xbd_opts_init(&sc->xbd_opts);
	if (o != NULL)
		memcpy(&sc->xbd_opts, o, XU_MIN(o->o_size, sizeof(*o)));
	sc->xbd_opts.o_size = sizeof(sc->xbd_opts);
	sc->xbd_wakefd = -1;
	sc->xbd_hold_fd = -1;
	pthread_mutex_init(&sc->xbd_io_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sc->xbd_cv, &ca);
	pthread_condattr_destroy(&ca);
	for (q = 0; q < XBD_Q_COUNT; q++)
		if (q != XBD_Q_BIO)
			xbd_initq_cm(sc, q);
	xbd_initq_bio(sc);
	TAILQ_INIT(&sc->xbd_done);
	sc->xbd_plat = xp->xp_plat;
	sc->xbd_state = XBD_STATE_DISCONNECTED;
	sc->xbd_xbstate = XenbusStateInitialising;

	if ((rc = xbd_check_opts(&sc->xbd_opts)) != 0 ||
	    (rc = xbd_resolve(sc, vbd)) != 0)
		goto fail;
	if ((sc->xbd_wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((sc->xbd_xs = plat_xs_open(sc->xbd_plat)) == NULL) {
		rc = errno != 0 ? -errno : -EIO;
		goto fail;
	}
	if ((rc = xbd_read_node(sc)) != 0 || (rc = xbd_hold(xp, sc)) != 0)
		goto fail;
	xbd_vdevice_to_unit(sc->xbd_vdevice, &sc->xbd_unit, &name);
	snprintf(sc->xbd_name, sizeof(sc->xbd_name), "%s%d", name,
	    sc->xbd_unit);
	if ((rc = plat_evtchn_open(sc->xbd_plat, &sc->xbd_evtchn)) != 0)
		goto fail;
	if ((rc = xbd_set_state(sc, XenbusStateInitialising)) != 0 ||
	    (rc = xbd_watch_otherend(sc)) != 0)
		goto fail;
	*out = sc;
	return (0);
fail:
	if (sc->xbd_xs != NULL && sc->xbd_node[0] != '\0' && rc != -ENOENT)
		xbd_log(sc, "attach of %s failed: %s", sc->xbd_node,
		    strerror(-rc));
	xbd_destroy(sc);
	return (rc);
}

/*
 * xbd_create, waiting up to o_vbd_wait_ms for a vbd that is not there
 * yet: joining the machine may be what creates our domain, and the
 * toolstack (`xbd serve --image`) adds the vbd only once it sees it.
 */
static int
xbd_create_wait(struct xbd_plat *xp, const char *vbd, const struct xbd_opts *o,
    struct xbd_softc **out)
{
	uint32_t waited = 0, wait_ms = 0;
	int rc;

	if (o != NULL &&
	    o->o_size >= offsetof(struct xbd_opts, o_vbd_wait_ms) +
		    sizeof(o->o_vbd_wait_ms))
		wait_ms = o->o_vbd_wait_ms;
	/* A failure with a reason (xbd_plat_why) is not a vbd to wait for. */
	while ((rc = xbd_create(xp, vbd, o, out)) == -ENOENT &&
	    xp->xp_why[0] == '\0' && waited < wait_ms) {
		usleep(XBD_VBD_POLL_MS * 1000);
		waited += XBD_VBD_POLL_MS;
	}
	return (rc);
}

/*
 * Wait for the event thread to connect the device, or to fail it, for
 * o_connect_timeout_ms at the most.  Returns 0 or why not (-ETIMEDOUT).
 */
static int
xbd_wait_connected(struct xbd_softc *sc)
{
	struct timespec deadline;
	int rc;

	deadline = xbd_deadline(sc->xbd_opts.o_connect_timeout_ms);
	XBD_LOCK(sc);
	while (
	    sc->xbd_state != XBD_STATE_CONNECTED && sc->xbd_attach_error == 0) {
		if (pthread_cond_timedwait(&sc->xbd_cv, &sc->xbd_io_lock,
			&deadline) == ETIMEDOUT) {
			sc->xbd_attach_error = -ETIMEDOUT;
			break;
		}
	}
	rc = sc->xbd_state == XBD_STATE_CONNECTED ? 0 : sc->xbd_attach_error;
	XBD_UNLOCK(sc);
	return (rc);
}

int
xbd_attach(struct xbd_plat *xp, const char *vbd, const struct xbd_opts *o,
    struct xbd_dev **out)
{
	struct xbd_softc *sc;
	int rc;

	if (xp == NULL || out == NULL)
		return (-EINVAL);
	xp->xp_why[0] = '\0';
	if ((rc = xbd_create_wait(xp, vbd, o, &sc)) != 0)
		return (rc);
	if ((rc = xbd_thread_start(sc)) != 0) {
		xbd_log(sc, "attach of %s failed: %s", sc->xbd_node,
		    strerror(-rc));
		xbd_destroy(sc);
		return (rc);
	}

	/* The watch fires at once; the event thread does the rest. */
	rc = xbd_wait_connected(sc);
	if (rc != 0) {
		xbd_log(sc, "attach failed: %s", strerror(-rc));
		/*
		 * A backend that did not connect in the caller's time is not
		 * waited for longer to close: it may be dead.  What it might
		 * still map is retired, never reused (XSA-396).
		 */
		xbd_detach_within(sc,
		    XU_MIN(sc->xbd_opts.o_connect_timeout_ms,
			XBD_DETACH_TIMEOUT_MS));
		return (rc);
	}
	*out = (struct xbd_dev *)sc;
	return (0);
}

static bool
xbd_backend_closed(enum xenbus_state s, void *arg)
{
	return (s == XenbusStateClosed || s == XenbusStateUnknown);
}

static bool
xbd_backend_closing(enum xenbus_state s, void *arg)
{
	return (s == XenbusStateClosing || xbd_backend_closed(s, arg));
}

/*
 * Detach, waiting at most about 1.5 * wait_ms for in-flight I/O and for
 * the backend to close.
 */
static void
xbd_detach_within(struct xbd_softc *sc, uint32_t wait_ms)
{
	struct timespec deadline;
	bool closed;

	/* No new I/O; what is queued fails; what is in flight may finish. */
	deadline = xbd_deadline(wait_ms);
	XBD_LOCK(sc);
	if (sc->xbd_state == XBD_STATE_CONNECTED ||
	    sc->xbd_state == XBD_STATE_SUSPENDED)
		sc->xbd_state = XBD_STATE_GONE;
	sc->xbd_users = 0;
	sc->xbd_closing = true;
	xbd_fail_all_queued(sc, -ENXIO);
	while (sc->xbd_thread_running &&
	    xbd_queue_length(sc, XBD_Q_BUSY) != 0 &&
	    sc->xbd_state != XBD_STATE_ERROR) {
		if (pthread_cond_timedwait(&sc->xbd_cv, &sc->xbd_io_lock,
			&deadline) == ETIMEDOUT)
			break;
	}
	closed = sc->xbd_close_done || sc->xbd_xbstate == XenbusStateClosed;
	sc->xbd_close_done = true;
	XBD_UNLOCK(sc);

	/*
	 * Close towards the backend and let it unmap before we revoke.  Even
	 * when we closed already (a backend that went away with no recovery
	 * time), a new backend may have mapped the ring from our state before
	 * it read Closed: it is waited for too, or the teardown would retire
	 * pages it is about to unmap.
	 */
	if (sc->xbd_otherend[0] != '\0') {
		if (!closed) {
			(void)xbd_set_state(sc, XenbusStateClosing);
			(void)xbus_wait_state(sc->xbd_xs, sc->xbd_otherend,
			    xbd_backend_closing, NULL, wait_ms / 2);
			(void)xbd_set_state(sc, XenbusStateClosed);
		}
		(void)xbus_wait_state(sc->xbd_xs, sc->xbd_otherend,
		    xbd_backend_closed, NULL, wait_ms);
	}
	xbd_thread_stop(sc);
	xbd_free(sc);
	/* Every bio gets its completion, even now. */
	xbd_run_done(sc);
	xbd_destroy(sc);
}

void
xbd_detach(struct xbd_dev *dev)
{
	if (dev == NULL)
		return;
	xbd_detach_within(&dev->xd_sc, XBD_DETACH_TIMEOUT_MS);
}

int
xbd_open(struct xbd_dev *dev)
{
	struct xbd_softc *sc = &dev->xd_sc;
	int rc = 0;

	XBD_LOCK(sc);
	if (sc->xbd_closing || sc->xbd_state == XBD_STATE_GONE)
		rc = -ENXIO;
	else if (sc->xbd_users++ == 0)
		sc->xbd_flags |= XBDF_OPEN;
	XBD_UNLOCK(sc);
	return (rc);
}

void
xbd_close(struct xbd_dev *dev)
{
	struct xbd_softc *sc = &dev->xd_sc;

	XBD_LOCK(sc);
	if (sc->xbd_users > 0 && --sc->xbd_users == 0) {
		sc->xbd_flags &= ~XBDF_OPEN;
		/* A close the backend asked for may finish now. */
		xbd_wake(sc);
	}
	XBD_UNLOCK(sc);
}

/* ---------------------------------------------------------------------
 * I/O
 */

/* Is [off, off + len) a sector-aligned range inside the disk? */
static bool
xbd_range_ok(struct xbd_softc *sc, uint64_t off, uint64_t len)
{
	uint64_t size = sc->xbd_sectors << XBD_SECTOR_SHIFT;
	uint64_t mask = sc->xbd_sector_size - 1;

	return (len > 0 && (off & mask) == 0 && (len & mask) == 0 &&
	    off <= size && len <= size - off);
}

int
xbd_submit(struct xbd_dev *dev, struct xbd_bio *bp)
{
	struct xbd_softc *sc = &dev->xd_sc;
	struct xbd_bio_pvt *pvt;
	int rc = 0;

	if (bp == NULL || bp->bio_done == NULL)
		return (-EINVAL);
	XBD_LOCK(sc);
	switch (sc->xbd_state) {
	case XBD_STATE_ERROR:
		rc = -EIO;
		goto out;
	case XBD_STATE_GONE:
		rc = -ENXIO;
		goto out;
	default:
		if (sc->xbd_closing || !sc->xbd_connected_once) {
			rc = -ENXIO;
			goto out;
		}
		break;
	}
	switch (bp->bio_cmd) {
	case XBD_CMD_READ:
	case XBD_CMD_WRITE:
		if (bp->bio_data == NULL ||
		    !xbd_range_ok(sc, bp->bio_offset, bp->bio_length))
			rc = -EINVAL;
		else if (bp->bio_cmd == XBD_CMD_WRITE &&
		    (sc->xbd_flags & XBDF_READONLY) != 0)
			rc = -EROFS;
		break;
	case XBD_CMD_FLUSH:
		if (bp->bio_length != 0)
			rc = -EINVAL;
		else if ((sc->xbd_flags & (XBDF_FLUSH | XBDF_BARRIER)) == 0)
			rc = -EOPNOTSUPP;
		else if ((sc->xbd_flags & XBDF_READONLY) != 0)
			rc = -EROFS;
		break;
	case XBD_CMD_DISCARD:
		if (!xbd_range_ok(sc, bp->bio_offset, bp->bio_length))
			rc = -EINVAL;
		else if ((sc->xbd_flags & XBDF_READONLY) != 0)
			rc = -EROFS;
		else if ((sc->xbd_flags & XBDF_DISCARD) == 0 ||
		    ((bp->bio_flags & XBD_BIO_SECURE) != 0 &&
			(sc->xbd_flags & XBDF_SECURE_DISCARD) == 0))
			rc = -EOPNOTSUPP;
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc != 0)
		goto out;
	pvt = xbd_bio_pvt(bp);
	memset(pvt, 0, sizeof(*pvt));
	sc->xbd_stats.xst_bios++;
	xbd_enqueue_bio(sc, bp);
	xbd_startio(sc);
out:
	XBD_UNLOCK(sc);
	return (rc);
}

/* A waiter for the synchronous helpers. */
struct xbd_sync {
	pthread_mutex_t s_lock; /* protects the two below */
	pthread_cond_t s_cv;	/* signalled at completion */
	bool s_done;		/* the bio completed */
	int s_error;		/* its error */
};

static void
xbd_sync_done(struct xbd_bio *bp, int error)
{
	struct xbd_sync *s = bp->bio_caller;

	pthread_mutex_lock(&s->s_lock);
	s->s_error = error;
	s->s_done = true;
	pthread_cond_signal(&s->s_cv);
	pthread_mutex_unlock(&s->s_lock);
}

static int
xbd_sync_io(struct xbd_dev *dev, enum xbd_cmd cmd, unsigned int flags,
    void *buf, uint64_t off, uint64_t len)
{
	struct xbd_sync s = { .s_done = false, .s_error = 0 };
	struct xbd_bio bio;
	int rc;

	memset(&bio, 0, sizeof(bio));
	bio.bio_cmd = cmd;
	bio.bio_flags = flags;
	bio.bio_offset = off;
	bio.bio_length = len;
	bio.bio_data = buf;
	bio.bio_done = xbd_sync_done;
	bio.bio_caller = &s;
	pthread_mutex_init(&s.s_lock, NULL);
	pthread_cond_init(&s.s_cv, NULL);
	if ((rc = xbd_submit(dev, &bio)) == 0) {
		pthread_mutex_lock(&s.s_lock);
		while (!s.s_done)
			pthread_cond_wait(&s.s_cv, &s.s_lock);
		pthread_mutex_unlock(&s.s_lock);
		rc = s.s_error;
	}
	pthread_cond_destroy(&s.s_cv);
	pthread_mutex_destroy(&s.s_lock);
	return (rc);
}

int
xbd_read(struct xbd_dev *dev, void *buf, uint64_t off, uint64_t len)
{
	return (xbd_sync_io(dev, XBD_CMD_READ, 0, buf, off, len));
}

int
xbd_write(struct xbd_dev *dev, const void *buf, uint64_t off, uint64_t len)
{
	return (xbd_sync_io(dev, XBD_CMD_WRITE, 0, (void *)(uintptr_t)buf, off,
	    len));
}

int
xbd_write_ordered(struct xbd_dev *dev, const void *buf, uint64_t off,
    uint64_t len)
{
	return (xbd_sync_io(dev, XBD_CMD_WRITE, XBD_BIO_ORDERED,
	    (void *)(uintptr_t)buf, off, len));
}

int
xbd_flush(struct xbd_dev *dev)
{
	return (xbd_sync_io(dev, XBD_CMD_FLUSH, 0, NULL, 0, 0));
}

int
xbd_discard(struct xbd_dev *dev, uint64_t off, uint64_t len, bool secure)
{
	return (xbd_sync_io(dev, XBD_CMD_DISCARD, secure ? XBD_BIO_SECURE : 0,
	    NULL, off, len));
}

/* ---------------------------------------------------------------------
 * Suspend and resume
 */

int
xbd_suspend(struct xbd_dev *dev)
{
	struct xbd_softc *sc = &dev->xd_sc;
	struct timespec deadline;
	int rc = 0;

	deadline = xbd_deadline(sc->xbd_opts.o_suspend_timeout_ms);
	XBD_LOCK(sc);
	if (sc->xbd_state != XBD_STATE_CONNECTED) {
		XBD_UNLOCK(sc);
		return (-EINVAL);
	}
	/* No new dispatch; wait for the ring to drain. */
	sc->xbd_state = XBD_STATE_SUSPENDED;
	while (xbd_queue_length(sc, XBD_Q_BUSY) != 0) {
		if (pthread_cond_timedwait(&sc->xbd_cv, &sc->xbd_io_lock,
			&deadline) == ETIMEDOUT) {
			/* I/O did not drain: cancel the suspend. */
			sc->xbd_state = XBD_STATE_CONNECTED;
			xbd_startio(sc);
			rc = -EBUSY;
			break;
		}
	}
	if (rc != 0)
		xbd_log_rings(sc, "suspend timed out: cancelled");
	XBD_UNLOCK(sc);
	return (rc);
}

int
xbd_resume(struct xbd_dev *dev, bool cancelled)
{
	struct xbd_softc *sc = &dev->xd_sc;
	int rc;

	XBD_LOCK(sc);
	if (sc->xbd_state != XBD_STATE_SUSPENDED) {
		XBD_UNLOCK(sc);
		return (-EINVAL);
	}
	if (cancelled) {
		sc->xbd_state = XBD_STATE_CONNECTED;
		xbd_startio(sc);
		XBD_UNLOCK(sc);
		return (0);
	}
	XBD_UNLOCK(sc);

	/*
	 * Let go of the old connection first: Closing, then Closed, so that
	 * a backend still attached unmaps the rings (and a fresh one, made
	 * by the toolstack, simply follows along).  Only then are the ring
	 * grants ended.  The state machine keeps out of it meanwhile, so the
	 * queued bios survive, and so must the parts already built into
	 * commands: an ordered write held on READY goes back on the bio
	 * queue with the rest, to be reissued on the new connection.
	 */
	XBD_LOCK(sc);
	sc->xbd_resuming = true;
	XBD_UNLOCK(sc);
	(void)xbd_set_state(sc, XenbusStateClosing);
	(void)xbus_wait_state(sc->xbd_xs, sc->xbd_otherend, xbd_backend_closing,
	    NULL, XBD_DETACH_TIMEOUT_MS / 2);
	(void)xbd_set_state(sc, XenbusStateClosed);
	(void)xbus_wait_state(sc->xbd_xs, sc->xbd_otherend, xbd_backend_closed,
	    NULL, XBD_DETACH_TIMEOUT_MS);
	xbd_teardown(sc, true);
	XBD_LOCK(sc);
	sc->xbd_state = XBD_STATE_DISCONNECTED;
	sc->xbd_attach_error = 0;
	sc->xbd_resuming = false;
	XBD_UNLOCK(sc);
	if ((rc = xbd_read_otherend(sc)) != 0 ||
	    (rc = xbd_set_state(sc, XenbusStateInitialising)) != 0 ||
	    (rc = xbd_watch_otherend(sc)) != 0)
		return (rc);

	return (xbd_wait_connected(sc));
}
