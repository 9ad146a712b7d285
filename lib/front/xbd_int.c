/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Response processing: FreeBSD's xbd_int, with every check Linux added
 * after 2021 against a malicious backend.  Each response is copied out
 * of the ring once (lib/ring), its id must name a command of this ring
 * that is on the BUSY queue, its operation must be the one we sent, and
 * the producer index may not claim more responses than requests are
 * outstanding.  Any violation puts the device in the error state: its
 * I/O fails with EIO, its event channel stays masked (so a storming
 * backend costs nothing), and the process lives on.
 *
 * A response first moves its command from BUSY to COMPLETE; the second
 * pass ends the grants (atomically: a grant the backend still maps is
 * an error and its pages are never reused, XSA-396), copies bounced data
 * out, and finishes the bio part.
 */

#include <errno.h>
#include <string.h>

#include "xbd_internal.h"
#include "xbd_queue.h"

/* Put the device in the error state; all I/O fails from now on. */
void
xbd_set_error(struct xbd_softc *sc, const char *why)
{
	sc->xbd_stats.xst_protocol_errors++;
	if (sc->xbd_state == XBD_STATE_ERROR)
		return;
	xbd_log(sc, "%s: disabled for further use", why);
	sc->xbd_state = XBD_STATE_ERROR;
	xbd_fail_all(sc, -EIO);
	pthread_cond_broadcast(&sc->xbd_cv);
	xbd_wake(sc);
}

/* The errno a response status stands for. */
static int
xbd_rsp_errno(struct xbd_softc *sc, int16_t status)
{
	switch (status) {
	case BLKIF_RSP_OKAY:
		return (0);
	case BLKIF_RSP_EOPNOTSUPP:
		return (-EOPNOTSUPP);
	case BLKIF_RSP_ERROR:
		return (-EIO);
	default:
		/* Never success: an unknown status is a failed request. */
		sc->xbd_stats.xst_protocol_errors++;
		return (-EIO);
	}
}

/* Copy a read's data from its bounce pages to the caller's buffer. */
static void
xbd_bounce_out(struct xbd_softc *sc, struct xbd_command *cm)
{
	uint32_t left = cm->cm_datalen, chunk, i;
	char *dst = cm->cm_data;

	for (i = 0; i < cm->cm_nseg && left > 0; i++) {
		chunk = XU_MIN(left, XBD_PAGE_SIZE);
		memcpy(dst, xbd_bounce_page(sc, cm->cm_bounce[i]), chunk);
		dst += chunk;
		left -= chunk;
	}
	sc->xbd_stats.xst_bounce_bytes += cm->cm_datalen;
}

/* Finish one command whose response arrived. */
static void
xbd_cm_complete(struct xbd_softc *sc, struct xbd_command *cm)
{
	struct xbd_bio *bp;
	bool still_mapped = false;
	int error = cm->cm_status;
	uint32_t i;

	xbd_remove_cm(cm, XBD_Q_COMPLETE);
	for (i = 0; i < cm->cm_ngranted; i++) {
		if (plat_gnt_end(sc->xbd_plat, cm->cm_sg_refs[i]) == -EBUSY)
			still_mapped = true;
	}
	if (still_mapped) {
		/*
		 * The backend answered but kept a page mapped: it may still
		 * read or write it.  Retire the command for good: its refs
		 * and pages are never used again.
		 */
		sc->xbd_stats.xst_grant_busy++;
		cm->cm_flags |= XBDCF_RETIRED;
		if (error == 0)
			error = -EIO;
	} else {
		cm->cm_ngranted = 0;
	}

	if (error == -EOPNOTSUPP) {
		sc->xbd_stats.xst_eopnotsupp++;
		switch (cm->cm_operation) {
		case BLKIF_OP_FLUSH_DISKCACHE:
			xbd_log(sc,
			    "backend does not support cache flushes "
			    "after all: disabled");
			sc->xbd_flags &= ~XBDF_FLUSH;
			break;
		case BLKIF_OP_WRITE_BARRIER:
			xbd_log(sc,
			    "backend does not support barriers after "
			    "all: disabled");
			sc->xbd_flags &= ~XBDF_BARRIER;
			break;
		case BLKIF_OP_DISCARD:
			xbd_log(sc,
			    "backend does not support discard after "
			    "all: disabled");
			sc->xbd_flags &= ~(XBDF_DISCARD | XBDF_SECURE_DISCARD);
			break;
		default:
			/* A read or write is never "not supported". */
			error = -EIO;
			break;
		}
	}
	if (error == 0 && cm->cm_operation == BLKIF_OP_READ) {
		if ((cm->cm_flags & XBDCF_BOUNCE) != 0 && cm->cm_bp != NULL)
			xbd_bounce_out(sc, cm);
		sc->xbd_stats.xst_bytes_read += cm->cm_datalen;
	}

	xbd_cm_thaw(sc, cm);
	bp = cm->cm_bp;
	cm->cm_bp = NULL;
	if ((cm->cm_flags & XBDCF_RETIRED) == 0)
		xbd_free_command(cm);
	if (bp != NULL)
		xbd_bio_part_done(sc, bp, error);
	if (still_mapped)
		xbd_set_error(sc, "backend has not unmapped a grant");
}

