/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The v1 grant table, as Xen implements it (docs/hypervisor.md 2.2-2.4).
 *
 * Granting side: a grant writes domid and frame, a release fence, then
 * the flags; ending access is a compare-exchange of the flags to 0 that
 * fails while GTF_reading or GTF_writing is set (XSA-396).
 *
 * Mapping side: the mapper does what Xen does on its behalf, directly on
 * the granter's table in machine memory, under the entry's active-entry
 * lock: check the granter, then on the first pin the type, the domid and
 * (for a write pin) the read-only flag with a compare-exchange on the
 * flags+domid word that also sets GTF_reading/GTF_writing; latch the
 * frame; count the pin.  Unpinning clears GTF_writing with the last write
 * pin and GTF_reading with the last pin of any kind (XSA-218/224/230).
 * A map then is pointer arithmetic in the granter's arena, which each
 * view maps once (read-write and read-only) per granter generation; a
 * contiguous map (rings) places the arena pages side by side with
 * MAP_FIXED.
 *
 * Machine side: releasing the pins of a dead domain and resetting a dead
 * domain's table (hv_dom.c calls them from hv_m_domain_destroy).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv_internal.h"

_Static_assert(HV_MAX_DOMAINS <= 256, "a maptrack entry keeps a u8 slot");

/* Pin counts packed in ge_pin. */
#define HV_PIN_R 1u
#define HV_PIN_W 0x10000u

static inline uint32_t
hv_pins_total(uint32_t pin)
{
	return ((pin & 0xffffu) + (pin >> 16));
}

/* ---------------------------------------------------------------------
 * Pins: the hypervisor's part of map, unmap and copy
 */

/*
 * Pin ref of the granter in slot gslot (generation ggen) for the actor,
 * for reading or writing.  On success *frame is the latched frame.
 * \return GNTST_okay or a GNTST_* error.
 */
