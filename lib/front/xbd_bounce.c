/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Grantable memory of a device.
 *
 * The bounce pool: pages of grantable memory allocated at connect and
 * handed out to commands per request, LIFO (so that with persistent
 * grants the backend keeps reusing the same few mappings).  Data of a
 * caller's buffer that the backend cannot reach in place, or must not
 * (an untrusted backend, XSA-403), is copied through it.  A pool that
 * runs dry freezes the queue exactly like a grant-reference shortage.
 * With persistent grants every pool page is granted once, writable, at
 * connect, and requests name those references.
 *
 * Zero-copy buffers: xbd_buf_alloc() hands out pages of a second
 * grantable region; bios whose data lies there are granted in place.
 * With persistent grants the whole region is granted once, writable, by
 * the first request that uses it on a connection, so that such data is
 * neither copied nor granted per request: the backend keeps the pages
 * mapped in its persistent-grant cache.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xbd_internal.h"

/*
 * Pages of the zero-copy region (allocated on first xbd_buf_alloc): 16 MiB,
 * enough for a queue of 16 maximal requests.
 */
#define XBD_ZC_PAGES 4096u

void *
xbd_bounce_page(struct xbd_softc *sc, uint32_t idx)
{
	XU_ASSERT(idx < sc->xbd_bounce_npages, ("bounce page %u", idx));
	return ((char *)sc->xbd_bounce_mem + (size_t)idx * XBD_PAGE_SIZE);
}

/*
 * Allocate (and with persistent grants, grant) the pool.  Called at
 * connect, without the lock: nothing uses the pool yet.
 */
int
xbd_bounce_alloc(struct xbd_softc *sc)
{
	uint32_t n, need, i;
	int rc;

	need = sc->xbd_nqueues * sc->xbd_max_requests *
	    (sc->xbd_max_request_segments - 1);
	n = sc->xbd_opts.o_bounce_pages;
	if (n == 0)
		n = XU_MIN(need, XBD_DEFAULT_BOUNCE_PAGES);
	/* One maximal request must always fit. */
	n = XU_MAX(n, sc->xbd_max_request_segments);
	rc = plat_mem_alloc(sc->xbd_plat, sc->xbd_otherend_id, n,
	    &sc->xbd_bounce_mem);
	if (rc != 0)
		return (rc);
	sc->xbd_bounce_npages = n;
	if ((sc->xbd_bounce_free = calloc(n, sizeof(uint32_t))) == NULL)
		goto fail_mem;
	for (i = 0; i < n; i++)
		sc->xbd_bounce_free[i] = n - 1 - i;
	sc->xbd_bounce_nfree = n;
	if ((sc->xbd_flags & XBDF_PERSISTENT) == 0)
		return (0);

	sc->xbd_bounce_refs = calloc(n, sizeof(grant_ref_t));
	sc->xbd_bounce_wire = calloc(n, sizeof(grant_ref_t));
	if (sc->xbd_bounce_refs == NULL || sc->xbd_bounce_wire == NULL) {
		rc = -ENOMEM;
		goto fail_refs;
	}
	if ((rc = plat_gnt_reserve(sc->xbd_plat, n, sc->xbd_bounce_refs)) != 0)
		goto fail_refs;
	for (i = 0; i < n; i++) {
		/* Persistent grants are always writable (blkif.h note 7). */
		rc = plat_gnt_grant(sc->xbd_plat, sc->xbd_bounce_refs[i],
		    sc->xbd_otherend_id, xbd_bounce_page(sc, i), false,
		    &sc->xbd_bounce_wire[i]);
		if (rc != 0) {
			while (i-- > 0)
				(void)plat_gnt_end(sc->xbd_plat,
				    sc->xbd_bounce_refs[i]);
			plat_gnt_release(sc->xbd_plat, n, sc->xbd_bounce_refs);
			goto fail_refs;
		}
	}
	return (0);

fail_refs:
	free(sc->xbd_bounce_refs);
	free(sc->xbd_bounce_wire);
	sc->xbd_bounce_refs = sc->xbd_bounce_wire = NULL;
	free(sc->xbd_bounce_free);
	sc->xbd_bounce_free = NULL;
fail_mem:
	plat_mem_free(sc->xbd_plat, sc->xbd_bounce_mem, n);
	sc->xbd_bounce_mem = NULL;
	sc->xbd_bounce_npages = 0;
	return (rc != 0 ? rc : -ENOMEM);
}

/*
 * End the zero-copy region's persistent grants (at disconnect).  A page
 * the backend still maps retires the whole region.
 */
