/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd: a Xen paravirtual block frontend as a userspace library.
 *
 * The driver follows FreeBSD's xbd (sys/dev/xen/blkfront): a pool of
 * commands moving between typed queues, a counted queue freeze for
 * resource shortages and ordering, negotiation of multi-page rings and
 * indirect segments, flush and barrier with single-step emulation,
 * suspend and resume.  It adds what Linux learned since: it treats the
 * backend as hostile (responses copied and validated, grants revoked
 * atomically, bounce buffers for untrusted backends), discard,
 * persistent grants, multi-queue and online resize.
 *
 * Conventions:
 *  - Every function returns 0 or a negative errno unless stated.
 *  - Asynchronous I/O: if xbd_submit() returns an error the completion
 *    is never called; if it returns 0, bio_done is called exactly once,
 *    on every path, including detach (-ENXIO) and a backend that
 *    misbehaves (-EIO).  Completions run on the device's event thread
 *    with no library lock held; they may submit more I/O.
 *  - All functions are thread-safe, except that nothing may be called on
 *    a device once xbd_detach() has started.
 *  - Offsets and lengths are bytes and must be multiples of the disk's
 *    logical sector size (xbd_info.xi_sector_size); buffers must be
 *    512-byte aligned.
 */

#ifndef XBD_XBD_H
#define XBD_XBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XBD_API __attribute__((visibility("default")))

struct xbd_dev;
struct xbd_plat;

/* ---------------------------------------------------------------------
 * Platforms
 */

/*
 * A domain of a simulated machine started with `xbd hv --dir DIR`: it is
 * created (or attached to, when attach is true) and lives until
 * xbd_plat_close().
 */
XBD_API int xbd_plat_open_sim(const char *dir, uint32_t domid, bool attach,
    struct xbd_plat **out);

/*
 * The domain this process runs in, on real Xen: grants through
 * /dev/xen/gntalloc, mappings through /dev/xen/gntdev, event channels
 * through /dev/xen/evtchn, XenStore through xenstored's socket or
 * /dev/xen/xenbus.
 * \return 0, -ENODEV (not on Xen, or the xen-gntalloc, xen-gntdev or
 *         xen-evtchn modules are not loaded), -ENOTSUP (built without
 *         libxen-dev), -EACCES (the devices need root).
 */
XBD_API int xbd_plat_open_xen(struct xbd_plat **out);

/*
 * fn(dir, arg) is called once, on a thread of the library, when the
 * `xbd hv` daemon of a platform from xbd_plat_open_sim() is gone.  The
 * shared memory stays mapped, so I/O in flight is simply never answered
 * after that: a process usually reports it and exits.  No effect on
 * other platforms.
 */
XBD_API void xbd_plat_on_lost(struct xbd_plat *p,
    void (*fn)(const char *dir, void *arg), void *arg);

/* Close a platform; every device attached through it must be detached. */
XBD_API void xbd_plat_close(struct xbd_plat *p);

/* ---------------------------------------------------------------------
 * Devices
 */

/* Device-wide events reported through xbd_opts.o_event. */
enum xbd_event {
	XBD_EV_CONNECTED = 1, /* connected (again, after resume) */
	XBD_EV_RESIZED = 2,   /* the backend changed the size */
	XBD_EV_GONE = 3,      /* the backend is closing the device */
	XBD_EV_ERROR = 4,     /* the backend broke the protocol, or never
				 came back: I/O fails */
	XBD_EV_LOST = 5,      /* the backend went away: I/O is held while
				 it has o_recovery_timeout_ms to return */
};

