/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The shadow of a ring: every request the backend has taken, kept until
 * the frontend can see its response, in a file mapped shared (under
 * /run by default) so that it outlives the process.
 *
 * Why: a response is written into the slot of a request the backend
 * already took, and becomes visible only when rsp_prod is pushed past
 * it.  A backend killed between the two leaves slots that hold neither
 * the request nor a visible response, and a backend killed with
 * requests in flight leaves no record of which ones.  A new backend
 * that re-reads the ring from rsp_prod therefore answers garbage (Linux
 * blkfront then disables the disk) or never answers a request (the
 * guest hangs).  With the shadow it re-executes exactly the requests
 * whose responses the frontend has not seen, once each, and takes new
 * ones where the dead backend stopped.
 *
 * One entry per request slot of the backend (xbb_req), one state
 * machine per entry, each step a single release store after the data
 * it covers, so that a process killed between any two instructions
 * leaves a file the next one can read:
 *
 *   FREE ----take(idx, copy)----> TAKEN ----answer(rsp)----> ANSWERED
 *     ^                                                         |
 *     +------------- (reused by a later take) ------------------+
 *
 * take() writes the copy and the ring index, then TAKEN, then advances
 * sh_req_cons past it; answer() records the index of the response slot
 * just written, before rsp_prod is pushed.  A request is pending after
 * a crash when it is TAKEN and sh_req_cons moved past it, or ANSWERED
 * at or past the published rsp_prod.  There are exactly sh_req_cons -
 * rsp_prod of them, which recovery checks.  The ring keeps an answered
 * entry from reuse until its response is pushed (xbb_ring.c, the DONE
 * queue).
 *
 * Cost per request: one copy of the request (at most 112 bytes) and
 * four stores to memory that is already mapped; no system call.
 */

#ifndef XBD_BACK_XBB_SHADOW_H
#define XBD_BACK_XBB_SHADOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/xring.h"

/* States of an entry. */
enum xbb_se_state {
	XBB_SE_FREE = 0,     /* nothing, or a request long answered */
	XBB_SE_TAKEN = 1,    /* taken at se_idx, not answered */
	XBB_SE_ANSWERED = 2, /* response written at se_rsp */
};

/* One request slot, in the file. */
struct xbb_shadow_ent {
	_Atomic uint32_t se_state; /* enum xbb_se_state */
	uint32_t se_idx;	   /* ring index the request was taken at */
	uint32_t se_rsp;	   /* ring index of its response slot */
	uint32_t se_pad;	   /* keeps se_req 8-byte aligned */
	union xring_req se_req;	   /* the request as taken (native) */
};

/*
 * What identifies the connection a shadow belongs to: a frontend that
 * reconnected meanwhile has granted new pages or allocated a new port.
 */
struct xbb_shadow_key {
	uint32_t sk_slots;		   /* request slots */
	uint32_t sk_npages;		   /* ring pages */
	uint32_t sk_abi;		   /* enum xring_abi */
	uint32_t sk_port;		   /* the frontend's port */
	uint32_t sk_refs[XRING_MAX_PAGES]; /* ring-ref grants */
};

/* The file's header. */
struct xbb_shadow_hdr {
	uint32_t sh_magic;	      /* XBB_SHADOW_MAGIC */
	uint32_t sh_version;	      /* XBB_SHADOW_VERSION */
	struct xbb_shadow_key sh_key; /* the connection */
	_Atomic uint32_t sh_req_cons; /* next request to take */
	uint32_t sh_pad;	      /* entries 8-byte aligned */
};

/* An open shadow. */
struct xbb_shadow {
	int sw_fd;		       /* the file, or -1: no shadow */
	size_t sw_len;		       /* bytes mapped */
	struct xbb_shadow_hdr *sw_hdr; /* the mapping */
	struct xbb_shadow_ent *sw_ent; /* sk_slots entries after it */
	char sw_path[256];	       /* for unlinking */
};

