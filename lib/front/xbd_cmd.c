/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Command processing: the counted queue freeze, turning bios into
 * commands (split at the negotiated maximum), building ring requests in
 * private memory and copying them onto the ring, and xbd_startio, the
 * dispatch loop.  The structure is FreeBSD's xbd_startio /
 * xbd_bio_command / xbd_queue_cb; the grant handling is per page through
 * the platform, and requests are built privately first (Linux's fix for
 * a backend rewriting slots before the frontend copies them back).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "xbd_internal.h"
#include "xbd_queue.h"

/* ---------------------------------------------------------------------
 * Freeze and thaw
 */

/*
 * Halt dispatch for a reason.  Each named reason counts at most once;
 * XBDF_NONE is a per-command freeze and stacks.
 */
void
xbd_freeze(struct xbd_softc *sc, enum xbd_flag xbd_flag)
{
	if (xbd_flag != XBDF_NONE && (sc->xbd_flags & xbd_flag) != 0)
		return;
	sc->xbd_flags |= xbd_flag;
	sc->xbd_qfrozen_cnt++;
	switch (xbd_flag) {
	case XBDF_CM_SHORTAGE:
		sc->xbd_stats.xst_cm_shortage++;
		break;
	case XBDF_GNT_SHORTAGE:
		sc->xbd_stats.xst_gnt_shortage++;
		break;
	case XBDF_WAIT_IDLE:
		sc->xbd_stats.xst_wait_idle++;
		break;
	default:
		break;
	}
}

void
xbd_thaw(struct xbd_softc *sc, enum xbd_flag xbd_flag)
{
	if (xbd_flag != XBDF_NONE && (sc->xbd_flags & xbd_flag) == 0)
		return;
	XU_ASSERT(sc->xbd_qfrozen_cnt > 0,
	    ("thaw with flag 0x%x while not frozen", xbd_flag));
	sc->xbd_flags &= ~xbd_flag;
	sc->xbd_qfrozen_cnt--;
}

/* A command holds at most one count of the freeze. */
void
xbd_cm_freeze(struct xbd_softc *sc, struct xbd_command *cm,
    enum xbdc_flag cm_flag)
{
	if ((cm->cm_flags & XBDCF_FROZEN) != 0)
		return;
	cm->cm_flags |= XBDCF_FROZEN | cm_flag;
	xbd_freeze(sc, XBDF_NONE);
}

void
xbd_cm_thaw(struct xbd_softc *sc, struct xbd_command *cm)
{
	if ((cm->cm_flags & XBDCF_FROZEN) == 0)
		return;
	cm->cm_flags &= ~XBDCF_FROZEN;
	xbd_thaw(sc, XBDF_NONE);
}

/* ---------------------------------------------------------------------
 * Completion of bios
 */

/* Wake the event thread (completions to run, a thaw to do). */
void
xbd_wake(struct xbd_softc *sc)
{
	uint64_t one = 1;
	ssize_t n;

	if (sc->xbd_wakefd < 0)
		return;
	/* A full counter (EAGAIN) leaves the thread woken all the same. */
	n = write(sc->xbd_wakefd, &one, sizeof(one));
	(void)n;
}

/*
 * A bio is finished: queue its callback for the event thread, which runs
 * it without locks held.
 */
void
xbd_bio_done(struct xbd_softc *sc, struct xbd_bio *bp, int error)
{
	struct xbd_bio_pvt *pvt = xbd_bio_pvt(bp);
	bool was_empty = TAILQ_EMPTY(&sc->xbd_done);

	pvt->pv_error = error;
	if (error != 0)
		sc->xbd_stats.xst_errors++;
	TAILQ_INSERT_TAIL(&sc->xbd_done, pvt, pv_link);
	if (was_empty &&
	    (!sc->xbd_thread_running ||
		!pthread_equal(pthread_self(), sc->xbd_thread)))
		xbd_wake(sc);
}

