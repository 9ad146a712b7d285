/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The frontend's private structures: the device softc, its commands, its
 * rings, and the tunables, named and shaped as in FreeBSD's
 * sys/dev/xen/blkfront/block.h (xbd_ for the device and its constants,
 * cm_ for command fields, typed enums for flags and states).  What FreeBSD
 * lacks and Linux added (validation of every response, atomic grant
 * revocation, bounce buffers, multi-queue, persistent grants, discard) is
 * marked where it lives.
 */

#ifndef XBD_FRONT_INTERNAL_H
#define XBD_FRONT_INTERNAL_H

#include <bsd/sys/queue.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/xen_shim.h"
#include "common/xu_assert.h"
#include "common/xu_eoi.h"
#include "platform/plat.h"
#include "ring/xring.h"
#include "xbd/xbd.h"
#include "xenbus/xbus.h"

/* ---------------------------------------------------------------------
 * Tunables and limits
 */

/*
 * The most ring pages we negotiate: the protocol's (and FreeBSD's) cap.
 * 32 pages hold 1024 requests, more than any backend offers today.
 */
#define XBD_MAX_RING_PAGES XRING_MAX_PAGES

/* Commands per ring: one per slot of the largest ring. */
#define XBD_MAX_REQUESTS XRING_MAX_SLOTS

/*
 * Rings per device (multi-queue).  Linux blkback offers one per backend
 * CPU; 16 is far above what helps on the machines we run on.
 */
#define XBD_MAX_QUEUES 16

/* Segment descriptors that fit in one indirect page (4096 / 8). */
#define XBD_MAX_SEGMENTS_PER_PAGE XBD_SEGS_PER_INDIRECT_PAGE

/* The protocol's cap on segments in one indirect request: 8 pages. */
#define XBD_MAX_INDIRECT_SEGMENTS \
	(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * XBD_MAX_SEGMENTS_PER_PAGE)

/* Indirect pages needed for segs segments. */
#define XBD_INDIRECT_SEGS_TO_PAGES(segs) \
	(((segs) + XBD_MAX_SEGMENTS_PER_PAGE - 1) / XBD_MAX_SEGMENTS_PER_PAGE)

/*
 * The largest transfer segs segments can always carry, and the segments
 * a transfer of size bytes may need.  One segment is held in reserve so
 * that a buffer that does not start on a page boundary (it then spans one
 * more page) never needs to be bounced: 11 segments carry 40 KiB.
 */
#define XBD_SEGS_TO_SIZE(segs) (((segs)-1) * XBD_PAGE_SIZE)
#define XBD_SIZE_TO_SEGS(size) ((size) / XBD_PAGE_SIZE + 1)

/* Default largest request (FreeBSD's maxphys on amd64). */
#define XBD_DEFAULT_MAX_REQUEST_SIZE (1024u * 1024u)

/*
 * Bounce pages when the caller did not size the pool: enough for every
 * command of a one-page ring to carry a maximal direct request, and at
 * most 16 MiB of grantable memory.
 */
#define XBD_DEFAULT_BOUNCE_PAGES 4096u

/* FreeBSD's suspend drain limit. */
#define XBD_SUSPEND_TIMEOUT_MS 30000u

/* ---------------------------------------------------------------------
 * Commands and their queues
 */

/*
 * Queue indexes.  A command is on exactly one queue at a time and its
 * current queue index lives in the low byte of cm_flags (XBDCF_Q_MASK),
 * so membership is checked on every move.  XBD_Q_BIO is only a statistics
 * slot for the bio queue.
 */
enum xbd_q_index {
	XBD_Q_FREE,	/* not in use */
	XBD_Q_READY,	/* built, waiting to go on the ring (ordered
			   writes held back until the ring is idle) */
	XBD_Q_BUSY,	/* on the ring, waiting for its response */
	XBD_Q_COMPLETE, /* response taken, not yet finished */
	XBD_Q_BIO,	/* statistics of the bio queue */
	XBD_Q_COUNT,
	XBD_Q_NONE = 0xff
};

/* Command flags; the low byte is the queue index. */
enum xbdc_flag {
	XBDCF_Q_MASK = 0xff,
	/* This command holds one count of the device's freeze. */
	XBDCF_FROZEN = 1 << 8,
	/* Dispatching this command freezes the queue: single-stepping. */
	XBDCF_Q_FREEZE = 1 << 9,
	/* The data moves through the bounce pool, not the caller's pages. */
	XBDCF_BOUNCE = 1 << 10,
	/*
	 * The backend kept a grant of this command mapped after answering:
	 * its pages may never be reused (XSA-396), so the command is retired.
	 */
	XBDCF_RETIRED = 1 << 11,
	XBDCF_INITIALIZER = XBDCF_Q_MASK
};