static void
xbd_complete_all(struct xbd_softc *sc)
{
	struct xbd_command *cm;

	while (
	    (cm = TAILQ_FIRST(&sc->xbd_cm_q[XBD_Q_COMPLETE].q_tailq)) != NULL)
		xbd_cm_complete(sc, cm);
}

/*
 * Take one response and move its command to COMPLETE.
 * \return 0, or -EPROTO with why set when the backend lied.
 */
static int
xbd_take_response(struct xbd_softc *sc, struct xbd_ring *ring, const char **why)
{
	struct blkif_response rsp;
	struct xbd_command *cm;

	xring_front_take(&ring->rq_ring, &rsp);
	sc->xbd_stats.xst_responses++;
	if (rsp.id >= ring->rq_nslots) {
		*why = "response id out of range";
		return (-EPROTO);
	}
	cm = &ring->rq_shadow[rsp.id];
	if (xbd_cm_queue(cm) != XBD_Q_BUSY) {
		*why = "response for a request not in flight";
		return (-EPROTO);
	}
	if (rsp.operation != cm->cm_operation &&
	    !(cm->cm_indirect && rsp.operation == BLKIF_OP_INDIRECT)) {
		*why = "response with the wrong operation";
		return (-EPROTO);
	}
	cm->cm_status = xbd_rsp_errno(sc, rsp.status);
	xbd_remove_cm(cm, XBD_Q_BUSY);
	ring->rq_busy--;
	xbd_enqueue_cm(cm, XBD_Q_COMPLETE);
	return (0);
}

/*
 * Consume every response of a ring, finish the commands, restart
 * dispatch.  Called by the event thread with the lock held.
 */
void
xbd_int(struct xbd_softc *sc, struct xbd_ring *ring)
{
	const char *why = NULL;
	int n;

	if (sc->xbd_state != XBD_STATE_CONNECTED &&
	    sc->xbd_state != XBD_STATE_SUSPENDED &&
	    sc->xbd_state != XBD_STATE_GONE)
		return;
	for (;;) {
		if ((n = xring_front_poll(&ring->rq_ring)) < 0) {
			why = "response producer index overflow";
			break;
		}
		while (n-- > 0 && why == NULL)
			(void)xbd_take_response(sc, ring, &why);
		if (why != NULL)
			break;
		/* Re-arm the event, then look once more before sleeping. */
		if ((n = xring_front_final_check(&ring->rq_ring)) <= 0) {
			if (n < 0)
				why = "response producer index overflow";
			break;
		}
	}
	/* What the backend answered properly finishes normally. */
	xbd_complete_all(sc);
	if (why != NULL) {
		xbd_set_error(sc, why);
		return;
	}
	if (xbd_queue_length(sc, XBD_Q_BUSY) == 0) {
		if ((sc->xbd_flags & XBDF_WAIT_IDLE) != 0)
			xbd_thaw(sc, XBDF_WAIT_IDLE);
		/* xbd_suspend and the closing path wait for idle. */
		pthread_cond_broadcast(&sc->xbd_cv);
	}
	xbd_startio(sc);
}
