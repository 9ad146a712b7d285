/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a view leases from its own domain: arena pages (plat_mem_alloc)
 * and grant references (plat_gnt_reserve, FreeBSD's
 * gnttab_alloc_grant_references model with free callbacks).
 *
 * Both allocators are process-local, as a guest kernel's are.  So that two
 * views of one domain (plat_sim_connect with attach) can never hand out the
 * same page or ref, a view first leases whole chunks of them through an owner
 * word in machine memory (a compare-exchange from 0 to its view id) and
 * allocates only inside its own chunks.  A single view simply ends up leasing
 * everything it uses. Refs 0..GNTTAB_NR_RESERVED_ENTRIES-1 belong to the
 * toolstack (console, XenStore) and are never handed out.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "hv_internal.h"

static bool
hv_lease(_Atomic uint32_t *owner, uint32_t id)
{
	uint32_t zero = 0;

	return (atomic_compare_exchange_strong(owner, &zero, id));
}

static void
hv_unlease(_Atomic uint32_t *owner, uint32_t id)
{
	uint32_t cur = id;

	(void)atomic_compare_exchange_strong(owner, &cur, 0);
}

int
hv_mem_init(struct hv_view *v)
{
	const struct hv_geom *g = &v->hv_shm.hv_geom;

	v->hv_page_used = calloc((g->hv_npages + 63) / 64, sizeof(uint64_t));
	v->hv_achunk_mine = calloc(g->hv_arena_chunks, 1);
	v->hv_ref_state = calloc(g->hv_nents, 1);
	v->hv_ref_free = calloc(g->hv_nents, sizeof(grant_ref_t));
	if (v->hv_page_used == NULL || v->hv_achunk_mine == NULL ||
	    v->hv_ref_state == NULL || v->hv_ref_free == NULL)
		return (-ENOMEM);
	return (0);
}

/* ---------------------------------------------------------------------
 * Arena pages
 */

static bool
hv_page_is_used(const struct hv_view *v, uint32_t pg)
{
	return ((__atomic_load_n(&v->hv_page_used[pg / 64], __ATOMIC_RELAXED) >>
			(pg % 64) &
		    1) != 0);
}

static void
hv_page_mark(struct hv_view *v, uint32_t pg, bool used)
{
	uint64_t bit = (uint64_t)1 << (pg % 64);

	if (used)
		__atomic_fetch_or(&v->hv_page_used[pg / 64], bit,
		    __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&v->hv_page_used[pg / 64], ~bit,
		    __ATOMIC_RELAXED);
}

/* Could this view allocate page pg (free here, chunk ours or unleased)? */
static bool
hv_page_usable(const struct hv_view *v, uint32_t pg)
{
	uint32_t c = pg / HV_ARENA_CHUNK;

	if (hv_page_is_used(v, pg))
		return (false);
	return (v->hv_achunk_mine[c] ||
	    atomic_load(hv_arenaown_at(&v->hv_shm, v->hv_act.hv_slot, c)) == 0);
}

/* First run of n usable pages, or UINT32_MAX.  hv_mem_lock held. */
static uint32_t
hv_page_find(const struct hv_view *v, uint32_t n)
{
	uint32_t pg, run = 0, npages = v->hv_shm.hv_geom.hv_npages;

	for (pg = 0; pg < npages; pg++) {
		run = hv_page_usable(v, pg) ? run + 1 : 0;
		if (run == n)
			return (pg + 1 - n);
	}
	return (UINT32_MAX);
}

int
hv_mem_alloc(struct plat *p, uint32_t peer, size_t npages, void **addr)
{
	struct hv_view *v = hv_view_of(p);
	const struct hv_shm *m = &v->hv_shm;
	uint32_t start, c, c0, c1, n;
	bool ok;

	if (npages == 0 || npages > m->hv_geom.hv_npages)
		return (npages == 0 ? -EINVAL : -ENOMEM);
	if (!hv_view_alive(v))
		return (-ESRCH);
	n = (uint32_t)npages;
	pthread_mutex_lock(&v->hv_mem_lock);
	for (;;) {
		if ((start = hv_page_find(v, n)) == UINT32_MAX) {
			pthread_mutex_unlock(&v->hv_mem_lock);
			return (-ENOMEM);
		}
		c0 = start / HV_ARENA_CHUNK;
		c1 = (start + n - 1) / HV_ARENA_CHUNK;
		ok = true;
		for (c = c0; c <= c1 && ok; c++) {
			if (v->hv_achunk_mine[c])
				continue;
			if (hv_lease(hv_arenaown_at(m, v->hv_act.hv_slot, c),
				v->hv_id))
				v->hv_achunk_mine[c] = 1;
			else
				ok =
				    false; /* another view won it: look again */
		}
		if (ok)
			break;
	}
	for (c = 0; c < n; c++)
		hv_page_mark(v, start + c, true);
	pthread_mutex_unlock(&v->hv_mem_lock);
	*addr = v->hv_arena + (size_t)start * XBD_PAGE_SIZE;
	memset(*addr, 0, (size_t)n * XBD_PAGE_SIZE);
	return (0);
}

