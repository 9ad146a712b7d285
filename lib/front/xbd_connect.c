/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XenBus side of the frontend: reacting to the backend's state as
 * FreeBSD's xbd_backend_changed does, negotiating the transport
 * (xbd_initialize: ring pages in both the Citrix and the Amazon/RedHat
 * scheme, queues, event channels), reading the disk and its features
 * (xbd_connect: geometry, flush/barrier/discard/persistent/indirect and
 * the limits that follow from them), and tearing it all down again
 * (xbd_closing, xbd_free).
 *
 * Every value the backend published is parsed strictly and checked; a
 * limit beyond ours is clamped with a message (FreeBSD's rule), a value
 * that makes no sense is fatal for the device (xbus_dev_fatal), never an
 * assertion.  XenStore is only touched without xbd_io_lock held.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xu_time.h"
#include "xbd_internal.h"
#include "xbd_queue.h"

/* Largest physical sector size we believe (1 MiB). */
#define XBD_MAX_PHYS_SECTOR_SIZE (1u << 20)

int
xbd_set_state(struct xbd_softc *sc, enum xenbus_state state)
{
	int rc;

	if ((rc = xbus_write_state(sc->xbd_xs, sc->xbd_node, state)) != 0) {
		xbd_log(sc, "cannot write state %s: %d", xbus_state_name(state),
		    rc);
		return (rc);
	}
	XBD_LOCK(sc);
	sc->xbd_xbstate = state;
	XBD_UNLOCK(sc);
	return (0);
}

/* Watch the backend's state node (again, after a resume may move it). */
int
xbd_watch_otherend(struct xbd_softc *sc)
{
	if (sc->xbd_watch_path[0] != '\0')
		(void)xs_unwatch(sc->xbd_xs, sc->xbd_watch_path, "otherend");
	snprintf(sc->xbd_watch_path, sizeof(sc->xbd_watch_path), "%s/state",
	    sc->xbd_otherend);
	if (!xs_watch(sc->xbd_xs, sc->xbd_watch_path, "otherend"))
		return (errno != 0 ? -errno : -EIO);
	return (0);
}

/* Fail the connection attempt: FreeBSD's xenbus_dev_fatal. */
static void
xbd_fatal(struct xbd_softc *sc, int err, const char *what)
{
	xbd_log(sc, "%s: %d", what, err);
	xbus_dev_fatal(sc->xbd_xs, sc->xbd_node, err, "%s", what);
	XBD_LOCK(sc);
	sc->xbd_xbstate = XenbusStateClosing;
	if (sc->xbd_attach_error == 0)
		sc->xbd_attach_error = err < 0 ? err : -err;
	pthread_cond_broadcast(&sc->xbd_cv);
	XBD_UNLOCK(sc);
}

/* A backend feature flag; garbage counts as absent, with a message. */
static bool
xbd_feature(struct xbd_softc *sc, const char *node)
{
	bool on = false;

	if (xbus_read_bool_def(sc->xbd_xs, XBT_NULL, sc->xbd_otherend, node,
		false, &on) != 0) {
		xbd_log(sc, "backend's %s is not 0 or 1: ignored", node);
		return (false);
	}
	return (on);
}

/* A backend number with a default; garbage gives the default too. */
static uint64_t
xbd_backend_u64(struct xbd_softc *sc, const char *node, uint64_t max,
    uint64_t def)
{
	uint64_t v;
	int rc;

	rc = xbus_read_u64_def(sc->xbd_xs, XBT_NULL, sc->xbd_otherend, node,
	    max, def, &v);
	if (rc == -ERANGE) {
		xbd_log(sc, "backend's %s above %ju: clamped", node,
		    (uintmax_t)max);
		return (max);
	}
	if (rc != 0) {
		xbd_log(sc, "backend's %s is not a number: using %ju", node,
		    (uintmax_t)def);
		return (def);
	}
	return (v);
}

static uint32_t
xbd_rounddown_pow2(uint32_t v)
{
	while ((v & (v - 1)) != 0)
		v &= v - 1;
	return (v);
}

/* ---------------------------------------------------------------------
 * Rings
 */

/*
 * How long, in total, a teardown waits for the backend to unmap pages it
 * still maps before retiring them for good (XSA-396: never reused).
 */
#define XBD_RETIRE_GRACE_MS 200

static void
xbd_free_ring(struct xbd_softc *sc, struct xbd_ring *ring)
{
	unsigned int tries;
	bool busy = false;
	uint32_t i;

	if (ring->rq_bound) {
		(void)plat_evtchn_unbind(sc->xbd_evtchn, ring->rq_port);
		ring->rq_bound = false;
		ring->rq_unmask_at = 0;
	}
	if (ring->rq_granted) {
		/* A backend going away may not have unmapped the ring yet. */
		for (tries = 0;; tries++) {
			busy = false;
			for (i = 0; i < sc->xbd_ring_pages; i++)
				if (plat_gnt_end(sc->xbd_plat,
					ring->rq_refs[i]) != 0)
					busy = true;
			if (!busy || tries >= XBD_RETIRE_GRACE_MS)
				break;
			usleep(1000);
		}
		if (!busy)
			plat_gnt_release(sc->xbd_plat, sc->xbd_ring_pages,
			    ring->rq_refs);
		ring->rq_granted = false;
	}
	/* A ring page the backend still maps is never reused (XSA-396). */
	if (ring->rq_sring != NULL && !busy)
		plat_mem_free(sc->xbd_plat, ring->rq_sring, sc->xbd_ring_pages);
	if (busy)
		sc->xbd_stats.xst_grant_busy++;
	ring->rq_sring = NULL;
	ring->rq_shadow = NULL;
	ring->rq_nslots = 0;
	ring->rq_busy = 0;
}

static int
xbd_alloc_ring(struct xbd_softc *sc, struct xbd_ring *ring)
{
	uint32_t i;
	int rc;

	rc = plat_mem_alloc(sc->xbd_plat, sc->xbd_otherend_id,
	    sc->xbd_ring_pages, &ring->rq_sring);
	if (rc != 0)
		return (rc);
	if ((rc = xring_front_init(&ring->rq_ring, ring->rq_sring,
		 sc->xbd_ring_pages)) != 0)
		goto fail;
	if ((rc = plat_gnt_reserve(sc->xbd_plat, sc->xbd_ring_pages,
		 ring->rq_refs)) != 0)
		goto fail;
	for (i = 0; i < sc->xbd_ring_pages; i++) {
		rc = plat_gnt_grant(sc->xbd_plat, ring->rq_refs[i],
		    sc->xbd_otherend_id,
		    (char *)ring->rq_sring + (size_t)i * XBD_PAGE_SIZE, false,
		    &ring->rq_wire[i]);
		if (rc != 0) {
			while (i-- > 0)
				(void)plat_gnt_end(sc->xbd_plat,
				    ring->rq_refs[i]);
			plat_gnt_release(sc->xbd_plat, sc->xbd_ring_pages,
			    ring->rq_refs);
			goto fail;
		}
	}
	ring->rq_granted = true;
	if ((rc = plat_evtchn_bind_unbound(sc->xbd_evtchn, sc->xbd_otherend_id,
		 &ring->rq_port)) != 0)
		goto fail;
	ring->rq_bound = true;
	/* A new port starts with a clean record (late EOI). */
	memset(&ring->rq_eoi, 0, sizeof(ring->rq_eoi));
	ring->rq_unmask_at = 0;
	return (0);
fail:
	xbd_free_ring(sc, ring);
	return (rc);
}

/* Write one ring's transport nodes under dir ("" or "queue-N"). */
static int
xbd_write_ring_nodes(struct xbd_softc *sc, xs_transaction_t t, const char *dir,
    struct xbd_ring *ring)
{
	char node[64];
	uint32_t i;
	int rc;

	if (sc->xbd_ring_pages == 1) {
		/* One page: ring-ref, never ring-ref0 (blkif.h note 6). */
		snprintf(node, sizeof(node), "%s%sring-ref", dir,
		    *dir != '\0' ? "/" : "");
		if ((rc = xbus_printf(sc->xbd_xs, t, sc->xbd_node, node, "%u",
			 ring->rq_wire[0])) != 0)
			return (rc);
	} else {
		for (i = 0; i < sc->xbd_ring_pages; i++) {
			snprintf(node, sizeof(node), "%s%sring-ref%u", dir,
			    *dir != '\0' ? "/" : "", i);
			if ((rc = xbus_printf(sc->xbd_xs, t, sc->xbd_node, node,
				 "%u", ring->rq_wire[i])) != 0)
				return (rc);
		}
	}
	snprintf(node, sizeof(node), "%s%sevent-channel", dir,
	    *dir != '\0' ? "/" : "");
	return (xbus_printf(sc->xbd_xs, t, sc->xbd_node, node, "%u",
	    ring->rq_port));
}

/*
 * Remove what an earlier connection published: a backend reads
 * multi-queue-num-queues or ring-page-order left from a connection with
 * more queues or pages as if they were ours (Linux blkback does, and
 * then maps stale references), and the toolstack does not recreate the
 * directory between a detach and the next attach.
 */
static int
xbd_clear_transport(struct xbd_softc *sc, xs_transaction_t t)
{
	static const char *const stale[] = { "ring-ref", "queue-",
		"event-channel", "ring-page-order", "num-ring-pages",
		"multi-queue-num-queues" };
	unsigned int n, i, j;
	char **ents;
	int rc = 0;

	if ((ents = xs_directory(sc->xbd_xs, t, sc->xbd_node, &n)) == NULL)
		return (errno == ENOENT ? 0 : -errno);
	for (i = 0; i < n && rc == 0; i++)
		for (j = 0; j < sizeof(stale) / sizeof(stale[0]); j++)
			if (strncmp(ents[i], stale[j], strlen(stale[j])) == 0) {
				rc = xbus_rm(sc->xbd_xs, t, sc->xbd_node,
				    ents[i]);
				break;
			}
	free(ents);
	return (rc);
}

static int
xbd_write_transport(struct xbd_softc *sc, xs_transaction_t t)
{
	char dir[32];
	uint32_t q, order;
	int rc;

	if ((rc = xbd_clear_transport(sc, t)) != 0)
		return (rc);
	if (sc->xbd_ring_pages > 1) {
		/* Both schemes: the Citrix order and the deprecated count. */
		for (order = 0; (1u << order) < sc->xbd_ring_pages; order++)
			;
		if ((rc = xbus_printf(sc->xbd_xs, t, sc->xbd_node,
			 "ring-page-order", "%u", order)) != 0 ||
		    (rc = xbus_printf(sc->xbd_xs, t, sc->xbd_node,
			 "num-ring-pages", "%u", sc->xbd_ring_pages)) != 0)
			return (rc);
	}
	if (sc->xbd_nqueues == 1) {
		rc = xbd_write_ring_nodes(sc, t, "", &sc->xbd_rings[0]);
		if (rc != 0)
			return (rc);
	} else {
		if ((rc = xbus_printf(sc->xbd_xs, t, sc->xbd_node,
			 "multi-queue-num-queues", "%u", sc->xbd_nqueues)) != 0)
			return (rc);
		for (q = 0; q < sc->xbd_nqueues; q++) {
			snprintf(dir, sizeof(dir), "queue-%u", q);
			if ((rc = xbd_write_ring_nodes(sc, t, dir,
				 &sc->xbd_rings[q])) != 0)
				return (rc);
		}
	}
	if ((rc = xbus_write(sc->xbd_xs, t, sc->xbd_node, "protocol",
		 XEN_IO_PROTO_ABI_NATIVE)) != 0)
		return (rc);
	return (xbus_write(sc->xbd_xs, t, sc->xbd_node, "feature-persistent",
	    sc->xbd_opts.o_persistent ? "1" : "0"));
}

/* xbd_write_transport as a transaction's body. */
static int
xbd_transport_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	return (xbd_write_transport(arg, t));
}

