/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the backend's XenBus state machine run on the fuzzer's
 * thread.  fuzz_xbus_back plays the same inputs against a backend with
 * its control thread, sleeping between states and polling for the
 * removal; here the backend has no control thread and the harness runs
 * what that thread runs when it wakes (xbb_control_wake) after every
 * write, so each state is seen, in order, and nothing sleeps.
 *
 * One machine is built on the first input and kept: the real backend
 * (xbb) serving a small image from domain 0, and a frontend domain
 * owning two granted ring pages and an unbound event channel, and one
 * vbd: creating and removing it is some 60 XenStore requests of the
 * toolstack, most of an input's time, and fuzz_xbus_back does that.
 * Each input starts the frontend over (Initialising: the backend must
 * come back to InitWait), writes the transport nodes (honest, missing,
 * nasty or raw), plays a script of frontend states, then closes.  The
 * backend must survive, and once the frontend is Closed it must hold no
 * mapping of its pages; a violation aborts.
 *
 * Input: as fuzz_xbus_back (its seeds are valid here).
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "back/xbb_internal.h"
#include "fz_back.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Wake-ups per settle at most: a backend that keeps waking itself. */
#define FZ_WAKES 32

static struct {
	struct fz_back m_b; /* the machine and the guest's side */
	struct xbb *m_xbb;  /* the backend, without a control thread */
} fz;

/*
 * What the control thread does, until the backend has acted on
 * everything written so far.  A round trip on the backend's own
 * connection comes after the watch events of earlier writes, so they
 * are queued by then: if neither the watch fd nor the kick fd is
 * readable after it, the backend has nothing left to do.
 */
static void
fz_settle(void)
{
	struct xbb *b = fz.m_xbb;
	struct pollfd pfd[2];
	char *v = NULL;
	int i;

	for (i = 0; i < FZ_WAKES; i++) {
		(void)xbus_read(b->bk_xs, XBT_NULL, b->bk_root, NULL, &v);
		free(v);
		v = NULL;
		pfd[0].fd = xs_fileno(b->bk_xs);
		pfd[1].fd = b->bk_kickfd;
		pfd[0].events = pfd[1].events = POLLIN;
		if (poll(pfd, 2, 0) <= 0)
			return;
		xbb_control_wake(b, pfd[1].revents != 0);
	}
	fz_die("the backend never settles");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_dom_usage u;
	struct xbus_vbd v;
	struct xbb_opts bo;
	size_t used, i;

	if (fz.m_xbb == NULL) {
		fz_back_machine(&fz.m_b);
		xbb_opts_init(&bo);
		v = fz_back_vbd(&fz.m_b);
		if (xbb_create(fz.m_b.b_sim.s_be, &bo, &fz.m_xbb) != 0 ||
		    xbus_vbd_add(fz.m_b.b_sim.s_priv, &v) != 0)
			fz_die("no backend");
	}
	/*
	 * A frontend starting over (a reboot, kexec): the backend, Closed
	 * after the last input, waits for it again.
	 */
	fz_back_ring_reset(&fz.m_b);
	fz_back_state(&fz.m_b, "1");
	fz_settle();
	if (xbus_read_state(fz.m_b.b_fxs, fz.m_b.b_be_dir) !=
	    XenbusStateInitWait)
		fz_die("the backend does not wait for a new frontend");
	used = fz_back_nodes_write(&fz.m_b, data, size, false);
	for (i = used; i < size && i < used + 16; i++) {
		fz_back_state(&fz.m_b,
		    fz_back_states[data[i] % fz_back_nstates]);
		fz_settle();
	}
	/* The frontend goes away: the backend must let go of its pages. */
	fz_back_state(&fz.m_b, "6");
	fz_settle();
	if (hv_domain_usage(fz.m_b.b_sim.s_hv, 0, &u) != 0)
		fz_die("no usage");
	if (u.du_mapped != 0)
		fz_die("the backend kept the frontend's pages mapped");
	return (0);
}