/* Connection state of the device. */
enum xbd_state {
	XBD_STATE_DISCONNECTED = 0,
	XBD_STATE_CONNECTED = 1,
	XBD_STATE_SUSPENDED = 2,
	/* The backend broke the protocol: all I/O fails (Linux's ERROR). */
	XBD_STATE_ERROR = 3,
	/* The backend closed the device under us: I/O fails with ENXIO. */
	XBD_STATE_GONE = 4,
	/*
	 * The backend vanished while connected: I/O is held (and what was in
	 * flight requeued) until a backend connects again or the recovery
	 * deadline passes.
	 */
	XBD_STATE_RECOVERING = 5,
};

/* Device flags. */
enum xbd_flag {
	XBDF_NONE = 0,
	XBDF_OPEN = 1 << 0,	      /* disk is open (xbd_users > 0) */
	XBDF_BARRIER = 1 << 1,	      /* backend supports barriers */
	XBDF_FLUSH = 1 << 2,	      /* backend supports cache flushes */
	XBDF_READY = 1 << 3,	      /* is ready */
	XBDF_CM_SHORTAGE = 1 << 4,    /* free commands ran out */
	XBDF_GNT_SHORTAGE = 1 << 5,   /* grant refs or bounce pages ran out */
	XBDF_WAIT_IDLE = 1 << 6,      /* wait for the ring to drain */
	XBDF_DISCARD = 1 << 7,	      /* backend supports discard */
	XBDF_PERSISTENT = 1 << 8,     /* backend supports persistent grants */
	XBDF_SECURE_DISCARD = 1 << 9, /* backend supports secure discard */
	XBDF_BOUNCE = 1 << 10,	      /* all data goes through bounce pages */
	XBDF_READONLY = 1 << 11,      /* VDISK_READONLY: writes get EROFS */
	XBDF_INDIRECT = 1 << 12,      /* indirect requests are used */
};

struct xbd_softc;
struct xbd_ring;

/* A command queue with its statistics. */
struct xbd_cm_q {
	TAILQ_HEAD(, xbd_command) q_tailq; /* the commands */
	uint32_t q_length;		   /* commands on it now */
	uint32_t q_max;			   /* most it ever held */
};

/*
 * One transaction on a ring.  Each ring owns as many commands as it has
 * slots (its shadow array), so a free command always has a free slot, and
 * the request id on the wire is the command's index in that array.
 */
