/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The blkif ring wrapper: the only file that uses Xen's RING_* macros.
 * See xring.h for the rules it enforces.  Shared indices written by the
 * peer are read through xring_load() exactly once per decision; the
 * macros' own reads of our side's indices are private and safe.
 */

#include <errno.h>
#include <string.h>

#include "../common/xu_assert.h"
#include "xring.h"

/* Compile-time facts the rest of the project relies on. */
_Static_assert(__CONST_RING_SIZE(blkif, XBD_PAGE_SIZE) == 32,
    "one-page blkif ring holds 32 slots");
_Static_assert(__CONST_RING_SIZE(blkif, XRING_MAX_PAGES *XBD_PAGE_SIZE) ==
	XRING_MAX_SLOTS,
    "32-page blkif ring holds 1024 slots");
_Static_assert(__CONST_RING_SIZE(blkif_x86_32, XBD_PAGE_SIZE) == 32,
    "one-page x86_32 ring holds 32 slots");

/* A single read of an index the peer may be rewriting at any time. */
static inline RING_IDX
xring_load(const RING_IDX *p)
{
	return (*(const volatile RING_IDX *)p);
}

unsigned int
xring_slots(unsigned int npages)
{
	if (!xring_npages_valid(npages))
		return (0);
	/* __CONST_RING_SIZE, with the page count known only at run time. */
	return (__RD32(
	    (npages * XBD_PAGE_SIZE - offsetof(struct blkif_sring, ring)) /
	    sizeof(union blkif_sring_entry)));
}

bool
xring_npages_valid(unsigned int npages)
{
	return (npages >= 1 && npages <= XRING_MAX_PAGES &&
	    (npages & (npages - 1)) == 0);
}

/* ---------------------------------------------------------------------
 * Frontend
 */

int
xring_front_init(struct xring_front *xr, void *sring, unsigned int npages)
{
	struct blkif_sring *s = sring;

	if (!xring_npages_valid(npages) || sring == NULL)
		return (-EINVAL);
	SHARED_RING_INIT(s);
	FRONT_RING_INIT(&xr->xr_ring, s, npages * XBD_PAGE_SIZE);
	xr->xr_npages = npages;
	XU_ASSERT(RING_SIZE(&xr->xr_ring) == xring_slots(npages),
	    ("ring size %u for %u pages", RING_SIZE(&xr->xr_ring), npages));
	return (0);
}

unsigned int
xring_front_free(const struct xring_front *xr)
{
	return (RING_FREE_REQUESTS(&xr->xr_ring));
}

unsigned int
xring_front_outstanding(const struct xring_front *xr)
{
	return (xr->xr_ring.req_prod_pvt - xr->xr_ring.rsp_cons);
}

void
xring_front_put(struct xring_front *xr, const struct blkif_request *req)
{
	struct blkif_front_ring *r = &xr->xr_ring;

	XU_ASSERT(!RING_FULL(r), ("request put on a full ring"));
	memcpy(RING_GET_REQUEST(r, r->req_prod_pvt), req, sizeof(*req));
	r->req_prod_pvt++;
}

bool
xring_front_push(struct xring_front *xr)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&xr->xr_ring, notify);
	return (notify != 0);
}

int
xring_front_poll(struct xring_front *xr)
{
	struct blkif_front_ring *r = &xr->xr_ring;
	RING_IDX prod, ready;

	prod = xring_load(&r->sring->rsp_prod);
	xen_rmb(); /* read the slots only after the index that covers them */
	ready = prod - r->rsp_cons;
	/*
	 * RING_RESPONSE_PROD_OVERFLOW only bounds the count by the ring size;
	 * a response for a request we never queued is just as bogus, and a
	 * producer moving backwards shows up as a huge count.
	 */
	if (RING_RESPONSE_PROD_OVERFLOW(r, prod) ||
	    ready > r->req_prod_pvt - r->rsp_cons)
		return (-EIO);
	return ((int)ready);
}

void
xring_front_take(struct xring_front *xr, struct blkif_response *rsp)
{
	struct blkif_front_ring *r = &xr->xr_ring;

	RING_COPY_RESPONSE(r, r->rsp_cons, rsp);
	r->rsp_cons++;
}