/*
 * One part of bp finished with error.  After a failure nothing more of
 * the bio is dispatched; it completes, with its first error, once no part
 * is in flight.
 */
void
xbd_bio_part_done(struct xbd_softc *sc, struct xbd_bio *bp, int error)
{
	struct xbd_bio_pvt *pvt = xbd_bio_pvt(bp);
	uint64_t end =
	    bp->bio_cmd == XBD_CMD_READ || bp->bio_cmd == XBD_CMD_WRITE ?
	    bp->bio_length :
	    1;

	XU_ASSERT(pvt->pv_parts > 0, ("part done without parts"));
	pvt->pv_parts--;
	if (error != 0 && pvt->pv_error == 0)
		pvt->pv_error = error;
	if (error != 0 && pvt->pv_next < end) {
		/* Still queued for its next part: take it off. */
		TAILQ_REMOVE(&sc->xbd_bioq, pvt, pv_link);
		sc->xbd_cm_q[XBD_Q_BIO].q_length--;
		pvt->pv_next = end;
	}
	if (pvt->pv_parts == 0 && pvt->pv_next >= end)
		xbd_bio_done(sc, bp, pvt->pv_error);
}

/* ---------------------------------------------------------------------
 * Commands
 */

/* Return a finished command to the free queue with its resources. */
void
xbd_free_command(struct xbd_command *cm)
{
	struct xbd_softc *sc = cm->cm_sc;

	XU_ASSERT(xbd_cm_queue(cm) == XBD_Q_NONE,
	    ("freeing command %p still on queue %d", (void *)cm,
		xbd_cm_queue(cm)));
	XU_ASSERT(cm->cm_ngranted == 0, ("freeing command with grants"));
	if (cm->cm_nrefs > 0) {
		plat_gnt_release(sc->xbd_plat, cm->cm_nrefs, cm->cm_sg_refs);
		cm->cm_nrefs = 0;
	}
	xbd_bounce_put(sc, cm);
	cm->cm_bp = NULL;
	cm->cm_data = NULL;
	cm->cm_datalen = 0;
	cm->cm_nseg = 0;
	cm->cm_status = 0;
	cm->cm_indirect = false;
	cm->cm_discard_flag = 0;
	cm->cm_flags = XBDCF_INITIALIZER;
	xbd_enqueue_cm(cm, XBD_Q_FREE);
	if ((sc->xbd_flags & XBDF_CM_SHORTAGE) != 0)
		xbd_thaw(sc, XBDF_CM_SHORTAGE);
}

/* The platform has grant references again: let the thread retry. */
static void
xbd_restart_queue_callback(void *arg)
{
	struct xbd_softc *sc = arg;

	/* Possibly on a thread holding xbd_io_lock: defer the thaw. */
	sc->xbd_gnt_cb_pending = false;
	xbd_wake(sc);
}

/* Segments a part of len bytes at buf needs. */
static uint32_t
xbd_part_segs(const void *buf, uint32_t len, bool bounce)
{
	uintptr_t off = bounce ? 0 : (uintptr_t)buf & (XBD_PAGE_SIZE - 1);

	return ((uint32_t)((off + len + XBD_PAGE_SIZE - 1) / XBD_PAGE_SIZE));
}

/*
 * Reserve what the command's part needs: bounce pages and grant
 * references.  On a shortage, freeze for GNT_SHORTAGE and return -ENOSPC
 * with nothing held.
 */