struct xbd_command {
	TAILQ_ENTRY(xbd_command) cm_link; /* queue linkage */
	struct xbd_softc *cm_sc;	  /* the device */
	struct xbd_ring *cm_ring;	  /* the ring whose slot it uses */
	enum xbdc_flag cm_flags;	  /* queue index + XBDCF_* */
	uint64_t cm_id;			  /* request id: index in cm_ring */
	struct xbd_bio *cm_bp;		  /* bio this command carries a part
					     of (NULL when idle) */
	uint64_t cm_bio_off;		  /* offset of the part in the bio */
	void *cm_data;			  /* the part's data in the caller's
					     buffer */
	uint32_t cm_datalen;		  /* bytes of the part */
	uint32_t cm_nseg;		  /* data segments of the request */
	uint8_t cm_operation;	   /* BLKIF_OP_* (inner op if indirect) */
	uint8_t cm_discard_flag;   /* BLKIF_DISCARD_SECURE or 0 */
	bool cm_indirect;	   /* sent as BLKIF_OP_INDIRECT */
	uint64_t cm_sector_number; /* first 512-byte sector */
	int cm_status;		   /* errno of the response (0 OK) */
	grant_ref_t *cm_sg_refs;   /* refs reserved for the data
				      (xbd_max_request_segments) */
	grant_ref_t *cm_wire_refs; /* the same as put on the wire */
	uint32_t *cm_bounce;	   /* bounce pool pages it holds */
	uint32_t cm_nrefs;	   /* refs reserved in cm_sg_refs */
	uint32_t cm_ngranted;	   /* of those, granted right now */
	uint32_t cm_nbounce;	   /* pages in cm_bounce */
	void *cm_indirectionpages; /* indirect descriptor pages,
				      granted read-only at connect */
	uint32_t cm_indirectsegs;  /* descriptors the last indirect
				      request left in them */
	grant_ref_t cm_indirectionrefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	/* their reserved references */
	grant_ref_t cm_indirectionwire[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	/* ... and the same as put on the wire */
};

/*
 * One ring (a queue, in multi-queue terms) and its transport: the shared
 * pages, their grants, the event-channel port and the commands that use
 * its slots.
 */
struct xbd_ring {
	struct xbd_softc *rq_sc;    /* the device */
	unsigned int rq_index;	    /* queue number */
	struct xring_front rq_ring; /* the ring (lib/ring) */
	void *rq_sring;		    /* shared pages (grantable memory) */
	grant_ref_t rq_refs[XBD_MAX_RING_PAGES]; /* reserved refs */
	grant_ref_t rq_wire[XBD_MAX_RING_PAGES]; /* refs on the wire */
	bool rq_granted;	       /* the ring pages are granted */
	evtchn_port_t rq_port;	       /* our port for the backend */
	bool rq_bound;		       /* rq_port is valid */
	struct xu_eoi rq_eoi;	       /* spurious events in a row */
	uint64_t rq_unmask_at;	       /* CLOCK_MONOTONIC ns when the
					  throttled rq_port is unmasked;
					  0: not throttled */
	struct xbd_command *rq_shadow; /* commands, indexed by request id */
	uint32_t rq_nslots;	       /* slots (= commands) */
	uint32_t rq_busy;	       /* commands of this ring on BUSY */
};

/* The library's part of a struct xbd_bio (inside bio_private). */
struct xbd_bio_pvt {
	TAILQ_ENTRY(xbd_bio_pvt) pv_link; /* bio queue / done list */
	uint64_t pv_next;		  /* next byte to dispatch */
	uint32_t pv_parts;		  /* parts on the ring, unfinished */
	int pv_error;			  /* first error of any part */
	bool pv_redo; /* queued again after a lost backend */
};
TAILQ_HEAD(xbd_bioq, xbd_bio_pvt);

_Static_assert(sizeof(struct xbd_bio_pvt) <=
	sizeof(((struct xbd_bio *)0)->bio_private),
    "bio private area too small");

static inline struct xbd_bio_pvt *
xbd_bio_pvt(struct xbd_bio *bp)
{
	return ((struct xbd_bio_pvt *)(void *)bp->bio_private);
}

static inline struct xbd_bio *
xbd_pvt_bio(struct xbd_bio_pvt *pvt)
{
	return ((struct xbd_bio *)(void *)((char *)pvt -
	    offsetof(struct xbd_bio, bio_private)));
}

/* ---------------------------------------------------------------------
 * The device
 */

/*
 * The softc.  Everything below xbd_io_lock is protected by it unless the
 * field says otherwise; transport fields change only while the device is
 * not CONNECTED, under the lock.
 */
struct xbd_softc {
	struct plat *xbd_plat;			/* platform of our domain */
	struct xs_handle *xbd_xs;		/* our XenStore handle (own
						   watches; thread-safe) */
	char xbd_node[128];			/* our frontend directory */
	char xbd_otherend[XBUS_PATH_MAX];	/* backend directory */
	uint32_t xbd_otherend_id;		/* backend domain */
	char xbd_watch_path[XBUS_PATH_MAX + 8]; /* the state node watched */
	uint32_t xbd_vdevice;			/* virtual-device number */
	int xbd_unit;		  /* unit from xbd_vdevice_to_unit */
	char xbd_name[16];	  /* "xbd0", "ada1", ... */
	struct xbd_opts xbd_opts; /* per-device parameters */
	bool xbd_trusted;	  /* toolstack's "trusted" node */

	pthread_mutex_t xbd_io_lock;   /* protects all I/O state */
	pthread_cond_t xbd_cv;	       /* state changes, idle, sync I/O */
	enum xbd_flag xbd_flags;       /* XBDF_* */
	int xbd_qfrozen_cnt;	       /* I/O halted while non-zero */
	enum xbd_state xbd_state;      /* connection state */
	enum xenbus_state xbd_xbstate; /* our XenBus state, last written */
	int xbd_users;		       /* xbd_open count */
	bool xbd_connected_once;       /* the disk exists (survives resume) */
	bool xbd_closing;	       /* backend asked to close */
	bool xbd_resuming;	       /* xbd_resume is cycling the connection:
					  backend states are not acted on */
	int xbd_attach_error;	       /* why attach failed, if it did */

