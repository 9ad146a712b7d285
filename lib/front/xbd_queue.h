/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The command queues: one set of real inline functions taking the queue
 * index (FreeBSD replaced its macro-generated per-queue functions with
 * exactly this in 2013, for debugger visibility).  Every move checks that
 * the command is where the caller thinks it is: a command on the wrong
 * queue is our bug, never the peer's, because a response id is validated
 * against the BUSY queue before any of these runs.  All callers hold
 * xbd_io_lock.
 */

#ifndef XBD_FRONT_QUEUE_H
#define XBD_FRONT_QUEUE_H

#include "xbd_internal.h"

static inline void
xbd_initq_cm(struct xbd_softc *sc, enum xbd_q_index index)
{
	struct xbd_cm_q *cmq = &sc->xbd_cm_q[index];

	TAILQ_INIT(&cmq->q_tailq);
	cmq->q_length = 0;
	cmq->q_max = 0;
}

static inline void
xbd_added_qentry(struct xbd_softc *sc, enum xbd_q_index index)
{
	struct xbd_cm_q *cmq = &sc->xbd_cm_q[index];

	cmq->q_length++;
	if (cmq->q_length > cmq->q_max)
		cmq->q_max = cmq->q_length;
}

static inline void
xbd_removed_qentry(struct xbd_softc *sc, enum xbd_q_index index)
{
	XU_ASSERT(sc->xbd_cm_q[index].q_length > 0,
	    ("queue %d length underflow", index));
	sc->xbd_cm_q[index].q_length--;
}

static inline uint32_t
xbd_queue_length(struct xbd_softc *sc, enum xbd_q_index index)
{
	return (sc->xbd_cm_q[index].q_length);
}

static inline enum xbd_q_index
xbd_cm_queue(const struct xbd_command *cm)
{
	return ((enum xbd_q_index)(cm->cm_flags & XBDCF_Q_MASK));
}

/* Put cm on a queue, at its tail or (head) its head. */
static inline void
xbd_insert_cm(struct xbd_command *cm, enum xbd_q_index index, bool head)
{
	struct xbd_softc *sc = cm->cm_sc;

	XU_ASSERT(index != XBD_Q_BIO,
	    ("%s: commands cannot go on the bio queue", __func__));
	XU_ASSERT(xbd_cm_queue(cm) == XBD_Q_NONE,
	    ("%s: command %p is already on queue %d", __func__, (void *)cm,
		xbd_cm_queue(cm)));
	if (head)
		TAILQ_INSERT_HEAD(&sc->xbd_cm_q[index].q_tailq, cm, cm_link);
	else
		TAILQ_INSERT_TAIL(&sc->xbd_cm_q[index].q_tailq, cm, cm_link);
	cm->cm_flags = (cm->cm_flags & ~XBDCF_Q_MASK) | index;
	xbd_added_qentry(sc, index);
}

/* Append cm to a queue. */
static inline void
xbd_enqueue_cm(struct xbd_command *cm, enum xbd_q_index index)
{
	xbd_insert_cm(cm, index, false);
}

/* Put cm back at the head of a queue (it goes first). */
static inline void
xbd_requeue_cm(struct xbd_command *cm, enum xbd_q_index index)
{
	xbd_insert_cm(cm, index, true);
}

/* Take the first command of a queue, or NULL. */
static inline struct xbd_command *
xbd_dequeue_cm(struct xbd_softc *sc, enum xbd_q_index index)
{
	struct xbd_command *cm;

	XU_ASSERT(index != XBD_Q_BIO,
	    ("%s: commands cannot come from the "
	     "bio queue",
		__func__));
	if ((cm = TAILQ_FIRST(&sc->xbd_cm_q[index].q_tailq)) != NULL) {
		XU_ASSERT(xbd_cm_queue(cm) == index,
		    ("%s: command %p on queue %d, not %d", __func__, (void *)cm,
			xbd_cm_queue(cm), index));
		TAILQ_REMOVE(&sc->xbd_cm_q[index].q_tailq, cm, cm_link);
		cm->cm_flags &= ~XBDCF_Q_MASK;
		cm->cm_flags |= XBD_Q_NONE;
		xbd_removed_qentry(sc, index);
	}
	return (cm);
}

/* Take cm off the queue it must be on. */
static inline void
xbd_remove_cm(struct xbd_command *cm, enum xbd_q_index expected_index)
{
	enum xbd_q_index index = xbd_cm_queue(cm);

	XU_ASSERT(index == expected_index,
	    ("%s: command %p on queue %d, not %d", __func__, (void *)cm, index,
		expected_index));
	TAILQ_REMOVE(&cm->cm_sc->xbd_cm_q[index].q_tailq, cm, cm_link);
	cm->cm_flags &= ~XBDCF_Q_MASK;
	cm->cm_flags |= XBD_Q_NONE;
	xbd_removed_qentry(cm->cm_sc, index);
}

/* The bio queue (FreeBSD wraps bioq_*; ours is a TAILQ of bio parts). */
static inline void
xbd_initq_bio(struct xbd_softc *sc)
{
	TAILQ_INIT(&sc->xbd_bioq);
}

static inline void
xbd_enqueue_bio(struct xbd_softc *sc, struct xbd_bio *bp)
{
	TAILQ_INSERT_TAIL(&sc->xbd_bioq, xbd_bio_pvt(bp), pv_link);
	xbd_added_qentry(sc, XBD_Q_BIO);
}

static inline void
xbd_requeue_bio(struct xbd_softc *sc, struct xbd_bio *bp)
{
	TAILQ_INSERT_HEAD(&sc->xbd_bioq, xbd_bio_pvt(bp), pv_link);
	xbd_added_qentry(sc, XBD_Q_BIO);
}

static inline struct xbd_bio *
xbd_dequeue_bio(struct xbd_softc *sc)
{
	struct xbd_bio_pvt *pvt;

	if ((pvt = TAILQ_FIRST(&sc->xbd_bioq)) == NULL)
		return (NULL);
	TAILQ_REMOVE(&sc->xbd_bioq, pvt, pv_link);
	xbd_removed_qentry(sc, XBD_Q_BIO);
	return (xbd_pvt_bio(pvt));
}

#endif /* XBD_FRONT_QUEUE_H */
