/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Statistics: the mapping between the internal counter array (cheap to
 * bump from an I/O thread) and the public, size-versioned struct
 * xbb_stats.  A device keeps the counters of its past connections in
 * xb_hist, so its totals survive reconnects; gauges (in flight,
 * persistent grants) are never carried over.
 */

#include <stddef.h>
#include <string.h>

#include "xbb_internal.h"

/* How a counter combines across rings and connections. */
enum xbb_ctr_kind {
	XBB_K_SUM = 0,	 /* events: add */
	XBB_K_MAX = 1,	 /* high-water marks: keep the largest */
	XBB_K_GAUGE = 2, /* current values: only live rings count */
};

#define XBB_STAT(ctr, field, kind) \
	[ctr] = { offsetof(struct xbb_stats, field), kind }

/* Where each counter goes in struct xbb_stats. */
static const struct {
	size_t off;		/* offset of the field */
	enum xbb_ctr_kind kind; /* how it combines */
} xbb_stat_map[XBB_C_COUNT] = {
	XBB_STAT(XBB_C_REQ_READ, st_req_read, XBB_K_SUM),
	XBB_STAT(XBB_C_REQ_WRITE, st_req_write, XBB_K_SUM),
	XBB_STAT(XBB_C_REQ_FLUSH, st_req_flush, XBB_K_SUM),
	XBB_STAT(XBB_C_REQ_BARRIER, st_req_barrier, XBB_K_SUM),
	XBB_STAT(XBB_C_REQ_DISCARD, st_req_discard, XBB_K_SUM),
	XBB_STAT(XBB_C_REQ_INDIRECT, st_req_indirect, XBB_K_SUM),
	XBB_STAT(XBB_C_REQ_OTHER, st_req_other, XBB_K_SUM),
	XBB_STAT(XBB_C_SEGMENTS, st_segments, XBB_K_SUM),
	XBB_STAT(XBB_C_BYTES_READ, st_bytes_read, XBB_K_SUM),
	XBB_STAT(XBB_C_BYTES_WRITTEN, st_bytes_written, XBB_K_SUM),
	XBB_STAT(XBB_C_BYTES_DISCARDED, st_bytes_discarded, XBB_K_SUM),
	XBB_STAT(XBB_C_RSP_OKAY, st_rsp_okay, XBB_K_SUM),
	XBB_STAT(XBB_C_RSP_ERROR, st_rsp_error, XBB_K_SUM),
	XBB_STAT(XBB_C_RSP_EOPNOTSUPP, st_rsp_eopnotsupp, XBB_K_SUM),
	XBB_STAT(XBB_C_ERR_BAD_REQUEST, st_err_bad_request, XBB_K_SUM),
	XBB_STAT(XBB_C_ERR_READONLY, st_err_readonly, XBB_K_SUM),
	XBB_STAT(XBB_C_ERR_GRANT, st_err_grant, XBB_K_SUM),
	XBB_STAT(XBB_C_ERR_IO, st_err_io, XBB_K_SUM),
	XBB_STAT(XBB_C_ERR_FAILED, st_err_failed, XBB_K_SUM),
	XBB_STAT(XBB_C_ERR_EOPNOTSUPP, st_err_eopnotsupp, XBB_K_SUM),
	XBB_STAT(XBB_C_RING_ERRORS, st_ring_errors, XBB_K_SUM),
	XBB_STAT(XBB_C_IN_FLIGHT, st_in_flight, XBB_K_GAUGE),
	XBB_STAT(XBB_C_IN_FLIGHT_MAX, st_in_flight_max, XBB_K_MAX),
	XBB_STAT(XBB_C_BARRIER_DRAINS, st_barrier_drains, XBB_K_SUM),
	XBB_STAT(XBB_C_PGRANTS, st_pgrants, XBB_K_GAUGE),
	XBB_STAT(XBB_C_PGRANT_HITS, st_pgrant_hits, XBB_K_SUM),
	XBB_STAT(XBB_C_PGRANT_MISSES, st_pgrant_misses, XBB_K_SUM),
	XBB_STAT(XBB_C_PGRANT_EVICTIONS, st_pgrant_evictions, XBB_K_SUM),
	XBB_STAT(XBB_C_PGRANT_FULL, st_pgrant_full, XBB_K_SUM),
	XBB_STAT(XBB_C_MAPS, st_maps, XBB_K_SUM),
	XBB_STAT(XBB_C_COPIES, st_copies, XBB_K_SUM),
	XBB_STAT(XBB_C_BOUNCE_BYTES, st_bounce_bytes, XBB_K_SUM),
	XBB_STAT(XBB_C_SHORT_IO, st_short_io, XBB_K_SUM),
	XBB_STAT(XBB_C_SHORTAGE_BOUNCE, st_shortage_bounce, XBB_K_SUM),
	XBB_STAT(XBB_C_SHORTAGE_URING, st_shortage_uring, XBB_K_SUM),
	XBB_STAT(XBB_C_NOTIFY_SENT, st_notify_sent, XBB_K_SUM),
	XBB_STAT(XBB_C_NOTIFY_SKIPPED, st_notify_skipped, XBB_K_SUM),
	XBB_STAT(XBB_C_EVENTS, st_events, XBB_K_SUM),
	XBB_STAT(XBB_C_WAKEUPS, st_wakeups, XBB_K_SUM),
	XBB_STAT(XBB_C_URING_ENTER, st_uring_enter, XBB_K_SUM),
	XBB_STAT(XBB_C_URING_SQES, st_uring_sqes, XBB_K_SUM),
	XBB_STAT(XBB_C_URING_CQES, st_uring_cqes, XBB_K_SUM),
	XBB_STAT(XBB_C_SYNCS, st_syncs, XBB_K_SUM),
	XBB_STAT(XBB_C_SYNC_IO, st_sync_io, XBB_K_SUM),
	XBB_STAT(XBB_C_EVENTS_SPURIOUS, st_events_spurious, XBB_K_SUM),
	XBB_STAT(XBB_C_EOI_DELAYED, st_eoi_delayed, XBB_K_SUM),
	XBB_STAT(XBB_C_REPLAYED, st_replayed, XBB_K_SUM),
	XBB_STAT(XBB_C_RESUMES, st_resumes, XBB_K_SUM),
	XBB_STAT(XBB_C_ERR_NOSPACE, st_err_nospace, XBB_K_SUM),
};

