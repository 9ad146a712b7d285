/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The platform interface: the one small set of services the frontend and
 * the backend need from a hypervisor, shaped after Xen's own userspace
 * libraries so that the real-Xen implementation is a thin pass-through:
 *
 *   grants, granting side     libxengntshr (plus the kernel gnttab calls
 *                             FreeBSD's blkfront makes: reserve, grant,
 *                             end access, free, free callback)
 *   grants, mapping side      libxengnttab (map, unmap, grant copy)
 *   event channels            libxenevtchn (one pollable fd per handle;
 *                             a fired port stays masked until unmask)
 *   XenStore                  libxenstore itself: a handle acting as the
 *                             domain this platform instance stands for
 *
 * One struct plat is one domain's view of the platform.  Two
 * implementations exist: "sim", the simulated hypervisor of
 * lib/platform/sim (in-process or multi-process), and "xen", real Xen
 * through libxengntshr/libxengnttab/libxenevtchn/libxenstore.
 *
 * Every function returns 0 or a negative errno unless stated otherwise.
 * A struct plat and its event-channel handles may be used from several
 * threads; one event-channel handle is meant to be polled by one thread.
 */

#ifndef XBD_PLAT_H
#define XBD_PLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/xen_shim.h"

struct plat;
struct plat_evtchn;
struct xs_handle;

/* What an implementation can do beyond the common core. */
enum plat_caps {
	/*
	 * Grants are made and ended per page, ending access reports a page
	 * the peer still maps (-EBUSY), and refs come from a bounded table
	 * (shortage is observable).  Real Xen from userspace (gntalloc)
	 * shares pages once, writable, and defers revocation in the kernel.
	 */
	PLAT_CAP_GNT_PER_PAGE = 1u << 0,
	/* Read-only grants are enforced against the mapper. */
	PLAT_CAP_GNT_READONLY = 1u << 1,
	/* The mapping side can map foreign grants (libxengnttab). */
	PLAT_CAP_GNT_MAP = 1u << 2,
	/* The mapping side can grant-copy. */
	PLAT_CAP_GNT_COPY = 1u << 3,
};

/* Counters every implementation keeps (load-independent perf gates). */
struct plat_stats {
	uint64_t ps_notify;	 /* evtchn notifications sent */
	uint64_t ps_notify_skip; /* notifies coalesced into a pending one */
	uint64_t ps_events;	 /* events taken with plat_evtchn_pending */
	uint64_t ps_grants;	 /* pages granted */
	uint64_t ps_grant_ends;	 /* grants ended */
	uint64_t ps_grant_busy;	 /* end-access refused: page still mapped */
	uint64_t ps_maps;	 /* foreign pages mapped */
	uint64_t ps_unmaps;	 /* foreign pages unmapped */
	uint64_t ps_map_errors;	 /* map elements that failed */
	uint64_t ps_copy_segs;	 /* grant-copy segments */
	uint64_t ps_copy_bytes;	 /* bytes moved by grant copy */
	uint64_t ps_refs_in_use; /* grant refs currently reserved */
	uint64_t ps_refs_total;	 /* size of the grant-ref budget */
};

/*
 * Called when enough grant references came back (see
 * plat_gnt_request_free_callback); runs on whatever thread freed them,
 * without platform locks held.
 */
typedef void plat_gnt_free_fn(void *arg);

/* One element of a batched map (data path of a backend). */
struct plat_map_seg {
	grant_ref_t ms_ref;  /* in: the grant reference */
	int16_t ms_status;   /* out: GNTST_okay or a GNTST_* error */
	void *ms_addr;	     /* out: where the page is mapped */
	uintptr_t ms_handle; /* out: what plat_unmap_batch needs */
};

/* One element of a grant copy between local memory and a foreign page. */
struct plat_copy_seg {
	void *cs_local;	    /* local bytes (may cross a page) */
	grant_ref_t cs_ref; /* foreign page */
	uint16_t cs_offset; /* offset in the foreign page */
	uint16_t cs_len;    /* bytes; offset + len <= 4096 */
	bool cs_to_foreign; /* true: local -> foreign (needs writable) */
	int16_t cs_status;  /* out: GNTST_okay or a GNTST_* error */
};

