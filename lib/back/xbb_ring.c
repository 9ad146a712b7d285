/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One ring and its I/O thread: request intake, dispatch to storage,
 * completion and responses.
 *
 * The loop costs one system call per turn when it is busy: requests are
 * taken from the shared ring (copied, validated), their grants mapped,
 * their reads and writes prepared as io_uring entries; then a single
 * io_uring_submit_and_wait() submits everything and sleeps until a
 * completion or a notification arrives, because the event channel's fd
 * is an io_uring poll too.  Responses are pushed once per turn and the
 * frontend notified only when the ring's hold-off asks for it; before
 * sleeping the thread re-arms the request event and looks again (the
 * final check), so no request is ever left unseen.
 *
 * Per request: FLUSH_DISKCACHE is fdatasync; with data it is fdatasync,
 * write, fdatasync.  WRITE_BARRIER stops intake, waits until every
 * earlier request has been answered, then does the same, so nothing
 * taken after it reaches storage before it (reliability.md 5.3).  A
 * failed sync, or a write that failed for another reason than a lack
 * of space, marks the device failed; from then on writes, discards,
 * flushes and barriers are answered ERROR, and a flush that completes
 * after the failure is ERROR too, never OKAY (fsyncgate).
 * Short transfers are resubmitted for the remainder; a transfer that
 * makes no progress is an I/O error, never silently truncated.  With
 * o_log_writes, every completed write, discard and sync is appended to
 * the write log here, as its completion is reaped and before anything
 * is answered (xbb_wlog.c).
 *
 * The event channel is acknowledged late (common/xu_eoi.h): the port
 * stays masked from its event until the intake after it has looked at
 * the ring, and an event that found no request is spurious; after a few
 * in a row the unmask waits for an io_uring timeout, so a frontend
 * notifying in a loop (XSA-332) costs a few wake-ups per second instead
 * of one per notification.
 *
 * Work per wake-up is bounded (XBB_INTAKE_BATCH requests, a bounded
 * number of event-channel ports), the number of requests in flight is
 * bounded by the ring's slots, and nothing is allocated here: request
 * slots, segment arrays, bounce pages and the io_uring are sized at
 * connect.  A shortage (bounce pages, io_uring room) parks the request
 * on the WAIT queue in arrival order and is counted.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xbb_internal.h"

/* io_uring tags that are not requests (requests are aligned pointers). */
#define XBB_TAG_EVTCHN 1u
#define XBB_TAG_KICK 2u
#define XBB_TAG_EOI 3u
#define XBB_TAG_SQ_POLL 4u /* a storage kind's fd */
#define XBB_TAG_SQ_RM 5u   /* the removal of that poll */
#define XBB_TAG_SQ_TICK 6u /* a storage kind's tick */
/* io_uring entries a storage kind's queue may hold: the three above. */
#define XBB_URING_SQ_SPARE 3
/* A storage kind's tick: its timeouts are whole seconds. */
#define XBB_SQ_TICK_MS 250
/* Ports taken from the event channel per wake-up (storm bound). */
#define XBB_EVTCHN_BATCH 64

static void xbb_req_issue(struct xbb_ring *r, struct xbb_req *req);
static void xbb_req_data_done(struct xbb_ring *r, struct xbb_req *req, int res);
static void xbb_req_start(struct xbb_ring *r, struct xbb_req *req);
static void xbb_ring_done(void *arg, uint64_t tag, int res);

/* ---------------------------------------------------------------------
 * Queues
 */

static void
xbb_rq_put(struct xbb_ring *r, struct xbb_req *req, enum xbb_rq q, bool head)
{
	XU_ASSERT(req->br_q == XBB_RQ_NONE,
	    ("request already on queue %d", (int)req->br_q));
	if (head)
		TAILQ_INSERT_HEAD(&r->rg_q[q], req, br_link);
	else
		TAILQ_INSERT_TAIL(&r->rg_q[q], req, br_link);
	req->br_q = q;
	r->rg_qlen[q]++;
}

static void
xbb_rq_remove(struct xbb_ring *r, struct xbb_req *req)
{
	XU_ASSERT(req->br_q < XBB_RQ_COUNT, ("request on no queue"));
	XU_ASSERT(r->rg_qlen[req->br_q] > 0,
	    ("queue %d empty", (int)req->br_q));
	TAILQ_REMOVE(&r->rg_q[req->br_q], req, br_link);
	r->rg_qlen[req->br_q]--;
	req->br_q = XBB_RQ_NONE;
}

/* ---------------------------------------------------------------------
 * Answering
 */

static struct xbb_dev *
xbb_ring_dev(const struct xbb_ring *r)
{
	return (r->rg_dev);
}

static bool
xbb_dev_failed(const struct xbb_ring *r)
{
	return (atomic_load_explicit(&xbb_ring_dev(r)->xb_failed,
	    memory_order_acquire));
}

/*
 * Fail the device for good (fsyncgate), saying why once: what failed,
 * where, and the errno, in the log and the statistics.
 */
static void
xbb_dev_fail(struct xbb_ring *r, const struct xbb_req *req, int err)
{
	struct xbb_dev *dev = xbb_ring_dev(r);
	int none = 0;

	if (atomic_compare_exchange_strong(&dev->xb_fail_errno, &none, -err))
		xbb_log(dev->xb_bk,
		    "vbd %u/%u: %s at sector %llu: %s; the device is failed: "
		    "writes, discards and flushes fail until it is removed",
		    dev->xb_feid, dev->xb_vdev,
		    req->br_stage == XBB_ST_DATA ? "write" : "flush",
		    (unsigned long long)req->br_info.ri_sector, strerror(-err));
	atomic_store_explicit(&dev->xb_failed, true, memory_order_release);
}

/*
 * A write the file system refused for lack of space (ENOSPC, EDQUOT)
 * left nothing behind that a later sync could lose: blocks are reserved
 * before data is copied in, and O_DIRECT bypasses the page cache, so no
 * dirty page of it waits for writeback.  That write fails alone and
 * later ones succeed once space is back; the first of a run is logged.
 * A failed sync still fails the device (its pages may be gone).
 */
static bool
xbb_write_nospace(struct xbb_ring *r, const struct xbb_req *req, int res)
{
	struct xbb_dev *dev = xbb_ring_dev(r);

	if (res != -ENOSPC && res != -EDQUOT)
		return (false);
	xbb_ctr_add(&r->rg_ctrs, XBB_C_ERR_NOSPACE, 1);
	if (!atomic_exchange(&dev->xb_nospace, true))
		xbb_log(dev->xb_bk, "vbd %u/%u: write at sector %llu: %s",
		    dev->xb_feid, dev->xb_vdev,
		    (unsigned long long)req->br_info.ri_sector, strerror(-res));
	return (true);
}