/* Publish the transport in one transaction, retried on conflicts. */
static int
xbd_publish_transport(struct xbd_softc *sc)
{
	return (xbus_txn(sc->xbd_xs, xbd_transport_txn, sc));
}

/* ---------------------------------------------------------------------
 * Negotiation
 */

/*
 * The backend is waiting for us (InitWait, or it skipped ahead): size
 * and allocate the rings and tell it where they are.
 */
int
xbd_initialize(struct xbd_softc *sc)
{
	uint64_t order, pages64, queues;
	uint32_t pages, q, cap;
	int rc;

	if (sc->xbd_xbstate != XenbusStateInitialising)
		return (0);

	/* Ring pages: the Citrix order, overridden by the Amazon count. */
	order = xbd_backend_u64(sc, "max-ring-page-order", 63, 0);
	pages64 = order >= 31 ? (1ull << 31) : (1ull << order);
	pages64 = xbd_backend_u64(sc, "max-ring-pages", UINT32_MAX, pages64);
	cap = XU_MIN(sc->xbd_opts.o_max_ring_pages, XBD_MAX_RING_PAGES);
	if (pages64 > cap) {
		xbd_log(sc, "backend offers %ju ring pages, using %u",
		    (uintmax_t)pages64, cap);
		pages64 = cap;
	}
	pages = pages64 == 0 ? 1 : (uint32_t)pages64;
	if ((pages & (pages - 1)) != 0) {
		xbd_log(sc, "ring pages %u not a power of two: using %u", pages,
		    xbd_rounddown_pow2(pages));
		pages = xbd_rounddown_pow2(pages);
	}

	/* Queues: only what both ends want. */
	queues = xbd_backend_u64(sc, "multi-queue-max-queues", UINT32_MAX, 1);
	queues = XU_MIN(queues, sc->xbd_opts.o_max_queues);
	queues = XU_MIN(queues, XBD_MAX_QUEUES);
	if (queues == 0)
		queues = 1;

	XBD_LOCK(sc);
	sc->xbd_ring_pages = pages;
	sc->xbd_nqueues = (uint32_t)queues;
	XBD_UNLOCK(sc);

	for (q = 0; q < sc->xbd_nqueues; q++) {
		sc->xbd_rings[q].rq_sc = sc;
		sc->xbd_rings[q].rq_index = q;
		if ((rc = xbd_alloc_ring(sc, &sc->xbd_rings[q])) != 0) {
			while (q-- > 0)
				xbd_free_ring(sc, &sc->xbd_rings[q]);
			xbd_fatal(sc, rc, "allocating the shared ring");
			return (rc);
		}
	}
	if ((rc = xbd_publish_transport(sc)) != 0) {
		xbd_free(sc);
		xbd_fatal(sc, rc, "publishing the transport");
		return (rc);
	}
	return (xbd_set_state(sc, XenbusStateInitialised));
}

