/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The io_uring engine of one ring.  It owns the io_uring instance and
 * counts what the CI perf gates look at: how many times we entered the
 * kernel, how many entries we submitted, how many completions we took.
 * It knows nothing about requests: an operation is a tag (the request
 * pointer, or one of the ring's poll tags) and a result.
 *
 * One system call per loop is the goal: xbb_io_enter() submits every
 * prepared entry and waits for a completion in the same io_uring_enter,
 * and the ring's event-channel fd is itself an io_uring poll, so a
 * notification, a finished read and a new submission all meet there.
 */

#include <errno.h>
#include <string.h>

#include "xbb_internal.h"

int
xbb_io_init(struct xbb_io *io, unsigned int depth, struct xbb_ctrs *ctrs)
{
	struct io_uring_params p;
	int rc;

	memset(io, 0, sizeof(*io));
	io->io_depth = depth;
	io->io_ctrs = ctrs;
	/*
	 * Cooperative task running spares an interrupt per completion; the
	 * kernels that lack it (before 5.19) refuse the flag, so retry
	 * without.  The completion queue is twice the submission queue and
	 * never more than `depth` operations are in flight, so it cannot
	 * overflow.
	 */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_COOP_TASKRUN;
	rc = io_uring_queue_init_params(depth, &io->io_ring, &p);
	if (rc == -EINVAL) {
		memset(&p, 0, sizeof(p));
		rc = io_uring_queue_init_params(depth, &io->io_ring, &p);
	}
	if (rc != 0)
		return (rc);
	io->io_ready = true;
	return (0);
}

void
xbb_io_fini(struct xbb_io *io)
{
	/* Pending polls are cancelled by the kernel as the ring goes. */
	if (io->io_ready)
		io_uring_queue_exit(&io->io_ring);
	io->io_ready = false;
	io->io_busy = 0;
}

struct io_uring_sqe *
xbb_io_sqe(struct xbb_io *io, uint64_t tag)
{
	struct io_uring_sqe *sqe;

	XU_ASSERT(xbb_io_room(io, 1), ("io_uring over depth %u", io->io_depth));
	/* The SQ holds io_depth entries and at most that many are busy. */
	sqe = io_uring_get_sqe(&io->io_ring);
	XU_ASSERT(sqe != NULL, ("no SQE with %u busy", io->io_busy));
	io_uring_sqe_set_data64(sqe, tag);
	io->io_busy++;
	return (sqe);
}

int
xbb_io_enter(struct xbb_io *io, unsigned int wait_nr)
{
	unsigned int ready = io_uring_sq_ready(&io->io_ring);
	int rc;

	if (ready == 0 && wait_nr == 0)
		return (0);
	xbb_ctr_add(io->io_ctrs, XBB_C_URING_ENTER, 1);
	xbb_ctr_add(io->io_ctrs, XBB_C_URING_SQES, ready);
	rc = io_uring_submit_and_wait(&io->io_ring, wait_nr);
	return (rc < 0 ? rc : 0);
}

unsigned int
xbb_io_reap(struct xbb_io *io, xbb_io_done_fn *fn, void *arg)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	uint64_t tag;
	int res;

	io_uring_for_each_cqe(&io->io_ring, head, cqe)
	{
		tag = io_uring_cqe_get_data64(cqe);
		res = cqe->res;
		n++;
		/* Free the slot first: the callback may prepare a new one. */
		io->io_busy--;
		fn(arg, tag, res);
	}
	io_uring_cq_advance(&io->io_ring, n);
	xbb_ctr_add(io->io_ctrs, XBB_C_URING_CQES, n);
	return (n);
}