static int
xbd_cm_reserve(struct xbd_softc *sc, struct xbd_command *cm, bool bounce)
{
	int rc;

	if (cm->cm_datalen == 0)
		return (0);
	cm->cm_nseg = xbd_part_segs(cm->cm_data, cm->cm_datalen, bounce);
	if (bounce) {
		cm->cm_flags |= XBDCF_BOUNCE;
		if (xbd_bounce_get(sc, cm, cm->cm_nseg) != 0) {
			xbd_freeze(sc, XBDF_GNT_SHORTAGE);
			return (-ENOSPC);
		}
	}
	/* Persistent grants: the bounce pages carry their own refs. */
	if ((sc->xbd_flags & XBDF_PERSISTENT) != 0)
		return (0);
	rc = plat_gnt_reserve(sc->xbd_plat, cm->cm_nseg, cm->cm_sg_refs);
	if (rc == 0) {
		cm->cm_nrefs = cm->cm_nseg;
		return (0);
	}
	xbd_bounce_put(sc, cm);
	if (!sc->xbd_gnt_cb_pending &&
	    plat_gnt_request_free_callback(sc->xbd_plat, cm->cm_nseg,
		xbd_restart_queue_callback, sc) == 0)
		sc->xbd_gnt_cb_pending = true;
	xbd_freeze(sc, XBDF_GNT_SHORTAGE);
	return (-ENOSPC);
}

/*
 * The next bio to build a command from, or NULL.  A feature may have been
 * withdrawn (EOPNOTSUPP) after the bio was accepted: FreeBSD panics
 * here, we fail the bio.
 */
static struct xbd_bio *
xbd_next_bio(struct xbd_softc *sc)
{
	struct xbd_bio *bp;

	while ((bp = xbd_dequeue_bio(sc)) != NULL) {
		if ((bp->bio_cmd == XBD_CMD_FLUSH &&
			(sc->xbd_flags & (XBDF_FLUSH | XBDF_BARRIER)) == 0) ||
		    (bp->bio_cmd == XBD_CMD_DISCARD &&
			(sc->xbd_flags & XBDF_DISCARD) == 0)) {
			xbd_bio_pvt(bp)->pv_next = 1;
			xbd_bio_done(sc, bp, -EOPNOTSUPP);
			continue;
		}
		break;
	}
	return (bp);
}

/*
 * Point cm at the bio's next part (a whole flush or discard, or as much
 * of a read or write as one request carries).  Returns whether the part
 * goes through bounce pages.
 */
static bool
xbd_cm_part(struct xbd_softc *sc, struct xbd_command *cm, struct xbd_bio *bp)
{
	struct xbd_bio_pvt *pvt = xbd_bio_pvt(bp);
	uint64_t len, max;
	bool data;

	data = bp->bio_cmd == XBD_CMD_READ || bp->bio_cmd == XBD_CMD_WRITE;
	max = sc->xbd_max_request_size;
	/*
	 * An indirect request only carries reads and writes: a barrier
	 * write has to fit a direct request.
	 */
	if ((bp->bio_flags & XBD_BIO_ORDERED) != 0 &&
	    (sc->xbd_flags & XBDF_BARRIER) != 0)
		max = XU_MIN(max,
		    XBD_SEGS_TO_SIZE(BLKIF_MAX_SEGMENTS_PER_REQUEST));
	len = data ? XU_MIN(bp->bio_length - pvt->pv_next, max) : 0;
	cm->cm_bp = bp;
	cm->cm_bio_off = data ? pvt->pv_next : 0;
	cm->cm_data = data ? (char *)bp->bio_data + pvt->pv_next : NULL;
	cm->cm_datalen = (uint32_t)len;
	cm->cm_sector_number =
	    (bp->bio_offset + cm->cm_bio_off) >> XBD_SECTOR_SHIFT;
	/*
	 * With persistent grants, data outside the zero-copy region has no
	 * persistent reference of its own: it goes through the pool.
	 */
	return ((sc->xbd_flags & XBDF_BOUNCE) != 0 ||
	    !xbd_is_zc(sc, cm->cm_data, len) ||
	    ((sc->xbd_flags & XBDF_PERSISTENT) != 0 && len != 0 &&
		!xbd_zc_persistent(sc)));
}

/*
 * Back to the free queue as xbd_free_command leaves a command: a flush
 * or discard taking it next sets no segment count of its own and would
 * send this one's.
 */
