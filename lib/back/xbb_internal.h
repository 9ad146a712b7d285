/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The backend's private structures and the functions its files share.
 * Nothing here is public: lib/back/xbb.h is the API.
 *
 * Field prefixes (one per long-lived struct, so that a grep has one
 * meaning): bk_ the backend (struct xbb), xb_ a device, rg_ a ring,
 * br_ a request, so_ the storage, io_ the io_uring engine, pc_/pg_ the
 * persistent-grant cache and its entries, bp_ the bounce pool; the small
 * value structs use l_ (limits), ri_ (a validated request), rc_ (a
 * ring's transport) and sc_ (storage configuration).  Storage kinds
 * (xbb_store_kind.h): tg_ a parsed `params`, sk_ a kind's operations,
 * op_ an operation, sw_ what to wait for; rb_/rq_/rs_ RBD's store, ring
 * queue and slots, nb_/nq_/ns_/nd_ NBD's store, queue, slots and
 * finished operations.
 *
 * Threads and ownership:
 *  - the control thread owns the device list and every device's XenBus
 *    state; API calls from other threads take bk_lock, which the control
 *    thread holds while it changes anything;
 *  - each ring is owned by its I/O thread between xbb_ring_start() and
 *    xbb_ring_stop(): nothing else touches its requests, pools or
 *    io_uring.  The control thread talks to it only through rg_stop and
 *    the rg_kickfd eventfd, and reads its counters (atomics).
 */

#ifndef XBD_XBB_INTERNAL_H
#define XBD_XBB_INTERNAL_H

#include <sys/types.h>
#include <sys/uio.h>

#include <bsd/sys/queue.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/xen_shim.h"
#include "common/xu_assert.h"
#include "common/xu_eoi.h"
#include "platform/plat.h"
#include "ring/xring.h"
#include "xbb.h"
#include "xbb_shadow.h"
#include "xbb_store_kind.h"

struct xs_handle;
struct xbb_dev;
struct xbb_ring;

/* ---------------------------------------------------------------------
 * Tunables
 */

/* Segments in a direct request: the blkif limit. */
#define XBB_DIRECT_SEGS BLKIF_MAX_SEGMENTS_PER_REQUEST
/* Segments an indirect request may ever carry: 8 pages of 512. */
#define XBB_MAX_INDIRECT_SEGS \
	(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * XBD_SEGS_PER_INDIRECT_PAGE)
/*
 * Requests taken from a ring before the I/O thread submits what it has:
 * large enough to batch, small enough that the first I/O of a full
 * 1024-slot ring starts without waiting for the whole ring to be parsed.
 */
#define XBB_INTAKE_BATCH 128
/* io_uring entries beyond one per request: the two polls and the
   delayed unmask of a throttled event channel. */
#define XBB_URING_SPARE 3
/*
 * Bounce pool pages when o_bounce_pages is 0: eleven pages (one direct
 * request) per ring slot, capped at 32 MiB per ring, but never smaller
 * than two of the largest requests so that one always fits.
 */
#define XBB_BOUNCE_PER_SLOT 11
#define XBB_BOUNCE_MAX_PAGES 8192
/*
 * Grants kept mapped per ring.  Linux blkback keeps 1056, which a 1 MiB
 * QD8 workload (2048 data pages in flight) turns into an LRU miss on
 * nearly every segment: 81-96 maps per request measured.  Ours covers
 * everything a frontend of ours grants persistently: its bounce pool and
 * zero-copy region (4096 pages each) and one indirect page per command
 * of a 32-page ring (1024).
 */
#define XBB_DEF_MAX_PERSISTENT 9216
/*
 * How often the control thread re-reads each device's storage size
 * (o_resize_poll_ms): a grown or shrunk image reaches the frontend within
 * a second, for one fstat or BLKGETSIZE64 per device per second.
 */
#define XBB_DEF_RESIZE_POLL_MS 1000
/* The longest o_nbd_timeout_s: longer than any guest waits for a disk. */
#define XBB_MAX_NBD_TIMEOUT_S 3600
/* Longest `params` path we open. */
#define XBB_PARAMS_MAX 1024
/* The token of every frontend-state watch (the path tells devices apart). */
#define XBB_FE_TOKEN "xbb-fe"

/* ---------------------------------------------------------------------
 * Logging
 */

void xbb_log(struct xbb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------
 * Counters.  Each ring's are written by its I/O thread only and read by
 * anyone, so they are relaxed atomics updated with a plain load and
 * store (no locked instruction on the I/O path).
 */
enum xbb_ctr {
	XBB_C_REQ_READ,
	XBB_C_REQ_WRITE,
	XBB_C_REQ_FLUSH,
	XBB_C_REQ_BARRIER,
	XBB_C_REQ_DISCARD,
	XBB_C_REQ_INDIRECT,
	XBB_C_REQ_OTHER,
	XBB_C_SEGMENTS,
	XBB_C_BYTES_READ,
	XBB_C_BYTES_WRITTEN,
	XBB_C_BYTES_DISCARDED,
	XBB_C_RSP_OKAY,
	XBB_C_RSP_ERROR,
	XBB_C_RSP_EOPNOTSUPP,
	XBB_C_ERR_BAD_REQUEST,
	XBB_C_ERR_READONLY,
	XBB_C_ERR_GRANT,
	XBB_C_ERR_IO,
	XBB_C_ERR_FAILED,
	XBB_C_ERR_EOPNOTSUPP,
	XBB_C_RING_ERRORS,
	XBB_C_IN_FLIGHT,     /* gauge */
	XBB_C_IN_FLIGHT_MAX, /* high-water mark */
	XBB_C_BARRIER_DRAINS,
	XBB_C_PGRANTS, /* gauge */
	XBB_C_PGRANT_HITS,
	XBB_C_PGRANT_MISSES,
	XBB_C_PGRANT_EVICTIONS,
	XBB_C_PGRANT_FULL,
	XBB_C_MAPS,
	XBB_C_COPIES,
	XBB_C_BOUNCE_BYTES,
	XBB_C_SHORT_IO,
	XBB_C_SHORTAGE_BOUNCE,
	XBB_C_SHORTAGE_URING,
	XBB_C_NOTIFY_SENT,
	XBB_C_NOTIFY_SKIPPED,
	XBB_C_EVENTS,
	XBB_C_WAKEUPS,
	XBB_C_URING_ENTER,
	XBB_C_URING_SQES,
	XBB_C_URING_CQES,
	XBB_C_SYNCS,
	XBB_C_SYNC_IO,
	XBB_C_EVENTS_SPURIOUS,
	XBB_C_EOI_DELAYED,
	XBB_C_REPLAYED,
	XBB_C_RESUMES,
	XBB_C_ERR_NOSPACE,
	XBB_C_COUNT
};

struct xbb_ctrs {
	_Atomic uint64_t c[XBB_C_COUNT]; /* indexed by enum xbb_ctr */
};

/* Add n to a counter only one thread writes. */
static inline void
xbb_ctr_add(struct xbb_ctrs *c, enum xbb_ctr i, uint64_t n)
{
	atomic_store_explicit(&c->c[i],
	    atomic_load_explicit(&c->c[i], memory_order_relaxed) + n,
	    memory_order_relaxed);
}

static inline void
xbb_ctr_set(struct xbb_ctrs *c, enum xbb_ctr i, uint64_t v)
{
	atomic_store_explicit(&c->c[i], v, memory_order_relaxed);
}

static inline uint64_t
xbb_ctr_get(const struct xbb_ctrs *c, enum xbb_ctr i)
{
	return (atomic_load_explicit(&c->c[i], memory_order_relaxed));
}

/* Fold a finished ring's counters into a device's history. */
void xbb_ctrs_retire(struct xbb_ctrs *hist, const struct xbb_ctrs *ring);

/* ---------------------------------------------------------------------
 * Request validation (xbb_validate.c): pure functions of the request and
 * the limits, so that fuzz/fuzz_xbb_req.c can drive them directly.
 */

/* What requests are checked against; fixed at connect but for l_sectors. */
struct xbb_limits {
	uint64_t l_sectors;	 /* disk size in 512-byte sectors */
	uint32_t l_sector_size;	 /* logical block: I/O alignment */
	uint32_t l_max_indirect; /* indirect segments offered (0: none) */
	uint32_t l_discard_gran; /* discard alignment in bytes */
	bool l_readonly;	 /* write-class requests refused */
	bool l_flush;		 /* FLUSH_DISKCACHE offered */
	bool l_barrier;		 /* WRITE_BARRIER offered */
	bool l_discard;		 /* DISCARD offered */
	bool l_discard_secure;	 /* BLKIF_DISCARD_SECURE offered */
};

/* A request's header after validation, in private memory. */
struct xbb_reqinfo {
	uint64_t ri_id;	    /* echoed in the response */
	uint64_t ri_sector; /* first 512-byte sector */
	uint64_t ri_nsect;  /* sectors covered (data or discard) */
	uint32_t ri_nseg;   /* data segments */
	uint32_t ri_nind;   /* indirect pages holding the segments */
	uint8_t ri_op;	    /* what to do (the inner op of INDIRECT) */
	uint8_t ri_rsp_op;  /* operation in the response */
	bool ri_indirect;   /* segments come from indirect pages */
	bool ri_secure;	    /* secure discard */
};

/*
 * Check a request's header.  Fills *ri even on failure (so the caller
 * can answer with ri_id and ri_rsp_op).
 * \return 0, -EOPNOTSUPP (unknown or unoffered operation), -EROFS
 *         (write-class request on a read-only disk), -EINVAL (malformed:
 *         segment count, inner op, flags, alignment), -ERANGE (outside
 *         the disk).
 */
int xbb_req_check(const struct xbb_limits *l, const union xring_req *req,
    struct xbb_reqinfo *ri);

/*
 * Check the ri_nseg segments (already in private memory) and the byte
 * range they cover; sets ri_nsect.
 * \return 0, -EINVAL (first_sect > last_sect, last_sect > 7, not
 *         aligned to the sector size), -ERANGE (outside the disk).
 */
int xbb_seg_check(const struct xbb_limits *l,
    const struct blkif_request_segment *segs, struct xbb_reqinfo *ri);

/* Indirect pages needed for n segments: ceil(n / 512). */
static inline uint32_t
xbb_indirect_pages(uint32_t nseg)
{
	return ((nseg + XBD_SEGS_PER_INDIRECT_PAGE - 1) /
	    XBD_SEGS_PER_INDIRECT_PAGE);
}

/* ---------------------------------------------------------------------
 * Storage (xbb_store.c)
 */
struct xbb_store {
	int so_fd;		   /* the file or device; -1 when closed */
	bool so_blkdev;		   /* a block device (ioctls), not a file */
	bool so_readonly;	   /* opened O_RDONLY */
	bool so_direct;		   /* opened O_DIRECT */
	bool so_memfs;		   /* a file in memory (tmpfs, ramfs): a
				      transfer never waits for a device */
	uint64_t so_bytes;	   /* usable size: a multiple of the sector
				      size, the tail beyond is not served */
	uint32_t so_cut;	   /* bytes past the last whole sector,
				      not served */
	uint32_t so_sector_size;   /* logical block size we publish */
	uint32_t so_phys_size;	   /* physical block size we publish */
	uint32_t so_dio_mem;	   /* O_DIRECT buffer alignment */
	uint32_t so_dio_off;	   /* O_DIRECT offset and length alignment */
	bool so_discard;	   /* holes can be punched / BLKDISCARD */
	bool so_discard_secure;	   /* BLKSECDISCARD offered */
	uint32_t so_discard_gran;  /* discard granularity in bytes */
	bool so_flush;		   /* the storage can flush its cache
				      (feature-flush-cache, barrier) */
	bool so_contig;		   /* a transfer must be one buffer: requests
				      of several segments are bounced */
	unsigned int so_max_rings; /* rings the storage serves correctly
				      (0: any number) */
	const struct xbb_store_ops *so_ops; /* a kind not on io_uring
					       (xbb_store_kind.h); NULL:
					       the file or device here */
	void *so_priv;			    /* that kind's state */
	char so_err[256]; /* why opening failed, naming the target
			     (empty: strerror says it all) */
	void (*so_log)(void *arg, const char *msg); /* the backend's log */
	void *so_log_arg;			    /* its argument */
};

/* What xbb_store_open needs to know. */
struct xbb_store_cfg {
	const char *sc_path;	   /* `params`: a file or block device,
				      or a target (xbb_target.c) */
	unsigned int sc_timeout_s; /* a remote target's I/O timeout */
	bool sc_wait;		   /* a remote server not there yet is
				      waited for up to sc_timeout_s (the
				      backend; a tool's check does not) */
	void (*sc_log)(void *arg, const char *msg); /* where a kind logs */
	void *sc_log_arg;			    /* its argument */
	bool sc_readonly;			    /* open read-only */
	bool sc_direct;				    /* try O_DIRECT */
	unsigned int sc_sector_size;		    /* 0: from the storage */
	bool sc_secure; /* vouch for BLKSECDISCARD */
};

/*
 * Open and probe: size (BLKGETSIZE64 or st_size), logical and physical
 * block sizes (BLKSSZGET/BLKPBSZGET, 512/st_blksize for files), O_DIRECT
 * alignment (statx), discard support (sysfs for devices, a harmless
 * punch past EOF for files).
 * \return 0, -errno from open/ioctl, -EINVAL (not a file or block
 *         device, bad sector size, empty).
 */
int xbb_store_open(struct xbb_store *so, const struct xbb_store_cfg *cfg);

/* Re-read the size (online resize). */
int xbb_store_size(struct xbb_store *so, uint64_t *bytes);

/*
 * Discard [off, off + len) on a block device with BLKDISCARD or
 * BLKSECDISCARD (synchronous: io_uring has no portable discard).
 */
int xbb_store_blk_discard(struct xbb_store *so, uint64_t off, uint64_t len,
    bool secure);

/* Close (idempotent). */
void xbb_store_close(struct xbb_store *so);

/* Is it open (a file descriptor, or a remote kind's state)? */
static inline bool
xbb_store_is_open(const struct xbb_store *so)
{
	return (so->so_fd >= 0 || so->so_priv != NULL);
}

/* ---------------------------------------------------------------------
 * io_uring engine (xbb_io.c).  One per ring, used by its I/O thread only.
 * An operation is tagged with a 64-bit value handed back at completion.
 */
struct xbb_io {
	struct io_uring io_ring;  /* the ring itself */
	bool io_ready;		  /* io_ring initialised */
	unsigned int io_depth;	  /* operations that may be in flight */
	unsigned int io_busy;	  /* operations prepared and not reaped */
	struct xbb_ctrs *io_ctrs; /* where enter/sqe/cqe counts go */
};

/*
 * Create the ring for depth operations in flight.
 * \return 0, -ENOSYS/-EPERM (no io_uring), -ENOMEM, -errno.
 */
int xbb_io_init(struct xbb_io *io, unsigned int depth, struct xbb_ctrs *ctrs);
void xbb_io_fini(struct xbb_io *io);

/* Can n more operations be prepared now? */
static inline bool
xbb_io_room(const struct xbb_io *io, unsigned int n)
{
	return (io->io_busy + n <= io->io_depth);
}

/*
 * A submission entry for a new operation tagged tag; the caller checked
 * xbb_io_room() first.  Never NULL then (the SQ holds io_depth entries).
 */
struct io_uring_sqe *xbb_io_sqe(struct xbb_io *io, uint64_t tag);

/*
 * Submit what was prepared and wait for at least wait_nr completions,
 * in one system call (none when there is nothing to submit and nothing
 * to wait for).
 * \return 0 or -errno (-EINTR and -ETIME are not errors for the caller).
 */
int xbb_io_enter(struct xbb_io *io, unsigned int wait_nr);

/* Completion callback of xbb_io_reap (xbb_io_done_fn, in
   xbb_store_kind.h): res is the CQE result. */

/* Hand every available completion to fn; returns how many. */
unsigned int xbb_io_reap(struct xbb_io *io, xbb_io_done_fn *fn, void *arg);

/* ---------------------------------------------------------------------
 * Write log (xbb_wlog.c, format in xbb_wlog.h): every ring of every
 * device appends under one lock, so the entries have one order, that of
 * the completions.  Off unless o_log_writes names a file; then logging
 * costs the I/O threads a locked append per completion, which is why it
 * is a test tool and not a production journal.
 */
struct xbb_wlog {
	pthread_mutex_t wl_lock; /* orders appends */
	int wl_fd;		 /* the log; -1: off */
	uint64_t wl_off;	 /* where the next entry goes */
	uint64_t wl_seq;	 /* entries appended */
	bool wl_broken;		 /* an append failed: no more entries */
};

/*
 * Create (or truncate) the log at path and write its header; path NULL
 * leaves it off.  \return 0 or -errno.
 */
int xbb_wlog_open(struct xbb_wlog *wl, const char *path);
/* Close it (idempotent, also when off). */
void xbb_wlog_close(struct xbb_wlog *wl);

static inline bool
xbb_wlog_on(const struct xbb_wlog *wl)
{
	return (wl->wl_fd >= 0);
}

/*
 * Entries appended so far: what an fdatasync issued now will cover.
 * Only when the log is on.
 */
uint64_t xbb_wlog_seq(struct xbb_wlog *wl);

/*
 * Append a completed write of len bytes at off, the data being the
 * first len bytes of the niov iovecs; a completed discard; a completed
 * fdatasync that was issued when covers entries had been appended.
 * Only when the log is on; a failure stops the log and marks it broken.
 */
void xbb_wlog_write(struct xbb_wlog *wl, const struct xbb_dev *dev,
    uint64_t off, const struct iovec *iov, uint32_t niov, uint64_t len);
void xbb_wlog_discard(struct xbb_wlog *wl, const struct xbb_dev *dev,
    uint64_t off, uint64_t len);
void xbb_wlog_mark(struct xbb_wlog *wl, const struct xbb_dev *dev,
    uint64_t covers);

/* ---------------------------------------------------------------------
 * Bounce pool (xbb_grant.c): contiguous runs of private pages for grant
 * copy and for O_DIRECT alignment.  First fit over a bitmap; requests
 * wait in FIFO order when it is short, so a large one cannot starve.
 */
struct xbb_pool {
	uint8_t *bp_base;    /* bp_npages pages (mmap) */
	uint32_t bp_npages;  /* pages in the pool */
	uint32_t bp_free;    /* pages not in use */
	uint64_t *bp_bitmap; /* bit set: page in use */
};

int xbb_pool_init(struct xbb_pool *bp, uint32_t npages);
void xbb_pool_fini(struct xbb_pool *bp);
/* \return 0 and the first page of n contiguous ones, or -ENOSPC. */
int xbb_pool_get(struct xbb_pool *bp, uint32_t n, uint32_t *first);
void xbb_pool_put(struct xbb_pool *bp, uint32_t first, uint32_t n);

static inline void *
xbb_pool_addr(const struct xbb_pool *bp, uint32_t page)
{
	return (bp->bp_base + (size_t)page * XBD_PAGE_SIZE);
}

/* ---------------------------------------------------------------------
 * Persistent-grant cache (xbb_grant.c): grants kept mapped across
 * requests, keyed by reference, bounded, least recently used first out.
 * Only the bookkeeping lives here; mapping and unmapping are the
 * caller's, so the cache is a pure structure the unit tests drive.
 */
struct xbb_pgrant {
	TAILQ_ENTRY(xbb_pgrant) pg_lru; /* on pc_lru while unused */
	uint32_t pg_next;		/* hash chain or free list (index + 1,
					   0 ends it) */
	uint32_t pg_users;		/* requests using the page now */
	bool pg_live;			/* in the table */
	struct plat_map_seg pg_map;	/* the mapping (ref, addr, handle) */
};

struct xbb_pgc {
	struct xbb_pgrant *pc_ent;	 /* pc_cap entries */
	uint32_t *pc_bucket;		 /* chain heads (index + 1) */
	uint32_t pc_nbucket;		 /* a power of two >= 2 * pc_cap */
	uint32_t pc_cap;		 /* most grants kept mapped */
	uint32_t pc_count;		 /* grants in the table */
	uint32_t pc_free;		 /* free-entry list (index + 1) */
	TAILQ_HEAD(, xbb_pgrant) pc_lru; /* unused grants, oldest first */
};

int xbb_pgc_init(struct xbb_pgc *pc, uint32_t cap);
/* Free the table; every grant must have been taken out (xbb_pgc_drain). */
void xbb_pgc_fini(struct xbb_pgc *pc);
/* Find ref and pin it for one more user; NULL on a miss. */
struct xbb_pgrant *xbb_pgc_get(struct xbb_pgc *pc, grant_ref_t ref);
/* Unpin; an unused grant becomes the most recently used on the LRU. */
void xbb_pgc_put(struct xbb_pgc *pc, struct xbb_pgrant *pg);
/*
 * Add a mapping, pinned once.  NULL when the table is full (make room
 * with xbb_pgc_evict first) or ref is already present.
 */
struct xbb_pgrant *xbb_pgc_insert(struct xbb_pgc *pc,
    const struct plat_map_seg *map);
/*
 * Take the least recently used unpinned grant out of the table.
 * \return 0 and its mapping (for the caller to unmap), -ENOENT when every
 *         grant is pinned.
 */
int xbb_pgc_evict(struct xbb_pgc *pc, struct plat_map_seg *out);
/* Take any grant out (teardown); -ENOENT when empty. */
int xbb_pgc_drain(struct xbb_pgc *pc, struct plat_map_seg *out);

/* ---------------------------------------------------------------------
 * Requests and rings (xbb_ring.c)
 */

/* The queue a request is on (FreeBSD blkfront's queue shape). */
enum xbb_rq {
	XBB_RQ_FREE = 0,    /* unused */
	XBB_RQ_WAIT = 1,    /* short of bounce pages or io_uring room */
	XBB_RQ_BUSY = 2,    /* a storage operation is in flight */
	XBB_RQ_BARRIER = 3, /* a barrier waiting for the ring to drain */
	XBB_RQ_DONE = 4,    /* answered, response not pushed yet: its
			       shadow entry must not be reused before */
	XBB_RQ_COUNT = 5,
	XBB_RQ_NONE = 0xff, /* being worked on, on no queue */
};

/* The step of a request's sequence that is (or will be) in flight. */
enum xbb_stage {
	XBB_ST_PRESYNC = 0,  /* the flush before a flush/barrier's data */
	XBB_ST_DATA = 1,     /* readv / writev */
	XBB_ST_POSTSYNC = 2, /* the flush after it (or a lone flush) */
	XBB_ST_DISCARD = 3,  /* fallocate / BLKDISCARD */
	XBB_ST_DONE = 4,     /* nothing left: answer */
};

/* Why a request failed: decides the status and the counter. */
enum xbb_cause {
	XBB_CAUSE_NONE = 0,
	XBB_CAUSE_BAD,	   /* malformed or out of range: ERROR */
	XBB_CAUSE_RO,	   /* write to a read-only disk: ERROR */
	XBB_CAUSE_GRANT,   /* grant map or copy failed: ERROR */
	XBB_CAUSE_IO,	   /* storage failed: ERROR */
	XBB_CAUSE_FAILED,  /* device already failed: ERROR */
	XBB_CAUSE_NOTSUPP, /* EOPNOTSUPP */
};

/*
 * One request slot: a ring has as many as it has slots, so a request
 * taken from the ring always finds one (the ring wrapper never hands out
 * more requests than there are response slots).  Invariant: a request is
 * on the queue br_q names, or on none (XBB_RQ_NONE) while the I/O thread
 * works on it; only the ring's I/O thread touches it.
 */
struct xbb_req {
	TAILQ_ENTRY(xbb_req) br_link;	       /* queue linkage */
	enum xbb_rq br_q;		       /* queue it is on */
	enum xbb_stage br_stage;	       /* step in flight or next */
	enum xbb_cause br_cause;	       /* first failure, if any */
	struct xbb_reqinfo br_info;	       /* validated header */
	struct blkif_request_segment *br_segs; /* private copy of the
						  segments (read once) */
	struct iovec *br_iov;		       /* where the data is, in
						  segment order */
	uint32_t br_niov;		       /* entries in br_iov */
	uint32_t br_iov_next;		       /* first entry not yet fully
						  transferred */
	uint64_t br_bytes;		       /* data bytes of the request */
	uint64_t br_done;		       /* bytes transferred so far */
	uint64_t br_chunk;		       /* bytes of the transfer in
						  flight */
	struct plat_map_seg *br_map;	       /* one-shot mappings to undo */
	uint32_t br_nmap;		       /* entries in br_map */
	struct xbb_pgrant **br_pg;	       /* persistent grants pinned */
	uint32_t br_npg;		       /* entries in br_pg */
	uint32_t br_bounce;		       /* first bounce page held */
	uint32_t br_nbounce;		       /* bounce pages held (0: none) */
	bool br_mapped;			       /* grants mapped / copied in */
	struct iovec br_bounce_iov;	       /* the bounce run as one iovec */
	uint64_t br_wlog_seq;		       /* write log entries when the
						  sync in flight was issued */
};

/* A ring's transport, as read from XenStore. */
struct xbb_ring_cfg {
	grant_ref_t rc_refs[XRING_MAX_PAGES]; /* ring pages */
	unsigned int rc_npages;		      /* pages (power of two) */
	evtchn_port_t rc_port;		      /* the frontend's port */
};

/*
 * One ring of a connected device with its I/O thread.  Fields after
 * rg_thread belong to that thread while it runs.
 */
struct xbb_ring {
	struct xbb_dev *rg_dev;	    /* owner */
	unsigned int rg_index;	    /* queue number */
	struct xbb_ring_cfg rg_cfg; /* transport from XenStore */
	void *rg_sring;		    /* the mapped ring pages */
	struct plat_evtchn *rg_evh; /* this thread's channel handle */
	evtchn_port_t rg_port;	    /* our end, bound to rc_port */
	bool rg_bound;		    /* rg_port is bound */
	int rg_kickfd;		    /* eventfd: control -> I/O thread */
	_Atomic bool rg_stop;	    /* drain and exit */
	_Atomic bool rg_broken;	    /* bad producer index: no intake */
	bool rg_reported;	    /* control thread reported it */
	pthread_t rg_thread;	    /* the I/O thread */
	bool rg_running;	    /* rg_thread was started */
	struct xbb_ctrs rg_ctrs;    /* counters (read by anyone) */
	/* Owned by the I/O thread from here on. */
	struct xring_back rg_xr;  /* the ring wrapper */
	struct xbb_limits rg_lim; /* validation limits */
	struct xbb_io rg_io;	  /* io_uring engine */
	struct xbb_req *rg_reqs;  /* rg_slots requests */
	unsigned int rg_slots;	  /* ring slots */
	unsigned int rg_maxsegs;  /* segments one request may have */
	void *rg_bulk;		  /* per-request arrays, one block */
	size_t rg_bulk_len;	  /* its size */
	TAILQ_HEAD(, xbb_req) rg_q[XBB_RQ_COUNT]; /* request queues */
	unsigned int rg_qlen[XBB_RQ_COUNT];	  /* their lengths */
	unsigned int rg_inflight;		  /* taken, not yet answered */
	struct xbb_req *rg_barrier; /* barrier in progress: no intake */
	bool rg_more;		    /* intake stopped at the batch limit */
	bool rg_persistent;	    /* persistent grants negotiated */
	bool rg_copy;		    /* grant copy instead of map */
	struct xbb_pgc rg_pgc;	    /* persistent grants */
	struct xbb_pool rg_pool;    /* bounce pages */
	struct plat_copy_seg *rg_copyseg;   /* grant-copy scratch (rg_maxsegs):
					       copies are synchronous */
	unsigned int rg_unpushed;	    /* responses not yet pushed */
	struct xbb_shadow rg_sw;	    /* taken requests, in a file that
					       outlives us (sw_fd -1: none) */
	struct xbb_shadow_replay rg_replay; /* what a dead backend left to
					       re-execute, at start */
	uint64_t rg_kickbuf;		    /* eventfd read target */
	/* Late EOI (common/xu_eoi.h): rg_port stays masked from its event
	   until the intake after it, longer when it brought nothing. */
	bool rg_eoi_owed;		    /* an event was taken: unmask
					       after the next intake */
	bool rg_eoi_armed;		    /* a delayed unmask is queued */
	bool rg_work;			    /* the last intake saw requests
					       (or could not look) */
	struct xu_eoi rg_eoi;		    /* the spurious-event streak */
	struct __kernel_timespec rg_eoi_ts; /* the delay, read by the
					       kernel at submission */
	/* A storage kind's queue (so_ops), polled through rg_io. */
	struct xbb_sq *rg_sq;		   /* NULL: the local path */
	int rg_sq_fd;			   /* fd of the armed poll, -1 */
	unsigned int rg_sq_gen;		   /* its sw_gen */
	unsigned int rg_sq_mask;	   /* its events */
	bool rg_sq_rm;			   /* a removal of it is queued */
	bool rg_sq_tick;		   /* a tick is queued */
	struct __kernel_timespec rg_sq_ts; /* the tick's delay */
};

/* Set up a ring's memory and io_uring (control thread, before start). */
int xbb_ring_init(struct xbb_ring *r, struct xbb_dev *dev, unsigned int index);
/* Start its I/O thread. */
int xbb_ring_start(struct xbb_ring *r);
/* Ask its thread to drain and exit, without waiting. */
void xbb_ring_signal(struct xbb_ring *r);
/* Ask it to drain and exit, and wait (idempotent). */
void xbb_ring_stop(struct xbb_ring *r);
/* Free what xbb_ring_init set up (after stop). */
void xbb_ring_fini(struct xbb_ring *r);

/* Grants of one request (xbb_grant.c), run on the ring's I/O thread. */
int xbb_grant_acquire(struct xbb_ring *r, struct xbb_req *req, bool *wait);
void xbb_grant_release(struct xbb_ring *r, struct xbb_req *req);
int xbb_grant_finish_read(struct xbb_ring *r, struct xbb_req *req);
void xbb_grant_teardown(struct xbb_ring *r);
/* Put a freshly mapped grant in the ring's cache; NULL when it cannot. */
struct xbb_pgrant *xbb_pgc_adopt(struct xbb_ring *r,
    const struct plat_map_seg *map);

/* Indirect descriptors into req->br_segs (xbb_indirect.c). */
int xbb_indirect_fetch(struct xbb_ring *r, struct xbb_req *req,
    const grant_ref_t *grefs);

/* ---------------------------------------------------------------------
 * Devices (xbb_dev.c, xbb_connect.c)
 */

/* Where a device stands, from the backend's side. */
enum xbb_dev_state {
	XBB_DEV_NEW = 0,       /* found; not configured yet */
	XBB_DEV_INITWAIT = 1,  /* storage open, features published */
	XBB_DEV_CONNECTED = 2, /* rings served */
	XBB_DEV_CLOSING = 3,   /* we wrote Closing; waiting for the
				  frontend to close */
	XBB_DEV_CLOSED = 4,    /* disconnected; reconnects if online */
	XBB_DEV_RELEASED = 5,  /* given up (online = 0): waits for the
				  toolstack to remove the directory */
};

/*
 * One vbd.  Everything but the atomics is the control thread's (and
 * bk_lock's); rings read xb_sectors and xb_failed.
 */
struct xbb_dev {
	TAILQ_ENTRY(xbb_dev) xb_link; /* on bk_devs */
	struct xbb *xb_bk;	      /* the backend */
	uint32_t xb_feid;	      /* frontend domain (from our own
					 directory's path) */
	uint32_t xb_vdev;	      /* virtual-device number */
	char xb_bepath[128];	      /* our directory */
	char *xb_fepath;	      /* the frontend's directory, as the
					 toolstack wrote it */
	char *xb_fewatch;	      /* <fepath>/state, watched */
	bool xb_watching;	      /* xb_fewatch is registered */
	bool xb_dirty;		      /* re-evaluate on this pass */
	bool xb_recreated;	      /* our directory was removed and made
					 again: a new device, same ids */
	enum xbb_dev_state xb_state;  /* our side of the handshake */
	enum xenbus_state xb_written; /* what we last wrote to state */
	bool xb_online;		      /* toolstack's `online` */
	bool xb_readonly;	      /* mode "r" */
	bool xb_cdrom;		      /* device-type "cdrom" */
	bool xb_removable;	      /* removable "1" */
	bool xb_discard_enable;	      /* toolstack's discard-enable */
	struct xbb_store xb_store;    /* the storage */
	int xb_open_err;	      /* opening it failed (-errno): not
					 retried for this directory, or a
					 frontend's restart would repeat it
					 in a loop; reported once */
	_Atomic uint64_t xb_sectors;  /* size in 512-byte sectors */
	_Atomic bool xb_failed;	      /* a write or sync failed */
	_Atomic int xb_fail_errno;    /* the errno that failed it (first) */
	_Atomic bool xb_nospace;      /* the last write found no space:
					 logged once until one succeeds */
	enum xring_abi xb_abi;	      /* negotiated ABI */
	unsigned int xb_nrings;	      /* rings in use */
	unsigned int xb_npages;	      /* pages per ring */
	bool xb_persistent;	      /* persistent grants in use */
	struct xbb_ring *xb_rings;    /* xb_nrings rings, or NULL */
	uint64_t xb_connects;	      /* connections so far */
	bool xb_keep;		      /* disconnecting for the next backend:
					 keep the rings' shadows */
	struct xbb_ctrs xb_hist;      /* counters of past connections */
};

/*
 * Re-evaluate a device after a watch event (control thread, locked).
 * \return true when its directory is gone and it should be destroyed.
 */
bool xbb_dev_update(struct xbb_dev *dev);
/* The rings a device offers: the option, less if its storage says so. */
unsigned int xbb_dev_max_queues(const struct xbb_dev *dev);
/* Re-read the storage size and tell the frontend (locked). */
int xbb_dev_resize_locked(struct xbb_dev *dev);
/* Tear down whatever the device holds and forget it (locked). */
void xbb_dev_destroy(struct xbb_dev *dev);
/*
 * The device cannot go on: log why, write it to its `error` node and
 * write Closing (unless its directory is gone).
 */
void xbb_dev_fatal(struct xbb_dev *dev, int err, const char *what);
/* Create the record for a directory the toolstack made (locked). */
int xbb_dev_create(struct xbb *b, uint32_t feid, uint32_t vdev,
    struct xbb_dev **out);
/*
 * Stop serving at backend shutdown: disconnect and write Closed, or with
 * o_keep_connected, disconnect and leave the store as it is.
 */
void xbb_dev_shutdown(struct xbb_dev *dev);

/*
 * Read the transport, map, bind, start the rings (xbb_connect.c); with
 * resume, take over rings a previous backend served (a restart).
 */
int xbb_connect(struct xbb_dev *dev, bool resume);
/* Stop the rings (draining), unmap, unbind, free. Idempotent. */
void xbb_disconnect(struct xbb_dev *dev);
/* Wake the control thread (from an I/O thread: a ring broke). */
void xbb_kick_control(struct xbb *b);
/*
 * xbb_start without the control thread: nothing acts on the watches
 * until the owner calls xbb_control_wake when xs_fileno(bk_xs) or
 * bk_kickfd (then kicked) is readable, as that thread does when it wakes
 * up.  xbb_stop frees it.
 */
int xbb_create(struct plat *p, const struct xbb_opts *o, struct xbb **out);
void xbb_control_wake(struct xbb *b, bool kicked);

/* Fill a stats struct (xbb_stats.c). */
void xbb_stats_fill(const struct xbb_dev *dev, int ring, struct xbb_stats *st);

/* ---------------------------------------------------------------------
 * The backend (xbb_serve.c)
 */
struct xbb {
	struct plat *bk_plat;	       /* the backend domain's platform */
	struct xbb_opts bk_opts;       /* validated options */
	struct xs_handle *bk_xs;       /* XenStore, acting as that domain */
	char bk_root[64];	       /* /local/domain/<me>/backend/vbd */
	pthread_mutex_t bk_lock;       /* device list and device state */
	TAILQ_HEAD(, xbb_dev) bk_devs; /* known devices */
	pthread_t bk_thread;	       /* the control thread */
	bool bk_threaded;	       /* bk_thread runs (xbb_start) */
	int bk_stopfd;		       /* eventfd: xbb_stop -> control */
	int bk_kickfd;		       /* eventfd: I/O threads -> control */
	struct xbb_wlog bk_wlog;       /* write log (o_log_writes) */
	int bk_lockfd;		       /* o_state_dir's lock, or -1 */
	uint64_t bk_resize_due;	       /* CLOCK_MONOTONIC ms of the next
					  storage size check */
};

/*
 * Online resize without being asked (xbb_resize.c, control thread): how
 * long poll() may sleep before the next size check (-1: never), and the
 * check itself when it is due.
 */
int xbb_resize_timeout(struct xbb *b);
void xbb_resize_tick(struct xbb *b);

#endif /* XBD_XBB_INTERNAL_H */