static void
xbd_zc_ungrant(struct xbd_softc *sc)
{
	bool busy = false;
	uint32_t i;

	if (!sc->xbd_zc_granted)
		return;
	for (i = 0; i < sc->xbd_zc_npages; i++)
		if (plat_gnt_end(sc->xbd_plat, sc->xbd_zc_refs[i]) != 0)
			busy = true;
	if (busy)
		sc->xbd_zc_retired = true;
	else
		plat_gnt_release(sc->xbd_plat, sc->xbd_zc_npages,
		    sc->xbd_zc_refs);
	sc->xbd_zc_granted = false;
}

/*
 * Give the pool back at disconnect.  A page the backend still maps may
 * never be reused: the whole pool is then left allocated.
 */
void
xbd_bounce_release_all(struct xbd_softc *sc)
{
	bool busy = sc->xbd_pages_retired;
	uint32_t i;

	xbd_zc_ungrant(sc);
	sc->xbd_zc_refused = false;
	if (sc->xbd_bounce_mem == NULL)
		return;
	if (sc->xbd_bounce_refs != NULL) {
		for (i = 0; i < sc->xbd_bounce_npages; i++) {
			if (plat_gnt_end(sc->xbd_plat,
				sc->xbd_bounce_refs[i]) != 0)
				busy = true;
		}
		if (!busy)
			plat_gnt_release(sc->xbd_plat, sc->xbd_bounce_npages,
			    sc->xbd_bounce_refs);
	}
	if (!busy)
		plat_mem_free(sc->xbd_plat, sc->xbd_bounce_mem,
		    sc->xbd_bounce_npages);
	free(sc->xbd_bounce_refs);
	free(sc->xbd_bounce_wire);
	free(sc->xbd_bounce_free);
	sc->xbd_bounce_refs = sc->xbd_bounce_wire = NULL;
	sc->xbd_bounce_free = NULL;
	sc->xbd_bounce_mem = NULL;
	sc->xbd_bounce_npages = sc->xbd_bounce_nfree = 0;
}

/* Hand npages pool pages to cm; -ENOSPC when the pool is short. */
int
xbd_bounce_get(struct xbd_softc *sc, struct xbd_command *cm, uint32_t npages)
{
	uint32_t i;

	XU_ASSERT(cm->cm_nbounce == 0, ("command already holds pages"));
	if (sc->xbd_bounce_nfree < npages)
		return (-ENOSPC);
	for (i = 0; i < npages; i++)
		cm->cm_bounce[i] = sc->xbd_bounce_free[--sc->xbd_bounce_nfree];
	cm->cm_nbounce = npages;
	return (0);
}

/* Take cm's pool pages back (LIFO); a shortage may be over. */
void
xbd_bounce_put(struct xbd_softc *sc, struct xbd_command *cm)
{
	uint32_t i;

	if (cm->cm_nbounce == 0)
		return;
	for (i = cm->cm_nbounce; i-- > 0;)
		sc->xbd_bounce_free[sc->xbd_bounce_nfree++] = cm->cm_bounce[i];
	cm->cm_nbounce = 0;
	if ((sc->xbd_flags & XBDF_GNT_SHORTAGE) != 0 && !sc->xbd_gnt_cb_pending)
		xbd_thaw(sc, XBDF_GNT_SHORTAGE);
}

/* Free the bookkeeping arrays of the zero-copy region. */
static void
xbd_zc_free_maps(struct xbd_softc *sc)
{
	free(sc->xbd_zc_used);
	free(sc->xbd_zc_refs);
	free(sc->xbd_zc_wire);
	sc->xbd_zc_used = NULL;
	sc->xbd_zc_refs = sc->xbd_zc_wire = NULL;
}

/* Does [buf, buf + len) lie in zero-copy memory, suitably aligned? */
bool
xbd_is_zc(struct xbd_softc *sc, const void *buf, size_t len)
{
	uintptr_t b = (uintptr_t)buf, base = (uintptr_t)sc->xbd_zc_mem;
	size_t size = (size_t)sc->xbd_zc_npages * XBD_PAGE_SIZE;

	if (len == 0)
		return (true);
	if (sc->xbd_zc_mem == NULL || b < base || b - base > size ||
	    len > size - (b - base))
		return (false);
	return ((b & (XBD_SECTOR_SIZE - 1)) == 0);
}

/*
 * Persistent grants: is the zero-copy region granted on this connection?
 * The first request that needs it grants it, once; on failure (a grant
 * table too small) its data is bounced for the rest of the connection.
 * Called with the lock held.
 */
