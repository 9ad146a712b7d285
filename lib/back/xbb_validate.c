/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Request validation: pure functions of one request (already copied out
 * of the shared ring, so the frontend cannot change it under us) and of
 * the device's limits.  Nothing here touches a grant, a file or a
 * counter, which is what lets fuzz/fuzz_xbb_req.c drive it with
 * arbitrary bytes.  The checks are Linux blkback's (dispatch_rw_block_io,
 * xen_vbd_translate) and QEMU's (xen_block_parse_request) together:
 * operation, segment counts, segment bounds, the sector range with
 * overflow checks, alignment to the logical block size and read-only
 * refusal.  All sector numbers are 512-byte units (xbb.h).
 */

#include <errno.h>
#include <string.h>

#include "xbb_internal.h"

/* Is [sector, sector + nsect) inside a disk of `sectors` sectors? */
static bool
xbb_range_ok(uint64_t sector, uint64_t nsect, uint64_t sectors)
{
	/* Written so that sector_number = 2^64 - 1 cannot wrap. */
	return (sector <= sectors && nsect <= sectors - sector);
}

/* READ, WRITE, FLUSH_DISKCACHE and WRITE_BARRIER share a layout. */
static int
xbb_check_rw(const struct xbb_limits *l, const struct blkif_request *rw,
    struct xbb_reqinfo *ri)
{
	bool data_optional;

	ri->ri_id = rw->id;
	ri->ri_sector = rw->sector_number;
	ri->ri_nseg = rw->nr_segments;
	data_optional = ri->ri_op == BLKIF_OP_FLUSH_DISKCACHE ||
	    ri->ri_op == BLKIF_OP_WRITE_BARRIER;
	if (ri->ri_op == BLKIF_OP_FLUSH_DISKCACHE && !l->l_flush)
		return (-EOPNOTSUPP);
	if (ri->ri_op == BLKIF_OP_WRITE_BARRIER && !l->l_barrier)
		return (-EOPNOTSUPP);
	/* Only a flush or barrier may come without data. */
	if ((ri->ri_nseg == 0 && !data_optional) ||
	    ri->ri_nseg > XBB_DIRECT_SEGS)
		return (-EINVAL);
	/* A flush or barrier carrying data writes it. */
	if (l->l_readonly && ri->ri_op != BLKIF_OP_READ && ri->ri_nseg > 0)
		return (-EROFS);
	return (0);
}

static int
xbb_check_discard(const struct xbb_limits *l,
    const struct blkif_request_discard *d, struct xbb_reqinfo *ri)
{
	uint64_t gran;

	ri->ri_id = d->id;
	ri->ri_sector = d->sector_number;
	ri->ri_nsect = d->nr_sectors;
	ri->ri_secure = (d->flag & BLKIF_DISCARD_SECURE) != 0;
	if (!l->l_discard)
		return (-EOPNOTSUPP);
	if ((d->flag & ~BLKIF_DISCARD_SECURE) != 0)
		return (-EINVAL);
	if (ri->ri_secure && !l->l_discard_secure)
		return (-EOPNOTSUPP);
	if (l->l_readonly)
		return (-EROFS);
	if (ri->ri_nsect == 0)
		return (-EINVAL);
	if (!xbb_range_ok(ri->ri_sector, ri->ri_nsect, l->l_sectors))
		return (-ERANGE);
	/*
	 * Only the logical block is an alignment a discard must keep, as
	 * Linux blkback requires: discard-granularity is a hint, and Linux
	 * blkfront passes on finer discards (mkfs.ext4 with 1 KiB blocks
	 * sends them).  Punching a hole rounds inward on its own.
	 */
	gran = l->l_sector_size >> XBD_SECTOR_SHIFT;
	if (gran == 0 || ri->ri_sector % gran != 0 || ri->ri_nsect % gran != 0)
		return (-EINVAL);
	return (0);
}

static int
xbb_check_indirect(const struct xbb_limits *l,
    const struct blkif_request_indirect *in, struct xbb_reqinfo *ri)
{
	ri->ri_id = in->id;
	ri->ri_sector = in->sector_number;
	ri->ri_nseg = in->nr_segments;
	ri->ri_indirect = true;
	if (l->l_max_indirect == 0)
		return (-EOPNOTSUPP);
	/* Only reads and writes may be indirect (B6). */
	if (in->indirect_op != BLKIF_OP_READ &&
	    in->indirect_op != BLKIF_OP_WRITE)
		return (-EINVAL);
	/* The response carries the inner operation, as Linux expects. */
	ri->ri_op = ri->ri_rsp_op = in->indirect_op;
	if (ri->ri_nseg == 0 || ri->ri_nseg > l->l_max_indirect ||
	    ri->ri_nseg > XBB_MAX_INDIRECT_SEGS)
		return (-EINVAL);
	ri->ri_nind = xbb_indirect_pages(ri->ri_nseg);
	if (l->l_readonly && ri->ri_op == BLKIF_OP_WRITE)
		return (-EROFS);
	return (0);
}

int
xbb_req_check(const struct xbb_limits *l, const union xring_req *req,
    struct xbb_reqinfo *ri)
{
	memset(ri, 0, sizeof(*ri));
	/* The operation is read once, from our private copy (XSA-155). */
	ri->ri_op = ri->ri_rsp_op = req->rw.operation;
	switch (ri->ri_op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
	case BLKIF_OP_FLUSH_DISKCACHE:
	case BLKIF_OP_WRITE_BARRIER:
		return (xbb_check_rw(l, &req->rw, ri));
	case BLKIF_OP_DISCARD:
		return (xbb_check_discard(l, &req->discard, ri));
	case BLKIF_OP_INDIRECT:
		return (xbb_check_indirect(l, &req->indirect, ri));
	default:
		/* RESERVED_1 (4) and 7..255: answer, never crash (B5). */
		ri->ri_id = req->rw.id;
		return (-EOPNOTSUPP);
	}
}

int
xbb_seg_check(const struct xbb_limits *l,
    const struct blkif_request_segment *segs, struct xbb_reqinfo *ri)
{
	uint64_t nsect = 0, per_block;
	uint32_t i;
	uint8_t first, last;

	for (i = 0; i < ri->ri_nseg; i++) {
		first = segs[i].first_sect;
		last = segs[i].last_sect;
		if (first > last || last >= XBD_SECTORS_PER_PAGE)
			return (-EINVAL);
		nsect += (uint64_t)(last - first) + 1;
	}
	ri->ri_nsect = nsect;
	/* sector-size is an alignment requirement on start and length. */
	per_block = l->l_sector_size >> XBD_SECTOR_SHIFT;
	if (per_block == 0 || ri->ri_sector % per_block != 0 ||
	    nsect % per_block != 0)
		return (-EINVAL);
	if (!xbb_range_ok(ri->ri_sector, nsect, l->l_sectors))
		return (-ERANGE);
	return (0);
}
