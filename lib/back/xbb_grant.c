/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * How a request reaches the frontend's data pages.  Three ways, chosen
 * at connect:
 *
 *  - map (default): each segment's grant is mapped for the duration of
 *    the request and the mapped pages are the I/O buffers, so readv and
 *    writev move data straight between the disk and the guest;
 *  - map, persistent (feature-persistent): grants stay mapped across
 *    requests in a bounded per-ring cache keyed by reference, evicting
 *    the least recently used unpinned grant when full, unmapped at
 *    disconnect.  Persistent grants are mapped writable, which is why
 *    the protocol requires a frontend using them to grant writable;
 *  - copy (o_grant_copy): data is grant-copied through private bounce
 *    pages, as QEMU does, so no guest page is ever mapped.
 *
 * With O_DIRECT, a request whose segments the storage cannot take
 * directly (alignment) is bounced through the same pool.  Batched maps
 * report a status per element; on a partial failure exactly the
 * elements that mapped are unmapped (XSA-361/362/365) and the request
 * is answered ERROR.
 *
 * The bounce pool and the cache are plain data structures (no grant
 * calls), tested directly by tests/unit/test_xbb_grant.c.
 */

#include <sys/mman.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xbb_internal.h"

/* ---------------------------------------------------------------------
 * Bounce pool
 */

#define XBB_POOL_WORD_BITS 64

int
xbb_pool_init(struct xbb_pool *bp, uint32_t npages)
{
	uint32_t words, i;
	void *base;

	memset(bp, 0, sizeof(*bp));
	if (npages == 0)
		return (0);
	words = (npages + XBB_POOL_WORD_BITS - 1) / XBB_POOL_WORD_BITS;
	if ((bp->bp_bitmap = calloc(words, sizeof(uint64_t))) == NULL)
		return (-ENOMEM);
	/* Anonymous memory: touched (and so backed) only when used. */
	base = mmap(NULL, (size_t)npages * XBD_PAGE_SIZE,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		free(bp->bp_bitmap);
		bp->bp_bitmap = NULL;
		return (-ENOMEM);
	}
	bp->bp_base = base;
	bp->bp_npages = bp->bp_free = npages;
	/* Bits past the last page are permanently "in use". */
	for (i = npages; i < words * XBB_POOL_WORD_BITS; i++)
		bp->bp_bitmap[i / XBB_POOL_WORD_BITS] |= 1ull
		    << (i % XBB_POOL_WORD_BITS);
	return (0);
}

void
xbb_pool_fini(struct xbb_pool *bp)
{
	if (bp->bp_base != NULL)
		munmap(bp->bp_base, (size_t)bp->bp_npages * XBD_PAGE_SIZE);
	free(bp->bp_bitmap);
	memset(bp, 0, sizeof(*bp));
}

static bool
xbb_pool_busy(const struct xbb_pool *bp, uint32_t page)
{
	return ((bp->bp_bitmap[page / XBB_POOL_WORD_BITS] >>
		    (page % XBB_POOL_WORD_BITS)) &
	    1);
}

static void
xbb_pool_mark(struct xbb_pool *bp, uint32_t first, uint32_t n, bool busy)
{
	uint32_t i;
	uint64_t bit;

	for (i = first; i < first + n; i++) {
		bit = 1ull << (i % XBB_POOL_WORD_BITS);
		XU_ASSERT(((bp->bp_bitmap[i / XBB_POOL_WORD_BITS] & bit) !=
			      0) != busy,
		    ("pool page %u already %s", i, busy ? "busy" : "free"));
		if (busy)
			bp->bp_bitmap[i / XBB_POOL_WORD_BITS] |= bit;
		else
			bp->bp_bitmap[i / XBB_POOL_WORD_BITS] &= ~bit;
	}
}

int
xbb_pool_get(struct xbb_pool *bp, uint32_t n, uint32_t *first)
{
	uint32_t i, run = 0;
	uint64_t word;

	if (n == 0 || n > bp->bp_free)
		return (-ENOSPC);
	for (i = 0; i < bp->bp_npages;) {
		word = bp->bp_bitmap[i / XBB_POOL_WORD_BITS];
		/* Whole words first: the common full and empty cases. */
		if (i % XBB_POOL_WORD_BITS == 0 && word == UINT64_MAX) {
			run = 0;
			i += XBB_POOL_WORD_BITS;
			continue;
		}
		if (i % XBB_POOL_WORD_BITS == 0 && word == 0 &&
		    run + XBB_POOL_WORD_BITS < n) {
			run += XBB_POOL_WORD_BITS;
			i += XBB_POOL_WORD_BITS;
			continue;
		}
		if (xbb_pool_busy(bp, i))
			run = 0;
		else if (++run == n) {
			*first = i + 1 - n;
			xbb_pool_mark(bp, *first, n, true);
			bp->bp_free -= n;
			return (0);
		}
		i++;
	}
	return (-ENOSPC);
}

