/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one wrapper over Xen's io/ring.h.  Frontend, backend and tests reach
 * the shared blkif ring only through these functions, so the rules that
 * keep a hostile peer harmless live in one place:
 *
 *  - a consumer reads the peer's producer index once, validates it (it
 *    may not claim more entries than the ring holds, nor, for responses,
 *    more than we have outstanding) and reports -EIO instead of asserting;
 *  - every slot is copied once into private memory before any field is
 *    looked at (RING_COPY_*), so a peer rewriting it cannot change what
 *    we validated (XSA-155);
 *  - a response is written field by field, so no padding byte of ours
 *    ever reaches the peer (XSA-216);
 *  - notifications follow the event-index hold-off of RING_PUSH_*_AND_
 *    CHECK_NOTIFY and RING_FINAL_CHECK_FOR_*.
 *
 * Rings span 1..32 pages (a power of two).  The backend also speaks the
 * 32-bit x86 layout and converts it to the native structures on copy.
 */

#ifndef XBD_XRING_H
#define XBD_XRING_H

#include <stdbool.h>

#include "../common/blkif_x86_32.h"
#include "../common/xen_shim.h"

/* The most pages a ring may span: the blkif limit both we and FreeBSD use. */
#define XRING_MAX_PAGES 32
/* Slots of a 32-page ring: __CONST_RING_SIZE(blkif, 32 * 4096). */
#define XRING_MAX_SLOTS 1024

DEFINE_RING_TYPES(blkif_x86_32, struct blkif_x86_32_request,
    struct blkif_x86_32_response);

/* Request layouts a backend ring may carry. */
enum xring_abi {
	XRING_ABI_NATIVE = 0, /* x86_64-abi: Xen's public structures */
	XRING_ABI_X86_32 = 1, /* x86_32-abi: 108-byte requests */
};

/*
 * One request as the backend sees it after the copy: the three shapes the
 * operation code selects, always in the native layout.
 */
union xring_req {
	struct blkif_request rw;
	struct blkif_request_discard discard;
	struct blkif_request_indirect indirect;
};

/* The frontend's view: requests go out, responses come in. */
struct xring_front {
	struct blkif_front_ring xr_ring; /* Xen's private indices + sring */
	unsigned int xr_npages;		 /* pages the shared ring spans */
};

/* The backend's view: requests come in, responses go out. */
struct xring_back {
	union {
		struct blkif_back_ring native;
		struct blkif_x86_32_back_ring x86_32;
	} xr_u;			/* Xen's private indices, per ABI */
	enum xring_abi xr_abi;	/* layout of the frontend's slots */
	unsigned int xr_npages; /* pages the shared ring spans */
};

/*
 * Slots in a ring of npages pages (32 for one page, 1024 for 32), or 0 when
 * npages is not a power of two in 1..XRING_MAX_PAGES.  The same for both
 * ABIs because ring sizes round down to a power of two.
 */
unsigned int xring_slots(unsigned int npages);

/* Is npages a valid ring size? */
bool xring_npages_valid(unsigned int npages);

/*
 * Initialise the shared ring at sring (npages contiguous pages, owned by
 * the caller) and the frontend's private view of it.
 * \return 0, or -EINVAL for a bad page count.
 */
int xring_front_init(struct xring_front *xr, void *sring, unsigned int npages);

/* Slots the frontend may still fill before the ring is full. */
unsigned int xring_front_free(const struct xring_front *xr);

/* Requests pushed or queued whose responses have not been consumed. */
unsigned int xring_front_outstanding(const struct xring_front *xr);

/*
 * Copy a request built in private memory into the next free slot.  The
 * caller checked xring_front_free() first; a full ring is our own bug.
 */
void xring_front_put(struct xring_front *xr, const struct blkif_request *req);

/*
 * Publish queued requests.
 * \return true when the backend asked to be notified (event index crossed).
 */
