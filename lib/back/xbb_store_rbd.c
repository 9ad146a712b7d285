/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Ceph RBD storage through librbd: `params` is QEMU's spelling,
 * rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER] (xbb_target.c).
 *
 * The store joins the cluster once (rados_connect, with
 * client_mount_timeout set to the I/O timeout so that an unreachable
 * cluster is a clear error instead of a five-minute hang) and keeps one
 * image handle for the control thread: the size, which librbd refreshes
 * when `rbd resize` changes it, so xbb_resize.c follows it.  Each ring
 * opens its own handle and gives it an eventfd (rbd_set_image_notifi-
 * cation), which librbd writes when an operation completes; the ring
 * polls it through its io_uring, and rbd_poll_io_events hands back the
 * finished completions on the ring's thread (QEMU's block/rbd.c does
 * the same).  Reads and writes go as iovecs (rbd_aio_readv/_writev), so
 * nothing is bounced; flush is rbd_aio_flush, discard rbd_aio_discard.
 *
 * Our side allocates nothing per operation (slots are made at attach);
 * librbd's C API allocates its completion object per operation and
 * there is no way around that.  A snapshot is served read-only.  A
 * writable image gets one ring: two handles writing to one image would
 * pass its exclusive lock back and forth.  A failed operation is
 * BLKIF_RSP_ERROR with a line naming the image, at most one a second.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xbb_internal.h"

/* What we publish as the physical block: RBD objects are written in
   4 KiB pieces at least. */
#define XBB_RBD_PHYS 4096u

/* The store's part. */
struct xbb_rbd {
	rados_t rb_cluster;	    /* joined */
	rados_ioctx_t rb_io;	    /* the pool */
	rbd_image_t rb_img;	    /* the control thread's handle */
	char *rb_name;		    /* the image's name in the pool */
	char *rb_snap;		    /* the snapshot, or NULL */
	char *rb_params;	    /* for the log */
	struct xbb_store *rb_so;    /* for the log */
	_Atomic uint64_t rb_logged; /* when the last error line went */
};

/* One operation in flight. */
struct xbb_rslot {
	uint64_t rs_tag;	   /* handed back */
	enum xbb_sop_kind rs_kind; /* what it is */
	uint64_t rs_off;	   /* where (for the log) */
	uint64_t rs_len;	   /* bytes */
};

/* One ring's handle. */
struct xbb_sq {
	struct xbb_rbd *rq_rb;	    /* the store */
	rbd_image_t rq_img;	    /* this ring's handle */
	int rq_efd;		    /* librbd's completion eventfd */
	unsigned int rq_depth;	    /* slots */
	struct xbb_rslot *rq_slots; /* rq_depth */
	unsigned int *rq_free;	    /* free slot indexes (a stack) */
	unsigned int rq_nfree;	    /* entries in rq_free */
	rbd_completion_t *rq_comps; /* rbd_poll_io_events' array */
	uint64_t rq_efdbuf;	    /* eventfd read target */
};

static const char *
xbb_rbd_opname(enum xbb_sop_kind k)
{
	static const char *const names[] = { "read", "write", "flush",
		"discard" };

	return (names[k]);
}

/* A failed operation: one line a second at most per image. */
static void
xbb_rbd_log_err(struct xbb_rbd *rb, const struct xbb_rslot *s, int err)
{
	if (!xbb_store_log_due(&rb->rb_logged))
		return;
	xbb_store_log(rb->rb_so, "%s: %s of %llu bytes at %llu: %s",
	    rb->rb_params, xbb_rbd_opname(s->rs_kind),
	    (unsigned long long)s->rs_len, (unsigned long long)s->rs_off,
	    strerror(-err));
}

static int
xbb_rbd_submit(struct xbb_sq *q, const struct xbb_sop *op)
{
	struct xbb_rslot *s;
	rbd_completion_t c;
	int rc;

	XU_ASSERT(q->rq_nfree > 0, ("rbd queue over depth %u", q->rq_depth));
	s = &q->rq_slots[q->rq_free[q->rq_nfree - 1]];
	if ((rc = rbd_aio_create_completion(s, NULL, &c)) != 0)
		return (rc);
	s->rs_tag = op->op_tag;
	s->rs_kind = op->op_kind;
	s->rs_off = op->op_off;
	s->rs_len = op->op_len;
	switch (op->op_kind) {
	case XBB_SOP_READ:
		rc = rbd_aio_readv(q->rq_img, op->op_iov, (int)op->op_niov,
		    op->op_off, c);
		break;
	case XBB_SOP_WRITE:
		rc = rbd_aio_writev(q->rq_img, op->op_iov, (int)op->op_niov,
		    op->op_off, c);
		break;
	case XBB_SOP_FLUSH:
		rc = rbd_aio_flush(q->rq_img, c);
		break;
	case XBB_SOP_DISCARD:
		rc = rbd_aio_discard(q->rq_img, op->op_off, op->op_len, c);
		break;
	}
	if (rc < 0) {
		rbd_aio_release(c);
		xbb_rbd_log_err(q->rq_rb, s, rc);
		return (rc);
	}
	q->rq_nfree--;
	return (0);
}

