/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Storage kinds that are not a local file or block device: what a
 * `params` string names (xbb_target.c) and the small table of operations
 * a kind implements (xbb_store_rbd.c, xbb_store_nbd.c).  The local path
 * has no table (so_ops NULL) and stays on the ring's io_uring exactly as
 * before, so it pays nothing for the others.
 *
 * A kind keeps one queue (struct xbb_sq) per ring, used only by that
 * ring's I/O thread.  Its completions come back inside the ring's loop:
 * the kind names a file descriptor to watch (an eventfd, a socket) which
 * the ring polls through its io_uring like the event channel, and a
 * tick every 250 ms when it has something to time out or retry; the
 * ring then calls sk_reap, which hands each finished operation to the
 * same completion handler io_uring's do.
 */

#ifndef XBD_XBB_STORE_KIND_H
#define XBD_XBB_STORE_KIND_H

#include <sys/uio.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xbb_store;
struct xbb_store_cfg;
struct xbb_sq;

/* Completion callback: res is bytes moved, 0, or a negative errno. */
typedef void xbb_io_done_fn(void *arg, uint64_t tag, int res);

/* What a `params` string names. */
enum xbb_kind {
	XBB_KIND_PATH = 0, /* a file or block device */
	XBB_KIND_RBD = 1,  /* rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER] */
	XBB_KIND_NBD = 2,  /* an NBD URI: nbd://HOST[:PORT]/[EXPORT],
			      or nbd+unix with ?socket=PATH */
};

/* Longest `params` a target may have (XBB_PARAMS_MAX). */
#define XBB_TARGET_MAX 1024

/* A parsed `params`; the strings point into tg_buf. */
struct xbb_target {
	enum xbb_kind tg_kind;	     /* which kind */
	const char *tg_params;	     /* the string as given */
	const char *tg_pool;	     /* rbd: pool */
	const char *tg_image;	     /* rbd: image */
	const char *tg_snap;	     /* rbd: snapshot, or NULL */
	const char *tg_conf;	     /* rbd: ceph.conf, or NULL (default) */
	const char *tg_id;	     /* rbd: client id, or NULL (admin) */
	char tg_buf[XBB_TARGET_MAX]; /* a copy cut into the fields */
};

/*
 * Parse params.  On failure msg says what is wrong, naming the string.
 * \return 0, -EINVAL (malformed, unknown option), -ENAMETOOLONG,
 *         -ENOTSUP (a kind this build lacks: "built without").
 */
int xbb_target_parse(const char *params, struct xbb_target *t, char *msg,
    size_t len);

/* One operation handed to a kind. */
enum xbb_sop_kind {
	XBB_SOP_READ = 0,
	XBB_SOP_WRITE = 1,
	XBB_SOP_FLUSH = 2,
	XBB_SOP_DISCARD = 3,
};

struct xbb_sop {
	enum xbb_sop_kind op_kind;  /* what */
	uint64_t op_off;	    /* byte offset */
	uint64_t op_len;	    /* bytes (data, discard) */
	const struct iovec *op_iov; /* the data (read, write) */
	uint32_t op_niov;	    /* its entries (1 if so_contig) */
	uint64_t op_tag;	    /* handed back at completion */
};

/* What the ring should watch for a kind's queue before it sleeps. */
struct xbb_swant {
	int sw_fd;	     /* readable: sk_reap(XBB_SQ_IN); -1: none */
	unsigned int sw_gen; /* changes with each new sw_fd, whose number
				may be the closed one's */
	bool sw_out;	     /* writable too: sk_reap(XBB_SQ_OUT) */
	bool sw_tick;	     /* a tick within a second: sk_reap(XBB_SQ_TICK) */
	bool sw_done;	     /* completions are waiting: sk_reap(0) at once */
};

/* Why sk_reap is called: a mask of these. */
enum xbb_sq_why {
	XBB_SQ_IN = 1,	 /* sw_fd is readable (or hung up) */
	XBB_SQ_OUT = 2,	 /* sw_fd is writable */
	XBB_SQ_TICK = 4, /* the tick sw_tick asked for */
};

/*
 * A kind.  sk_open fills the store (size, sector sizes, discard, flush,
 * read-only for a snapshot or a read-only server) and writes a message
 * naming the target to so_err when it fails.  sk_attach makes a ring's
 * queue for depth operations in flight, with everything the I/O path
 * needs allocated there.  sk_submit follows the project's rule: 0 and
 * the completion comes exactly once through sk_reap, or an error and it
 * never does.  sk_detach is called once nothing is in flight.
 */
struct xbb_store_ops {
	const char *sk_name;
	int (*sk_open)(struct xbb_store *so, const struct xbb_target *t,
	    const struct xbb_store_cfg *cfg);
	int (*sk_size)(struct xbb_store *so, uint64_t *bytes);
	int (*sk_attach)(struct xbb_store *so, unsigned int depth,
	    struct xbb_sq **out);
	void (*sk_detach)(struct xbb_sq *q);
	int (*sk_submit)(struct xbb_sq *q, const struct xbb_sop *op);
	void (*sk_want)(struct xbb_sq *q, struct xbb_swant *w);
	void (*sk_reap)(struct xbb_sq *q, unsigned int why, xbb_io_done_fn *fn,
	    void *arg);
	void (*sk_close)(struct xbb_store *so);
};

/* The kinds this build has (NULL when built without). */
extern const struct xbb_store_ops *const xbb_store_rbd;
extern const struct xbb_store_ops *const xbb_store_nbd;

/* CLOCK_MONOTONIC in milliseconds (xbb_resize.c). */
uint64_t xbb_now_ms(void);

/*
 * May a kind log another error line now?  At most one a second per
 * *last (a kind's errors come per request: a dead cluster would flood).
 */
bool xbb_store_log_due(_Atomic uint64_t *last);

/* A line in the backend's log from a kind (any thread). */
void xbb_store_log(const struct xbb_store *so, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* XBD_XBB_STORE_KIND_H */