/* A write completed: a run of ENOSPC is over. */
static void
xbb_write_space_back(struct xbb_ring *r)
{
	struct xbb_dev *dev = xbb_ring_dev(r);

	if (atomic_load_explicit(&dev->xb_nospace, memory_order_relaxed) &&
	    atomic_exchange(&dev->xb_nospace, false))
		xbb_log(dev->xb_bk, "vbd %u/%u: writes succeed again",
		    dev->xb_feid, dev->xb_vdev);
}

/* The write log, when o_log_writes turned it on; else NULL. */
static struct xbb_wlog *
xbb_ring_wlog(const struct xbb_ring *r)
{
	struct xbb_wlog *wl = &xbb_ring_dev(r)->xb_bk->bk_wlog;

	return (xbb_wlog_on(wl) ? wl : NULL);
}

static bool
xbb_req_syncs(const struct xbb_req *req)
{
	return (req->br_info.ri_op == BLKIF_OP_FLUSH_DISKCACHE ||
	    req->br_info.ri_op == BLKIF_OP_WRITE_BARRIER);
}

/* Queue the response, free the request, and let a waiting barrier go. */
static void
xbb_req_finish(struct xbb_ring *r, struct xbb_req *req)
{
	static const enum xbb_ctr cause_ctr[] = {
		[XBB_CAUSE_BAD] = XBB_C_ERR_BAD_REQUEST,
		[XBB_CAUSE_RO] = XBB_C_ERR_READONLY,
		[XBB_CAUSE_GRANT] = XBB_C_ERR_GRANT,
		[XBB_CAUSE_IO] = XBB_C_ERR_IO,
		[XBB_CAUSE_FAILED] = XBB_C_ERR_FAILED,
		[XBB_CAUSE_NOTSUPP] = XBB_C_ERR_EOPNOTSUPP,
	};
	struct xbb_req *bar;
	RING_IDX rsp;
	int16_t status;

	XU_ASSERT(req->br_q == XBB_RQ_NONE, ("finishing a queued request"));
	/* A flush must never succeed once the device has failed. */
	if (req->br_cause == XBB_CAUSE_NONE && xbb_req_syncs(req) &&
	    xbb_dev_failed(r))
		req->br_cause = XBB_CAUSE_FAILED;
	xbb_grant_release(r, req);
	switch (req->br_cause) {
	case XBB_CAUSE_NONE:
		status = BLKIF_RSP_OKAY;
		xbb_ctr_add(&r->rg_ctrs, XBB_C_RSP_OKAY, 1);
		break;
	case XBB_CAUSE_NOTSUPP:
		status = BLKIF_RSP_EOPNOTSUPP;
		xbb_ctr_add(&r->rg_ctrs, XBB_C_RSP_EOPNOTSUPP, 1);
		xbb_ctr_add(&r->rg_ctrs, cause_ctr[req->br_cause], 1);
		break;
	default:
		status = BLKIF_RSP_ERROR;
		xbb_ctr_add(&r->rg_ctrs, XBB_C_RSP_ERROR, 1);
		xbb_ctr_add(&r->rg_ctrs, cause_ctr[req->br_cause], 1);
		break;
	}
	/* Three fields, written one by one by the wrapper (XSA-216). */
	rsp = xring_back_rsp_next(&r->rg_xr);
	xring_back_put_rsp(&r->rg_xr, req->br_info.ri_id,
	    req->br_info.ri_rsp_op, status);
	xbb_shadow_answer(&r->rg_sw, (uint32_t)(req - r->rg_reqs), rsp);
	r->rg_unpushed++;
	xbb_rq_put(r, req, XBB_RQ_DONE, false);
	XU_ASSERT(r->rg_inflight > 0, ("in-flight underflow"));
	r->rg_inflight--;
	xbb_ctr_set(&r->rg_ctrs, XBB_C_IN_FLIGHT, r->rg_inflight);
	if (req == r->rg_barrier) {
		r->rg_barrier = NULL;
	} else if ((bar = r->rg_barrier) != NULL && r->rg_inflight == 1 &&
	    bar->br_q == XBB_RQ_BARRIER) {
		/* Everything before the barrier is answered: run it. */
		xbb_rq_remove(r, bar);
		xbb_req_start(r, bar);
	}
}

static void
xbb_req_fail(struct xbb_ring *r, struct xbb_req *req, enum xbb_cause cause)
{
	if (req->br_cause == XBB_CAUSE_NONE)
		req->br_cause = cause;
	xbb_req_finish(r, req);
}

static enum xbb_cause
xbb_cause_of(int rc)
{
	switch (rc) {
	case -EOPNOTSUPP:
		return (XBB_CAUSE_NOTSUPP);
	case -EROFS:
		return (XBB_CAUSE_RO);
	default:
		return (XBB_CAUSE_BAD);
	}
}

/* ---------------------------------------------------------------------
 * Dispatch
 */

/* The step after st in the request's sequence. */
static enum xbb_stage
xbb_req_next(const struct xbb_req *req, enum xbb_stage st)
{
	switch (st) {
	case XBB_ST_PRESYNC:
		return (req->br_info.ri_nseg > 0 ? XBB_ST_DATA : XBB_ST_DONE);
	case XBB_ST_DATA:
		return (xbb_req_syncs(req) ? XBB_ST_POSTSYNC : XBB_ST_DONE);
	default:
		return (XBB_ST_DONE);
	}
}

/*
 * The iovecs and offset of what is left of the request's transfer: the
 * next chunk to move or, until its completion is handled, the one in
 * flight.
 */
static struct iovec *
xbb_req_cur(struct xbb_req *req, uint32_t *niov, uint64_t *off)
{
	*off = (req->br_info.ri_sector << XBD_SECTOR_SHIFT) + req->br_done;
	if (req->br_nbounce > 0) {
		*niov = 1;
		return (&req->br_bounce_iov);
	}
	*niov = XU_MIN(req->br_niov - req->br_iov_next, (uint32_t)IOV_MAX);
	return (&req->br_iov[req->br_iov_next]);
}

/* The same, starting the transfer of that chunk (br_chunk). */
static struct iovec *
xbb_req_chunk(struct xbb_req *req, uint32_t *niov, uint64_t *off)
{
	struct iovec *iov;
	uint32_t i;

	iov = xbb_req_cur(req, niov, off);
	req->br_chunk = 0;
	for (i = 0; i < *niov; i++)
		req->br_chunk += iov[i].iov_len;
	return (iov);
}