/* ---------------------------------------------------------------------
 * The implementation's table.  Users call the plat_* wrappers below.
 */
struct plat_ops {
	const char *po_name;
	unsigned int po_caps;
	void (*po_close)(struct plat *);
	struct xs_handle *(*po_xs_open)(struct plat *);

	int (*po_mem_alloc)(struct plat *, uint32_t, size_t, void **);
	void (*po_mem_free)(struct plat *, void *, size_t);
	int (*po_gnt_reserve)(struct plat *, unsigned int, grant_ref_t *);
	void (
	    *po_gnt_release)(struct plat *, unsigned int, const grant_ref_t *);
	int (*po_gnt_request_free_callback)(struct plat *, unsigned int,
	    plat_gnt_free_fn *, void *);
	void (*po_gnt_cancel_free_callback)(struct plat *, void *);
	int (*po_gnt_grant)(struct plat *, grant_ref_t, uint32_t, void *, bool,
	    grant_ref_t *);
	int (*po_gnt_end)(struct plat *, grant_ref_t);

	int (*po_map)(struct plat *, uint32_t, uint32_t, const grant_ref_t *,
	    bool, void **);
	int (*po_unmap)(struct plat *, void *, uint32_t);
	int (*po_map_batch)(struct plat *, uint32_t, uint32_t, bool,
	    struct plat_map_seg *);
	void (*po_unmap_batch)(struct plat *, uint32_t, struct plat_map_seg *);
	int (*po_copy)(struct plat *, uint32_t, uint32_t,
	    struct plat_copy_seg *);

	int (*po_evtchn_open)(struct plat *, struct plat_evtchn **);
	void (*po_evtchn_close)(struct plat_evtchn *);
	int (*po_evtchn_fd)(struct plat_evtchn *);
	int (*po_evtchn_bind_unbound)(struct plat_evtchn *, uint32_t,
	    evtchn_port_t *);
	int (*po_evtchn_bind_interdomain)(struct plat_evtchn *, uint32_t,
	    evtchn_port_t, evtchn_port_t *);
	int (*po_evtchn_notify)(struct plat_evtchn *, evtchn_port_t);
	int (*po_evtchn_pending)(struct plat_evtchn *, evtchn_port_t *);
	int (*po_evtchn_unmask)(struct plat_evtchn *, evtchn_port_t);
	int (*po_evtchn_unbind)(struct plat_evtchn *, evtchn_port_t);

	void (*po_stats)(struct plat *, struct plat_stats *);
};

/*
 * The part of struct plat every implementation shares; implementations
 * embed it first in their own structure.
 */
struct plat {
	const struct plat_ops *pl_ops; /* the implementation */
	uint32_t pl_domid;	       /* the domain this view acts as */
};

/*
 * The part of struct plat_evtchn every implementation shares (embedded
 * first); it lets the evtchn wrappers find the table.
 */
struct plat_evtchn {
	struct plat *pe_plat; /* the platform the handle came from */
};

/* ---------------------------------------------------------------------
 * Identity and lifetime
 */

/* The domain id this platform instance acts as. */
static inline uint32_t
plat_domid(const struct plat *p)
{
	return (p->pl_domid);
}

/* "sim" or "xen". */
static inline const char *
plat_name(const struct plat *p)
{
	return (p->pl_ops->po_name);
}

/* Does the implementation provide every capability in caps? */
static inline bool
plat_has(const struct plat *p, unsigned int caps)
{
	return ((p->pl_ops->po_caps & caps) == caps);
}

/*
 * Release this domain's view: unbinds nothing on its own (close handles
 * first) but frees what the implementation allocated for it.
 */
static inline void
plat_close(struct plat *p)
{
	if (p != NULL)
		p->pl_ops->po_close(p);
}

/*
 * Open a libxenstore handle acting as this domain (relative paths,
 * permissions, quotas of that domain).  Safe to call from any thread.
 * \return the handle (close with xs_close), or NULL with errno set.
 */
static inline struct xs_handle *
plat_xs_open(struct plat *p)
{
	return (p->pl_ops->po_xs_open(p));
}

/* ---------------------------------------------------------------------
 * Grants: the granting side
 */

/*
 * Allocate npages of zeroed, page-aligned memory that can be granted to
 * domain peer.  On real Xen the pages come from gntalloc and are shared
 * with peer, writable, at once.
 * \return 0 or -ENOMEM / -ENOSPC.
 */