/* Read and check the disk the backend describes. */
static int
xbd_read_geometry(struct xbd_softc *sc, uint64_t *sectors, uint32_t *ssize,
    uint32_t *pssize, uint32_t *info)
{
	uint64_t v;
	int rc;

	/* sectors is in 512-byte units (Xen's 2024 clarification). */
	if ((rc = xbus_read_u64(sc->xbd_xs, XBT_NULL, sc->xbd_otherend,
		 "sectors", UINT64_MAX >> XBD_SECTOR_SHIFT, sectors)) != 0 ||
	    *sectors == 0) {
		xbd_log(sc, "backend's sectors missing or invalid (%d)", rc);
		return (-EPROTO);
	}
	if ((rc = xbus_read_u64(sc->xbd_xs, XBT_NULL, sc->xbd_otherend,
		 "sector-size", 4096, &v)) != 0 ||
	    v < XBD_SECTOR_SIZE || (v & (v - 1)) != 0) {
		xbd_log(sc, "backend's sector-size missing or invalid");
		return (-EPROTO);
	}
	*ssize = (uint32_t)v;
	if (((*sectors << XBD_SECTOR_SHIFT) & (*ssize - 1)) != 0) {
		xbd_log(sc, "disk size not a multiple of sector-size %u",
		    *ssize);
		return (-EPROTO);
	}
	v = xbd_backend_u64(sc, "physical-sector-size",
	    XBD_MAX_PHYS_SECTOR_SIZE, *ssize);
	if (v < *ssize || (v & (v - 1)) != 0) {
		xbd_log(sc, "physical-sector-size %ju ignored", (uintmax_t)v);
		v = *ssize;
	}
	*pssize = (uint32_t)v;
	v = xbd_backend_u64(sc, "info", UINT32_MAX, 0);
	*info = (uint32_t)v & (VDISK_CDROM | VDISK_REMOVABLE | VDISK_READONLY);
	if (v != *info)
		xbd_log(sc, "unknown info bits 0x%jx ignored", (uintmax_t)v);
	return (0);
}

/*
 * What xbd_connect learns from the backend before it commits anything:
 * the softc's copies are read under xbd_io_lock by submit, open, close
 * and get_info, so they are only ever written there in one go.
 */
struct xbd_limits {
	enum xbd_flag l_flags;	  /* XBDF_* features */
	uint32_t l_segs;	  /* segments per request */
	uint32_t l_size;	  /* bytes per request */
	uint32_t l_ipages;	  /* indirect pages per request */
	uint32_t l_discard_gran;  /* discard granularity, bytes */
	uint32_t l_discard_align; /* discard alignment, bytes */
};

/* Discard geometry; bad values fall back to the defaults. */
static void
xbd_read_discard(struct xbd_softc *sc, uint64_t sectors, uint32_t ssize,
    struct xbd_limits *lim)
{
	uint64_t gran, align, size = sectors << XBD_SECTOR_SHIFT;

	gran = xbd_backend_u64(sc, "discard-granularity", UINT32_MAX, ssize);
	if (gran < XBD_SECTOR_SIZE || (gran & (gran - 1)) != 0 || gran > size) {
		xbd_log(sc, "discard-granularity %ju invalid: using %u",
		    (uintmax_t)gran, ssize);
		gran = ssize;
	}
	align = xbd_backend_u64(sc, "discard-alignment", UINT32_MAX, 0);
	if (align >= gran || (align & (XBD_SECTOR_SIZE - 1)) != 0) {
		xbd_log(sc, "discard-alignment %ju invalid: using 0",
		    (uintmax_t)align);
		align = 0;
	}
	lim->l_discard_gran = (uint32_t)gran;
	lim->l_discard_align = (uint32_t)align;
}

