/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the frontend's response consumer (xbd_int) against a
 * backend that writes whatever it likes into the response ring.  One
 * machine is built on the first input and kept: a simulated hypervisor,
 * the scripted backend of the tests (paused, so this file drives its
 * ring), and a frontend attached to it.  Each input submits a few bios,
 * takes their requests off the ring, then plays a script of responses:
 * answers to real requests (right or wrong operation, any status), raw
 * ids, producer moves and publishes.  Afterwards every request the
 * frontend still waits for is answered honestly.  Whatever the bytes, every bio
 * must complete exactly once and within seconds, and the device must be
 * connected or in the error state; a violation aborts.  A device left
 * in the error state or out of step is replaced by a fresh attachment.
 *
 * Input: see fz_rsp.h.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front/xbd_queue.h"
#include "fz_rsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct fz_sim m_sim;   /* the machine */
	struct hostile m_h;    /* the backend */
	struct xbd_dev *m_dev; /* the attached frontend */
} fz;

/* A fresh vbd, backend and attached frontend; the backend paused. */
static void
fz_up(void)
{
	struct xbd_opts o;

	fz_sim_hostile(&fz.m_sim, &fz.m_h);
	fz.m_h.h_nodes[0].n_name = "feature-discard";
	fz.m_h.h_nodes[0].n_value = "1";
	xbd_opts_init(&o);
	o.o_max_ring_pages = 1;
	o.o_recovery_timeout_ms = 0;
	if (hostile_start(&fz.m_h, fz.m_sim.s_priv) != 0 ||
	    xbd_attach(fz.m_sim.s_xp, "xvda", &o, &fz.m_dev) != 0)
		fz_die("no attachment");
	hostile_pause(&fz.m_h, true);
}

/* Detach and stop the backend; the machine stays. */
static void
fz_down(void)
{
	hostile_pause(&fz.m_h, false);
	xbd_detach(fz.m_dev);
	fz.m_dev = NULL;
	hostile_stop(&fz.m_h);
}

/* The frontend's consumer index, read under its lock. */
static RING_IDX
fz_rsp_cons(void)
{
	struct xbd_softc *sc = &fz.m_dev->xd_sc;
	RING_IDX c;

	XBD_LOCK(sc);
	c = sc->xbd_rings[0].rq_ring.xr_ring.rsp_cons;
	XBD_UNLOCK(sc);
	return (c);
}

static int
fz_state(void)
{
	struct xbd_info info;

	xbd_get_info(fz.m_dev, &info);
	return (info.xi_state);
}

/* Does the frontend still wait for an answer to request id? */
static bool
fz_busy(uint64_t id)
{
	struct xbd_softc *sc = &fz.m_dev->xd_sc;
	struct xbd_ring *ring = &sc->xbd_rings[0];
	bool busy;

	XBD_LOCK(sc);
	busy = id < ring->rq_nslots &&
	    xbd_cm_queue(&ring->rq_shadow[id]) == XBD_Q_BUSY;
	XBD_UNLOCK(sc);
	return (busy);
}

/* Publish and notify; wait until the frontend consumed or failed. */
static void
fz_publish(void)
{
	RING_IDX prod;
	uint64_t t0 = fz_now_ms();

	hostile_push(&fz.m_h);
	prod = fz.m_h.h_ring.xr_u.native.rsp_prod_pvt;
	while (fz_state() != XBD_STATE_ERROR &&
	    (RING_IDX)(prod - fz_rsp_cons()) <= 32 && fz_rsp_cons() != prod &&
	    fz_now_ms() - t0 < 200)
		usleep(50);
}

/* Take the requests the frontend put on the ring; return how many. */
static unsigned int
fz_take(union xring_req *reqs, unsigned int max, unsigned int expect)
{
	uint64_t t0 = fz_now_ms();
	unsigned int n = 0;
	int k;

	while (n < expect && fz_now_ms() - t0 < 2000) {
		if ((k = xring_back_poll(&fz.m_h.h_ring)) <= 0) {
			usleep(20);
			continue;
		}
		while (k-- > 0 && n < max)
			xring_back_take(&fz.m_h.h_ring, &reqs[n++]);
	}
	return (n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	union xring_req reqs[FZ_RSP_REQS];
	unsigned int nbios, nreqs, sent, i;
	uint64_t t0;
	bool all;

	if (fz.m_dev == NULL)
		fz_up();
	nbios = fz_rsp_submit(fz.m_dev, &p, end, &sent);
	nreqs = fz_take(reqs, FZ_RSP_REQS, sent);
	for (; end - p >= FZ_RSP_STEP; p += FZ_RSP_STEP)
		if (fz_rsp_step(&fz.m_h, p, reqs, nreqs))
			fz_publish();
	fz_publish();
	/*
	 * Whatever the frontend still waits for is answered properly, from
	 * where it stands: a producer moved back and forth may have hidden
	 * answers the script wrote, so those count as never sent.
	 */
	if (fz_state() != XBD_STATE_ERROR) {
		fz.m_h.h_ring.xr_u.native.rsp_prod_pvt = fz_rsp_cons();
		for (i = 0; i < nreqs; i++)
			if (fz_busy(reqs[i].rw.id))
				hostile_respond(&fz.m_h, reqs[i].rw.id,
				    reqs[i].rw.operation, BLKIF_RSP_OKAY);
	}
	fz_publish();
	/* Every bio completes, exactly once (a second completion aborts). */
	t0 = fz_now_ms();
	while (!(all = fz_rsp_all_done(nbios)) && fz_now_ms() - t0 < 5000)
		usleep(50);
	/* Answered or failed: a bio left waiting is lost. */
	if (!all)
		fz_die(fz_state() == XBD_STATE_ERROR ?
			"a bio never completed on a failed device" :
			"a bio never completed");
	if (fz_state() != XBD_STATE_CONNECTED ||
	    fz.m_h.h_ring.xr_u.native.rsp_prod_pvt != fz_rsp_cons())
		fz_down();
	return (0);
}