static void
xbd_cm_unpart(struct xbd_command *cm)
{
	cm->cm_bp = NULL;
	cm->cm_data = NULL;
	cm->cm_datalen = 0;
	cm->cm_nseg = 0;
	cm->cm_flags = XBDCF_INITIALIZER;
	xbd_enqueue_cm(cm, XBD_Q_FREE);
}

/*
 * The blkif operation of cm's bio.  Returns false when an ordered write
 * without barriers has to wait for the ring to go idle (the command then
 * waits on READY).
 */
static bool
xbd_cm_operation(struct xbd_softc *sc, struct xbd_command *cm,
    struct xbd_bio *bp)
{
	switch (bp->bio_cmd) {
	case XBD_CMD_READ:
		cm->cm_operation = BLKIF_OP_READ;
		break;
	case XBD_CMD_WRITE:
		cm->cm_operation = BLKIF_OP_WRITE;
		if ((bp->bio_flags & XBD_BIO_ORDERED) == 0)
			break;
		if ((sc->xbd_flags & XBDF_BARRIER) != 0) {
			cm->cm_operation = BLKIF_OP_WRITE_BARRIER;
			break;
		}
		/*
		 * No barriers: make the write a full fence.  Wait until
		 * everything in flight is done, dispatch it alone, and hold
		 * the queue until it completes.
		 */
		cm->cm_flags |= XBDCF_Q_FREEZE;
		sc->xbd_stats.xst_single_step++;
		if (xbd_queue_length(sc, XBD_Q_BUSY) != 0) {
			xbd_freeze(sc, XBDF_WAIT_IDLE);
			xbd_requeue_cm(cm, XBD_Q_READY);
			return (false);
		}
		break;
	case XBD_CMD_FLUSH:
		if ((sc->xbd_flags & XBDF_FLUSH) != 0)
			cm->cm_operation = BLKIF_OP_FLUSH_DISKCACHE;
		else
			cm->cm_operation = BLKIF_OP_WRITE_BARRIER;
		break;
	case XBD_CMD_DISCARD:
		cm->cm_operation = BLKIF_OP_DISCARD;
		if ((bp->bio_flags & XBD_BIO_SECURE) != 0)
			cm->cm_discard_flag = BLKIF_DISCARD_SECURE;
		break;
	}
	return (true);
}

/*
 * Build the next command from the bio queue, FreeBSD's xbd_bio_command.
 * Returns NULL when there is no bio, no command (CM_SHORTAGE), no grant
 * or bounce room (GNT_SHORTAGE), or when an ordered write has to wait for
 * the ring to go idle (WAIT_IDLE; the command then waits on READY).
 */
static struct xbd_command *
xbd_bio_command(struct xbd_softc *sc)
{
	struct xbd_command *cm;
	struct xbd_bio_pvt *pvt;
	struct xbd_bio *bp;
	uint64_t end;

	if ((bp = xbd_next_bio(sc)) == NULL)
		return (NULL);
	pvt = xbd_bio_pvt(bp);
	if ((cm = xbd_dequeue_cm(sc, XBD_Q_FREE)) == NULL) {
		xbd_freeze(sc, XBDF_CM_SHORTAGE);
		xbd_requeue_bio(sc, bp);
		return (NULL);
	}
	if (xbd_cm_reserve(sc, cm, xbd_cm_part(sc, cm, bp)) != 0) {
		xbd_cm_unpart(cm);
		xbd_requeue_bio(sc, bp);
		return (NULL);
	}

	/* The part is committed: advance the bio and requeue the rest. */
	if (bp->bio_cmd == XBD_CMD_READ || bp->bio_cmd == XBD_CMD_WRITE) {
		end = bp->bio_length;
		pvt->pv_next += cm->cm_datalen;
	} else {
		end = 1;
		pvt->pv_next += 1;
	}
	pvt->pv_parts++;
	if (pvt->pv_next < end) {
		xbd_requeue_bio(sc, bp);
		sc->xbd_stats.xst_splits++;
	}
	return (xbd_cm_operation(sc, cm, bp) ? cm : NULL);
}