static int16_t
hv_pin(const struct hv_actor *a, unsigned int gslot, uint32_t ggen,
    grant_ref_t ref, bool write, uint32_t *frame)
{
	const struct hv_shm *m = a->hv_shm;
	_Atomic uint32_t *intent;
	struct grant_entry_v1 *ge;
	struct hv_active *act;
	uint32_t pin, old, nw, flags, fr;
	int16_t st = GNTST_okay;
	bool first;
	int tries;

	if (ref >= m->hv_geom.hv_nents)
		return (GNTST_bad_gntref);
	ge = hv_gent_at(m, gslot, ref);
	act = hv_act_at(m, gslot, ref);
	/*
	 * Announce the pin before looking at generations, so that cleanup
	 * of a dying actor either sees this count or we see its new
	 * generation (hv_m_drop_pins_of).
	 */
	intent = &m->hv_hdr->hv_pins[gslot][a->hv_slot];
	atomic_fetch_add(intent, 1);
	hv_act_lock(act, a->hv_pid);
	if (!hv_dom_alive(m, a->hv_slot, a->hv_gen)) {
		st = GNTST_general_error;
		goto out;
	}
	if (!hv_dom_alive(m, gslot, ggen)) {
		st = GNTST_bad_domain;
		goto out;
	}
	pin = atomic_load(&act->ge_pin);
	first = (pin == 0);
	/* Pinned by another domain, or a counter would overflow. */
	if ((!first && act->ge_mslot != a->hv_slot) ||
	    (write ? pin >> 16 : pin & 0xffffu) == HV_PIN_MAX) {
		st = GNTST_general_error;
		goto out;
	}
	if (first || (write && (pin >> 16) == 0)) {
		for (tries = 0;; tries++) {
			if (tries == HV_GNT_RETRIES) {
				st = GNTST_general_error; /* entry unstable */
				goto out;
			}
			old =
			    __atomic_load_n(hv_gent_word(ge), __ATOMIC_ACQUIRE);
			flags = old & 0xffffu;
			if (first &&
			    ((flags & (GTF_type_mask | GTF_sub_page)) !=
				    GTF_permit_access ||
				(old >> 16) != a->hv_domid)) {
				st = GNTST_general_error;
				goto out;
			}
			if (write && (flags & GTF_readonly) != 0) {
				st = GNTST_general_error;
				goto out;
			}
			nw = old | GTF_reading | (write ? GTF_writing : 0);
			if (__atomic_compare_exchange_n(hv_gent_word(ge), &old,
				nw, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				break;
		}
	}
	if (first) {
		/* The granter wrote frame before flags (release fence). */
		fr = __atomic_load_n(&ge->frame, __ATOMIC_ACQUIRE);
		if (fr >= m->hv_geom.hv_npages) {
			__atomic_fetch_and(hv_gent_word(ge),
			    ~(uint32_t)(GTF_reading | GTF_writing),
			    __ATOMIC_ACQ_REL);
			st = GNTST_bad_page;
			goto out;
		}
		act->ge_frame = fr;
		act->ge_mslot = a->hv_slot;
	}
	atomic_store(&act->ge_pin, pin + (write ? HV_PIN_W : HV_PIN_R));
	*frame = act->ge_frame;
out:
	hv_act_unlock(act);
	if (st != GNTST_okay)
		atomic_fetch_sub(intent, 1);
	return (st);
}

/*
 * Drop one pin.  Nothing happens when either domain died meanwhile: the
 * cleanup of the dead one already dropped or reset it.
 */
static void
hv_unpin(const struct hv_actor *a, unsigned int gslot, uint32_t ggen,
    grant_ref_t ref, bool write)
{
	const struct hv_shm *m = a->hv_shm;
	struct hv_active *act;
	uint32_t pin, rp, wp, clear = 0;

	if (gslot >= HV_MAX_DOMAINS || ref >= m->hv_geom.hv_nents)
		return;
	act = hv_act_at(m, gslot, ref);
	hv_act_lock(act, a->hv_pid);
	if (atomic_load(&hv_dom_at(m, a->hv_slot)->dom_gen) != a->hv_gen ||
	    atomic_load(&hv_dom_at(m, gslot)->dom_gen) != ggen)
		goto out;
	pin = atomic_load(&act->ge_pin);
	rp = pin & 0xffffu;
	wp = pin >> 16;
	if (act->ge_mslot != a->hv_slot || (write ? wp : rp) == 0)
		goto out;
	if (write)
		wp--;
	else
		rp--;
	if (write && wp == 0)
		clear |= GTF_writing;
	if (rp + wp == 0)
		clear |= GTF_reading;
	if (clear != 0)
		__atomic_fetch_and(hv_gent_word(hv_gent_at(m, gslot, ref)),
		    ~clear, __ATOMIC_ACQ_REL);
	atomic_store(&act->ge_pin, rp | wp << 16);
	atomic_fetch_sub(&m->hv_hdr->hv_pins[gslot][a->hv_slot], 1);
out:
	hv_act_unlock(act);
}

/* What a map failure means to a caller that wants an errno. */
static int
hv_gntst_errno(int16_t st)
{
	switch (st) {
	case GNTST_bad_gntref:
	case GNTST_bad_page:
		return (-EINVAL);
	case GNTST_bad_domain:
		return (-ENOENT);
	case GNTST_general_error:
	case GNTST_permission_denied:
		return (-EACCES);
	default:
		return (-EIO);
	}
}

/* ---------------------------------------------------------------------
 * Granting side
 */

int
hv_gnt_grant(struct plat *p, grant_ref_t ref, uint32_t peer, void *page,
    bool readonly, grant_ref_t *wire)
{
	struct hv_view *v = hv_view_of(p);
	const struct hv_shm *m = &v->hv_shm;
	struct grant_entry_v1 *ge;
	uint32_t *w, frame, flags;
	uintptr_t off;

	if (!hv_view_alive(v))
		return (-ESRCH);
	if (ref >= m->hv_geom.hv_nents || !hv_ref_is_reserved(v, ref) ||
	    peer >= DOMID_FIRST_RESERVED)
		return (-EINVAL);
	off = (uintptr_t)page - (uintptr_t)v->hv_arena;
	if ((uintptr_t)page < (uintptr_t)v->hv_arena ||
	    off >= (uintptr_t)m->hv_geom.hv_npages * XBD_PAGE_SIZE ||
	    off % XBD_PAGE_SIZE != 0)
		return (-EINVAL);
	frame = (uint32_t)(off / XBD_PAGE_SIZE);
	ge = hv_gent_at(m, v->hv_act.hv_slot, ref);
	w = hv_gent_word(ge);
	if ((__atomic_load_n(w, __ATOMIC_ACQUIRE) & 0xffffu) != 0)
		return (-EBUSY);
	/* Cleanup scans below the mark: raise it before the entry is live. */
	hv_hwm_raise(&hv_dom_at(m, v->hv_act.hv_slot)->dom_gnt_hwm, ref + 1);
	__atomic_store_n(&ge->frame, frame, __ATOMIC_RELAXED);
	__atomic_store_n(w, peer << 16, __ATOMIC_RELAXED);
	/* domid and frame before flags (grant_table.h, Linux wmb()). */
	atomic_thread_fence(memory_order_release);
	flags = GTF_permit_access | (readonly ? GTF_readonly : 0);
	__atomic_store_n(w, peer << 16 | flags, __ATOMIC_RELAXED);
	atomic_fetch_add_explicit(&v->hv_st.hv_grants, 1, memory_order_relaxed);
	*wire = ref;
	return (0);
}

/* End access through ref without counting (for plat_close). */
int
hv_gnt_end_quiet(struct hv_view *v, grant_ref_t ref)
{
	uint32_t *w, old;

	if (ref >= v->hv_shm.hv_geom.hv_nents)
		return (-EINVAL);
	w = hv_gent_word(hv_gent_at(&v->hv_shm, v->hv_act.hv_slot, ref));
	old = __atomic_load_n(w, __ATOMIC_ACQUIRE);
	for (;;) {
		if ((old & 0xffffu) == 0)
			return (1); /* nothing granted */
		if ((old & (GTF_reading | GTF_writing)) != 0)
			return (-EBUSY);
		if (__atomic_compare_exchange_n(w, &old, old & 0xffff0000u,
			false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return (0);
	}
}

int
hv_gnt_end(struct plat *p, grant_ref_t ref)
{
	struct hv_view *v = hv_view_of(p);
	int error;

	if (!hv_view_alive(v))
		return (-ESRCH);
	if (!hv_ref_is_reserved(v, ref))
		return (-EINVAL);
	error = hv_gnt_end_quiet(v, ref);
	if (error == -EBUSY) {
		atomic_fetch_add_explicit(&v->hv_st.hv_grant_busy, 1,
		    memory_order_relaxed);
		return (-EBUSY);
	}
	if (error == 0)
		atomic_fetch_add_explicit(&v->hv_st.hv_grant_ends, 1,
		    memory_order_relaxed);
	return (error < 0 ? error : 0);
}

/* ---------------------------------------------------------------------
 * The granters' arenas as this view maps them
 */

static void
hv_gmap_free(struct hv_gmap *gm, size_t bytes)
{
	if (gm->ge_rw != NULL)
		munmap(gm->ge_rw, bytes);
	if (gm->ge_ro != NULL)
		munmap(gm->ge_ro, bytes);
	if (gm->ge_fd >= 0)
		close(gm->ge_fd);
	free(gm);
}

static size_t
hv_arena_bytes(const struct hv_view *v)
{
	return ((size_t)v->hv_shm.hv_geom.hv_npages * XBD_PAGE_SIZE);
}

/* Forget a stale mapping now, or once its last batch page is unmapped. */
static void
hv_gmap_retire(struct hv_view *v, struct hv_gmap *gm)
{
	if (gm->ge_refs == 0) {
		hv_gmap_free(gm, hv_arena_bytes(v));
		return;
	}
	gm->ge_next = v->hv_retired;
	v->hv_retired = gm;
}

/*
 * The arena of granter slot gslot in generation ggen, with n more batch
 * pages accounted to it.  hv_map_lock held.
 */
static int
hv_gmap_get(struct hv_view *v, unsigned int gslot, uint32_t ggen,
    unsigned long n, struct hv_gmap **out)
{
	struct hv_gmap *gm = v->hv_gmaps[gslot];
	size_t bytes = hv_arena_bytes(v);
	int error, fd;

	if (gm != NULL && gm->ge_gen != ggen) {
		v->hv_gmaps[gslot] = NULL;
		hv_gmap_retire(v, gm);
		gm = NULL;
	}
	if (gm == NULL) {
		if ((error = v->hv_ctl->co_arena_fd(v, gslot, ggen, &fd)) != 0)
			return (error);
		if ((gm = calloc(1, sizeof(*gm))) == NULL) {
			close(fd);
			return (-ENOMEM);
		}
		gm->ge_slot = gslot;
		gm->ge_gen = ggen;
		gm->ge_fd = fd;
		gm->ge_rw = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
		gm->ge_ro = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
		if (gm->ge_rw == MAP_FAILED || gm->ge_ro == MAP_FAILED) {
			if (gm->ge_rw == MAP_FAILED)
				gm->ge_rw = NULL;
			if (gm->ge_ro == MAP_FAILED)
				gm->ge_ro = NULL;
			hv_gmap_free(gm, bytes);
			return (-ENOMEM);
		}
		v->hv_gmaps[gslot] = gm;
	}
	gm->ge_refs += n;
	*out = gm;
	return (0);
}

/* Give back n batch pages of (gslot, ggen).  hv_map_lock held. */
static void
hv_gmap_put(struct hv_view *v, unsigned int gslot, uint32_t ggen,
    unsigned long n)
{
	struct hv_gmap *gm, **pp;

	if (n == 0 || gslot >= HV_MAX_DOMAINS)
		return;
	gm = v->hv_gmaps[gslot];
	if (gm != NULL && gm->ge_gen == ggen) {
		gm->ge_refs -= XU_MIN(n, gm->ge_refs);
		/* A granter that died: let its memory go at once. */
		if (gm->ge_refs == 0 &&
		    atomic_load(&hv_dom_at(&v->hv_shm, gslot)->dom_gen) !=
			ggen) {
			v->hv_gmaps[gslot] = NULL;
			hv_gmap_free(gm, hv_arena_bytes(v));
		}
		return;
	}
	for (pp = &v->hv_retired; (gm = *pp) != NULL; pp = &gm->ge_next) {
		if (gm->ge_slot != gslot || gm->ge_gen != ggen)
			continue;
		gm->ge_refs -= XU_MIN(n, gm->ge_refs);
		if (gm->ge_refs == 0) {
			*pp = gm->ge_next;
			hv_gmap_free(gm, hv_arena_bytes(v));
		}
		return;
	}
}

/* Room for more batch mappings.  hv_map_lock held. */
static int
hv_track_grow(struct hv_view *v)
{
	struct hv_track *nt;
	uint32_t cap, i;

	if (v->hv_track_cap >= UINT32_MAX / 2)
		return (-ENOMEM);
	cap = v->hv_track_cap == 0 ? 64 : v->hv_track_cap * 2;
	if ((nt = realloc(v->hv_track, cap * sizeof(*nt))) == NULL)
		return (-ENOMEM);
	for (i = v->hv_track_cap; i < cap; i++) {
		memset(&nt[i], 0, sizeof(nt[i]));
		nt[i].ge_next = i + 1 < cap ? i + 2 : v->hv_track_free;
	}
	v->hv_track_free = v->hv_track_cap + 1;
	v->hv_track = nt;
	v->hv_track_cap = cap;
	return (0);
}

/* Record a batch mapping; 0 when out of memory.  hv_map_lock held. */
static uintptr_t
hv_track_add(struct hv_view *v, unsigned int slot, uint32_t gen,
    grant_ref_t ref, bool write)
{
	struct hv_track *t;
	uint32_t i;

	if (v->hv_track_free == 0 && hv_track_grow(v) != 0)
		return (0);
	i = v->hv_track_free - 1;
	t = &v->hv_track[i];
	v->hv_track_free = t->ge_next;
	t->ge_ref = ref;
	t->ge_gen = gen;
	t->ge_slot = (uint8_t)slot;
	t->ge_write = write;
	t->ge_used = 1;
	return ((uintptr_t)i + 1);
}

/* Take a batch mapping off the books; NULL if h is not one. */
static struct hv_track *
hv_track_take(struct hv_view *v, uintptr_t h)
{
	struct hv_track *t;

	if (h == 0 || h > v->hv_track_cap)
		return (NULL);
	t = &v->hv_track[h - 1];
	if (!t->ge_used)
		return (NULL);
	t->ge_used = 0;
	t->ge_next = v->hv_track_free;
	v->hv_track_free = (uint32_t)h;
	return (t);
}

/* ---------------------------------------------------------------------
 * Mapping side
 */

/*
 * Find granting domain dom and its grant mapping (held for refs
 * references; *gm stays NULL on failure).  Returns GNTST_okay,
 * GNTST_bad_domain (no such domain, or it died meanwhile) or
 * GNTST_general_error (its memory could not be mapped).
 */
static int16_t
hv_gnt_granter(struct hv_view *v, uint32_t dom, uint32_t refs,
    unsigned int *gslot, uint32_t *ggen, struct hv_gmap **gm)
{
	int16_t st = GNTST_okay;

	if (hv_dom_find(&v->hv_shm, dom, gslot, ggen) != 0)
		return (GNTST_bad_domain);
	pthread_mutex_lock(&v->hv_map_lock);
	if (hv_gmap_get(v, *gslot, *ggen, refs, gm) != 0)
		st = hv_dom_alive(&v->hv_shm, *gslot, *ggen) ?
		    GNTST_general_error :
		    GNTST_bad_domain;
	pthread_mutex_unlock(&v->hv_map_lock);
	return (st);
}

int
hv_gnt_map_batch(struct plat *p, uint32_t dom, uint32_t count, bool writable,
    struct plat_map_seg *segs)
{
	struct hv_view *v = hv_view_of(p);
	struct hv_gmap *gm = NULL;
	unsigned int gslot = 0;
	uint32_t ggen = 0, frame, i, bad = 0;
	int16_t st0 = GNTST_okay;
	char *base;

	if (!hv_view_alive(v))
		return (-ESRCH);
	st0 = hv_gnt_granter(v, dom, count, &gslot, &ggen, &gm);
	for (i = 0; i < count; i++) {
		segs[i].ms_addr = NULL;
		segs[i].ms_handle = 0;
		segs[i].ms_status = st0;
		if (st0 == GNTST_okay)
			segs[i].ms_status = hv_pin(&v->hv_act, gslot, ggen,
			    segs[i].ms_ref, writable, &frame);
		if (segs[i].ms_status != GNTST_okay)
			continue;
		base = writable ? gm->ge_rw : gm->ge_ro;
		segs[i].ms_addr = base + (size_t)frame * XBD_PAGE_SIZE;
	}
	if (gm != NULL) {
		pthread_mutex_lock(&v->hv_map_lock);
		for (i = 0; i < count; i++) {
			if (segs[i].ms_status != GNTST_okay)
				continue;
			segs[i].ms_handle = hv_track_add(v, gslot, ggen,
			    segs[i].ms_ref, writable);
			if (segs[i].ms_handle != 0)
				continue;
			hv_unpin(&v->hv_act, gslot, ggen, segs[i].ms_ref,
			    writable);
			segs[i].ms_status = GNTST_no_space;
			segs[i].ms_addr = NULL;
		}
	}
	for (i = 0; i < count; i++)
		if (segs[i].ms_status != GNTST_okay)
			bad++;
	if (gm != NULL) {
		hv_gmap_put(v, gslot, ggen, bad);
		pthread_mutex_unlock(&v->hv_map_lock);
	}
	atomic_fetch_add_explicit(&v->hv_st.hv_maps, count - bad,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&v->hv_st.hv_map_errors, bad,
	    memory_order_relaxed);
	return (bad > 0 ? -EIO : 0);
}

void
hv_gnt_unmap_batch(struct plat *p, uint32_t count, struct plat_map_seg *segs)
{
	struct hv_view *v = hv_view_of(p);
	struct hv_track *t;
	uint32_t i, n = 0;

	pthread_mutex_lock(&v->hv_map_lock);
	for (i = 0; i < count; i++) {
		if (segs[i].ms_status != GNTST_okay)
			continue;
		/* Unknown or already unmapped handle: Xen's bad_handle. */
		if ((t = hv_track_take(v, segs[i].ms_handle)) == NULL)
			continue;
		hv_unpin(&v->hv_act, t->ge_slot, t->ge_gen, t->ge_ref,
		    t->ge_write);
		hv_gmap_put(v, t->ge_slot, t->ge_gen, 1);
		segs[i].ms_addr = NULL;
		segs[i].ms_handle = 0;
		n++;
	}
	pthread_mutex_unlock(&v->hv_map_lock);
	atomic_fetch_add_explicit(&v->hv_st.hv_unmaps, n, memory_order_relaxed);
}

int
hv_gnt_map(struct plat *p, uint32_t dom, uint32_t count,
    const grant_ref_t *refs, bool writable, void **addr)
{
	struct hv_view *v = hv_view_of(p);
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	struct hv_cmap *cm;
	struct hv_gmap *gm;
	unsigned int gslot;
	uint32_t ggen, frame, i, pinned = 0;
	int16_t st = GNTST_okay;
	char *region;
	void *pg;
	int error;

	if (count == 0 || count > v->hv_shm.hv_geom.hv_nents)
		return (-EINVAL);
	if (!hv_view_alive(v))
		return (-ESRCH);
	if (hv_dom_find(&v->hv_shm, dom, &gslot, &ggen) != 0)
		return (-ENOENT);
	cm = calloc(1, sizeof(*cm) + count * sizeof(cm->ge_refs[0]));
	if (cm == NULL)
		return (-ENOMEM);
	/* Reserve the address range first so the ring is contiguous. */
	region = mmap(NULL, (size_t)count * XBD_PAGE_SIZE, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (region == MAP_FAILED) {
		free(cm);
		return (-ENOMEM);
	}
	pthread_mutex_lock(&v->hv_map_lock);
	error = hv_gmap_get(v, gslot, ggen, 1, &gm);
	if (error == 0) {
		for (i = 0; i < count; i++) {
			st = hv_pin(&v->hv_act, gslot, ggen, refs[i], writable,
			    &frame);
			if (st != GNTST_okay) {
				error = hv_gntst_errno(st);
				break;
			}
			cm->ge_refs[pinned++] = refs[i];
			pg = mmap(region + (size_t)i * XBD_PAGE_SIZE,
			    XBD_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED,
			    gm->ge_fd, (off_t)frame * XBD_PAGE_SIZE);
			if (pg == MAP_FAILED) {
				error = -ENOMEM;
				break;
			}
		}
		hv_gmap_put(v, gslot, ggen, 1);
	} else if (!hv_dom_alive(&v->hv_shm, gslot, ggen))
		error = -ENOENT;
	if (error != 0) {
		pthread_mutex_unlock(&v->hv_map_lock);
		for (i = 0; i < pinned; i++)
			hv_unpin(&v->hv_act, gslot, ggen, cm->ge_refs[i],
			    writable);
		munmap(region, (size_t)count * XBD_PAGE_SIZE);
		free(cm);
		atomic_fetch_add_explicit(&v->hv_st.hv_map_errors, 1,
		    memory_order_relaxed);
		return (error);
	}
	cm->ge_addr = region;
	cm->ge_count = count;
	cm->ge_slot = gslot;
	cm->ge_gen = ggen;
	cm->ge_write = writable;
	cm->ge_next = v->hv_cmaps;
	v->hv_cmaps = cm;
	pthread_mutex_unlock(&v->hv_map_lock);
	atomic_fetch_add_explicit(&v->hv_st.hv_maps, count,
	    memory_order_relaxed);
	*addr = region;
	return (0);
}

/* Undo a contiguous mapping (hv_map_lock not held). */
static void
hv_cmap_release(struct hv_view *v, struct hv_cmap *cm)
{
	uint32_t i;

	munmap(cm->ge_addr, (size_t)cm->ge_count * XBD_PAGE_SIZE);
	for (i = 0; i < cm->ge_count; i++)
		hv_unpin(&v->hv_act, cm->ge_slot, cm->ge_gen, cm->ge_refs[i],
		    cm->ge_write);
	free(cm);
}

int
hv_gnt_unmap(struct plat *p, void *addr, uint32_t count)
{
	struct hv_view *v = hv_view_of(p);
	struct hv_cmap *cm, **pp;

	pthread_mutex_lock(&v->hv_map_lock);
	for (pp = &v->hv_cmaps; (cm = *pp) != NULL; pp = &cm->ge_next)
		if (cm->ge_addr == addr)
			break;
	if (cm == NULL || cm->ge_count != count) {
		pthread_mutex_unlock(&v->hv_map_lock);
		return (-EINVAL);
	}
	*pp = cm->ge_next;
	pthread_mutex_unlock(&v->hv_map_lock);
	atomic_fetch_add_explicit(&v->hv_st.hv_unmaps, count,
	    memory_order_relaxed);
	hv_cmap_release(v, cm);
	return (0);
}

int
hv_gnt_copy(struct plat *p, uint32_t dom, uint32_t count,
    struct plat_copy_seg *segs)
{
	struct hv_view *v = hv_view_of(p);
	struct plat_copy_seg *s;
	struct hv_gmap *gm = NULL;
	unsigned int gslot = 0;
	uint32_t ggen = 0, frame, i, bad = 0;
	uint64_t bytes = 0;
	int16_t st0 = GNTST_okay;
	char *pg;

	if (!hv_view_alive(v))
		return (-ESRCH);
	/* A copy reports any failure to reach the granter as bad_domain. */
	if ((st0 = hv_gnt_granter(v, dom, 1, &gslot, &ggen, &gm)) != GNTST_okay)
		st0 = GNTST_bad_domain;
	for (i = 0; i < count; i++) {
		s = &segs[i];
		s->cs_status = st0;
		if (st0 == GNTST_okay &&
		    (uint32_t)s->cs_offset + s->cs_len > XBD_PAGE_SIZE)
			s->cs_status = GNTST_bad_copy_arg;
		if (s->cs_status == GNTST_okay)
			s->cs_status = hv_pin(&v->hv_act, gslot, ggen,
			    s->cs_ref, s->cs_to_foreign, &frame);
		if (s->cs_status != GNTST_okay) {
			bad++;
			continue;
		}
		/* The pin keeps the granter from ending access meanwhile. */
		pg = gm->ge_rw + (size_t)frame * XBD_PAGE_SIZE + s->cs_offset;
		if (s->cs_to_foreign)
			memcpy(pg, s->cs_local, s->cs_len);
		else
			memcpy(s->cs_local, pg, s->cs_len);
		bytes += s->cs_len;
		hv_unpin(&v->hv_act, gslot, ggen, s->cs_ref, s->cs_to_foreign);
	}
	if (gm != NULL) {
		pthread_mutex_lock(&v->hv_map_lock);
		hv_gmap_put(v, gslot, ggen, 1);
		pthread_mutex_unlock(&v->hv_map_lock);
	}
	atomic_fetch_add_explicit(&v->hv_st.hv_copy_segs, count,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&v->hv_st.hv_copy_bytes, bytes,
	    memory_order_relaxed);
	return (bad > 0 ? -EIO : 0);
}

/*
 * plat_close: drop what is left, as closing a gntdev would: every
 * mapping still held is unpinned and its memory goes.
 */
void
hv_gnt_view_fini(struct hv_view *v)
{
	struct hv_gmap *gm;
	struct hv_cmap *cm;
	unsigned int i;

	while ((cm = v->hv_cmaps) != NULL) {
		v->hv_cmaps = cm->ge_next;
		hv_cmap_release(v, cm);
	}
	for (i = 0; i < HV_MAX_DOMAINS; i++) {
		if ((gm = v->hv_gmaps[i]) != NULL)
			hv_gmap_free(gm, hv_arena_bytes(v));
		v->hv_gmaps[i] = NULL;
	}
	while ((gm = v->hv_retired) != NULL) {
		v->hv_retired = gm->ge_next;
		hv_gmap_free(gm, hv_arena_bytes(v));
	}
	for (i = 0; i < v->hv_track_cap; i++)
		if (v->hv_track[i].ge_used)
			hv_unpin(&v->hv_act, v->hv_track[i].ge_slot,
			    v->hv_track[i].ge_gen, v->hv_track[i].ge_ref,
			    v->hv_track[i].ge_write);
	free(v->hv_track);
	v->hv_track = NULL;
}

/* ---------------------------------------------------------------------
 * Machine side: cleanup after a domain died (hv_lock held, generation
 * of the dead slot already bumped)
 */

void
hv_m_drop_pins_of(struct hv *hv, unsigned int dead)
{
	const struct hv_shm *m = &hv->hv_shm;
	_Atomic uint32_t *count;
	struct hv_active *act;
	uint32_t i, hwm, pin;
	unsigned int g;

	for (g = 0; g < HV_MAX_DOMAINS; g++) {
		count = &m->hv_hdr->hv_pins[g][dead];
		if (atomic_load(count) == 0)
			continue;
		hwm = XU_MIN(atomic_load(&hv_dom_at(m, g)->dom_gnt_hwm),
		    m->hv_geom.hv_nents);
		for (i = 0; i < hwm; i++) {
			act = hv_act_at(m, g, i);
			if (atomic_load(&act->ge_lock) == 0 &&
			    atomic_load(&act->ge_pin) == 0)
				continue;
			hv_act_lock(act, hv->hv_pid);
			pin = atomic_load(&act->ge_pin);
			if (pin != 0 && act->ge_mslot == dead) {
				__atomic_fetch_and(
				    hv_gent_word(hv_gent_at(m, g, i)),
				    ~(uint32_t)(GTF_reading | GTF_writing),
				    __ATOMIC_ACQ_REL);
				atomic_store(&act->ge_pin, 0);
				atomic_fetch_sub(count, hv_pins_total(pin));
			}
			hv_act_unlock(act);
		}
	}
}

void
hv_m_reset_grants(struct hv *hv, unsigned int slot)
{
	const struct hv_shm *m = &hv->hv_shm;
	struct grant_entry_v1 *ge;
	struct hv_active *act;
	uint32_t i, hwm, pin;
	bool locked;

	hwm = XU_MIN(atomic_load(&hv_dom_at(m, slot)->dom_gnt_hwm),
	    m->hv_geom.hv_nents);
	for (i = 0; i < hwm; i++) {
		ge = hv_gent_at(m, slot, i);
		act = hv_act_at(m, slot, i);
		locked = atomic_load(&act->ge_lock) != 0 ||
		    atomic_load(&act->ge_pin) != 0;
		if (locked)
			hv_act_lock(act, hv->hv_pid);
		pin = atomic_load(&act->ge_pin);
		/* Pins of live mappers: their later unmaps see our gen. */
		if (pin != 0 && act->ge_mslot < HV_MAX_DOMAINS)
			atomic_fetch_sub(
			    &m->hv_hdr->hv_pins[slot][act->ge_mslot],
			    hv_pins_total(pin));
		atomic_store(&act->ge_pin, 0);
		act->ge_mslot = 0;
		act->ge_frame = 0;
		__atomic_store_n(hv_gent_word(ge), 0, __ATOMIC_RELEASE);
		__atomic_store_n(&ge->frame, 0, __ATOMIC_RELAXED);
		if (locked)
			hv_act_unlock(act);
	}
	atomic_store(&hv_dom_at(m, slot)->dom_gnt_hwm, 0);
	for (i = 0; i < m->hv_geom.hv_ref_chunks; i++)
		atomic_store(hv_refown_at(m, slot, i), 0);
	for (i = 0; i < m->hv_geom.hv_arena_chunks; i++)
		atomic_store(hv_arenaown_at(m, slot, i), 0);
}