/*
 * Storage in memory (so_memfs): move the data at once, on this thread.
 * \return the transfer's result the way io_uring reports it.
 */
static int
xbb_req_sync_data(struct xbb_ring *r, struct xbb_req *req)
{
	int fd = xbb_ring_dev(r)->xb_store.so_fd;
	struct iovec *iov;
	uint64_t off;
	uint32_t n;
	ssize_t rc;

	iov = xbb_req_chunk(req, &n, &off);
	if (req->br_info.ri_op == BLKIF_OP_READ)
		rc = preadv(fd, iov, (int)n, (off_t)off);
	else
		rc = pwritev(fd, iov, (int)n, (off_t)off);
	xbb_ctr_add(&r->rg_ctrs, XBB_C_SYNC_IO, 1);
	return (rc < 0 ? -errno : (int)rc);
}

/*
 * Move this request's data synchronously?  Only when the storage is in
 * memory and the request is alone: the backend holds nothing else and
 * the ring is empty.  Then io_uring's hand-off to a worker thread (tmpfs
 * takes no RWF_NOWAIT) is pure latency; with company, the worker threads
 * overlap transfers and the ring thread keeps taking requests.
 */
static bool
xbb_req_alone(struct xbb_ring *r)
{
	return (xbb_ring_dev(r)->xb_store.so_memfs && r->rg_inflight == 1 &&
	    xring_back_poll(&r->rg_xr) == 0);
}

/* Prepare the data transfer for what is left of the request. */
static void
xbb_req_prep_data(struct xbb_ring *r, struct xbb_req *req)
{
	struct io_uring_sqe *sqe;
	struct iovec *iov;
	uint32_t n;
	uint64_t off;

	iov = xbb_req_chunk(req, &n, &off);
	sqe = xbb_io_sqe(&r->rg_io, (uint64_t)(uintptr_t)req);
	if (req->br_info.ri_op == BLKIF_OP_READ)
		io_uring_prep_readv(sqe, xbb_ring_dev(r)->xb_store.so_fd, iov,
		    n, off);
	else
		io_uring_prep_writev(sqe, xbb_ring_dev(r)->xb_store.so_fd, iov,
		    n, off);
}

/*
 * The current step on a storage kind's queue, which has a place for
 * every request of the ring: it never has to wait.
 */
static bool
xbb_req_kind_issue(struct xbb_ring *r, struct xbb_req *req)
{
	struct xbb_store *so = &xbb_ring_dev(r)->xb_store;
	struct xbb_sop op = { .op_tag = (uint64_t)(uintptr_t)req };
	struct xbb_wlog *wl;
	int rc;

	if (req->br_stage == XBB_ST_DONE) {
		xbb_req_finish(r, req);
		return (true);
	}
	if ((req->br_stage != XBB_ST_DATA ||
		req->br_info.ri_op != BLKIF_OP_READ) &&
	    xbb_dev_failed(r)) {
		xbb_req_fail(r, req, XBB_CAUSE_FAILED);
		return (true);
	}
	if (req->br_stage == XBB_ST_DATA) {
		op.op_kind = req->br_info.ri_op == BLKIF_OP_READ ?
		    XBB_SOP_READ :
		    XBB_SOP_WRITE;
		op.op_iov = xbb_req_chunk(req, &op.op_niov, &op.op_off);
		op.op_len = req->br_chunk;
	} else if (req->br_stage == XBB_ST_DISCARD) {
		op.op_kind = XBB_SOP_DISCARD;
		op.op_off = req->br_info.ri_sector << XBD_SECTOR_SHIFT;
		op.op_len = req->br_info.ri_nsect << XBD_SECTOR_SHIFT;
	} else {
		op.op_kind = XBB_SOP_FLUSH;
		if ((wl = xbb_ring_wlog(r)) != NULL)
			req->br_wlog_seq = xbb_wlog_seq(wl);
		xbb_ctr_add(&r->rg_ctrs, XBB_C_SYNCS, 1);
	}
	if ((rc = so->so_ops->sk_submit(r->rg_sq, &op)) != 0) {
		xbb_req_fail(r, req,
		    rc == -EOPNOTSUPP ? XBB_CAUSE_NOTSUPP : XBB_CAUSE_IO);
		return (true);
	}
	xbb_rq_put(r, req, XBB_RQ_BUSY, false);
	return (true);
}

/*
 * Start the current step.  Returns false, having changed nothing, when
 * io_uring has no room: the caller parks the request.
 */
static bool
xbb_req_try_issue(struct xbb_ring *r, struct xbb_req *req)
{
	struct xbb_store *so = &xbb_ring_dev(r)->xb_store;
	struct io_uring_sqe *sqe;
	struct xbb_wlog *wl;
	uint64_t off, len;
	int rc;

	if (r->rg_sq != NULL)
		return (xbb_req_kind_issue(r, req));
	switch (req->br_stage) {
	case XBB_ST_PRESYNC:
	case XBB_ST_POSTSYNC:
		if (xbb_dev_failed(r)) {
			xbb_req_fail(r, req, XBB_CAUSE_FAILED);
			return (true);
		}
		if (!xbb_io_room(&r->rg_io, 1))
			return (false);
		/* What the sync will cover: what completed before it. */
		if ((wl = xbb_ring_wlog(r)) != NULL)
			req->br_wlog_seq = xbb_wlog_seq(wl);
		sqe = xbb_io_sqe(&r->rg_io, (uint64_t)(uintptr_t)req);
		io_uring_prep_fsync(sqe, so->so_fd, IORING_FSYNC_DATASYNC);
		xbb_ctr_add(&r->rg_ctrs, XBB_C_SYNCS, 1);
		break;
	case XBB_ST_DATA:
		if (req->br_info.ri_op != BLKIF_OP_READ && xbb_dev_failed(r)) {
			xbb_req_fail(r, req, XBB_CAUSE_FAILED);
			return (true);
		}
		if (xbb_req_alone(r)) {
			xbb_req_data_done(r, req, xbb_req_sync_data(r, req));
			return (true);
		}
		if (!xbb_io_room(&r->rg_io, 1))
			return (false);
		xbb_req_prep_data(r, req);
		break;
	case XBB_ST_DISCARD:
		if (xbb_dev_failed(r)) {
			xbb_req_fail(r, req, XBB_CAUSE_FAILED);
			return (true);
		}
		off = req->br_info.ri_sector << XBD_SECTOR_SHIFT;
		len = req->br_info.ri_nsect << XBD_SECTOR_SHIFT;
		if (so->so_blkdev) {
			/* No io_uring discard: the ioctl, synchronously. */
			rc = xbb_store_blk_discard(so, off, len,
			    req->br_info.ri_secure);
			if (rc == -EOPNOTSUPP) {
				xbb_req_fail(r, req, XBB_CAUSE_NOTSUPP);
			} else if (rc != 0) {
				xbb_req_fail(r, req, XBB_CAUSE_IO);
			} else {
				xbb_ctr_add(&r->rg_ctrs, XBB_C_BYTES_DISCARDED,
				    len);
				if ((wl = xbb_ring_wlog(r)) != NULL)
					xbb_wlog_discard(wl, xbb_ring_dev(r),
					    off, len);
				xbb_req_finish(r, req);
			}
			return (true);
		}
		if (!xbb_io_room(&r->rg_io, 1))
			return (false);
		sqe = xbb_io_sqe(&r->rg_io, (uint64_t)(uintptr_t)req);
		io_uring_prep_fallocate(sqe, so->so_fd,
		    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		    (off_t)len);
		break;
	case XBB_ST_DONE:
		xbb_req_finish(r, req);
		return (true);
	}
	xbb_rq_put(r, req, XBB_RQ_BUSY, false);
	return (true);
}