/* The address of data page i of a command. */
static void *
xbd_cm_page(struct xbd_softc *sc, struct xbd_command *cm, uint32_t i)
{
	uintptr_t base;

	if ((cm->cm_flags & XBDCF_BOUNCE) != 0)
		return (xbd_bounce_page(sc, cm->cm_bounce[i]));
	base = (uintptr_t)cm->cm_data & ~(uintptr_t)(XBD_PAGE_SIZE - 1);
	return ((void *)(base + (uintptr_t)i * XBD_PAGE_SIZE));
}

/*
 * Fill the segment array and grant the data pages.  Bounced data starts
 * at offset 0 of its first page; in-place data keeps its page offset.
 */
static int
xbd_mksegarray(struct xbd_softc *sc, struct xbd_command *cm,
    struct blkif_request_segment *segs)
{
	uint32_t off, left = cm->cm_datalen, chunk, i;
	bool bounce = (cm->cm_flags & XBDCF_BOUNCE) != 0;
	bool persistent = (sc->xbd_flags & XBDF_PERSISTENT) != 0;
	bool readonly;
	grant_ref_t wire;
	void *page;
	int rc;

	/* The backend only reads what a write carries: grant it read-only. */
	readonly = !persistent &&
	    (cm->cm_operation == BLKIF_OP_WRITE ||
		cm->cm_operation == BLKIF_OP_WRITE_BARRIER);
	off = bounce ? 0 :
		       (uint32_t)((uintptr_t)cm->cm_data & (XBD_PAGE_SIZE - 1));
	for (i = 0; i < cm->cm_nseg; i++) {
		chunk = XU_MIN(left, XBD_PAGE_SIZE - off);
		XU_ASSERT(chunk > 0 && (chunk & (XBD_SECTOR_SIZE - 1)) == 0 &&
			(off & (XBD_SECTOR_SIZE - 1)) == 0,
		    ("segment %u: off %u len %u", i, off, chunk));
		page = xbd_cm_page(sc, cm, i);
		if (persistent && bounce) {
			wire = sc->xbd_bounce_wire[cm->cm_bounce[i]];
		} else if (persistent) {
			wire = xbd_zc_wire(sc, page);
		} else {
			rc = plat_gnt_grant(sc->xbd_plat, cm->cm_sg_refs[i],
			    sc->xbd_otherend_id, page, readonly, &wire);
			if (rc != 0)
				return (rc);
			cm->cm_wire_refs[i] = wire;
			cm->cm_ngranted++;
			sc->xbd_stats.xst_grants++;
		}
		segs[i].gref = wire;
		segs[i].first_sect = (uint8_t)(off >> XBD_SECTOR_SHIFT);
		segs[i].last_sect =
		    (uint8_t)((off + chunk) / XBD_SECTOR_SIZE - 1);
		left -= chunk;
		off = 0;
	}
	XU_ASSERT(left == 0,
	    ("%u bytes left after %u segments", left, cm->cm_nseg));
	return (0);
}

/* Copy a write's data into its bounce pages, zeroing the slack. */
static void
xbd_bounce_in(struct xbd_softc *sc, struct xbd_command *cm)
{
	uint32_t left = cm->cm_datalen, chunk, i;
	const char *src = cm->cm_data;
	char *page;

	for (i = 0; i < cm->cm_nseg; i++) {
		chunk = XU_MIN(left, XBD_PAGE_SIZE);
		page = xbd_bounce_page(sc, cm->cm_bounce[i]);
		if (src != NULL)
			memcpy(page, src, chunk);
		/* Never show the backend stale bytes beyond the request. */
		if (chunk < XBD_PAGE_SIZE)
			memset(page + chunk, 0, XBD_PAGE_SIZE - chunk);
		if (src != NULL)
			src += chunk;
		left -= chunk;
	}
	sc->xbd_stats.xst_bounce_bytes += cm->cm_datalen;
}

