/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event thread of a device: what the interrupt handler and the
 * XenBus watch callback are in a kernel driver.  It waits on one pollable
 * fd for all of the device's event channels (libxenevtchn semantics), on
 * libxenstore's watch fd and on an eventfd other threads kick; then it
 * consumes responses (xbd_int), follows the backend's state, restarts
 * dispatch after a grant shortage, and runs completions and device
 * events with no lock held.
 */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xbd_internal.h"
#include "xbd_queue.h"

/*
 * How long the thread sleeps with requests in flight before it looks at
 * the rings without being notified: long enough never to matter for a
 * healthy backend, short enough that a silent one only costs a second.
 */
#define XBD_WATCHDOG_MS 1000

/* Watch events handled per wake-up before looking at the ring again. */
#define XBD_WATCH_BATCH 32

/* The ring a port belongs to, or NULL (a stale or spurious port). */
static struct xbd_ring *
xbd_port_ring(struct xbd_softc *sc, evtchn_port_t port)
{
	uint32_t q;

	for (q = 0; q < sc->xbd_nqueues; q++)
		if (sc->xbd_rings[q].rq_bound &&
		    sc->xbd_rings[q].rq_port == port)
			return (&sc->xbd_rings[q]);
	return (NULL);
}

static uint64_t
xbd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/*
 * Whether to unmask a ring's port after its event (late EOI,
 * common/xu_eoi.h): an event that brought no response is spurious, and a
 * run of them leaves the port masked until rq_unmask_at, so a backend
 * storming us (XSA-391) costs a few wake-ups per second.  Lock held.
 */
static bool
xbd_eoi(struct xbd_softc *sc, struct xbd_ring *ring, bool spurious)
{
	uint64_t ns;

	if (spurious)
		sc->xbd_stats.xst_events_spurious++;
	if ((ns = xu_eoi_delay(&ring->rq_eoi, spurious)) == 0)
		return (true);
	sc->xbd_stats.xst_eoi_delayed++;
	ring->rq_unmask_at = xbd_now_ns() + ns;
	return (false);
}

/*
 * Take every fired port, process its ring, then unmask it (or leave it
 * to xbd_eoi_due when throttled).  A device in the error state leaves
 * its ports masked: a backend storming us with events then costs nothing
 * (Linux skips the EOI for the same reason).
 */
static void
xbd_events(struct xbd_softc *sc)
{
	evtchn_port_t port;
	struct xbd_ring *ring;
	uint64_t before;
	bool unmask;

	while (plat_evtchn_pending(sc->xbd_evtchn, &port) == 0) {
		XBD_LOCK(sc);
		sc->xbd_stats.xst_events++;
		unmask = true;
		if ((ring = xbd_port_ring(sc, port)) != NULL) {
			before = sc->xbd_stats.xst_responses;
			xbd_int(sc, ring);
			unmask = xbd_eoi(sc, ring,
			    sc->xbd_stats.xst_responses == before);
		}
		if (sc->xbd_state == XBD_STATE_ERROR)
			unmask = false;
		XBD_UNLOCK(sc);
		if (unmask)
			(void)plat_evtchn_unmask(sc->xbd_evtchn, port);
	}
}

/*
 * Unmask the throttled ports whose delay is over; return the
 * milliseconds until the next one is due (or XBD_WATCHDOG_MS).
 */
static int
xbd_eoi_due(struct xbd_softc *sc)
{
	evtchn_port_t due[XBD_MAX_QUEUES];
	uint64_t now = xbd_now_ns(), next = UINT64_MAX;
	unsigned int n = 0, i;
	struct xbd_ring *ring;
	uint32_t q;

	XBD_LOCK(sc);
	for (q = 0; q < sc->xbd_nqueues; q++) {
		ring = &sc->xbd_rings[q];
		if (ring->rq_unmask_at == 0)
			continue;
		if (ring->rq_unmask_at <= now) {
			ring->rq_unmask_at = 0;
			if (ring->rq_bound && sc->xbd_state != XBD_STATE_ERROR)
				due[n++] = ring->rq_port;
		} else if (ring->rq_unmask_at < next) {
			next = ring->rq_unmask_at;
		}
	}
	XBD_UNLOCK(sc);
	for (i = 0; i < n; i++)
		(void)plat_evtchn_unmask(sc->xbd_evtchn, due[i]);
	if (next == UINT64_MAX || next - now >= XBD_WATCHDOG_MS * 1000000ull)
		return (XBD_WATCHDOG_MS);
	/* Round up: waking a little late is fine, early is a spin. */
	return ((int)((next - now + 999999) / 1000000));
}

/* XenStore watch events: the backend's state changed. */
static void
xbd_watches(struct xbd_softc *sc)
{
	char **vec;
	unsigned int n;

	/*
	 * A bounded batch: a peer rewriting its nodes in a loop must not keep
	 * this thread from everything else (XSA-349); the rest stays queued
	 * and the watch fd stays readable.
	 */
	for (n = 0;
	     n < XBD_WATCH_BATCH && (vec = xs_check_watch(sc->xbd_xs)) != NULL;
	     n++) {
		if (strcmp(vec[XS_WATCH_TOKEN], "otherend") == 0 &&
		    strcmp(vec[XS_WATCH_PATH], sc->xbd_watch_path) == 0)
			xbd_backend_changed(sc);
		free(vec);
	}
}