/* Per-device parameters; xbd_opts_init() gives the defaults. */
struct xbd_opts {
	size_t o_size;			/* sizeof(struct xbd_opts) */
	unsigned int o_max_ring_pages;	/* ring pages we accept (power of
					   two, <= 32; default 32) */
	unsigned int o_max_queues;	/* rings (multi-queue; default 1) */
	bool o_enable_indirect;		/* use indirect segments when offered
					   (FreeBSD's hw.xbd.xbd_enable_indirect;
					   default true) */
	uint32_t o_max_request_size;	/* largest single request in bytes
					   (FreeBSD's maxphys; default 1 MiB) */
	bool o_persistent;		/* offer feature-persistent (default
					   true) */
	int o_bounce;			/* -1: bounce only when the toolstack
					   marked the backend untrusted
					   (default); 0: never; 1: always.
					   Data outside xbd_buf_alloc memory
					   is bounced whenever grants are
					   persistent */
	uint32_t o_bounce_pages;	/* pages of the bounce pool (0: sized
					   from the ring) */
	uint32_t o_connect_timeout_ms;	/* xbd_attach waits this long for the
					   backend (default 30 s) */
	uint32_t o_suspend_timeout_ms;	/* drain limit of xbd_suspend
					   (default 30 s, as FreeBSD) */
	uint32_t o_recovery_timeout_ms; /* a backend that disappears while
					   connected has this long to come
					   back before held I/O fails with
					   EIO (default 30 s; 0: fail at
					   once) */
	void (*o_event)(struct xbd_dev *, enum xbd_event, void *);
	void *o_event_arg;	/* passed to o_event */
	uint32_t o_vbd_wait_ms; /* xbd_attach waits this long for a vbd
				   that does not exist yet (default 0) */
	const char *o_holder;	/* who holds the vbd, shown to a second
				   frontend it refuses (default: the
				   program's name) */
};

/*
 * The o_vbd_wait_ms of the xbd tools (`xbd attach`, `xbd bench --dir`,
 * the nbdkit plugin's dir=): joining a machine may be what makes the
 * toolstack create the vbd, a moment later.
 */
#define XBD_TOOL_VBD_WAIT_MS 3000

XBD_API void xbd_opts_init(struct xbd_opts *o);

/*
 * Attach to a vbd of the platform's domain and wait until it is
 * connected.  vbd is a name ("xvda", "xvdb"), a virtual-device number
 * ("51712") or a device directory ("device/vbd/51712",
 * "/local/domain/1/device/vbd/51712").  o may be NULL for defaults.
 * One frontend holds a vbd at a time: attach takes an exclusive flock
 * on DIR/hold/<domid>.<vdev> (simulator) or /run/xbd/<domid>.<vdev>
 * (Xen) until detach, and fails with -EBUSY while another process holds
 * it; xbd_plat_why() then names the holder.
 * \return 0, -ENOENT (no such vbd), -EBUSY (held by another frontend),
 *         -ETIMEDOUT (backend never connected), -EPROTO (backend
 *         published invalid parameters), -ENOMEM, or an error from the
 *         platform.
 */
XBD_API int xbd_attach(struct xbd_plat *p, const char *vbd,
    const struct xbd_opts *o, struct xbd_dev **out);

/*
 * Why the last xbd_attach on p failed, in words, when the error code
 * alone does not say it (e.g. "xvda of domain 2 is held by pid 1234
 * (xbd attach)"); "" otherwise.
 */
XBD_API const char *xbd_plat_why(const struct xbd_plat *p);

/*
 * Is vbd (a name or a number) of domain domid of the machine on dir held
 * by a frontend?  For a process that must refuse before it forks and
 * starts threads (the nbdkit plugin); xbd_attach checks again.
 * \return 0 (free now, or not known) or -EBUSY (why names the holder).
 */
XBD_API int xbd_sim_held(const char *dir, uint32_t domid, const char *vbd,
    char *why, size_t len);

/*
 * Close the device towards the backend (Closing, then Closed), wait for
 * I/O in flight, fail queued I/O with -ENXIO, and free everything.
 */
XBD_API void xbd_detach(struct xbd_dev *dev);

/*
 * Count an open (FreeBSD's d_open): while a device is open, a backend
 * that starts closing it only orphans it (I/O fails with -ENXIO); the
 * frontend finishes closing at the last xbd_close().
 */
XBD_API int xbd_open(struct xbd_dev *dev);
XBD_API void xbd_close(struct xbd_dev *dev);

/* ---------------------------------------------------------------------
 * I/O
 */

enum xbd_cmd {
	XBD_CMD_READ = 0,
	XBD_CMD_WRITE = 1,
	XBD_CMD_FLUSH = 2,   /* make completed writes durable */
	XBD_CMD_DISCARD = 3, /* bio_flags XBD_BIO_SECURE for secure erase */
};

enum xbd_bio_flags {
	XBD_BIO_ORDERED = 1u << 0, /* a write barrier: earlier I/O completes
				      first, later I/O starts after */
	XBD_BIO_SECURE = 1u << 1,  /* secure discard */
};

/*
 * One I/O, owned by the caller from xbd_submit() until bio_done.  The
 * private words are the library's (queue linkage, split accounting), so
 * no allocation happens per I/O.
 */
