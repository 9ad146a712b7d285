/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NBD storage through libnbd: `params` is an NBD URI, nbd://HOST[:PORT]/
 * [EXPORT] or its nbd+unix form with ?socket=PATH (xbb_target.c).
 *
 * Each ring has its own connection, driven asynchronously from the
 * ring's I/O thread: the socket is polled through the ring's io_uring
 * (nbd_aio_get_fd and nbd_aio_get_direction), nbd_aio_notify_read and
 * _write move libnbd's state machine, and completion callbacks put
 * (tag, result) into a small ring the I/O thread then drains.  Every
 * operation has a slot allocated at attach, so the I/O path allocates
 * nothing of ours.  libnbd takes one buffer per command, so requests of
 * several segments are gathered into the ring's bounce pages
 * (so_contig).  Several connections see one another's writes after a
 * flush only if the server offers multi-conn (nbd_can_multi_conn); a
 * writable export without it gets one ring.
 *
 * What the server offers decides what is published: flush and barrier
 * only with nbd_can_flush, discard with nbd_can_trim, a read-only vbd
 * with nbd_is_read_only.
 *
 * A server that goes away: the commands its connection had are kept,
 * and the connection is made again (at most once a second, blocking the
 * ring's thread for as long as a connect takes); once connected they are
 * sent again.  A command that has waited sc_timeout_s for its answer,
 * connected or not, fails (BLKIF_RSP_ERROR) with one line in the log;
 * a server that holds a connection but stops answering is disconnected
 * then, so the commands after it find a fresh connection.  Writes are
 * sent again as they were: the frontend has no answer for them yet.
 */

#include <errno.h>
#include <libnbd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xbb_internal.h"

/* Reconnection attempts of a ring whose server went away, at most. */
#define XBB_NBD_RETRY_MS 1000
/* Largest minimum block size we publish as the sector size. */
#define XBB_NBD_MAX_BLOCK 4096u

/* The store's part: what every ring's connection needs. */
struct xbb_nbd {
	char *nb_uri;		    /* params */
	uint64_t nb_timeout_ms;	    /* sc_timeout_s */
	uint64_t nb_bytes;	    /* size when opened */
	_Atomic uint64_t nb_logged; /* when the last error line went */
	struct xbb_store *nb_so;    /* for the log */
};

enum xbb_nslot_state {
	XBB_NS_FREE = 0, /* on the free list */
	XBB_NS_SENT = 1, /* a command of the connection */
	XBB_NS_WAIT = 2, /* its connection was lost: send again */
};

/* One operation. */
struct xbb_nslot {
	struct xbb_sq *ns_q;	       /* its queue */
	enum xbb_nslot_state ns_state; /* where it is */
	struct xbb_sop ns_op;	       /* what to do, as submitted */
	uint64_t ns_t0;		       /* when it was submitted (ms) */
};

/* (tag, result) of a finished operation, until the ring takes it. */
struct xbb_ndone {
	uint64_t nd_tag;
	int nd_res;
};

/* One ring's connection. */
struct xbb_sq {
	struct xbb_nbd *nq_nb;	    /* the store */
	struct nbd_handle *nq_h;    /* NULL: disconnected */
	unsigned int nq_depth;	    /* slots */
	struct xbb_nslot *nq_slots; /* nq_depth slots */
	unsigned int *nq_free;	    /* free slot indexes (a stack) */
	unsigned int nq_nfree;	    /* entries in nq_free */
	struct xbb_ndone *nq_done;  /* finished, a ring of nq_depth */
	unsigned int nq_dhead;	    /* next to hand to the ring */
	unsigned int nq_dlen;	    /* entries waiting */
	unsigned int nq_busy;	    /* slots SENT or WAIT */
	bool nq_closing;	    /* nq_h is closed for a timeout */
	bool nq_down_logged;	    /* this outage was logged */
	unsigned int nq_timedout;   /* failed for time since the tick */
	unsigned int nq_gen;	    /* connections made (sw_gen) */
	uint64_t nq_retry_ms;	    /* next reconnection attempt */
};

static bool
xbb_nbd_lost(int err)
{
	return (err == ENOTCONN || err == ESHUTDOWN || err == ECONNRESET ||
	    err == EPIPE || err == ECONNABORTED);
}

static void
xbb_nbd_push(struct xbb_sq *q, uint64_t tag, int res)
{
	unsigned int i = (q->nq_dhead + q->nq_dlen) % q->nq_depth;

	XU_ASSERT(q->nq_dlen < q->nq_depth, ("nbd completions overflow"));
	q->nq_done[i].nd_tag = tag;
	q->nq_done[i].nd_res = res;
	q->nq_dlen++;
}

static void
xbb_nbd_put(struct xbb_sq *q, struct xbb_nslot *s)
{
	s->ns_state = XBB_NS_FREE;
	q->nq_free[q->nq_nfree++] = (unsigned int)(s - q->nq_slots);
	q->nq_busy--;
}

static bool
xbb_nbd_expired(const struct xbb_sq *q, const struct xbb_nslot *s, uint64_t now)
{
	return (now - s->ns_t0 >= q->nq_nb->nb_timeout_ms);
}

/* The server refused an operation: one line a second at most. */
static void
xbb_nbd_log_err(struct xbb_sq *q, const struct xbb_nslot *s, int err)
{
	static const char *const names[] = { "read", "write", "flush",
		"discard" };

	if (xbb_store_log_due(&q->nq_nb->nb_logged))
		xbb_store_log(q->nq_nb->nb_so,
		    "%s: %s of %llu bytes at %llu: %s", q->nq_nb->nb_uri,
		    names[s->ns_op.op_kind],
		    (unsigned long long)s->ns_op.op_len,
		    (unsigned long long)s->ns_op.op_off, strerror(err));
}

/*
 * libnbd's completion callback, called exactly once per command (from
 * notify, a failed submission or nbd_close), on the ring's thread.  A
 * command its connection took down with it waits for the next one,
 * unless it is closed for being too old.
 */
static int
xbb_nbd_done(void *arg, int *error)
{
	struct xbb_nslot *s = arg;
	struct xbb_sq *q = s->ns_q;
	int res;

	if (*error != 0 && xbb_nbd_lost(*error) &&
	    (!q->nq_closing || !xbb_nbd_expired(q, s, xbb_now_ms()))) {
		s->ns_state = XBB_NS_WAIT;
		return (1);
	}
	if (*error != 0 && q->nq_closing && xbb_nbd_lost(*error)) {
		res = -ETIMEDOUT;
		q->nq_timedout++;
	} else if (*error != 0) {
		res = -*error;
		xbb_nbd_log_err(q, s, *error);
	} else
		res = s->ns_op.op_kind == XBB_SOP_READ ||
			s->ns_op.op_kind == XBB_SOP_WRITE ?
		    (int)s->ns_op.op_len :
		    0;
	xbb_nbd_push(q, s->ns_op.op_tag, res);
	xbb_nbd_put(q, s);
	return (1);
}

/* Send a slot's command on the connection.  \return 0 or -errno. */
static int
xbb_nbd_send(struct xbb_sq *q, struct xbb_nslot *s)
{
	nbd_completion_callback cb = { .callback = xbb_nbd_done,
		.user_data = s };
	const struct xbb_sop *op = &s->ns_op;
	int64_t rc = -1;

	s->ns_state = XBB_NS_SENT;
	switch (op->op_kind) {
	case XBB_SOP_READ:
		rc = nbd_aio_pread(q->nq_h, op->op_iov[0].iov_base, op->op_len,
		    op->op_off, cb, 0);
		break;
	case XBB_SOP_WRITE:
		rc = nbd_aio_pwrite(q->nq_h, op->op_iov[0].iov_base, op->op_len,
		    op->op_off, cb, 0);
		break;
	case XBB_SOP_FLUSH:
		rc = nbd_aio_flush(q->nq_h, cb, 0);
		break;
	case XBB_SOP_DISCARD:
		rc = nbd_aio_trim(q->nq_h, op->op_len, op->op_off, cb, 0);
		break;
	}
	if (rc >= 0)
		return (0);
	/* Refused before sending: the callback was not called. */
	return (nbd_get_errno() != 0 ? -nbd_get_errno() : -EIO);
}

static int
xbb_nbd_connect(const char *uri, struct nbd_handle **out)
{
	struct nbd_handle *h;
	int err;

	if ((h = nbd_create()) == NULL)
		return (-ENOMEM);
	if (nbd_connect_uri(h, uri) != 0) {
		err = nbd_get_errno();
		nbd_close(h);
		return (err != 0 ? -err : -ECONNREFUSED);
	}
	*out = h;
	return (0);
}

/* ---------------------------------------------------------------------
 * Losing and finding the server
 */

/*
 * Close the connection; its commands wait or (timeout) fail.  A dead
 * connection has called their callbacks; nbd_close of a live one does
 * not (libnbd 1.14 only frees them), so what is still sent is swept.
 */
static void
xbb_nbd_drop(struct xbb_sq *q, bool timeout)
{
	uint64_t now = xbb_now_ms();
	struct xbb_nslot *s;
	unsigned int i;

	q->nq_closing = timeout;
	nbd_close(q->nq_h);
	q->nq_h = NULL;
	for (i = 0; i < q->nq_depth; i++) {
		s = &q->nq_slots[i];
		if (s->ns_state != XBB_NS_SENT)
			continue;
		s->ns_state = XBB_NS_WAIT;
		if (timeout && xbb_nbd_expired(q, s, now)) {
			xbb_nbd_push(q, s->ns_op.op_tag, -ETIMEDOUT);
			xbb_nbd_put(q, s);
			q->nq_timedout++;
		}
	}
	q->nq_closing = false;
	q->nq_retry_ms = now;
}

/* The connection died: log once per outage, keep the commands. */
static void
xbb_nbd_died(struct xbb_sq *q, const char *why)
{
	if (!q->nq_down_logged)
		xbb_store_log(q->nq_nb->nb_so,
		    "%s: connection lost (%s); reconnecting", q->nq_nb->nb_uri,
		    why != NULL ? why : "closed by the server");
	q->nq_down_logged = true;
	xbb_nbd_drop(q, false);
}

/* Fail what waited too long for a connection. */
static void
xbb_nbd_expire(struct xbb_sq *q, uint64_t now)
{
	struct xbb_nslot *s;
	unsigned int i;

	for (i = 0; i < q->nq_depth; i++) {
		s = &q->nq_slots[i];
		if (s->ns_state == XBB_NS_WAIT && xbb_nbd_expired(q, s, now)) {
			xbb_nbd_push(q, s->ns_op.op_tag, -ETIMEDOUT);
			xbb_nbd_put(q, s);
			q->nq_timedout++;
		}
	}
}

/* A command sent and unanswered for too long? */
static bool
xbb_nbd_stuck(const struct xbb_sq *q, uint64_t now)
{
	unsigned int i;

	for (i = 0; i < q->nq_depth; i++)
		if (q->nq_slots[i].ns_state == XBB_NS_SENT &&
		    xbb_nbd_expired(q, &q->nq_slots[i], now))
			return (true);
	return (false);
}

/* Connect again and send what waited. */
static void
xbb_nbd_reconnect(struct xbb_sq *q, uint64_t now)
{
	struct xbb_nslot *s;
	unsigned int i;
	int rc;

	if (now < q->nq_retry_ms + XBB_NBD_RETRY_MS)
		return;
	q->nq_retry_ms = now;
	if (xbb_nbd_connect(q->nq_nb->nb_uri, &q->nq_h) != 0)
		return;
	q->nq_gen++;
	xbb_store_log(q->nq_nb->nb_so, "%s: reconnected", q->nq_nb->nb_uri);
	q->nq_down_logged = false;
	for (i = 0; i < q->nq_depth && q->nq_h != NULL; i++) {
		s = &q->nq_slots[i];
		if (s->ns_state != XBB_NS_WAIT)
			continue;
		if ((rc = xbb_nbd_send(q, s)) != 0) {
			xbb_nbd_push(q, s->ns_op.op_tag, rc);
			xbb_nbd_put(q, s);
		}
	}
}

/* The tick: time out, reconnect. */
static void
xbb_nbd_tick(struct xbb_sq *q)
{
	uint64_t now = xbb_now_ms();

	if (q->nq_h != NULL && xbb_nbd_stuck(q, now))
		xbb_nbd_drop(q, true);
	xbb_nbd_expire(q, now);
	if (q->nq_timedout != 0)
		xbb_store_log(q->nq_nb->nb_so,
		    "%s: %u request(s) failed: no answer from the server in "
		    "%llu s",
		    q->nq_nb->nb_uri, q->nq_timedout,
		    (unsigned long long)(q->nq_nb->nb_timeout_ms / 1000));
	q->nq_timedout = 0;
	if (q->nq_h == NULL)
		xbb_nbd_reconnect(q, now);
}

/* ---------------------------------------------------------------------
 * The operations table
 */

static int
xbb_nbd_submit(struct xbb_sq *q, const struct xbb_sop *op)
{
	struct xbb_nslot *s;
	int rc;

	XU_ASSERT(q->nq_nfree > 0, ("nbd queue over depth %u", q->nq_depth));
	XU_ASSERT(op->op_niov <= 1,
	    ("nbd transfer of %u buffers", op->op_niov));
	s = &q->nq_slots[q->nq_free[--q->nq_nfree]];
	s->ns_op = *op;
	s->ns_t0 = xbb_now_ms();
	s->ns_state = XBB_NS_WAIT;
	q->nq_busy++;
	if (q->nq_h == NULL)
		return (0); /* sent once connected */
	if ((rc = xbb_nbd_send(q, s)) == 0)
		return (0);
	if (nbd_aio_is_dead(q->nq_h) || nbd_aio_is_closed(q->nq_h)) {
		s->ns_state = XBB_NS_WAIT;
		xbb_nbd_died(q, nbd_get_error());
		return (0);
	}
	xbb_nbd_put(q, s);
	return (rc);
}

static void
xbb_nbd_want(struct xbb_sq *q, struct xbb_swant *w)
{
	w->sw_fd = q->nq_h != NULL ? nbd_aio_get_fd(q->nq_h) : -1;
	w->sw_gen = q->nq_gen;
	w->sw_out = q->nq_h != NULL &&
	    (nbd_aio_get_direction(q->nq_h) & LIBNBD_AIO_DIRECTION_WRITE) != 0;
	w->sw_tick = q->nq_busy > 0 || q->nq_h == NULL;
	w->sw_done = q->nq_dlen > 0;
}

static void
xbb_nbd_reap(struct xbb_sq *q, unsigned int why, xbb_io_done_fn *fn, void *arg)
{
	struct xbb_ndone d;
	int rc = 0;

	if (q->nq_h != NULL && (why & XBB_SQ_IN) != 0)
		rc = nbd_aio_notify_read(q->nq_h);
	if (q->nq_h != NULL && rc == 0 && (why & XBB_SQ_OUT) != 0)
		rc = nbd_aio_notify_write(q->nq_h);
	if (q->nq_h != NULL && rc != 0)
		xbb_nbd_died(q, nbd_get_error());
	else if (q->nq_h != NULL &&
	    (nbd_aio_is_dead(q->nq_h) || nbd_aio_is_closed(q->nq_h)))
		xbb_nbd_died(q, NULL);
	if ((why & XBB_SQ_TICK) != 0)
		xbb_nbd_tick(q);
	/* fn may submit, and a submission may complete at once. */
	while (q->nq_dlen > 0) {
		d = q->nq_done[q->nq_dhead];
		q->nq_dhead = (q->nq_dhead + 1) % q->nq_depth;
		q->nq_dlen--;
		fn(arg, d.nd_tag, d.nd_res);
	}
}

static void
xbb_nbd_detach(struct xbb_sq *q)
{
	/* Nothing is in flight any more: closing calls no callback. */
	if (q->nq_h != NULL)
		nbd_close(q->nq_h);
	free(q->nq_slots);
	free(q->nq_free);
	free(q->nq_done);
	free(q);
}

static int
xbb_nbd_attach(struct xbb_store *so, unsigned int depth, struct xbb_sq **out)
{
	struct xbb_nbd *nb = so->so_priv;
	struct xbb_sq *q;
	unsigned int i;
	int rc;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return (-ENOMEM);
	q->nq_nb = nb;
	q->nq_depth = depth;
	q->nq_slots = calloc(depth, sizeof(*q->nq_slots));
	q->nq_free = calloc(depth, sizeof(*q->nq_free));
	q->nq_done = calloc(depth, sizeof(*q->nq_done));
	if (q->nq_slots == NULL || q->nq_free == NULL || q->nq_done == NULL) {
		xbb_nbd_detach(q);
		return (-ENOMEM);
	}
	for (i = 0; i < depth; i++) {
		q->nq_slots[i].ns_q = q;
		q->nq_free[depth - 1 - i] = i;
	}
	q->nq_nfree = depth;
	/* A server down now is found again by the ticks, as later on. */
	if ((rc = xbb_nbd_connect(nb->nb_uri, &q->nq_h)) != 0)
		xbb_store_log(so, "%s: %s; retrying", nb->nb_uri,
		    nbd_get_error() != NULL ? nbd_get_error() : strerror(-rc));
	*out = q;
	return (0);
}

/* What the server offers, into the store. */
static int
xbb_nbd_probe(struct xbb_store *so, struct nbd_handle *h)
{
	int64_t size = nbd_get_size(h), min;

	if (size < 0)
		return (-EIO);
	min = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	if (min > XBD_SECTOR_SIZE && min <= XBB_NBD_MAX_BLOCK &&
	    (min & (min - 1)) == 0)
		so->so_sector_size = so->so_phys_size = (uint32_t)min;
	so->so_cut = (uint32_t)((uint64_t)size % so->so_sector_size);
	so->so_bytes = (uint64_t)size - so->so_cut;
	if (so->so_bytes == 0)
		return (-EINVAL);
	so->so_readonly = so->so_readonly || nbd_is_read_only(h) == 1;
	so->so_flush = nbd_can_flush(h) == 1;
	so->so_discard = nbd_can_trim(h) == 1;
	so->so_discard_gran = XU_MAX(so->so_sector_size, XBD_PAGE_SIZE);
	so->so_contig = true;
	if (!so->so_readonly && nbd_can_multi_conn(h) != 1)
		so->so_max_rings = 1;
	return (0);
}

/* A server that is not there (yet), rather than one that refuses us. */
static bool
xbb_nbd_absent(int rc)
{
	return (rc == -ECONNREFUSED || rc == -ENOENT || rc == -ETIMEDOUT ||
	    rc == -EHOSTUNREACH || rc == -ENETUNREACH || rc == -ECONNRESET);
}

/*
 * Connect for the open.  The backend waits for a server that is away up
 * to the I/O timeout, as its I/O would (a vbd made while the server
 * restarts); this holds the control thread meanwhile.
 */
static int
xbb_nbd_connect_open(struct xbb_store *so, const struct xbb_target *t,
    const struct xbb_store_cfg *cfg, struct nbd_handle **h)
{
	uint64_t end = xbb_now_ms() + (uint64_t)cfg->sc_timeout_s * 1000;
	bool said = false;
	int rc;

	while ((rc = xbb_nbd_connect(t->tg_params, h)) != 0 && cfg->sc_wait &&
	    xbb_nbd_absent(rc) && xbb_now_ms() < end) {
		if (!said)
			xbb_store_log(so, "%s: %s; waiting up to %u s",
			    t->tg_params,
			    nbd_get_error() != NULL ? nbd_get_error() :
						      strerror(-rc),
			    cfg->sc_timeout_s);
		said = true;
		usleep(XBB_NBD_RETRY_MS * 1000 / 4);
	}
	return (rc);
}

static int
xbb_nbd_open(struct xbb_store *so, const struct xbb_target *t,
    const struct xbb_store_cfg *cfg)
{
	struct nbd_handle *h;
	struct xbb_nbd *nb;
	int rc;

	if ((rc = xbb_nbd_connect_open(so, t, cfg, &h)) != 0) {
		snprintf(so->so_err, sizeof(so->so_err), "%s: %s", t->tg_params,
		    nbd_get_error() != NULL ? nbd_get_error() : strerror(-rc));
		return (rc);
	}
	rc = xbb_nbd_probe(so, h);
	nbd_close(h);
	if (rc != 0) {
		snprintf(so->so_err, sizeof(so->so_err),
		    "%s: the export is empty or its size unknown",
		    t->tg_params);
		return (rc);
	}
	if ((nb = calloc(1, sizeof(*nb))) == NULL ||
	    (nb->nb_uri = strdup(t->tg_params)) == NULL) {
		free(nb);
		return (-ENOMEM);
	}
	nb->nb_timeout_ms = (uint64_t)cfg->sc_timeout_s * 1000;
	nb->nb_bytes = so->so_bytes;
	nb->nb_so = so;
	so->so_priv = nb;
	return (0);
}

/* The size of an export is fixed for a connection. */
static int
xbb_nbd_size(struct xbb_store *so, uint64_t *bytes)
{
	*bytes = ((struct xbb_nbd *)so->so_priv)->nb_bytes;
	return (0);
}

static void
xbb_nbd_close(struct xbb_store *so)
{
	struct xbb_nbd *nb = so->so_priv;

	free(nb->nb_uri);
	free(nb);
}

static const struct xbb_store_ops xbb_nbd_ops = {
	.sk_name = "nbd",
	.sk_open = xbb_nbd_open,
	.sk_size = xbb_nbd_size,
	.sk_attach = xbb_nbd_attach,
	.sk_detach = xbb_nbd_detach,
	.sk_submit = xbb_nbd_submit,
	.sk_want = xbb_nbd_want,
	.sk_reap = xbb_nbd_reap,
	.sk_close = xbb_nbd_close,
};

const struct xbb_store_ops *const xbb_store_nbd = &xbb_nbd_ops;