bool xring_front_push(struct xring_front *xr);

/*
 * Validate the backend's response producer and count what may be taken.
 * \return the number of responses ready (0 when none), or -EIO when the
 *         producer claims more responses than requests are outstanding.
 */
int xring_front_poll(struct xring_front *xr);

/*
 * Copy the next response out of the ring and consume its slot.  Only call
 * it as many times as xring_front_poll() allowed.
 */
void xring_front_take(struct xring_front *xr, struct blkif_response *rsp);

/*
 * Re-arm the response event and look again before sleeping.
 * \return 1 when responses arrived meanwhile, 0 when it is safe to sleep,
 *         -EIO for a bad producer index.
 */
int xring_front_final_check(struct xring_front *xr);

/*
 * Attach the backend to a ring the frontend initialised, at the ring's
 * response producer: 0 on a new ring, where a previous backend stopped
 * on one already in use.
 * \return 0, or -EINVAL for a bad page count or ABI.
 */
int xring_back_init(struct xring_back *xr, void *sring, unsigned int npages,
    enum xring_abi abi);

/*
 * Resume, on a ring xring_back_init() just attached (responses at the
 * rsp_prod it read once), the requests at req_cons: the first request a
 * previous backend did not take (from its shadow, xbb_shadow.c).
 * rsp_prod is not read again, so the shadow's recovery and the ring
 * agree on it whatever the frontend writes meanwhile.
 * \return 0, or -ESTALE when req_cons is not between the responses and
 *         the request producer within one ring.
 */
int xring_back_resume(struct xring_back *xr, RING_IDX req_cons);

/*
 * Has every request the frontend published been answered and pushed?
 * Then a backend may attach at rsp_prod without knowing what the last
 * one took.  Read once.
 */
bool xring_back_idle(const struct xring_back *xr);

/* Ring index of the next request xring_back_take() will copy. */
RING_IDX xring_back_req_next(const struct xring_back *xr);

/* Ring index of the slot the next xring_back_put_rsp() will write. */
RING_IDX xring_back_rsp_next(const struct xring_back *xr);

/*
 * Validate the frontend's request producer and count the requests that
 * may be taken now: never more than there are free response slots.
 * \return that count, or -EIO when the producer runs more than a ring
 *         ahead of our responses.
 */
int xring_back_poll(struct xring_back *xr);

/*
 * Copy the next request out of the ring (converting a 32-bit layout) and
 * consume its slot.  Only call it as many times as xring_back_poll()
 * allowed.  Nothing in *req is validated: that is the caller's job.
 */
void xring_back_take(struct xring_back *xr, union xring_req *req);

/* Responses the backend may still queue (slots of consumed requests). */
unsigned int xring_back_rsp_room(const struct xring_back *xr);

/*
 * Write one response into the next response slot, field by field.  The
 * caller never queues more responses than requests it took.
 */
void xring_back_put_rsp(struct xring_back *xr, uint64_t id, uint8_t op,
    int16_t status);

/*
 * Publish queued responses.
 * \return true when the frontend asked to be notified.
 */
bool xring_back_push(struct xring_back *xr);

/*
 * Re-arm the request event and look again before sleeping.
 * \return 1 when requests arrived meanwhile, 0 when it is safe to sleep,
 *         -EIO for a bad producer index.
 */
int xring_back_final_check(struct xring_back *xr);

/* The four indices of the shared header, each read once (diagnostics). */
struct xring_indices {
	RING_IDX ix_req_prod;  /* requests published */
	RING_IDX ix_req_event; /* the backend wants a notification here */
	RING_IDX ix_rsp_prod;  /* responses published */
	RING_IDX ix_rsp_event; /* the frontend wants a notification here */
};

/* Snapshot the shared indices; all zero before the ring is set up. */
void xring_front_indices(const struct xring_front *xr,
    struct xring_indices *out);

#endif /* XBD_XRING_H */