struct xbd_bio {
	enum xbd_cmd bio_cmd;	/* what to do */
	unsigned int bio_flags; /* enum xbd_bio_flags */
	uint64_t bio_offset;	/* byte offset on the disk */
	uint64_t bio_length;	/* bytes (0 for a flush) */
	void *bio_data;		/* buffer for read/write */
	void (*bio_done)(struct xbd_bio *bio, int error); /* completion */
	void *bio_caller;				  /* for the caller */
	uint64_t bio_private[10];			  /* the library's */
};

/*
 * Queue an I/O.
 * \return 0 (bio_done will be called), -EINVAL (bad range, alignment,
 *         command), -EROFS (write or discard to a read-only disk),
 *         -ENXIO (device closing or detached), -EIO (device in error).
 */
XBD_API int xbd_submit(struct xbd_dev *dev, struct xbd_bio *bio);

/* Synchronous helpers: submit and wait. */
XBD_API int xbd_read(struct xbd_dev *dev, void *buf, uint64_t off,
    uint64_t len);
XBD_API int xbd_write(struct xbd_dev *dev, const void *buf, uint64_t off,
    uint64_t len);
XBD_API int xbd_write_ordered(struct xbd_dev *dev, const void *buf,
    uint64_t off, uint64_t len);
XBD_API int xbd_flush(struct xbd_dev *dev);
XBD_API int xbd_discard(struct xbd_dev *dev, uint64_t off, uint64_t len,
    bool secure);

/*
 * Memory the backend can reach without a copy: a bio whose buffer lies
 * in it is granted in place (unless bouncing is on).  Page-aligned,
 * zeroed.  Returns NULL when the pool is exhausted.
 */
XBD_API void *xbd_buf_alloc(struct xbd_dev *dev, size_t len);
XBD_API void xbd_buf_free(struct xbd_dev *dev, void *buf, size_t len);

/* ---------------------------------------------------------------------
 * Suspend and resume (FreeBSD semantics)
 */

/*
 * Give up waiting for a lost backend (XBD_EV_LOST) now rather than at
 * the end of o_recovery_timeout_ms: the held I/O fails with -EIO and
 * the device is in error (XBD_EV_ERROR), as when the time runs out.
 * For a caller that is being interrupted.  No effect in other states.
 */
XBD_API void xbd_recovery_abandon(struct xbd_dev *dev);

/*
 * Stop dispatching and wait until no request is in flight.
 * \return 0, or -EBUSY when I/O did not drain within
 *         o_suspend_timeout_ms (the suspend is cancelled).
 */
XBD_API int xbd_suspend(struct xbd_dev *dev);

/*
 * Resume after xbd_suspend().  When the suspend was cancelled (the domain
 * kept running where it was), dispatch simply resumes.  Otherwise the
 * transport is torn down and rebuilt against the backend the toolstack
 * names now (the same or a new one), waiting up to
 * o_connect_timeout_ms, and queued I/O is reissued.
 * \return 0, -EINVAL (not suspended), -ETIMEDOUT, or a connect error.
 */
XBD_API int xbd_resume(struct xbd_dev *dev, bool cancelled);

/* ---------------------------------------------------------------------
 * Geometry, parameters, statistics
 */

enum xbd_features {
	XBD_FEAT_FLUSH = 1u << 0,
	XBD_FEAT_BARRIER = 1u << 1,
	XBD_FEAT_DISCARD = 1u << 2,
	XBD_FEAT_SECURE_DISCARD = 1u << 3,
	XBD_FEAT_PERSISTENT = 1u << 4,
	XBD_FEAT_INDIRECT = 1u << 5,
	XBD_FEAT_READONLY = 1u << 6,
	XBD_FEAT_CDROM = 1u << 7,
	XBD_FEAT_REMOVABLE = 1u << 8,
	XBD_FEAT_BOUNCE = 1u << 9,
};