void
hv_mem_free(struct plat *p, void *addr, size_t npages)
{
	struct hv_view *v = hv_view_of(p);
	uintptr_t off = (uintptr_t)addr - (uintptr_t)v->hv_arena;
	uint32_t start, i;

	if (addr == NULL || npages == 0)
		return;
	XU_ASSERT((uintptr_t)addr >= (uintptr_t)v->hv_arena &&
		off % XBD_PAGE_SIZE == 0 &&
		off / XBD_PAGE_SIZE + npages <= v->hv_shm.hv_geom.hv_npages,
	    ("plat_mem_free of memory not from plat_mem_alloc"));
	start = (uint32_t)(off / XBD_PAGE_SIZE);
	pthread_mutex_lock(&v->hv_mem_lock);
	for (i = 0; i < npages; i++) {
		XU_ASSERT(hv_page_is_used(v, start + i),
		    ("plat_mem_free of a free page %u", start + i));
		hv_page_mark(v, start + i, false);
	}
	pthread_mutex_unlock(&v->hv_mem_lock);
	/* Give the memory back; a hole also reads as zeroes. */
	(void)fallocate(v->hv_arena_fd,
	    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
	    (off_t)(npages * XBD_PAGE_SIZE));
}

/* ---------------------------------------------------------------------
 * Grant references
 */

/* Lease chunk c of our grant table and put its refs on the free list. */
static bool
hv_ref_lease(struct hv_view *v, uint32_t c)
{
	const struct hv_shm *m = &v->hv_shm;
	uint32_t r, lo, hi;

	if (!hv_lease(hv_refown_at(m, v->hv_act.hv_slot, c), v->hv_id))
		return (false);
	lo = XU_MAX(c * HV_REF_CHUNK, GNTTAB_NR_RESERVED_ENTRIES);
	hi = XU_MIN((c + 1) * HV_REF_CHUNK, m->hv_geom.hv_nents);
	for (r = lo; r < hi; r++) {
		/* Still granted by a view that went away: never reuse. */
		if ((__atomic_load_n(
			 hv_gent_word(hv_gent_at(m, v->hv_act.hv_slot, r)),
			 __ATOMIC_ACQUIRE) &
			0xffffu) != 0) {
			__atomic_store_n(&v->hv_ref_state[r], HV_REF_STUCK,
			    __ATOMIC_RELAXED);
			continue;
		}
		__atomic_store_n(&v->hv_ref_state[r], HV_REF_FREE,
		    __ATOMIC_RELAXED);
		v->hv_ref_free[v->hv_ref_nfree++] = r;
		v->hv_ref_nleased++;
	}
	return (true);
}