void
xbb_pool_put(struct xbb_pool *bp, uint32_t first, uint32_t n)
{
	XU_ASSERT(first + n <= bp->bp_npages, ("pool put %u+%u", first, n));
	xbb_pool_mark(bp, first, n, false);
	bp->bp_free += n;
}

/* ---------------------------------------------------------------------
 * Persistent-grant cache
 */

static uint32_t
xbb_pgc_hash(const struct xbb_pgc *pc, grant_ref_t ref)
{
	uint32_t h = ref * 0x9e3779b1u;

	return ((h ^ (h >> 16)) & (pc->pc_nbucket - 1));
}

int
xbb_pgc_init(struct xbb_pgc *pc, uint32_t cap)
{
	uint32_t i;

	memset(pc, 0, sizeof(*pc));
	TAILQ_INIT(&pc->pc_lru);
	if (cap == 0)
		return (0);
	for (pc->pc_nbucket = 2; pc->pc_nbucket < 2 * cap;)
		pc->pc_nbucket <<= 1;
	pc->pc_ent = calloc(cap, sizeof(*pc->pc_ent));
	pc->pc_bucket = calloc(pc->pc_nbucket, sizeof(*pc->pc_bucket));
	if (pc->pc_ent == NULL || pc->pc_bucket == NULL) {
		xbb_pgc_fini(pc);
		return (-ENOMEM);
	}
	pc->pc_cap = cap;
	for (i = 0; i < cap; i++)
		pc->pc_ent[i].pg_next = i + 1 < cap ? i + 2 : 0;
	pc->pc_free = 1;
	return (0);
}

void
xbb_pgc_fini(struct xbb_pgc *pc)
{
	XU_ASSERT(pc->pc_count == 0,
	    ("%u grants left in the cache", pc->pc_count));
	free(pc->pc_ent);
	free(pc->pc_bucket);
	memset(pc, 0, sizeof(*pc));
	TAILQ_INIT(&pc->pc_lru);
}

static struct xbb_pgrant *
xbb_pgc_find(const struct xbb_pgc *pc, grant_ref_t ref)
{
	struct xbb_pgrant *pg;
	uint32_t i;

	if (pc->pc_cap == 0)
		return (NULL);
	for (i = pc->pc_bucket[xbb_pgc_hash(pc, ref)]; i != 0;
	     i = pg->pg_next) {
		pg = &pc->pc_ent[i - 1];
		if (pg->pg_map.ms_ref == ref)
			return (pg);
	}
	return (NULL);
}

struct xbb_pgrant *
xbb_pgc_get(struct xbb_pgc *pc, grant_ref_t ref)
{
	struct xbb_pgrant *pg;

	if ((pg = xbb_pgc_find(pc, ref)) == NULL)
		return (NULL);
	if (pg->pg_users++ == 0)
		TAILQ_REMOVE(&pc->pc_lru, pg, pg_lru);
	return (pg);
}

void
xbb_pgc_put(struct xbb_pgc *pc, struct xbb_pgrant *pg)
{
	XU_ASSERT(pg->pg_live && pg->pg_users > 0,
	    ("put of an unpinned grant %u", pg->pg_map.ms_ref));
	if (--pg->pg_users == 0)
		TAILQ_INSERT_TAIL(&pc->pc_lru, pg, pg_lru);
}

struct xbb_pgrant *
xbb_pgc_insert(struct xbb_pgc *pc, const struct plat_map_seg *map)
{
	struct xbb_pgrant *pg;
	uint32_t idx, h;

	if (pc->pc_free == 0 || xbb_pgc_find(pc, map->ms_ref) != NULL)
		return (NULL);
	idx = pc->pc_free - 1;
	pg = &pc->pc_ent[idx];
	pc->pc_free = pg->pg_next;
	h = xbb_pgc_hash(pc, map->ms_ref);
	pg->pg_map = *map;
	pg->pg_users = 1;
	pg->pg_live = true;
	pg->pg_next = pc->pc_bucket[h];
	pc->pc_bucket[h] = idx + 1;
	pc->pc_count++;
	return (pg);
}