/* FreeBSD's limit computation (docs: the seed's 2012 and 2015 commits). */
static void
xbd_compute_limits(struct xbd_softc *sc, struct xbd_limits *lim)
{
	uint64_t segs;
	uint32_t maxphys = sc->xbd_opts.o_max_request_size;

	/* The tunable pretends the backend has no indirect segments. */
	segs = sc->xbd_opts.o_enable_indirect ?
	    xbd_backend_u64(sc, "feature-max-indirect-segments", UINT32_MAX,
		0) :
	    0;
	segs = XU_MIN(segs, XBD_MAX_INDIRECT_SEGMENTS);
	segs = XU_MIN(segs, XBD_SIZE_TO_SEGS(maxphys));
	if (segs <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		/* Not worth it (Linux ignores values up to 11 as well). */
		segs = BLKIF_MAX_SEGMENTS_PER_REQUEST;
		lim->l_ipages = 0;
	} else {
		lim->l_ipages = XBD_INDIRECT_SEGS_TO_PAGES((uint32_t)segs);
		lim->l_flags |= XBDF_INDIRECT;
	}
	lim->l_segs = (uint32_t)segs;
	lim->l_size = XBD_SEGS_TO_SIZE((uint32_t)segs);
	if (lim->l_size > maxphys)
		lim->l_size = maxphys & ~(XBD_PAGE_SIZE - 1);
}

/* End access to every grant of cm; true if the backend still maps one. */
static bool
xbd_end_cm_grants(struct xbd_softc *sc, struct xbd_command *cm, uint32_t ip)
{
	bool busy = false;
	uint32_t j;

	for (j = 0; j < cm->cm_ngranted; j++)
		if (plat_gnt_end(sc->xbd_plat, cm->cm_sg_refs[j]) != 0)
			busy = true;
	if (sc->xbd_indirect_mem != NULL)
		for (j = 0; j < ip; j++)
			if (plat_gnt_end(sc->xbd_plat,
				cm->cm_indirectionrefs[j]) != 0)
				busy = true;
	return (busy);
}

/* Free every command and its per-command resources. */
static void
xbd_free_commands(struct xbd_softc *sc)
{
	uint32_t ip = sc->xbd_max_request_indirectpages, i;
	unsigned int grace = XBD_RETIRE_GRACE_MS;
	struct xbd_command *cm;
	bool busy, any_busy = false;

	for (i = 0; i < sc->xbd_ncms; i++) {
		cm = &sc->xbd_cms[i];
		/*
		 * A page the backend still maps (a command retired because
		 * of it, or a backend going away that has not unmapped yet)
		 * gets a short grace period, shared by all commands.
		 */
		while ((busy = xbd_end_cm_grants(sc, cm, ip)) && grace > 0) {
			usleep(1000);
			grace--;
		}
		if (!busy) {
			cm->cm_ngranted = 0;
			cm->cm_flags &= ~XBDCF_RETIRED;
			if (cm->cm_nrefs > 0)
				plat_gnt_release(sc->xbd_plat, cm->cm_nrefs,
				    cm->cm_sg_refs);
			if (sc->xbd_indirect_mem != NULL)
				plat_gnt_release(sc->xbd_plat, ip,
				    cm->cm_indirectionrefs);
		}
		any_busy |= busy;
	}
	/* Pages the backend may still touch are never reused (XSA-396). */
	if (sc->xbd_indirect_mem != NULL && !any_busy)
		plat_mem_free(sc->xbd_plat, sc->xbd_indirect_mem,
		    sc->xbd_indirect_npages);
	if (any_busy) {
		sc->xbd_stats.xst_grant_busy++;
		sc->xbd_pages_retired = true;
	}
	free(sc->xbd_cms);
	free(sc->xbd_cm_refs);
	free(sc->xbd_cm_bounce);
	sc->xbd_cms = NULL;
	sc->xbd_cm_refs = NULL;
	sc->xbd_cm_bounce = NULL;
	sc->xbd_indirect_mem = NULL;
	sc->xbd_indirect_npages = 0;
	sc->xbd_ncms = 0;
}

/*
 * The indirect pages: permanently allocated per command and granted
 * read-only to the backend once (FreeBSD's cm_indirectionpages); with
 * persistent grants writable, as the protocol wants persistent grants,
 * so that the backend can keep them mapped in its cache.  If that
 * fails, fall back to direct requests rather than keep a segment limit
 * we cannot honour (a FreeBSD shortcoming).
 */