static void
xbb_rbd_want(struct xbb_sq *q, struct xbb_swant *w)
{
	w->sw_fd = q->rq_efd;
	w->sw_gen = 0;
	w->sw_out = false;
	w->sw_tick = false;
	w->sw_done = false;
}

static void
xbb_rbd_reap(struct xbb_sq *q, unsigned int why, xbb_io_done_fn *fn, void *arg)
{
	struct xbb_rslot *s;
	ssize_t r;
	int n, i, res;

	if ((why & XBB_SQ_IN) == 0)
		return;
	/* Reset first: a completion after the read writes it again. */
	if (read(q->rq_efd, &q->rq_efdbuf, sizeof(q->rq_efdbuf)) < 0) {
		/* EAGAIN: nothing new; the poll below finds nothing. */
	}
	do {
		n = rbd_poll_io_events(q->rq_img, q->rq_comps,
		    (int)q->rq_depth);
		for (i = 0; i < n; i++) {
			s = rbd_aio_get_arg(q->rq_comps[i]);
			r = rbd_aio_get_return_value(q->rq_comps[i]);
			rbd_aio_release(q->rq_comps[i]);
			q->rq_free[q->rq_nfree++] =
			    (unsigned int)(s - q->rq_slots);
			if (r < 0)
				xbb_rbd_log_err(q->rq_rb, s, (int)r);
			res = r < 0 ? (int)r :
			    s->rs_kind == XBB_SOP_READ ||
				s->rs_kind == XBB_SOP_WRITE ?
				      (int)s->rs_len :
				      0;
			fn(arg, s->rs_tag, res);
		}
	} while (n == (int)q->rq_depth);
}

static void
xbb_rbd_detach(struct xbb_sq *q)
{
	/* Nothing is in flight any more. */
	if (q->rq_img != NULL)
		rbd_close(q->rq_img);
	if (q->rq_efd >= 0)
		close(q->rq_efd);
	free(q->rq_slots);
	free(q->rq_free);
	free(q->rq_comps);
	free(q);
}

/* This ring's own handle, read-only where the store is. */
static int
xbb_rbd_open_img(struct xbb_rbd *rb, bool ro, rbd_image_t *img)
{
	if (ro)
		return (rbd_open_read_only(rb->rb_io, rb->rb_name, img,
		    rb->rb_snap));
	return (rbd_open(rb->rb_io, rb->rb_name, img, NULL));
}

