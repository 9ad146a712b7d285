/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the backend's request intake as a hostile frontend drives
 * it, minus the grants.  The input is a request slot as the frontend
 * wrote it (taken through the ring wrapper, which converts the x86_32
 * layout), followed by the contents of its indirect pages; the first
 * byte picks the disk: ABI, read-only, sector size, what is offered.
 * Whatever the bytes, the validator must not read out of bounds, and
 * what it accepts must be inside the disk and aligned; a violation
 * aborts.
 *
 * Input: [config][slot: 112 bytes][indirect descriptors...]
 *   config bit 0  x86_32 slot layout
 *          bit 1  read-only disk
 *          bit 2  4 KiB sector size
 *          bit 3  nothing optional offered (flush, barrier, discard,
 *                 indirect)
 *          bit 4  4096 indirect segments offered (else 256)
 *          bit 5  a disk of 2^64 - 1 sectors (else 1 GiB)
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "back/xbb_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOT_BYTES sizeof(struct blkif_request)

static _Alignas(4096) unsigned char page[XBD_PAGE_SIZE];
static struct blkif_request_segment segs[XBB_MAX_INDIRECT_SEGS];

/* What an accepted request must satisfy, checked independently. */
static void
xbb_fuzz_invariants(const struct xbb_limits *l, const struct xbb_reqinfo *ri)
{
	uint64_t spb = l->l_sector_size >> XBD_SECTOR_SHIFT;

	if (ri->ri_nsect > l->l_sectors ||
	    ri->ri_sector > l->l_sectors - ri->ri_nsect)
		abort();
	if (ri->ri_sector % spb != 0 || ri->ri_nsect % spb != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xbb_limits l;
	struct xbb_reqinfo ri;
	struct xring_back b;
	struct blkif_sring *s = (struct blkif_sring *)page;
	union xring_req req;
	uint8_t cfg;
	size_t slot, n;
	int rc;

	if (size < 1)
		return (0);
	cfg = data[0];
	data++;
	size--;
	memset(&l, 0, sizeof(l));
	l.l_sectors = cfg & 0x20 ? UINT64_MAX : (1ull << 21);
	l.l_sector_size = cfg & 0x04 ? 4096 : 512;
	l.l_readonly = (cfg & 0x02) != 0;
	if (!(cfg & 0x08)) {
		l.l_flush = l.l_barrier = l.l_discard = true;
		l.l_discard_secure = (cfg & 0x40) != 0;
		l.l_discard_gran = 4096;
		l.l_max_indirect = cfg & 0x10 ? XBB_MAX_INDIRECT_SEGS : 256;
	}
	/* The frontend's slot, through the wrapper's copy/conversion. */
	memset(page, 0, sizeof(page));
	if (xring_back_init(&b, page, 1,
		cfg & 0x01 ? XRING_ABI_X86_32 : XRING_ABI_NATIVE) != 0)
		return (0);
	slot = cfg & 0x01 ? sizeof(struct blkif_x86_32_request) : SLOT_BYTES;
	memcpy((uint8_t *)s + offsetof(struct blkif_sring, ring), data,
	    XU_MIN(size, slot));
	data += XU_MIN(size, slot);
	size -= XU_MIN(size, slot);
	s->req_prod = 1;
	if (xring_back_poll(&b) != 1)
		abort();
	xring_back_take(&b, &req);
	rc = xbb_req_check(&l, &req, &ri);
	if (rc != 0) {
		if (rc != -EINVAL && rc != -ERANGE && rc != -EROFS &&
		    rc != -EOPNOTSUPP)
			abort();
		return (0);
	}
	if (ri.ri_op == BLKIF_OP_DISCARD) {
		xbb_fuzz_invariants(&l, &ri);
		if (l.l_readonly || ri.ri_nsect == 0)
			abort();
		return (0);
	}
	if (ri.ri_nseg == 0) {
		if (ri.ri_op != BLKIF_OP_FLUSH_DISKCACHE &&
		    ri.ri_op != BLKIF_OP_WRITE_BARRIER)
			abort();
		return (0);
	}
	if (ri.ri_indirect) {
		/* What the indirect pages hold: the rest of the input. */
		if (ri.ri_nseg > l.l_max_indirect ||
		    ri.ri_nind != xbb_indirect_pages(ri.ri_nseg) ||
		    ri.ri_nind > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
			abort();
		memset(segs, 0, ri.ri_nseg * sizeof(segs[0]));
		n = XU_MIN(size, ri.ri_nseg * sizeof(segs[0]));
		memcpy(segs, data, n);
		rc = xbb_seg_check(&l, segs, &ri);
	} else {
		if (ri.ri_nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST)
			abort();
		rc = xbb_seg_check(&l, req.rw.seg, &ri);
	}
	if (rc == 0) {
		xbb_fuzz_invariants(&l, &ri);
		if (l.l_readonly && ri.ri_op != BLKIF_OP_READ)
			abort();
	} else if (rc != -EINVAL && rc != -ERANGE) {
		abort();
	}
	return (0);
}