/*
 * Acquire what the request needs and start its current step.  Returns
 * false, holding nothing new, when it must wait; *bounce says whether
 * the bounce pool (rather than io_uring) was short.
 */
static bool
xbb_req_advance(struct xbb_ring *r, struct xbb_req *req, bool *bounce)
{
	bool wait;
	int rc;

	*bounce = false;
	if (req->br_info.ri_nseg > 0 && !req->br_mapped &&
	    req->br_stage != XBB_ST_DONE) {
		rc = xbb_grant_acquire(r, req, &wait);
		if (wait) {
			*bounce = true;
			return (false);
		}
		if (rc != 0) {
			xbb_req_fail(r, req, XBB_CAUSE_GRANT);
			return (true);
		}
	}
	return (xbb_req_try_issue(r, req));
}

/* Run a request now, or park it behind those already waiting. */
static void
xbb_req_start(struct xbb_ring *r, struct xbb_req *req)
{
	bool bounce;

	if (r->rg_qlen[XBB_RQ_WAIT] == 0 && xbb_req_advance(r, req, &bounce))
		return;
	if (r->rg_qlen[XBB_RQ_WAIT] == 0)
		xbb_ctr_add(&r->rg_ctrs,
		    bounce ? XBB_C_SHORTAGE_BOUNCE : XBB_C_SHORTAGE_URING, 1);
	xbb_rq_put(r, req, XBB_RQ_WAIT, false);
}

/* Continue a request whose step finished. */
static void
xbb_req_issue(struct xbb_ring *r, struct xbb_req *req)
{
	bool bounce;

	if (!xbb_req_advance(r, req, &bounce)) {
		/* Mid-sequence and short of io_uring room: next in line. */
		xbb_ctr_add(&r->rg_ctrs, XBB_C_SHORTAGE_URING, 1);
		xbb_rq_put(r, req, XBB_RQ_WAIT, true);
	}
}

/* Let parked requests go, oldest first, while resources last. */
static void
xbb_ring_run_wait(struct xbb_ring *r)
{
	struct xbb_req *req;
	bool bounce;

	while ((req = TAILQ_FIRST(&r->rg_q[XBB_RQ_WAIT])) != NULL) {
		xbb_rq_remove(r, req);
		if (!xbb_req_advance(r, req, &bounce)) {
			xbb_rq_put(r, req, XBB_RQ_WAIT, true);
			break;
		}
	}
}

/* ---------------------------------------------------------------------
 * Intake
 */

static void
xbb_req_count(struct xbb_ring *r, const union xring_req *wire,
    const struct xbb_reqinfo *ri)
{
	enum xbb_ctr c;

	switch (ri->ri_op) {
	case BLKIF_OP_READ:
		c = XBB_C_REQ_READ;
		break;
	case BLKIF_OP_WRITE:
		c = XBB_C_REQ_WRITE;
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
		c = XBB_C_REQ_FLUSH;
		break;
	case BLKIF_OP_WRITE_BARRIER:
		c = XBB_C_REQ_BARRIER;
		break;
	case BLKIF_OP_DISCARD:
		c = XBB_C_REQ_DISCARD;
		break;
	default:
		c = wire->rw.operation == BLKIF_OP_INDIRECT ?
		    XBB_C_REQ_INDIRECT :
		    XBB_C_REQ_OTHER;
		break;
	}
	xbb_ctr_add(&r->rg_ctrs, c, 1);
	if (wire->rw.operation == BLKIF_OP_INDIRECT && c != XBB_C_REQ_INDIRECT)
		xbb_ctr_add(&r->rg_ctrs, XBB_C_REQ_INDIRECT, 1);
}

/* A request just taken: validate, fetch segments, dispatch. */
static void
xbb_req_begin(struct xbb_ring *r, struct xbb_req *req,
    const union xring_req *wire)
{
	struct xbb_reqinfo *ri = &req->br_info;
	int rc;

	req->br_cause = XBB_CAUSE_NONE;
	req->br_done = req->br_bytes = req->br_chunk = 0;
	req->br_niov = req->br_iov_next = 0;
	rc = xbb_req_check(&r->rg_lim, wire, ri);
	xbb_req_count(r, wire, ri);
	if (rc != 0) {
		xbb_req_fail(r, req, xbb_cause_of(rc));
		return;
	}
	if (ri->ri_indirect) {
		if (xbb_indirect_fetch(r, req, wire->indirect.indirect_grefs) !=
		    0) {
			xbb_req_fail(r, req, XBB_CAUSE_GRANT);
			return;
		}
	} else if (ri->ri_nseg > 0) {
		memcpy(req->br_segs, wire->rw.seg,
		    ri->ri_nseg * sizeof(*req->br_segs));
	}
	if (ri->ri_nseg > 0 &&
	    (rc = xbb_seg_check(&r->rg_lim, req->br_segs, ri)) != 0) {
		xbb_req_fail(r, req, xbb_cause_of(rc));
		return;
	}
	xbb_ctr_add(&r->rg_ctrs, XBB_C_SEGMENTS, ri->ri_nseg);
	switch (ri->ri_op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		req->br_stage = XBB_ST_DATA;
		break;
	case BLKIF_OP_DISCARD:
		req->br_stage = XBB_ST_DISCARD;
		break;
	default:
		req->br_stage = XBB_ST_PRESYNC;
		break;
	}
	if (ri->ri_op == BLKIF_OP_WRITE_BARRIER) {
		/* No intake until it is done; run it once the ring drains. */
		r->rg_barrier = req;
		if (r->rg_inflight > 1) {
			xbb_ctr_add(&r->rg_ctrs, XBB_C_BARRIER_DRAINS, 1);
			xbb_rq_put(r, req, XBB_RQ_BARRIER, false);
			return;
		}
	}
	xbb_req_start(r, req);
}