/* What recovery found. */
struct xbb_shadow_replay {
	uint32_t sr_req_cons; /* where to take requests from */
	uint32_t sr_count;    /* pending requests */
	uint32_t sr_done;     /* of which re-executed so far */
	uint32_t *sr_slots;   /* their entries, in the order taken
				 (sk_slots long, owned by the caller) */
};

/*
 * Open (creating it if needed) and map the shadow of ring `ring` of vbd
 * feid/vdev of the backend domain `be` in directory dir, sized for the
 * key's slots.  *matches says whether the file already held a shadow of
 * the same connection (then xbb_shadow_recover() may read it).
 * \return 0 or a negative errno.
 */
int xbb_shadow_open(struct xbb_shadow *sw, const char *dir, uint32_t be,
    uint32_t feid, uint32_t vdev, unsigned int ring,
    const struct xbb_shadow_key *key, bool *matches);

/*
 * Start afresh for this connection: every entry FREE, requests taken
 * from req_cons on.
 */
void xbb_shadow_reset(struct xbb_shadow *sw, const struct xbb_shadow_key *key,
    uint32_t req_cons);

/*
 * Find the requests a dead backend took whose responses are not visible
 * at `pushed` (the ring's published rsp_prod), in the order it
 * took them, and leave the file describing just them: those entries
 * TAKEN, every other one FREE.  Idempotent, and safe to be killed in.
 * \return 0, or -ESTALE when the file is not a consistent shadow (the
 *         pending count differs from req_cons - rsp_prod, an index lies
 *         outside the ring).
 */
int xbb_shadow_recover(struct xbb_shadow *sw, uint32_t pushed,
    struct xbb_shadow_replay *out);

/* The request in entry slot was taken at ring index idx (I/O thread). */
static inline void
xbb_shadow_take(struct xbb_shadow *sw, uint32_t slot, uint32_t idx,
    const union xring_req *req)
{
	struct xbb_shadow_ent *e;

	if (sw->sw_fd < 0)
		return;
	e = &sw->sw_ent[slot];
	/* FREE first: a half-written copy must never look TAKEN. */
	atomic_store_explicit(&e->se_state, XBB_SE_FREE, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	e->se_idx = idx;
	e->se_req = *req;
	atomic_store_explicit(&e->se_state, XBB_SE_TAKEN, memory_order_release);
	atomic_store_explicit(&sw->sw_hdr->sh_req_cons, idx + 1,
	    memory_order_release);
}

/* Its response was written at ring index rsp, not yet pushed. */
static inline void
xbb_shadow_answer(struct xbb_shadow *sw, uint32_t slot, uint32_t rsp)
{
	struct xbb_shadow_ent *e;

	if (sw->sw_fd < 0)
		return;
	e = &sw->sw_ent[slot];
	e->se_rsp = rsp;
	atomic_store_explicit(&e->se_state, XBB_SE_ANSWERED,
	    memory_order_release);
}

/* The request recorded in entry slot (for re-execution). */
const union xring_req *xbb_shadow_req(const struct xbb_shadow *sw,
    uint32_t slot);

/*
 * Unmap and close; with remove, delete the file too (the connection
 * ended: nothing to resume).
 */
void xbb_shadow_close(struct xbb_shadow *sw, bool remove);

/*
 * Hold the state directory's lock for backend domain be: one backend
 * per domain, since two would both serve every vbd: an xu_lock on
 * DIR/backend-BE.lock naming our pid, which dies with its process, so a
 * restarted backend never finds it stale.
 * \return the descriptor to keep open, -EBUSY when another process
 *         holds it, or another negative errno.
 */
int xbb_shadow_lock(const char *dir, uint32_t be);

/* Release it: the lock file goes. */
void xbb_shadow_unlock(const char *dir, uint32_t be, int fd);

#endif /* XBD_BACK_XBB_SHADOW_H */
