/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbb: the blkif block backend.  One struct xbb serves every vbd the
 * toolstack creates under /local/domain/<me>/backend/vbd/ of the domain
 * its platform acts as, whatever the frontend (ours, Linux, FreeBSD,
 * NetBSD, Mirage, Unikraft): it runs the XenBus handshake, maps the
 * rings, and serves requests from a file or block device through
 * io_uring.  It follows FreeBSD's blkback (documented instance fields,
 * counters, pools sized at connect) with the validation Linux blkback
 * and QEMU added against hostile frontends.
 *
 * Conventions:
 *  - Every function returns 0 or a negative errno unless stated.
 *  - Sector units are 512 bytes everywhere on the wire: the `sectors`
 *    node, sector_number, first_sect/last_sect and discard ranges
 *    (Xen's 2024 clarification of blkif.h, Linux's behaviour; see
 *    docs/protocol.md section 4.1).  `sector-size` is the logical block
 *    size and only an alignment requirement: a request whose start or
 *    length is not a multiple of it is answered BLKIF_RSP_ERROR.
 *  - Durability: FLUSH_DISKCACHE is fdatasync; a flush carrying data is
 *    flush, write, flush; WRITE_BARRIER drains the ring, then does the
 *    same.  After a failed sync, or a write that failed for another
 *    reason than a lack of space, the device is failed: every later
 *    write, discard, flush and barrier is answered ERROR, never OKAY
 *    (docs/reliability.md section 5.3).  A write refused with ENOSPC
 *    or EDQUOT fails alone (docs/protocol.md, "Failed storage").
 *  - Threads: xbb_start() runs one control thread (XenStore watches, the
 *    XenBus state machine) and one I/O thread per ring, each with its
 *    own io_uring.  The functions below are thread-safe.
 */

#ifndef XBD_XBB_H
#define XBD_XBB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct plat;
struct xbb;

/* The most rings (multi-queue) one device may use. */
#define XBB_MAX_QUEUES 16

/*
 * How long I/O to an NBD server that stopped answering waits before it
 * fails (o_nbd_timeout_s's default): Linux's nbd driver waits 30 s too,
 * which rides out a server restart.
 */
#define XBB_DEF_NBD_TIMEOUT_S 30

/* Backend parameters; xbb_opts_init() gives the defaults. */
struct xbb_opts {
	size_t o_size;			    /* sizeof(struct xbb_opts) */
	unsigned int o_max_ring_page_order; /* max-ring-page-order we offer
					       (0..5; default 5: 32 pages) */
	unsigned int o_max_queues;	    /* multi-queue-max-queues (1..16;
					       default 4) */
	unsigned int o_max_indirect_segs;   /* feature-max-indirect-segments
					       (0: no indirect; <= 4096;
					       default 256 as Linux) */
	bool o_persistent;		    /* offer feature-persistent (map
					       mode only; default true) */
	unsigned int o_max_persistent;	    /* persistently mapped grants per
					       ring (default 1056 as Linux) */
	bool o_flush;			    /* offer feature-flush-cache
					       (default true) */
	bool o_barrier;			    /* offer feature-barrier (default
					       true) */
	bool o_discard;			    /* offer feature-discard where the
					       storage can punch holes and the
					       toolstack's discard-enable is
					       not 0 (default true) */
	bool o_discard_secure;		    /* offer discard-secure on block
					       devices: Linux has no safe
					       probe for BLKSECDISCARD, so
					       the operator vouches (default
					       false) */
	bool o_direct;			    /* open with O_DIRECT, bouncing
					       segments that are not aligned
					       for it (default false) */
	bool o_grant_copy;		    /* grant-copy data through bounce
					       pages instead of mapping the
					       frontend's pages (default
					       false: map) */
	unsigned int o_uring_depth;	    /* io_uring entries per ring (0:
					       ring slots + polls; smaller
					       values queue requests) */
	unsigned int o_bounce_pages;	    /* bounce pool pages per ring (0:
					       sized from the ring) */
	unsigned int o_sector_size;	    /* sector-size to publish (0: the
					       device's logical block size,
					       512 for files; a power of two
					       in 512..65536 otherwise) */
	void (*o_log)(void *arg, const char *msg); /* diagnostics (NULL:
						      silent) */
	void *o_log_arg;			   /* passed to o_log */
	const char *o_log_writes; /* record every completed write, discard
				     and flush to this file, created or
				     truncated at start (a test tool: see
				     xbb_wlog.h; NULL: off, the default) */
	const char *o_state_dir;  /* directory for the rings' shadows and the
				     backend's lock (xbb_shadow.h), which let
				     a restarted backend resume connected
				     rings; it must outlive the process and
				     exist (NULL: none, the default: a ring
				     can then be resumed only when idle) */
	bool o_shadows;		  /* keep the rings' shadows in o_state_dir
				     (default true; false: only the lock) */
	bool o_keep_connected;	  /* xbb_stop() leaves connected vbds
				     connected: it drains the rings, pushes
				     every response and unmaps, for the next
				     backend to resume (default false:
				     Closing, then Closed) */
	unsigned int o_resize_poll_ms; /* re-read each device's storage
					  size this often and publish a
					  change as xbb_dev_resize() does
					  (0: never; default 1000) */
	bool o_remove_closed;	       /* remove a vbd's backend directory
					  once it is Closed and offline, as
					  `xl devd` does in a driver domain
					  (where dom0's toolstack leaves it
					  to the backend; default false) */
	unsigned int o_nbd_timeout_s;  /* I/O to an NBD server that does
					  not answer fails after this many
					  seconds, and the backend keeps
					  reconnecting (1..3600; default
					  30) */
};

