/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "xen" platform: struct plat on Xen's own userspace libraries
 * (libxengntshr and libxengnttab through /dev/xen/gntalloc and
 * /dev/xen/gntdev, libxenevtchn through /dev/xen/evtchn, libxenstore).
 * Shared between the files of lib/platform/xen only.
 *
 * Granting side.  gntalloc grants a page when it allocates it, to one
 * domain, writable, and revokes the grant only when the page is unmapped
 * (deferring it in the kernel while the peer still maps it).  So
 * plat_mem_alloc shares its pages at once and remembers each page's
 * reference; plat_gnt_grant only looks the page's reference up and
 * returns it as the wire reference; plat_gnt_end has nothing to revoke.
 * The references callers reserve are tokens from a bounded budget, kept
 * so that the frontend's shortage handling behaves as on the simulator.
 */

#ifndef XBD_PX_INTERNAL_H
#define XBD_PX_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "../plat.h"
#include "../plat_freecb.h"

/* After plat.h: the shim picks the Xen interface version first. */
/* clang-format off */
#include <xenevtchn.h>
#include <xengnttab.h>
/* clang-format on */

/*
 * Reservable tokens: the frontend asks for at most one per segment of
 * every request in flight (4 rings x 1024 requests x 16 direct segments
 * is 65536), and a token costs 4 bytes of memory, nothing in Xen.
 */
#define PX_NREFS 65536u

/* One plat_mem_alloc region: pages shared through gntalloc. */
struct px_region {
	struct px_region *pr_next; /* list of the platform's regions */
	char *pr_addr;		   /* first page */
	size_t pr_npages;	   /* pages */
	uint32_t pr_peer;	   /* the domain every page is granted to */
	uint32_t *pr_refs;	   /* the grant reference of each page */
};

/* Counters behind plat_stats. */
struct px_stats {
	atomic_uint_fast64_t st_notify;	    /* notifications sent */
	atomic_uint_fast64_t st_events;	    /* ports taken from pending */
	atomic_uint_fast64_t st_grants;	    /* plat_gnt_grant calls */
	atomic_uint_fast64_t st_grant_ends; /* plat_gnt_end calls */
	atomic_uint_fast64_t st_maps;	    /* pages mapped */
	atomic_uint_fast64_t st_unmaps;	    /* pages unmapped */
	atomic_uint_fast64_t st_map_errors; /* elements that failed to map */
	atomic_uint_fast64_t st_copy_segs;  /* grant-copy segments */
	atomic_uint_fast64_t st_copy_bytes; /* bytes grant-copied */
};

/* One domain's view of real Xen: the process's own domain. */
struct px {
	struct plat px_plat;		/* embedded first (struct plat) */
	xengntshr_handle *px_gs;	/* gntalloc: the granting side */
	xengnttab_handle *px_gt;	/* gntdev: mapping and copying */
	pthread_mutex_t px_lock;	/* regions, tokens and waiters */
	struct px_region *px_regions;	/* shared memory, newest first */
	uint32_t *px_free;		/* stack of free tokens */
	uint32_t px_nfree;		/* tokens on px_free */
	struct plat_freecb *px_waiters; /* free-callback waiters */
	struct px_stats px_st;		/* counters */
};

/* One xenevtchn handle: one fd for all ports bound through it. */
struct px_evtchn {
	struct plat_evtchn pe_base; /* embedded first (struct plat_evtchn) */
	xenevtchn_handle *pe_xce;   /* the libxenevtchn handle */
};

static inline struct px *
px_of(struct plat *p)
{
	return ((struct px *)p);
}

/* px_gnt.c: the granting side. */
int px_gnt_init(struct px *x);
void px_gnt_fini(struct px *x);
int px_mem_alloc(struct plat *p, uint32_t peer, size_t npages, void **addr);
void px_mem_free(struct plat *p, void *addr, size_t npages);
int px_gnt_reserve(struct plat *p, unsigned int n, grant_ref_t *refs);
void px_gnt_release(struct plat *p, unsigned int n, const grant_ref_t *refs);
int px_gnt_request_free_callback(struct plat *p, unsigned int n,
    plat_gnt_free_fn *fn, void *arg);
void px_gnt_cancel_free_callback(struct plat *p, void *arg);
int px_gnt_grant(struct plat *p, grant_ref_t ref, uint32_t peer, void *page,
    bool readonly, grant_ref_t *wire);
int px_gnt_end(struct plat *p, grant_ref_t ref);

/* px_map.c: the mapping side. */
int px_map(struct plat *p, uint32_t dom, uint32_t count,
    const grant_ref_t *refs, bool writable, void **addr);
int px_unmap(struct plat *p, void *addr, uint32_t count);
int px_map_batch(struct plat *p, uint32_t dom, uint32_t count, bool writable,
    struct plat_map_seg *segs);
void px_unmap_batch(struct plat *p, uint32_t count, struct plat_map_seg *segs);
int px_copy(struct plat *p, uint32_t dom, uint32_t count,
    struct plat_copy_seg *segs);

/* px_evtchn.c: event channels. */
int px_evtchn_open(struct plat *p, struct plat_evtchn **out);
void px_evtchn_close(struct plat_evtchn *h);
int px_evtchn_fd(struct plat_evtchn *h);
int px_evtchn_bind_unbound(struct plat_evtchn *h, uint32_t remote,
    evtchn_port_t *port);
int px_evtchn_bind_interdomain(struct plat_evtchn *h, uint32_t remote,
    evtchn_port_t rport, evtchn_port_t *port);
int px_evtchn_notify(struct plat_evtchn *h, evtchn_port_t port);
int px_evtchn_pending(struct plat_evtchn *h, evtchn_port_t *port);
int px_evtchn_unmask(struct plat_evtchn *h, evtchn_port_t port);
int px_evtchn_unbind(struct plat_evtchn *h, evtchn_port_t port);

#endif /* XBD_PX_INTERNAL_H */