int
xring_front_final_check(struct xring_front *xr)
{
	struct blkif_front_ring *r = &xr->xr_ring;
	int n;

	if ((n = xring_front_poll(xr)) != 0)
		return (n < 0 ? n : 1);
	r->sring->rsp_event = r->rsp_cons + 1;
	xen_mb(); /* publish the event index before looking again */
	n = xring_front_poll(xr);
	return (n < 0 ? n : n > 0);
}

void
xring_front_indices(const struct xring_front *xr, struct xring_indices *out)
{
	const struct blkif_sring *s = xr->xr_ring.sring;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	out->ix_req_prod = xring_load(&s->req_prod);
	out->ix_req_event = xring_load(&s->req_event);
	out->ix_rsp_prod = xring_load(&s->rsp_prod);
	out->ix_rsp_event = xring_load(&s->rsp_event);
}

/* ---------------------------------------------------------------------
 * Backend
 */

int
xring_back_init(struct xring_back *xr, void *sring, unsigned int npages,
    enum xring_abi abi)
{
	size_t bytes = (size_t)npages * XBD_PAGE_SIZE;
	RING_IDX start;

	if (!xring_npages_valid(npages) || sring == NULL)
		return (-EINVAL);
	/*
	 * Start where the responses stand, as Linux blkback does since it
	 * can be unbound and bound again under a connected frontend: on a
	 * fresh ring that is 0, on a ring a previous backend served it is
	 * the first request that backend did not answer (answered again
	 * now).  Read once; a bogus value only makes the request producer
	 * fail the usual check in xring_back_poll.
	 */
	start = *(volatile RING_IDX *)&((struct blkif_sring *)sring)->rsp_prod;
	switch (abi) {
	case XRING_ABI_NATIVE:
		BACK_RING_ATTACH(&xr->xr_u.native, (struct blkif_sring *)sring,
		    start, bytes);
		break;
	case XRING_ABI_X86_32:
		BACK_RING_ATTACH(&xr->xr_u.x86_32,
		    (struct blkif_x86_32_sring *)sring, start, bytes);
		break;
	default:
		return (-EINVAL);
	}
	xr->xr_abi = abi;
	xr->xr_npages = npages;
	return (0);
}

int
xring_back_resume(struct xring_back *xr, RING_IDX req_cons)
{
	struct blkif_back_ring *r = &xr->xr_u.native; /* shared layout */
	RING_IDX prod;

	prod = xring_load(&r->sring->req_prod);
	/* Taken, unanswered requests and untaken ones each fit one ring. */
	if (req_cons - r->rsp_prod_pvt > RING_SIZE(r) ||
	    prod - req_cons > RING_SIZE(r))
		return (-ESTALE);
	r->req_cons = req_cons;
	return (0);
}

bool
xring_back_idle(const struct xring_back *xr)
{
	const struct blkif_back_ring *r = &xr->xr_u.native;

	return (xring_load(&r->sring->req_prod) == r->rsp_prod_pvt);
}

RING_IDX
xring_back_req_next(const struct xring_back *xr)
{
	return (xr->xr_u.native.req_cons);
}

RING_IDX
xring_back_rsp_next(const struct xring_back *xr)
{
	return (xr->xr_u.native.rsp_prod_pvt);
}

/*
 * Both back rings share the layout of their private part (rsp_prod_pvt,
 * req_cons, nr_ents, sring) and of the shared header; only the slots
 * differ.  The index logic therefore goes through one view.
 */
static inline struct blkif_back_ring *
xring_back_view(struct xring_back *xr)
{
	return (&xr->xr_u.native);
}

_Static_assert(offsetof(struct blkif_back_ring, req_cons) ==
	offsetof(struct blkif_x86_32_back_ring, req_cons),
    "back ring private layouts match");
_Static_assert(offsetof(struct blkif_sring, ring) ==
	offsetof(struct blkif_x86_32_sring, ring),
    "ring headers match");

int
xring_back_poll(struct xring_back *xr)
{
	struct blkif_back_ring *r = xring_back_view(xr);
	RING_IDX prod, reqs, room;

	prod = xring_load(&r->sring->req_prod);
	xen_rmb(); /* read the slots only after the index that covers them */
	if (RING_REQUEST_PROD_OVERFLOW(r, prod))
		return (-EIO);
	reqs = prod - r->req_cons;
	/* Never take a request we would have no response slot for. */
	room = RING_SIZE(r) - (r->req_cons - r->rsp_prod_pvt);
	return ((int)XU_MIN(reqs, room));
}