int
hv_gnt_reserve(struct plat *p, unsigned int n, grant_ref_t *refs)
{
	struct hv_view *v = hv_view_of(p);
	uint32_t c, i;

	if (!hv_view_alive(v))
		return (-ESRCH);
	pthread_mutex_lock(&v->hv_ref_lock);
	for (c = 0; v->hv_ref_nfree < n && c < v->hv_shm.hv_geom.hv_ref_chunks;
	     c++)
		if (atomic_load(
			hv_refown_at(&v->hv_shm, v->hv_act.hv_slot, c)) == 0)
			(void)hv_ref_lease(v, c);
	if (v->hv_ref_nfree < n) {
		pthread_mutex_unlock(&v->hv_ref_lock);
		return (-ENOSPC);
	}
	for (i = 0; i < n; i++) {
		refs[i] = v->hv_ref_free[--v->hv_ref_nfree];
		__atomic_store_n(&v->hv_ref_state[refs[i]], HV_REF_RESERVED,
		    __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&v->hv_ref_lock);
	return (0);
}

void
hv_gnt_release(struct plat *p, unsigned int n, const grant_ref_t *refs)
{
	struct hv_view *v = hv_view_of(p);
	struct plat_freecb *run;
	unsigned int i;

	pthread_mutex_lock(&v->hv_ref_lock);
	for (i = 0; i < n; i++) {
		XU_ASSERT(refs[i] < v->hv_shm.hv_geom.hv_nents &&
			v->hv_ref_state[refs[i]] == HV_REF_RESERVED,
		    ("plat_gnt_release of ref %u not reserved", refs[i]));
		__atomic_store_n(&v->hv_ref_state[refs[i]], HV_REF_FREE,
		    __ATOMIC_RELAXED);
		v->hv_ref_free[v->hv_ref_nfree++] = refs[i];
	}
	run = plat_freecb_take(&v->hv_freecbs, v->hv_ref_nfree);
	pthread_mutex_unlock(&v->hv_ref_lock);
	plat_freecb_run(run);
}

/* Free refs this view has or could still lease.  hv_ref_lock held. */
static uint64_t
hv_ref_available(struct hv_view *v)
{
	const struct hv_shm *m = &v->hv_shm;
	uint64_t n = v->hv_ref_nfree;
	uint32_t c, lo, hi;

	for (c = 0; c < m->hv_geom.hv_ref_chunks; c++) {
		if (atomic_load(hv_refown_at(m, v->hv_act.hv_slot, c)) != 0)
			continue;
		lo = XU_MAX(c * HV_REF_CHUNK, GNTTAB_NR_RESERVED_ENTRIES);
		hi = XU_MIN((c + 1) * HV_REF_CHUNK, m->hv_geom.hv_nents);
		n += hi > lo ? hi - lo : 0;
	}
	return (n);
}

int
hv_gnt_request_free_callback(struct plat *p, unsigned int n,
    plat_gnt_free_fn *fn, void *arg)
{
	struct hv_view *v = hv_view_of(p);
	int rc;

	pthread_mutex_lock(&v->hv_ref_lock);
	rc = plat_freecb_request(&v->hv_freecbs, hv_ref_available(v), n, fn,
	    arg);
	pthread_mutex_unlock(&v->hv_ref_lock);
	/*
	 * Enough came back between the caller's failed reserve and this
	 * request: call now, on this thread, without our locks.
	 */
	if (rc > 0) {
		fn(arg);
		rc = 0;
	}
	return (rc);
}

void
hv_gnt_cancel_free_callback(struct plat *p, void *arg)
{
	struct hv_view *v = hv_view_of(p);

	pthread_mutex_lock(&v->hv_ref_lock);
	plat_freecb_cancel(&v->hv_freecbs, arg);
	pthread_mutex_unlock(&v->hv_ref_lock);
}

bool
hv_ref_is_reserved(struct hv_view *v, grant_ref_t ref)
{
	return (ref < v->hv_shm.hv_geom.hv_nents &&
	    __atomic_load_n(&v->hv_ref_state[ref], __ATOMIC_RELAXED) ==
		HV_REF_RESERVED);
}

void
hv_ref_counts(struct hv_view *v, uint64_t *in_use, uint64_t *total)
{
	pthread_mutex_lock(&v->hv_ref_lock);
	*in_use = v->hv_ref_nleased - v->hv_ref_nfree;
	*total = v->hv_ref_nleased - v->hv_ref_nfree + hv_ref_available(v);
	pthread_mutex_unlock(&v->hv_ref_lock);
}

/* ---------------------------------------------------------------------
 * plat_close
 */

/*
 * Return the leases.  A ref still granted is ended if the peer does not
 * use it; if the peer still maps it, its chunk and the arena chunk of its
 * page stay leased for good, so nobody reuses that page (XSA-396).
 */
void
hv_mem_fini(struct hv_view *v)
{
	const struct hv_shm *m = &v->hv_shm;
	unsigned int slot = v->hv_act.hv_slot;
	uint32_t c, r, lo, hi, frame;
	bool keep;

	if (v->hv_ref_state != NULL && v->hv_achunk_mine != NULL &&
	    hv_view_alive(v)) {
		for (c = 0; c < m->hv_geom.hv_ref_chunks; c++) {
			if (atomic_load(hv_refown_at(m, slot, c)) != v->hv_id)
				continue;
			lo = c * HV_REF_CHUNK;
			hi = XU_MIN(lo + HV_REF_CHUNK, m->hv_geom.hv_nents);
			keep = false;
			for (r = lo; r < hi; r++) {
				if (v->hv_ref_state[r] == HV_REF_NOTMINE ||
				    v->hv_ref_state[r] == HV_REF_STUCK ||
				    hv_gnt_end_quiet(v, r) != -EBUSY)
					continue;
				keep = true;
				frame = hv_gent_at(m, slot, r)->frame;
				if (frame < m->hv_geom.hv_npages)
					v->hv_achunk_mine[frame /
					    HV_ARENA_CHUNK] = 2;
			}
			if (!keep)
				hv_unlease(hv_refown_at(m, slot, c), v->hv_id);
		}
		for (c = 0; c < m->hv_geom.hv_arena_chunks; c++)
			if (v->hv_achunk_mine[c] == 1)
				hv_unlease(hv_arenaown_at(m, slot, c),
				    v->hv_id);
	}
	plat_freecb_drop(&v->hv_freecbs);
	free(v->hv_page_used);
	free(v->hv_achunk_mine);
	free(v->hv_ref_state);
	free(v->hv_ref_free);
}