static int
xbb_rbd_attach(struct xbb_store *so, unsigned int depth, struct xbb_sq **out)
{
	struct xbb_rbd *rb = so->so_priv;
	struct xbb_sq *q;
	unsigned int i;
	int rc;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return (-ENOMEM);
	q->rq_rb = rb;
	q->rq_depth = depth;
	q->rq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->rq_slots = calloc(depth, sizeof(*q->rq_slots));
	q->rq_free = calloc(depth, sizeof(*q->rq_free));
	q->rq_comps = calloc(depth, sizeof(*q->rq_comps));
	if (q->rq_efd < 0 || q->rq_slots == NULL || q->rq_free == NULL ||
	    q->rq_comps == NULL) {
		rc = q->rq_efd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	for (i = 0; i < depth; i++)
		q->rq_free[i] = i;
	q->rq_nfree = depth;
	if ((rc = xbb_rbd_open_img(rb, so->so_readonly, &q->rq_img)) != 0 ||
	    (rc = rbd_set_image_notification(q->rq_img, q->rq_efd,
		 EVENT_TYPE_EVENTFD)) != 0) {
		xbb_store_log(so, "%s: opening the image for a ring: %s",
		    rb->rb_params, strerror(-rc));
		goto fail;
	}
	*out = q;
	return (0);
fail:
	xbb_rbd_detach(q);
	return (rc);
}

/* ---------------------------------------------------------------------
 * Opening: the cluster, the pool, the image
 */

static int xbb_rbd_err(struct xbb_store *so, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
xbb_rbd_err(struct xbb_store *so, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(so->so_err, sizeof(so->so_err), fmt, ap);
	va_end(ap);
	return (rc);
}

static int
xbb_rbd_join(struct xbb_store *so, struct xbb_rbd *rb,
    const struct xbb_target *t, unsigned int timeout_s)
{
	char secs[16];
	int rc;

	if ((rc = rados_create(&rb->rb_cluster, t->tg_id)) != 0)
		return (xbb_rbd_err(so, rc, "%s: rados_create: %s",
		    t->tg_params, strerror(-rc)));
	if ((rc = rados_conf_read_file(rb->rb_cluster, t->tg_conf)) != 0)
		return (xbb_rbd_err(so, rc, "%s: cannot read %s: %s",
		    t->tg_params,
		    t->tg_conf != NULL ? t->tg_conf : "the default ceph.conf",
		    strerror(-rc)));
	snprintf(secs, sizeof(secs), "%u", timeout_s);
	(void)rados_conf_set(rb->rb_cluster, "client_mount_timeout", secs);
	if ((rc = rados_connect(rb->rb_cluster)) != 0)
		return (xbb_rbd_err(so, rc,
		    "%s: cannot join the cluster of %s as client.%s: %s",
		    t->tg_params,
		    t->tg_conf != NULL ? t->tg_conf : "the default ceph.conf",
		    t->tg_id != NULL ? t->tg_id : "admin", strerror(-rc)));
	if ((rc = rados_ioctx_create(rb->rb_cluster, t->tg_pool, &rb->rb_io)) !=
	    0)
		return (xbb_rbd_err(so, rc, "%s: pool '%s': %s", t->tg_params,
		    t->tg_pool,
		    rc == -ENOENT ? "no such pool" : strerror(-rc)));
	return (0);
}

static int
xbb_rbd_image(struct xbb_store *so, struct xbb_rbd *rb,
    const struct xbb_target *t)
{
	uint64_t size;
	int rc;

	/*
	 * A snapshot never takes writes; HEAD is read-only if asked.  The
	 * control thread's handle of HEAD is opened read-write although it
	 * never writes: librbd watches the header of such handles only, and
	 * without the watch the size never follows `rbd resize`.  A user
	 * that may only read still gets a handle (sized once).
	 */
	if (t->tg_snap != NULL)
		so->so_readonly = true;
	rc = t->tg_snap != NULL ?
	    -EROFS :
	    rbd_open(rb->rb_io, t->tg_image, &rb->rb_img, NULL);
	if (rc != 0 && rc != -ENOENT)
		rc = rbd_open_read_only(rb->rb_io, t->tg_image, &rb->rb_img,
		    t->tg_snap);
	if (rc != 0)
		return (xbb_rbd_err(so, rc, "%s: %s", t->tg_params,
		    rc != -ENOENT	   ? strerror(-rc) :
			t->tg_snap != NULL ? "no such image or snapshot" :
					     "no such image in the pool"));
	if ((rc = rbd_get_size(rb->rb_img, &size)) != 0)
		return (xbb_rbd_err(so, rc, "%s: size: %s", t->tg_params,
		    strerror(-rc)));
	so->so_sector_size = XBD_SECTOR_SIZE;
	so->so_phys_size = XBB_RBD_PHYS;
	so->so_cut = (uint32_t)(size % XBD_SECTOR_SIZE);
	so->so_bytes = size - so->so_cut;
	if (so->so_bytes == 0)
		return (xbb_rbd_err(so, -EINVAL, "%s: the image is empty",
		    t->tg_params));
	so->so_flush = true;
	so->so_discard = true;
	so->so_discard_gran = XBB_RBD_PHYS;
	if (!so->so_readonly)
		so->so_max_rings = 1;
	return (0);
}

static void
xbb_rbd_free(struct xbb_rbd *rb)
{
	if (rb->rb_img != NULL)
		rbd_close(rb->rb_img);
	if (rb->rb_io != NULL)
		rados_ioctx_destroy(rb->rb_io);
	if (rb->rb_cluster != NULL)
		rados_shutdown(rb->rb_cluster);
	free(rb->rb_name);
	free(rb->rb_snap);
	free(rb->rb_params);
	free(rb);
}

static int
xbb_rbd_open(struct xbb_store *so, const struct xbb_target *t,
    const struct xbb_store_cfg *cfg)
{
	struct xbb_rbd *rb;
	int rc;

	if ((rb = calloc(1, sizeof(*rb))) == NULL ||
	    (rb->rb_name = strdup(t->tg_image)) == NULL ||
	    (rb->rb_params = strdup(t->tg_params)) == NULL ||
	    (t->tg_snap != NULL &&
		(rb->rb_snap = strdup(t->tg_snap)) == NULL)) {
		if (rb != NULL)
			xbb_rbd_free(rb);
		return (-ENOMEM);
	}
	rb->rb_so = so;
	if ((rc = xbb_rbd_join(so, rb, t, cfg->sc_timeout_s)) != 0 ||
	    (rc = xbb_rbd_image(so, rb, t)) != 0) {
		xbb_rbd_free(rb);
		return (rc);
	}
	so->so_priv = rb;
	return (0);
}

static int
xbb_rbd_size(struct xbb_store *so, uint64_t *bytes)
{
	struct xbb_rbd *rb = so->so_priv;
	uint64_t size;
	int rc;

	if ((rc = rbd_get_size(rb->rb_img, &size)) != 0)
		return (rc);
	*bytes = size - size % so->so_sector_size;
	return (0);
}

static void
xbb_rbd_close(struct xbb_store *so)
{
	xbb_rbd_free(so->so_priv);
}

static const struct xbb_store_ops xbb_rbd_ops = {
	.sk_name = "rbd",
	.sk_open = xbb_rbd_open,
	.sk_size = xbb_rbd_size,
	.sk_attach = xbb_rbd_attach,
	.sk_detach = xbb_rbd_detach,
	.sk_submit = xbb_rbd_submit,
	.sk_want = xbb_rbd_want,
	.sk_reap = xbb_rbd_reap,
	.sk_close = xbb_rbd_close,
};

const struct xbb_store_ops *const xbb_store_rbd = &xbb_rbd_ops;