static void
xbb_ring_broken(struct xbb_ring *r)
{
	if (atomic_load(&r->rg_broken))
		return;
	atomic_store(&r->rg_broken, true);
	xbb_ctr_add(&r->rg_ctrs, XBB_C_RING_ERRORS, 1);
	xbb_kick_control(xbb_ring_dev(r)->xb_bk);
}

/* May the thread take requests now? */
static bool
xbb_ring_open(const struct xbb_ring *r)
{
	return (!atomic_load(&r->rg_stop) && !atomic_load(&r->rg_broken) &&
	    r->rg_barrier == NULL);
}

static void xbb_ring_push(struct xbb_ring *r);

/*
 * Re-execute what a previous backend took and left unanswered (its
 * shadow), in the order it took them, before taking anything new.  A
 * barrier among them holds the rest back until it is done, as it did
 * the first time.
 * \return true once every one has been started.
 */
static bool
xbb_ring_replay(struct xbb_ring *r)
{
	struct xbb_shadow_replay *rp = &r->rg_replay;
	struct xbb_req *req;
	uint32_t slot;

	while (rp->sr_done < rp->sr_count && r->rg_barrier == NULL) {
		slot = rp->sr_slots[rp->sr_done++];
		req = &r->rg_reqs[slot];
		xbb_rq_remove(r, req);
		r->rg_inflight++;
		xbb_ctr_set(&r->rg_ctrs, XBB_C_IN_FLIGHT, r->rg_inflight);
		xbb_ctr_add(&r->rg_ctrs, XBB_C_REPLAYED, 1);
		xbb_req_begin(r, req, xbb_shadow_req(&r->rg_sw, slot));
	}
	return (rp->sr_done == rp->sr_count);
}

static void
xbb_ring_intake(struct xbb_ring *r)
{
	union xring_req wire;
	struct xbb_req *req;
	RING_IDX idx;
	int i, n;

	r->rg_more = false;
	/* A closed intake cannot tell a storm from work: not spurious. */
	r->rg_work = true;
	if (!xbb_ring_open(r) || !xbb_ring_replay(r))
		return;
	if ((n = xring_back_poll(&r->rg_xr)) < 0) {
		xbb_ring_broken(r);
		return;
	}
	r->rg_work = n > 0;
	if (n > XBB_INTAKE_BATCH) {
		n = XBB_INTAKE_BATCH;
		r->rg_more = true;
	}
	r->rg_lim.l_sectors = atomic_load_explicit(&xbb_ring_dev(r)->xb_sectors,
	    memory_order_relaxed);
	for (i = 0; i < n && r->rg_barrier == NULL; i++) {
		/*
		 * The ring never offers more requests than we have slots
		 * free or answered; pushing the answered frees theirs.
		 */
		if (TAILQ_EMPTY(&r->rg_q[XBB_RQ_FREE]))
			xbb_ring_push(r);
		req = TAILQ_FIRST(&r->rg_q[XBB_RQ_FREE]);
		XU_ASSERT(req != NULL,
		    ("no free request, %u in flight", r->rg_inflight));
		xbb_rq_remove(r, req);
		idx = xring_back_req_next(&r->rg_xr);
		xring_back_take(&r->rg_xr, &wire);
		xbb_shadow_take(&r->rg_sw, (uint32_t)(req - r->rg_reqs), idx,
		    &wire);
		r->rg_inflight++;
		xbb_ctr_set(&r->rg_ctrs, XBB_C_IN_FLIGHT, r->rg_inflight);
		if (r->rg_inflight >
		    xbb_ctr_get(&r->rg_ctrs, XBB_C_IN_FLIGHT_MAX))
			xbb_ctr_set(&r->rg_ctrs, XBB_C_IN_FLIGHT_MAX,
			    r->rg_inflight);
		xbb_req_begin(r, req, &wire);
	}
	if (r->rg_barrier != NULL)
		r->rg_more = false;
}

/*
 * Publish queued responses; notify only when the frontend asked.  Their
 * requests' slots (and shadow entries) are free from now on.
 */
static void
xbb_ring_push(struct xbb_ring *r)
{
	struct xbb_req *req;

	if (r->rg_unpushed == 0)
		return;
	r->rg_unpushed = 0;
	if (xring_back_push(&r->rg_xr)) {
		(void)plat_evtchn_notify(r->rg_evh, r->rg_port);
		xbb_ctr_add(&r->rg_ctrs, XBB_C_NOTIFY_SENT, 1);
	} else {
		xbb_ctr_add(&r->rg_ctrs, XBB_C_NOTIFY_SKIPPED, 1);
	}
	while ((req = TAILQ_FIRST(&r->rg_q[XBB_RQ_DONE])) != NULL) {
		xbb_rq_remove(r, req);
		xbb_rq_put(r, req, XBB_RQ_FREE, false);
	}
}

/* ---------------------------------------------------------------------
 * Completions
 */

static void
xbb_ring_arm(struct xbb_ring *r, uint64_t tag)
{
	struct io_uring_sqe *sqe;

	sqe = xbb_io_sqe(&r->rg_io, tag);
	io_uring_prep_poll_add(sqe,
	    tag == XBB_TAG_EVTCHN ? plat_evtchn_fd(r->rg_evh) : r->rg_kickfd,
	    POLLIN);
}

/*
 * The event channel fired: take the port (it stays masked until
 * xbb_ring_eoi), poll again.  The handle holds rg_port only; anything
 * else it reports is not ours to acknowledge.  Once rg_port is read
 * nothing more can be pending (it is masked): no read to find that out,
 * which is one system call of each request at queue depth 1.
 */
static void
xbb_ring_evtchn(struct xbb_ring *r)
{
	evtchn_port_t port;
	int i;

	for (i = 0;
	     i < XBB_EVTCHN_BATCH && plat_evtchn_pending(r->rg_evh, &port) == 0;
	     i++) {
		xbb_ctr_add(&r->rg_ctrs, XBB_C_EVENTS, 1);
		if (port == r->rg_port) {
			r->rg_eoi_owed = true;
			break;
		}
	}
	xbb_ring_arm(r, XBB_TAG_EVTCHN);
}

/*
 * After the intake that followed an event: unmask the port now, or, for
 * a run of events that brought nothing, when an io_uring timeout fires.
 */