static int
xbd_alloc_indirect(struct xbd_softc *sc)
{
	uint32_t ip = sc->xbd_max_request_indirectpages, i, j;
	bool persistent = (sc->xbd_flags & XBDF_PERSISTENT) != 0;
	struct xbd_command *cm;
	int rc;

	if (ip == 0)
		return (0);
	sc->xbd_indirect_npages = (size_t)ip * sc->xbd_ncms;
	rc = plat_mem_alloc(sc->xbd_plat, sc->xbd_otherend_id,
	    sc->xbd_indirect_npages, &sc->xbd_indirect_mem);
	if (rc != 0)
		goto fallback;
	for (i = 0; i < sc->xbd_ncms; i++) {
		cm = &sc->xbd_cms[i];
		cm->cm_indirectionpages = (char *)sc->xbd_indirect_mem +
		    (size_t)i * ip * XBD_PAGE_SIZE;
		if ((rc = plat_gnt_reserve(sc->xbd_plat, ip,
			 cm->cm_indirectionrefs)) != 0)
			goto undo;
		for (j = 0; j < ip; j++) {
			rc = plat_gnt_grant(sc->xbd_plat,
			    cm->cm_indirectionrefs[j], sc->xbd_otherend_id,
			    (char *)cm->cm_indirectionpages +
				(size_t)j * XBD_PAGE_SIZE,
			    !persistent, &cm->cm_indirectionwire[j]);
			if (rc != 0) {
				while (j-- > 0)
					(void)plat_gnt_end(sc->xbd_plat,
					    cm->cm_indirectionrefs[j]);
				plat_gnt_release(sc->xbd_plat, ip,
				    cm->cm_indirectionrefs);
				goto undo;
			}
		}
	}
	return (0);
undo:
	while (i-- > 0) {
		cm = &sc->xbd_cms[i];
		for (j = 0; j < ip; j++)
			(void)plat_gnt_end(sc->xbd_plat,
			    cm->cm_indirectionrefs[j]);
		plat_gnt_release(sc->xbd_plat, ip, cm->cm_indirectionrefs);
	}
	plat_mem_free(sc->xbd_plat, sc->xbd_indirect_mem,
	    sc->xbd_indirect_npages);
	sc->xbd_indirect_mem = NULL;
fallback:
	xbd_log(sc, "no memory for indirect pages (%d): direct requests only",
	    rc);
	sc->xbd_indirect_npages = 0;
	XBD_LOCK(sc);
	sc->xbd_max_request_indirectpages = 0;
	sc->xbd_max_request_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST;
	sc->xbd_max_request_size =
	    XBD_SEGS_TO_SIZE(BLKIF_MAX_SEGMENTS_PER_REQUEST);
	sc->xbd_flags &= ~XBDF_INDIRECT;
	XBD_UNLOCK(sc);
	for (i = 0; i < sc->xbd_ncms; i++)
		sc->xbd_cms[i].cm_indirectionpages = NULL;
	return (0);
}

/* Allocate the commands of every ring (the shadow arrays). */
static int
xbd_alloc_commands(struct xbd_softc *sc)
{
	uint32_t segs = sc->xbd_max_request_segments, i, q;
	struct xbd_command *cm;

	sc->xbd_ncms = sc->xbd_nqueues * sc->xbd_max_requests;
	sc->xbd_cms = calloc(sc->xbd_ncms, sizeof(*sc->xbd_cms));
	sc->xbd_cm_refs =
	    calloc((size_t)sc->xbd_ncms * segs * 2, sizeof(grant_ref_t));
	sc->xbd_cm_bounce =
	    calloc((size_t)sc->xbd_ncms * segs, sizeof(uint32_t));
	if (sc->xbd_cms == NULL || sc->xbd_cm_refs == NULL ||
	    sc->xbd_cm_bounce == NULL) {
		xbd_free_commands(sc);
		return (-ENOMEM);
	}
	for (q = 0; q < sc->xbd_nqueues; q++) {
		sc->xbd_rings[q].rq_shadow =
		    &sc->xbd_cms[q * sc->xbd_max_requests];
		sc->xbd_rings[q].rq_nslots = sc->xbd_max_requests;
	}
	for (i = 0; i < sc->xbd_ncms; i++) {
		cm = &sc->xbd_cms[i];
		cm->cm_sc = sc;
		cm->cm_ring = &sc->xbd_rings[i / sc->xbd_max_requests];
		cm->cm_id = i % sc->xbd_max_requests;
		cm->cm_flags = XBDCF_INITIALIZER;
		cm->cm_sg_refs = &sc->xbd_cm_refs[(size_t)i * segs * 2];
		cm->cm_wire_refs = cm->cm_sg_refs + segs;
		cm->cm_bounce = &sc->xbd_cm_bounce[(size_t)i * segs];
	}
	return (xbd_alloc_indirect(sc));
}

/* Log the attach banner, as a kernel driver does. */
static void
xbd_announce(struct xbd_softc *sc)
{
	char line[512];

	if (xbd_describe((struct xbd_dev *)sc, XBD_FMT_LINE, line,
		sizeof(line)) > 0)
		xbd_log(sc, "%s", line);
}

/*
 * A Connected backend that is connected already: an online resize.  Only
 * the size may change; anything else is a backend misbehaving, ignored.
 */
static int
xbd_resize(struct xbd_softc *sc)
{
	uint32_t ssize, pssize, info;
	uint64_t sectors;

	if (xbd_read_geometry(sc, &sectors, &ssize, &pssize, &info) != 0 ||
	    ssize != sc->xbd_sector_size) {
		xbd_log(sc, "ignoring invalid resize");
		return (0);
	}
	XBD_LOCK(sc);
	if (sectors != sc->xbd_sectors) {
		xbd_log(sc, "resized from %ju to %ju sectors",
		    (uintmax_t)sc->xbd_sectors, (uintmax_t)sectors);
		sc->xbd_sectors = sectors;
		sc->xbd_stats.xst_resizes++;
		sc->xbd_events |= 1u << XBD_EV_RESIZED;
		xbd_wake(sc);
	}
	XBD_UNLOCK(sc);
	return (0);
}

/*
 * The backend's features into lim.  Read without the lock (XenStore
 * round trips); xbd_commit_limits commits them under it.
 */
static void
xbd_read_features(struct xbd_softc *sc, uint64_t sectors, uint32_t ssize,
    uint32_t info, struct xbd_limits *lim)
{
	bool persistent, bounce;

	persistent =
	    sc->xbd_opts.o_persistent && xbd_feature(sc, "feature-persistent");
	/*
	 * Persistent grants alone do not bounce everything: data in the
	 * zero-copy region has persistent references too.
	 */
	bounce = sc->xbd_opts.o_bounce == 1 ||
	    (sc->xbd_opts.o_bounce == -1 && !sc->xbd_trusted);
	memset(lim, 0, sizeof(*lim));
	if (xbd_feature(sc, "feature-barrier"))
		lim->l_flags |= XBDF_BARRIER;
	if (xbd_feature(sc, "feature-flush-cache"))
		lim->l_flags |= XBDF_FLUSH;
	if (xbd_feature(sc, "feature-discard")) {
		lim->l_flags |= XBDF_DISCARD;
		if (xbd_feature(sc, "discard-secure"))
			lim->l_flags |= XBDF_SECURE_DISCARD;
		xbd_read_discard(sc, sectors, ssize, lim);
	}
	if (persistent)
		lim->l_flags |= XBDF_PERSISTENT;
	if (bounce)
		lim->l_flags |= XBDF_BOUNCE;
	if ((info & VDISK_READONLY) != 0)
		lim->l_flags |= XBDF_READONLY;
	xbd_compute_limits(sc, lim);
}

