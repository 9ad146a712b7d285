/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The mapping side of the "xen" platform: foreign grants mapped and
 * copied through gntdev (libxengnttab).
 *
 * A batch maps each element on its own so that every element gets its
 * own status and unmaps on its own (XSA-361: a partial failure must
 * leave the good mappings usable and releasable).  libxengnttab reports
 * a failed map only as errno, so the element's status says "general
 * error" unless errno tells a bad reference or domain apart.
 */

#include <errno.h>
#include <sys/mman.h>

#include "px_internal.h"

/* The most pages plat_map maps at once: a ring of order 5. */
#define PX_MAP_MAX 32u

/* A GNTST_* status for a failed libxengnttab map, from its errno. */
static int16_t
px_map_status(int error)
{
	switch (error) {
	case EINVAL:
	case ENOENT:
		return (GNTST_bad_gntref);
	case ESRCH:
		return (GNTST_bad_domain);
	case EACCES:
	case EPERM:
		return (GNTST_permission_denied);
	case ENOMEM:
		return (GNTST_no_device_space);
	default:
		return (GNTST_general_error);
	}
}

int
px_map(struct plat *p, uint32_t dom, uint32_t count, const grant_ref_t *refs,
    bool writable, void **addr)
{
	struct px *x = px_of(p);
	uint32_t r[PX_MAP_MAX], i;
	void *a;

	/* Rings only: libxengnttab wants a mutable array, so copy. */
	if (count == 0 || count > PX_MAP_MAX)
		return (-EINVAL);
	for (i = 0; i < count; i++)
		r[i] = refs[i];
	a = xengnttab_map_domain_grant_refs(x->px_gt, count, dom, r,
	    writable ? PROT_READ | PROT_WRITE : PROT_READ);
	if (a == NULL) {
		atomic_fetch_add(&x->px_st.st_map_errors, count);
		return (errno == ENOMEM ? -ENOMEM : -EINVAL);
	}
	atomic_fetch_add(&x->px_st.st_maps, count);
	*addr = a;
	return (0);
}

int
px_unmap(struct plat *p, void *addr, uint32_t count)
{
	struct px *x = px_of(p);

	if (xengnttab_unmap(x->px_gt, addr, count) != 0)
		return (-errno);
	atomic_fetch_add(&x->px_st.st_unmaps, count);
	return (0);
}

int
px_map_batch(struct plat *p, uint32_t dom, uint32_t count, bool writable,
    struct plat_map_seg *segs)
{
	struct px *x = px_of(p);
	uint32_t i, bad = 0;
	void *a;

	for (i = 0; i < count; i++) {
		a = xengnttab_map_grant_ref(x->px_gt, dom, segs[i].ms_ref,
		    writable ? PROT_READ | PROT_WRITE : PROT_READ);
		if (a == NULL) {
			segs[i].ms_status = px_map_status(errno);
			segs[i].ms_addr = NULL;
			bad++;
			continue;
		}
		segs[i].ms_status = GNTST_okay;
		segs[i].ms_addr = a;
		segs[i].ms_handle = (uintptr_t)a;
	}
	atomic_fetch_add(&x->px_st.st_maps, count - bad);
	atomic_fetch_add(&x->px_st.st_map_errors, bad);
	return (bad == 0 ? 0 : -EIO);
}

void
px_unmap_batch(struct plat *p, uint32_t count, struct plat_map_seg *segs)
{
	struct px *x = px_of(p);
	uint32_t i, n = 0;

	for (i = 0; i < count; i++) {
		if (segs[i].ms_status != GNTST_okay)
			continue;
		(void)xengnttab_unmap(x->px_gt, segs[i].ms_addr, 1);
		n++;
	}
	atomic_fetch_add(&x->px_st.st_unmaps, n);
}

/* Segments converted per libxengnttab call (bounded stack use). */
#define PX_COPY_BATCH 64u

int
px_copy(struct plat *p, uint32_t dom, uint32_t count,
    struct plat_copy_seg *segs)
{
	struct px *x = px_of(p);
	xengnttab_grant_copy_segment_t op[PX_COPY_BATCH];
	uint64_t bytes = 0;
	uint32_t i, j, n;
	bool bad = false;

	for (i = 0; i < count; i += n) {
		n = count - i < PX_COPY_BATCH ? count - i : PX_COPY_BATCH;
		for (j = 0; j < n; j++) {
			const struct plat_copy_seg *s = &segs[i + j];
			xengnttab_grant_copy_segment_t *o = &op[j];

			if ((uint32_t)s->cs_offset + s->cs_len > XBD_PAGE_SIZE)
				return (-EINVAL);
			o->len = s->cs_len;
			o->status = GNTST_general_error;
			if (s->cs_to_foreign) {
				o->source.virt = s->cs_local;
				o->dest.foreign.ref = s->cs_ref;
				o->dest.foreign.offset = s->cs_offset;
				o->dest.foreign.domid = (uint16_t)dom;
				o->flags = GNTCOPY_dest_gref;
			} else {
				o->source.foreign.ref = s->cs_ref;
				o->source.foreign.offset = s->cs_offset;
				o->source.foreign.domid = (uint16_t)dom;
				o->dest.virt = s->cs_local;
				o->flags = GNTCOPY_source_gref;
			}
		}
		if (xengnttab_grant_copy(x->px_gt, n, op) != 0)
			return (-errno);
		for (j = 0; j < n; j++) {
			segs[i + j].cs_status = op[j].status;
			if (op[j].status == GNTST_okay)
				bytes += op[j].len;
			else
				bad = true;
		}
	}
	atomic_fetch_add(&x->px_st.st_copy_segs, count);
	atomic_fetch_add(&x->px_st.st_copy_bytes, bytes);
	return (bad ? -EIO : 0);
}