void xbb_opts_init(struct xbb_opts *o);

/*
 * The process serving backend domain domid with state directory dir
 * (o_state_dir), for a message when xbb_start() said -EBUSY.
 * \return its pid, or a negative errno (-ENOENT: none recorded).
 */
int xbb_holder(const char *dir, uint32_t domid);

/*
 * Start serving: open a XenStore handle as the platform's domain, watch
 * /local/domain/<me>/backend/vbd/ and serve each vbd that appears there.
 * o may be NULL for the defaults.
 * \return 0, -EINVAL (an option out of range, o_size too large),
 *         -ENOSYS/-EPERM (no io_uring on this host), -EBUSY (another
 *         backend holds o_state_dir's lock for this domain), -ENOMEM,
 *         or an error from XenStore.
 * \note p must outlive the backend.
 */
int xbb_start(struct plat *p, const struct xbb_opts *o, struct xbb **out);

/*
 * Check that path can be served (readonly: only read) before a vbd is
 * made for it, so that a tool reports the real reason at once: it opens
 * and probes it as the backend will, and refuses what the backend would
 * serve wrongly.  *why is a static text (or strerror's) for a message
 * "<path>: <why>".
 * \return 0, -errno of open/stat, -EISDIR (a directory), -ENOTBLK
 *         (neither a regular file nor a block device), -EINVAL (a file
 *         under one sector, or not a whole number of 512-byte sectors,
 *         which the backend would serve short).
 */
int xbb_image_check(const char *path, bool readonly, const char **why);

/*
 * Was this build made with a storage kind's library: "rbd" (librbd),
 * "nbd" (libnbd)?  Files and block devices are always served.
 */
bool xbb_storage_built(const char *kind);

/*
 * Does params name remote storage (rbd:, nbd://, nbd+unix://) rather
 * than a file or block device?  Tools create and remove files, never
 * remote images or exports: those only get opened.
 */
bool xbb_params_remote(const char *params);

/*
 * xbb_image_check for any `params`: a path is checked as there; a
 * remote target is parsed, opened (the cluster joined, the server
 * connected) with an I/O timeout of timeout_s seconds, probed and
 * closed.  msg gets one line naming params and what is wrong, e.g.
 * "rbd:xbd/nope: no such image in the pool".  Without readonly, storage
 * that can only be read (a snapshot, a read-only export) is refused.
 * \return 0, -EINVAL (malformed, unknown option), -ENOTSUP (a kind
 *         this build lacks), -EROFS, or the error of opening it.
 */
int xbb_params_check(const char *params, bool readonly, unsigned int timeout_s,
    char *msg, size_t len);

/*
 * Stop serving and free everything: each device finishes the I/O in
 * flight, is disconnected (rings and grants unmapped, channels closed)
 * and left Closed in XenStore, or with o_keep_connected left as it is,
 * every response pushed, for the next backend to resume.  NULL is a
 * no-op.
 */
void xbb_stop(struct xbb *b);

/*
 * Re-read the size of the storage behind a device and, if it changed,
 * publish the new `sectors` and re-write state Connected, which tells
 * the frontend to resize (Linux blkback's convention).  The control
 * thread does the same by itself every o_resize_poll_ms.
 * \return 0 (also when the size did not change), -ENOENT (no such
 *         device), -errno from fstat/ioctl or XenStore.
 */
int xbb_dev_resize(struct xbb *b, uint32_t frontend_id, uint32_t vdev);

/*
 * One device's parameters and counters, filled up to st_size bytes so
 * that callers built against an older, shorter struct keep working
 * (fields are only ever appended).  xbb_dev_stats() sums the counters
 * over every ring and every connection the device has had;
 * xbb_ring_stats() gives one ring of the current connection.  Gauges
 * (in flight, persistent grants) are current values.
 */