/* The geometry and the limits, committed together under the lock. */
static void
xbd_commit_limits(struct xbd_softc *sc, uint64_t sectors, uint32_t ssize,
    uint32_t pssize, uint32_t info, const struct xbd_limits *lim)
{
	XBD_LOCK(sc);
	sc->xbd_sectors = sectors;
	sc->xbd_sector_size = ssize;
	sc->xbd_phys_sector_size = pssize;
	sc->xbd_vdisk_info = info;
	sc->xbd_flags &=
	    ~(XBDF_BARRIER | XBDF_FLUSH | XBDF_DISCARD | XBDF_SECURE_DISCARD |
		XBDF_PERSISTENT | XBDF_BOUNCE | XBDF_READONLY | XBDF_INDIRECT);
	sc->xbd_flags |= lim->l_flags;
	sc->xbd_discard_granularity = lim->l_discard_gran;
	sc->xbd_discard_alignment = lim->l_discard_align;
	sc->xbd_max_request_segments = lim->l_segs;
	sc->xbd_max_request_size = lim->l_size;
	sc->xbd_max_request_indirectpages = lim->l_ipages;
	sc->xbd_max_requests = xring_slots(sc->xbd_ring_pages);
	XBD_UNLOCK(sc);
}

/*
 * The backend is Connected and we have published our rings: read the
 * disk and go.  A device connected already is xbd_resize's.
 */
int
xbd_connect(struct xbd_softc *sc)
{
	uint32_t ssize, pssize, info, q;
	uint64_t sectors;
	struct xbd_limits lim;
	enum xbd_state st;
	int rc;

	XBD_LOCK(sc);
	st = sc->xbd_state;
	XBD_UNLOCK(sc);
	/* Suspended or failed: nothing to do; connected: xbd_resize's. */
	if (st == XBD_STATE_SUSPENDED || st == XBD_STATE_ERROR ||
	    st == XBD_STATE_CONNECTED ||
	    sc->xbd_xbstate != XenbusStateInitialised)
		return (0);

	rc = xbd_read_geometry(sc, &sectors, &ssize, &pssize, &info);
	if (rc != 0) {
		xbd_fatal(sc, rc, "reading the disk geometry");
		return (rc);
	}
	xbd_read_features(sc, sectors, ssize, info, &lim);
	xbd_commit_limits(sc, sectors, ssize, pssize, info, &lim);
	if ((rc = xbd_alloc_commands(sc)) != 0 ||
	    (rc = xbd_bounce_alloc(sc)) != 0) {
		xbd_free_commands(sc);
		xbd_fatal(sc, rc, "allocating commands");
		return (rc);
	}

	XBD_LOCK(sc);
	for (q = 0; q < sc->xbd_ncms; q++)
		xbd_enqueue_cm(&sc->xbd_cms[q], XBD_Q_FREE);
	sc->xbd_state = XBD_STATE_CONNECTED;
	sc->xbd_flags |= XBDF_READY;
	sc->xbd_events |= 1u << XBD_EV_CONNECTED;
	XBD_UNLOCK(sc);

	if ((rc = xbd_set_state(sc, XenbusStateConnected)) != 0)
		return (rc);
	xbd_announce(sc);

	XBD_LOCK(sc);
	if (sc->xbd_connected_once)
		sc->xbd_stats.xst_reconnects++;
	sc->xbd_connected_once = true;
	xbd_startio(sc);
	pthread_cond_broadcast(&sc->xbd_cv);
	xbd_wake(sc);
	XBD_UNLOCK(sc);
	return (0);
}

/*
 * The backend is closing.  With the disk open the device is only
 * orphaned (FreeBSD's disk_gone) and the close finishes at the last
 * xbd_close; otherwise it closes once no request is in flight.
 */
void
xbd_closing(struct xbd_softc *sc)
{
	XBD_LOCK(sc);
	if (sc->xbd_state != XBD_STATE_GONE) {
		if (sc->xbd_state == XBD_STATE_CONNECTED)
			sc->xbd_state = XBD_STATE_GONE;
		sc->xbd_events |= 1u << XBD_EV_GONE;
		xbd_fail_all_queued(sc, -ENXIO);
		pthread_cond_broadcast(&sc->xbd_cv);
		xbd_wake(sc);
	}
	sc->xbd_closing = true;
	XBD_UNLOCK(sc);
}

/*
 * Finish a close once the ring is idle and nobody has the disk open:
 * Closing, then Closed (called by the event thread).
 */
void
xbd_closing_finish(struct xbd_softc *sc)
{
	bool go;

	XBD_LOCK(sc);
	go = sc->xbd_closing && !sc->xbd_close_done && sc->xbd_users == 0 &&
	    xbd_queue_length(sc, XBD_Q_BUSY) == 0;
	if (go)
		sc->xbd_close_done = true;
	XBD_UNLOCK(sc);
	if (!go)
		return;
	(void)xbd_set_state(sc, XenbusStateClosing);
	(void)xbd_set_state(sc, XenbusStateClosed);
}

/*
 * Take every bio that has a part on the ring or waiting on READY back
 * onto the head of the bio queue, in dispatch order, to be sent again
 * from its first byte once a backend is connected: reads and writes are
 * idempotent, so parts that did complete may safely run twice.  A bio
 * that already failed simply completes.  Called with the lock held.
 */