	/* Negotiated transport (FreeBSD's sysctl tree). */
	uint32_t xbd_ring_pages;		   /* pages per ring */
	uint32_t xbd_nqueues;			   /* rings */
	uint32_t xbd_max_requests;		   /* commands per ring */
	uint32_t xbd_max_request_segments;	   /* segments per request */
	uint32_t xbd_max_request_size;		   /* bytes per request */
	uint32_t xbd_max_request_indirectpages;	   /* indirect pages/request */
	struct xbd_ring xbd_rings[XBD_MAX_QUEUES]; /* the rings */
	struct plat_evtchn *xbd_evtchn;		   /* one handle, all ports */

	/* Geometry, from the backend at connect. */
	uint64_t xbd_sectors;		  /* 512-byte sectors */
	uint32_t xbd_sector_size;	  /* logical block size */
	uint32_t xbd_phys_sector_size;	  /* physical block size */
	uint32_t xbd_vdisk_info;	  /* VDISK_* */
	uint32_t xbd_discard_granularity; /* bytes */
	uint32_t xbd_discard_alignment;	  /* bytes */

	/* Queues: FREE, READY, BUSY, COMPLETE and the bio queue's stats. */
	struct xbd_cm_q xbd_cm_q[XBD_Q_COUNT];
	struct xbd_bioq xbd_bioq; /* bios waiting for commands */
	struct xbd_bioq xbd_done; /* finished bios, callbacks pending */

	/* Bounce pool: grantable pages, handed out per command. */
	void *xbd_bounce_mem;	      /* xbd_bounce_npages pages */
	uint32_t xbd_bounce_npages;   /* pool size */
	uint32_t *xbd_bounce_free;    /* stack of free page indexes */
	uint32_t xbd_bounce_nfree;    /* entries in it */
	grant_ref_t *xbd_bounce_refs; /* persistent mode: per-page refs */
	grant_ref_t *xbd_bounce_wire; /* ... as put on the wire */

	/* Zero-copy buffers handed out by xbd_buf_alloc. */
	void *xbd_zc_mem;	  /* grantable region (lazily allocated) */
	uint32_t xbd_zc_npages;	  /* its size */
	uint8_t *xbd_zc_used;	  /* page map of allocations */
	grant_ref_t *xbd_zc_refs; /* persistent mode: a ref per page,
				     allocated with the region */
	grant_ref_t *xbd_zc_wire; /* ... as put on the wire */
	bool xbd_zc_granted;	  /* the refs are granted, writable, to
				     the backend of this connection */
	bool xbd_zc_retired;	  /* a backend kept a page mapped: the
				     region is never freed */
	bool xbd_zc_refused;	  /* granting it failed on this connection:
				     its data is bounced, no retry per
				     request */

	/* The command arrays of all rings, allocated at connect. */
	struct xbd_command *xbd_cms; /* every command */
	uint32_t xbd_ncms;	     /* their number */
	grant_ref_t *xbd_cm_refs;    /* backing of cm_sg_refs/wire_refs */
	uint32_t *xbd_cm_bounce;     /* backing of cm_bounce */
	void *xbd_indirect_mem;	     /* backing of cm_indirectionpages */
	size_t xbd_indirect_npages;  /* its size in pages */

	struct xbd_stats xbd_stats; /* counters */