/* Add one set of counters into the words of st. */
static void
xbb_stats_add(struct xbb_stats *st, const struct xbb_ctrs *c, bool live)
{
	uint64_t *f, v;
	unsigned int i;

	for (i = 0; i < XBB_C_COUNT; i++) {
		f = (uint64_t *)((char *)st + xbb_stat_map[i].off);
		v = xbb_ctr_get(c, (enum xbb_ctr)i);
		switch (xbb_stat_map[i].kind) {
		case XBB_K_SUM:
			*f += v;
			break;
		case XBB_K_MAX:
			*f = XU_MAX(*f, v);
			break;
		case XBB_K_GAUGE:
			if (live)
				*f += v;
			break;
		}
	}
}

void
xbb_ctrs_retire(struct xbb_ctrs *hist, const struct xbb_ctrs *ring)
{
	uint64_t h, v;
	unsigned int i;

	for (i = 0; i < XBB_C_COUNT; i++) {
		h = xbb_ctr_get(hist, (enum xbb_ctr)i);
		v = xbb_ctr_get(ring, (enum xbb_ctr)i);
		switch (xbb_stat_map[i].kind) {
		case XBB_K_SUM:
			xbb_ctr_set(hist, (enum xbb_ctr)i, h + v);
			break;
		case XBB_K_MAX:
			xbb_ctr_set(hist, (enum xbb_ctr)i, XU_MAX(h, v));
			break;
		case XBB_K_GAUGE:
			break;
		}
	}
}

void
xbb_stats_fill(const struct xbb_dev *dev, int ring, struct xbb_stats *st)
{
	const struct xbb_opts *o = &dev->xb_bk->bk_opts;
	unsigned int i;

	memset(st, 0, sizeof(*st));
	st->st_state = (uint64_t)dev->xb_written;
	st->st_connects = dev->xb_connects;
	st->st_rings = dev->xb_nrings;
	st->st_ring_pages = dev->xb_npages;
	st->st_abi = dev->xb_abi == XRING_ABI_X86_32;
	st->st_persistent = dev->xb_persistent;
	st->st_grant_copy = o->o_grant_copy;
	st->st_direct = dev->xb_store.so_direct;
	st->st_max_indirect = o->o_max_indirect_segs;
	st->st_sectors = atomic_load(&dev->xb_sectors);
	st->st_sector_size = dev->xb_store.so_sector_size;
	st->st_phys_sector_size = dev->xb_store.so_phys_size;
	st->st_readonly = dev->xb_readonly;
	st->st_discard = o->o_discard && dev->xb_discard_enable &&
	    dev->xb_store.so_discard && !dev->xb_readonly;
	st->st_failed = atomic_load(&dev->xb_failed);
	st->st_fail_errno = (uint64_t)atomic_load(&dev->xb_fail_errno);
	if (ring >= 0) {
		xbb_stats_add(st, &dev->xb_rings[ring].rg_ctrs, true);
		return;
	}
	xbb_stats_add(st, &dev->xb_hist, false);
	for (i = 0; i < dev->xb_nrings; i++)
		xbb_stats_add(st, &dev->xb_rings[i].rg_ctrs, true);
}