/* Unlink pg from its chain and return its slot to the free list. */
static void
xbb_pgc_remove(struct xbb_pgc *pc, struct xbb_pgrant *pg)
{
	uint32_t idx = (uint32_t)(pg - pc->pc_ent) + 1;
	uint32_t *link = &pc->pc_bucket[xbb_pgc_hash(pc, pg->pg_map.ms_ref)];

	while (*link != idx) {
		XU_ASSERT(*link != 0,
		    ("grant %u not in its chain", pg->pg_map.ms_ref));
		link = &pc->pc_ent[*link - 1].pg_next;
	}
	*link = pg->pg_next;
	pg->pg_live = false;
	pg->pg_users = 0;
	pg->pg_next = pc->pc_free;
	pc->pc_free = idx;
	pc->pc_count--;
}

int
xbb_pgc_evict(struct xbb_pgc *pc, struct plat_map_seg *out)
{
	struct xbb_pgrant *pg;

	if ((pg = TAILQ_FIRST(&pc->pc_lru)) == NULL)
		return (-ENOENT);
	TAILQ_REMOVE(&pc->pc_lru, pg, pg_lru);
	*out = pg->pg_map;
	xbb_pgc_remove(pc, pg);
	return (0);
}

int
xbb_pgc_drain(struct xbb_pgc *pc, struct plat_map_seg *out)
{
	uint32_t i;

	if (xbb_pgc_evict(pc, out) == 0)
		return (0);
	/* Pinned grants only remain if a request was abandoned. */
	for (i = 0; i < pc->pc_cap; i++) {
		if (pc->pc_ent[i].pg_live) {
			*out = pc->pc_ent[i].pg_map;
			xbb_pgc_remove(pc, &pc->pc_ent[i]);
			return (0);
		}
	}
	return (-ENOENT);
}

/* ---------------------------------------------------------------------
 * Grants of one request
 */

static struct plat *
xbb_ring_plat(const struct xbb_ring *r)
{
	return (r->rg_dev->xb_bk->bk_plat);
}

/* Does the request move data from the guest to the disk? */
static bool
xbb_req_writes(const struct xbb_req *req)
{
	return (req->br_info.ri_op != BLKIF_OP_READ);
}

static size_t
xbb_seg_off(const struct blkif_request_segment *seg)
{
	return ((size_t)seg->first_sect << XBD_SECTOR_SHIFT);
}

static size_t
xbb_seg_len(const struct blkif_request_segment *seg)
{
	return (
	    (size_t)(seg->last_sect - seg->first_sect + 1) << XBD_SECTOR_SHIFT);
}

/* Would O_DIRECT refuse the segments as they lie in the guest pages? */
static bool
xbb_req_misaligned(const struct xbb_store *so, const struct xbb_req *req)
{
	uint32_t i;

	/* A kind that takes one buffer (libnbd) gets scattered pages so. */
	if (so->so_contig && req->br_info.ri_nseg > 1)
		return (true);
	if (!so->so_direct)
		return (false);
	for (i = 0; i < req->br_info.ri_nseg; i++)
		if (xbb_seg_off(&req->br_segs[i]) % so->so_dio_mem != 0 ||
		    xbb_seg_len(&req->br_segs[i]) % so->so_dio_off != 0)
			return (true);
	return (false);
}

/* Build iovecs over mapped segment pages. */
static void
xbb_iov_set(struct xbb_req *req, uint32_t i, void *page)
{
	req->br_iov[i].iov_base =
	    (uint8_t *)page + xbb_seg_off(&req->br_segs[i]);
	req->br_iov[i].iov_len = xbb_seg_len(&req->br_segs[i]);
}

/* Map every segment for this request only. */
static int
xbb_map_oneshot(struct xbb_ring *r, struct xbb_req *req)
{
	uint32_t i, n = req->br_info.ri_nseg, ok = 0;
	int rc;

	for (i = 0; i < n; i++) {
		req->br_map[i].ms_ref = req->br_segs[i].gref;
		req->br_map[i].ms_status = GNTST_general_error;
		req->br_map[i].ms_addr = NULL;
	}
	/* A read writes into the guest's pages; anything else only reads. */
	rc = plat_map_batch(xbb_ring_plat(r), r->rg_dev->xb_feid, n,
	    !xbb_req_writes(req), req->br_map);
	req->br_nmap = n;
	for (i = 0; i < n; i++)
		ok += req->br_map[i].ms_status == GNTST_okay;
	xbb_ctr_add(&r->rg_ctrs, XBB_C_MAPS, ok);
	if (rc != 0 || ok != n) {
		/* Exactly the elements that mapped (XSA-361). */
		plat_unmap_batch(xbb_ring_plat(r), n, req->br_map);
		req->br_nmap = 0;
		return (-EFAULT);
	}
	for (i = 0; i < n; i++)
		xbb_iov_set(req, i, req->br_map[i].ms_addr);
	return (0);
}