	/* The event thread: responses, XenStore events, completions. */
	pthread_t xbd_thread;	 /* the thread */
	bool xbd_thread_running; /* xbd_thread was started */
	int xbd_wakefd;		 /* eventfd: wake the thread */
	int xbd_hold_fd;	 /* flock'ed hold file (xbd_hold.c), or -1 */
	char xbd_hold_path[320]; /* its path, unlinked at release */
	bool xbd_stop;		 /* the thread must exit */
	bool xbd_gnt_cb_pending; /* a grant free callback is registered */
	uint32_t xbd_events;	 /* 1 << enum xbd_event, to deliver */
	bool xbd_close_done;	 /* Closed was written towards the
				    backend */
	bool xbd_pages_retired;	 /* a retired command held pool pages:
				    the pool is never freed */
	struct timespec xbd_recover_by; /* RECOVERING: when held I/O fails */
};

/* The public handle is the softc. */
struct xbd_dev {
	struct xbd_softc xd_sc;
};

/* The public platform handle. */
struct xbd_plat {
	struct plat *xp_plat; /* the platform */
	bool xp_owned;	      /* closed by xbd_plat_close */
	char xp_holddir[256]; /* where vbd hold files live ("": none) */
	char xp_why[192];     /* why the last attach failed, in words */
};

#define XBD_LOCK(sc) pthread_mutex_lock(&(sc)->xbd_io_lock)
#define XBD_UNLOCK(sc) pthread_mutex_unlock(&(sc)->xbd_io_lock)

/* ---------------------------------------------------------------------
 * Cross-file functions (lib/front)
 */

/* xbd_cmd.c: commands, the bio queue and dispatch. */
void xbd_startio(struct xbd_softc *sc);
void xbd_freeze(struct xbd_softc *sc, enum xbd_flag xbd_flag);
void xbd_thaw(struct xbd_softc *sc, enum xbd_flag xbd_flag);
void xbd_cm_freeze(struct xbd_softc *sc, struct xbd_command *cm,
    enum xbdc_flag cm_flag);
void xbd_cm_thaw(struct xbd_softc *sc, struct xbd_command *cm);
void xbd_free_command(struct xbd_command *cm);
void xbd_bio_done(struct xbd_softc *sc, struct xbd_bio *bp, int error);
void xbd_bio_part_done(struct xbd_softc *sc, struct xbd_bio *bp, int error);
void xbd_fail_all(struct xbd_softc *sc, int error);
void xbd_fail_all_queued(struct xbd_softc *sc, int error);
void xbd_wake(struct xbd_softc *sc);

/* xbd_int.c: responses. */
void xbd_int(struct xbd_softc *sc, struct xbd_ring *ring);
void xbd_set_error(struct xbd_softc *sc, const char *why);

/* xbd_connect.c: XenBus state machine, negotiation, teardown. */
void xbd_backend_changed(struct xbd_softc *sc);
int xbd_initialize(struct xbd_softc *sc);
int xbd_connect(struct xbd_softc *sc);
void xbd_closing(struct xbd_softc *sc);
void xbd_closing_finish(struct xbd_softc *sc);
void xbd_free(struct xbd_softc *sc);
void xbd_teardown(struct xbd_softc *sc, bool requeue);
void xbd_lost(struct xbd_softc *sc);
void xbd_recovery_check(struct xbd_softc *sc);
int xbd_set_state(struct xbd_softc *sc, enum xenbus_state state);
int xbd_watch_otherend(struct xbd_softc *sc);

/* xbd_bounce.c: the bounce pool and zero-copy buffers. */
int xbd_bounce_alloc(struct xbd_softc *sc);
void xbd_bounce_release_all(struct xbd_softc *sc);
int xbd_bounce_get(struct xbd_softc *sc, struct xbd_command *cm,
    uint32_t npages);
void xbd_bounce_put(struct xbd_softc *sc, struct xbd_command *cm);
void *xbd_bounce_page(struct xbd_softc *sc, uint32_t idx);
bool xbd_is_zc(struct xbd_softc *sc, const void *buf, size_t len);
bool xbd_zc_persistent(struct xbd_softc *sc);
grant_ref_t xbd_zc_wire(struct xbd_softc *sc, const void *page);
void xbd_zc_release(struct xbd_softc *sc);

/*
 * xbd_dev.c: wrap a platform view the caller owns (an in-process
 * simulated domain) for xbd_attach; xbd_plat_close() then frees only the
 * wrapper.
 */
int xbd_plat_wrap(struct plat *p, struct xbd_plat **out);
/*
 * xbd_dev.c: the first half of xbd_attach: a device watching its
 * backend's state but with no event thread yet, so nothing acts on the
 * watch (a harness may call xbd_backend_changed itself).  Freed by
 * xbd_detach like an attached one.
 */
/*
 * xbd_hold.c: the hold files under xp_holddir (DIR/hold on the
 * simulator, /run/xbd on Xen).  xbd_hold takes the vbd's for sc, or
 * fails with -EBUSY and names the holder in xp_why.
 */
int xbd_plat_set_holddir(struct xbd_plat *xp, const char *base,
    const char *sub);
int xbd_hold(struct xbd_plat *xp, struct xbd_softc *sc);
/* Let the vbd go: the hold file and an empty hold directory removed. */
void xbd_unhold(struct xbd_softc *sc);

int xbd_create(struct xbd_plat *xp, const char *vbd, const struct xbd_opts *o,
    struct xbd_softc **out);
/* Run the callbacks of finished bios here: for a device with no thread. */
void xbd_run_done(struct xbd_softc *sc);

/* xbd_thread.c: the event thread. */
int xbd_thread_start(struct xbd_softc *sc);
void xbd_thread_stop(struct xbd_softc *sc);

/* xbd_info.c */
void xbd_features_string(struct xbd_softc *sc, char *buf, size_t len);
void xbd_log_rings(struct xbd_softc *sc, const char *why);

/* ---------------------------------------------------------------------
 * Logging (to stderr unless XBD_QUIET is set and XBD_VERBOSE is not)
 */
void xbd_log(struct xbd_softc *sc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* XBD_FRONT_INTERNAL_H */