static inline int
plat_mem_alloc(struct plat *p, uint32_t peer, size_t npages, void **addr)
{
	return (p->pl_ops->po_mem_alloc(p, peer, npages, addr));
}

/* Free memory from plat_mem_alloc; every grant on it must be ended. */
static inline void
plat_mem_free(struct plat *p, void *addr, size_t npages)
{
	p->pl_ops->po_mem_free(p, addr, npages);
}

/*
 * Reserve n grant references (FreeBSD's gnttab_alloc_grant_references).
 * \return 0, or -ENOSPC when fewer than n are free (a shortage the
 *         caller turns into a queue freeze, not an error).
 */
static inline int
plat_gnt_reserve(struct plat *p, unsigned int n, grant_ref_t *refs)
{
	return (p->pl_ops->po_gnt_reserve(p, n, refs));
}

/* Give back reserved references (their grants must have been ended). */
static inline void
plat_gnt_release(struct plat *p, unsigned int n, const grant_ref_t *refs)
{
	p->pl_ops->po_gnt_release(p, n, refs);
}

/*
 * Ask for fn(arg) to be called once at least n references are free
 * again.  One request per arg is outstanding at a time.
 * \return 0, or -EALREADY when arg already has one.
 */
static inline int
plat_gnt_request_free_callback(struct plat *p, unsigned int n,
    plat_gnt_free_fn *fn, void *arg)
{
	return (p->pl_ops->po_gnt_request_free_callback(p, n, fn, arg));
}

/* Withdraw arg's pending free callback, if any (before freeing arg). */
static inline void
plat_gnt_cancel_free_callback(struct plat *p, void *arg)
{
	p->pl_ops->po_gnt_cancel_free_callback(p, arg);
}

/*
 * Grant domain peer access to the page at page (which must lie in memory
 * from plat_mem_alloc) through the reserved reference ref.  *wire is the
 * reference to put on the wire: ref itself on the simulator, the page's
 * gntalloc reference on real Xen (where readonly is not enforced).
 * \return 0, -EINVAL (not grantable memory, bad ref), -EBUSY (ref in use).
 */
static inline int
plat_gnt_grant(struct plat *p, grant_ref_t ref, uint32_t peer, void *page,
    bool readonly, grant_ref_t *wire)
{
	return (p->pl_ops->po_gnt_grant(p, ref, peer, page, readonly, wire));
}

/*
 * End foreign access through ref, atomically, only if the peer has no
 * mapping or copy of it in flight (Xen's GTF_reading/GTF_writing rule;
 * Linux's gnttab_try_end_foreign_access).
 * \return 0, or -EBUSY when the peer still uses it: the page must then
 *         not be reused (XSA-396) and the ref stays granted.
 */
static inline int
plat_gnt_end(struct plat *p, grant_ref_t ref)
{
	return (p->pl_ops->po_gnt_end(p, ref));
}

/* ---------------------------------------------------------------------
 * Grants: the mapping side
 */

/*
 * Map count foreign pages of domain dom contiguously (rings), all or
 * nothing.
 * \return 0, -EACCES/-EINVAL/-ENOENT for a bad reference, -ENOMEM.
 */
static inline int
plat_map(struct plat *p, uint32_t dom, uint32_t count, const grant_ref_t *refs,
    bool writable, void **addr)
{
	return (p->pl_ops->po_map(p, dom, count, refs, writable, addr));
}

/* Unmap what plat_map mapped (same count). */
static inline int
plat_unmap(struct plat *p, void *addr, uint32_t count)
{
	return (p->pl_ops->po_unmap(p, addr, count));
}

/*
 * Map count foreign pages, each on its own (data path).  Every element
 * gets a status; the successful ones are mapped even when others failed
 * and must be unmapped with plat_unmap_batch (XSA-361: partial failure).
 * \return 0 when all mapped, -EIO when at least one element failed.
 */
static inline int
plat_map_batch(struct plat *p, uint32_t dom, uint32_t count, bool writable,
    struct plat_map_seg *segs)
{
	return (p->pl_ops->po_map_batch(p, dom, count, writable, segs));
}