/*
 * Put a command on its ring: FreeBSD's xbd_queue_request + xbd_queue_cb.
 * The request is built in private memory and copied onto the ring once.
 */
static int
xbd_queue_request(struct xbd_softc *sc, struct xbd_command *cm)
{
	union xring_req req;
	struct blkif_request_segment *segs;
	struct xbd_ring *ring = cm->cm_ring;
	uint32_t i, ipages;
	int rc;

	memset(&req, 0, sizeof(req));
	if (cm->cm_operation == BLKIF_OP_DISCARD) {
		req.discard.operation = BLKIF_OP_DISCARD;
		req.discard.flag = cm->cm_discard_flag;
		req.discard.handle = (blkif_vdev_t)sc->xbd_vdevice;
		req.discard.id = cm->cm_id;
		req.discard.sector_number = cm->cm_sector_number;
		req.discard.nr_sectors =
		    cm->cm_bp->bio_length >> XBD_SECTOR_SHIFT;
		goto queue;
	}
	if ((cm->cm_flags & XBDCF_BOUNCE) != 0 &&
	    cm->cm_operation != BLKIF_OP_READ)
		xbd_bounce_in(sc, cm);
	if (cm->cm_nseg <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		req.rw.operation = cm->cm_operation;
		req.rw.nr_segments = (uint8_t)cm->cm_nseg;
		req.rw.handle = (blkif_vdev_t)sc->xbd_vdevice;
		req.rw.id = cm->cm_id;
		req.rw.sector_number = cm->cm_sector_number;
		if ((rc = xbd_mksegarray(sc, cm, req.rw.seg)) != 0)
			return (rc);
	} else {
		/* Indirect: the segments go in the command's own pages. */
		XU_ASSERT(cm->cm_nseg <= sc->xbd_max_request_segments,
		    ("%u segments, max %u", cm->cm_nseg,
			sc->xbd_max_request_segments));
		segs = cm->cm_indirectionpages;
		/*
		 * The pages stay granted for the whole connection, so a
		 * shorter request would leave the tail of a longer one's
		 * descriptors readable after nr_segments: clear just that
		 * tail, not the whole pages.
		 */
		if (cm->cm_indirectsegs > cm->cm_nseg)
			memset(&segs[cm->cm_nseg], 0,
			    (size_t)(cm->cm_indirectsegs - cm->cm_nseg) *
				sizeof(*segs));
		cm->cm_indirectsegs = cm->cm_nseg;
		if ((rc = xbd_mksegarray(sc, cm, segs)) != 0)
			return (rc);
		cm->cm_indirect = true;
		ipages = XBD_INDIRECT_SEGS_TO_PAGES(cm->cm_nseg);
		req.indirect.operation = BLKIF_OP_INDIRECT;
		req.indirect.indirect_op = cm->cm_operation;
		req.indirect.nr_segments = (uint16_t)cm->cm_nseg;
		req.indirect.id = cm->cm_id;
		req.indirect.sector_number = cm->cm_sector_number;
		req.indirect.handle = (blkif_vdev_t)sc->xbd_vdevice;
		for (i = 0; i < ipages; i++)
			req.indirect.indirect_grefs[i] =
			    cm->cm_indirectionwire[i];
		sc->xbd_stats.xst_indirect++;
	}
	sc->xbd_stats.xst_segments += cm->cm_nseg;
queue:
	xring_front_put(&ring->rq_ring, &req.rw);
	xbd_enqueue_cm(cm, XBD_Q_BUSY);
	ring->rq_busy++;
	sc->xbd_stats.xst_requests[cm->cm_operation]++;
	if (cm->cm_operation == BLKIF_OP_WRITE ||
	    cm->cm_operation == BLKIF_OP_WRITE_BARRIER)
		sc->xbd_stats.xst_bytes_written += cm->cm_datalen;
	return (0);
}