static void
xbd_requeue_inflight(struct xbd_softc *sc)
{
	static const enum xbd_q_index qs[] = { XBD_Q_BUSY, XBD_Q_READY };
	struct xbd_bioq redo;
	struct xbd_bio_pvt *pvt;
	struct xbd_command *cm;
	struct xbd_bio *bp;
	uint64_t end;
	size_t i;

	TAILQ_INIT(&redo);
	for (i = 0; i < XU_NELEM(qs); i++) {
		TAILQ_FOREACH(cm, &sc->xbd_cm_q[qs[i]].q_tailq, cm_link) {
			if ((bp = cm->cm_bp) == NULL)
				continue;
			cm->cm_bp = NULL;
			pvt = xbd_bio_pvt(bp);
			if (pvt->pv_redo)
				continue;
			pvt->pv_redo = true;
			end = bp->bio_cmd == XBD_CMD_READ ||
				bp->bio_cmd == XBD_CMD_WRITE ?
			    bp->bio_length :
			    1;
			if (pvt->pv_next < end) {
				/* Still queued for a later part. */
				TAILQ_REMOVE(&sc->xbd_bioq, pvt, pv_link);
				sc->xbd_cm_q[XBD_Q_BIO].q_length--;
			}
			TAILQ_INSERT_TAIL(&redo, pvt, pv_link);
		}
	}
	while ((pvt = TAILQ_LAST(&redo, xbd_bioq)) != NULL) {
		TAILQ_REMOVE(&redo, pvt, pv_link);
		bp = xbd_pvt_bio(pvt);
		pvt->pv_redo = false;
		pvt->pv_parts = 0;
		if (pvt->pv_error != 0) {
			xbd_bio_done(sc, bp, pvt->pv_error);
			continue;
		}
		pvt->pv_next = 0;
		xbd_requeue_bio(sc, bp);
		sc->xbd_stats.xst_reissued++;
	}
}

/*
 * Tear down the transport (FreeBSD's xbd_free): rings, channels, commands
 * and the bounce pool.  Requests still on the ring either go back on the
 * bio queue (requeue: the backend is gone and a new one will serve them)
 * or fail with ENXIO.  A request whose pages the backend still maps keeps
 * them forever (XSA-396).
 */
void
xbd_teardown(struct xbd_softc *sc, bool requeue)
{
	struct xbd_command *cm;
	uint32_t q, i;

	XBD_LOCK(sc);
	if (sc->xbd_state != XBD_STATE_SUSPENDED &&
	    sc->xbd_state != XBD_STATE_RECOVERING)
		sc->xbd_state = XBD_STATE_DISCONNECTED;
	sc->xbd_flags &= ~XBDF_READY;
	if (requeue)
		xbd_requeue_inflight(sc);
	/*
	 * A part built but held back on READY (an ordered write waiting
	 * for idle) dies with its command just like one on the ring: its
	 * bio must still complete.
	 */
	TAILQ_FOREACH(cm, &sc->xbd_cm_q[XBD_Q_READY].q_tailq, cm_link) {
		if (cm->cm_bp != NULL) {
			xbd_bio_part_done(sc, cm->cm_bp, -ENXIO);
			cm->cm_bp = NULL;
		}
	}
	TAILQ_FOREACH(cm, &sc->xbd_cm_q[XBD_Q_BUSY].q_tailq, cm_link) {
		if (cm->cm_bp != NULL) {
			xbd_bio_part_done(sc, cm->cm_bp, -ENXIO);
			cm->cm_bp = NULL;
		}
		for (i = 0; i < cm->cm_ngranted; i++)
			if (plat_gnt_end(sc->xbd_plat, cm->cm_sg_refs[i]) != 0)
				cm->cm_flags |= XBDCF_RETIRED;
		if ((cm->cm_flags & XBDCF_RETIRED) == 0)
			cm->cm_ngranted = 0;
	}
	for (q = 0; q < sc->xbd_nqueues; q++)
		xbd_free_ring(sc, &sc->xbd_rings[q]);
	xbd_free_commands(sc);
	xbd_bounce_release_all(sc);
	xbd_initq_cm(sc, XBD_Q_FREE);
	xbd_initq_cm(sc, XBD_Q_READY);
	xbd_initq_cm(sc, XBD_Q_BUSY);
	xbd_initq_cm(sc, XBD_Q_COMPLETE);
	/* Freezes held by commands died with them. */
	sc->xbd_qfrozen_cnt = 0;
	sc->xbd_flags &=
	    ~(XBDF_CM_SHORTAGE | XBDF_GNT_SHORTAGE | XBDF_WAIT_IDLE);
	sc->xbd_nqueues = 0;
	XBD_UNLOCK(sc);
}

void
xbd_free(struct xbd_softc *sc)
{
	xbd_teardown(sc, false);
}

/* Has our device directory been deleted (its backend key is gone)? */
static bool
xbd_node_gone(struct xbd_softc *sc)
{
	char *v = NULL;
	int rc;

	rc = xbus_read(sc->xbd_xs, XBT_NULL, sc->xbd_node, "backend", &v);
	free(v);
	return (rc == -ENOENT);
}

/*
 * The backend vanished (its directory is gone, or it started over) while
 * we were connected: hold the I/O, requeue what was in flight, and wait
 * o_recovery_timeout_ms for a backend to connect again.
 */
void
xbd_lost(struct xbd_softc *sc)
{
	uint32_t ms = sc->xbd_opts.o_recovery_timeout_ms;

	XBD_LOCK(sc);
	if (sc->xbd_state != XBD_STATE_CONNECTED || sc->xbd_closing) {
		XBD_UNLOCK(sc);
		return;
	}
	xbd_log(sc, "backend %s went away: holding I/O for %u ms",
	    sc->xbd_otherend, ms);
	sc->xbd_state = XBD_STATE_RECOVERING;
	sc->xbd_stats.xst_recoveries++;
	sc->xbd_events |= 1u << XBD_EV_LOST;
	sc->xbd_recover_by = xu_deadline(CLOCK_MONOTONIC, ms);
	XBD_UNLOCK(sc);
	xbd_teardown(sc, true);
	/* Ready to negotiate with whoever comes. */
	(void)xbd_set_state(sc, XenbusStateInitialising);
	xbd_wake(sc);
}