static void
xbb_ring_eoi(struct xbb_ring *r)
{
	struct io_uring_sqe *sqe;
	uint64_t ns;

	if (!r->rg_eoi_owed)
		return;
	if (!r->rg_work)
		xbb_ctr_add(&r->rg_ctrs, XBB_C_EVENTS_SPURIOUS, 1);
	ns = xu_eoi_delay(&r->rg_eoi, !r->rg_work);
	/* One timeout at a time; without room, unmask now and retry the
	   throttle at the next event. */
	if (ns != 0 && !r->rg_eoi_armed && xbb_io_room(&r->rg_io, 1)) {
		r->rg_eoi_ts.tv_sec = (long long)(ns / 1000000000u);
		r->rg_eoi_ts.tv_nsec = (long long)(ns % 1000000000u);
		sqe = xbb_io_sqe(&r->rg_io, XBB_TAG_EOI);
		io_uring_prep_timeout(sqe, &r->rg_eoi_ts, 0, 0);
		r->rg_eoi_armed = true;
		r->rg_eoi_owed = false;
		xbb_ctr_add(&r->rg_ctrs, XBB_C_EOI_DELAYED, 1);
		return;
	}
	if (r->rg_eoi_armed)
		return; /* the timeout will unmask */
	r->rg_eoi_owed = false;
	(void)plat_evtchn_unmask(r->rg_evh, r->rg_port);
}

static void
xbb_ring_kicked(struct xbb_ring *r)
{
	/* Non-blocking eventfd: just reset it; rg_stop says what to do. */
	if (read(r->rg_kickfd, &r->rg_kickbuf, sizeof(r->rg_kickbuf)) < 0) {
		/* EAGAIN: a spurious wake-up. */
	}
	xbb_ring_arm(r, XBB_TAG_KICK);
}

/* Skip res bytes of the iovecs (a short transfer). */
static void
xbb_req_advance_iov(struct xbb_req *req, uint64_t res)
{
	struct iovec *iov;

	if (req->br_nbounce > 0) {
		req->br_bounce_iov.iov_base =
		    (uint8_t *)req->br_bounce_iov.iov_base + res;
		req->br_bounce_iov.iov_len -= res;
		return;
	}
	while (res > 0 && req->br_iov_next < req->br_niov) {
		iov = &req->br_iov[req->br_iov_next];
		if (res >= iov->iov_len) {
			res -= iov->iov_len;
			iov->iov_len = 0;
			req->br_iov_next++;
		} else {
			iov->iov_base = (uint8_t *)iov->iov_base + res;
			iov->iov_len -= res;
			res = 0;
		}
	}
}

static void
xbb_req_data_done(struct xbb_ring *r, struct xbb_req *req, int res)
{
	bool reading = req->br_info.ri_op == BLKIF_OP_READ;
	struct xbb_wlog *wl;
	struct iovec *iov;
	uint32_t niov;
	uint64_t off;

	if (res <= 0) {
		/* No progress is an error too: never loop, never truncate. */
		if (!reading && r->rg_sq == NULL &&
		    !xbb_write_nospace(r, req, res))
			xbb_dev_fail(r, req, res < 0 ? res : -EIO);
		xbb_req_fail(r, req, XBB_CAUSE_IO);
		return;
	}
	XU_ASSERT((uint64_t)res <= req->br_chunk,
	    ("transfer of %d for %llu", res,
		(unsigned long long)req->br_chunk));
	if (!reading && (wl = xbb_ring_wlog(r)) != NULL) {
		/* What reached the file: the chunk's first res bytes. */
		iov = xbb_req_cur(req, &niov, &off);
		xbb_wlog_write(wl, xbb_ring_dev(r), off, iov, niov,
		    (uint64_t)res);
	}
	req->br_done += (uint64_t)res;
	xbb_ctr_add(&r->rg_ctrs,
	    reading ? XBB_C_BYTES_READ : XBB_C_BYTES_WRITTEN, (uint64_t)res);
	if ((uint64_t)res < req->br_chunk)
		xbb_ctr_add(&r->rg_ctrs, XBB_C_SHORT_IO, 1);
	if (req->br_done < req->br_bytes) {
		xbb_req_advance_iov(req, (uint64_t)res);
		xbb_req_issue(r, req);
		return;
	}
	if (reading && xbb_grant_finish_read(r, req) != 0) {
		xbb_req_fail(r, req, XBB_CAUSE_GRANT);
		return;
	}
	if (!reading)
		xbb_write_space_back(r);
	req->br_stage = xbb_req_next(req, XBB_ST_DATA);
	xbb_req_issue(r, req);
}

/*
 * What a storage kind's queue waits for, as io_uring entries: one poll
 * on its fd (removed and armed again when the fd or the events change:
 * a reconnection, a full socket) and a tick when it asks for one.
 * True when completions are already waiting: do not sleep.
 */
static bool
xbb_ring_sq_arm(struct xbb_ring *r)
{
	const struct xbb_store_ops *ops = xbb_ring_dev(r)->xb_store.so_ops;
	struct io_uring_sqe *sqe;
	struct xbb_swant w;
	unsigned int mask;

	ops->sk_want(r->rg_sq, &w);
	mask = POLLIN | (w.sw_out ? POLLOUT : 0);
	if (r->rg_sq_fd >= 0 &&
	    (r->rg_sq_fd != w.sw_fd || r->rg_sq_gen != w.sw_gen ||
		r->rg_sq_mask != mask)) {
		if (!r->rg_sq_rm) {
			sqe = xbb_io_sqe(&r->rg_io, XBB_TAG_SQ_RM);
			io_uring_prep_poll_remove(sqe, XBB_TAG_SQ_POLL);
			r->rg_sq_rm = true;
		}
	} else if (r->rg_sq_fd < 0 && w.sw_fd >= 0) {
		sqe = xbb_io_sqe(&r->rg_io, XBB_TAG_SQ_POLL);
		io_uring_prep_poll_add(sqe, w.sw_fd, mask);
		r->rg_sq_fd = w.sw_fd;
		r->rg_sq_gen = w.sw_gen;
		r->rg_sq_mask = mask;
	}
	if (w.sw_tick && !r->rg_sq_tick) {
		r->rg_sq_ts.tv_sec = 0;
		r->rg_sq_ts.tv_nsec = XBB_SQ_TICK_MS * 1000000LL;
		sqe = xbb_io_sqe(&r->rg_io, XBB_TAG_SQ_TICK);
		io_uring_prep_timeout(sqe, &r->rg_sq_ts, 0, 0);
		r->rg_sq_tick = true;
	}
	return (w.sw_done);
}