/* Undo a command that could not be queued: end grants, fail its part. */
static void
xbd_queue_failed(struct xbd_softc *sc, struct xbd_command *cm, int error)
{
	struct xbd_bio *bp = cm->cm_bp;
	uint32_t i;

	for (i = 0; i < cm->cm_ngranted; i++)
		(void)plat_gnt_end(sc->xbd_plat, cm->cm_sg_refs[i]);
	cm->cm_ngranted = 0;
	xbd_cm_thaw(sc, cm);
	xbd_free_command(cm);
	xbd_bio_part_done(sc, bp, error);
}

/* Publish a ring's new requests and notify the backend if it asked. */
static void
xbd_flush_requests(struct xbd_softc *sc, struct xbd_ring *ring)
{
	if (xring_front_push(&ring->rq_ring)) {
		if (plat_evtchn_notify(sc->xbd_evtchn, ring->rq_port) == 0)
			sc->xbd_stats.xst_notify++;
	}
}

/*
 * Dispatch as much as the freeze count allows.  Called with the lock
 * held, from submit, from completions and after thaws.
 */
void
xbd_startio(struct xbd_softc *sc)
{
	uint32_t touched = 0, i;
	struct xbd_command *cm;
	int error;

	if (sc->xbd_state != XBD_STATE_CONNECTED)
		return;
	while (sc->xbd_qfrozen_cnt == 0) {
		/* Commands held back first, then new work. */
		if ((cm = xbd_dequeue_cm(sc, XBD_Q_READY)) == NULL)
			cm = xbd_bio_command(sc);
		if (cm == NULL)
			break;
		if ((cm->cm_flags & XBDCF_Q_FREEZE) != 0) {
			/* Single-step: nothing follows until it completes. */
			xbd_cm_freeze(sc, cm, XBDCF_Q_FREEZE);
		}
		if ((error = xbd_queue_request(sc, cm)) != 0) {
			xbd_log(sc, "xbd_queue_request returned %d", error);
			xbd_queue_failed(sc, cm, error);
			continue;
		}
		touched |= 1u << cm->cm_ring->rq_index;
	}
	for (i = 0; touched != 0; i++, touched >>= 1)
		if ((touched & 1) != 0)
			xbd_flush_requests(sc, &sc->xbd_rings[i]);
}

/*
 * Fail everything queued and, unless the backend may still touch them,
 * everything in flight (detach, error state, a backend that went away).
 */
void
xbd_fail_all(struct xbd_softc *sc, int error)
{
	struct xbd_command *cm;
	struct xbd_bio *bp;

	xbd_fail_all_queued(sc, error);
	/* Commands on BUSY keep their pages; only their bios complete. */
	TAILQ_FOREACH(cm, &sc->xbd_cm_q[XBD_Q_BUSY].q_tailq, cm_link) {
		if (cm->cm_bp == NULL)
			continue;
		bp = cm->cm_bp;
		cm->cm_bp = NULL;
		xbd_bio_part_done(sc, bp, error);
	}
}

/* Fail what is not on the ring yet; requests in flight go on. */
void
xbd_fail_all_queued(struct xbd_softc *sc, int error)
{
	struct xbd_command *cm;
	struct xbd_bio *bp;
	struct xbd_bio_pvt *pvt;

	while ((cm = xbd_dequeue_cm(sc, XBD_Q_READY)) != NULL)
		xbd_queue_failed(sc, cm, error);
	while ((bp = xbd_dequeue_bio(sc)) != NULL) {
		pvt = xbd_bio_pvt(bp);
		pvt->pv_next = UINT64_MAX;
		if (pvt->pv_error == 0)
			pvt->pv_error = error;
		if (pvt->pv_parts == 0)
			xbd_bio_done(sc, bp, pvt->pv_error);
	}
}