static void
xring_back_conv_x86_32(const struct blkif_x86_32_request *src,
    union xring_req *dst)
{
	const struct blkif_x86_32_request_discard *sd;
	const struct blkif_x86_32_request_indirect *si;
	unsigned int i;

	memset(dst, 0, sizeof(*dst));
	/* The operation comes from our private copy, read once (XSA-155). */
	switch (src->operation) {
	case BLKIF_OP_DISCARD:
		sd = (const struct blkif_x86_32_request_discard *)src;
		dst->discard.operation = sd->operation;
		dst->discard.flag = sd->flag;
		dst->discard.handle = sd->handle;
		dst->discard.id = sd->id;
		dst->discard.sector_number = sd->sector_number;
		dst->discard.nr_sectors = sd->nr_sectors;
		break;
	case BLKIF_OP_INDIRECT:
		si = (const struct blkif_x86_32_request_indirect *)src;
		dst->indirect.operation = si->operation;
		dst->indirect.indirect_op = si->indirect_op;
		dst->indirect.nr_segments = si->nr_segments;
		dst->indirect.id = si->id;
		dst->indirect.sector_number = si->sector_number;
		dst->indirect.handle = si->handle;
		for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
			dst->indirect.indirect_grefs[i] = si->indirect_grefs[i];
		break;
	default:
		dst->rw.operation = src->operation;
		dst->rw.nr_segments = src->nr_segments;
		dst->rw.handle = src->handle;
		dst->rw.id = src->id;
		dst->rw.sector_number = src->sector_number;
		for (i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
			dst->rw.seg[i] = src->seg[i];
		break;
	}
}

void
xring_back_take(struct xring_back *xr, union xring_req *req)
{
	struct blkif_x86_32_request req32;

	switch (xr->xr_abi) {
	case XRING_ABI_NATIVE:
		RING_COPY_REQUEST(&xr->xr_u.native, xr->xr_u.native.req_cons,
		    &req->rw);
		xr->xr_u.native.req_cons++;
		break;
	case XRING_ABI_X86_32:
		RING_COPY_REQUEST(&xr->xr_u.x86_32, xr->xr_u.x86_32.req_cons,
		    &req32);
		xr->xr_u.x86_32.req_cons++;
		xring_back_conv_x86_32(&req32, req);
		break;
	}
}

unsigned int
xring_back_rsp_room(const struct xring_back *xr)
{
	const struct blkif_back_ring *r = &xr->xr_u.native;

	return (r->req_cons - r->rsp_prod_pvt);
}

void
xring_back_put_rsp(struct xring_back *xr, uint64_t id, uint8_t op,
    int16_t status)
{
	struct blkif_response *rsp;
	struct blkif_x86_32_response *rsp32;

	XU_ASSERT(xring_back_rsp_room(xr) > 0,
	    ("response without a consumed request"));
	/* Field by field: padding in the slot keeps the frontend's bytes. */
	switch (xr->xr_abi) {
	case XRING_ABI_NATIVE:
		rsp = RING_GET_RESPONSE(&xr->xr_u.native,
		    xr->xr_u.native.rsp_prod_pvt);
		rsp->id = id;
		rsp->operation = op;
		rsp->status = status;
		xr->xr_u.native.rsp_prod_pvt++;
		break;
	case XRING_ABI_X86_32:
		rsp32 = RING_GET_RESPONSE(&xr->xr_u.x86_32,
		    xr->xr_u.x86_32.rsp_prod_pvt);
		rsp32->id = id;
		rsp32->operation = op;
		rsp32->status = status;
		xr->xr_u.x86_32.rsp_prod_pvt++;
		break;
	}
}

bool
xring_back_push(struct xring_back *xr)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(xring_back_view(xr), notify);
	return (notify != 0);
}

int
xring_back_final_check(struct xring_back *xr)
{
	struct blkif_back_ring *r = xring_back_view(xr);
	int n;

	if ((n = xring_back_poll(xr)) != 0)
		return (n < 0 ? n : 1);
	r->sring->req_event = r->req_cons + 1;
	xen_mb(); /* publish the event index before looking again */
	n = xring_back_poll(xr);
	return (n < 0 ? n : n > 0);
}