/* One of those entries completed: let the kind work, take its results. */
static void
xbb_ring_sq_done(struct xbb_ring *r, uint64_t tag, int res)
{
	const struct xbb_store_ops *ops = xbb_ring_dev(r)->xb_store.so_ops;
	unsigned int why = 0;

	if (tag == XBB_TAG_SQ_RM) {
		r->rg_sq_rm = false;
		return;
	}
	if (tag == XBB_TAG_SQ_TICK) {
		r->rg_sq_tick = false;
		why = XBB_SQ_TICK;
	} else {
		r->rg_sq_fd = -1;
		if (res > 0 && (res & (POLLIN | POLLHUP | POLLERR)) != 0)
			why |= XBB_SQ_IN;
		if (res > 0 && (res & POLLOUT) != 0)
			why |= XBB_SQ_OUT;
		if (why == 0)
			return; /* removed: armed again before the next wait */
	}
	ops->sk_reap(r->rg_sq, why, xbb_ring_done, r);
}

static void
xbb_ring_done(void *arg, uint64_t tag, int res)
{
	struct xbb_ring *r = arg;
	struct xbb_wlog *wl;
	struct xbb_req *req;

	if (tag >= XBB_TAG_SQ_POLL && tag <= XBB_TAG_SQ_TICK) {
		xbb_ring_sq_done(r, tag, res);
		return;
	}
	if (tag == XBB_TAG_EVTCHN) {
		xbb_ring_evtchn(r);
		return;
	}
	if (tag == XBB_TAG_KICK) {
		xbb_ring_kicked(r);
		return;
	}
	if (tag == XBB_TAG_EOI) {
		/* -ETIME: the delay is over (nothing else completes it). */
		r->rg_eoi_armed = false;
		(void)plat_evtchn_unmask(r->rg_evh, r->rg_port);
		return;
	}
	req = (struct xbb_req *)(uintptr_t)tag;
	xbb_rq_remove(r, req);
	switch (req->br_stage) {
	case XBB_ST_PRESYNC:
	case XBB_ST_POSTSYNC:
		if (res < 0) {
			/*
			 * fsyncgate: the data may be gone; stay failed.  A
			 * remote kind's server keeps its own cache and says
			 * what it lost: its error fails this request alone.
			 */
			if (r->rg_sq == NULL)
				xbb_dev_fail(r, req, res);
			xbb_req_fail(r, req, XBB_CAUSE_IO);
			return;
		}
		if ((wl = xbb_ring_wlog(r)) != NULL)
			xbb_wlog_mark(wl, xbb_ring_dev(r), req->br_wlog_seq);
		req->br_stage = xbb_req_next(req, req->br_stage);
		xbb_req_issue(r, req);
		break;
	case XBB_ST_DATA:
		xbb_req_data_done(r, req, res);
		break;
	case XBB_ST_DISCARD:
		if (res < 0) {
			xbb_req_fail(r, req,
			    res == -EOPNOTSUPP ? XBB_CAUSE_NOTSUPP :
						 XBB_CAUSE_IO);
			return;
		}
		xbb_ctr_add(&r->rg_ctrs, XBB_C_BYTES_DISCARDED,
		    req->br_info.ri_nsect << XBD_SECTOR_SHIFT);
		if ((wl = xbb_ring_wlog(r)) != NULL)
			xbb_wlog_discard(wl, xbb_ring_dev(r),
			    req->br_info.ri_sector << XBD_SECTOR_SHIFT,
			    req->br_info.ri_nsect << XBD_SECTOR_SHIFT);
		req->br_stage = XBB_ST_DONE;
		xbb_req_issue(r, req);
		break;
	case XBB_ST_DONE:
		XU_ASSERT(false, ("completion of a finished request"));
		break;
	}
}

/* ---------------------------------------------------------------------
 * The I/O thread
 */

static void *
xbb_ring_main(void *arg)
{
	struct xbb_ring *r = arg;
	unsigned int wait;
	int rc;

	xbb_ring_arm(r, XBB_TAG_EVTCHN);
	xbb_ring_arm(r, XBB_TAG_KICK);
	for (;;) {
		xbb_ctr_add(&r->rg_ctrs, XBB_C_WAKEUPS, 1);
		xbb_ring_intake(r);
		xbb_ring_eoi(r);
		xbb_ring_run_wait(r);
		xbb_ring_push(r);
		if (atomic_load(&r->rg_stop) && r->rg_inflight == 0)
			break;
		wait = 1;
		if (xbb_ring_open(r)) {
			if (r->rg_more)
				wait = 0;
			else if ((rc = xring_back_final_check(&r->rg_xr)) < 0)
				xbb_ring_broken(r);
			else if (rc > 0)
				wait = 0;
		}
		if (r->rg_sq != NULL && xbb_ring_sq_arm(r))
			wait = 0;
		rc = xbb_io_enter(&r->rg_io, wait);
		if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EAGAIN &&
		    rc != -EBUSY) {
			xbb_log(xbb_ring_dev(r)->xb_bk,
			    "vbd %u/%u ring %u: io_uring_enter: %s",
			    xbb_ring_dev(r)->xb_feid, xbb_ring_dev(r)->xb_vdev,
			    r->rg_index, strerror(-rc));
			xbb_ring_broken(r);
			break;
		}
		(void)xbb_io_reap(&r->rg_io, xbb_ring_done, r);
		if (r->rg_sq != NULL)
			xbb_ring_dev(r)->xb_store.so_ops->sk_reap(r->rg_sq, 0,
			    xbb_ring_done, r);
	}
	return (NULL);
}

/* ---------------------------------------------------------------------
 * Set-up and teardown (control thread)
 */

/*
 * The ring's io_uring, and a storage kind's queue on it: the kind's
 * operations are not io_uring's, only its poll and tick entries are.
 */
static int
xbb_ring_engine(struct xbb_ring *r, const struct xbb_opts *o,
    struct xbb_store *so)
{
	unsigned int depth;
	int rc;

	depth = o->o_uring_depth != 0 ?
	    XU_MAX(o->o_uring_depth, (unsigned int)XBB_URING_SPARE + 1) :
	    r->rg_slots + XBB_URING_SPARE;
	if (so->so_ops != NULL) {
		depth += XBB_URING_SQ_SPARE;
		if ((rc = so->so_ops->sk_attach(so, r->rg_slots, &r->rg_sq)) !=
		    0)
			return (rc);
	}
	return (xbb_io_init(&r->rg_io, depth, &r->rg_ctrs));
}

