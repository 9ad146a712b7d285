/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the frontend's response consumer (xbd_int), driven on the
 * fuzzer's thread.  fuzz_xbd_rsp plays the same scripts end to end (a
 * backend thread, notifications, the frontend's event thread); here the
 * harness is the backend and calls the consumer itself, so an input costs
 * microseconds instead of thread wake-ups and polls.
 *
 * One machine is built on the first input and kept: a vbd whose backend
 * nodes the harness publishes (already Connected), a frontend attached to
 * it through xbd_attach, whose event thread is then stopped.  The harness
 * maps the frontend's ring as domain 0 would.  Each input submits a few
 * bios (the real xbd_submit and dispatch), takes their requests off the
 * ring, and plays the same script as fuzz_xbd_rsp; a publish runs xbd_int
 * under the device lock, as the event thread does, then the completions.
 * Afterwards every request the frontend still waits for is answered
 * honestly.  Every bio must then have completed exactly once and the
 * device must be connected or in the error state; a violation aborts.
 * A device left in the error state or out of step is reconnected in
 * place by the library's own path: teardown, then the Initialising,
 * initialise and connect steps it takes when a backend comes back.
 *
 * Input: see fz_rsp.h (fuzz_xbd_rsp's seeds are valid here).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front/xbd_queue.h"
#include "fz_rsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ROUNDS 8 /* honest rounds before a bio counts as lost */

static struct {
	struct fz_sim m_sim;	 /* the machine */
	struct xs_handle *m_bxs; /* XenStore as domain 0 */
	struct hostile m_h;	 /* the ring helpers of the scripted backend
				    (its thread is never started) */
	struct xbd_dev *m_dev;	 /* the attached frontend */
	grant_ref_t m_ref;	 /* the ring reference mapped */
} fz;

/* Run the completions the event thread would run, without the lock. */
static void
fz_deliver(void)
{
	xbd_run_done(&fz.m_dev->xd_sc);
}

/* Map the frontend's ring as its backend (the ref it advertises). */
static void
fz_map(void)
{
	struct xbd_ring *ring = &fz.m_dev->xd_sc.xbd_rings[0];

	fz.m_ref = ring->rq_wire[0];
	if (plat_map(fz.m_sim.s_be, 1, 1, &fz.m_ref, true, &fz.m_h.h_sring) !=
		0 ||
	    xring_back_init(&fz.m_h.h_ring, fz.m_h.h_sring, 1,
		XRING_ABI_NATIVE) != 0)
		fz_die("cannot map the ring");
}

/* The backend half of the store: a vbd already Connected. */
static void
fz_backend(void)
{
	static const char *const nodes[][2] = { { "sectors", "2048" },
		{ "sector-size", "512" }, { "info", "0" },
		{ "feature-flush-cache", "1" }, { "feature-barrier", "1" },
		{ "feature-discard", "1" }, { "state", "4" } };
	size_t i;

	fz_sim_vbd(&fz.m_sim, &fz.m_bxs, fz.m_h.h_be, sizeof(fz.m_h.h_be));
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		if (xbus_write(fz.m_bxs, XBT_NULL, fz.m_h.h_be, nodes[i][0],
			nodes[i][1]) != 0)
			fz_die("no backend nodes");
}

/*
 * The machine, an attached frontend, and no event thread: from here on
 * only this thread touches the device.
 */
static void
fz_up(void)
{
	struct xbd_opts o;

	fz_backend();
	fz.m_h.h_no_notify = true;
	xbd_opts_init(&o);
	o.o_max_ring_pages = 1;
	o.o_recovery_timeout_ms = 0;
	/*
	 * Every bio bounces (its buffer is not in the zero-copy region) and
	 * the pool is allocated and zeroed at every connect: the default 320
	 * pages would be most of the cost of a reconnection.  One input's
	 * bios fit, so the pool never runs short: a shortage waits for the
	 * event thread's retry, which this harness does not run.
	 */
	o.o_bounce_pages = FZ_RSP_BIOS * FZ_RSP_MAX_PAGES;
	if (xbd_attach(fz.m_sim.s_xp, "xvda", &o, &fz.m_dev) != 0)
		fz_die("no attachment");
	xbd_thread_stop(&fz.m_dev->xd_sc);
	fz_map();
}

/*
 * Put the device back to a fresh connection: what the library does when
 * its backend goes away and comes back (xbd_lost, then
 * xbd_backend_changed seeing Connected), with the backend's unmap first
 * so that no page is retired.
 */
static void
fz_reconnect(void)
{
	struct xbd_softc *sc = &fz.m_dev->xd_sc;

	(void)plat_unmap(fz.m_sim.s_be, fz.m_h.h_sring, 1);
	xbd_teardown(sc, false);
	XBD_LOCK(sc);
	sc->xbd_state = XBD_STATE_DISCONNECTED;
	sc->xbd_attach_error = 0;
	XBD_UNLOCK(sc);
	if (xbd_set_state(sc, XenbusStateInitialising) != 0 ||
	    xbd_initialize(sc) != 0 || xbd_connect(sc) != 0 ||
	    sc->xbd_state != XBD_STATE_CONNECTED)
		fz_die("no reconnection");
	fz_deliver();
	fz_map();
}

/* Publish the responses and run the consumer as the event thread would. */
static void
fz_publish(void)
{
	struct xbd_softc *sc = &fz.m_dev->xd_sc;

	hostile_push(&fz.m_h);
	XBD_LOCK(sc);
	xbd_int(sc, &sc->xbd_rings[0]);
	XBD_UNLOCK(sc);
	fz_deliver();
}

/* Take the requests the frontend put on the ring, after the n taken. */
static unsigned int
fz_take(union xring_req *reqs, unsigned int n)
{
	int k;

	while (n < FZ_RSP_REQS && (k = xring_back_poll(&fz.m_h.h_ring)) > 0)
		while (k-- > 0 && n < FZ_RSP_REQS)
			xring_back_take(&fz.m_h.h_ring, &reqs[n++]);
	return (n);
}

/*
 * A completed bio must be forgotten: its memory is the caller's again
 * (and the next input's).
 */
static void
fz_check_released(void)
{
	struct xbd_softc *sc = &fz.m_dev->xd_sc;
	uint32_t i;

	if (!TAILQ_EMPTY(&sc->xbd_bioq) || !TAILQ_EMPTY(&sc->xbd_done))
		fz_die("a completed bio is still queued");
	for (i = 0; i < sc->xbd_ncms; i++)
		if (sc->xbd_cms[i].cm_bp != NULL)
			fz_die("a completed bio is still held by a command");
}

/*
 * Answer honestly whatever the frontend still waits for, from where it
 * stands (a producer moved back and forth may have hidden answers the
 * script wrote), round after round while dispatch sends more.
 */
static void
fz_honest(union xring_req *reqs, unsigned int nreqs)
{
	struct xbd_softc *sc = &fz.m_dev->xd_sc;
	struct xbd_ring *ring = &sc->xbd_rings[0];
	unsigned int round, i;
	uint64_t id;

	for (round = 0; round < FZ_ROUNDS; round++) {
		if (sc->xbd_state != XBD_STATE_CONNECTED || ring->rq_busy == 0)
			return;
		fz.m_h.h_ring.xr_u.native.rsp_prod_pvt =
		    ring->rq_ring.xr_ring.rsp_cons;
		nreqs = fz_take(reqs, nreqs);
		for (i = 0; i < nreqs; i++) {
			id = reqs[i].rw.id;
			if (id < ring->rq_nslots &&
			    xbd_cm_queue(&ring->rq_shadow[id]) == XBD_Q_BUSY)
				hostile_respond(&fz.m_h, id,
				    reqs[i].rw.operation, BLKIF_RSP_OKAY);
		}
		fz_publish();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	union xring_req reqs[FZ_RSP_REQS];
	unsigned int nbios, nreqs, sent;
	struct xbd_softc *sc;

	if (fz.m_dev == NULL)
		fz_up();
	sc = &fz.m_dev->xd_sc;
	nbios = fz_rsp_submit(fz.m_dev, &p, end, &sent);
	nreqs = fz_take(reqs, 0);
	for (; end - p >= FZ_RSP_STEP; p += FZ_RSP_STEP)
		if (fz_rsp_step(&fz.m_h, p, reqs, nreqs))
			fz_publish();
	fz_publish();
	fz_honest(reqs, nreqs);
	/* Every bio completes, exactly once (a second completion aborts). */
	if (!fz_rsp_all_done(nbios))
		fz_die(sc->xbd_state == XBD_STATE_ERROR ?
			"a bio never completed on a failed device" :
			"a bio never completed");
	fz_check_released();
	if (sc->xbd_state != XBD_STATE_CONNECTED &&
	    sc->xbd_state != XBD_STATE_ERROR)
		fz_die("device neither connected nor failed");
	if (sc->xbd_state != XBD_STATE_CONNECTED ||
	    fz.m_h.h_ring.xr_u.native.rsp_prod_pvt !=
		sc->xbd_rings[0].rq_ring.xr_ring.rsp_cons)
		fz_reconnect();
	return (0);
}