/* Unmap the elements of a batch whose status is GNTST_okay. */
static inline void
plat_unmap_batch(struct plat *p, uint32_t count, struct plat_map_seg *segs)
{
	p->pl_ops->po_unmap_batch(p, count, segs);
}

/*
 * Grant copy between local memory and pages of domain dom, with a status
 * per element (Xen's GNTTABOP_copy).
 * \return 0 when all succeeded, -EIO when at least one failed.
 */
static inline int
plat_copy(struct plat *p, uint32_t dom, uint32_t count,
    struct plat_copy_seg *segs)
{
	return (p->pl_ops->po_copy(p, dom, count, segs));
}

/* ---------------------------------------------------------------------
 * Event channels (libxenevtchn semantics)
 */

/* Open a handle: one pollable fd for all ports bound through it. */
static inline int
plat_evtchn_open(struct plat *p, struct plat_evtchn **out)
{
	return (p->pl_ops->po_evtchn_open(p, out));
}

/* Close a handle: every port bound through it is closed. */
static inline void
plat_evtchn_close(struct plat_evtchn *h)
{
	if (h != NULL)
		h->pe_plat->pl_ops->po_evtchn_close(h);
}

/* The fd: readable while a fired port is waiting for plat_evtchn_pending. */
static inline int
plat_evtchn_fd(struct plat_evtchn *h)
{
	return (h->pe_plat->pl_ops->po_evtchn_fd(h));
}

/* Allocate a port that domain remote may bind to. */
static inline int
plat_evtchn_bind_unbound(struct plat_evtchn *h, uint32_t remote,
    evtchn_port_t *port)
{
	return (h->pe_plat->pl_ops->po_evtchn_bind_unbound(h, remote, port));
}

/*
 * Bind a new local port to port remote_port of domain remote.  As on Xen,
 * the new port starts with one spurious pending event.
 * \return 0, -EINVAL (no such port, or not unbound for us: Xen answers
 *         both with EINVAL), -ESRCH (no such domain).
 */
static inline int
plat_evtchn_bind_interdomain(struct plat_evtchn *h, uint32_t remote,
    evtchn_port_t remote_port, evtchn_port_t *port)
{
	return (h->pe_plat->pl_ops->po_evtchn_bind_interdomain(h, remote,
	    remote_port, port));
}

/*
 * Notify the peer of port.  Notifies coalesce while the peer's port is
 * pending; a notify on a port whose peer went away is dropped, as Xen
 * drops a send on an unbound port.
 * \return 0, or -ENOTCONN when port is not bound through h.
 */
static inline int
plat_evtchn_notify(struct plat_evtchn *h, evtchn_port_t port)
{
	return (h->pe_plat->pl_ops->po_evtchn_notify(h, port));
}

/*
 * Take one fired port, without blocking.  The port stays masked (no
 * further wake-ups for it) until plat_evtchn_unmask.
 * \return 0 and *port, or -EAGAIN when nothing fired.
 */
static inline int
plat_evtchn_pending(struct plat_evtchn *h, evtchn_port_t *port)
{
	return (h->pe_plat->pl_ops->po_evtchn_pending(h, port));
}

/* Re-enable a port taken with plat_evtchn_pending. */
static inline int
plat_evtchn_unmask(struct plat_evtchn *h, evtchn_port_t port)
{
	return (h->pe_plat->pl_ops->po_evtchn_unmask(h, port));
}

/* Close one port; the peer's end returns to unbound. */
static inline int
plat_evtchn_unbind(struct plat_evtchn *h, evtchn_port_t port)
{
	return (h->pe_plat->pl_ops->po_evtchn_unbind(h, port));
}

/* A snapshot of the counters. */
static inline void
plat_stats(struct plat *p, struct plat_stats *st)
{
	p->pl_ops->po_stats(p, st);
}

/* ---------------------------------------------------------------------
 * Selecting an implementation at run time
 */

/* Platforms this build knows by name ("sim", and "xen" with libxen). */
bool plat_known(const char *name);

/*
 * Open the real-Xen platform acting as the domain the process runs in.
 * \return 0, -ENODEV when the Xen devices are missing, -ENOTSUP when the
 *         build has no Xen libraries.
 */
int plat_xen_open(struct plat **out);

#endif /* XBD_PLAT_H */