int
xbb_ring_init(struct xbb_ring *r, struct xbb_dev *dev, unsigned int index)
{
	const struct xbb_opts *o = &dev->xb_bk->bk_opts;
	struct xbb_store *so = &dev->xb_store;
	struct xbb_req *req;
	uint32_t pool;
	uint8_t *p;
	size_t per;
	unsigned int i, q;
	int rc;

	r->rg_dev = dev;
	r->rg_index = index;
	r->rg_kickfd = -1;
	r->rg_sq_fd = -1;
	for (q = 0; q < XBB_RQ_COUNT; q++)
		TAILQ_INIT(&r->rg_q[q]);
	r->rg_slots = xring_slots(r->rg_cfg.rc_npages);
	r->rg_maxsegs =
	    XU_MAX((unsigned int)XBB_DIRECT_SEGS, o->o_max_indirect_segs);
	r->rg_persistent = dev->xb_persistent;
	r->rg_copy = o->o_grant_copy;
	r->rg_lim.l_sectors = atomic_load(&dev->xb_sectors);
	r->rg_lim.l_sector_size = so->so_sector_size;
	r->rg_lim.l_max_indirect = o->o_max_indirect_segs;
	r->rg_lim.l_readonly = dev->xb_readonly;
	/* As xbb_dev.c published them: a storage that cannot flush has
	   neither (an NBD server without flush). */
	r->rg_lim.l_flush = o->o_flush && so->so_flush;
	r->rg_lim.l_barrier = o->o_barrier && so->so_flush;
	/* Exactly what xbb_dev.c published as feature-discard. */
	r->rg_lim.l_discard = o->o_discard && dev->xb_discard_enable &&
	    so->so_discard && !dev->xb_readonly;
	r->rg_lim.l_discard_secure =
	    r->rg_lim.l_discard && so->so_discard_secure;
	r->rg_lim.l_discard_gran = so->so_discard_gran;

	/* One block for every request's arrays, sized at connect. */
	per = r->rg_maxsegs *
	    (sizeof(struct blkif_request_segment) + sizeof(struct iovec) +
		sizeof(struct plat_map_seg) + sizeof(struct xbb_pgrant *));
	r->rg_bulk_len = per * r->rg_slots;
	r->rg_reqs = calloc(r->rg_slots, sizeof(*r->rg_reqs));
	r->rg_bulk = calloc(1, r->rg_bulk_len);
	r->rg_copyseg = calloc(r->rg_maxsegs, sizeof(*r->rg_copyseg));
	if (r->rg_reqs == NULL || r->rg_bulk == NULL || r->rg_copyseg == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	p = r->rg_bulk;
	for (i = 0; i < r->rg_slots; i++) {
		req = &r->rg_reqs[i];
		req->br_map = (struct plat_map_seg *)p;
		p += r->rg_maxsegs * sizeof(struct plat_map_seg);
		req->br_iov = (struct iovec *)p;
		p += r->rg_maxsegs * sizeof(struct iovec);
		req->br_pg = (struct xbb_pgrant **)p;
		p += r->rg_maxsegs * sizeof(struct xbb_pgrant *);
		req->br_segs = (struct blkif_request_segment *)p;
		p += r->rg_maxsegs * sizeof(struct blkif_request_segment);
		req->br_q = XBB_RQ_NONE;
		xbb_rq_put(r, req, XBB_RQ_FREE, false);
	}
	if ((rc = xbb_pgc_init(&r->rg_pgc,
		 r->rg_persistent ? o->o_max_persistent : 0)) != 0)
		goto fail;
	/* Bounce pages: for grant copy, or O_DIRECT that is pickier than
	   the 512-byte granularity of segments. */
	if (r->rg_copy || so->so_contig ||
	    (so->so_direct &&
		(so->so_dio_mem > XBD_SECTOR_SIZE ||
		    so->so_dio_off > XBD_SECTOR_SIZE))) {
		pool = o->o_bounce_pages != 0 ?
		    o->o_bounce_pages :
		    XU_MIN(r->rg_slots * XBB_BOUNCE_PER_SLOT,
			(unsigned int)XBB_BOUNCE_MAX_PAGES);
		pool = XU_MAX(pool, 2 * r->rg_maxsegs);
		if ((rc = xbb_pool_init(&r->rg_pool, pool)) != 0)
			goto fail;
	}
	if ((rc = xbb_ring_engine(r, o, so)) != 0)
		goto fail;
	if ((r->rg_kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		goto fail;
	}
	return (0);
fail:
	xbb_ring_fini(r);
	return (rc);
}

int
xbb_ring_start(struct xbb_ring *r)
{
	int rc;

	if ((rc = pthread_create(&r->rg_thread, NULL, xbb_ring_main, r)) != 0)
		return (-rc);
	r->rg_running = true;
	return (0);
}

void
xbb_ring_signal(struct xbb_ring *r)
{
	uint64_t one = 1;

	if (!r->rg_running)
		return;
	atomic_store(&r->rg_stop, true);
	if (r->rg_kickfd >= 0 &&
	    write(r->rg_kickfd, &one, sizeof(one)) != sizeof(one)) {
		/* The counter is saturated: a wake-up is pending anyway. */
	}
}

void
xbb_ring_stop(struct xbb_ring *r)
{
	if (!r->rg_running)
		return;
	xbb_ring_signal(r);
	pthread_join(r->rg_thread, NULL);
	r->rg_running = false;
}

void
xbb_ring_fini(struct xbb_ring *r)
{
	unsigned int i;

	XU_ASSERT(!r->rg_running, ("ring %u still running", r->rg_index));
	/* Only an abandoned thread leaves requests holding grants. */
	if (r->rg_reqs != NULL)
		for (i = 0; i < r->rg_slots; i++)
			if (r->rg_reqs[i].br_q != XBB_RQ_FREE &&
			    r->rg_reqs[i].br_q != XBB_RQ_DONE)
				xbb_grant_release(r, &r->rg_reqs[i]);
	xbb_io_fini(&r->rg_io);
	if (r->rg_sq != NULL)
		r->rg_dev->xb_store.so_ops->sk_detach(r->rg_sq);
	r->rg_sq = NULL;
	xbb_grant_teardown(r);
	if (r->rg_kickfd >= 0)
		close(r->rg_kickfd);
	r->rg_kickfd = -1;
	free(r->rg_replay.sr_slots);
	free(r->rg_copyseg);
	free(r->rg_bulk);
	free(r->rg_reqs);
	r->rg_replay.sr_slots = NULL;
	r->rg_copyseg = NULL;
	r->rg_bulk = NULL;
	r->rg_reqs = NULL;
}