/* Put a freshly mapped grant in the cache, evicting for room. */
struct xbb_pgrant *
xbb_pgc_adopt(struct xbb_ring *r, const struct plat_map_seg *map)
{
	struct plat_map_seg old;
	struct xbb_pgrant *pg;

	if ((pg = xbb_pgc_insert(&r->rg_pgc, map)) != NULL)
		return (pg);
	if (r->rg_pgc.pc_count < r->rg_pgc.pc_cap)
		return (NULL); /* the same ref twice in one request */
	if (xbb_pgc_evict(&r->rg_pgc, &old) != 0)
		return (NULL); /* every cached grant is in use */
	plat_unmap_batch(xbb_ring_plat(r), 1, &old);
	xbb_ctr_add(&r->rg_ctrs, XBB_C_PGRANT_EVICTIONS, 1);
	return (xbb_pgc_insert(&r->rg_pgc, map));
}

/*
 * Persistent mode: cached grants are pinned, the others mapped writable
 * in one batch and adopted by the cache when there is room; those it
 * cannot take stay one-shot mappings of this request.
 */
static int
xbb_map_persistent(struct xbb_ring *r, struct xbb_req *req)
{
	struct xbb_pgrant *pg;
	uint32_t i, k, n = req->br_info.ri_nseg, nmiss = 0, ok = 0;
	int rc;

	req->br_npg = req->br_nmap = 0;
	for (i = 0; i < n; i++) {
		pg = xbb_pgc_get(&r->rg_pgc, req->br_segs[i].gref);
		if (pg != NULL) {
			req->br_pg[req->br_npg++] = pg;
			xbb_iov_set(req, i, pg->pg_map.ms_addr);
			continue;
		}
		/* Remember which miss this segment is, in its iovec. */
		req->br_iov[i].iov_base = NULL;
		req->br_iov[i].iov_len = nmiss;
		req->br_map[nmiss].ms_ref = req->br_segs[i].gref;
		req->br_map[nmiss].ms_status = GNTST_general_error;
		req->br_map[nmiss].ms_addr = NULL;
		nmiss++;
	}
	xbb_ctr_add(&r->rg_ctrs, XBB_C_PGRANT_HITS, req->br_npg);
	xbb_ctr_add(&r->rg_ctrs, XBB_C_PGRANT_MISSES, nmiss);
	if (nmiss == 0)
		return (0);
	rc = plat_map_batch(xbb_ring_plat(r), r->rg_dev->xb_feid, nmiss, true,
	    req->br_map);
	for (k = 0; k < nmiss; k++)
		ok += req->br_map[k].ms_status == GNTST_okay;
	xbb_ctr_add(&r->rg_ctrs, XBB_C_MAPS, ok);
	if (rc != 0 || ok != nmiss) {
		plat_unmap_batch(xbb_ring_plat(r), nmiss, req->br_map);
		for (i = 0; i < req->br_npg; i++)
			xbb_pgc_put(&r->rg_pgc, req->br_pg[i]);
		req->br_npg = 0;
		return (-EFAULT);
	}
	req->br_nmap = nmiss;
	/* Point the missed segments at their pages before adopting. */
	for (i = 0; i < n; i++) {
		if (req->br_iov[i].iov_base != NULL)
			continue;
		k = (uint32_t)req->br_iov[i].iov_len;
		xbb_iov_set(req, i, req->br_map[k].ms_addr);
	}
	for (k = 0; k < nmiss; k++) {
		if ((pg = xbb_pgc_adopt(r, &req->br_map[k])) == NULL) {
			xbb_ctr_add(&r->rg_ctrs, XBB_C_PGRANT_FULL, 1);
			continue;
		}
		req->br_pg[req->br_npg++] = pg;
		/* The cache owns it now: the batch unmap must skip it. */
		req->br_map[k].ms_status = GNTST_general_error;
	}
	xbb_ctr_set(&r->rg_ctrs, XBB_C_PGRANTS, r->rg_pgc.pc_count);
	return (0);
}