struct xbb_stats {
	/* The device and what was negotiated (current connection). */
	uint64_t st_state;	      /* our XenbusState */
	uint64_t st_connects;	      /* connections so far */
	uint64_t st_rings;	      /* rings (queues) */
	uint64_t st_ring_pages;	      /* pages per ring */
	uint64_t st_abi;	      /* 0 native, 1 x86_32 */
	uint64_t st_persistent;	      /* persistent grants in use */
	uint64_t st_grant_copy;	      /* data moved by grant copy */
	uint64_t st_direct;	      /* storage opened O_DIRECT */
	uint64_t st_max_indirect;     /* indirect segments offered */
	uint64_t st_sectors;	      /* size in 512-byte sectors */
	uint64_t st_sector_size;      /* logical block size published */
	uint64_t st_phys_sector_size; /* physical block size published */
	uint64_t st_readonly;	      /* the vbd is read-only */
	uint64_t st_discard;	      /* discard offered */
	uint64_t st_failed;	      /* a write or sync failed: writes and
					 flushes are refused */
	/* Requests by operation (an indirect request also counts as its
	   inner read or write). */
	uint64_t st_req_read;
	uint64_t st_req_write;
	uint64_t st_req_flush;
	uint64_t st_req_barrier;
	uint64_t st_req_discard;
	uint64_t st_req_indirect;
	uint64_t st_req_other; /* unknown operations */
	/* Data. */
	uint64_t st_segments;	     /* data segments served */
	uint64_t st_bytes_read;	     /* bytes read from storage */
	uint64_t st_bytes_written;   /* bytes written to storage */
	uint64_t st_bytes_discarded; /* bytes discarded */
	/* Responses and errors by cause. */
	uint64_t st_rsp_okay;
	uint64_t st_rsp_error;
	uint64_t st_rsp_eopnotsupp;
	uint64_t st_err_bad_request; /* malformed or out of range */
	uint64_t st_err_readonly;    /* write-class request on a r/o vbd */
	uint64_t st_err_grant;	     /* a grant did not map or copy */
	uint64_t st_err_io;	     /* storage I/O or sync failed */
	uint64_t st_err_failed;	     /* refused: the device had failed */
	uint64_t st_err_eopnotsupp;  /* unknown or unoffered operation */
	uint64_t st_ring_errors;     /* rings found broken (bad producer) */
	/* Load. */
	uint64_t st_in_flight;	    /* requests taken, not yet answered */
	uint64_t st_in_flight_max;  /* high-water mark */
	uint64_t st_barrier_drains; /* barriers that waited for the ring */
	/* Grants. */
	uint64_t st_pgrants;	      /* grants mapped persistently now */
	uint64_t st_pgrant_hits;      /* segments served from the cache */
	uint64_t st_pgrant_misses;    /* segments that had to be mapped */
	uint64_t st_pgrant_evictions; /* LRU grants unmapped for room */
	uint64_t st_pgrant_full;      /* mapped once: cache pinned full */
	uint64_t st_maps;	      /* foreign pages mapped (data path) */
	uint64_t st_copies;	      /* grant-copy segments */
	uint64_t st_bounce_bytes;     /* bytes bounced (copy mode, O_DIRECT
					 alignment) */
	uint64_t st_short_io;	      /* short transfers resubmitted */
	uint64_t st_shortage_bounce;  /* requests that waited for bounce
					 pages */
	uint64_t st_shortage_uring;   /* requests that waited for io_uring
					 room */
	/* Notifications and system calls (the CI perf gates). */
	uint64_t st_notify_sent;    /* event-channel notifications sent */
	uint64_t st_notify_skipped; /* pushes the hold-off made silent */
	uint64_t st_events;	    /* notifications received */
	uint64_t st_wakeups;	    /* I/O-thread loop iterations */
	uint64_t st_uring_enter;    /* io_uring_enter calls (submit and/or
				       wait) */
	uint64_t st_uring_sqes;	    /* submission entries */
	uint64_t st_uring_cqes;	    /* completions reaped */
	uint64_t st_syncs;	    /* fdatasyncs issued (flush, barrier) */
	uint64_t st_sync_io;	    /* transfers done at once, without
				       io_uring (storage in memory) */
	/* Notification storms (late EOI, XSA-332). */
	uint64_t st_events_spurious; /* events that brought no request */
	uint64_t st_eoi_delayed;     /* of which kept masked for a while */
	/* Restarts (xbb_shadow.h). */
	uint64_t st_replayed; /* requests a previous backend took and did
				 not answer visibly, re-executed */
	uint64_t st_resumes;  /* rings taken over from a previous backend
				 under a connected frontend */
	/* Storage failures (docs/protocol.md, "Failed storage"). */
	uint64_t st_fail_errno;	 /* errno that failed the device (with
				    st_failed), 0 if none */
	uint64_t st_err_nospace; /* writes refused for lack of space
				    (ENOSPC, EDQUOT) without failing it */
};

/*
 * \return 0, -ENOENT (no such device), -EINVAL (st_size 0).
 */
int xbb_dev_stats(struct xbb *b, uint32_t frontend_id, uint32_t vdev,
    struct xbb_stats *st, size_t st_size);

/*
 * The same for ring `ring` of the current connection.
 * \return 0, -ENOENT (no such device or ring), -EINVAL (st_size 0).
 */
int xbb_ring_stats(struct xbb *b, uint32_t frontend_id, uint32_t vdev,
    unsigned int ring, struct xbb_stats *st, size_t st_size);

#endif /* XBD_XBB_H */
