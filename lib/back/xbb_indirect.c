/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * BLKIF_OP_INDIRECT: the segment descriptors live in up to eight pages
 * the frontend grants (ceil(nr_segments / 512) of them).  They are read
 * exactly once into the request's private segment array and validated
 * only there, so a frontend rewriting its indirect pages while we parse
 * cannot change what we checked (XSA-155's second half).  In map mode
 * the pages are mapped read-only for the copy and unmapped at once; in
 * copy mode they are grant-copied, which is the same single read.
 */

#include <errno.h>
#include <string.h>

#include "xbb_internal.h"

int
xbb_indirect_fetch(struct xbb_ring *r, struct xbb_req *req,
    const grant_ref_t *grefs)
{
	struct plat_map_seg ms[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	struct plat *p = r->rg_dev->xb_bk->bk_plat;
	uint32_t i, n = req->br_info.ri_nind, ok = 0;
	size_t left = (size_t)req->br_info.ri_nseg * sizeof(*req->br_segs);
	size_t chunk;
	uint8_t *dst = (uint8_t *)req->br_segs;
	int rc;

	XU_ASSERT(n >= 1 && n <= BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST,
	    ("%u indirect pages", n));
	if (r->rg_copy) {
		for (i = 0; i < n; i++, left -= chunk) {
			chunk = XU_MIN(left, (size_t)XBD_PAGE_SIZE);
			r->rg_copyseg[i].cs_local =
			    dst + (size_t)i * XBD_PAGE_SIZE;
			r->rg_copyseg[i].cs_ref = grefs[i];
			r->rg_copyseg[i].cs_offset = 0;
			r->rg_copyseg[i].cs_len = (uint16_t)chunk;
			r->rg_copyseg[i].cs_to_foreign = false;
			r->rg_copyseg[i].cs_status = GNTST_general_error;
		}
		xbb_ctr_add(&r->rg_ctrs, XBB_C_COPIES, n);
		return (
		    plat_copy(p, r->rg_dev->xb_feid, n, r->rg_copyseg) == 0 ?
			0 :
			-EFAULT);
	}
	for (i = 0; i < n; i++) {
		ms[i].ms_ref = grefs[i];
		ms[i].ms_status = GNTST_general_error;
		ms[i].ms_addr = NULL;
	}
	rc = plat_map_batch(p, r->rg_dev->xb_feid, n, false, ms);
	for (i = 0; i < n; i++)
		ok += ms[i].ms_status == GNTST_okay;
	xbb_ctr_add(&r->rg_ctrs, XBB_C_MAPS, ok);
	if (rc == 0 && ok == n) {
		/* Only the descriptors the request counts, nothing beyond. */
		for (i = 0; i < n; i++, left -= chunk) {
			chunk = XU_MIN(left, (size_t)XBD_PAGE_SIZE);
			memcpy(dst + (size_t)i * XBD_PAGE_SIZE, ms[i].ms_addr,
			    chunk);
		}
	}
	/* Exactly the pages that mapped are unmapped (XSA-361). */
	plat_unmap_batch(p, n, ms);
	return (rc == 0 && ok == n ? 0 : -EFAULT);
}
