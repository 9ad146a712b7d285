/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The granting side of the "xen" platform: memory shared through
 * gntalloc (libxengntshr), and the budget of reservable tokens that
 * stands in for grant references (see px_internal.h for why).
 *
 * A region is shared with one peer for its whole life; granting a page
 * to another domain than the region's is refused (-EINVAL), as the
 * simulator refuses memory it did not hand out.  Read-only grants cannot
 * be expressed through gntalloc after the fact: the pages stay writable
 * for the peer, which is why the platform lacks PLAT_CAP_GNT_READONLY.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/xu_assert.h"
#include "px_internal.h"

int
px_gnt_init(struct px *x)
{
	uint32_t i;

	if ((x->px_free = calloc(PX_NREFS, sizeof(*x->px_free))) == NULL)
		return (-ENOMEM);
	/* Tokens start above Xen's reserved entries, like real refs. */
	for (i = 0; i < PX_NREFS; i++)
		x->px_free[i] = PX_NREFS + GNTTAB_NR_RESERVED_ENTRIES - 1 - i;
	x->px_nfree = PX_NREFS;
	return (0);
}

void
px_gnt_fini(struct px *x)
{
	struct px_region *rg;

	while ((rg = x->px_regions) != NULL) {
		x->px_regions = rg->pr_next;
		(void)xengntshr_unshare(x->px_gs, rg->pr_addr,
		    (uint32_t)rg->pr_npages);
		free(rg->pr_refs);
		free(rg);
	}
	plat_freecb_drop(&x->px_waiters);
	free(x->px_free);
	x->px_free = NULL;
}

int
px_mem_alloc(struct plat *p, uint32_t peer, size_t npages, void **addr)
{
	struct px *x = px_of(p);
	struct px_region *rg;

	if (npages == 0 || npages > INT32_MAX)
		return (-EINVAL);
	if ((rg = calloc(1, sizeof(*rg))) == NULL ||
	    (rg->pr_refs = calloc(npages, sizeof(*rg->pr_refs))) == NULL) {
		free(rg);
		return (-ENOMEM);
	}
	rg->pr_addr =
	    xengntshr_share_pages(x->px_gs, peer, (int)npages, rg->pr_refs, 1);
	if (rg->pr_addr == NULL) {
		/* gntalloc's page limit or Xen's grant table is full. */
		free(rg->pr_refs);
		free(rg);
		return (-ENOSPC);
	}
	/* gntalloc hands out zeroed pages; the interface promises it. */
	rg->pr_npages = npages;
	rg->pr_peer = peer;
	pthread_mutex_lock(&x->px_lock);
	rg->pr_next = x->px_regions;
	x->px_regions = rg;
	pthread_mutex_unlock(&x->px_lock);
	*addr = rg->pr_addr;
	return (0);
}

void
px_mem_free(struct plat *p, void *addr, size_t npages)
{
	struct px *x = px_of(p);
	struct px_region *rg, **pp;

	pthread_mutex_lock(&x->px_lock);
	for (pp = &x->px_regions; (rg = *pp) != NULL; pp = &rg->pr_next)
		if (rg->pr_addr == addr)
			break;
	XU_ASSERT(rg != NULL && rg->pr_npages == npages,
	    ("plat_mem_free of %p (%zu pages) not allocated", addr, npages));
	*pp = rg->pr_next;
	pthread_mutex_unlock(&x->px_lock);
	/* The kernel ends each grant once the peer has unmapped the page. */
	(void)xengntshr_unshare(x->px_gs, rg->pr_addr, (uint32_t)npages);
	free(rg->pr_refs);
	free(rg);
}

int
px_gnt_reserve(struct plat *p, unsigned int n, grant_ref_t *refs)
{
	struct px *x = px_of(p);
	unsigned int i;

	pthread_mutex_lock(&x->px_lock);
	if (x->px_nfree < n) {
		pthread_mutex_unlock(&x->px_lock);
		return (-ENOSPC);
	}
	for (i = 0; i < n; i++)
		refs[i] = x->px_free[--x->px_nfree];
	pthread_mutex_unlock(&x->px_lock);
	return (0);
}

void
px_gnt_release(struct plat *p, unsigned int n, const grant_ref_t *refs)
{
	struct px *x = px_of(p);
	struct plat_freecb *run;
	unsigned int i;

	pthread_mutex_lock(&x->px_lock);
	XU_ASSERT(x->px_nfree + n <= PX_NREFS,
	    ("plat_gnt_release of %u tokens, %u free", n, x->px_nfree));
	for (i = 0; i < n; i++)
		x->px_free[x->px_nfree++] = refs[i];
	run = plat_freecb_take(&x->px_waiters, x->px_nfree);
	pthread_mutex_unlock(&x->px_lock);
	plat_freecb_run(run);
}

int
px_gnt_request_free_callback(struct plat *p, unsigned int n,
    plat_gnt_free_fn *fn, void *arg)
{
	struct px *x = px_of(p);
	int rc;

	pthread_mutex_lock(&x->px_lock);
	rc = plat_freecb_request(&x->px_waiters, x->px_nfree, n, fn, arg);
	pthread_mutex_unlock(&x->px_lock);
	/* Enough came back already: call now, without our lock. */
	if (rc > 0) {
		fn(arg);
		rc = 0;
	}
	return (rc);
}

void
px_gnt_cancel_free_callback(struct plat *p, void *arg)
{
	struct px *x = px_of(p);

	pthread_mutex_lock(&x->px_lock);
	plat_freecb_cancel(&x->px_waiters, arg);
	pthread_mutex_unlock(&x->px_lock);
}

int
px_gnt_grant(struct plat *p, grant_ref_t ref, uint32_t peer, void *page,
    bool readonly, grant_ref_t *wire)
{
	struct px *x = px_of(p);
	struct px_region *rg;
	uintptr_t a = (uintptr_t)page, base;
	int rc = -EINVAL;

	if ((a & (XBD_PAGE_SIZE - 1)) != 0)
		return (-EINVAL);
	pthread_mutex_lock(&x->px_lock);
	for (rg = x->px_regions; rg != NULL; rg = rg->pr_next) {
		base = (uintptr_t)rg->pr_addr;
		if (a < base || a - base >= rg->pr_npages * XBD_PAGE_SIZE)
			continue;
		if (rg->pr_peer == peer) {
			*wire = rg->pr_refs[(a - base) / XBD_PAGE_SIZE];
			rc = 0;
		}
		break;
	}
	pthread_mutex_unlock(&x->px_lock);
	if (rc == 0)
		atomic_fetch_add(&x->px_st.st_grants, 1);
	return (rc);
}

int
px_gnt_end(struct plat *p, grant_ref_t ref)
{
	/*
	 * Nothing to revoke: the page keeps its gntalloc grant until it is
	 * freed, and the kernel defers that while the peer maps it, so the
	 * XSA-396 hazard (reusing a page the peer still writes) cannot
	 * arise from plat_mem_free either.
	 */
	atomic_fetch_add(&px_of(p)->px_st.st_grant_ends, 1);
	return (0);
}
