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

/*
 * Take every fired port, process its ring, then unmask it.  A device in
 * the error state leaves its ports masked: a backend storming us with
 * events then costs nothing (Linux skips the EOI for the same reason).
 */
static void
xbd_events(struct xbd_softc *sc)
{
	evtchn_port_t port;
	struct xbd_ring *ring;
	bool unmask;

	while (plat_evtchn_pending(sc->xbd_evtchn, &port) == 0) {
		XBD_LOCK(sc);
		sc->xbd_stats.xs_events++;
		if ((ring = xbd_port_ring(sc, port)) != NULL)
			xbd_int(sc, ring);
		unmask = sc->xbd_state != XBD_STATE_ERROR;
		XBD_UNLOCK(sc);
		if (unmask)
			(void)plat_evtchn_unmask(sc->xbd_evtchn, port);
	}
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
	TAILQ_CONCAT(&done, &sc->xbd_done, bp_link);
	events = sc->xbd_events;
	sc->xbd_events = 0;
	XBD_UNLOCK(sc);
	while ((pvt = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, pvt, bp_link);
		bp = xbd_pvt_bio(pvt);
		bp->bio_done(bp, pvt->bp_error);
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
	bool stop;
	int n;

	pfd[0].fd = plat_evtchn_fd(sc->xbd_evtchn);
	pfd[1].fd = xs_fileno(sc->xbd_xs);
	pfd[2].fd = sc->xbd_wakefd;
	for (;;) {
		pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
		pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
		/*
		 * Always a timeout: requests may have gone out since we
		 * started sleeping, and waking this thread for each first
		 * request would cost a syscall per I/O at low depth.
		 */
		if ((n = poll(pfd, 3, XBD_WATCHDOG_MS)) < 0 && errno != EINTR)
			break;
		if (n == 0)
			xbd_watchdog(sc);
		if (pfd[0].revents != 0)
			xbd_events(sc);
		if (pfd[1].revents != 0)
			xbd_watches(sc);
		if (pfd[2].revents != 0)
			xbd_kicked(sc);
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
	if ((rc = pthread_create(&sc->xbd_thread, NULL, xbd_thread_main, sc)) !=
	    0)
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
