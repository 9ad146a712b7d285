/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * BLKIF_OP_INDIRECT: the segment descriptors live in up to eight pages
 * the frontend grants (ceil(nr_segments / 512) of them).  They are read
 * exactly once into the request's private segment array and validated
 * only there, so a frontend rewriting its indirect pages while we parse
 * cannot change what we checked (XSA-155's second half).  In map mode
 * the pages are mapped read-only for the copy and unmapped at once; in
 * copy mode they are grant-copied, which is the same single read.  With
 * persistent grants they go through the ring's grant cache like data
 * pages (a frontend granting them writable, as persistent grants must
 * be), so that steady state maps nothing; a page that does not map
 * writable takes the one-shot read-only path.
 */

#include <errno.h>
#include <string.h>

#include "xbb_internal.h"

/* Copy the descriptors the request counts, nothing beyond. */
static void
xbb_indirect_copy(struct xbb_req *req, void *const *pages)
{
	size_t left = (size_t)req->br_info.ri_nseg * sizeof(*req->br_segs);
	uint8_t *dst = (uint8_t *)req->br_segs;
	size_t chunk;
	uint32_t i;

	for (i = 0; i < req->br_info.ri_nind; i++, left -= chunk) {
		chunk = XU_MIN(left, (size_t)XBD_PAGE_SIZE);
		memcpy(dst + (size_t)i * XBD_PAGE_SIZE, pages[i], chunk);
	}
}

/*
 * Persistent grants: the pages from the cache, mapped writable and
 * adopted on a miss.  -EAGAIN: not cacheable, use the one-shot path.
 */
static int
xbb_indirect_cached(struct xbb_ring *r, struct xbb_req *req,
    const grant_ref_t *grefs)
{
	struct xbb_pgrant *pg[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST] = { NULL };
	struct plat *p = r->rg_dev->xb_bk->bk_plat;
	uint32_t i, n = req->br_info.ri_nind, got;
	struct plat_map_seg m;
	int rc = 0;

	for (got = 0; got < n; got++) {
		if ((pg[got] = xbb_pgc_get(&r->rg_pgc, grefs[got])) != NULL) {
			xbb_ctr_add(&r->rg_ctrs, XBB_C_PGRANT_HITS, 1);
			pages[got] = pg[got]->pg_map.ms_addr;
			continue;
		}
		m.ms_ref = grefs[got];
		m.ms_status = GNTST_general_error;
		m.ms_addr = NULL;
		if (plat_map_batch(p, r->rg_dev->xb_feid, 1, true, &m) != 0) {
			plat_unmap_batch(p, 1, &m);
			rc = -EAGAIN;
			break;
		}
		xbb_ctr_add(&r->rg_ctrs, XBB_C_MAPS, 1);
		xbb_ctr_add(&r->rg_ctrs, XBB_C_PGRANT_MISSES, 1);
		if ((pg[got] = xbb_pgc_adopt(r, &m)) == NULL) {
			plat_unmap_batch(p, 1, &m);
			rc = -EAGAIN;
			break;
		}
		pages[got] = m.ms_addr;
	}
	if (rc == 0)
		xbb_indirect_copy(req, pages);
	for (i = 0; i < got; i++)
		xbb_pgc_put(&r->rg_pgc, pg[i]);
	xbb_ctr_set(&r->rg_ctrs, XBB_C_PGRANTS, r->rg_pgc.pc_count);
	return (rc);
}

int
xbb_indirect_fetch(struct xbb_ring *r, struct xbb_req *req,
    const grant_ref_t *grefs)
{
	struct plat_map_seg ms[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST] = { NULL };
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
	if (r->rg_persistent && xbb_indirect_cached(r, req, grefs) == 0)
		return (0);
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
		for (i = 0; i < n; i++)
			pages[i] = ms[i].ms_addr;
		xbb_indirect_copy(req, pages);
	}
	/* Exactly the pages that mapped are unmapped (XSA-361). */
	plat_unmap_batch(p, n, ms);
	return (rc == 0 && ok == n ? 0 : -EFAULT);
}