bool
xbd_zc_persistent(struct xbd_softc *sc)
{
	uint32_t i;

	if (sc->xbd_zc_granted)
		return (true);
	if (sc->xbd_zc_refs == NULL || sc->xbd_zc_retired || sc->xbd_zc_refused)
		return (false);
	sc->xbd_zc_refused = true;
	if (plat_gnt_reserve(sc->xbd_plat, sc->xbd_zc_npages,
		sc->xbd_zc_refs) != 0)
		return (false);
	for (i = 0; i < sc->xbd_zc_npages; i++) {
		/* Persistent grants are always writable (blkif.h note 7). */
		if (plat_gnt_grant(sc->xbd_plat, sc->xbd_zc_refs[i],
			sc->xbd_otherend_id,
			(char *)sc->xbd_zc_mem + (size_t)i * XBD_PAGE_SIZE,
			false, &sc->xbd_zc_wire[i]) != 0) {
			while (i-- > 0)
				(void)plat_gnt_end(sc->xbd_plat,
				    sc->xbd_zc_refs[i]);
			plat_gnt_release(sc->xbd_plat, sc->xbd_zc_npages,
			    sc->xbd_zc_refs);
			return (false);
		}
	}
	sc->xbd_zc_granted = true;
	sc->xbd_zc_refused = false;
	return (true);
}

/* The wire reference of a page of the granted zero-copy region. */
grant_ref_t
xbd_zc_wire(struct xbd_softc *sc, const void *page)
{
	size_t i =
	    ((uintptr_t)page - (uintptr_t)sc->xbd_zc_mem) / XBD_PAGE_SIZE;

	XU_ASSERT(sc->xbd_zc_granted && i < sc->xbd_zc_npages,
	    ("zero-copy page %zu", i));
	return (sc->xbd_zc_wire[i]);
}

void *
xbd_buf_alloc(struct xbd_dev *dev, size_t len)
{
	struct xbd_softc *sc = &dev->xd_sc;
	size_t need = (len + XBD_PAGE_SIZE - 1) / XBD_PAGE_SIZE, run = 0, i;
	void *mem, *p = NULL;

	if (len == 0 || need > XBD_ZC_PAGES)
		return (NULL);
	XBD_LOCK(sc);
	if (sc->xbd_zc_mem == NULL) {
		if ((sc->xbd_zc_used = calloc(XBD_ZC_PAGES, 1)) == NULL ||
		    (sc->xbd_zc_refs = calloc(XBD_ZC_PAGES,
			 sizeof(grant_ref_t))) == NULL ||
		    (sc->xbd_zc_wire = calloc(XBD_ZC_PAGES,
			 sizeof(grant_ref_t))) == NULL ||
		    plat_mem_alloc(sc->xbd_plat, sc->xbd_otherend_id,
			XBD_ZC_PAGES, &mem) != 0) {
			xbd_zc_free_maps(sc);
			XBD_UNLOCK(sc);
			return (NULL);
		}
		sc->xbd_zc_mem = mem;
		sc->xbd_zc_npages = XBD_ZC_PAGES;
	}
	/* First fit over the page map. */
	for (i = 0; i < sc->xbd_zc_npages; i++) {
		run = sc->xbd_zc_used[i] ? 0 : run + 1;
		if (run == need) {
			i = i + 1 - need;
			memset(sc->xbd_zc_used + i, 1, need);
			p = (char *)sc->xbd_zc_mem + i * XBD_PAGE_SIZE;
			break;
		}
	}
	XBD_UNLOCK(sc);
	if (p != NULL)
		memset(p, 0, need * XBD_PAGE_SIZE);
	return (p);
}

void
xbd_buf_free(struct xbd_dev *dev, void *buf, size_t len)
{
	struct xbd_softc *sc = &dev->xd_sc;
	size_t need = (len + XBD_PAGE_SIZE - 1) / XBD_PAGE_SIZE, i;

	if (buf == NULL)
		return;
	XBD_LOCK(sc);
	if (xbd_is_zc(sc, buf, len)) {
		i = ((uintptr_t)buf - (uintptr_t)sc->xbd_zc_mem) /
		    XBD_PAGE_SIZE;
		memset(sc->xbd_zc_used + i, 0, need);
	}
	XBD_UNLOCK(sc);
}

/* Free the zero-copy region at detach (the transport is gone). */
void
xbd_zc_release(struct xbd_softc *sc)
{
	xbd_zc_ungrant(sc);
	if (sc->xbd_zc_mem != NULL && !sc->xbd_zc_retired)
		plat_mem_free(sc->xbd_plat, sc->xbd_zc_mem, sc->xbd_zc_npages);
	xbd_zc_free_maps(sc);
	sc->xbd_zc_mem = NULL;
	sc->xbd_zc_npages = 0;
}