/* Grant-copy the segments between the guest and the bounce run. */
static int
xbb_copy_segs(struct xbb_ring *r, struct xbb_req *req, bool to_guest)
{
	struct plat_copy_seg *cs = r->rg_copyseg;
	uint8_t *buf = xbb_pool_addr(&r->rg_pool, req->br_bounce);
	uint32_t i, n = req->br_info.ri_nseg;
	size_t off = 0;

	for (i = 0; i < n; i++) {
		cs[i].cs_local = buf + off;
		cs[i].cs_ref = req->br_segs[i].gref;
		cs[i].cs_offset = (uint16_t)xbb_seg_off(&req->br_segs[i]);
		cs[i].cs_len = (uint16_t)xbb_seg_len(&req->br_segs[i]);
		cs[i].cs_to_foreign = to_guest;
		cs[i].cs_status = GNTST_general_error;
		off += cs[i].cs_len;
	}
	xbb_ctr_add(&r->rg_ctrs, XBB_C_COPIES, n);
	xbb_ctr_add(&r->rg_ctrs, XBB_C_BOUNCE_BYTES, off);
	if (plat_copy(xbb_ring_plat(r), r->rg_dev->xb_feid, n, cs) != 0)
		return (-EFAULT);
	return (0);
}

/* O_DIRECT bounce in map mode: gather into or scatter from the run. */
static void
xbb_bounce_move(struct xbb_ring *r, struct xbb_req *req, bool to_guest)
{
	uint8_t *buf = xbb_pool_addr(&r->rg_pool, req->br_bounce);
	uint32_t i;
	size_t off = 0;

	for (i = 0; i < req->br_info.ri_nseg; i++) {
		if (to_guest)
			memcpy(req->br_iov[i].iov_base, buf + off,
			    req->br_iov[i].iov_len);
		else
			memcpy(buf + off, req->br_iov[i].iov_base,
			    req->br_iov[i].iov_len);
		off += req->br_iov[i].iov_len;
	}
	xbb_ctr_add(&r->rg_ctrs, XBB_C_BOUNCE_BYTES, off);
}

int
xbb_grant_acquire(struct xbb_ring *r, struct xbb_req *req, bool *wait)
{
	uint32_t npages;
	bool bounce;
	int rc;

	*wait = false;
	req->br_bytes = req->br_info.ri_nsect << XBD_SECTOR_SHIFT;
	req->br_niov = req->br_info.ri_nseg;
	bounce = r->rg_copy || xbb_req_misaligned(&r->rg_dev->xb_store, req);
	if (bounce) {
		npages = (uint32_t)((req->br_bytes + XBD_PAGE_SIZE - 1) /
		    XBD_PAGE_SIZE);
		XU_ASSERT(npages <= r->rg_pool.bp_npages,
		    ("request of %u pages, pool of %u", npages,
			r->rg_pool.bp_npages));
		if (xbb_pool_get(&r->rg_pool, npages, &req->br_bounce) != 0) {
			*wait = true;
			return (0);
		}
		req->br_nbounce = npages;
		req->br_bounce_iov.iov_base =
		    xbb_pool_addr(&r->rg_pool, req->br_bounce);
		req->br_bounce_iov.iov_len = req->br_bytes;
	}
	if (r->rg_copy)
		rc = xbb_req_writes(req) ? xbb_copy_segs(r, req, false) : 0;
	else if (r->rg_persistent)
		rc = xbb_map_persistent(r, req);
	else
		rc = xbb_map_oneshot(r, req);
	if (rc != 0) {
		xbb_grant_release(r, req);
		return (rc);
	}
	if (bounce && !r->rg_copy && xbb_req_writes(req))
		xbb_bounce_move(r, req, false);
	req->br_mapped = true;
	return (0);
}

int
xbb_grant_finish_read(struct xbb_ring *r, struct xbb_req *req)
{
	if (req->br_nbounce == 0)
		return (0);
	if (r->rg_copy)
		return (xbb_copy_segs(r, req, true));
	xbb_bounce_move(r, req, true);
	return (0);
}

void
xbb_grant_release(struct xbb_ring *r, struct xbb_req *req)
{
	uint32_t i;

	if (req->br_nmap > 0) {
		plat_unmap_batch(xbb_ring_plat(r), req->br_nmap, req->br_map);
		req->br_nmap = 0;
	}
	for (i = 0; i < req->br_npg; i++)
		xbb_pgc_put(&r->rg_pgc, req->br_pg[i]);
	req->br_npg = 0;
	if (req->br_nbounce > 0) {
		xbb_pool_put(&r->rg_pool, req->br_bounce, req->br_nbounce);
		req->br_nbounce = 0;
	}
	req->br_mapped = false;
}

void
xbb_grant_teardown(struct xbb_ring *r)
{
	struct plat_map_seg m;

	while (xbb_pgc_drain(&r->rg_pgc, &m) == 0)
		plat_unmap_batch(xbb_ring_plat(r), 1, &m);
	xbb_ctr_set(&r->rg_ctrs, XBB_C_PGRANTS, 0);
	xbb_pgc_fini(&r->rg_pgc);
	xbb_pool_fini(&r->rg_pool);
}