/* Run completions and deliver device events, without the lock. */
static void
xbd_deliver(struct xbd_softc *sc)
{
	struct xbd_bioq done;
	struct xbd_bio_pvt *pvt;
	struct xbd_bio *bp;
	uint32_t events;
	int ev;

	XBD_LOCK(sc);
	TAILQ_INIT(&done);
	TAILQ_CONCAT(&done, &sc->xbd_done, pv_link);
	events = sc->xbd_events;
	sc->xbd_events = 0;
	XBD_UNLOCK(sc);
	while ((pvt = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, pvt, pv_link);
		bp = xbd_pvt_bio(pvt);
		bp->bio_done(bp, pvt->pv_error);
	}
	if (sc->xbd_opts.o_event == NULL)
		return;
	for (ev = XBD_EV_CONNECTED; ev <= XBD_EV_LOST; ev++)
		if ((events & (1u << ev)) != 0)
			sc->xbd_opts.o_event((struct xbd_dev *)sc,
			    (enum xbd_event)ev, sc->xbd_opts.o_event_arg);
}

/* After a wake-up: a grant shortage may be over. */
static void
xbd_kicked(struct xbd_softc *sc)
{
	uint64_t n;

	/* Draining the counter; an empty one (EAGAIN) is fine too. */
	if (read(sc->xbd_wakefd, &n, sizeof(n)) < 0)
		n = 0;
	XBD_LOCK(sc);
	if ((sc->xbd_flags & XBDF_GNT_SHORTAGE) != 0 &&
	    !sc->xbd_gnt_cb_pending) {
		xbd_thaw(sc, XBDF_GNT_SHORTAGE);
		xbd_startio(sc);
	}
	if (sc->xbd_state == XBD_STATE_ERROR)
		sc->xbd_events |= 1u << XBD_EV_ERROR;
	XBD_UNLOCK(sc);
}

/*
 * Nothing woke us for a while although requests are in flight: look at
 * the rings anyway.  A backend that publishes responses but never
 * notifies (or a notification lost to a bug) costs latency, never a
 * request.
 */
static void
xbd_watchdog(struct xbd_softc *sc)
{
	uint32_t q;

	XBD_LOCK(sc);
	if (sc->xbd_state == XBD_STATE_CONNECTED ||
	    sc->xbd_state == XBD_STATE_SUSPENDED ||
	    sc->xbd_state == XBD_STATE_GONE) {
		for (q = 0; q < sc->xbd_nqueues; q++)
			if (sc->xbd_rings[q].rq_busy > 0)
				xbd_int(sc, &sc->xbd_rings[q]);
	}
	XBD_UNLOCK(sc);
}

static void *
xbd_thread_main(void *arg)
{
	struct xbd_softc *sc = arg;
	struct pollfd pfd[3];
	int n, timeout;
	bool stop;

	pfd[0].fd = plat_evtchn_fd(sc->xbd_evtchn);
	pfd[1].fd = xs_fileno(sc->xbd_xs);
	pfd[2].fd = sc->xbd_wakefd;
	timeout = XBD_WATCHDOG_MS;
	for (;;) {
		pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
		pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
		/*
		 * Always a timeout: requests may have gone out since we
		 * started sleeping, and waking this thread for each first
		 * request would cost a syscall per I/O at low depth.  A
		 * throttled port shortens it.
		 */
		if ((n = poll(pfd, 3, timeout)) < 0 && errno != EINTR)
			break;
		if (n == 0 && timeout == XBD_WATCHDOG_MS)
			xbd_watchdog(sc);
		if (pfd[0].revents != 0)
			xbd_events(sc);
		if (pfd[1].revents != 0)
			xbd_watches(sc);
		if (pfd[2].revents != 0)
			xbd_kicked(sc);
		timeout = xbd_eoi_due(sc);
		xbd_closing_finish(sc);
		xbd_recovery_check(sc);
		xbd_deliver(sc);
		XBD_LOCK(sc);
		stop = sc->xbd_stop;
		XBD_UNLOCK(sc);
		if (stop)
			break;
	}
	return (NULL);
}

int
xbd_thread_start(struct xbd_softc *sc)
{
	int rc;

	if (xs_fileno(sc->xbd_xs) < 0)
		return (-EIO);
	rc = pthread_create(&sc->xbd_thread, NULL, xbd_thread_main, sc);
	if (rc != 0)
		return (-rc);
	sc->xbd_thread_running = true;
	return (0);
}

void
xbd_thread_stop(struct xbd_softc *sc)
{
	if (!sc->xbd_thread_running)
		return;
	XBD_LOCK(sc);
	sc->xbd_stop = true;
	XBD_UNLOCK(sc);
	xbd_wake(sc);
	pthread_join(sc->xbd_thread, NULL);
	sc->xbd_thread_running = false;
}