/* Called by the event thread: a lost backend that never came back. */
void
xbd_recovery_check(struct xbd_softc *sc)
{
	struct timespec now;

	XBD_LOCK(sc);
	if (sc->xbd_state == XBD_STATE_RECOVERING) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > sc->xbd_recover_by.tv_sec ||
		    (now.tv_sec == sc->xbd_recover_by.tv_sec &&
			now.tv_nsec >= sc->xbd_recover_by.tv_nsec)) {
			xbd_log(sc, "backend did not come back: failing I/O");
			sc->xbd_state = XBD_STATE_ERROR;
			sc->xbd_events |= 1u << XBD_EV_ERROR;
			xbd_fail_all(sc, -EIO);
			pthread_cond_broadcast(&sc->xbd_cv);
		}
	}
	XBD_UNLOCK(sc);
}

void
xbd_recovery_abandon(struct xbd_dev *dev)
{
	struct xbd_softc *sc = &dev->xd_sc;

	XBD_LOCK(sc);
	if (sc->xbd_state == XBD_STATE_RECOVERING)
		clock_gettime(CLOCK_MONOTONIC, &sc->xbd_recover_by);
	XBD_UNLOCK(sc);
	/* The event thread fails the held I/O on its next look. */
	xbd_wake(sc);
}

/*
 * Is the transport we published for a backend that is no more?  While we
 * wait at Initialised for a backend to connect, it may die and the
 * toolstack create the vbd again: that resets our directory (state
 * Initialising, no ring-ref), and the new backend waits for an offer we
 * believe made.  Our own state node says so whatever watch events
 * coalesced on the way.
 */
static bool
xbd_offer_lost(struct xbd_softc *sc)
{
	enum xenbus_state ours;
	bool waiting;

	XBD_LOCK(sc);
	waiting = sc->xbd_xbstate == XenbusStateInitialised &&
	    !sc->xbd_closing &&
	    (sc->xbd_state == XBD_STATE_DISCONNECTED ||
		sc->xbd_state == XBD_STATE_RECOVERING);
	XBD_UNLOCK(sc);
	/* A directory removed for good is not ours to write again. */
	return (waiting &&
	    xbus_read_state_rc(sc->xbd_xs, sc->xbd_node, &ours) == 0 &&
	    ours != XenbusStateInitialised);
}

/* Drop the lost offer and negotiate again from Initialising. */
static void
xbd_renegotiate(struct xbd_softc *sc)
{
	xbd_log(sc,
	    "backend %s started over during negotiation: starting "
	    "over too",
	    sc->xbd_otherend);
	xbd_teardown(sc, true);
	(void)xbd_set_state(sc, XenbusStateInitialising);
}

/* Whether the device is in state st now. */
static bool
xbd_state_is(struct xbd_softc *sc, enum xbd_state st)
{
	bool is;

	XBD_LOCK(sc);
	is = sc->xbd_state == st;
	XBD_UNLOCK(sc);
	return (is);
}

/*
 * The backend went back to its start (or its state node is gone): hold
 * the I/O for a reconnection, and if it did so while our offer was
 * pending, drop the offer and negotiate again.
 */
static void
xbd_backend_restarted(struct xbd_softc *sc)
{
	xbd_lost(sc);
	if (xbd_offer_lost(sc))
		xbd_renegotiate(sc);
}

/*
 * The backend's state changed: FreeBSD's xbd_backend_changed.  Runs on
 * the event thread.
 */
void
xbd_backend_changed(struct xbd_softc *sc)
{
	enum xenbus_state state;
	bool resuming, live;
	int rc;

	XBD_LOCK(sc);
	resuming = sc->xbd_resuming;
	/* A suspended device's vbd may move under it (resume elsewhere). */
	live = sc->xbd_state == XBD_STATE_CONNECTED ||
	    sc->xbd_state == XBD_STATE_RECOVERING;
	XBD_UNLOCK(sc);
	if (resuming)
		return;
	rc = xbus_read_state_rc(sc->xbd_xs, sc->xbd_otherend, &state);
	/*
	 * A node that is gone reads as ENOENT, or as EACCES once its whole
	 * domain is gone (XenStore does not reveal what we may not read);
	 * garbage in the node says nothing: wait for more.
	 */
	if (rc == -EACCES)
		rc = -ENOENT;
	if (rc != 0 && rc != -ENOENT) {
		xbd_log(sc, "backend state unreadable (%d): ignored", rc);
		return;
	}
	/*
	 * Our own directory gone as well: the toolstack unplugged the
	 * device (libxl's forced removal deletes both ends); there is
	 * nothing to wait for.
	 */
	if (rc == -ENOENT && live && xbd_node_gone(sc)) {
		xbd_log(sc, "device removed: failing I/O");
		xbd_closing(sc);
		/*
		 * Nobody will answer what is in flight either: its bios
		 * fail now; the commands keep their pages granted until
		 * the detach ends access.
		 */
		XBD_LOCK(sc);
		xbd_fail_all(sc, -ENXIO);
		pthread_cond_broadcast(&sc->xbd_cv);
		XBD_UNLOCK(sc);
		return;
	}
	/*
	 * One pass over the backend's state, as FreeBSD's.  FreeBSD ignores
	 * a backend that disappears (its directory is gone) or starts over
	 * while connected, and its I/O hangs; we hold the I/O and reconnect
	 * (xbd_backend_restarted).
	 */
	switch (state) {
	case XenbusStateUnknown:
	case XenbusStateInitialising:
		xbd_backend_restarted(sc);
		break;
	case XenbusStateInitWait:
		xbd_backend_restarted(sc);
		(void)xbd_initialize(sc);
		break;
	case XenbusStateInitialised:
		(void)xbd_initialize(sc);
		break;
	case XenbusStateReconfiguring:
	case XenbusStateReconfigured:
		break;
	case XenbusStateConnected:
		if (xbd_state_is(sc, XBD_STATE_CONNECTED))
			(void)xbd_resize(sc);
		else if (xbd_initialize(sc) == 0)
			(void)xbd_connect(sc);
		break;
	case XenbusStateClosing:
		xbd_closing(sc);
		break;
	case XenbusStateClosed:
		xbd_lost(sc);
		break;
	}
}