/* What was negotiated: FreeBSD's dev.xbd.N sysctl tree and more. */
struct xbd_info {
	char xi_name[16];		       /* "xbd0", "ada1", "da2" */
	uint32_t xi_vdevice;		       /* virtual-device number */
	uint32_t xi_backend_id;		       /* backend domain */
	char xi_backend[256];		       /* backend directory */
	uint64_t xi_sectors;		       /* size in 512-byte sectors */
	uint64_t xi_size;		       /* size in bytes */
	uint32_t xi_sector_size;	       /* logical block size */
	uint32_t xi_physical_sector_size;      /* physical block size */
	uint32_t xi_info;		       /* VDISK_* flags */
	uint32_t xi_features;		       /* enum xbd_features */
	uint32_t xi_ring_pages;		       /* pages per ring */
	uint32_t xi_queues;		       /* rings */
	uint32_t xi_max_requests;	       /* commands per ring */
	uint32_t xi_max_request_segments;      /* segments per request */
	uint32_t xi_max_request_size;	       /* bytes per request */
	uint32_t xi_max_request_indirectpages; /* indirect pages per request */
	uint32_t xi_discard_granularity;       /* bytes */
	uint32_t xi_discard_alignment;	       /* bytes */
	int xi_state;			       /* 0 disconnected, 1 connected,
						  2 suspended, 3 error, 4 gone */
};

/* The queues of a device, indexed like FreeBSD's xbd_q_index_t. */
enum xbd_q_stat {
	XBD_QSTAT_FREE = 0,
	XBD_QSTAT_READY = 1,
	XBD_QSTAT_BUSY = 2,
	XBD_QSTAT_COMPLETE = 3,
	XBD_QSTAT_BIO = 4,
	XBD_QSTAT_COUNT = 5,
};

/* Counters; size-versioned: only ever grows at the end. */
struct xbd_stats {
	uint32_t xst_q_length[XBD_QSTAT_COUNT]; /* current queue lengths */
	uint32_t xst_q_max[XBD_QSTAT_COUNT];	/* their maxima */
	uint32_t xst_frozen;			/* current freeze count */
	uint64_t xst_cm_shortage;     /* freezes for no free command */
	uint64_t xst_gnt_shortage;    /* freezes for no grant/bounce */
	uint64_t xst_wait_idle;	      /* freezes waiting for idle */
	uint64_t xst_single_step;     /* single-stepped commands */
	uint64_t xst_bios;	      /* bios submitted */
	uint64_t xst_splits;	      /* extra requests from splits */
	uint64_t xst_requests[7];     /* ring requests by BLKIF_OP */
	uint64_t xst_indirect;	      /* requests sent indirect */
	uint64_t xst_segments;	      /* data segments sent */
	uint64_t xst_bytes_read;      /* bytes read */
	uint64_t xst_bytes_written;   /* bytes written */
	uint64_t xst_responses;	      /* responses consumed */
	uint64_t xst_errors;	      /* bios failed */
	uint64_t xst_eopnotsupp;      /* EOPNOTSUPP responses */
	uint64_t xst_protocol_errors; /* backend protocol violations */
	uint64_t xst_grant_busy;      /* grants still mapped at
				 completion (XSA-396) */
	uint64_t xst_notify;	      /* notifications sent */
	uint64_t xst_events;	      /* notifications received */
	uint64_t xst_bounce_bytes;    /* bytes copied to/from bounce */
	uint64_t xst_grants;	      /* per-request grants made */
	uint64_t xst_resizes;	      /* online resizes seen */
	uint64_t xst_reconnects;      /* resumes/reconnects */
	uint64_t xst_recoveries;      /* backends lost while connected */
	uint64_t xst_reissued;	      /* bios sent again after one */
	uint64_t xst_events_spurious; /* notifications with no response */
	uint64_t xst_eoi_delayed;     /* of which left masked for a while
					(storm throttling, XSA-391) */
};

XBD_API void xbd_get_info(struct xbd_dev *dev, struct xbd_info *info);
XBD_API void xbd_get_stats(struct xbd_dev *dev, struct xbd_stats *st,
    size_t st_size);

/* xbd_describe output formats. */
enum xbd_fmt {
	XBD_FMT_TEXT = 0, /* sysctl-like "name: value" lines */
	XBD_FMT_JSON = 1, /* one JSON object */
	XBD_FMT_LINE = 2, /* the one-line attach banner */
};

/*
 * Render the parameters and counters into buf.
 * \return the length written (without NUL), or -ENOSPC.
 */
XBD_API int xbd_describe(struct xbd_dev *dev, enum xbd_fmt fmt, char *buf,
    size_t len);

/*
 * FreeBSD's xbd_vdevice_to_unit: the disk name and unit a virtual-device
 * number maps to ("xbd", "ada" or "da").
 */
XBD_API void xbd_vdevice_to_unit(uint32_t vdevice, int *unit,
    const char **name);

#ifdef __cplusplus
}
#endif

#endif /* XBD_XBD_H */
