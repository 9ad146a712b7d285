/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the frontend's XenBus state machine run on the fuzzer's
 * thread.  fuzz_xbus_front plays the same scripts end to end (a backend
 * thread, the frontend's event thread, connect timeouts); here the
 * harness is the backend and, after each write to the backend's state
 * node, calls what the event thread calls when that node's watch fires
 * (xbd_backend_changed, then the close and recovery checks of its loop).
 * Nothing waits, so an input costs a few XenStore round trips.
 *
 * One machine and one vbd are built on the first input and kept.  Each
 * input publishes the backend's nodes (defaults, removed, nasty values
 * or raw bytes) and its first state, creates a frontend with no event
 * thread (the first half of xbd_attach), plays a script of state
 * changes, node rewrites, read submissions and spurious watch events,
 * then closes the backend and detaches.  After every step the device
 * must be in a state it can be in, a failed negotiation must carry an
 * errno and a connected device must report a sane geometry; every read
 * accepted must complete exactly once by the end of the detach.
 *
 * Input: see fz_front.h (fuzz_xbus_front's seeds are valid here).  The
 * script's step 2 submits a read, which nobody answers until the
 * detach; step 3 fires the watch with no change.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_front.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_READS 4 /* reads submitted per input at most */

/* What the scripted backend of fuzz_xbus_front publishes by default. */
static const char *const fz_defaults[FZ_FRONT_NODES] = { "2048", "512", NULL,
	"0", "1", "1" };

static struct {
	struct fz_sim m_sim;	  /* the machine */
	struct xs_handle *m_bxs;  /* XenStore as domain 0 */
	char m_be[XBUS_PATH_MAX]; /* the backend directory */
} fz;

static _Alignas(4096) unsigned char fz_buf[FZ_READS][4096];
static struct xbd_bio fz_bio[FZ_READS];
static unsigned int fz_done[FZ_READS];

static void
fz_bio_done(struct xbd_bio *bp, int error)
{
	if (error > 0)
		fz_die("a read completed with a positive value");
	if (++fz_done[bp - fz_bio] > 1)
		fz_die("a read completed twice");
}

static void
fz_write(const char *node, const char *val)
{
	if (val == NULL)
		(void)xbus_rm(fz.m_bxs, XBT_NULL, fz.m_be, node);
	else
		(void)xbus_write(fz.m_bxs, XBT_NULL, fz.m_be, node, val);
}

/* Publish every node as the input says. */
static void
fz_nodes_pick(const uint8_t **p, const uint8_t *end)
{
	const char *vals[FZ_FRONT_NODES];
	bool keep[FZ_FRONT_NODES];
	size_t i;

	fz_front_pick(p, end, vals, keep);
	for (i = 0; i < FZ_FRONT_NODES; i++)
		fz_write(fz_front_nodes[i], keep[i] ? fz_defaults[i] : vals[i]);
}

/* The device is in a state it can be in, and a connected one is sane. */
static void
fz_check(struct xbd_softc *sc)
{
	if (sc->xbd_attach_error > 0)
		fz_die("a negotiation failed with a positive value");
	switch (sc->xbd_state) {
	case XBD_STATE_DISCONNECTED:
	case XBD_STATE_ERROR:
	case XBD_STATE_GONE:
	case XBD_STATE_RECOVERING:
		return;
	case XBD_STATE_CONNECTED:
		fz_front_check_info((struct xbd_dev *)sc);
		return;
	default:
		fz_die("a state the device cannot be in");
	}
}

/* The backend's state watch fired: what the event thread does. */
static void
fz_changed(struct xbd_softc *sc)
{
	xbd_backend_changed(sc);
	xbd_closing_finish(sc);
	xbd_recovery_check(sc);
	fz_check(sc);
}

/* Submit a read nobody answers before the detach. */
static void
fz_read(struct xbd_softc *sc, unsigned int *nreads)
{
	struct xbd_bio *bp;
	int rc;

	if (*nreads == FZ_READS)
		return;
	bp = &fz_bio[*nreads];
	memset(bp, 0, sizeof(*bp));
	bp->bio_cmd = XBD_CMD_READ;
	bp->bio_length = sizeof(fz_buf[0]);
	bp->bio_data = fz_buf[*nreads];
	bp->bio_done = fz_bio_done;
	fz_done[*nreads] = 0;
	if ((rc = xbd_submit((struct xbd_dev *)sc, bp)) > 0)
		fz_die("a submit returned a positive value");
	if (rc != 0)
		fz_done[*nreads] = 1; /* refused up front: never called */
	(*nreads)++;
}

static void
fz_script(struct xbd_softc *sc, const uint8_t *p, const uint8_t *end,
    unsigned int *nreads)
{
	const char *node, *val;

	for (; end - p >= 2; p += 2) {
		switch (p[0] % 4) {
		case 0:
			fz_write("state", fz_front_state(p[1]));
			fz_changed(sc);
			break;
		case 1:
			/* Only the state node is watched. */
			val = fz_front_nasty(p[1], &node);
			fz_write(node, val);
			break;
		case 2:
			fz_read(sc, nreads);
			break;
		default:
			fz_changed(sc);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct xbd_softc *sc;
	unsigned int nreads = 0, i;
	struct xbd_opts o;
	uint8_t flags;

	if (fz.m_bxs == NULL)
		fz_sim_vbd(&fz.m_sim, &fz.m_bxs, fz.m_be, sizeof(fz.m_be));
	flags = fz_front_byte(&p, end);
	fz_nodes_pick(&p, end);
	fz_write("state", (flags & 1) != 0 ? "4" : "2");
	xbd_opts_init(&o);
	o.o_recovery_timeout_ms = 0;
	o.o_max_queues = 2;
	/* The pool is zeroed at every connect; no read is ever served. */
	o.o_bounce_pages = 16;
	if (xbd_create(fz.m_sim.s_xp, "xvda", &o, &sc) != 0)
		fz_die("no device");
	/* The watch fires once when it is set. */
	fz_changed(sc);
	fz_script(sc, p, end, &nreads);
	/* A backend gone Closed: the detach does not wait for it. */
	fz_write("state", "6");
	xbd_detach((struct xbd_dev *)sc);
	for (i = 0; i < nreads; i++)
		if (fz_done[i] != 1)
			fz_die("a read never completed");
	return (0);
}
